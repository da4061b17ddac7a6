/**
 * Device registry and principals in the embedded database. Secrets are generated
 * here, returned exactly once, and stored as scrypt hashes; every change is audited.
 */
import { createHash } from 'node:crypto';
import { parse as parseCsv } from 'csv-parse/sync';
import { z } from 'zod';
import { idSchema, kindSchema } from '../../devices/index.ts';
import type { AuditLog } from './audit.ts';
import { BulkInvalidError, ConflictError, NotFoundError } from '../errors.ts';
import { hashSecret, newSecret, verifySecret } from './secrets.ts';
import { statementCache, type Db } from '../db.ts';

/** A vendor's name for a device: printable, no MQTT wildcards, at most 128 characters. */
export const externalIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[^#+\u0000-\u001f]+$/, 'must be printable, without MQTT wildcards (# +)');

export const provisionSchema = z.object({
  deviceId: idSchema,
  kind: kindSchema,
  site: idSchema,
  zone: z.string().min(1).max(64).optional(),
  tags: z.array(z.string().min(1).max(32)).max(20).default([]),
  /** The vendor's name for the device, unique in its site: a zigbee2mqtt friendly name, a serial (devices behind a bridge). */
  externalId: externalIdSchema.optional(),
});
export type ProvisionInput = z.input<typeof provisionSchema>;

export const roles = ['consumer', 'engineer', 'admin'] as const;
export type Role = (typeof roles)[number];

export const principalSchema = z.object({
  id: idSchema,
  role: z.enum(roles),
  /** Sites this principal may see; `*` for all. */
  sites: z.array(z.union([idSchema, z.literal('*')])).min(1),
});
export type PrincipalInput = z.input<typeof principalSchema>;

export interface DeviceRecord {
  deviceId: string;
  kind: string;
  site: string;
  zone: string | null;
  tags: string[];
  externalId: string | null;
  state: 'enabled' | 'disabled' | 'revoked';
  createdAt: number;
  updatedAt: number;
  lastSeen: number | null;
  lastAddress: string | null;
}

/**
 * A bridge speaks for many devices of one site: a zigbee2mqtt instance publishing `<baseTopic>/<friendly name>`
 * for every device of its Zigbee network. It may publish and subscribe under its base topic only, and what it
 * says about a device counts only for devices of its site that an admin tagged for its adapter.
 */
export const bridgeSchema = z.object({
  id: idSchema,
  site: idSchema,
  adapter: z.string().min(1).max(32),
  baseTopic: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/, 'must be topic levels of A-Z a-z 0-9 _ - (no wildcards, no leading "$" or "/")')
    .refine((t) => !t.startsWith('vigil'), "must not be under Vigil's own vigil/ namespace"),
});
export type BridgeInput = z.input<typeof bridgeSchema>;

export interface Bridge {
  id: string;
  site: string;
  adapter: string;
  baseTopic: string;
  state: 'enabled' | 'revoked';
  createdAt: number;
  lastSeen: number | null;
  lastAddress: string | null;
}
type BridgeRow = {
  id: string;
  site: string;
  adapter: string;
  base_topic: string;
  secret_hash: string | null;
  state: Bridge['state'];
  created_at: number;
  last_seen: number | null;
  last_address: string | null;
};
const toBridge = (r: BridgeRow): Bridge => ({
  id: r.id,
  site: r.site,
  adapter: r.adapter,
  baseTopic: r.base_topic,
  state: r.state,
  createdAt: r.created_at,
  lastSeen: r.last_seen,
  lastAddress: r.last_address,
});

export interface Principal {
  id: string;
  role: Role;
  sites: string[];
  state: 'enabled' | 'revoked';
  createdAt: number;
}

export interface Credentials {
  username: string;
  password: string;
}

/** Who is acting, for the audit log. */
export interface Actor {
  id: string;
  address?: string;
}

type DeviceRow = {
  device_id: string;
  kind: string;
  site: string;
  zone: string | null;
  tags: string;
  external_id: string | null;
  secret_hash: string | null;
  state: DeviceRecord['state'];
  created_at: number;
  updated_at: number;
  last_seen: number | null;
  last_address: string | null;
};
type PrincipalRow = { id: string; role: Role; sites: string; secret_hash: string | null; state: Principal['state']; created_at: number };

const toDevice = (r: DeviceRow): DeviceRecord => ({
  deviceId: r.device_id,
  kind: r.kind,
  site: r.site,
  zone: r.zone,
  tags: JSON.parse(r.tags) as string[],
  externalId: r.external_id,
  state: r.state,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  lastSeen: r.last_seen,
  lastAddress: r.last_address,
});
const toPrincipal = (r: PrincipalRow): Principal => ({
  id: r.id,
  role: r.role,
  sites: JSON.parse(r.sites) as string[],
  state: r.state,
  createdAt: r.created_at,
});

export type VerifyResult<T> = { ok: true; record: T } | { ok: false; reason: 'unknown' | 'bad_secret' | 'revoked' | 'disabled' };

export class Registry {
  readonly #db: Db;
  readonly #sql: ReturnType<typeof statementCache>;
  readonly #audit: AuditLog;
  readonly #now: () => number;
  /** sha256(token) → the principal and the hash the token matched, for API calls: scrypt per request would cost ~35 ms each. */
  readonly #tokenCache = new Map<string, { id: string; hash: string }>();

  constructor(db: Db, audit: AuditLog, now: () => number = Date.now) {
    this.#db = db;
    this.#sql = statementCache(db);
    this.#audit = audit;
    this.#now = now;
  }

  // ── devices ──────────────────────────────────────────────────────────

  /**
   * Device records by id, read once and kept: the pipeline asks for a device's zone and kind on every
   * message. Every write to the devices table below goes through #changed(), which drops the entry.
   */
  readonly #devices = new Map<string, DeviceRecord | undefined>();

  /** Every device record, ordered by site, kind and id: read once after any change (alerts, dispatch and evidence list a site's devices on every alert). */
  #list: DeviceRecord[] | undefined;

  /**
   * Ids looked up and not registered (anonymous development mode, pending devices, a bridge's unknown
   * names), so the per-message and per-tick lookups do not query SQLite again and again. Bounded:
   * anyone can send an id, so at 100,000 (a few MiB) it starts over rather than grow. (At 10,000 a
   * development fleet of 10,000 anonymous devices cleared it on every fleet scan: 21 % CPU idle.)
   */
  readonly #unknown = new Set<string>();

  #changed(id: string): void {
    this.#devices.delete(id);
    this.#unknown.delete(id);
    this.#list = undefined;
  }

  getDevice(id: string): DeviceRecord | undefined {
    if (this.#devices.has(id)) return this.#devices.get(id);
    if (this.#unknown.has(id)) return undefined;
    const r = this.#sql('SELECT * FROM devices WHERE device_id = ?').get(id) as DeviceRow | undefined;
    const d = r && toDevice(r);
    if (d) this.#devices.set(id, d);
    else {
      if (this.#unknown.size >= 100_000) this.#unknown.clear();
      this.#unknown.add(id);
    }
    return d;
  }

  /** The device a vendor names `externalId` in `site` (a bridge's friendly name), or the device of that id in the site. */
  findExternal(site: string, externalId: string): DeviceRecord | undefined {
    const r = this.#sql('SELECT device_id FROM devices WHERE site = ? AND external_id = ?').get(site, externalId) as { device_id: string } | undefined;
    if (r) return this.getDevice(r.device_id);
    return undefined;
  }

  listDevices(f: { site?: string; kind?: string; sites?: string[] } = {}): DeviceRecord[] {
    this.#list ??= (this.#sql('SELECT * FROM devices ORDER BY site, kind, device_id').all() as DeviceRow[]).map(toDevice);
    return this.#list.filter(
      (d) => (!f.site || d.site === f.site) && (!f.kind || d.kind === f.kind) && (!f.sites || f.sites.includes('*') || f.sites.includes(d.site)),
    );
  }

  async provision(input: ProvisionInput, actor: Actor): Promise<{ device: DeviceRecord; credentials: Credentials }> {
    const [out] = await this.provisionMany([input], actor);
    return out!;
  }

  /** All or nothing: a file with one bad line provisions nothing and lists every problem. */
  async provisionMany(inputs: unknown[], actor: Actor): Promise<{ device: DeviceRecord; credentials: Credentials }[]> {
    const problems: { path: string; message: string }[] = [];
    const valid: z.output<typeof provisionSchema>[] = [];
    const seen = new Set<string>();
    const seenExternal = new Set<string>();
    inputs.forEach((raw, i) => {
      const r = provisionSchema.safeParse(raw);
      if (!r.success) {
        for (const iss of r.error.issues) problems.push({ path: `[${i}].${iss.path.join('.')}`, message: iss.message });
        return;
      }
      const id = r.data.deviceId;
      if (seen.has(id)) problems.push({ path: `[${i}].deviceId`, message: `"${id}" appears twice in this file` });
      else if (this.getDevice(id))
        problems.push({ path: `[${i}].deviceId`, message: `device "${id}" is already provisioned (rotate its credentials instead)` });
      else if (this.getPrincipal(id) || this.getBridge(id)) problems.push({ path: `[${i}].deviceId`, message: `"${id}" is the id of a principal or bridge` });
      const ext = r.data.externalId;
      if (ext !== undefined) {
        const key = `${r.data.site}/${ext}`;
        if (seenExternal.has(key) || this.findExternal(r.data.site, ext))
          problems.push({ path: `[${i}].externalId`, message: `"${ext}" already names a device of site "${r.data.site}"` });
        seenExternal.add(key);
      }
      seen.add(id);
      valid.push(r.data);
    });
    if (inputs.length === 0) problems.push({ path: '', message: 'no devices in the file' });
    if (problems.length) {
      if (inputs.length === 1 && problems.length === 1 && problems[0]!.message.includes('already provisioned')) throw new ConflictError(problems[0]!.message);
      throw new BulkInvalidError(problems);
    }
    const secrets = valid.map(() => newSecret());
    const hashes = await Promise.all(secrets.map(hashSecret));
    const now = this.#now();
    const insert = this.#sql(
      `INSERT INTO devices (device_id, kind, site, zone, tags, external_id, secret_hash, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'enabled', ?, ?)`,
    );
    this.#db.transaction(() => {
      valid.forEach((d, i) => {
        insert.run(d.deviceId, d.kind, d.site, d.zone ?? null, JSON.stringify(d.tags), d.externalId ?? null, hashes[i], now, now);
        this.#changed(d.deviceId);
        this.#audit.record({
          actor: actor.id,
          address: actor.address,
          action: 'device.provision',
          target: d.deviceId,
          outcome: 'ok',
          detail: { kind: d.kind, site: d.site, zone: d.zone, bulk: valid.length > 1, ...(d.externalId ? { externalId: d.externalId } : {}) },
        });
      });
    })();
    return valid.map((d, i) => ({ device: this.getDevice(d.deviceId)!, credentials: { username: d.deviceId, password: secrets[i]! } }));
  }

  /** New secret; the old one stops working at once. Reinstates a revoked device. */
  async rotateDevice(id: string, actor: Actor): Promise<Credentials> {
    const d = this.getDevice(id);
    if (!d) throw new NotFoundError(`device "${id}" is not provisioned`);
    const secret = newSecret();
    const hash = await hashSecret(secret);
    this.#sql(`UPDATE devices SET secret_hash = ?, state = 'enabled', updated_at = ? WHERE device_id = ?`).run(hash, this.#now(), id);
    this.#changed(id);
    this.#audit.record({ actor: actor.id, address: actor.address, action: 'device.rotate', target: id, outcome: 'ok', detail: { previousState: d.state } });
    return { username: id, password: secret };
  }

  revokeDevice(id: string, actor: Actor): DeviceRecord {
    const d = this.getDevice(id);
    if (!d) throw new NotFoundError(`device "${id}" is not provisioned`);
    this.#sql(`UPDATE devices SET secret_hash = NULL, state = 'revoked', updated_at = ? WHERE device_id = ?`).run(this.#now(), id);
    this.#changed(id);
    this.#audit.record({ actor: actor.id, address: actor.address, action: 'device.revoke', target: id, outcome: 'ok' });
    return this.getDevice(id)!;
  }

  async verifyDevice(id: string, secret: string | undefined): Promise<VerifyResult<DeviceRecord>> {
    const r = this.#sql('SELECT * FROM devices WHERE device_id = ?').get(id) as DeviceRow | undefined;
    if (secret === undefined) return r ? this.#deviceState(r) : { ok: false, reason: 'unknown' };
    const match = await verifySecret(secret, r?.secret_hash);
    if (!r) return { ok: false, reason: 'unknown' };
    if (r.state !== 'enabled') return { ok: false, reason: r.state };
    return match ? { ok: true, record: toDevice(r) } : { ok: false, reason: 'bad_secret' };
  }

  /** For certificate logins, where the TLS layer already proved the identity. */
  #deviceState(r: DeviceRow): VerifyResult<DeviceRecord> {
    return r.state === 'enabled' ? { ok: true, record: toDevice(r) } : { ok: false, reason: r.state };
  }

  touchDevice(id: string, address: string | undefined): void {
    this.#sql('UPDATE devices SET last_seen = ?, last_address = ? WHERE device_id = ?').run(this.#now(), address ?? null, id);
    this.#changed(id);
  }

  // ── bridges ──────────────────────────────────────────────────────────

  getBridge(id: string): Bridge | undefined {
    const r = this.#sql('SELECT * FROM bridges WHERE id = ?').get(id) as BridgeRow | undefined;
    return r && toBridge(r);
  }

  listBridges(f: { sites?: string[] } = {}): Bridge[] {
    return (this.#sql('SELECT * FROM bridges ORDER BY site, id').all() as BridgeRow[])
      .map(toBridge)
      .filter((b) => !f.sites || f.sites.includes('*') || f.sites.includes(b.site));
  }

  /** A bridge (a zigbee2mqtt instance) of one site: its MQTT credentials, returned once. */
  async addBridge(input: BridgeInput, actor: Actor): Promise<{ bridge: Bridge; credentials: Credentials }> {
    const b = bridgeSchema.parse(input);
    if (this.getBridge(b.id)) throw new ConflictError(`bridge "${b.id}" exists (rotate its credentials instead)`);
    if (this.getDevice(b.id) || this.getPrincipal(b.id)) throw new ConflictError(`"${b.id}" is the id of a device or principal`);
    const secret = newSecret();
    const now = this.#now();
    this.#sql(`INSERT INTO bridges (id, site, adapter, base_topic, secret_hash, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'enabled', ?, ?)`).run(
      b.id,
      b.site,
      b.adapter,
      b.baseTopic,
      await hashSecret(secret),
      now,
      now,
    );
    this.#audit.record({
      actor: actor.id,
      address: actor.address,
      action: 'bridge.add',
      target: b.id,
      outcome: 'ok',
      detail: { site: b.site, adapter: b.adapter, baseTopic: b.baseTopic },
    });
    return { bridge: this.getBridge(b.id)!, credentials: { username: b.id, password: secret } };
  }

  async rotateBridge(id: string, actor: Actor): Promise<Credentials> {
    if (!this.getBridge(id)) throw new NotFoundError(`bridge "${id}" does not exist`);
    const secret = newSecret();
    this.#sql(`UPDATE bridges SET secret_hash = ?, state = 'enabled', updated_at = ? WHERE id = ?`).run(await hashSecret(secret), this.#now(), id);
    this.#audit.record({ actor: actor.id, address: actor.address, action: 'bridge.rotate', target: id, outcome: 'ok' });
    return { username: id, password: secret };
  }

  revokeBridge(id: string, actor: Actor): Bridge {
    if (!this.getBridge(id)) throw new NotFoundError(`bridge "${id}" does not exist`);
    this.#revokeRow('bridges', id, actor, 'bridge.revoke');
    return this.getBridge(id)!;
  }

  verifyBridge(id: string, secret: string): Promise<VerifyResult<Bridge>> {
    return this.#verifySecretOf('bridges', id, secret, toBridge);
  }

  /**
   * A principal's or bridge's secret against its row: the scrypt check runs whether or not the id exists (no
   * timing tells which ids do); a revoked row never passes.
   */
  async #verifySecretOf<R extends { secret_hash: string | null; state: string }, T>(
    table: 'principals' | 'bridges',
    id: string,
    secret: string,
    to: (r: R) => T,
  ): Promise<VerifyResult<T>> {
    const r = this.#sql(`SELECT * FROM ${table} WHERE id = ?`).get(id) as R | undefined;
    const match = await verifySecret(secret, r?.secret_hash);
    if (!r) return { ok: false, reason: 'unknown' };
    if (r.state !== 'enabled') return { ok: false, reason: 'revoked' };
    return match ? { ok: true, record: to(r) } : { ok: false, reason: 'bad_secret' };
  }

  /** Revoke a principal or bridge: its secret is gone at once; audited. */
  #revokeRow(table: 'principals' | 'bridges', id: string, actor: Actor, action: string): void {
    this.#sql(`UPDATE ${table} SET secret_hash = NULL, state = 'revoked', updated_at = ? WHERE id = ?`).run(this.#now(), id);
    this.#audit.record({ actor: actor.id, address: actor.address, action, target: id, outcome: 'ok' });
  }

  touchBridge(id: string, address: string | undefined): void {
    this.#sql('UPDATE bridges SET last_seen = ?, last_address = ? WHERE id = ?').run(this.#now(), address ?? null, id);
  }

  // ── principals ───────────────────────────────────────────────────────

  getPrincipal(id: string): Principal | undefined {
    const r = this.#sql('SELECT * FROM principals WHERE id = ?').get(id) as PrincipalRow | undefined;
    return r && toPrincipal(r);
  }

  listPrincipals(): Principal[] {
    return (this.#sql('SELECT * FROM principals ORDER BY id').all() as PrincipalRow[]).map(toPrincipal);
  }

  /** Returns the bearer token `<id>.<secret>` once; the secret alone is the MQTT password. */
  async addPrincipal(input: PrincipalInput, actor: Actor): Promise<{ principal: Principal; token: string; credentials: Credentials }> {
    const p = principalSchema.parse(input);
    if (this.getPrincipal(p.id)) throw new ConflictError(`principal "${p.id}" exists (rotate its token instead)`);
    if (this.getDevice(p.id) || this.getBridge(p.id)) throw new ConflictError(`"${p.id}" is the id of a device or bridge`);
    const secret = newSecret();
    const now = this.#now();
    this.#sql(`INSERT INTO principals (id, role, sites, secret_hash, state, created_at, updated_at) VALUES (?, ?, ?, ?, 'enabled', ?, ?)`).run(
      p.id,
      p.role,
      JSON.stringify(p.sites),
      await hashSecret(secret),
      now,
      now,
    );
    this.#audit.record({
      actor: actor.id,
      address: actor.address,
      action: 'principal.add',
      target: p.id,
      outcome: 'ok',
      detail: { role: p.role, sites: p.sites },
    });
    return { principal: this.getPrincipal(p.id)!, token: `${p.id}.${secret}`, credentials: { username: p.id, password: secret } };
  }

  async rotatePrincipal(id: string, actor: Actor): Promise<{ token: string; credentials: Credentials }> {
    if (!this.getPrincipal(id)) throw new NotFoundError(`principal "${id}" does not exist`);
    const secret = newSecret();
    this.#sql(`UPDATE principals SET secret_hash = ?, state = 'enabled', updated_at = ? WHERE id = ?`).run(await hashSecret(secret), this.#now(), id);
    this.#tokenCache.clear();
    this.#audit.record({ actor: actor.id, address: actor.address, action: 'principal.rotate', target: id, outcome: 'ok' });
    return { token: `${id}.${secret}`, credentials: { username: id, password: secret } };
  }

  revokePrincipal(id: string, actor: Actor): Principal {
    if (!this.getPrincipal(id)) throw new NotFoundError(`principal "${id}" does not exist`);
    this.#revokeRow('principals', id, actor, 'principal.revoke');
    this.#tokenCache.clear();
    return this.getPrincipal(id)!;
  }

  verifyPrincipal(id: string, secret: string): Promise<VerifyResult<Principal>> {
    return this.#verifySecretOf('principals', id, secret, toPrincipal);
  }

  /**
   * Bearer token `<id>.<secret>`. A successful check is remembered (sha256 of the token → the hash it
   * matched) so a request costs a primary-key read instead of a scrypt; the read also sees a revocation
   * or rotation made by any process (the admin CLI included) at the very next request.
   * `gate` runs the expensive check (the fair queue of secret checks).
   */
  async verifyToken(token: string, gate: <T>(check: () => Promise<T>) => Promise<T> = (c) => c()): Promise<VerifyResult<Principal>> {
    const key = createHash('sha256').update(token).digest('base64url');
    const hit = this.#tokenCache.get(key);
    if (hit) {
      const r = this.#sql('SELECT * FROM principals WHERE id = ?').get(hit.id) as PrincipalRow | undefined;
      if (r && r.state === 'enabled' && r.secret_hash === hit.hash) return { ok: true, record: toPrincipal(r) };
      this.#tokenCache.delete(key);
    }
    const dot = token.indexOf('.');
    if (dot <= 0) return { ok: false, reason: 'unknown' };
    const id = token.slice(0, dot);
    const r = await gate(() => this.verifyPrincipal(id, token.slice(dot + 1)));
    if (r.ok) {
      const row = this.#sql('SELECT secret_hash FROM principals WHERE id = ?').get(id) as { secret_hash: string } | undefined;
      if (this.#tokenCache.size > 1000) this.#tokenCache.clear();
      if (row) this.#tokenCache.set(key, { id, hash: row.secret_hash });
    }
    return r;
  }
}

/** A bulk provisioning file: a JSON array, or CSV with a header `deviceId,kind,site,zone,tags[,externalId]` (tags separated by `;`). */
export function parseBulk(text: string, format: 'json' | 'csv'): unknown[] {
  if (format === 'json') {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new BulkInvalidError([{ path: '', message: `not valid JSON: ${(err as Error).message}` }]);
    }
    const list = Array.isArray(data) ? data : (data as { devices?: unknown })?.devices;
    if (!Array.isArray(list)) throw new BulkInvalidError([{ path: '', message: 'expected a JSON array of devices (or {"devices": [...]})' }]);
    return list;
  }
  let rows: Record<string, string>[];
  try {
    rows = parseCsv(text, { columns: true, skip_empty_lines: true, trim: true, comment: '#' }) as Record<string, string>[];
  } catch (err) {
    throw new BulkInvalidError([{ path: '', message: `not valid CSV: ${(err as Error).message}` }]);
  }
  return rows.map((r) => ({
    deviceId: r['deviceId'] ?? r['device_id'] ?? r['id'],
    kind: r['kind'],
    site: r['site'],
    ...(r['zone'] ? { zone: r['zone'] } : {}),
    ...(r['externalId'] || r['external_id'] ? { externalId: r['externalId'] ?? r['external_id'] } : {}),
    tags: r['tags']
      ? r['tags']
          .split(';')
          .map((t) => t.trim())
          .filter(Boolean)
      : [],
  }));
}
