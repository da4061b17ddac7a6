/**
 * The embedded database (SQLite through better-sqlite3, WAL): device registry,
 * principals (people and services), the append-only audit log, alerts and their history.
 * Each feature adds its tables through `migrations` (never edit an applied one).
 */
import Database from 'better-sqlite3';
import { privateFile } from './security/at-rest.ts';

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
  `CREATE TABLE alerts (
     id        TEXT PRIMARY KEY,
     key       TEXT NOT NULL,
     site      TEXT NOT NULL,
     zone      TEXT,
     type      TEXT NOT NULL,
     state     TEXT NOT NULL,
     raised_at INTEGER NOT NULL,
     data      TEXT NOT NULL
   );
   -- At most one open alert per condition, whatever races upstream.
   CREATE UNIQUE INDEX alerts_one_open ON alerts (key) WHERE state IN ('raised', 'acknowledged');
   CREATE INDEX alerts_key ON alerts (key, raised_at);
   CREATE INDEX alerts_site_state ON alerts (site, state, raised_at);
   CREATE TABLE alert_history (
     seq      INTEGER PRIMARY KEY AUTOINCREMENT,
     alert_id TEXT NOT NULL REFERENCES alerts (id),
     ts       INTEGER NOT NULL,
     event    TEXT NOT NULL,
     actor    TEXT NOT NULL,
     version  INTEGER NOT NULL,
     detail   TEXT NOT NULL DEFAULT '{}'
   );
   CREATE INDEX alert_history_alert ON alert_history (alert_id, seq);`,
  `CREATE TABLE site_keys (
     site        TEXT PRIMARY KEY,
     public_key  TEXT NOT NULL,
     private_key TEXT NOT NULL,
     created_at  INTEGER NOT NULL
   );
   CREATE TABLE device_configs (
     device_id  TEXT NOT NULL,
     version    INTEGER NOT NULL,
     config     TEXT NOT NULL,
     author     TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     rollout_id TEXT,
     note       TEXT,
     PRIMARY KEY (device_id, version)
   );
   CREATE TABLE device_config_state (
     device_id        TEXT PRIMARY KEY,
     desired_version  INTEGER NOT NULL,
     reported_version INTEGER,
     status           TEXT NOT NULL CHECK (status IN ('pending', 'in_sync', 'failed', 'drifted')),
     reason           TEXT,
     updated_at       INTEGER NOT NULL
   );
   CREATE TABLE rollouts (
     id         TEXT PRIMARY KEY,
     created_by TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     state      TEXT NOT NULL,
     data       TEXT NOT NULL
   );`,
  // Retention with integrity: the audit log becomes a hash chain (each record names the hash of the
  // one before), and deleting is refused except by the retention job, which holds a permit in the
  // same transaction and removes only the oldest records, recording the hash it cut at (the anchor).
  `ALTER TABLE audit ADD COLUMN prev_hash TEXT;
   ALTER TABLE audit ADD COLUMN hash TEXT;
   CREATE TABLE audit_retention_permit (id INTEGER PRIMARY KEY);
   DROP TRIGGER audit_no_delete;
   CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit WHEN NOT EXISTS (SELECT 1 FROM audit_retention_permit)
     BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
   CREATE INDEX alerts_state_raised ON alerts (state, raised_at);`,
  // Detector state checkpoints (gateway/inference/checkpoints.ts): one row per model and device.
  `CREATE TABLE detector_state (
     model       TEXT NOT NULL,
     device_id   TEXT NOT NULL,
     site        TEXT NOT NULL,
     kind        TEXT NOT NULL,
     version     TEXT NOT NULL,
     format      INTEGER NOT NULL,
     state       TEXT NOT NULL,
     decision    TEXT NOT NULL,
     raised_type TEXT,
     saved_at    INTEGER NOT NULL,
     PRIMARY KEY (model, device_id)
   );`,
  // Device commands (gateway/commands): one row per command, from sending to the device's answer (or none).
  `CREATE TABLE device_commands (
     id          TEXT PRIMARY KEY,
     device_id   TEXT NOT NULL,
     site        TEXT NOT NULL,
     kind        TEXT NOT NULL,
     name        TEXT NOT NULL,
     params      TEXT NOT NULL,
     actor       TEXT NOT NULL,
     via         TEXT NOT NULL,
     state       TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'ok', 'error', 'rejected', 'timeout', 'expired')),
     created_at  INTEGER NOT NULL,
     sent_at     INTEGER,
     deadline    INTEGER NOT NULL,
     answered_at INTEGER,
     reply       TEXT
   );
   CREATE INDEX device_commands_device ON device_commands (device_id, created_at);
   CREATE INDEX device_commands_open ON device_commands (state, deadline);`,
  // Evidence gathered for alerts (gateway/evidence): the bytes with their sha256, and who viewed each item (chain of custody).
  `CREATE TABLE evidence (
     id         TEXT PRIMARY KEY,
     alert_id   TEXT NOT NULL,
     site       TEXT NOT NULL,
     zone       TEXT,
     device_id  TEXT NOT NULL,
     ts         INTEGER NOT NULL,
     sha256     TEXT NOT NULL,
     bytes      INTEGER NOT NULL,
     jpeg       BLOB NOT NULL,
     created_at INTEGER NOT NULL
   );
   CREATE INDEX evidence_alert ON evidence (alert_id);
   CREATE INDEX evidence_created ON evidence (created_at);
   CREATE TABLE evidence_views (
     seq         INTEGER PRIMARY KEY AUTOINCREMENT,
     evidence_id TEXT NOT NULL,
     actor       TEXT NOT NULL,
     address     TEXT,
     ts          INTEGER NOT NULL
   );`,
  // Zones of a site (gateway/sites): what a zone is and where (coordinates for reinforcement dispatch), versioned.
  `CREATE TABLE zones (
     site       TEXT NOT NULL,
     zone       TEXT NOT NULL,
     version    INTEGER NOT NULL,
     data       TEXT NOT NULL,
     updated_at INTEGER NOT NULL,
     updated_by TEXT NOT NULL,
     PRIMARY KEY (site, zone)
   );
   CREATE TABLE zone_versions (
     site    TEXT NOT NULL,
     zone    TEXT NOT NULL,
     version INTEGER NOT NULL,
     data    TEXT,
     actor   TEXT NOT NULL,
     ts      INTEGER NOT NULL,
     PRIMARY KEY (site, zone, version)
   );`,
  // Detectors of places (a zone's crowd): a run is per site (two sites may both have a "concourse") and knows its zone.
  `CREATE TABLE detector_state_v2 (
     model       TEXT NOT NULL,
     device_id   TEXT NOT NULL,
     site        TEXT NOT NULL,
     kind        TEXT NOT NULL,
     zone        TEXT,
     version     TEXT NOT NULL,
     format      INTEGER NOT NULL,
     state       TEXT NOT NULL,
     decision    TEXT NOT NULL,
     raised_type TEXT,
     saved_at    INTEGER NOT NULL,
     PRIMARY KEY (model, site, device_id)
   );
   INSERT INTO detector_state_v2 (model, device_id, site, kind, zone, version, format, state, decision, raised_type, saved_at)
     SELECT model, device_id, site, kind, NULL, version, format, state, decision, raised_type, saved_at FROM detector_state;
   DROP TABLE detector_state;
   ALTER TABLE detector_state_v2 RENAME TO detector_state;`,
  // Devices as they come (gateway/adapters): the vendor's name for a device (a zigbee2mqtt friendly name, a serial),
  // bridges that speak for many devices, devices waiting for an admin, and per-site provisioning keys.
  `ALTER TABLE devices ADD COLUMN external_id TEXT;
   CREATE UNIQUE INDEX devices_external ON devices (site, external_id) WHERE external_id IS NOT NULL;
   CREATE TABLE bridges (
     id          TEXT PRIMARY KEY,
     site        TEXT NOT NULL,
     adapter     TEXT NOT NULL,
     base_topic  TEXT NOT NULL,
     secret_hash TEXT,
     state       TEXT NOT NULL CHECK (state IN ('enabled', 'revoked')),
     created_at  INTEGER NOT NULL,
     updated_at  INTEGER NOT NULL,
     last_seen   INTEGER,
     last_address TEXT
   );
   CREATE TABLE pending_devices (
     id          INTEGER PRIMARY KEY AUTOINCREMENT,
     source      TEXT NOT NULL,
     claimed_id  TEXT NOT NULL,
     adapter     TEXT,
     kind        TEXT,
     site        TEXT,
     address     TEXT,
     topic       TEXT,
     detail      TEXT,
     attempts    INTEGER NOT NULL DEFAULT 1,
     first_seen  INTEGER NOT NULL,
     last_seen   INTEGER NOT NULL,
     state       TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected')),
     decided_by  TEXT,
     decided_at  INTEGER,
     device_id   TEXT,
     UNIQUE (source, claimed_id)
   );
   CREATE TABLE claim_keys (
     id          TEXT PRIMARY KEY,
     site        TEXT NOT NULL,
     zone        TEXT,
     kinds       TEXT NOT NULL,
     secret_hash TEXT,
     max_uses    INTEGER NOT NULL,
     uses        INTEGER NOT NULL DEFAULT 0,
     expires_at  INTEGER NOT NULL,
     state       TEXT NOT NULL CHECK (state IN ('enabled', 'revoked')),
     created_by  TEXT NOT NULL,
     created_at  INTEGER NOT NULL
   );`,
];

export function openStore(file: string): Db {
  // Created 0600 in a 0700 directory: password hashes and sealed keys are nobody else's to read.
  if (file !== ':memory:') privateFile(file);
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

/** Prepared statements, compiled once per SQL text (preparing costs more than running a lookup). */
export function statementCache(db: Db): (sql: string) => Database.Statement {
  const cache = new Map<string, Database.Statement>();
  return (sql) => {
    let s = cache.get(sql);
    if (!s) {
      s = db.prepare(sql);
      cache.set(sql, s);
    }
    return s;
  };
}
