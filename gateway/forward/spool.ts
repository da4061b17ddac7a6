/**
 * The store-and-forward spool: line-protocol points on local disk (SQLite, WAL) between
 * the pipeline and the uplink.
 *
 * - Durable before accepted: `append` resolves once its transaction is committed; with
 *   durability "fsync" (default) once the commit is also synced to disk, so it survives a power
 *   cut, not only a crash. Appends that arrive together share one commit, and commits made while
 *   a sync runs share the next sync, which runs on libuv's thread pool (`WalSync`): the event
 *   loop never waits for the disk.
 * - In order: rows carry an increasing sequence; each forward target (InfluxDB, the central MQTT
 *   broker) has its own rows, read and deleted from its own head, so one target's outage never
 *   blocks another.
 * - Bounded by bytes and age. When full, the oldest telemetry goes first, then events and
 *   status; alerts only when nothing else is left. Every drop is counted by class and reason.
 * - Crash-safe: SQLite's atomic commit never leaves a half-written row or a file that fails to open.
 */
import { appendFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { privateFile } from '../security/at-rest.ts';
import { WalSync } from '../wal-sync.ts';
import type { Line, PointClass } from './points.ts';

export interface SpoolOptions {
  file: string;
  maxBytes: number;
  maxAgeMs: number;
  durability: 'fsync' | 'process';
  deadLetterFile: string;
  /**
   * Group commit window, ms: a commit follows the previous one by at least this much, so under load
   * many appends share one transaction; when idle an append commits at once. 0 = commit every
   * event-loop turn (the sync to disk is grouped apart from this, off the event loop).
   */
  commitIntervalMs?: number;
  now?: () => number;
  onDrop?: (cls: PointClass, reason: 'full' | 'age', count: number) => void;
  /** After each commit: seconds from its start until it was durable (synced to disk with "fsync"). */
  onCommit?: (seconds: number) => void;
}

/** A reading kept on the box for the local telemetry API. */
export interface LocalRow {
  device: string;
  ts: number;
  fields: string;
}

export interface SpoolRow {
  seq: number;
  target: string;
  ts: number;
  cls: PointClass;
  bytes: number;
  line: string;
}

const sacrificeOrder: PointClass[] = ['telemetry', 'event', 'status', 'alert'];

export class Spool {
  readonly db: Database.Database;
  readonly #o: SpoolOptions;
  readonly #now: () => number;
  #bytes = 0;
  #count = 0;
  #pending: { lines: Line[]; local: LocalRow[]; resolve: () => void; reject: (e: unknown) => void }[] = [];
  readonly #insertLocal;
  #scheduled = false;
  readonly #insert;
  #listeners: (() => void)[] = [];
  /** Syncs the WAL off the event loop (durability "fsync"); undefined with "process". */
  readonly walSync?: WalSync;

  constructor(o: SpoolOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    privateFile(o.file);
    this.db = new Database(o.file);
    this.db.pragma('journal_mode = WAL');
    // NORMAL: a commit does not sync on the event loop; with "fsync" WalSync syncs it on the thread pool.
    this.db.pragma('synchronous = NORMAL');
    if (o.durability === 'fsync') this.walSync = new WalSync(o.file);
    this.db
      .exec(`CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, cls TEXT NOT NULL, bytes INTEGER NOT NULL, line TEXT NOT NULL);
                  CREATE INDEX IF NOT EXISTS spool_cls ON spool (cls, seq);
                  CREATE TABLE IF NOT EXISTS local_telemetry (device TEXT NOT NULL, ts INTEGER NOT NULL, fields TEXT NOT NULL);
                  CREATE INDEX IF NOT EXISTS local_telemetry_device_ts ON local_telemetry (device, ts);
                  CREATE INDEX IF NOT EXISTS local_telemetry_ts ON local_telemetry (ts);`);
    // Spools written before forward targets were plural hold InfluxDB rows only.
    if (!(this.db.prepare("SELECT name FROM pragma_table_info('spool')").all() as { name: string }[]).some((c) => c.name === 'target')) {
      this.db.exec("ALTER TABLE spool ADD COLUMN target TEXT NOT NULL DEFAULT 'influx'");
    }
    this.db.exec('CREATE INDEX IF NOT EXISTS spool_target ON spool (target, seq)');
    this.#insertLocal = this.db.prepare('INSERT INTO local_telemetry (device, ts, fields) VALUES (?, ?, ?)');
    const s = this.db.prepare('SELECT COUNT(*) n, COALESCE(SUM(bytes), 0) b FROM spool').get() as { n: number; b: number };
    this.#count = s.n;
    this.#bytes = s.b;
    this.#insert = this.db.prepare('INSERT INTO spool (ts, cls, bytes, line, target) VALUES (?, ?, ?, ?, ?)');
  }

  get depth(): number {
    return this.#count;
  }

  get bytes(): number {
    return this.#bytes;
  }

  oldestTs(target?: string): number | undefined {
    const r =
      target === undefined ? this.db.prepare('SELECT MIN(ts) t FROM spool').get() : this.db.prepare('SELECT MIN(ts) t FROM spool WHERE target = ?').get(target);
    return (r as { t: number | null }).t ?? undefined;
  }

  /** Rows waiting for one target. */
  depthOf(target: string): number {
    return (this.db.prepare('SELECT COUNT(*) n FROM spool WHERE target = ?').get(target) as { n: number }).n;
  }

  /** Called when new rows are committed (the forwarder waits on it when idle). */
  onAppend(fn: () => void): void {
    this.#listeners.push(fn);
  }

  /** Points to forward and readings to keep locally, committed together. */
  append(lines: Line[], local: LocalRow[] = []): Promise<void> {
    if (!lines.length && !local.length) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#pending.push({ lines, local, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        const wait = this.#lastCommit + (this.#o.commitIntervalMs ?? 0) - performance.now();
        if (wait > 0.1) setTimeout(() => this.#commit(), wait);
        else setImmediate(() => this.#commit());
      }
    });
  }

  #lastCommit = -Infinity;

  #commit(): void {
    this.#scheduled = false;
    this.#lastCommit = performance.now();
    const batch = this.#pending;
    this.#pending = [];
    const t0 = performance.now();
    try {
      let added = 0;
      this.db.transaction(() => {
        for (const b of batch) {
          for (const l of b.lines) {
            const bytes = Buffer.byteLength(l.line) + 24;
            this.#insert.run(l.ts, l.cls, bytes, l.line, l.target ?? 'influx');
            added += bytes;
            this.#count++;
          }
          for (const r of b.local) this.#insertLocal.run(r.device, r.ts, r.fields);
        }
      })();
      this.#bytes += added;
      this.enforceLimits();
    } catch (err) {
      for (const b of batch) b.reject(err);
      return;
    }
    for (const fn of this.#listeners) fn();
    const durable = () => {
      this.#o.onCommit?.((performance.now() - t0) / 1000);
      for (const b of batch) b.resolve();
    };
    if (!this.walSync) return durable();
    this.walSync.sync().then(durable, (err: unknown) => {
      for (const b of batch) b.reject(err);
    });
  }

  /** A target's oldest rows first, up to `maxLines` and about `maxBytes`. */
  head(maxLines: number, maxBytes: number, target = 'influx'): SpoolRow[] {
    const rows = this.db
      .prepare('SELECT seq, target, ts, cls, bytes, line FROM spool WHERE target = ? ORDER BY seq LIMIT ?')
      .all(target, maxLines) as SpoolRow[];
    let total = 0;
    const out: SpoolRow[] = [];
    for (const r of rows) {
      if (out.length && total + r.bytes > maxBytes) break;
      out.push(r);
      total += r.bytes;
    }
    return out;
  }

  /** Delivered: remove these rows (a prefix of one target's head). */
  remove(rows: SpoolRow[]): void {
    if (!rows.length) return;
    // RETURNING: rows the size policy dropped meanwhile are not counted twice.
    const r = this.db
      .prepare('DELETE FROM spool WHERE target = ? AND seq >= ? AND seq <= ? RETURNING bytes')
      .all(rows[0]!.target, rows[0]!.seq, rows.at(-1)!.seq) as { bytes: number }[];
    this.#count -= r.length;
    this.#bytes -= r.reduce((a, x) => a + x.bytes, 0);
  }

  /** Keep at most `maxRows` readings in the local store: removes up to `batch` of the oldest per call. */
  trimLocal(maxRows: number, batch: number): number {
    // rowids only grow: keeping the newest maxRows rowids keeps at most maxRows readings, without counting them.
    const { hi } = this.db.prepare('SELECT max(rowid) AS hi FROM local_telemetry').get() as { hi: number | null };
    if (hi === null || hi <= maxRows) return 0;
    return this.db
      .prepare('DELETE FROM local_telemetry WHERE rowid IN (SELECT rowid FROM local_telemetry WHERE rowid <= ? ORDER BY rowid LIMIT ?)')
      .run(hi - maxRows, batch).changes;
  }

  /** Set aside points the server refuses as malformed, with the reason, and take them off the queue. */
  deadLetter(rows: SpoolRow[], reason: string): void {
    privateFile(this.#o.deadLetterFile);
    appendFileSync(
      this.#o.deadLetterFile,
      rows.map((r) => JSON.stringify({ at: new Date(this.#now()).toISOString(), reason, seq: r.seq, cls: r.cls, line: r.line })).join('\n') + '\n',
    );
    this.remove(rows);
  }

  #ageCheckedAt = -Infinity;
  #deleteOlder?: Database.Statement;

  /** Age limit (checked at most once a second: it is a scan, and commits come hundreds of times a second), then size. */
  enforceLimits(): void {
    const now = this.#now();
    if (now - this.#ageCheckedAt >= 1000 || now < this.#ageCheckedAt) {
      this.#ageCheckedAt = now;
      const cutoff = now - this.#o.maxAgeMs;
      this.#deleteOlder ??= this.db.prepare('DELETE FROM spool WHERE cls = ? AND ts < ? RETURNING bytes');
      for (const cls of sacrificeOrder.slice(0, 3)) {
        const r = this.#deleteOlder.all(cls, cutoff) as { bytes: number }[];
        if (r.length) this.#dropped(cls, 'age', r);
      }
    }
    for (const cls of sacrificeOrder) {
      while (this.#bytes > this.#o.maxBytes) {
        // About as many rows as the excess, from the oldest of this class: no more than needed.
        const n = Math.max(1, Math.ceil((this.#bytes - this.#o.maxBytes) / (this.#bytes / Math.max(1, this.#count))));
        const r = this.db.prepare('DELETE FROM spool WHERE seq IN (SELECT seq FROM spool WHERE cls = ? ORDER BY seq LIMIT ?) RETURNING bytes').all(cls, n) as {
          bytes: number;
        }[];
        if (!r.length) break;
        this.#dropped(cls, 'full', r);
      }
    }
  }

  #dropped(cls: PointClass, reason: 'full' | 'age', rows: { bytes: number }[]): void {
    this.#count -= rows.length;
    this.#bytes -= rows.reduce((a, x) => a + x.bytes, 0);
    this.#o.onDrop?.(cls, reason, rows.length);
  }

  localTelemetry(device: string, from: number, to: number, limit: number): { ts: number; fields: Record<string, unknown> }[] {
    return (
      this.db.prepare('SELECT ts, fields FROM local_telemetry WHERE device = ? AND ts >= ? AND ts < ? ORDER BY ts LIMIT ?').all(device, from, to, limit) as {
        ts: number;
        fields: string;
      }[]
    ).map((r) => ({ ts: r.ts, fields: JSON.parse(r.fields) as Record<string, unknown> }));
  }

  purgeLocal(before: number): number {
    // In batches of 5000 through the ts index: short transactions, never one long scan.
    let n = 0;
    for (let c = -1; c !== 0; n += c)
      c = this.db
        .prepare('DELETE FROM local_telemetry WHERE rowid IN (SELECT rowid FROM local_telemetry WHERE ts < ? ORDER BY ts LIMIT 5000)')
        .run(before).changes;
    return n;
  }

  close(): void {
    if (this.#pending.length) this.#commit();
    // The last connection's close checkpoints and syncs: what was committed is on disk.
    this.db.close();
    this.walSync?.close();
  }
}
