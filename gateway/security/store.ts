/**
 * The embedded database (SQLite through better-sqlite3, WAL): device registry,
 * principals (people and services) and the append-only audit log.
 * Later issues (alerts, config history) add their tables through `migrations`.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

export type Db = Database.Database;

const migrations: string[] = [
  `CREATE TABLE devices (
     device_id   TEXT PRIMARY KEY,
     kind        TEXT NOT NULL,
     site        TEXT NOT NULL,
     zone        TEXT,
     tags        TEXT NOT NULL DEFAULT '[]',
     secret_hash TEXT,
     state       TEXT NOT NULL CHECK (state IN ('enabled', 'disabled', 'revoked')),
     created_at  INTEGER NOT NULL,
     updated_at  INTEGER NOT NULL,
     last_seen   INTEGER,
     last_address TEXT
   );
   CREATE INDEX devices_site_kind ON devices (site, kind);
   CREATE TABLE principals (
     id          TEXT PRIMARY KEY,
     role        TEXT NOT NULL CHECK (role IN ('consumer', 'engineer', 'admin')),
     sites       TEXT NOT NULL DEFAULT '[]',
     secret_hash TEXT,
     state       TEXT NOT NULL CHECK (state IN ('enabled', 'revoked')),
     created_at  INTEGER NOT NULL,
     updated_at  INTEGER NOT NULL
   );
   CREATE TABLE audit (
     seq     INTEGER PRIMARY KEY AUTOINCREMENT,
     ts      INTEGER NOT NULL,
     actor   TEXT NOT NULL,
     action  TEXT NOT NULL,
     target  TEXT,
     outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'denied', 'failed')),
     address TEXT,
     detail  TEXT NOT NULL DEFAULT '{}'
   );
   CREATE INDEX audit_ts ON audit (ts);
   CREATE INDEX audit_action ON audit (action, ts);
   -- Append-only: the auditor must be able to trust that nothing was edited or removed.
   CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
   CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;`,
];

export function openStore(file: string): Db {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode: a committed transaction survives a process crash (kill -9); only an OS crash may lose the last ones.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  const version = db.pragma('user_version', { simple: true }) as number;
  for (let v = version; v < migrations.length; v++) {
    db.transaction(() => {
      db.exec(migrations[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return db;
}
