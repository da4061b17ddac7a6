/**
 * The alert pipeline, one home for alerts on the box:
 *
 *   device message ─▶ rules (per kind) ─┐
 *   detector verdict ────────────────────┼─▶ condition sources ─▶ engine ─▶ onChange
 *   fleet health (tick) ─────────────────┘        │                 │
 *                                                  └▶ rules that listen (fire confirmation)
 *
 * Ports: an AlertStore (the gateway gives SQLite), a zone lookup and a device directory (the
 * gateway's registry). Publication, commands and persistence live in `gateway/alerts`.
 */
import type { DeviceStates } from '../device-state.ts';
import { AlertEngine, type AlertListener, type AlertPolicy } from './engine.ts';
import { FleetHealth, type Coverage, type DeviceDirectory, type FleetHealthSettings } from './fleet-health.ts';
import type { Condition } from './model.ts';
import type { ZoneProfile } from '../../devices/index.ts';
import { RuleStage } from './rules.ts';
import { ConditionSources } from './sources.ts';
import type { AlertRecord, AlertStore } from './store.ts';

export interface AlertPipelineOptions {
  store: AlertStore;
  policy: AlertPolicy;
  now: () => number;
  zoneOf: (deviceId: string) => string | null;
  /** What a zone means (type, hours, thresholds), for the rules. */
  zoneInfo?: (site: string, zone: string) => ZoneProfile | undefined;
  /** Per-kind settings (`kinds.<kind>`) for the kinds' rules. */
  kindSettings?: Record<string, Record<string, unknown>>;
  /** Missed heartbeats and coverage; absent: no fleet health. */
  fleet?: { states: DeviceStates; directory: DeviceDirectory; settings: FleetHealthSettings };
  /** A condition or tick that failed; the pipeline carries on with the next. */
  onError?: (err: unknown, what: { condition?: Condition; tick?: true }) => void;
}

export class AlertPipeline {
  readonly engine: AlertEngine;
  /** The pipeline stage that runs the kinds' rules on every accepted message. */
  readonly rules: RuleStage;
  /** Rules, fleet health and detectors may speak about one condition: it clears when all have cleared. */
  readonly sources: ConditionSources;
  readonly health?: FleetHealth;
  coverage: Coverage[] = [];
  readonly #opts: AlertPipelineOptions;

  constructor(opts: AlertPipelineOptions) {
    this.#opts = opts;
    this.engine = new AlertEngine(opts.store, opts.policy, opts.now, opts.zoneOf);
    this.sources = new ConditionSources((c) => this.engine.signal(c));
    this.rules = new RuleStage((c) => this.signal(c), { settings: opts.kindSettings, zoneOf: opts.zoneOf, zoneInfo: opts.zoneInfo });
    if (opts.fleet) this.health = new FleetHealth(opts.fleet.states, opts.fleet.directory, opts.fleet.settings, opts.now);
  }

  onChange(fn: AlertListener): () => void {
    return this.engine.onChange(fn);
  }

  /** A verdict from any source (rules, detectors, fleet health). Never throws: a failure is reported and the next condition is served. */
  signal(c: Condition): void {
    try {
      this.sources.signal(c);
      this.rules.condition(c);
    } catch (err) {
      this.#opts.onError?.(err, { condition: c });
    }
  }

  /** Silence-ended conditions, fleet health and the engine's deadlines; about once a second. */
  tick(): void {
    try {
      this.rules.tick(this.#opts.now());
      if (this.health) this.#applyHealth(this.health.check());
      this.engine.tick();
    } catch (err) {
      this.#opts.onError?.(err, { tick: true });
    }
  }

  #scanning = false;
  #halted = false;

  #applyHealth(h: { conditions: Condition[]; coverage: Coverage[] }): void {
    this.coverage = h.coverage;
    for (const c of h.conditions) this.signal(c);
  }

  /** No more sliced ticks, and a scan under way is dropped (shutdown: devices going away are not an outage). */
  halt(): void {
    this.#halted = true;
  }

  /**
   * What the gateway's once-a-second timer calls: tick() with the fleet scan spread over event-loop
   * turns, at most `slice` devices a turn (a 10,000-device scan in one go stalls every message and
   * alert behind it for tens of milliseconds). One scan at a time; a slow one delays the next.
   */
  tickSliced(slice: number): void {
    try {
      this.rules.tick(this.#opts.now());
      this.engine.tick();
    } catch (err) {
      this.#opts.onError?.(err, { tick: true });
    }
    if (this.#halted || !this.health || this.#scanning) return;
    this.#scanning = true;
    const scan = this.health.scan(slice);
    const step = () => {
      if (this.#halted) return;
      try {
        const r = scan.next();
        if (!r.done) return void setImmediate(step);
        this.#scanning = false;
        this.#applyHealth(r.value);
      } catch (err) {
        this.#scanning = false;
        this.#opts.onError?.(err, { tick: true });
      }
    };
    step();
  }

  acknowledge(id: string, who: string, note?: string): AlertRecord {
    return this.engine.acknowledge(id, who, note);
  }

  resolve(id: string, who: string, note?: string): AlertRecord {
    return this.engine.resolve(id, who, note);
  }
}
