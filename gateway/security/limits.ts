/**
 * Abuse limits that protect the box without handing an attacker a way to lock others out:
 * - LoginThrottle: failed logins slow down the (credential, source) pair that fails, with a
 *   growing delay before the refusal goes out (NIST SP 800-63B §5.2.2 "rate limiting"), and a
 *   source whose failures exceed a much higher flood budget gets the longest delay on each.
 *   Nothing here ever refuses a login before its secret is checked: the right secret (or a
 *   valid client certificate) gets in whatever anyone else sent from the same address.
 * - FairQueue: secret checks (scrypt) are shared fairly between sources: a bounded number in
 *   flight and queued per source, a bound overall, and what is over a bound is shed at once
 *   ("server unavailable") instead of queued, so a flood from one address delays another
 *   address's login by at most a few checks.
 * - TokenBuckets: per-identity publish rates (keyed by identity, so a reconnect does not refill them).
 * - ConnectionLimiter: connections overall and per source address.
 * Every clock is injected.
 */

export interface ThrottlePolicy {
  /** Failures of one (credential, source) within `windowMs` answered without delay. */
  freeFailures: number;
  windowMs: number;
  /** Delay of the first refusal past `freeFailures`; doubles with each further failure, up to `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Failures from one source address within `windowMs` past which each of its failures gets `maxDelayMs`. */
  floodFailures: number;
}

/** Timestamps in a sliding window, pruned on every touch. */
class Window {
  readonly #at: number[] = [];
  add(now: number, windowMs: number): number {
    this.prune(now, windowMs);
    this.#at.push(now);
    return this.#at.length;
  }
  prune(now: number, windowMs: number): number {
    while (this.#at.length && now - this.#at[0]! >= windowMs) this.#at.shift();
    return this.#at.length;
  }
  clear(): void {
    this.#at.length = 0;
  }
}

export class LoginThrottle {
  readonly #p: ThrottlePolicy;
  readonly #now: () => number;
  readonly #pairs = new Map<string, Window>();
  readonly #sources = new Map<string, Window>();

  constructor(p: ThrottlePolicy, now: () => number = Date.now) {
    this.#p = p;
    this.#now = now;
  }

  /** Count a failure of `credential` from `source`; returns how long to hold the refusal back, and whether the source is flooding. */
  fail(credential: string, source: string): { delayMs: number; flooding: boolean; failures: number } {
    const now = this.#now();
    const failures = this.#touch(this.#pairs, `${credential}\u0000${source}`, now);
    const fromSource = this.#touch(this.#sources, source, now);
    const flooding = fromSource > this.#p.floodFailures;
    const over = failures - this.#p.freeFailures;
    const delayMs = flooding ? this.#p.maxDelayMs : over > 0 ? Math.min(this.#p.maxDelayMs, this.#p.baseDelayMs * 2 ** (over - 1)) : 0;
    if (this.#pairs.size + this.#sources.size > 100_000) this.#sweep(now);
    return { delayMs, flooding, failures };
  }

  /** The right secret clears the pair's failures (not the source's: one good device must not launder an attacker's address). */
  succeed(credential: string, source: string): void {
    this.#pairs.delete(`${credential}\u0000${source}`);
  }

  #touch(m: Map<string, Window>, key: string, now: number): number {
    let w = m.get(key);
    if (!w) m.set(key, (w = new Window()));
    return w.add(now, this.#p.windowMs);
  }

  #sweep(now: number): void {
    for (const m of [this.#pairs, this.#sources]) for (const [k, w] of m) if (w.prune(now, this.#p.windowMs) === 0) m.delete(k);
  }
}

export interface FairQueuePolicy {
  /** Checks of one source running at once. */
  perSourceInFlight: number;
  /** Checks of one source waiting; one more is shed. */
  perSourceQueued: number;
  /** Checks waiting overall; one more is shed. */
  maxQueued: number;
}

export class ShedError extends Error {
  constructor(readonly source: string) {
    super(`too many logins in progress from ${source}; try again shortly`);
    this.name = 'ShedError';
  }
}

export class FairQueue {
  readonly #p: FairQueuePolicy;
  readonly #sources = new Map<string, { running: number; waiting: (() => void)[] }>();
  #queued = 0;
  /** Checks shed since start (metrics). */
  shed = 0;

  constructor(p: FairQueuePolicy) {
    this.#p = p;
  }

  get queued(): number {
    return this.#queued;
  }

  /** Run `fn` within `source`'s share; rejects with ShedError at once when a bound is reached. */
  async run<T>(source: string, fn: () => Promise<T>): Promise<T> {
    let s = this.#sources.get(source);
    if (!s) this.#sources.set(source, (s = { running: 0, waiting: [] }));
    if (s.running >= this.#p.perSourceInFlight) {
      if (s.waiting.length >= this.#p.perSourceQueued || this.#queued >= this.#p.maxQueued) {
        this.shed++;
        throw new ShedError(source);
      }
      this.#queued++;
      await new Promise<void>((resolve) => s.waiting.push(resolve));
      this.#queued--;
    }
    s.running++;
    try {
      return await fn();
    } finally {
      s.running--;
      const next = s.waiting.shift();
      if (next) next();
      else if (s.running === 0) this.#sources.delete(source);
    }
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
    // A clock stepped back (NTP, or a box set right) is no time passing, not a debt of tokens.
    b.tokens = Math.min(this.#burst, b.tokens + (Math.max(0, now - b.at) / 1000) * this.#rate);
    b.at = now;
    this.#b.set(key, b);
    if (this.#b.size > 50_000) this.#sweep(now);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** A bucket that has refilled is the same as no bucket: drop those. */
  #sweep(now: number): void {
    for (const [k, b] of this.#b) if (b.tokens + ((now - b.at) / 1000) * this.#rate >= this.#burst) this.#b.delete(k);
  }
}

/** Open connections overall and per source address. */
export class ConnectionLimiter {
  readonly #max: number;
  readonly #perAddress: number;
  readonly #byAddress = new Map<string, number>();
  #open = 0;

  constructor(max: number, perAddress: number) {
    this.#max = max;
    this.#perAddress = perAddress;
  }

  /** A release function when the connection may stay, or the reason it may not. */
  admit(address: string | undefined): { release: () => void } | { refused: 'max_connections' | 'max_connections_per_address' } {
    const key = address ?? 'unknown';
    const n = this.#byAddress.get(key) ?? 0;
    if (this.#open >= this.#max) return { refused: 'max_connections' };
    if (n >= this.#perAddress) return { refused: 'max_connections_per_address' };
    this.#open++;
    this.#byAddress.set(key, n + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.#open--;
        const left = (this.#byAddress.get(key) ?? 1) - 1;
        if (left <= 0) this.#byAddress.delete(key);
        else this.#byAddress.set(key, left);
      },
    };
  }

  get open(): number {
    return this.#open;
  }
}
