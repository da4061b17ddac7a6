/**
 * WalSync: commits synced to disk on the thread pool, grouped, and never acknowledged unsynced.
 * (A power cut cannot be staged here; what is checked is that every acknowledgement waits for an
 * fdatasync that started after its commit, and that syncs are shared.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { Spool } from '../gateway/forward/spool.ts';
import { WalSync } from '../gateway/wal-sync.ts';

const walDb = () => {
  const file = join(mkdtempSync(join(tmpdir(), 'walsync-')), 'db.sqlite');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE t (v TEXT)');
  return { file, db };
};

describe('WalSync', () => {
  it('callers arriving while a sync runs share the next one: 100 commits, 2 fdatasyncs', async () => {
    const { file, db } = walDb();
    const sync = new WalSync(file);
    const ins = db.prepare('INSERT INTO t VALUES (?)');
    const order: string[] = [];
    const waits: Promise<void>[] = [];
    for (let i = 0; i < 100; i++) {
      ins.run(`v${i}`);
      waits.push(sync.sync().then(() => void order.push(`ack${i}`)));
    }
    await Promise.all(waits);
    expect(sync.syncs).toBe(2);
    // The first caller's sync started right after its commit; the 99 others committed after it
    // started, so they waited for the second.
    expect(order[0]).toBe('ack0');
    expect(order).toHaveLength(100);
    sync.close();
    db.close();
  });

  it('a caller after a sync has finished gets a sync of its own', async () => {
    const { file, db } = walDb();
    const sync = new WalSync(file);
    for (let i = 0; i < 3; i++) {
      db.prepare('INSERT INTO t VALUES (?)').run('x');
      await sync.sync();
    }
    expect(sync.syncs).toBe(3);
    sync.close();
    db.close();
  });

  it('follows a WAL that SQLite deleted and created again (last connection closed and reopened)', async () => {
    const { file, db } = walDb();
    const sync = new WalSync(file);
    db.prepare('INSERT INTO t VALUES (?)').run('a');
    await sync.sync();
    db.close(); // deletes db.sqlite-wal
    const again = new Database(file);
    again.prepare('INSERT INTO t VALUES (?)').run('b');
    await sync.sync();
    expect(sync.syncs).toBe(2);
    sync.close();
    again.close();
  });

  it('a sync that cannot run rejects: the spool acknowledges none of the appends that waited for it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'walsync-spool-'));
    const spool = new Spool({ file: join(dir, 'spool.db'), maxBytes: 1e9, maxAgeMs: 3_600_000, durability: 'fsync', deadLetterFile: join(dir, 'dead.jsonl') });
    await spool.append([{ cls: 'telemetry', ts: 1, line: 'm v=1 1' }]);
    expect(spool.walSync!.syncs).toBe(1);
    // Pull the WAL from under it (as a disk that went away would): the next sync has nothing to sync.
    spool.walSync!.close();
    const fresh = new WalSync(join(dir, 'gone.db'));
    (spool as unknown as { walSync: WalSync }).walSync = fresh;
    await expect(spool.append([{ cls: 'telemetry', ts: 2, line: 'm v=2 2' }])).rejects.toThrow(/gone\.db-wal/);
    rmSync(dir, { recursive: true, force: true });
  });

  it('after close, a sync resolves at once: SQLite synced everything on the last close', async () => {
    const { file, db } = walDb();
    const sync = new WalSync(file);
    db.prepare('INSERT INTO t VALUES (?)').run('a');
    db.close();
    sync.close();
    await sync.sync();
    expect(sync.syncs).toBe(0);
  });
});
