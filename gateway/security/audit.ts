/**
 * The audit log: who did what, to what, when, from where, and whether it was allowed.
 * Append-only in the database (triggers refuse UPDATE and DELETE).
 *
 * Denials that a misbehaving client can repeat at line rate (ACL, rate limit)
 * are recorded at most once per second per (actor, action, target); the next
 * record carries how many were folded into it, so the log stays complete in
 * count without letting a client fill the disk.
 */
import type { Db } from '../db.ts';

export type AuditOutcome = 'ok' | 'denied' | 'failed';

export interface AuditEntry {
  actor: string;
  action: string;
  target?: string;
  outcome: AuditOutcome;
  address?: string;
  detail?: Record<string, unknown>;
}

export interface AuditRecord extends Required<Omit<AuditEntry, 'target' | 'address'>> {
  seq: number;
  ts: number;
  target: string | null;
  address: string | null;
}

export interface AuditQuery {
  since?: number;
  until?: number;
  action?: string;
  actor?: string;
  outcome?: AuditOutcome;
  afterSeq?: number;
  limit?: number;
}

export class AuditLog {
  readonly #db: Db;
  readonly #insert;
  readonly #now: () => number;
  readonly #folded = new Map<string, { last: number; suppressed: number }>();
  readonly #listeners: ((e: AuditEntry) => void)[] = [];

  constructor(db: Db, now: () => number = Date.now) {
    this.#db = db;
    this.#now = now;
    this.#insert = db.prepare(
      'INSERT INTO audit (ts, actor, action, target, outcome, address, detail) VALUES (@ts, @actor, @action, @target, @outcome, @address, @detail)',
    );
  }

  /** Every event, folded ones included (metrics count them all). */
  onEvent(fn: (e: AuditEntry) => void): void {
    this.#listeners.push(fn);
  }

  record(e: AuditEntry): void {
    for (const fn of this.#listeners) fn(e);
    this.#write(e);
  }

  #write(e: AuditEntry): void {
    this.#insert.run({
      ts: this.#now(),
      actor: e.actor,
      action: e.action,
      target: e.target ?? null,
      outcome: e.outcome,
      address: e.address ?? null,
      detail: JSON.stringify(e.detail ?? {}),
    });
  }

  /** Record, folding repeats of the same (actor, action, target) within a second. */
  recordThrottled(e: AuditEntry): void {
    // The outcome is part of the key: a success must never hide a denial, nor the reverse.
    const key = `${e.actor}\u0000${e.action}\u0000${e.outcome}\u0000${e.target ?? ''}`;
    const now = this.#now();
    for (const fn of this.#listeners) fn(e);
    const f = this.#folded.get(key);
    if (f && now - f.last < 1000) {
      f.suppressed++;
      return;
    }
    const suppressed = f?.suppressed ?? 0;
    this.#folded.set(key, { last: now, suppressed: 0 });
    if (this.#folded.size > 10_000) this.#folded.clear();
    this.#write(suppressed ? { ...e, detail: { ...e.detail, repeatsFolded: suppressed } } : e);
  }

  query(q: AuditQuery = {}): AuditRecord[] {
    const where: string[] = [];
    const args: Record<string, unknown> = {};
    if (q.since !== undefined) { where.push('ts >= @since'); args['since'] = q.since; }
    if (q.until !== undefined) { where.push('ts < @until'); args['until'] = q.until; }
    if (q.action) { where.push('action = @action'); args['action'] = q.action; }
    if (q.actor) { where.push('actor = @actor'); args['actor'] = q.actor; }
    if (q.outcome) { where.push('outcome = @outcome'); args['outcome'] = q.outcome; }
    if (q.afterSeq !== undefined) { where.push('seq > @afterSeq'); args['afterSeq'] = q.afterSeq; }
    args['limit'] = Math.min(q.limit ?? 100, 1000);
    const rows = this.#db
      .prepare(`SELECT * FROM audit ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY seq LIMIT @limit`)
      .all(args) as (Omit<AuditRecord, 'detail'> & { detail: string })[];
    return rows.map((r) => ({ ...r, detail: JSON.parse(r.detail) as Record<string, unknown> }));
  }
}
