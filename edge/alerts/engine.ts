/**
 * Alert lifecycle: conditions in, alerts out.
 *
 * - One open alert per (site, device, type): repeats update it (repeatCount), never a new one.
 * - Hysteresis in time: an alert auto-resolves only after its condition has been clear for
 *   `clearAfterMs`; a condition that flickers back before that just continues the alert.
 * - Hold-down: a condition that returns within `holdDownMs` of an auto-resolution reopens
 *   the same alert (reopenCount) instead of raising a new one, so a flapping sensor cannot storm.
 * - Grouping: an alert raised in a zone where another is open within `groupWindowMs` joins its incident.
 * - Escalation (default 1-3-5): not acknowledged after ackMs → escalated (severity +1);
 *   not resolved after reinforceMs → reinforcement requested; after reescalateMs → escalated again.
 *   Deadlines are computed from persisted times on every tick(), so they survive a restart.
 * Every change is persisted before it is emitted (published).
 */
import { randomBytes } from 'node:crypto';
import { conditionKey, openStates, raise, type AlertEvent, type AlertType, type Condition, type Severity } from './model.ts';
import type { AlertRecord, AlertStore } from './store.ts';
import type { Dispatch } from './dispatch.ts';
import { Listeners } from '../listeners.ts';

export interface EscalationTimes {
  ackMs: number;
  reinforceMs: number;
  reescalateMs: number;
}

export interface AlertPolicy {
  holdDownMs: number;
  clearAfterMs: number;
  groupWindowMs: number;
  /** Repeats are persisted each time but published at most this often per alert. */
  repeatPublishMs: number;
  escalation(a: { site: string; type: AlertType; baseSeverity: Severity }): EscalationTimes;
  /** Types an operator must resolve (an SOS is never resolved by a sensor going quiet). */
  manualResolve: ReadonlySet<AlertType>;
}

/** A change of an alert: the alert as it now is, what happened, who did it, and the history row's detail. */
export type AlertListener = (alert: AlertRecord, event: AlertEvent, actor: string, detail?: Record<string, unknown>) => void;

/** A domain error: a stable code (the HTTP layer's error catalogue gives it a status), no transport detail. */
export class AlertError extends Error {
  constructor(
    message: string,
    readonly code: 'VIGIL_ERR_ALERT_NOT_FOUND' | 'VIGIL_ERR_ALERT_CLOSED',
  ) {
    super(message);
    this.name = 'AlertError';
  }
}

const newId = (now: number) => `al-${now.toString(36)}-${randomBytes(4).toString('hex')}`;

export class AlertEngine {
  readonly #store: AlertStore;
  readonly #policy: AlertPolicy;
  readonly #now: () => number;
  readonly #zoneOf: (deviceId: string) => string | null;
  readonly #changes = new Listeners<Parameters<AlertListener>>();
  readonly #lastPublished = new Map<string, number>();

  constructor(store: AlertStore, policy: AlertPolicy, now: () => number, zoneOf: (deviceId: string) => string | null) {
    this.#store = store;
    this.#policy = policy;
    this.#now = now;
    this.#zoneOf = zoneOf;
  }

  onChange(fn: AlertListener): () => void {
    return this.#changes.on(fn);
  }

  #emit(a: AlertRecord, event: AlertEvent, actor: string, detail?: Record<string, unknown>): void {
    this.#store.save(a, event, actor, detail);
    if (event === 'updated') {
      const last = this.#lastPublished.get(a.id) ?? 0;
      if (this.#now() - last < this.#policy.repeatPublishMs) return;
    }
    this.#lastPublished.set(a.id, this.#now());
    this.#changes.emit(a, event, actor, detail);
  }

  signal(c: Condition): AlertRecord | undefined {
    const key = conditionKey(c);
    const now = this.#now();
    const open = this.#store.findOpen(key);
    if (!c.active) {
      if (open && open.clearSince === null) {
        open.clearSince = now;
        this.#store.save(open, undefined, 'gateway');
      }
      return open;
    }
    if (open) {
      open.repeatCount++;
      open.lastSeenAt = now;
      open.clearSince = null;
      open.reason = c.reason;
      // What a condition says replaces what it said before; evidence gathered for the alert (items) stays.
      open.evidence = { ...(c.evidence ?? open.evidence), ...(open.evidence['items'] ? { items: open.evidence['items'] } : {}) };
      open.version++;
      this.#emit(open, 'updated', 'gateway');
      return open;
    }
    const latest = this.#store.findLatest(key);
    if (latest && latest.state === 'auto_resolved' && latest.resolvedAt !== null && now - latest.resolvedAt < this.#policy.holdDownMs) {
      Object.assign(latest, {
        state: 'raised',
        reopenCount: latest.reopenCount + 1,
        raisedAt: now,
        lastSeenAt: now,
        clearSince: null,
        resolvedAt: null,
        resolvedBy: null,
        acknowledgedAt: null,
        acknowledgedBy: null,
        escalationLevel: 0,
        escalatedAt: null,
        reinforcementRequested: false,
        reinforcementRequestedAt: null,
        severity: latest.baseSeverity,
        reason: c.reason,
        evidence: c.evidence ?? {},
        dispatch: null,
        version: latest.version + 1,
      } satisfies Partial<AlertRecord>);
      this.#emit(latest, 'reopened', 'gateway');
      return latest;
    }
    const zone = c.zone !== undefined ? c.zone : this.#zoneOf(c.deviceId);
    const id = newId(now);
    const related = zone ? this.#store.openInZone(c.site, zone, now - this.#policy.groupWindowMs)[0] : undefined;
    const a: AlertRecord = {
      id,
      key,
      version: 1,
      incidentId: related?.incidentId ?? id,
      site: c.site,
      zone,
      deviceId: c.deviceId,
      kind: c.kind,
      type: c.type,
      severity: c.severity,
      baseSeverity: c.severity,
      state: 'raised',
      reason: c.reason,
      evidence: c.evidence ?? {},
      repeatCount: 0,
      reopenCount: 0,
      escalationLevel: 0,
      reinforcementRequested: false,
      raisedAt: now,
      lastSeenAt: now,
      acknowledgedAt: null,
      acknowledgedBy: null,
      escalatedAt: null,
      reinforcementRequestedAt: null,
      resolvedAt: null,
      resolvedBy: null,
      clearSince: null,
      dispatch: null,
    };
    this.#emit(a, 'raised', 'gateway');
    return a;
  }

  acknowledge(id: string, who: string, note?: string): AlertRecord {
    const a = this.#get(id);
    if (a.state === 'acknowledged') return a; // idempotent: a second operator pressing ack changes nothing
    if (!openStates.includes(a.state)) throw new AlertError(`alert ${id} is already ${a.state}`, 'VIGIL_ERR_ALERT_CLOSED');
    Object.assign(a, { state: 'acknowledged', acknowledgedAt: this.#now(), acknowledgedBy: who, version: a.version + 1 });
    this.#emit(a, 'acknowledged', who, note ? { note } : undefined);
    return a;
  }

  resolve(id: string, who: string, note?: string): AlertRecord {
    const a = this.#get(id);
    if (a.state === 'resolved' || a.state === 'auto_resolved') return a;
    Object.assign(a, { state: 'resolved', resolvedAt: this.#now(), resolvedBy: who, version: a.version + 1 });
    this.#emit(a, 'resolved', who, note ? { note } : undefined);
    return a;
  }

  #get(id: string): AlertRecord {
    const a = this.#store.get(id);
    if (!a) throw new AlertError(`alert ${id} does not exist`, 'VIGIL_ERR_ALERT_NOT_FOUND');
    return a;
  }

  /** Attach an item of evidence (a snapshot taken for the alert) to `evidence.items`; published at once. */
  attachEvidence(id: string, item: Record<string, unknown>): AlertRecord {
    const a = this.#get(id);
    const items = Array.isArray(a.evidence['items']) ? (a.evidence['items'] as unknown[]) : [];
    Object.assign(a, { evidence: { ...a.evidence, items: [...items, item] }, version: a.version + 1 });
    this.#emit(a, 'evidence_attached', 'gateway', { item });
    return a;
  }

  /**
   * Change the alert's reinforcement roster (edge/alerts/dispatch.ts) and record one step of it as
   * an event: persisted and published like any other change. `change` gets a copy it may modify.
   */
  updateDispatch(id: string, change: (d: Dispatch | null) => Dispatch | null, event: AlertEvent, detail: Record<string, unknown> = {}): AlertRecord {
    const a = this.#get(id);
    const next = change(a.dispatch ? (structuredClone(a.dispatch) as Dispatch) : null);
    Object.assign(a, { dispatch: next, version: a.version + 1 });
    this.#emit(a, event, 'gateway', detail);
    return a;
  }

  /** Auto-resolution and escalation deadlines; call every second or so (tests call it with a fake clock). */
  tick(): void {
    const now = this.#now();
    for (const a of this.#store.openAlerts()) {
      if (a.clearSince !== null && !this.#policy.manualResolve.has(a.type) && now - a.clearSince >= this.#policy.clearAfterMs) {
        Object.assign(a, { state: 'auto_resolved', resolvedAt: now, resolvedBy: 'gateway', version: a.version + 1 });
        this.#emit(a, 'auto_resolved', 'gateway', { clearForMs: now - a.clearSince });
        continue;
      }
      const t = this.#policy.escalation(a);
      const age = now - a.raisedAt;
      if (a.state === 'raised' && a.escalationLevel === 0 && age >= t.ackMs) {
        Object.assign(a, { escalationLevel: 1, severity: raise(a.severity), escalatedAt: now, version: a.version + 1 });
        this.#emit(a, 'escalated', 'gateway', { why: `not acknowledged within ${t.ackMs / 1000} s` });
      }
      if (!a.reinforcementRequested && age >= t.reinforceMs) {
        Object.assign(a, { reinforcementRequested: true, reinforcementRequestedAt: now, version: a.version + 1 });
        this.#emit(a, 'reinforcement_requested', 'gateway', { why: `not resolved within ${t.reinforceMs / 1000} s` });
      }
      if (a.escalationLevel < 2 && age >= t.reescalateMs) {
        Object.assign(a, { escalationLevel: 2, severity: raise(a.severity), escalatedAt: now, version: a.version + 1 });
        this.#emit(a, 'escalated', 'gateway', { why: `not resolved within ${t.reescalateMs / 1000} s` });
      }
    }
  }
}
