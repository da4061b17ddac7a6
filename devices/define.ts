/**
 * `defineDevice()` turns a declarative description of a device kind into the
 * schemas, units and topic list the gateway and simulators share.
 *
 * A kind is data (zigbee-herdsman-converters style): its own readings and
 * events, plus reusable capabilities (`battery()`, `tamper()`, `gps()`,
 * `snapshot()`) that each contribute fields, events, config and units.
 */
import { z } from 'zod';
import type { UnitSpec } from './units.ts';

/** Site, zone and device identifiers: safe in MQTT topics, file names and URLs. */
export const idSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ . - starting with a letter or digit');

/**
 * Fields every device → gateway JSON message may carry.
 * `ts`: when the device measured it (epoch ms or ISO 8601); the gateway stamps
 * the receive time when it is missing or implausible.
 * `seq`: a per-device counter so gaps can be detected downstream.
 * `units`: per-field unit overrides (see units.ts).
 */
export const envelope = {
  ts: z.union([z.number().int().nonnegative(), z.iso.datetime({ offset: true })]).optional(),
  seq: z.number().int().nonnegative().optional(),
  units: z.record(z.string(), z.string()).optional(),
};

export interface Capability {
  name: string;
  telemetry?: z.ZodRawShape;
  events?: z.ZodObject[];
  config?: z.ZodRawShape;
  units?: Record<string, UnitSpec>;
  snapshot?: boolean;
}

export interface DeviceSpec<K extends string> {
  kind: K;
  title: string;
  description: string;
  /** Nominal telemetry period; the device is late after 3 of them (fleet health). */
  telemetryPeriodS: number;
  telemetry: z.ZodRawShape;
  events: z.ZodObject[];
  /**
   * How a flattened field is written to the time-series store, when not as is: e.g. a door's
   * `door: "open" | "closed"` becomes the boolean `door_open`, which a dashboard can graph.
   */
  forward?: FieldConverters;
  config: z.ZodRawShape;
  units: Record<string, UnitSpec>;
  capabilities: Capability[];
}

export const statusSchema = z.object({
  online: z.boolean(),
  ts: envelope.ts,
  firmware: z.string().max(64).optional(),
  uptime_s: z.number().nonnegative().optional(),
  reason: z.string().max(200).optional(),
});

export const configReportedSchema = z.object({
  ts: envelope.ts,
  version: z.number().int().nonnegative(),
  status: z.enum(['applied', 'rejected']),
  reason: z.string().max(500).optional(),
});

export type FieldValue = number | boolean | string;
export type FieldConverters = Record<string, (v: FieldValue) => Record<string, FieldValue>>;

export interface DeviceDefinition<K extends string = string> {
  /** Field converters for the time-series store (DeviceSpec.forward). */
  forward: FieldConverters;
  kind: K;
  title: string;
  description: string;
  telemetryPeriodS: number;
  capabilities: string[];
  eventTypes: string[];
  /** Field → canonical unit, for telemetry fields that carry a physical quantity. */
  units: Record<string, UnitSpec>;
  /** Whether the kind publishes binary JPEG snapshots. */
  snapshots: boolean;
  schemas: {
    telemetry: z.ZodObject;
    event: z.ZodType;
    status: typeof statusSchema;
    config: z.ZodObject;
    configReported: typeof configReportedSchema;
  };
}

function eventTypeOf(e: z.ZodObject): string {
  const t = e.shape['type'];
  if (!(t instanceof z.ZodLiteral) || typeof t.value !== 'string') {
    throw new Error('every event schema needs a string literal "type" field');
  }
  return t.value;
}

export function defineDevice<K extends string>(spec: DeviceSpec<K>): DeviceDefinition<K> {
  const problems: string[] = [];
  if (!/^[a-z][a-z0-9]{1,31}$/.test(spec.kind)) problems.push(`kind "${spec.kind}" must be lower-case letters and digits`);

  const telemetryShape: z.ZodRawShape = { ...envelope, ...spec.telemetry };
  const configShape: z.ZodRawShape = { ...spec.config };
  const units: Record<string, UnitSpec> = { ...spec.units };
  const events = [...spec.events];
  let snapshots = false;
  for (const cap of spec.capabilities) {
    Object.assign(telemetryShape, cap.telemetry ?? {});
    Object.assign(configShape, cap.config ?? {});
    Object.assign(units, cap.units ?? {});
    events.push(...(cap.events ?? []));
    snapshots ||= cap.snapshot === true;
  }

  const eventTypes = events.map(eventTypeOf);
  const dup = eventTypes.filter((t, i) => eventTypes.indexOf(t) !== i);
  if (dup.length) problems.push(`duplicate event types: ${[...new Set(dup)].join(', ')}`);
  for (const field of Object.keys(units)) {
    if (!(field.split('.')[0]! in telemetryShape)) problems.push(`unit declared for unknown telemetry field "${field}"`);
  }
  if (problems.length) throw new Error(`invalid device definition "${spec.kind}": ${problems.join('; ')}`);

  const eventSchemas = events.map((e) => e.extend(envelope));
  const event =
    eventSchemas.length === 1
      ? eventSchemas[0]!
      : z.discriminatedUnion('type', eventSchemas as unknown as [z.ZodObject, z.ZodObject, ...z.ZodObject[]], {
          error: (iss) => (iss.code === 'invalid_union' ? `unknown event type; expected one of: ${eventTypes.join(', ')}` : undefined),
        });

  return {
    kind: spec.kind,
    title: spec.title,
    description: spec.description,
    telemetryPeriodS: spec.telemetryPeriodS,
    forward: spec.forward ?? {},
    capabilities: spec.capabilities.map((c) => c.name),
    eventTypes,
    units,
    snapshots,
    schemas: {
      telemetry: z.object(telemetryShape),
      event,
      status: statusSchema,
      // Strict: a typo in a setting is refused, not silently dropped (and a new version pushed for nothing).
      config: z.strictObject(configShape),
      configReported: configReportedSchema,
    },
  };
}
