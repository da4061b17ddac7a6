/**
 * Dispatch feature: reinforcement sent to the nearest officers, the 5 of "1-minute response, 3-minute
 * handling, 5-minute reinforcement".
 *
 * - When: an alert of a type in `dispatch.alertTypes` reaches the reinforcement mark unresolved
 *   (`reinforcement_requested`), or is raised with a severity in `dispatch.immediateSeverities`, or
 *   an operator asks (POST /api/v1/alerts/:id/dispatch).
 * - Where to: the zone's coordinates (gateway/sites); for an alert on a device that reports GPS (an
 *   officer down, an SOS) that device's own last fix.
 * - Who: body cameras (kinds that declare a `dispatch` command) of the site, enabled and online, with
 *   a GPS fix younger than `fixMaxAgeS`, within `maxDistanceM`, not engaged on another open alert,
 *   not the alert's own device and not with an open alert of their own; the nearest `officers` first.
 * - Then: each gets a `dispatch` command (alert, place, distance, ETA, why); the officer accepts or
 *   declines with an event. Nobody accepting within `acceptTimeoutS` (or the command not reaching
 *   them) → the next nearest are asked. An accepted officer whose fix comes within the arrival radius
 *   has arrived. At the alert's re-escalation mark with nobody on scene, the escalation topic says so.
 *   Resolution stands everybody down.
 *
 * The roster lives in the alert (`dispatch`, edge/alerts/dispatch.ts): every step is an alert history
 * event, persisted and published, and survives a restart (deadlines are computed from stored times).
 */
import { getKind } from '../../devices/index.ts';
import {
  engagedStates,
  nearest,
  needsNextRound,
  unansweredBy,
  distanceM,
  type Candidate,
  type Dispatch,
  type DispatchedOfficer,
  type Fix,
  type LatLon,
} from '../../edge/alerts/dispatch.ts';
import { AlertError, type EscalationTimes } from '../../edge/alerts/engine.ts';
import type { AlertEvent } from '../../edge/alerts/model.ts';
import type { AlertRecord } from '../../edge/alerts/store.ts';
import type { DeviceStates } from '../../edge/device-state.ts';
import type { DeviceMessage } from '../../edge/message.ts';
import type { PipelineStage } from '../../edge/pipeline.ts';
import type { AlertChange, Alerts } from '../alerts/index.ts';
import type { CommandRecord, Commands } from '../commands/index.ts';
import type { GatewayConfig } from '../config.ts';
import { DispatchRefusedError } from '../errors.ts';
import type { Feature } from '../feature.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Security } from '../security/index.ts';
import { grants } from '../security/identity.ts';
import type { Sites } from '../sites/index.ts';

export interface DispatchDeps {
  config: GatewayConfig['dispatch'];
  escalation: (a: Pick<AlertRecord, 'site' | 'type' | 'baseSeverity'>) => EscalationTimes;
  alerts: Alerts;
  sites: Sites;
  security: Security;
  states: DeviceStates;
  commands: Commands;
  metrics?: Pick<Metrics, 'dispatchAnswers' | 'dispatchIgnored' | 'alertTimeToAccept' | 'alertTimeToArrival'>;
  log: Logger;
  now?: () => number;
}

/** Kinds whose devices can be dispatched: they declare the `dispatch` command. */
const dispatchable = (kind: string) => !!getKind(kind)?.commands['dispatch'];
const readFix = (data: Record<string, unknown>, at: number): Fix | undefined => {
  const g = data['gps'] as { lat?: unknown; lon?: unknown; accuracy_m?: unknown } | undefined;
  if (!g || typeof g.lat !== 'number' || typeof g.lon !== 'number') return undefined;
  return { lat: g.lat, lon: g.lon, accuracyM: typeof g.accuracy_m === 'number' ? g.accuracy_m : null, at };
};

export class Dispatcher implements Feature {
  readonly name = 'dispatch';
  /** The pipeline stage that reads officers' GPS fixes and their answers. */
  readonly tracker: PipelineStage = { name: 'dispatch-tracker', accept: (m) => this.#observe(m) };
  readonly #d: DispatchDeps;
  readonly #now: () => number;
  /** Latest fix per device that reports GPS (gateway clock), and who wears it. */
  readonly #fixes = new Map<string, Fix & { officer: string | null }>();
  /** Open alerts with a roster, by id: what the tracker and the tick look at (rebuilt from the store at start). */
  readonly #active = new Map<string, AlertRecord>();
  #timer?: NodeJS.Timeout;
  #offs: (() => void)[] = [];

  constructor(deps: DispatchDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
  }

  start(): void {
    for (const a of this.#d.alerts.store.openAlerts()) if (a.dispatch) this.#active.set(a.id, a);
    this.#offs.push(this.#d.alerts.onChange((c) => this.#alertChanged(c)));
    this.#offs.push(this.#d.commands.settled.on((c) => this.#commandSettled(c)));
    this.#timer = setInterval(() => this.tick(), 1000);
    this.#timer.unref();
  }

  drain(): void {
    clearInterval(this.#timer);
  }

  stop(): void {
    clearInterval(this.#timer);
    for (const off of this.#offs.splice(0)) off();
  }

  /** The dispatchable devices of a site: online, last fix, what they are engaged on. */
  officers(site: string) {
    const now = this.#now();
    return this.#d.security.registry
      .listDevices({ site })
      .filter((d) => d.state === 'enabled' && dispatchable(d.kind))
      .map((d) => {
        const f = this.#fixes.get(d.deviceId);
        let engaged: { alertId: string; state: string } | null = null;
        for (const a of this.#active.values()) {
          const o = this.#officer(a, d.deviceId);
          if (o && engagedStates.has(o.state)) engaged = { alertId: a.id, state: o.state };
        }
        return {
          deviceId: d.deviceId,
          officer: f?.officer ?? null,
          online: !!this.#d.states.get(d.deviceId)?.online,
          fix: f ? { lat: f.lat, lon: f.lon, accuracyM: f.accuracyM, ageS: Math.round((now - f.at) / 1000) } : null,
          engaged,
        };
      });
  }

  /** The last fix of a device, if it reported one. */
  fixOf(deviceId: string): Fix | undefined {
    return this.#fixes.get(deviceId);
  }

  #eligible(a: AlertRecord): boolean {
    return this.#d.config.enabled && this.#d.config.alertTypes.includes(a.type);
  }

  #alertChanged(c: AlertChange): void {
    const a = c.alert;
    if (a.dispatch && a.state !== 'resolved' && a.state !== 'auto_resolved') this.#active.set(a.id, a);
    // After every listener has seen this change: the roster's steps follow the change that caused them, for everybody.
    if (c.event === 'raised' || c.event === 'reopened' || c.event === 'reinforcement_requested' || c.event === 'resolved' || c.event === 'auto_resolved')
      queueMicrotask(() => this.#react(c));
  }

  #react({ alert, event }: AlertChange): void {
    // The alert as it is now (it may have changed since the event).
    const a = this.#d.alerts.store.get(alert.id) ?? alert;
    const closed = a.state === 'resolved' || a.state === 'auto_resolved';
    // Resolved in the meantime: nobody is sent to it.
    if (closed && event !== 'resolved' && event !== 'auto_resolved') return;
    try {
      if ((event === 'raised' || event === 'reopened') && this.#eligible(a) && this.#d.config.immediateSeverities.includes(a.baseSeverity)) {
        this.#begin(a, 'critical');
      } else if (event === 'reinforcement_requested' && this.#eligible(a) && !a.dispatch?.target) {
        this.#begin(a, 'reinforcement');
      } else if ((event === 'resolved' || event === 'auto_resolved') && this.#active.has(a.id)) {
        this.#active.delete(a.id);
        this.#standDown(a);
      }
    } catch (err) {
      this.#d.log.error({ err, alert: a.id, event }, 'dispatch failed on an alert change');
    }
  }

  /**
   * An operator asks for reinforcement now: starts the dispatch, or, when one runs, asks the next
   * nearest free officers at once (in addition to those already asked).
   */
  request(alertId: string, who: { id: string; sites: string[]; address?: string }): AlertRecord {
    const a = this.#d.alerts.store.get(alertId);
    if (!a || !grants(who.sites, a.site)) throw new AlertError(`alert ${alertId} does not exist`, 'VIGIL_ERR_ALERT_NOT_FOUND');
    if (a.state === 'resolved' || a.state === 'auto_resolved')
      throw new DispatchRefusedError(`alert ${alertId} is ${a.state}: nobody is sent to a closed alert`);
    this.#d.security.audit.record({ actor: who.id, action: 'alert.dispatch', target: alertId, outcome: 'ok', address: who.address, detail: { site: a.site } });
    if (!a.dispatch || !a.dispatch.target) {
      const r = this.#begin(a, 'operator', who.id);
      if (!r.dispatch?.target) throw new DispatchRefusedError(this.#noTargetReason(a));
      return r;
    }
    return this.#askNext(a, who.id) ?? a;
  }

  #noTargetReason(a: AlertRecord): string {
    return a.zone === null
      ? `alert ${a.id} has no zone (device ${a.deviceId} is provisioned without one) and its device reports no GPS fix: nowhere to send officers`
      : `zone ${a.site}/${a.zone} has no coordinates (PUT /api/v1/sites/${a.site}/zones/${a.zone} with a location) and device ${a.deviceId} reports no GPS fix`;
  }

  /** Where officers go: the alert's own device's fresh fix (an officer down), else the zone's coordinates. */
  #target(a: AlertRecord): (LatLon & { source: 'zone' | 'device' }) | null {
    const own = this.#fixes.get(a.deviceId);
    if (own && this.#now() - own.at <= this.#d.config.fixMaxAgeS * 1000) return { lat: own.lat, lon: own.lon, source: 'device' };
    const z = this.#d.sites.locate(a.site, a.zone);
    return z ? { lat: z.lat, lon: z.lon, source: 'zone' } : null;
  }

  #update(a: AlertRecord, change: (d: Dispatch) => Dispatch, event: AlertEvent, detail: Record<string, unknown>): AlertRecord {
    const r = this.#d.alerts.pipeline.engine.updateDispatch(a.id, (d) => change(d!), event, detail);
    if (r.state === 'resolved' || r.state === 'auto_resolved') this.#active.delete(r.id);
    else this.#active.set(r.id, r);
    return r;
  }

  #begin(a: AlertRecord, trigger: Dispatch['trigger'], actor = 'gateway'): AlertRecord {
    if (a.dispatch?.target) return a;
    // A site without anybody to dispatch (no body cameras registered) does not do dispatch: nothing to say.
    if (trigger !== 'operator' && !this.#d.security.registry.listDevices({ site: a.site }).some((d) => d.state === 'enabled' && dispatchable(d.kind))) return a;
    const target = this.#target(a);
    const fresh: Dispatch = {
      trigger,
      startedAt: this.#now(),
      target,
      round: 0,
      officers: [],
      acceptedAt: null,
      arrivedAt: null,
      overdueAt: null,
      exhaustedAt: null,
    };
    if (!target) {
      // Said once per alert (the operator sees why nobody was sent); an operator's later request tries again.
      if (a.dispatch && trigger !== 'operator') return a;
      const reason = this.#noTargetReason(a);
      this.#d.log.warn({ alert: a.id, site: a.site, zone: a.zone }, reason);
      return this.#update(a, () => fresh, 'dispatch_failed', { reason, by: actor });
    }
    const started = this.#update(a, () => fresh, 'dispatch_requested', { trigger, target, by: actor });
    return this.#askNext(started, actor) ?? started;
  }

  /** Officers engaged on any open alert (asked, accepted or on scene): not free for another. */
  #engaged(): Set<string> {
    const ids = new Set<string>();
    for (const a of this.#active.values()) for (const o of a.dispatch?.officers ?? []) if (engagedStates.has(o.state)) ids.add(o.deviceId);
    return ids;
  }

  #candidates(a: AlertRecord): Candidate[] {
    const now = this.#now();
    const engaged = this.#engaged();
    const askedBefore = new Set(a.dispatch?.officers.map((o) => o.deviceId));
    // An officer with an open critical alert of their own (down, SOS) is the one who needs help; a low battery is no reason to stay.
    const inTrouble = new Set(
      this.#d.alerts.store
        .query({ site: a.site, state: 'open', limit: 500 })
        .filter((x) => x.baseSeverity === 'critical')
        .map((x) => x.deviceId),
    );
    const out: Candidate[] = [];
    for (const d of this.#d.security.registry.listDevices({ site: a.site })) {
      if (d.state !== 'enabled' || !dispatchable(d.kind) || d.deviceId === a.deviceId) continue;
      if (engaged.has(d.deviceId) || askedBefore.has(d.deviceId) || !this.#d.states.get(d.deviceId)?.online) continue;
      const fix = this.#fixes.get(d.deviceId);
      if (!fix || now - fix.at > this.#d.config.fixMaxAgeS * 1000 || inTrouble.has(d.deviceId)) continue;
      out.push({ deviceId: d.deviceId, officer: fix.officer, fix });
    }
    return out;
  }

  /** Ask the next nearest free officers; records `dispatch_exhausted` once when there are none. */
  #askNext(a: AlertRecord, actor = 'gateway'): AlertRecord | undefined {
    const d = a.dispatch;
    if (!d?.target) return undefined;
    const c = this.#d.config;
    const ranked = nearest(d.target, this.#candidates(a), { n: c.officers, maxDistanceM: c.maxDistanceM, walkingSpeedMps: c.walkingSpeedMps });
    if (!ranked.length) {
      if (d.exhaustedAt !== null) return undefined;
      const asked = d.officers.length;
      return this.#update(a, (x) => ({ ...x, exhaustedAt: this.#now() }), 'dispatch_exhausted', {
        reason: `no free officer with a recent GPS fix within ${c.maxDistanceM} m (${asked} asked so far: ${d.officers.map((o) => `${o.deviceId} ${o.state}`).join(', ') || 'none'})`,
      });
    }
    const round = d.round + 1;
    let current = a;
    for (const r of ranked) {
      const place = a.zone ? `${a.site}/${a.zone}` : a.site;
      const reason = `${a.type} (${a.severity}) at ${place}: ${a.reason}`.slice(0, 300);
      let commandId: string | null = null;
      let failed: string | null = null;
      try {
        commandId = this.#d.commands.send(
          r.deviceId,
          {
            name: 'dispatch',
            params: {
              alertId: a.id,
              type: a.type,
              severity: a.severity,
              zone: a.zone,
              lat: d.target.lat,
              lon: d.target.lon,
              distanceM: r.distanceM,
              etaS: r.etaS,
              reason,
            },
          },
          { id: 'gateway', role: 'admin', sites: ['*'], via: `dispatch:${a.id}` },
        ).id;
      } catch (err) {
        failed = (err as Error).message;
      }
      const now = this.#now();
      const officer: DispatchedOfficer = {
        ...r,
        round,
        state: failed ? 'unanswered' : 'asked',
        commandId,
        askedAt: now,
        answeredAt: failed ? now : null,
        arrivedAt: null,
        reason: failed,
      };
      current = this.#update(
        current,
        (x) => ({ ...x, round, exhaustedAt: null, officers: [...x.officers, officer] }),
        failed ? 'dispatch_unanswered' : 'dispatch_requested',
        { deviceId: r.deviceId, officer: r.officer, distanceM: r.distanceM, etaS: r.etaS, round, by: actor, ...(failed ? { reason: failed } : {}) },
      );
      if (failed) this.#d.metrics?.dispatchAnswers.inc({ site: a.site, outcome: 'unanswered' });
    }
    return current;
  }

  #officer(a: AlertRecord, deviceId: string): DispatchedOfficer | undefined {
    return a.dispatch?.officers.find((o) => o.deviceId === deviceId);
  }

  #setOfficer(
    a: AlertRecord,
    deviceId: string,
    change: Partial<DispatchedOfficer>,
    extra: Partial<Dispatch>,
    event: AlertEvent,
    detail: Record<string, unknown>,
  ): AlertRecord {
    const r = this.#update(a, (d) => ({ ...d, ...extra, officers: d.officers.map((o) => (o.deviceId === deviceId ? { ...o, ...change } : o)) }), event, {
      deviceId,
      ...detail,
    });
    return r;
  }

  #observe(m: DeviceMessage): void {
    if (m.channel === 'telemetry' && dispatchable(m.kind)) {
      const fix = readFix(m.data, this.#now());
      if (!fix) return;
      this.#fixes.set(m.deviceId, { ...fix, officer: typeof m.data['officer'] === 'string' ? (m.data['officer'] as string) : null });
      this.#arrival(m.deviceId, fix);
      return;
    }
    if (m.channel !== 'event') return;
    const type = m.data['type'];
    if (type !== 'dispatch_accepted' && type !== 'dispatch_declined') return;
    const alertId = String(m.data['alertId']);
    const a = this.#active.get(alertId);
    const o = a && this.#officer(a, m.deviceId);
    const ignore = (reason: string) => {
      this.#d.metrics?.dispatchIgnored.inc({ reason });
      this.#d.log.warn({ device: m.deviceId, alert: alertId, answer: type, reason }, 'dispatch answer ignored');
    };
    if (!a || !o) return ignore(a ? 'not_asked' : 'no_open_dispatch');
    const now = this.#now();
    if (type === 'dispatch_accepted') {
      if (o.state !== 'asked' && o.state !== 'unanswered') return ignore(`already_${o.state}`);
      const first = a.dispatch!.acceptedAt === null;
      this.#setOfficer(a, m.deviceId, { state: 'accepted', answeredAt: now, reason: null }, first ? { acceptedAt: now } : {}, 'dispatch_accepted', {
        officer: o.officer,
        etaS: o.etaS,
        ...(o.state === 'unanswered' ? { late: true } : {}),
      });
      this.#d.metrics?.dispatchAnswers.inc({ site: a.site, outcome: 'accepted' });
      if (first) this.#d.metrics?.alertTimeToAccept.observe({ site: a.site, type: a.type, severity: a.baseSeverity }, (now - a.raisedAt) / 1000);
      // Already there when accepting.
      const fix = this.#fixes.get(m.deviceId);
      if (fix) this.#arrival(m.deviceId, fix);
      return;
    }
    if (o.state !== 'asked' && o.state !== 'accepted') return ignore(`already_${o.state}`);
    const reason = String(m.data['reason'] ?? 'other');
    const r = this.#setOfficer(a, m.deviceId, { state: 'declined', answeredAt: now, reason }, {}, 'dispatch_declined', { officer: o.officer, reason });
    this.#d.metrics?.dispatchAnswers.inc({ site: a.site, outcome: 'declined' });
    // Everybody of the round has said no: the next nearest at once, not at the timeout.
    if (needsNextRound(r.dispatch!)) this.#askNext(r);
  }

  #arrival(deviceId: string, fix: Fix): void {
    for (const a of [...this.#active.values()]) {
      const o = this.#officer(a, deviceId);
      const d = a.dispatch;
      if (!d?.target || o?.state !== 'accepted') continue;
      const radius = (d.target.source === 'zone' ? this.#d.sites.locate(a.site, a.zone)?.arrivalRadiusM : undefined) ?? this.#d.config.arrivalRadiusM;
      const dist = distanceM(fix, d.target);
      if (dist > radius) continue;
      const now = this.#now();
      const first = d.arrivedAt === null;
      this.#setOfficer(a, deviceId, { state: 'arrived', arrivedAt: now }, first ? { arrivedAt: now } : {}, 'dispatch_arrived', {
        officer: o.officer,
        distanceM: Math.round(dist),
        afterS: Math.round((now - o.askedAt) / 1000),
      });
      this.#d.metrics?.dispatchAnswers.inc({ site: a.site, outcome: 'arrived' });
      if (first) this.#d.metrics?.alertTimeToArrival.observe({ site: a.site, type: a.type, severity: a.baseSeverity }, (now - a.raisedAt) / 1000);
    }
  }

  /** A `dispatch` command that did not reach the officer (timeout, error, refused): unanswered, and the round moves on. */
  #commandSettled(c: CommandRecord): void {
    if (c.name !== 'dispatch' || !c.via.startsWith('dispatch:') || c.state === 'ok') return;
    const a = this.#active.get(c.via.slice('dispatch:'.length));
    const o = a && this.#officer(a, c.deviceId);
    if (!a || o?.state !== 'asked' || o.commandId !== c.id) return;
    const r = this.#setOfficer(a, c.deviceId, { state: 'unanswered', answeredAt: this.#now(), reason: `command ${c.state}` }, {}, 'dispatch_unanswered', {
      officer: o.officer,
      reason: `the dispatch command was not answered by the device (${c.state}${c.reply?.error ? `: ${c.reply.error}` : ''})`,
    });
    this.#d.metrics?.dispatchAnswers.inc({ site: a.site, outcome: 'unanswered' });
    if (needsNextRound(r.dispatch!)) this.#askNext(r);
  }

  #standDown(a: AlertRecord): void {
    for (const o of a.dispatch?.officers ?? []) {
      if (!engagedStates.has(o.state)) continue;
      try {
        this.#d.commands.send(
          o.deviceId,
          { name: 'stand_down', params: { alertId: a.id, reason: `${a.type} ${a.state.replace('_', ' ')}` }, ttlS: 300 },
          { id: 'gateway', role: 'admin', sites: ['*'], via: `dispatch:${a.id}` },
        );
      } catch (err) {
        this.#d.log.info({ alert: a.id, device: o.deviceId, err: (err as Error).message }, 'stand-down not sent');
      }
      a = this.#setOfficer(a, o.deviceId, { state: 'stood_down', reason: `alert ${a.state}` }, {}, 'dispatch_stood_down', { officer: o.officer, was: o.state });
      this.#d.metrics?.dispatchAnswers.inc({ site: a.site, outcome: 'stood_down' });
    }
  }

  /** Answer deadlines, the next round, the re-escalation mark; every second (tests call it with their clock). */
  tick(): void {
    const now = this.#now();
    const c = this.#d.config;
    for (const id of [...this.#active.keys()]) {
      try {
        let a = this.#active.get(id)!;
        const d = a.dispatch!;
        for (const o of unansweredBy(d, now, c.acceptTimeoutS * 1000)) {
          a = this.#setOfficer(
            a,
            o.deviceId,
            { state: 'unanswered', answeredAt: now, reason: `no answer within ${c.acceptTimeoutS} s` },
            {},
            'dispatch_unanswered',
            {
              officer: o.officer,
              reason: `no answer within ${c.acceptTimeoutS} s`,
            },
          );
          this.#d.metrics?.dispatchAnswers.inc({ site: a.site, outcome: 'unanswered' });
        }
        if (needsNextRound(a.dispatch!)) a = this.#askNext(a) ?? a;
        const mark = this.#d.escalation(a).reescalateMs;
        if (a.dispatch!.arrivedAt === null && a.dispatch!.overdueAt === null && now - a.raisedAt >= mark) {
          const x = a.dispatch!;
          this.#update(a, (y) => ({ ...y, overdueAt: now }), 'dispatch_overdue', {
            why: `nobody on scene ${mark / 1000} s after the alert`,
            asked: x.officers.length,
            accepted: x.officers.filter((o) => o.state === 'accepted').length,
          });
        }
      } catch (err) {
        this.#d.log.error({ err, alert: id }, 'dispatch tick failed');
      }
    }
  }
}
