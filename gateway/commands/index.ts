/**
 * Commands feature: a person, a service or an automation asks a device to do something (unlock a
 * door, take a snapshot, start recording). A command is declared by the device's kind
 * (devices/kinds/<kind>: `commands`, with its parameters and who may send it), validated, audited
 * with who sent it, persisted, and delivered on the device's own topic
 *
 *   vigil/v1/{site}/{kind}/{deviceId}/cmd        {"id","name","params","deadline"}   (QoS 1)
 *   vigil/v1/{site}/{kind}/{deviceId}/cmd/reply  {"id","status":"ok"|"error"|"rejected","data"?,"error"?}
 *
 * The id makes execution at-most-once: a device answers a repeated id with its first answer and does
 * not act again. A device that does not answer within the command's timeout leaves it `timeout`. To an
 * offline device a command is refused (409), or, with `ttlS` > 0, queued and delivered when the device
 * connects, or `expired` when it does not come back in time.
 */
import type { Aedes } from 'aedes';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { deviceTopic, getKind, registeredKinds, type CommandSpec } from '../../devices/index.ts';
import type { DeviceStates } from '../../edge/device-state.ts';
import { Listeners } from '../../edge/listeners.ts';
import type { DeviceMessage } from '../../edge/message.ts';
import type { PipelineStage } from '../../edge/pipeline.ts';
import type { Db } from '../db.ts';
import { statementCache } from '../db.ts';
import {
  CommandNotFoundError,
  CommandRefusedError,
  DeviceNotFoundError,
  DeviceOfflineError,
  FieldsInvalidError,
  ForbiddenError,
  UnknownCommandError,
} from '../errors.ts';
import type { Feature, FeatureContext } from '../feature.ts';
import type { Logger } from '../logger.ts';
import type { Security } from '../security/index.ts';
import { grants } from '../security/identity.ts';

export const commandStates = ['queued', 'sent', 'ok', 'error', 'rejected', 'timeout', 'expired'] as const;
export type CommandState = (typeof commandStates)[number];
const terminal = new Set<CommandState>(['ok', 'error', 'rejected', 'timeout', 'expired']);

export interface CommandRecord {
  id: string;
  deviceId: string;
  site: string;
  kind: string;
  name: string;
  params: Record<string, unknown>;
  actor: string;
  via: string;
  state: CommandState;
  createdAt: number;
  sentAt: number | null;
  /** Until when the device may answer (sent), or be delivered to (queued). */
  deadline: number;
  answeredAt: number | null;
  reply: { data?: Record<string, unknown>; error?: string } | null;
}

export const sendSchema = z.object({
  name: z.string().min(1).max(64),
  params: z.record(z.string(), z.unknown()).optional(),
  ttlS: z.number().int().min(0).max(86_400).default(0).describe('keep it for an offline device this long (0: refuse if offline)'),
});
export type SendInput = z.input<typeof sendSchema>;

export interface Sender {
  id: string;
  role: 'consumer' | 'engineer' | 'admin';
  sites: string[];
  address?: string;
  via: string;
}

export interface CommandsDeps {
  db: Db;
  security: Security;
  states: DeviceStates;
  /** Whether an alert of this type is open on the device (a command's `refusedDuring`). */
  alertOpen: (deviceId: string, type: string) => boolean;
  /** Commands for devices behind a bridge adapter (gateway/adapters): undefined for a native device. */
  adapted?: (c: { deviceId: string; name: string; params: Record<string, unknown> }) => { ok: true; note: string } | { ok: false; message: string } | undefined;
  log: Logger;
  now?: () => number;
}

type Row = {
  id: string;
  device_id: string;
  site: string;
  kind: string;
  name: string;
  params: string;
  actor: string;
  via: string;
  state: CommandState;
  created_at: number;
  sent_at: number | null;
  deadline: number;
  answered_at: number | null;
  reply: string | null;
};

const toRecord = (r: Row): CommandRecord => ({
  id: r.id,
  deviceId: r.device_id,
  site: r.site,
  kind: r.kind,
  name: r.name,
  params: JSON.parse(r.params) as Record<string, unknown>,
  actor: r.actor,
  via: r.via,
  state: r.state,
  createdAt: r.created_at,
  sentAt: r.sent_at,
  deadline: r.deadline,
  answeredAt: r.answered_at,
  reply: r.reply ? (JSON.parse(r.reply) as CommandRecord['reply']) : null,
});

export class Commands implements Feature {
  readonly name = 'commands';
  /** The pipeline stage that takes the devices' answers (`cmd/reply`). */
  readonly tracker: PipelineStage = { name: 'command-replies', accept: (m) => this.#reply(m) };
  /** Every command that reached a final state (answered, timed out, expired). */
  readonly settled = new Listeners<[c: CommandRecord]>();
  readonly #d: CommandsDeps;
  readonly #sql: ReturnType<typeof statementCache>;
  readonly #now: () => number;
  #broker?: Aedes;
  #timer?: NodeJS.Timeout;

  constructor(deps: CommandsDeps) {
    this.#d = deps;
    this.#sql = statementCache(deps.db);
    this.#now = deps.now ?? Date.now;
  }

  start({ broker }: FeatureContext): void {
    this.#broker = broker;
    // A device that (re)subscribes to its command topic gets what was queued for it and has not expired.
    broker.on('subscribe', (subs, client) => {
      if (!client) return;
      const d = this.#d.states.get(client.id);
      if (d && subs.some((s) => s.topic === deviceTopic({ site: d.site, kind: d.kind, deviceId: client.id }, 'cmd'))) this.#flush(client.id);
    });
    this.#timer = setInterval(() => this.tick(), 1000);
    this.#timer.unref();
  }

  drain(): void {
    clearInterval(this.#timer);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  get(id: string): CommandRecord | undefined {
    const r = this.#sql('SELECT * FROM device_commands WHERE id = ?').get(id) as Row | undefined;
    return r && toRecord(r);
  }

  /** A command as `who` may see it: another site's is not found. */
  visible(id: string, who: { sites: string[] }): CommandRecord {
    const c = this.get(id);
    if (!c || !grants(who.sites, c.site)) throw new CommandNotFoundError(id);
    return c;
  }

  list(deviceId: string, limit = 50): CommandRecord[] {
    return (this.#sql('SELECT * FROM device_commands WHERE device_id = ? ORDER BY created_at DESC, id DESC LIMIT ?').all(deviceId, limit) as Row[]).map(
      toRecord,
    );
  }

  /** Validate, authorise, audit, persist and deliver (or queue) a command. Throws a catalogue error when refused. */
  send(deviceId: string, input: SendInput, who: Sender): CommandRecord {
    const { security } = this.#d;
    const refuse = (err: Error, detail: Record<string, unknown> = {}): never => {
      security.audit.record({
        actor: who.id,
        action: 'device.command',
        target: deviceId,
        outcome: 'denied',
        address: who.address,
        detail: { via: who.via, name: input.name, reason: err.message, ...detail },
      });
      throw err;
    };
    const device = security.registry.getDevice(deviceId);
    if (!device || device.state !== 'enabled' || !grants(who.sites, device.site)) return refuse(new DeviceNotFoundError(deviceId));
    const def = getKind(device.kind)!;
    const spec: (CommandSpec & { params: z.ZodObject }) | undefined = Object.hasOwn(def.commands, input.name) ? def.commands[input.name] : undefined;
    if (!spec) {
      const known = Object.keys(def.commands);
      return refuse(new UnknownCommandError(`a ${device.kind} has no command "${input.name}"; it has: ${known.length ? known.join(', ') : 'none'}`));
    }
    const roles = spec.roles ?? ['engineer', 'admin'];
    if (!roles.includes(who.role)) return refuse(new ForbiddenError(`"${input.name}" needs the role ${roles.join(' or ')}; ${who.id} is ${who.role}`));
    const parsed = spec.params.safeParse(input.params ?? {});
    if (!parsed.success) {
      const details = parsed.error.issues.map((i) => ({ path: `params.${i.path.join('.')}`, message: i.message }));
      return refuse(new FieldsInvalidError(`invalid parameters for "${input.name}": ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`, details));
    }
    const params = parsed.data as Record<string, unknown>;
    if (spec.refusedDuring && params['force'] !== true && this.#d.alertOpen(deviceId, spec.refusedDuring)) {
      return refuse(
        new CommandRefusedError(`"${input.name}" is refused while ${deviceId} has an open ${spec.refusedDuring} alert; send force: true to do it anyway`),
      );
    }
    const ttlS = input.ttlS ?? 0;
    const online = !!this.#d.states.get(deviceId)?.connected;
    if (!online && ttlS === 0) return refuse(new DeviceOfflineError(`${deviceId} is offline; send with ttlS > 0 to deliver it when it connects`));
    const now = this.#now();
    const id = `cmd-${now.toString(36)}-${randomBytes(4).toString('hex')}`;
    this.#sql(
      `INSERT INTO device_commands (id, device_id, site, kind, name, params, actor, via, state, created_at, deadline) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?)`,
    ).run(id, deviceId, device.site, device.kind, input.name, JSON.stringify(params), who.id, who.via, now, now + ttlS * 1000);
    security.audit.record({
      actor: who.id,
      action: 'device.command',
      target: deviceId,
      outcome: 'ok',
      address: who.address,
      detail: { via: who.via, id, name: input.name, params, ...(online ? {} : { queuedForS: ttlS }) },
    });
    if (online) this.#deliver(id);
    return this.get(id)!;
  }

  /**
   * Automation (devices/kinds/<kind>: `onAlert`): an alert raised on a device whose kind says so sends it a
   * command, as the gateway, kept for a minute if the device is offline. A refusal is logged, never thrown.
   */
  alertRaised(a: { deviceId: string; kind: string; type: string; id: string }): CommandRecord | undefined {
    const act = getKind(a.kind)?.onAlert[a.type];
    if (!act) return undefined;
    try {
      return this.send(a.deviceId, { name: act.command, params: act.params, ttlS: 60 }, { id: 'gateway', role: 'admin', sites: ['*'], via: `alert:${a.id}` });
    } catch (err) {
      this.#d.log.warn({ device: a.deviceId, alert: a.id, command: act.command, err: (err as Error).message }, 'automatic command not sent');
      return undefined;
    }
  }

  /** Resolves once the command is settled, or with its state as it is after `ms`. */
  async wait(id: string, ms: number): Promise<CommandRecord> {
    const settledNow = () => {
      const c = this.get(id)!;
      return terminal.has(c.state) ? c : undefined;
    };
    const done = settledNow();
    if (done || ms <= 0) return done ?? this.get(id)!;
    return new Promise((resolve) => {
      const off = this.settled.on((c) => {
        if (c.id !== id) return;
        clearTimeout(t);
        off();
        resolve(c);
      });
      const t = setTimeout(() => {
        off();
        resolve(this.get(id)!);
      }, ms);
    });
  }

  #deliver(id: string): void {
    const c = this.get(id)!;
    const spec = getKind(c.kind)?.commands[c.name];
    const now = this.#now();
    const deadline = now + (spec?.timeoutS ?? 10) * 1000;
    this.#sql(`UPDATE device_commands SET state = 'sent', sent_at = ?, deadline = ? WHERE id = ?`).run(now, deadline, id);
    // A device behind a bridge (zigbee2mqtt): its adapter says what the command is on the vendor's side, or why it cannot be.
    const adapted = this.#d.adapted?.({ deviceId: c.deviceId, name: c.name, params: c.params });
    if (adapted) {
      this.#settle(id, adapted.ok ? 'ok' : 'rejected', adapted.ok ? { data: { via: 'adapter', note: adapted.note } } : { error: adapted.message }, now);
      return;
    }
    const payload = Buffer.from(JSON.stringify({ id, name: c.name, params: c.params, deadline: new Date(deadline).toISOString() }));
    this.#broker?.publish(
      { cmd: 'publish', topic: deviceTopic({ site: c.site, kind: c.kind, deviceId: c.deviceId }, 'cmd'), payload, qos: 1, retain: false, dup: false },
      () => {},
    );
  }

  #flush(deviceId: string): void {
    const queued = this.#sql(`SELECT id FROM device_commands WHERE device_id = ? AND state = 'queued' AND deadline >= ? ORDER BY created_at`).all(
      deviceId,
      this.#now(),
    ) as {
      id: string;
    }[];
    for (const q of queued) this.#deliver(q.id);
  }

  #settle(id: string, state: CommandState, reply: CommandRecord['reply'], answeredAt: number | null): void {
    this.#sql('UPDATE device_commands SET state = ?, reply = ?, answered_at = ? WHERE id = ?').run(state, reply ? JSON.stringify(reply) : null, answeredAt, id);
    const c = this.get(id)!;
    this.#d.log.info({ id, device: c.deviceId, name: c.name, state, actor: c.actor }, 'command settled');
    this.settled.emit(c);
  }

  #reply(m: DeviceMessage): void {
    if (m.channel !== 'cmd/reply') return;
    const id = String(m.data['id']);
    const c = this.get(id);
    // Another device's id, a duplicate answer or a late one: the first answer in time is the one kept.
    if (!c || c.deviceId !== m.deviceId || c.state !== 'sent') {
      this.#d.log.debug({ id, device: m.deviceId, state: c?.state }, 'command answer ignored');
      return;
    }
    const status = m.data['status'] as 'ok' | 'error' | 'rejected';
    const reply = {
      ...(m.data['data'] ? { data: m.data['data'] as Record<string, unknown> } : {}),
      ...(m.data['error'] ? { error: String(m.data['error']) } : {}),
    };
    this.#settle(id, status, reply, m.receivedAt);
  }

  /** Timeouts of sent commands and expiry of queued ones; about once a second. */
  tick(): void {
    const now = this.#now();
    const due = this.#sql(`SELECT id, state FROM device_commands WHERE state IN ('sent', 'queued') AND deadline < ?`).all(now) as {
      id: string;
      state: CommandState;
    }[];
    for (const d of due) this.#settle(d.id, d.state === 'sent' ? 'timeout' : 'expired', null, null);
  }
}

/** The README's table of commands, from the kinds' declarations (`node --import tsx gateway/main.ts --commands-doc`). */
export function commandsMarkdown(): string {
  const rows: string[] = [];
  for (const def of registeredKinds()) {
    for (const [name, c] of Object.entries(def.commands)) {
      const shape = z.toJSONSchema(c.params, { io: 'input' }) as {
        properties?: Record<string, { type?: string; default?: unknown; minimum?: number; maximum?: number }>;
      };
      const params = Object.entries(shape.properties ?? {})
        .map(
          ([k, p]) =>
            `\`${k}\`${p.minimum !== undefined ? (p.maximum !== undefined ? ` ${p.minimum}–${p.maximum}` : ` ≥ ${p.minimum}`) : ''}${p.default !== undefined ? ` (default ${JSON.stringify(p.default)})` : ''}`,
        )
        .join(', ');
      rows.push(
        `| ${def.kind} | \`${name}\` | ${params || '—'} | ${(c.roles ?? ['engineer', 'admin']).join(', ')} | ${c.timeoutS ?? 10} s | ${c.title}${c.refusedDuring ? `; refused during an open \`${c.refusedDuring}\` unless \`force: true\`` : ''} |`,
      );
    }
  }
  return ['| kind | command | parameters | who may send it | answer within | what it does |', '|---|---|---|---|---|---|', ...rows].join('\n');
}
