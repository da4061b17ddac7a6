/**
 * Device configuration: validated, versioned desired configs with history and author,
 * delivered signed and retained on `config/desired`; the device's `config/reported` answers
 * are tracked per device as pending / in_sync / failed / drifted. Undelivered configs are
 * re-delivered when the device reconnects, and every retained desired config is republished
 * at start (the broker's retained store is in memory).
 */
import type { Aedes, Client } from 'aedes';
import { z } from 'zod';
import { deviceTopic, getKind } from '../../devices/index.ts';
import { closest, distance } from 'fastest-levenshtein';
import { mergePatch, signDesired } from '../../devices/config-envelope.ts';
import type { DeviceMessage } from '../../edge/message.ts';
import type { Feature, FeatureContext } from '../feature.ts';
import type { PipelineStage } from '../../edge/pipeline.ts';
import { statementCache, type Db } from '../db.ts';
import type { Logger } from '../logger.ts';
import { BulkInvalidError, NotFoundError } from '../errors.ts';
import type { Security } from '../security/index.ts';
import type { Actor, DeviceRecord } from '../security/registry.ts';
import { SiteKeys } from './keys.ts';

export type SyncStatus = 'pending' | 'in_sync' | 'failed' | 'drifted';

export interface ConfigVersion {
  version: number;
  config: Record<string, unknown>;
  author: string;
  createdAt: number;
  rolloutId: string | null;
  note: string | null;
}

export interface SyncState {
  deviceId: string;
  desiredVersion: number;
  reportedVersion: number | null;
  status: SyncStatus;
  reason: string | null;
  updatedAt: number;
}

export const configInput = z
  .object({
    config: z.record(z.string(), z.unknown()).optional().describe('a full configuration (missing fields take their defaults)'),
    patch: z.record(z.string(), z.unknown()).optional().describe('a JSON merge patch (RFC 7386) over the current desired configuration'),
    note: z.string().max(500).optional(),
  })
  .refine((b) => (b.config === undefined) !== (b.patch === undefined), { message: 'give exactly one of "config" or "patch"' });
export type ConfigInput = z.infer<typeof configInput>;

export class Configs implements Feature {
  readonly name = 'configs';
  /** The pipeline stage that tracks what devices report (config/reported, and a reconnect's status). */
  readonly tracker: PipelineStage = { name: 'config-tracker', accept: (m) => this.#track(m) };
  readonly keys: SiteKeys;
  readonly #db: Db;
  readonly #sql: ReturnType<typeof statementCache>;
  readonly #security: Security;
  readonly #log: Logger;
  readonly #now: () => number;
  #broker?: Aedes;

  constructor(db: Db, security: Security, log: Logger, now: () => number = Date.now) {
    this.#db = db;
    this.#sql = statementCache(db);
    this.#security = security;
    this.#log = log;
    this.#now = now;
    this.keys = new SiteKeys(db, security.masterKey, now);
  }

  /**
   * With a durable broker the retained messages outlived the last run, so every desired config is
   * still on its topic; otherwise they are published again now.
   */
  start({ broker, durableBroker }: FeatureContext): void {
    this.#broker = broker;
    if (!durableBroker) {
      const rows = this.#sql('SELECT device_id FROM device_config_state').all() as { device_id: string }[];
      for (const r of rows) this.#deliver(r.device_id);
    }
    broker.on('clientReady', (client: Client) => {
      const s = this.state(client.id);
      if (s && s.status !== 'in_sync') this.#deliver(client.id);
    });
  }

  current(deviceId: string): ConfigVersion | undefined {
    const r = this.#sql('SELECT * FROM device_configs WHERE device_id = ? ORDER BY version DESC LIMIT 1').get(deviceId) as Row | undefined;
    return r && toVersion(r);
  }

  history(deviceId: string): ConfigVersion[] {
    return (this.#sql('SELECT * FROM device_configs WHERE device_id = ? ORDER BY version DESC').all(deviceId) as Row[]).map(toVersion);
  }

  /** Devices per config sync status (pending, in_sync, failed, drifted). */
  statusCounts(): Record<string, number> {
    const rows = this.#sql('SELECT status, COUNT(*) n FROM device_config_state GROUP BY status').all() as { status: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }

  state(deviceId: string): SyncState | undefined {
    const r = this.#sql('SELECT * FROM device_config_state WHERE device_id = ?').get(deviceId) as StateRow | undefined;
    return (
      r && {
        deviceId: r.device_id,
        desiredVersion: r.desired_version,
        reportedVersion: r.reported_version,
        status: r.status,
        reason: r.reason,
        updatedAt: r.updated_at,
      }
    );
  }

  /** The full configuration `input` means for this device, validated against its kind; every problem listed. */
  resolve(device: DeviceRecord, input: ConfigInput): Record<string, unknown> {
    const def = getKind(device.kind)!;
    const base = this.current(device.deviceId)?.config ?? def.schemas.config.parse({});
    const candidate = input.config ?? mergePatch(base, input.patch);
    const r = def.schemas.config.safeParse(candidate);
    if (!r.success) {
      throw new BulkInvalidError(
        r.error.issues.flatMap((i) =>
          i.code === 'unrecognized_keys'
            ? i.keys.map((k) => ({
                path: `${device.deviceId}: ${[...i.path, k].join('.')}`,
                message: unknownSetting(k, knownKeys(def.schemas.config, i.path), device.kind),
              }))
            : [{ path: `${device.deviceId}: ${i.path.join('.') || '(config)'}`, message: i.message }],
        ),
        'nothing was pushed',
        'the configuration',
      );
    }
    return r.data as Record<string, unknown>;
  }

  /** Whether `config` is what the device is already meant to run (its current desired version). */
  unchanged(deviceId: string, config: Record<string, unknown>): boolean {
    const cur = this.current(deviceId);
    return !!cur && stableJson(cur.config) === stableJson(config);
  }

  /** Store a new desired version and deliver it. */
  push(device: DeviceRecord, config: Record<string, unknown>, actor: Actor, opts: { rolloutId?: string; note?: string } = {}): number {
    const now = this.#now();
    const version = (this.current(device.deviceId)?.version ?? 0) + 1;
    this.#db.transaction(() => {
      this.#sql('INSERT INTO device_configs (device_id, version, config, author, created_at, rollout_id, note) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
        device.deviceId,
        version,
        JSON.stringify(config),
        actor.id,
        now,
        opts.rolloutId ?? null,
        opts.note ?? null,
      );
      this.#sql(
        `INSERT INTO device_config_state (device_id, desired_version, reported_version, status, reason, updated_at) VALUES (?, ?, NULL, 'pending', NULL, ?)
        ON CONFLICT (device_id) DO UPDATE SET desired_version = excluded.desired_version, status = 'pending', reason = NULL, updated_at = excluded.updated_at`,
      ).run(device.deviceId, version, now);
      this.#security.audit.record({
        actor: actor.id,
        address: actor.address,
        action: 'config.push',
        target: device.deviceId,
        outcome: 'ok',
        detail: { version, ...(opts.rolloutId ? { rolloutId: opts.rolloutId } : {}), ...(opts.note ? { note: opts.note } : {}) },
      });
    })();
    this.#deliver(device.deviceId);
    return version;
  }

  /**
   * Back to an earlier version's content, as a new version: by default the one before the
   * current; version 0 (or no earlier version) means the kind's defaults.
   */
  rollback(device: DeviceRecord, actor: Actor, toVersion?: number, rolloutId?: string): number {
    const hist = this.history(device.deviceId);
    if (toVersion === 0 || (toVersion === undefined && hist.length < 2)) {
      return this.push(device, getKind(device.kind)!.schemas.config.parse({}) as Record<string, unknown>, actor, { note: 'rollback to defaults', rolloutId });
    }
    const target = toVersion !== undefined ? hist.find((h) => h.version === toVersion) : hist[1];
    if (!target) throw new NotFoundError(`device "${device.deviceId}" has no version ${toVersion}`);
    return this.push(device, target.config, actor, { note: `rollback to version ${target.version}`, rolloutId });
  }

  #deliver(deviceId: string): void {
    const device = this.#security.registry.getDevice(deviceId);
    const c = this.current(deviceId);
    if (!device || !c || !this.#broker) return;
    const k = this.keys.get(device.site);
    const envelope = signDesired(
      { version: c.version, site: device.site, deviceId, issuedAt: new Date(c.createdAt).toISOString(), author: c.author, config: c.config },
      k.privateKey,
      k.keyId,
    );
    this.#broker.publish(
      {
        cmd: 'publish',
        topic: deviceTopic({ site: device.site, kind: device.kind, deviceId }, 'config/desired'),
        payload: Buffer.from(JSON.stringify(envelope)),
        qos: 1,
        retain: true,
        dup: false,
      },
      (err) => err && this.#log.error({ err, deviceId }, 'could not deliver desired config'),
    );
  }

  /** The device's answer on config/reported. */
  stop(): void {}

  #track(m: DeviceMessage): void {
    if (m.channel !== 'config/reported') return;
    const s = this.state(m.deviceId);
    if (!s) return;
    const version = m.data['version'] as number;
    const applied = m.data['status'] === 'applied';
    let status: SyncStatus = s.status;
    let reason: string | null = s.reason;
    if (version === s.desiredVersion) {
      status = applied ? 'in_sync' : 'failed';
      reason = applied ? null : String(m.data['reason'] ?? 'rejected');
    } else if (applied && s.status === 'in_sync') {
      // It was running the desired version and now says it runs another: reset, local change, rollback by hand.
      status = 'drifted';
      reason = `device reports version ${version}, desired is ${s.desiredVersion}`;
      this.#deliver(m.deviceId);
    }
    this.#sql('UPDATE device_config_state SET reported_version = ?, status = ?, reason = ?, updated_at = ? WHERE device_id = ?').run(
      version,
      status,
      reason,
      this.#now(),
      m.deviceId,
    );
  }
}

type Row = { device_id: string; version: number; config: string; author: string; created_at: number; rollout_id: string | null; note: string | null };
type StateRow = { device_id: string; desired_version: number; reported_version: number | null; status: SyncStatus; reason: string | null; updated_at: number };
const toVersion = (r: Row): ConfigVersion => ({
  version: r.version,
  config: JSON.parse(r.config) as Record<string, unknown>,
  author: r.author,
  createdAt: r.created_at,
  rolloutId: r.rollout_id,
  note: r.note,
});

/** JSON with object keys sorted, for comparing configurations. */
function stableJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x,
  );
}

/** The settings a (nested) config object accepts. */
function knownKeys(schema: z.ZodType, path: PropertyKey[]): string[] {
  let s: z.ZodType | undefined = schema;
  for (const p of path) {
    while (s && !(s instanceof z.ZodObject) && 'unwrap' in s && typeof (s as { unwrap?: unknown }).unwrap === 'function')
      s = (s as unknown as { unwrap(): z.ZodType }).unwrap();
    s = s instanceof z.ZodObject ? (s.shape as Record<string, z.ZodType>)[String(p)] : undefined;
  }
  while (s && !(s instanceof z.ZodObject) && 'unwrap' in s && typeof (s as { unwrap?: unknown }).unwrap === 'function')
    s = (s as unknown as { unwrap(): z.ZodType }).unwrap();
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}

function unknownSetting(key: string, known: string[], kind: string): string {
  const near = known.length ? closest(key, known) : undefined;
  const hint =
    near !== undefined && distance(key.toLowerCase(), near.toLowerCase()) <= Math.max(2, Math.floor(near.length / 3)) ? `; did you mean "${near}"?` : '';
  return `unknown setting "${key}" for a ${kind}${hint} (settings: ${known.join(', ')})`;
}
