/**
 * Credentials: the gateway generates every secret (32 random bytes), shows it
 * once, and stores only a hash.
 *
 * Device and principal secrets are verified with scrypt (N=2^14, r=8, p=1,
 * ~35 ms on the threadpool, off the event loop) and compared in constant time.
 * Format at rest: `scrypt$N$r$p$salt$hash` (base64url), so parameters can be raised later.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { availableParallelism } from 'node:os';

/**
 * At most (cores − 1) scrypt runs at a time (at least one): a reconnect storm of thousands of
 * devices then takes longer to log in, but can never take every core from the event loop that
 * carries the alerts (measured in bench/README.md: without the bound, alert latency reached seconds).
 */
const MAX_CONCURRENT = Math.max(1, availableParallelism() - 1);
let running = 0;
const waiting: (() => void)[] = [];
const slot = (): Promise<void> => (running < MAX_CONCURRENT ? (running++, Promise.resolve()) : new Promise<void>((r) => waiting.push(r)));
const release = () => {
  const next = waiting.shift();
  if (next) next();
  else running--;
};

const scrypt = async (secret: string, salt: Buffer, len: number, opts: ScryptOptions) => {
  await slot();
  try {
    return await new Promise<Buffer>((resolve, reject) => scryptCb(secret, salt, len, opts, (err, key) => (err ? reject(err) : resolve(key))));
  } finally {
    release();
  }
};

const PARAMS = { N: 16384, r: 8, p: 1 } as const;

export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(secret, salt, 32, PARAMS);
  return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** A hash to compare against when the account does not exist, so timing does not reveal which ids are real. */
let dummy: Promise<string> | undefined;

export async function verifySecret(secret: string, stored: string | null | undefined): Promise<boolean> {
  const hash = stored ?? (await (dummy ??= hashSecret(newSecret())));
  const [alg, n, r, p, salt, key] = hash.split('$');
  if (alg !== 'scrypt' || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64url');
  const got = await scrypt(secret, Buffer.from(salt, 'base64url'), expected.length, { N: Number(n), r: Number(r), p: Number(p) });
  return timingSafeEqual(got, expected) && stored != null;
}
