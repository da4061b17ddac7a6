/**
 * Retention: the audit log, alert history, device config history and the local telemetry store
 * are bounded by age and size. A run removes at most `batchRows` rows per table, oldest first,
 * through indexes, on a timer off the message path; a backlog is worked off over several runs.
 *
 * The audit log keeps its integrity guarantees: rows are removed only from the oldest end, only
 * here (the delete trigger refuses anyone without the permit this job holds inside its
 * transaction), and each cut is itself an audit record carrying the hash of the last record
 * removed, so the chain still verifies from there (AuditLog.verify).
 */
import type { Feature } from './feature.ts';
import type { GatewayConfig } from './config.ts';
import type { Db } from './db.ts';
import type { Logger } from './logger.ts';
import type { AuditLog } from './security/audit.ts';

export interface RetentionDeps {
  db: Db;
  audit: AuditLog;
  config: GatewayConfig['retention'];
  /** Removes local telemetry beyond a count (the spool owns that table). */
  trimLocalTelemetry?: (maxRows: number, batch: number) => number;
  log: Logger;
  now?: () => number;
}

export interface RetentionRun {
  audit: number;
  alerts: number;
  configVersions: number;
  localTelemetry: number;
}

const DAY = 86_400_000;

export class Retention implements Feature {
  readonly #d: RetentionDeps;
  readonly #now: () => number;
  #timer?: NodeJS.Timeout;

  constructor(d: RetentionDeps) {
    this.#d = d;
    this.#now = d.now ?? Date.now;
  }

  readonly name = 'retention';

  start(): void {
    this.#timer = setInterval(() => {
      try {
        this.run();
      } catch (err) {
        this.#d.log.error({ err }, 'retention run failed');
      }
    }, this.#d.config.intervalS * 1000);
    this.#timer.unref();
  }

  drain(): void {
    clearInterval(this.#timer);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  run(): RetentionRun {
    const out = { audit: this.#audit(), alerts: this.#alerts(), configVersions: this.#configs(), localTelemetry: 0 };
    const max = this.#d.config.localTelemetryMaxRows;
    if (max > 0 && this.#d.trimLocalTelemetry) out.localTelemetry = this.#d.trimLocalTelemetry(max, this.#d.config.batchRows);
    if (out.audit + out.alerts + out.configVersions + out.localTelemetry > 0) this.#d.log.info(out, 'retention removed old rows');
    return out;
  }

  /** The highest seq to cut through: by age (ts index) and by count (seq is contiguous: only prefixes are ever removed). */
  #audit(): number {
    const { db } = this.#d;
    const c = this.#d.config;
    const bounds = db.prepare('SELECT min(seq) AS lo, max(seq) AS hi FROM audit').get() as { lo: number | null; hi: number | null };
    if (bounds.lo === null || bounds.hi === null) return 0;
    let through = bounds.lo - 1;
    if (c.auditDays > 0) {
      const old = db
        .prepare('SELECT max(seq) AS s FROM (SELECT seq FROM audit WHERE ts < ? ORDER BY ts LIMIT ?)')
        .get(this.#now() - c.auditDays * DAY, c.batchRows) as { s: number | null };
      if (old.s !== null) through = Math.max(through, old.s);
    }
    if (c.auditMaxRecords > 0 && bounds.hi - bounds.lo + 1 > c.auditMaxRecords) through = Math.max(through, bounds.hi - c.auditMaxRecords);
    through = Math.min(through, bounds.lo - 1 + c.batchRows, bounds.hi);
    if (through < bounds.lo) return 0;
    const cut = db
      .transaction(() => {
        const anchor = db.prepare('SELECT hash FROM audit WHERE seq = ?').get(through) as { hash: string | null } | undefined;
        db.prepare('INSERT INTO audit_retention_permit (id) VALUES (1)').run();
        const n = db.prepare('DELETE FROM audit WHERE seq <= ?').run(through).changes;
        db.prepare('DELETE FROM audit_retention_permit').run();
        return { n, anchorHash: anchor?.hash ?? '' };
      })
      .immediate();
    this.#d.audit.record({
      actor: 'gateway',
      action: 'audit.retention',
      target: `seq<=${through}`,
      outcome: 'ok',
      detail: { deleted: cut.n, throughSeq: through, anchorHash: cut.anchorHash, auditDays: c.auditDays, auditMaxRecords: c.auditMaxRecords },
    });
    return cut.n;
  }

  #alerts(): number {
    const days = this.#d.config.alertsDays;
    if (days <= 0) return 0;
    const { db } = this.#d;
    const ids = (
      db
        .prepare(`SELECT id FROM alerts WHERE state IN ('resolved', 'auto_resolved') AND raised_at < ? ORDER BY raised_at LIMIT ?`)
        .all(this.#now() - days * DAY, this.#d.config.batchRows) as { id: string }[]
    ).map((r) => r.id);
    if (!ids.length) return 0;
    const delHistory = db.prepare('DELETE FROM alert_history WHERE alert_id = ?');
    const delAlert = db.prepare('DELETE FROM alerts WHERE id = ?');
    db.transaction(() => {
      for (const id of ids) {
        delHistory.run(id);
        delAlert.run(id);
      }
    })();
    return ids.length;
  }

  /** Versions older than the newest `configVersionsKept` of each device; never the desired one. */
  #configs(): number {
    const keep = this.#d.config.configVersionsKept;
    if (keep <= 0) return 0;
    return this.#d.db
      .prepare(
        `DELETE FROM device_configs WHERE rowid IN (
           SELECT c.rowid FROM device_configs c
           WHERE c.version <= (SELECT max(version) FROM device_configs m WHERE m.device_id = c.device_id) - ?
             AND c.version <> coalesce((SELECT desired_version FROM device_config_state s WHERE s.device_id = c.device_id), -1)
           LIMIT ?)`,
      )
      .run(keep, this.#d.config.batchRows).changes;
  }
}
