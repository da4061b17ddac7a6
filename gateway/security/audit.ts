/**
 * The audit log: who did what, to what, when, from where, and whether it was allowed.
 * Append-only in the database (triggers refuse UPDATE, and DELETE outside the retention job), and
 * a hash chain: each record carries sha256(previous hash, its own fields), so an edit or a removal
 * anywhere but the announced oldest end shows in `verify()`.
 *
 * Denials that a misbehaving client can repeat at line rate (ACL, rate limit)
 * are recorded at most once per second per (actor, action, target); the next
 * record carries how many were folded into it, so the log stays complete in
 * count without letting a client fill the disk.
 */
import { Listeners } from '../../edge/listeners.ts';
import { createHash } from 'node:crypto';
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
  /** The newest `limit` records (still returned oldest first), instead of the oldest. */
  newest?: boolean;
}

export class AuditLog {
  readonly #db: Db;
  readonly #insert;
  readonly #last;
  readonly #now: () => number;
  readonly #folded = new Map<string, { last: number; suppressed: number }>();
  readonly #events = new Listeners<[e: AuditEntry]>();

  constructor(db: Db, now: () => number = Date.now) {
    this.#db = db;
    this.#now = now;
    this.#insert = db.prepare(
      'INSERT INTO audit (ts, actor, action, target, outcome, address, detail, prev_hash, hash) VALUES (@ts, @actor, @action, @target, @outcome, @address, @detail, @prev_hash, @hash)',
    );
    this.#last = db.prepare('SELECT hash FROM audit WHERE hash IS NOT NULL ORDER BY seq DESC LIMIT 1');
  }

  /** Every event, folded ones included (metrics count them all). */
  onEvent(fn: (e: AuditEntry) => void): () => void {
    return this.#events.on(fn);
  }

  record(e: AuditEntry): void {
    this.#events.emit(e);
    this.#write(e);
  }

  #write(e: AuditEntry): void {
    const row = {
      ts: this.#now(),
      actor: e.actor,
      action: e.action,
      target: e.target ?? null,
      outcome: e.outcome,
      address: e.address ?? null,
      detail: JSON.stringify(e.detail ?? {}),
    };
    // The previous hash is read in the same write transaction: the admin CLI and the gateway may both append.
    this.#db
      .transaction(() => {
        const prev = (this.#last.get() as { hash: string } | undefined)?.hash ?? '';
        this.#insert.run({ ...row, prev_hash: prev, hash: chainHash(prev, row) });
      })
      .immediate();
  }

  /**
   * Walk the chain oldest first: every record's prev_hash is the hash of the one before and its hash
   * matches its fields. The first record may follow an anchor recorded by retention (records cut),
   * or the genesis (''); records written before the chain existed are counted, not checked.
   */
  verify(): { ok: boolean; checked: number; unchained: number; problem?: string } {
    const anchors = new Set(
      [''].concat(
        (this.#db.prepare(`SELECT detail FROM audit WHERE action = 'audit.retention'`).all() as { detail: string }[]).map((r) =>
          String((JSON.parse(r.detail) as { anchorHash?: string }).anchorHash ?? ''),
        ),
      ),
    );
    let prev: string | undefined;
    let checked = 0;
    let unchained = 0;
    for (const r of this.#db.prepare('SELECT * FROM audit ORDER BY seq').iterate() as IterableIterator<
      Record<string, unknown> & { seq: number; prev_hash: string | null; hash: string | null }
    >) {
      if (r.hash === null) {
        unchained++;
        continue;
      }
      const expectedPrev = prev ?? (anchors.has(String(r.prev_hash)) ? r.prev_hash : undefined);
      if (r.prev_hash !== expectedPrev)
        return { ok: false, checked, unchained, problem: `record ${r.seq}: does not follow the record before it (a record was removed or inserted)` };
      const row = {
        ts: r['ts'],
        actor: r['actor'],
        action: r['action'],
        target: r['target'],
        outcome: r['outcome'],
        address: r['address'],
        detail: r['detail'],
      } as Parameters<typeof chainHash>[1];
      if (chainHash(r.prev_hash ?? '', row) !== r.hash)
        return { ok: false, checked, unchained, problem: `record ${r.seq}: its fields do not match its hash (edited)` };
      prev = r.hash;
      checked++;
    }
    return { ok: true, checked, unchained };
  }

  /** Record, folding repeats of the same (actor, action, target) within a second. */
  recordThrottled(e: AuditEntry): void {
    // The outcome is part of the key: a success must never hide a denial, nor the reverse.
    const key = `${e.actor}\u0000${e.action}\u0000${e.outcome}\u0000${e.target ?? ''}`;
    const now = this.#now();
    this.#events.emit(e);
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
    if (q.since !== undefined) {
      where.push('ts >= @since');
      args['since'] = q.since;
    }
    if (q.until !== undefined) {
      where.push('ts < @until');
      args['until'] = q.until;
    }
    if (q.action) {
      where.push('action = @action');
      args['action'] = q.action;
    }
    if (q.actor) {
      where.push('actor = @actor');
      args['actor'] = q.actor;
    }
    if (q.outcome) {
      where.push('outcome = @outcome');
      args['outcome'] = q.outcome;
    }
    if (q.afterSeq !== undefined) {
      where.push('seq > @afterSeq');
      args['afterSeq'] = q.afterSeq;
    }
    args['limit'] = Math.min(q.limit ?? 100, 1000);
    const rows = this.#db
      .prepare(`SELECT * FROM audit ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY seq ${q.newest ? 'DESC' : ''} LIMIT @limit`)
      .all(args) as (Omit<AuditRecord, 'detail'> & { detail: string; prev_hash?: string; hash?: string })[];
    if (q.newest) rows.reverse();
    return rows.map(({ prev_hash: _p, hash: _h, ...r }) => ({ ...r, detail: JSON.parse(r.detail) as Record<string, unknown> }));
  }
}

/** sha256 over the previous hash and the record's fields, in a fixed order. */
export function chainHash(
  prev: string,
  r: { ts: unknown; actor: unknown; action: unknown; target: unknown; outcome: unknown; address: unknown; detail: unknown },
): string {
  return createHash('sha256')
    .update(JSON.stringify([prev, r.ts, r.actor, r.action, r.target, r.outcome, r.address, r.detail]))
    .digest('hex');
}
