/**
 * Staged rollouts: a config (or merge patch) for every device matching a selector, pushed
 * in waves — a canary share first, then the rest. A wave is done when each of its devices
 * has answered for its new version, or after `waveTimeoutS` (silence counts as failure).
 * When a wave's failure share passes `failureThreshold`, the rollout stops and every device
 * it changed is rolled back to its previous version.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { idSchema, kindSchema } from '../../devices/index.ts';
import { statementCache, type Db } from '../db.ts';
import type { Logger } from '../logger.ts';
import { NotFoundError } from '../errors.ts';
import type { Actor, DeviceRecord, Registry } from '../security/registry.ts';
import type { Configs, SyncStatus } from './index.ts';

export const rolloutInput = z
  .object({
    selector: z.object({
      site: idSchema,
      kind: kindSchema,
      zone: z.string().optional(),
      tags: z.array(z.string()).optional().describe('devices carrying all of these tags'),
    }),
    config: z.record(z.string(), z.unknown()).optional(),
    patch: z.record(z.string(), z.unknown()).optional(),
    note: z.string().max(500).optional(),
    canaryPercent: z.number().min(1).max(100).default(10),
    failureThreshold: z.number().min(0).max(1).default(0.2).describe('stop and roll back when more than this share of a wave fails'),
    waveTimeoutS: z.number().min(1).max(3600).default(60),
  })
  .refine((b) => (b.config === undefined) !== (b.patch === undefined), { message: 'give exactly one of "config" or "patch"' });
export type RolloutInput = z.input<typeof rolloutInput>;

export interface WaveProgress {
  devices: string[];
  versions: Record<string, number>;
  status: Record<string, SyncStatus | 'timeout'>;
  failed: number;
  done: boolean;
}

export interface Rollout {
  id: string;
  createdBy: string;
  createdAt: number;
  /** unchanged: every matching device already had the configuration; nothing was started or stored. */
  state: 'running' | 'completed' | 'rolled_back' | 'unchanged';
  selector: z.infer<typeof rolloutInput>['selector'];
  total: number;
  waves: WaveProgress[];
  reason: string | null;
  note: string | null;
}

export class Rollouts {
  readonly #db: Db;
  readonly #sql: ReturnType<typeof statementCache>;
  readonly #configs: Configs;
  readonly #registry: Registry;
  readonly #log: Logger;
  readonly #running = new Set<Promise<void>>();
  #stopped = false;

  readonly #now: () => number;

  /** `now`: the clock of rollout ids, creation times and wave deadlines (tests pin it). */
  constructor(db: Db, configs: Configs, registry: Registry, log: Logger, now: () => number = Date.now) {
    this.#now = now;
    this.#db = db;
    this.#sql = statementCache(db);
    this.#configs = configs;
    this.#registry = registry;
    this.#log = log;
  }

  targets(sel: Rollout['selector']): DeviceRecord[] {
    return this.#registry
      .listDevices({ site: sel.site, kind: sel.kind })
      .filter((d) => d.state === 'enabled' && (!sel.zone || d.zone === sel.zone) && (sel.tags ?? []).every((t) => d.tags.includes(t)));
  }

  /** Validate for every target first (all problems at once), then run the waves in the background. */
  start(raw: RolloutInput, actor: Actor): Rollout {
    const input = rolloutInput.parse(raw);
    const matching = this.targets(input.selector);
    if (!matching.length) throw new NotFoundError(`no enabled ${input.selector.kind} matches the selector at site "${input.selector.site}"`);
    const all = new Map(matching.map((d) => [d.deviceId, this.#configs.resolve(d, input)]));
    // Devices that already have this configuration get no new version.
    const targets = matching.filter((d) => !this.#configs.unchanged(d.deviceId, all.get(d.deviceId)!));
    const configs = all;
    if (!targets.length) {
      return {
        id: '',
        createdBy: actor.id,
        createdAt: this.#now(),
        state: 'unchanged',
        selector: input.selector,
        total: 0,
        waves: [],
        reason: `all ${matching.length} matching device(s) already have this configuration`,
        note: input.note ?? null,
      };
    }
    const canary = Math.max(1, Math.ceil((targets.length * input.canaryPercent) / 100));
    const waves = [targets.slice(0, canary), targets.slice(canary)].filter((w) => w.length);
    const r: Rollout = {
      id: `ro-${this.#now().toString(36)}-${randomBytes(3).toString('hex')}`,
      createdBy: actor.id,
      createdAt: this.#now(),
      state: 'running',
      selector: input.selector,
      total: targets.length,
      waves: waves.map((w) => ({ devices: w.map((d) => d.deviceId), versions: {}, status: {}, failed: 0, done: false })),
      reason: null,
      note: input.note ?? null,
    };
    this.#save(r);
    const p = this.#run(r, waves, configs, input, actor).catch((err: unknown) => {
      this.#log.error({ err, rollout: r.id }, 'rollout failed');
      r.state = 'rolled_back';
      r.reason = `internal error: ${(err as Error).message}`;
      this.#save(r);
    });
    this.#running.add(p);
    void p.finally(() => this.#running.delete(p));
    return r;
  }

  async #run(
    r: Rollout,
    waves: DeviceRecord[][],
    configs: Map<string, Record<string, unknown>>,
    input: z.infer<typeof rolloutInput>,
    actor: Actor,
  ): Promise<void> {
    for (const [i, wave] of waves.entries()) {
      const w = r.waves[i]!;
      for (const d of wave) {
        w.versions[d.deviceId] = this.#configs.push(d, configs.get(d.deviceId)!, actor, { rolloutId: r.id, note: input.note });
        w.status[d.deviceId] = 'pending';
      }
      this.#save(r);
      const deadline = this.#now() + input.waveTimeoutS * 1000;
      while (!this.#stopped) {
        for (const d of wave) {
          const s = this.#configs.state(d.deviceId);
          w.status[d.deviceId] = s && s.desiredVersion === w.versions[d.deviceId] ? s.status : 'pending';
        }
        const open = Object.values(w.status).filter((s) => s === 'pending').length;
        if (!open || this.#now() > deadline) break;
        this.#save(r);
        await new Promise((res) => setTimeout(res, 200));
      }
      for (const [id, s] of Object.entries(w.status)) if (s === 'pending') w.status[id] = 'timeout';
      w.failed = Object.values(w.status).filter((s) => s === 'failed' || s === 'timeout').length;
      w.done = true;
      if (w.failed / wave.length > input.failureThreshold) {
        r.reason = `wave ${i + 1}: ${w.failed} of ${wave.length} devices failed (threshold ${Math.round(input.failureThreshold * 100)} %); rolled back`;
        this.#rollbackAll(r, actor);
        return;
      }
      this.#save(r);
    }
    r.state = 'completed';
    this.#save(r);
  }

  #rollbackAll(r: Rollout, actor: Actor): void {
    for (const w of r.waves) {
      for (const id of Object.keys(w.versions)) {
        const d = this.#registry.getDevice(id);
        if (!d) continue;
        try {
          // Back to what it ran before this rollout's version.
          this.#configs.rollback(d, actor, w.versions[id]! - 1, r.id);
        } catch (err) {
          this.#log.warn({ err: (err as Error).message, device: id }, 'nothing to roll back to');
        }
      }
    }
    r.state = 'rolled_back';
    this.#save(r);
  }

  /** Roll a finished rollout back by hand. */
  rollback(id: string, actor: Actor): Rollout {
    const r = this.get(id);
    if (!r) throw new NotFoundError(`rollout ${id} does not exist`);
    r.reason = `rolled back by ${actor.id}`;
    this.#rollbackAll(r, actor);
    return r;
  }

  get(id: string): Rollout | undefined {
    const row = this.#sql('SELECT data FROM rollouts WHERE id = ?').get(id) as { data: string } | undefined;
    return row && (JSON.parse(row.data) as Rollout);
  }

  list(limit = 50): Rollout[] {
    return (this.#sql('SELECT data FROM rollouts ORDER BY created_at DESC LIMIT ?').all(limit) as { data: string }[]).map((r) => JSON.parse(r.data) as Rollout);
  }

  #save(r: Rollout): void {
    this.#sql(
      'INSERT INTO rollouts (id, created_by, created_at, state, data) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state, data = excluded.data',
    ).run(r.id, r.createdBy, r.createdAt, r.state, JSON.stringify(r));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.allSettled([...this.#running]);
  }
}
