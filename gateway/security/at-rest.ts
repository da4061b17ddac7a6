/**
 * Secrets at rest. The data directory holds the registry's password hashes, the audit log and the
 * site signing keys: it is created 0700 and its files 0600, and a gateway refuses to start on a
 * data directory that others can read (unless told to). The site signing keys are sealed with
 * AES-256-GCM under a master key kept apart from the database (a file, 0600, or the environment),
 * so a copy of vigil.db alone cannot sign a device configuration.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Refusing to start on an unsafe data directory: exit code 2, like a bad configuration. */
export class InsecureFilesError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `data files readable by others:\n  ${problems.join('\n  ')}\nfix the modes (chmod 700 <dir>; chmod 600 <file>) or set security.allowInsecureFileModes=true`,
    );
    this.name = 'InsecureFilesError';
  }
}

/** Create a directory (and missing parents) readable by the owner only. */
export function privateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/** Make sure `file` exists, created 0600 if it did not (SQLite gives its -wal and -shm files the same mode). */
export function privateFile(file: string): void {
  privateDir(dirname(file));
  closeSync(openSync(file, 'a', 0o600));
}

/** The data directory and the files in it that carry secrets, with group/other permission bits set. */
export function insecureModes(dataDir: string, files: string[]): string[] {
  const out: string[] = [];
  const check = (p: string, kind: string) => {
    if (!existsSync(p)) return;
    const mode = statSync(p).mode & 0o777;
    if (mode & 0o077) out.push(`${kind} ${p} has mode ${mode.toString(8).padStart(4, '0')} (want ${kind === 'directory' ? '0700' : '0600'})`);
  };
  check(dataDir, 'directory');
  for (const f of files) for (const suffix of ['', '-wal', '-shm']) check(join(dataDir, f) + suffix, 'file');
  return out;
}

const KEY_BYTES = 32;

/** The master key: from the configuration (base64) or its file, which is created on first start. */
export function loadMasterKey(o: { masterKey: string; masterKeyFile: string; dataDir: string }): Buffer {
  const decode = (b64: string, from: string) => {
    const k = Buffer.from(b64.trim(), 'base64');
    if (k.length !== KEY_BYTES) throw new Error(`master key from ${from} must be ${KEY_BYTES} bytes in base64 (got ${k.length})`);
    return k;
  };
  if (o.masterKey) return decode(o.masterKey, 'security.masterKey');
  const file = o.masterKeyFile || join(o.dataDir, 'master.key');
  if (!existsSync(file)) {
    privateDir(dirname(file));
    writeFileSync(file, randomBytes(KEY_BYTES).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  }
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077) throw new InsecureFilesError([`file ${file} has mode ${mode.toString(8).padStart(4, '0')} (want 0600)`]);
  return decode(readFileSync(file, 'utf8'), file);
}

const PREFIX = 'sealed:v1:';

export const isSealed = (s: string) => s.startsWith(PREFIX);

/** AES-256-GCM; `aad` binds the ciphertext to its row (a key sealed for one site does not open as another's). */
export function seal(key: Buffer, plaintext: string, aad: string): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(aad));
  const body = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
  return PREFIX + [iv, c.getAuthTag(), body].map((b) => b.toString('base64url')).join(':');
}

export function unseal(key: Buffer, sealed: string, aad: string): string {
  const [iv, tag, body] = sealed
    .slice(PREFIX.length)
    .split(':')
    .map((p) => Buffer.from(p, 'base64url'));
  const d = createDecipheriv('aes-256-gcm', key, iv!);
  d.setAAD(Buffer.from(aad));
  d.setAuthTag(tag!);
  try {
    return Buffer.concat([d.update(body!), d.final()]).toString('utf8');
  } catch {
    throw new Error(`cannot open a sealed key for ${aad}: wrong master key (security.masterKey / masterKeyFile)?`);
  }
}
