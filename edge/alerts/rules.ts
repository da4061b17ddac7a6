/**
 * The rule stage: runs the rules each device kind declares (devices/kinds/<kind>/rules.ts and its
 * capabilities') on that kind's messages, plus the one rule every kind shares: a device reporting
 * itself offline. It knows no kind by name: a kind brings its rules, its settings and its alert types.
 */
import { getKind, registeredKinds, severityOf, type RuleInstance, type Signal, type ZoneProfile } from '../../devices/index.ts';
import type { DeviceMessage } from '../message.ts';
import type { PipelineStage } from '../pipeline.ts';
import { plannedOffline, type Condition } from './model.ts';

export interface RuleStageOptions {
  /** Per kind: its settings as configured (`kinds.<kind>` of the gateway configuration); defaults fill the rest. */
  settings?: Record<string, Record<string, unknown>>;
  /** The zone a device is registered in (rules that compare detectors of one zone). */
  zoneOf?: (deviceId: string) => string | null;
  /** What a zone means (type, hours, thresholds): rules on camera analytics read it. */
  zoneInfo?: (site: string, zone: string) => ZoneProfile | undefined;
}

type Sink = (c: Condition) => void;

export class RuleStage implements PipelineStage {
  readonly name = 'rules';
  readonly #sink: Sink;
  readonly #opts: RuleStageOptions;
  /** Rule instances per kind, made on the kind's first message (so a kind registered late is served too). */
  readonly #byKind = new Map<string, RuleInstance[]>();
  /** Instances that hear conditions, by alert type. */
  readonly #listeners = new Map<string, RuleInstance[]>();

  constructor(sink: Sink, opts: RuleStageOptions = {}) {
    this.#sink = sink;
    this.#opts = opts;
    for (const def of registeredKinds()) this.#instances(def.kind);
  }

  #emit = (s: Signal): void => {
    this.#sink({ ...s, severity: s.severity ?? severityOf(s.type) });
  };

  #instances(kind: string): RuleInstance[] {
    let list = this.#byKind.get(kind);
    if (list) return list;
    const def = getKind(kind);
    list = [];
    this.#byKind.set(kind, list);
    if (!def) return list;
    // Parse once: defaults fill what the configuration leaves out; a bad value was refused when the configuration loaded.
    const settings = def.settings.parse(this.#opts.settings?.[kind] ?? {}) as Record<string, unknown>;
    const zoneOf = this.#opts.zoneOf ?? (() => null);
    const zone = this.#opts.zoneInfo ?? (() => undefined);
    for (const rule of def.rules) {
      const own = rule.settings ? Object.fromEntries(Object.keys(rule.settings.shape).map((k) => [k, settings[k]])) : {};
      const inst = rule.create({ settings: own, emit: this.#emit, zoneOf, zone });
      list.push(inst);
      for (const type of rule.listens ?? []) {
        const l = this.#listeners.get(type) ?? [];
        l.push(inst);
        this.#listeners.set(type, l);
      }
    }
    return list;
  }

  accept(m: DeviceMessage): void {
    if (m.channel === 'status') {
      const online = m.data['online'] === true;
      // A device announcing a planned stop is not an incident (coverage still counts the gap);
      // a Last Will ("connection lost") or any other offline status is.
      if (!online && plannedOffline.has(String(m.data['reason']))) return;
      const why = m.data['reason'] ? ` (${String(m.data['reason'])})` : '';
      this.#emit({
        site: m.site,
        deviceId: m.deviceId,
        kind: m.kind,
        type: 'device_offline',
        active: !online,
        reason: online ? 'back online' : `reported offline${why}`,
        ts: m.ts,
      });
      return;
    }
    for (const r of this.#instances(m.kind)) r.accept?.(m);
  }

  /** A condition from any source (rules, models, fleet health): rules that listen to its type hear it. */
  condition(c: Condition): void {
    for (const r of this.#listeners.get(c.type) ?? []) r.condition?.(c);
  }

  /** Conditions that end by silence (a brute-force attempt); call every second or so. */
  tick(now: number): void {
    for (const list of this.#byKind.values()) for (const r of list) r.tick?.(now);
  }
}
