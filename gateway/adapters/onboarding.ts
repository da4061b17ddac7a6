/**
 * Onboarding: devices as they turn up. A device that is not registered and tries to connect (MQTT), to
 * push (a vendor adapter over HTTP) or is spoken for by a bridge (a zigbee2mqtt friendly name) appears as
 * *pending*: what it called itself, where from, the topic it tried, first and last seen, the adapter and
 * kind that would fit. An admin approves it into a site, zone and kind (credentials issued, the adapter's
 * tag set) or rejects it; approval also goes in bulk from a CSV. Nothing pending can log in or send data.
 *
 * The list is written by strangers, so it is bounded: `maxPending` rows in all and `maxPendingPerAddress`
 * from one source address; a row is rewritten at most every `touchMs` per device; what does not fit is
 * counted (`vigil_pending_dropped_total`), not stored.
 *
 * Zero-touch claiming: an admin makes a provisioning key for a site (and zone), for some kinds, a number
 * of uses and a lifetime. A device that presents it (`POST /api/v1/claim`) is provisioned into that site
 * and gets its own credentials once. Keys are stored as scrypt hashes; failures are throttled per key and
 * source like a login, and every claim is audited.
 */
import { z } from 'zod';
import { parse as parseCsv } from 'csv-parse/sync';
import { idSchema, kindSchema } from '../../devices/index.ts';
import { adapterTag } from '../../devices/adapters/index.ts';
import { statementCache, type Db } from '../db.ts';
import { BulkInvalidError, ConflictError, ForbiddenError, NotFoundError } from '../errors.ts';
import type { Actor, Credentials, DeviceRecord } from '../security/registry.ts';
import { hashSecret, newSecret, verifySecret } from '../security/secrets.ts';
import type { Security } from '../security/index.ts';

export interface PendingDevice {
  id: number;
  /** Where it turned up: `mqtt`, `http:<adapter>` or `bridge:<bridgeId>`. */
  source: string;
  /** What it called itself: its MQTT user name / client id, the device id of its push URL, or its friendly name behind a bridge. */
  claimedId: string;
  adapter: string | null;
  kind: string | null;
  site: string | null;
  address: string | null;
  topic: string | null;
  detail: Record<string, unknown> | null;
  attempts: number;
  firstSeen: number;
  lastSeen: number;
  state: 'pending' | 'approved' | 'rejected';
  decidedBy: string | null;
  decidedAt: number | null;
  deviceId: string | null;
}

type PendingRow = {
  id: number;
  source: string;
  claimed_id: string;
  adapter: string | null;
  kind: string | null;
  site: string | null;
  address: string | null;
  topic: string | null;
  detail: string | null;
  attempts: number;
  first_seen: number;
  last_seen: number;
  state: PendingDevice['state'];
  decided_by: string | null;
  decided_at: number | null;
  device_id: string | null;
};

const toPending = (r: PendingRow): PendingDevice => ({
  id: r.id,
  source: r.source,
  claimedId: r.claimed_id,
  adapter: r.adapter,
  kind: r.kind,
  site: r.site,
  address: r.address,
  topic: r.topic,
  detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null,
  attempts: r.attempts,
  firstSeen: r.first_seen,
  lastSeen: r.last_seen,
  state: r.state,
  decidedBy: r.decided_by,
  decidedAt: r.decided_at,
  deviceId: r.device_id,
});

/** What an unknown device showed of itself. */
export interface Sighting {
  source: string;
  claimedId: string;
  adapter?: string;
  kind?: string;
  site?: string;
  address?: string;
  topic?: string;
  detail?: Record<string, unknown>;
}

export const approveSchema = z.object({
  deviceId: idSchema
    .optional()
    .describe('the Vigil device id; default: the id it claimed (for a bridged device: required unless its friendly name is a valid id)'),
  kind: kindSchema.optional().describe('default: the kind it looked like'),
  site: idSchema.optional().describe("default: the bridge's site; required for devices that came on their own"),
  zone: z.string().min(1).max(64).optional(),
  tags: z.array(z.string().min(1).max(32)).max(19).default([]),
});
export type ApproveInput = z.input<typeof approveSchema>;

export const claimKeySchema = z.object({
  site: idSchema,
  zone: z.string().min(1).max(64).optional(),
  kinds: z.array(kindSchema).min(1).describe('the kinds a device may claim with this key'),
  maxUses: z.number().int().min(1).max(10_000).default(50),
  ttlH: z
    .number()
    .min(0.1)
    .max(24 * 90)
    .default(72)
    .describe('hours the key stays valid'),
});
export type ClaimKeyInput = z.input<typeof claimKeySchema>;

export const claimSchema = z.object({
  deviceId: idSchema,
  kind: kindSchema,
  key: z.string().min(1).max(200).describe('the provisioning key `<keyId>.<secret>`'),
});

export interface ClaimKey {
  id: string;
  site: string;
  zone: string | null;
  kinds: string[];
  maxUses: number;
  uses: number;
  expiresAt: number;
  state: 'enabled' | 'revoked';
  createdBy: string;
  createdAt: number;
}
type ClaimKeyRow = Omit<ClaimKey, 'kinds' | 'maxUses' | 'expiresAt' | 'createdBy' | 'createdAt'> & {
  kinds: string;
  max_uses: number;
  expires_at: number;
  created_by: string;
  created_at: number;
  secret_hash: string | null;
};
const toKey = (r: ClaimKeyRow): ClaimKey => ({
  id: r.id,
  site: r.site,
  zone: r.zone,
  kinds: JSON.parse(r.kinds) as string[],
  maxUses: r.max_uses,
  uses: r.uses,
  expiresAt: r.expires_at,
  state: r.state,
  createdBy: r.created_by,
  createdAt: r.created_at,
});

export interface OnboardingLimits {
  maxPending: number;
  maxPendingPerAddress: number;
}

export class Onboarding {
  readonly #sql: ReturnType<typeof statementCache>;
  readonly #security: Security;
  readonly #limits: OnboardingLimits;
  readonly #now: () => number;
  /** (source, id) → when its row was last written: a device retrying every second rewrites it once per touchMs. */
  readonly #touched = new Map<string, { at: number; kind: boolean }>();
  readonly touchMs = 10_000;
  /** Sightings not stored (the list full); a counter for the metrics. */
  dropped = 0;

  constructor(db: Db, security: Security, limits: OnboardingLimits, now: () => number = Date.now) {
    this.#sql = statementCache(db);
    this.#security = security;
    this.#limits = limits;
    this.#now = now;
  }

  // ── pending devices ──────────────────────────────────────────────────

  /** An unknown device showed up: remember it for an admin (bounded; see above). */
  seen(s: Sighting): void {
    const now = this.#now();
    const key = `${s.source}\u0000${s.claimedId}`;
    const last = this.#touched.get(key);
    // Within touchMs only a sighting that tells more (the kind it looks like, when it was not known) is written.
    if (last !== undefined && now - last.at < this.touchMs && (last.kind || !s.kind)) return;
    if (this.#touched.size > 10_000) this.#touched.clear();
    this.#touched.set(key, { at: now, kind: !!s.kind || !!last?.kind });
    const row = this.#sql('SELECT id FROM pending_devices WHERE source = ? AND claimed_id = ?').get(s.source, s.claimedId) as { id: number } | undefined;
    if (row) {
      this.#sql(
        'UPDATE pending_devices SET attempts = attempts + 1, last_seen = ?, address = ?, topic = COALESCE(?, topic), kind = COALESCE(kind, ?) WHERE id = ?',
      ).run(now, s.address ?? null, s.topic ?? null, s.kind ?? null, row.id);
      return;
    }
    const { n } = this.#sql(`SELECT COUNT(*) AS n FROM pending_devices WHERE state = 'pending'`).get() as { n: number };
    const { a } = this.#sql(`SELECT COUNT(*) AS a FROM pending_devices WHERE state = 'pending' AND address = ?`).get(s.address ?? null) as { a: number };
    if (n >= this.#limits.maxPending || (s.address && a >= this.#limits.maxPendingPerAddress)) {
      this.dropped++;
      return;
    }
    this.#sql(
      `INSERT INTO pending_devices (source, claimed_id, adapter, kind, site, address, topic, detail, first_seen, last_seen, state)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')`,
    ).run(
      s.source,
      s.claimedId.slice(0, 128),
      s.adapter ?? null,
      s.kind ?? null,
      s.site ?? null,
      s.address ?? null,
      s.topic?.slice(0, 256) ?? null,
      s.detail ? JSON.stringify(s.detail).slice(0, 2000) : null,
      now,
      now,
    );
  }

  /** Pending devices (by default those waiting); a principal limited to some sites sees those of its sites and those of no site yet. */
  list(f: { state?: PendingDevice['state'] | 'all'; sites?: string[] } = {}): PendingDevice[] {
    const state = f.state ?? 'pending';
    const rows = (this.#sql('SELECT * FROM pending_devices ORDER BY last_seen DESC, id DESC').all() as PendingRow[]).map(toPending);
    return rows.filter((p) => (state === 'all' || p.state === state) && (!f.sites || f.sites.includes('*') || p.site === null || f.sites.includes(p.site)));
  }

  get(id: number): PendingDevice {
    const r = this.#sql('SELECT * FROM pending_devices WHERE id = ?').get(id) as PendingRow | undefined;
    if (!r) throw new NotFoundError(`no pending device ${id}`);
    return toPending(r);
  }

  /** What approving `p` with `input` provisions: the bridge's site stays the bridge's; its friendly name becomes the external id. */
  provisionInput(p: PendingDevice, input: z.output<typeof approveSchema>, at: string) {
    if (p.state !== 'pending') throw new ConflictError(`pending device ${p.id} (${p.claimedId}) was ${p.state} already`);
    const bridged = p.source.startsWith('bridge:');
    if (bridged && input.site && input.site !== p.site)
      throw new ForbiddenError(`${at}: "${p.claimedId}" is behind bridge ${p.source.slice(7)} of site "${p.site}"; it cannot be approved into "${input.site}"`);
    const tags = [...new Set([...input.tags, ...(p.adapter ? [adapterTag(p.adapter)] : [])])];
    return {
      deviceId: input.deviceId ?? p.claimedId,
      kind: input.kind ?? p.kind ?? undefined,
      site: input.site ?? p.site ?? undefined,
      ...(input.zone ? { zone: input.zone } : {}),
      tags,
      ...(bridged ? { externalId: p.claimedId } : {}),
    };
  }

  #decided(p: PendingDevice, state: 'approved' | 'rejected', actor: Actor, deviceId: string | null, detail: Record<string, unknown>): void {
    this.#sql('UPDATE pending_devices SET state = ?, decided_by = ?, decided_at = ?, device_id = ? WHERE id = ?').run(
      state,
      actor.id,
      this.#now(),
      deviceId,
      p.id,
    );
    this.#touched.delete(`${p.source}\u0000${p.claimedId}`);
    this.#security.audit.record({
      actor: actor.id,
      address: actor.address,
      action: `pending.${state === 'approved' ? 'approve' : 'reject'}`,
      target: p.claimedId,
      outcome: 'ok',
      detail: { pending: p.id, source: p.source, ...detail },
    });
  }

  /** Approve one pending device: provisioned (the registry's checks and audit), credentials returned once. */
  async approve(id: number, raw: unknown, actor: Actor): Promise<{ device: DeviceRecord; credentials: Credentials; pending: PendingDevice }> {
    const p = this.get(id);
    const input = approveSchema.parse(raw ?? {});
    const [out] = await this.#security.registry.provisionMany([this.provisionInput(p, input, `pending ${id}`)], actor);
    this.#decided(p, 'approved', actor, out!.device.deviceId, { kind: out!.device.kind, site: out!.device.site });
    return { ...out!, pending: this.get(id) };
  }

  reject(id: number, actor: Actor, reason?: string): PendingDevice {
    const p = this.get(id);
    if (p.state !== 'pending') throw new ConflictError(`pending device ${id} (${p.claimedId}) was ${p.state} already`);
    this.#decided(p, 'rejected', actor, null, reason ? { reason } : {});
    return this.get(id);
  }

  /**
   * Bulk approval: CSV with a header `claimedId,deviceId,kind,site,zone,tags` (deviceId, kind, site, zone
   * and tags optional, tags separated by `;`); each line names a waiting device by what it claimed.
   * All or nothing: one bad line approves nothing, and every problem is listed.
   */
  async approveCsv(text: string, actor: Actor): Promise<{ device: DeviceRecord; credentials: Credentials }[]> {
    let rows: Record<string, string>[];
    try {
      rows = parseCsv(text, { columns: true, skip_empty_lines: true, trim: true, comment: '#' }) as Record<string, string>[];
    } catch (err) {
      throw new BulkInvalidError([{ path: '', message: `not valid CSV: ${(err as Error).message}` }]);
    }
    if (!rows.length) throw new BulkInvalidError([{ path: '', message: 'no lines in the file' }]);
    const waiting = this.list();
    const problems: { path: string; message: string }[] = [];
    const picked: { p: PendingDevice; input: ReturnType<Onboarding['provisionInput']> }[] = [];
    rows.forEach((r, i) => {
      const claimed = r['claimedId'] ?? r['claimed_id'] ?? '';
      const matches = waiting.filter((p) => p.claimedId === claimed);
      if (!claimed) return problems.push({ path: `[${i}].claimedId`, message: 'missing' });
      if (matches.length !== 1)
        return problems.push({
          path: `[${i}].claimedId`,
          message: matches.length ? `"${claimed}" is waiting from ${matches.length} sources; approve it by id` : `no device "${claimed}" is waiting`,
        });
      const parsed = approveSchema.safeParse({
        ...(r['deviceId'] ? { deviceId: r['deviceId'] } : {}),
        ...(r['kind'] ? { kind: r['kind'] } : {}),
        ...(r['site'] ? { site: r['site'] } : {}),
        ...(r['zone'] ? { zone: r['zone'] } : {}),
        tags: (r['tags'] ?? '')
          .split(';')
          .map((t) => t.trim())
          .filter(Boolean),
      });
      if (!parsed.success) return parsed.error.issues.forEach((iss) => problems.push({ path: `[${i}].${iss.path.join('.')}`, message: iss.message }));
      try {
        picked.push({ p: matches[0]!, input: this.provisionInput(matches[0]!, parsed.data, `line ${i + 2}`) });
      } catch (err) {
        problems.push({ path: `[${i}]`, message: (err as Error).message });
      }
    });
    if (problems.length) throw new BulkInvalidError(problems);
    const out = await this.#security.registry.provisionMany(
      picked.map((x) => x.input),
      actor,
    );
    picked.forEach(({ p }, i) => this.#decided(p, 'approved', actor, out[i]!.device.deviceId, { bulk: true }));
    return out;
  }

  // ── provisioning keys (zero-touch) ───────────────────────────────────

  async createKey(raw: unknown, actor: Actor): Promise<{ key: ClaimKey; secret: string }> {
    const k = claimKeySchema.parse(raw);
    const id = `pk-${newSecret()
      .slice(0, 10)
      .replace(/[^A-Za-z0-9]/g, 'x')}`;
    const secret = newSecret();
    const now = this.#now();
    this.#sql(
      `INSERT INTO claim_keys (id, site, zone, kinds, secret_hash, max_uses, uses, expires_at, state, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?, 'enabled', ?, ?)`,
    ).run(id, k.site, k.zone ?? null, JSON.stringify(k.kinds), await hashSecret(secret), k.maxUses, now + k.ttlH * 3_600_000, actor.id, now);
    this.#security.audit.record({
      actor: actor.id,
      address: actor.address,
      action: 'claimkey.create',
      target: id,
      outcome: 'ok',
      detail: { site: k.site, zone: k.zone, kinds: k.kinds, maxUses: k.maxUses, ttlH: k.ttlH },
    });
    return { key: this.getKey(id)!, secret: `${id}.${secret}` };
  }

  getKey(id: string): ClaimKey | undefined {
    const r = this.#sql('SELECT * FROM claim_keys WHERE id = ?').get(id) as ClaimKeyRow | undefined;
    return r && toKey(r);
  }

  listKeys(f: { sites?: string[] } = {}): ClaimKey[] {
    return (this.#sql('SELECT * FROM claim_keys ORDER BY created_at DESC').all() as ClaimKeyRow[])
      .map(toKey)
      .filter((k) => !f.sites || f.sites.includes('*') || f.sites.includes(k.site));
  }

  revokeKey(id: string, actor: Actor): ClaimKey {
    if (!this.getKey(id)) throw new NotFoundError(`no provisioning key "${id}"`);
    this.#sql(`UPDATE claim_keys SET state = 'revoked', secret_hash = NULL WHERE id = ?`).run(id);
    this.#security.audit.record({ actor: actor.id, address: actor.address, action: 'claimkey.revoke', target: id, outcome: 'ok' });
    return this.getKey(id)!;
  }

  /**
   * A device claims itself with a provisioning key. Wrong keys are throttled per (key, address) like a
   * failed login and audited; a right key for a kind it does not cover, expired or used up is refused
   * with the reason. The device gets its credentials once; a device id already taken is a conflict.
   */
  async claim(raw: unknown, address: string): Promise<{ device: DeviceRecord; credentials: Credentials }> {
    const c = claimSchema.parse(raw);
    const security = this.#security;
    const dot = c.key.indexOf('.');
    const keyId = dot > 0 ? c.key.slice(0, dot) : '';
    const row = keyId ? (this.#sql('SELECT * FROM claim_keys WHERE id = ?').get(keyId) as ClaimKeyRow | undefined) : undefined;
    // A wrong key is a failed login: throttled per (key, address), audited, held back, 401.
    const verified = await security.checkHttpCredential({
      who: `claim:${keyId || '?'}`,
      actor: c.deviceId,
      address,
      action: 'device.claim',
      target: keyId || '(no key id)',
      message: 'the provisioning key is wrong or revoked',
      detail: { kind: c.kind },
      check: async () => {
        const ok = await security.checks.run(address, () => verifySecret(c.key.slice(dot + 1), row?.secret_hash));
        return row && ok && row.state === 'enabled' ? { ok: true, record: row } : { ok: false, reason: 'the provisioning key is wrong or revoked' };
      },
    });
    // A right key used outside what it allows: refused with the reason (audited, not throttled: the key holder is known).
    const deny = (reason: string): never => {
      security.audit.record({ actor: c.deviceId, action: 'device.claim', target: keyId, outcome: 'denied', address, detail: { reason, kind: c.kind } });
      throw new ForbiddenError(reason);
    };
    const key = toKey(verified);
    if (this.#now() >= key.expiresAt) return deny(`provisioning key ${key.id} expired at ${new Date(key.expiresAt).toISOString()}`);
    if (!key.kinds.includes(c.kind)) return deny(`provisioning key ${key.id} is for ${key.kinds.join(', ')} devices, not ${c.kind}`);
    // The use is taken before provisioning (which waits for a hash): two devices claiming at once cannot both get the last one.
    if (this.#sql('UPDATE claim_keys SET uses = uses + 1 WHERE id = ? AND uses < max_uses').run(key.id).changes === 0)
      return deny(`provisioning key ${key.id} is used up (${key.maxUses} devices)`);
    let out;
    try {
      out = await security.registry.provision(
        { deviceId: c.deviceId, kind: c.kind, site: key.site, ...(key.zone ? { zone: key.zone } : {}), tags: [] },
        { id: `claim:${key.id}`, address },
      );
    } catch (err) {
      this.#sql('UPDATE claim_keys SET uses = uses - 1 WHERE id = ?').run(key.id);
      throw err;
    }
    // A claimed device is no longer pending wherever it had turned up on its own.
    this.#sql(
      `UPDATE pending_devices SET state = 'approved', decided_by = ?, decided_at = ?, device_id = ? WHERE claimed_id = ? AND state = 'pending' AND source NOT LIKE 'bridge:%'`,
    ).run(`claim:${key.id}`, this.#now(), c.deviceId, c.deviceId);
    security.audit.record({
      actor: c.deviceId,
      action: 'device.claim',
      target: key.id,
      outcome: 'ok',
      address,
      detail: { kind: c.kind, site: key.site, zone: key.zone, use: key.uses + 1 },
    });
    return out;
  }
}
