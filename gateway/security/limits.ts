/** Abuse limits: failed-login lockout with exponential backoff, and per-key token buckets. */

export interface LockoutPolicy {
  /** Failures within `windowMs` that lock the key. */
  maxFailures: number;
  windowMs: number;
  /** First lock duration; doubles with each further lock of the same key, up to `maxLockMs`. */
  baseLockMs: number;
  maxLockMs: number;
}

interface LockState {
  failures: number[];
  lockedUntil: number;
  locks: number;
  lastLock: number;
}

/** Keyed by `client:<id>` and `addr:<ip>`, so neither rotating client ids nor addresses gets around it. */
export class Lockout {
  readonly #p: LockoutPolicy;
  readonly #now: () => number;
  readonly #keys = new Map<string, LockState>();

  constructor(p: LockoutPolicy, now: () => number = Date.now) {
    this.#p = p;
    this.#now = now;
  }

  /** ms left on the longest lock among `keys`, 0 when none is locked. */
  lockedFor(keys: string[]): number {
    const now = this.#now();
    return Math.max(0, ...keys.map((k) => (this.#keys.get(k)?.lockedUntil ?? 0) - now));
  }

  /** Count a failure; returns the lock duration it started, if any. */
  fail(keys: string[]): number {
    const now = this.#now();
    let started = 0;
    for (const k of keys) {
      const s = this.#keys.get(k) ?? { failures: [], lockedUntil: 0, locks: 0, lastLock: 0 };
      s.failures = s.failures.filter((t) => now - t < this.#p.windowMs);
      s.failures.push(now);
      if (s.failures.length >= this.#p.maxFailures && s.lockedUntil <= now) {
        // A key that offends again within an hour of its last lock is locked twice as long.
        s.locks = now - s.lastLock < 3_600_000 ? s.locks + 1 : 1;
        const ms = Math.min(this.#p.maxLockMs, this.#p.baseLockMs * 2 ** (s.locks - 1));
        s.lockedUntil = now + ms;
        s.lastLock = now;
        s.failures = [];
        started = Math.max(started, ms);
      }
      this.#keys.set(k, s);
    }
    if (this.#keys.size > 100_000) this.#sweep(now);
    return started;
  }

  /** A successful login clears the client's failures (not the address's: one good device must not launder an attacker's address). */
  succeed(clientKey: string): void {
    const s = this.#keys.get(clientKey);
    if (s) s.failures = [];
  }

  #sweep(now: number): void {
    for (const [k, s] of this.#keys) if (s.lockedUntil < now && !s.failures.some((t) => now - t < this.#p.windowMs)) this.#keys.delete(k);
  }
}

/** Token bucket per key: `rate` tokens per second, at most `burst` saved up. */
export class TokenBuckets {
  readonly #rate: number;
  readonly #burst: number;
  readonly #now: () => number;
  readonly #b = new Map<string, { tokens: number; at: number }>();

  constructor(rate: number, burst: number, now: () => number = Date.now) {
    this.#rate = rate;
    this.#burst = burst;
    this.#now = now;
  }

  take(key: string): boolean {
    const now = this.#now();
    const b = this.#b.get(key) ?? { tokens: this.#burst, at: now };
    b.tokens = Math.min(this.#burst, b.tokens + ((now - b.at) / 1000) * this.#rate);
    b.at = now;
    this.#b.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  forget(key: string): void {
    this.#b.delete(key);
  }
}
