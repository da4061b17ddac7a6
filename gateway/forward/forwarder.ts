/**
 * Drains the spool to InfluxDB (v2 write API, through the official client): oldest first,
 * in batches, gzip above a size. On a network error, 5xx or 429 the circuit opens: the same
 * batch is retried after an exponential backoff with full jitter (cockatiel's generator, never
 * below `minRetryMs`), or after the server's `Retry-After` (seconds or an HTTP date), and
 * nothing but `stop()` cuts that wait short — new points arriving do not, so a failing server
 * sees a few requests a minute, not a storm. The retry is the half-open trial; its success
 * closes the circuit. Order is kept. A batch refused as malformed (4xx other than 429) is split
 * in halves until the bad points are isolated; those go to the dead-letter file with the reason
 * and the rest flows on: one bad point never stalls the queue behind it.
 */
import { HttpError, InfluxDB, setLogger } from '@influxdata/influxdb-client';
import { ExponentialBackoff, fullJitterGenerator, type IBackoff } from 'cockatiel';
import type { Logger } from '../logger.ts';
import { Pause } from './pause.ts';
import type { Spool, SpoolRow } from './spool.ts';

export interface ForwarderOptions {
  url: string;
  org: string;
  bucket: string;
  token: string;
  timeoutMs: number;
  batchLines: number;
  batchBytes: number;
  gzipThreshold: number;
  minRetryMs: number;
  maxRetryMs: number;
  /** Longest Retry-After honoured; a longer one is cut to this. */
  maxRetryAfterMs?: number;
  now?: () => number;
}

export interface ForwarderEvents {
  written(points: number): void;
  failed(reason: string): void;
  deadLettered(points: number): void;
}

/** closed: writing; open: waiting out a backoff after a failure; half_open: the trial write after the wait. */
export type Circuit = 'closed' | 'open' | 'half_open';
export const circuitValue: Record<Circuit, number> = { closed: 0, half_open: 1, open: 2 };

class Retryable extends Error {
  constructor(
    message: string,
    readonly reason: string,
    readonly retryAfterMs: number | undefined,
  ) {
    super(message);
  }
}

/** Retry-After as the server sent it: delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function retryAfterMs(header: string | string[] | undefined, now: number): number | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  if (!v) return undefined;
  if (/^\s*\d+\s*$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export class Forwarder {
  readonly target = 'influx';
  readonly #o: ForwarderOptions;
  readonly #spool: Spool;
  readonly #log: Logger;
  readonly #ev: ForwarderEvents;
  readonly #influx: InfluxDB;
  readonly #now: () => number;
  readonly #backoff: ExponentialBackoff<number>;
  #stopped = false;
  /** The idle wait: new points and stop() end it. */
  readonly #idle = new Pause();
  /** The retry wait: only stop() ends it. */
  readonly #retry = new Pause();
  #loop?: Promise<void>;
  #attempt = 0;
  #next?: IBackoff<unknown>;
  circuit: Circuit = 'closed';
  lastSuccess = 0;
  lastError?: string;
  retryAt = 0;

  constructor(o: ForwarderOptions, spool: Spool, log: Logger, ev: ForwarderEvents) {
    this.#o = o;
    this.#spool = spool;
    this.#log = log;
    this.#ev = ev;
    this.#now = o.now ?? Date.now;
    this.#backoff = new ExponentialBackoff({ generator: fullJitterGenerator, initialDelay: o.minRetryMs, maxDelay: o.maxRetryMs });
    setLogger({ error: (msg, err) => log.debug({ err }, msg), warn: (msg, err) => log.debug({ err }, msg) });
    this.#influx = new InfluxDB({ url: o.url, token: o.token, timeout: o.timeoutMs });
    spool.onAppend(() => this.#idle.wake());
  }

  start(): void {
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#idle.wake();
    this.#retry.wake();
    await this.#loop;
  }

  describe(): string {
    if (this.circuit === 'closed') return `circuit closed; ${this.#spool.depth} points to send`;
    const wait = Math.max(0, Math.round((this.retryAt - this.#now()) / 1000));
    return `circuit ${this.circuit} after ${this.#attempt} failed attempt${this.#attempt === 1 ? '' : 's'} (${this.lastError ?? 'error'})${this.circuit === 'open' ? `, next try in ${wait} s` : ''}; ${this.#spool.depth} points spooled`;
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      const batch = this.#spool.head(this.#o.batchLines, this.#o.batchBytes);
      if (!batch.length) {
        await this.#idle.for(1000);
        continue;
      }
      if (this.circuit === 'open') this.circuit = 'half_open';
      try {
        await this.#deliver(batch);
        if (this.circuit !== 'closed') this.#log.info({ attempts: this.#attempt, spooled: this.#spool.depth }, 'uplink writes succeed again; circuit closed');
        this.circuit = 'closed';
        this.#attempt = 0;
        this.#next = undefined;
      } catch (err) {
        const e = err as Retryable;
        this.#attempt++;
        this.lastError = e.reason ?? e.message;
        this.#next = (this.#next ?? this.#backoff).next(undefined);
        const backoff = Math.max(this.#o.minRetryMs, this.#next.duration);
        const delay = e.retryAfterMs !== undefined ? Math.min(e.retryAfterMs, this.#o.maxRetryAfterMs ?? 15 * 60_000) : backoff;
        this.circuit = 'open';
        this.retryAt = this.#now() + delay;
        if (this.#attempt === 1 || this.#attempt % 10 === 0) {
          this.#log.warn(
            { err: e.message, attempt: this.#attempt, retryInMs: Math.round(delay), spooled: this.#spool.depth },
            'uplink write failed; circuit open, points stay spooled',
          );
        }
        await this.#retry.for(delay);
      }
    }
  }

  /** Write rows; on a malformed-data refusal, bisect to isolate the bad points. */
  async #deliver(rows: SpoolRow[]): Promise<void> {
    try {
      await this.#write(rows.map((r) => r.line));
      this.#spool.remove(rows);
      this.lastSuccess = this.#now();
      this.#ev.written(rows.length);
    } catch (err) {
      if (!(err instanceof HttpError) || err.statusCode === 429 || err.statusCode >= 500) {
        const reason = err instanceof HttpError ? `http_${err.statusCode}` : ((err as { code?: string }).code ?? 'network');
        this.#ev.failed(reason);
        const after = err instanceof HttpError ? retryAfterMs(err.headers?.['retry-after'], this.#now()) : undefined;
        throw new Retryable((err as Error).message, reason, after);
      }
      if (rows.length === 1) {
        const reason = `HTTP ${err.statusCode}: ${(err.body ?? err.message).slice(0, 500)}`;
        this.#spool.deadLetter(rows, reason);
        this.#ev.deadLettered(1);
        this.#log.error({ line: rows[0]!.line.slice(0, 200), reason }, 'point refused by the server; set aside in the dead-letter file');
        return;
      }
      const mid = Math.ceil(rows.length / 2);
      await this.#deliver(rows.slice(0, mid));
      await this.#deliver(rows.slice(mid));
    }
  }

  async #write(lines: string[]): Promise<void> {
    const w = this.#influx.getWriteApi(this.#o.org, this.#o.bucket, 'ms', {
      batchSize: lines.length + 1,
      maxBatchBytes: Number.MAX_SAFE_INTEGER,
      flushInterval: 0,
      maxRetries: 0,
      gzipThreshold: this.#o.gzipThreshold,
      writeFailed: () => {},
    });
    w.writeRecords(lines);
    try {
      await w.flush();
    } finally {
      await w.close().catch(() => {});
    }
  }
}
