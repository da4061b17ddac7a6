/**
 * Durable SQLite commits that do not block the event loop.
 *
 * With `synchronous = FULL` SQLite fsyncs the WAL inside every commit, on the calling thread: ~0.4 ms
 * here, hundreds of times a second under load, during which no socket is read and no alert goes out.
 * Instead the database runs with `synchronous = NORMAL` (a commit is written to the WAL, not synced)
 * and whoever must not go on before the commit is on stable storage (the PUBACK of a spooled
 * reading, a retained alert) awaits `sync()`: one `fdatasync` of the WAL file on libuv's thread
 * pool, shared by every commit made while the previous one ran (group commit).
 *
 * Why this is as safe as FULL: commits are appended to the WAL in order, so once the file is synced
 * every commit made before the sync started is durable; SQLite's WAL checksums cut recovery at the
 * first frame a power cut tore, which can only belong to a commit nobody was told about yet.
 * Checkpoints are SQLite's own business and sync as with FULL.
 *
 * A failed fdatasync is final (the kernel may have dropped the dirty pages and a retry could
 * "succeed" without them: the PostgreSQL fsync lesson): every later `sync()` rejects with it, so
 * nothing more is acknowledged as durable and the owner's health check reports it.
 */
import { closeSync, fdatasync, fstatSync, openSync } from 'node:fs';

export class WalSync {
  readonly #wal: string;
  #fd: number | undefined;
  #running: Promise<void> | undefined;
  #next: Promise<void> | undefined;
  #failed: Error | undefined;
  #closed = false;
  /** fdatasync calls made (each one covers every commit before it). */
  syncs = 0;

  /** `file`: the database file; its WAL is `<file>-wal` (the database must be in WAL mode). */
  constructor(file: string) {
    this.#wal = `${file}-wal`;
  }

  get failed(): Error | undefined {
    return this.#failed;
  }

  /** Resolves once every commit made before this call is on stable storage. */
  sync(): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed);
    if (this.#closed) return Promise.resolve();
    if (!this.#running) {
      const run = this.#datasync().finally(() => {
        if (this.#running === run) this.#running = undefined;
      });
      this.#running = run;
      return run;
    }
    // A sync is running, maybe from before this caller's commit: this caller needs the next one,
    // which every caller arriving meanwhile shares.
    this.#next ??= this.#running.then(
      () => this.#afterRunning(),
      () => this.#afterRunning(),
    );
    return this.#next;
  }

  #afterRunning(): Promise<void> {
    this.#next = undefined;
    return this.sync();
  }

  #datasync(): Promise<void> {
    let fd: number;
    try {
      fd = this.#open();
    } catch (err) {
      return Promise.reject(err as Error);
    }
    this.syncs++;
    const failed = (err: Error) => {
      this.#failed ??= new Error(`fdatasync of ${this.#wal} failed: ${err.message}; nothing more is acknowledged as durable`, { cause: err });
      return this.#failed;
    };
    return new Promise((resolve, reject) =>
      fdatasync(fd, (err) => {
        if (err) reject(failed(err));
        else resolve();
      }),
    );
  }

  /** The WAL's descriptor, opened again if SQLite replaced the file (it deletes it when the last connection closes). */
  #open(): number {
    if (this.#fd !== undefined && fstatSync(this.#fd).nlink > 0) return this.#fd;
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = openSync(this.#wal, 'r');
    return this.#fd;
  }

  /**
   * After the database is closed. SQLite checkpoints and syncs on its last connection's close, so
   * everything committed is on disk: later calls resolve at once. A running sync finishes first.
   */
  close(): void {
    this.#closed = true;
    const fd = this.#fd;
    this.#fd = undefined;
    if (fd === undefined) return;
    if (this.#running) void this.#running.catch(() => {}).finally(() => closeSync(fd));
    else closeSync(fd);
  }
}
