/** Alerts in the embedded database: one row per alert (JSON body plus indexed columns) and its full history. */
import { statementCache, type Db } from '../db.ts';
import type { AlertEvent } from '../../edge/alerts/model.ts';
import type { AlertQuery, AlertRecord, AlertStore, HistoryEntry } from '../../edge/alerts/store.ts';

export class SqliteAlertStore implements AlertStore {
  readonly #db: Db;
  readonly #sql: ReturnType<typeof statementCache>;
  readonly #upsert;
  readonly #history;
  readonly #now: () => number;

  constructor(db: Db, now: () => number = Date.now) {
    this.#db = db;
    this.#sql = statementCache(db);
    this.#now = now;
    this.#upsert = db.prepare(
      `INSERT INTO alerts (id, key, site, zone, type, state, raised_at, data) VALUES (@id, @key, @site, @zone, @type, @state, @raisedAt, @data)
       ON CONFLICT (id) DO UPDATE SET state = excluded.state, raised_at = excluded.raised_at, data = excluded.data`,
    );
    this.#history = db.prepare('INSERT INTO alert_history (alert_id, ts, event, actor, version, detail) VALUES (?, ?, ?, ?, ?, ?)');
    for (const r of db.prepare(`SELECT key FROM alerts WHERE state IN ('raised', 'acknowledged')`).all() as { key: string }[]) this.#openKeys.add(r.key);
  }

  /**
   * Keys with an open alert, kept in memory (every change goes through save): most conditions a
   * rule reports are "still clear", and answering those must not cost a query per message.
   */
  readonly #openKeys = new Set<string>();

  #row = (r: { data: string } | undefined): AlertRecord | undefined => (r ? (JSON.parse(r.data) as AlertRecord) : undefined);

  get(id: string) {
    return this.#row(this.#sql('SELECT data FROM alerts WHERE id = ?').get(id) as { data: string } | undefined);
  }

  findOpen(key: string) {
    if (!this.#openKeys.has(key)) return undefined;
    return this.#row(this.#sql(`SELECT data FROM alerts WHERE key = ? AND state IN ('raised', 'acknowledged')`).get(key) as { data: string } | undefined);
  }

  findLatest(key: string) {
    return this.#row(this.#sql('SELECT data FROM alerts WHERE key = ? ORDER BY raised_at DESC LIMIT 1').get(key) as { data: string } | undefined);
  }

  openAlerts() {
    return (this.#sql(`SELECT data FROM alerts WHERE state IN ('raised', 'acknowledged') ORDER BY raised_at`).all() as { data: string }[]).map((r) =>
      this.#row(r)!,
    );
  }

  openInZone(site: string, zone: string, since: number) {
    return (
      this.#db
        .prepare(`SELECT data FROM alerts WHERE site = ? AND zone = ? AND state IN ('raised', 'acknowledged') AND raised_at >= ? ORDER BY raised_at`)
        .all(site, zone, since) as { data: string }[]
    ).map((r) => this.#row(r)!);
  }

  save(a: AlertRecord, event: AlertEvent | undefined, actor: string, detail?: Record<string, unknown>): void {
    this.#db.transaction(() => {
      this.#upsert.run({ id: a.id, key: a.key, site: a.site, zone: a.zone, type: a.type, state: a.state, raisedAt: a.raisedAt, data: JSON.stringify(a) });
      if (event) this.#history.run(a.id, this.#now(), event, actor, a.version, JSON.stringify(detail ?? {}));
    })();
    if (a.state === 'raised' || a.state === 'acknowledged') this.#openKeys.add(a.key);
    else this.#openKeys.delete(a.key);
  }

  query(q: AlertQuery): AlertRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.state === 'open') where.push(`state IN ('raised', 'acknowledged')`);
    else if (q.state) {
      where.push('state = ?');
      args.push(q.state);
    }
    if (q.site) {
      where.push('site = ?');
      args.push(q.site);
    }
    if (q.sites && !q.sites.includes('*')) {
      where.push(`site IN (${q.sites.map(() => '?').join(',')})`);
      args.push(...q.sites);
    }
    if (q.type) {
      where.push('type = ?');
      args.push(q.type);
    }
    if (q.since !== undefined) {
      where.push('raised_at >= ?');
      args.push(q.since);
    }
    if (q.before) {
      where.push('(raised_at < ? OR (raised_at = ? AND id < ?))');
      args.push(q.before.raisedAt, q.before.raisedAt, q.before.id);
    }
    args.push(Math.min(q.limit ?? 50, 500));
    const rows = this.#db
      .prepare(`SELECT data FROM alerts ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY raised_at DESC, id DESC LIMIT ?`)
      .all(...args) as { data: string }[];
    return rows.map((r) => this.#row(r)!);
  }

  history(id: string): HistoryEntry[] {
    return (
      this.#sql('SELECT ts, event, actor, version, detail FROM alert_history WHERE alert_id = ? ORDER BY seq').all(id) as (Omit<HistoryEntry, 'detail'> & {
        detail: string;
      })[]
    ).map((h) => ({ ...h, detail: JSON.parse(h.detail) as Record<string, unknown> }));
  }
}
