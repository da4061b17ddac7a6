/**
 * Drains the spool to InfluxDB (v2 write API, through the official client): oldest first,
 * in batches, gzip above a size; on a network error, 5xx or 429 it waits (exponential
 * backoff with jitter, or the server's Retry-After) and retries the same batch, so order is
 * kept. A batch refused as malformed (4xx other than 429) is split in halves until the bad
 * points are isolated; those go to the dead-letter file with the reason and the rest flows on:
 * one bad point never stalls the queue behind it.
 */
import { HttpError, InfluxDB, setLogger } from '@influxdata/influxdb-client';
import type { Logger } from '../logger.ts';
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
  jitterMs: number;
}

export interface ForwarderEvents {
  written(points: number): void;
  failed(reason: string): void;
  deadLettered(points: number): void;
}

class Retryable extends Error {
  constructor(message: string, readonly delayMs: number | undefined) {
    super(message);
  }
}

export class Forwarder {
  readonly #o: ForwarderOptions;
  readonly #spool: Spool;
  readonly #log: Logger;
  readonly #ev: ForwarderEvents;
  readonly #influx: InfluxDB;
  #stopped = false;
  #wake?: () => void;
  #loop?: Promise<void>;
  #attempt = 0;
  lastSuccess = 0;

  constructor(o: ForwarderOptions, spool: Spool, log: Logger, ev: ForwarderEvents) {
    this.#o = o;
    this.#spool = spool;
    this.#log = log;
    this.#ev = ev;
    setLogger({ error: (msg, err) => log.debug({ err }, msg), warn: (msg, err) => log.debug({ err }, msg) });
    this.#influx = new InfluxDB({ url: o.url, token: o.token, timeout: o.timeoutMs });
    spool.onAppend(() => this.#wake?.());
  }

  start(): void {
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#loop;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.#wake = done;
    });
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      const batch = this.#spool.head(this.#o.batchLines, this.#o.batchBytes);
      if (!batch.length) {
        await this.#sleep(1000);
        continue;
      }
      try {
        await this.#deliver(batch);
        this.#attempt = 0;
      } catch (err) {
        const e = err as Retryable;
        this.#attempt++;
        const backoff = Math.min(this.#o.maxRetryMs, this.#o.minRetryMs * 2 ** (this.#attempt - 1)) + Math.random() * this.#o.jitterMs;
        const delay = e.delayMs !== undefined && e.delayMs > 0 ? e.delayMs : backoff;
        if (this.#attempt === 1 || this.#attempt % 10 === 0) {
          this.#log.warn({ err: e.message, attempt: this.#attempt, retryInMs: Math.round(delay), spooled: this.#spool.depth }, 'uplink write failed; points stay spooled');
        }
        await this.#sleep(delay);
      }
    }
  }

  /** Write rows; on a malformed-data refusal, bisect to isolate the bad points. */
  async #deliver(rows: SpoolRow[]): Promise<void> {
    try {
      await this.#write(rows.map((r) => r.line));
      this.#spool.remove(rows);
      this.lastSuccess = Date.now();
      this.#ev.written(rows.length);
    } catch (err) {
      if (!(err instanceof HttpError) || err.statusCode === 429 || err.statusCode >= 500) {
        const reason = err instanceof HttpError ? `http_${err.statusCode}` : ((err as { code?: string }).code ?? 'network');
        this.#ev.failed(reason);
        const retryAfter = err instanceof HttpError ? err.retryAfter() : undefined;
        throw new Retryable((err as Error).message, retryAfter);
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
