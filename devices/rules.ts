/**
 * What a device kind (or a capability) says about alerts: the alert types it can raise, with
 * their default severity, and the rules that raise them from its messages. The alert engine in
 * `edge/alerts` runs them; a kind needs nothing outside its own folder to have alerts.
 *
 * A rule is a factory: the engine creates one instance per kind with that kind's settings (the
 * gateway configuration `kinds.<kind>.<setting>`, defaults from the rule's zod schema) and feeds
 * it every accepted message of the kind, a clock tick, and the conditions of the types it listens
 * to (a second opinion on another source's verdict, e.g. fire confirmation of a model's suspicion).
 */
import type { z } from 'zod';
import type { DeviceChannel } from './topics.ts';
import type { ZoneProfile } from './zones.ts';

export const severities = ['info', 'minor', 'major', 'critical'] as const;
export type Severity = (typeof severities)[number];

export interface AlertTypeSpec {
  severity: Severity;
  /** For operators and the API reference: what the alert means. */
  title: string;
}

/** A validated device message as rules see it (edge/message.ts DeviceMessage is one). */
export interface Observation {
  site: string;
  kind: string;
  deviceId: string;
  channel: DeviceChannel;
  /** Device time, epoch ms. */
  ts: number;
  data: Record<string, unknown>;
}

/** A rule's verdict on one condition of one device; the engine adds the severity the type declares. */
export interface Signal {
  site: string;
  deviceId: string;
  /** The zone it is in, when not the device's own (a camera watching a track from a platform). */
  zone?: string | null;
  kind: string;
  type: string;
  active: boolean;
  reason: string;
  evidence?: Record<string, unknown>;
  ts: number;
  /** Who says so ("rules" when absent). */
  source?: string;
  /** Set by the engine from the type's declaration; a rule leaves it out. */
  severity?: Severity;
}

export interface RuleContext<S> {
  settings: S;
  emit(s: Signal): void;
  /** The zone a device is registered in (null: none). */
  zoneOf(deviceId: string): string | null;
  /** What a zone of a site means (type, hours, thresholds), when an admin said so (devices/zones.ts). */
  zone(site: string, zone: string): ZoneProfile | undefined;
}

export interface RuleInstance {
  accept?(m: Observation): void;
  /** About once a second with the engine's clock: conditions that end by silence. */
  tick?(now: number): void;
  /** Conditions of the types the rule `listens` to, from any source (raise and clear). */
  condition?(c: Signal): void;
}

export interface RuleDefinition<S extends z.ZodObject = z.ZodObject> {
  name: string;
  /** Settings with defaults and descriptions; they become `kinds.<kind>.<key>` in the gateway configuration. */
  settings?: S;
  /** Alert types whose conditions this rule wants to hear about. */
  listens?: readonly string[];
  create(ctx: RuleContext<z.output<S>>): RuleInstance;
}

/** Typed helper: `defineRule({ name, settings: z.object({...}), create(ctx) {...} })`. */
export const defineRule = <S extends z.ZodObject>(r: RuleDefinition<S>): RuleDefinition<S> => r;

/**
 * A rule kept as small per-device state: `memory()` makes a device's state, `accept` reads one message.
 * `emit` is bound to the message's device.
 */
export function perDevice<M, S>(
  accept: (m: Observation, mem: M, emit: (type: string, active: boolean, reason: string, evidence?: Record<string, unknown>) => void, s: S) => void,
  memory: () => M,
): (ctx: RuleContext<S>) => RuleInstance {
  return (ctx) => {
    const mem = new Map<string, M>();
    return {
      accept(m) {
        let x = mem.get(m.deviceId);
        if (!x) mem.set(m.deviceId, (x = memory()));
        accept(
          m,
          x,
          (type, active, reason, evidence) => ctx.emit({ site: m.site, deviceId: m.deviceId, kind: m.kind, type, active, reason, evidence, ts: m.ts }),
          ctx.settings,
        );
      },
    };
  };
}
