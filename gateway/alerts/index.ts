/**
 * Alerts feature, the gateway's side of the alert pipeline (edge/alerts/pipeline.ts): SQLite
 * persistence, MQTT publication of every change and of a retained per-site summary, and the
 * operators' commands (acknowledge, resolve) over MQTT, HTTP and the central uplink, audited.
 */
import { Listeners } from '../../edge/listeners.ts';
import type { Aedes, Client, PublishPacket } from 'aedes';
import { AlertError, type AlertPolicy, type EscalationTimes } from '../../edge/alerts/engine.ts';
import { alertTopic, commandReplyTopic, escalationTopic, summaryTopic, type AlertEvent, type AlertType, type Condition } from '../../edge/alerts/model.ts';
import { AlertPipeline } from '../../edge/alerts/pipeline.ts';
import { toAlert, type AlertRecord } from '../../edge/alerts/store.ts';
import type { Coverage } from '../../edge/alerts/fleet-health.ts';
import type { DeviceStates } from '../../edge/device-state.ts';
import { z } from 'zod';
import type { ZoneProfile } from '../../devices/index.ts';
import type { GatewayConfig } from '../config.ts';
import type { Db } from '../db.ts';
import type { Logger } from '../logger.ts';
import type { Security } from '../security/index.ts';
import { grants, remoteAddress } from '../security/identity.ts';
import { SqliteAlertStore } from './sqlite-store.ts';
import { slaReport, type SlaMarks, type SlaRow } from '../../edge/alerts/sla.ts';
import type { Feature, FeatureContext } from '../feature.ts';

export const commandSchema = z.object({
  action: z.enum(['ack', 'resolve']),
  alertId: z.string().min(1).max(64),
  note: z.string().max(500).optional(),
});

export function escalationPolicy(cfg: GatewayConfig['alerts']) {
  return (a: { site: string; type: AlertType; baseSeverity: string }): EscalationTimes => {
    let t = { ...cfg.escalation };
    for (const o of cfg.escalationOverrides) {
      if ((o.site ?? a.site) === a.site && (o.type ?? a.type) === a.type && (o.severity ?? a.baseSeverity) === a.baseSeverity) {
        t = { ackS: o.ackS ?? t.ackS, reinforceS: o.reinforceS ?? t.reinforceS, reescalateS: o.reescalateS ?? t.reescalateS };
      }
    }
    return { ackMs: t.ackS * 1000, reinforceMs: t.reinforceS * 1000, reescalateMs: t.reescalateS * 1000 };
  };
}

export interface AlertsDeps {
  config: GatewayConfig;
  db: Db;
  states: DeviceStates;
  security: Security;
  /** What a zone means (gateway/sites), for the rules. */
  zoneInfo?: (site: string, zone: string) => ZoneProfile | undefined;
  log: Logger;
  now?: () => number;
}

export type AlertChange = { alert: AlertRecord; event: AlertEvent; actor: string; detail?: Record<string, unknown> };

export class Alerts implements Feature {
  readonly name = 'alerts';
  readonly store: SqliteAlertStore;
  readonly pipeline: AlertPipeline;
  readonly #deps: AlertsDeps;
  readonly #now: () => number;
  readonly #changes = new Listeners<[c: AlertChange]>();
  #broker?: Aedes;
  #timer?: NodeJS.Timeout;

  constructor(deps: AlertsDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    const c = deps.config.alerts;
    this.store = new SqliteAlertStore(deps.db, this.#now);
    const policy: AlertPolicy = {
      holdDownMs: c.holdDownS * 1000,
      clearAfterMs: c.clearAfterS * 1000,
      groupWindowMs: c.groupWindowS * 1000,
      repeatPublishMs: c.repeatPublishS * 1000,
      escalation: escalationPolicy(c),
      manualResolve: new Set(c.manualResolve as AlertType[]),
    };
    const registry = deps.security.registry;
    this.pipeline = new AlertPipeline({
      store: this.store,
      policy,
      now: this.#now,
      zoneOf: (id) => registry.getDevice(id)?.zone ?? null,
      ...(deps.zoneInfo ? { zoneInfo: deps.zoneInfo } : {}),
      kindSettings: deps.config.kinds,
      fleet: {
        states: deps.states,
        directory: { enabled: () => registry.listDevices().filter((d) => d.state === 'enabled'), has: (id) => !!registry.getDevice(id) },
        settings: { coverageTarget: c.coverageTarget, heartbeatMisses: c.heartbeatMisses, startupGraceMs: c.startupGraceS * 1000 },
      },
      onError: (err, what) => deps.log.error({ err, ...what }, what.tick ? 'alert tick failed' : 'alert engine failed on a condition'),
    });
    this.pipeline.onChange((alert, event, actor, detail) => this.#publish(alert, event, actor, detail));
  }

  /** Open alerts' coverage per site and kind, as of the last tick. */
  get coverage(): Coverage[] {
    return this.pipeline.coverage;
  }

  onChange(fn: (c: AlertChange) => void): () => void {
    return this.#changes.on(fn);
  }

  signal(c: Condition): void {
    this.pipeline.signal(c);
  }

  start({ broker }: FeatureContext, tickMs = 1000): void {
    this.#broker = broker;
    // Republish every site's retained summary: after a restart consumers see the persisted state at once.
    for (const site of new Set(this.store.openAlerts().map((a) => a.site))) this.#publishSummary(site);
    // The fleet scan in slices of 500 devices per event-loop turn (~1 ms each): a big fleet never stalls an alert.
    this.#timer = setInterval(() => this.pipeline.tickSliced(500), tickMs);
    this.#timer.unref();
  }

  /** Deadlines, silence-ended conditions and fleet health; the interval calls it, tests call it with a fake clock. */
  tick(): void {
    this.pipeline.tick();
  }

  /** No more ticks: a shutdown must not read as devices going silent. */
  drain(): void {
    clearInterval(this.#timer);
    this.pipeline.halt();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.pipeline.halt();
    this.#summariesDue.clear();
  }

  /** On MQTT first (the operators' alert does not wait for anyone), then to the listeners (forwarding, automation, measures). */
  #publish(a: AlertRecord, event: AlertEvent, actor: string, detail?: Record<string, unknown>): void {
    const broker = this.#broker;
    if (broker) {
      // The step's detail goes along for the roster's steps (who was asked, who declined and why).
      const step = detail && event.startsWith('dispatch_') ? { detail } : {};
      const body = Buffer.from(JSON.stringify({ event, actor, ...step, ...toAlert(a) }));
      const send = (topic: string, retain = false) => broker.publish({ cmd: 'publish', topic, payload: body, qos: 1, retain, dup: false }, () => {});
      send(alertTopic(a));
      if (event === 'escalated') send(escalationTopic(a, 'escalated'));
      if (event === 'reinforcement_requested') send(escalationTopic(a, 'reinforcement'));
      if (event === 'dispatch_overdue' || event === 'dispatch_exhausted' || event === 'dispatch_failed') send(escalationTopic(a, 'dispatch'));
      this.#publishSummary(a.site);
    }
    this.#changes.emit({ alert: a, event, actor, ...(detail ? { detail } : {}) });
  }

  readonly #summariesDue = new Set<string>();

  /**
   * Once per event-loop turn per site, after the turn's alert changes: a summary lists every open
   * alert, so a storm (a power cut taking 200 devices offline in one fleet check) would otherwise
   * build and store it 200 times, quadratic in the size of the storm.
   */
  #publishSummary(site: string): void {
    if (!this.#summariesDue.size) setImmediate(() => this.#publishSummaries());
    this.#summariesDue.add(site);
  }

  #publishSummaries(): void {
    const sites = [...this.#summariesDue];
    this.#summariesDue.clear();
    for (const site of sites)
      this.#broker?.publish(
        { cmd: 'publish', topic: summaryTopic(site), payload: Buffer.from(JSON.stringify(this.summary(site))), qos: 1, retain: true, dup: false },
        () => {},
      );
  }

  /** The open alerts of a site, as the retained summary topic carries them (here and on the central uplink). */
  summary(site: string) {
    const open = this.store.query({ site, state: 'open', limit: 500 });
    return {
      site,
      ts: new Date(this.#now()).toISOString(),
      active: open.length,
      bySeverity: Object.fromEntries(['critical', 'major', 'minor', 'info'].map((s) => [s, open.filter((a) => a.severity === s).length])),
      alerts: open.map((a) => {
        const x = toAlert(a);
        return {
          id: x.id,
          incidentId: x.incidentId,
          type: x.type,
          severity: x.severity,
          state: x.state,
          deviceId: x.deviceId,
          zone: x.zone,
          reason: x.reason,
          raisedAt: x.raisedAt,
          escalationLevel: x.escalationLevel,
        };
      }),
    };
  }

  /**
   * The 1-3-5 rule over alerts raised since `since` at the sites given: marks from alerts.escalation
   * (respond = ackS, handle = reinforceS, reinforcement = reescalateS).
   */
  sla(q: { sites: string[]; site?: string; since?: number }): { since: number; marks: SlaMarks; rows: SlaRow[] } {
    const e = this.#deps.config.alerts.escalation;
    const since = q.since ?? this.#now() - 7 * 86_400_000;
    const marks = { respondS: e.ackS, handleS: e.reinforceS, reinforceS: e.reescalateS };
    const all = this.store.query({ since, limit: 100_000, ...(q.site ? { site: q.site } : {}) }).filter((a) => grants(q.sites, a.site));
    return { since, marks, rows: slaReport(all, marks, this.#now()) };
  }

  /** Acknowledge or resolve for a person; checks their site grant and audits it. */
  act(
    action: 'ack' | 'resolve',
    alertId: string,
    who: { id: string; sites: string[]; address?: string; via: 'mqtt' | 'http' | 'central' },
    note?: string,
  ): AlertRecord {
    const a = this.store.get(alertId);
    if (!a || !grants(who.sites, a.site)) throw new AlertError(`alert ${alertId} does not exist`, 'VIGIL_ERR_ALERT_NOT_FOUND');
    try {
      const r = action === 'ack' ? this.pipeline.acknowledge(alertId, who.id, note) : this.pipeline.resolve(alertId, who.id, note);
      this.#deps.security.audit.record({
        actor: who.id,
        action: `alert.${action}`,
        target: alertId,
        outcome: 'ok',
        address: who.address,
        detail: { via: who.via, type: a.type, site: a.site, ...(note ? { note } : {}) },
      });
      return r;
    } catch (err) {
      this.#deps.security.audit.record({
        actor: who.id,
        action: `alert.${action}`,
        target: alertId,
        outcome: 'failed',
        address: who.address,
        detail: { via: who.via, error: (err as Error).message },
      });
      throw err;
    }
  }

  /** MQTT command topic `vigil/v1/{site}/alerts/command`: `{"action":"ack"|"resolve","alertId":"...","note"?}`; reply on `.../command/reply/{clientId}`. */
  commandHandler() {
    const re = /^vigil\/v1\/([A-Za-z0-9][A-Za-z0-9_.-]{0,63})\/alerts\/command$/;
    return {
      match: (topic: string) => re.test(topic),
      handle: (client: Client, packet: PublishPacket): void => {
        const site = re.exec(packet.topic)![1]!;
        const identity = this.#deps.security.identities.get(client);
        const reply = (body: Record<string, unknown>) =>
          this.#broker?.publish(
            { cmd: 'publish', topic: commandReplyTopic(site, client.id), payload: Buffer.from(JSON.stringify(body)), qos: 1, retain: false, dup: false },
            () => {},
          );
        const who =
          identity?.type === 'principal'
            ? { id: identity.id, sites: identity.sites }
            : identity?.type === 'anonymous'
              ? { id: `anonymous:${client.id}`, sites: ['*'] }
              : undefined;
        if (!who || !grants(who.sites, site)) {
          this.#deps.security.audit.recordThrottled({
            actor: identity?.id ?? client.id,
            action: 'mqtt.publish',
            target: packet.topic,
            outcome: 'denied',
            address: remoteAddress(client),
            detail: { reason: 'alert commands are for people granted this site' },
          });
          return reply({ ok: false, error: 'not authorized to command alerts of this site' });
        }
        let cmd: z.infer<typeof commandSchema>;
        try {
          cmd = commandSchema.parse(JSON.parse(String(packet.payload)));
        } catch (err) {
          return reply({
            ok: false,
            error: `invalid command: ${err instanceof z.ZodError ? err.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') : (err as Error).message}`,
          });
        }
        try {
          const a = this.act(cmd.action, cmd.alertId, { ...who, address: remoteAddress(client), via: 'mqtt' }, cmd.note);
          reply({ ok: true, action: cmd.action, alertId: a.id, state: a.state, version: a.version });
        } catch (err) {
          reply({ ok: false, action: cmd.action, alertId: cmd.alertId, error: (err as Error).message });
        }
      },
    };
  }
}
