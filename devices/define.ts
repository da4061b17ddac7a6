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
import type { AlertTypeSpec, RuleDefinition } from './rules.ts';

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
  /** Alert types the capability's rules raise. */
  alerts?: Record<string, AlertTypeSpec>;
  rules?: RuleDefinition[];
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
  /** Structured telemetry fields forwarded as a summary instead of flattened (field name → summary). */
  summaries?: Record<string, FieldSummary>;
  config: z.ZodRawShape;
  units: Record<string, UnitSpec>;
  capabilities: Capability[];
  /**
   * Alert types that concern this kind, with their default severity: those its rules raise and those
   * its detectors (models) raise. A type may be declared by several kinds with the same severity.
   */
  alerts?: Record<string, AlertTypeSpec>;
  /** Deterministic rules (devices/rules.ts) run by the alert engine on this kind's messages. */
  rules?: RuleDefinition[];
  /** The detector (feature extractor, edge/inference/detectors.ts) a model of this kind reads unless its manifest names another. */
  detector?: string;
  /** Forwarding defaults: telemetry summarised per window of this many seconds (0: every reading); `kinds.<kind>.aggregateS`. */
  aggregation?: { defaultS: number };
  /** Commands the device accepts on its `cmd` channel (name → what it takes and who may send it). */
  commands?: Record<string, CommandSpec>;
  /** Automation: when an alert of this type is raised on a device of the kind, the gateway sends it this command. */
  onAlert?: Record<string, { command: string; params?: Record<string, unknown> }>;
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

/** A command a kind accepts (devices/kinds/<kind>: `commands`). */
export interface CommandSpec {
  title: string;
  /** Its parameters (strict: an unknown parameter is refused). */
  params: z.ZodObject;
  /** Who may send it; default engineers and admins (of the device's site). */
  roles?: readonly ('consumer' | 'engineer' | 'admin')[];
  /** Refused while an alert of this type is open on the device, unless the parameters say `force: true`. */
  refusedDuring?: string;
  /** Seconds the device has to answer; default 10. */
  timeoutS?: number;
}

/** What a device answers on `cmd/reply`: the command's id, how it went, and what it has to say. */
export const commandReplySchema = z.object({
  ts: envelope.ts,
  id: z.string().min(1).max(64),
  status: z.enum(['ok', 'error', 'rejected']),
  data: z.record(z.string(), z.unknown()).optional(),
  error: z.string().max(500).optional(),
});

export type FieldValue = number | boolean | string;
export type FieldType = 'integer' | 'float' | 'boolean' | 'string';

/** A structured telemetry field summarised into scalar fields for the time-series store (a body camera's IMU window → peak, mean, sd). */
export interface FieldSummary {
  /** The fields `summarise` returns, with their types. */
  types: Record<string, FieldType>;
  summarise(v: unknown): Record<string, FieldValue>;
}
export type FieldConverters = Record<string, (v: FieldValue) => Record<string, FieldValue>>;

export interface DeviceDefinition<K extends string = string> {
  /** Field converters for the time-series store (DeviceSpec.forward). */
  forward: FieldConverters;
  summaries: Record<string, FieldSummary>;
  /** Alert types of the kind and its capabilities. */
  alerts: Record<string, AlertTypeSpec>;
  /** The kind's rules, then its capabilities'. */
  rules: RuleDefinition[];
  detector?: string;
  aggregation: { defaultS: number };
  /** The kind's settings (its rules' settings plus aggregateS): `kinds.<kind>` of the gateway configuration. */
  settings: z.ZodObject;
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
    commandReply: typeof commandReplySchema;
  };
  /** Command name → its declaration, with `params` strict. */
  commands: Record<string, CommandSpec & { params: z.ZodObject }>;
  onAlert: Record<string, { command: string; params?: Record<string, unknown> }>;
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
  const alerts: Record<string, AlertTypeSpec> = { ...spec.alerts };
  const rules: RuleDefinition[] = [...(spec.rules ?? [])];
  let snapshots = false;
  for (const cap of spec.capabilities) {
    Object.assign(telemetryShape, cap.telemetry ?? {});
    Object.assign(configShape, cap.config ?? {});
    Object.assign(units, cap.units ?? {});
    events.push(...(cap.events ?? []));
    snapshots ||= cap.snapshot === true;
    for (const [type, a] of Object.entries(cap.alerts ?? {})) {
      if (alerts[type] && alerts[type].severity !== a.severity) problems.push(`alert type "${type}" declared twice with different severities`);
      alerts[type] ??= a;
    }
    rules.push(...(cap.rules ?? []));
  }
  for (const type of Object.keys(alerts)) if (!/^[a-z][a-z0-9_]{1,47}$/.test(type)) problems.push(`alert type "${type}" must be lower_snake_case`);
  const names = rules.map((r) => r.name);
  const dupRules = names.filter((n, i) => names.indexOf(n) !== i);
  if (dupRules.length) problems.push(`duplicate rules: ${[...new Set(dupRules)].join(', ')}`);

  // The kind's settings: aggregation plus every rule's settings, flat (a key two rules declare is one setting).
  const settingsShape: Record<string, z.ZodType> = {
    aggregateS: z
      .number()
      .int()
      .min(0)
      .default(spec.aggregation?.defaultS ?? 0)
      .describe(`Forward ${spec.kind} telemetry as per-window min/max/mean over this many seconds (0 = every reading).`),
  };
  for (const r of rules) {
    for (const [key, schema] of Object.entries(r.settings?.shape ?? {})) {
      if (key in settingsShape && settingsShape[key] !== schema) problems.push(`setting "${key}" declared by two rules`);
      settingsShape[key] = schema;
    }
  }

  for (const [type, act] of Object.entries(spec.onAlert ?? {})) {
    if (!(type in alerts)) problems.push(`onAlert names alert type "${type}", which the kind does not declare`);
    if (!spec.commands?.[act.command]) problems.push(`onAlert "${type}" sends "${act.command}", which the kind does not declare as a command`);
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
    summaries: spec.summaries ?? {},
    alerts,
    rules,
    ...(spec.detector ? { detector: spec.detector } : {}),
    aggregation: { defaultS: spec.aggregation?.defaultS ?? 0 },
    settings: z.strictObject(settingsShape),
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
      commandReply: commandReplySchema,
    },
    onAlert: spec.onAlert ?? {},
    commands: Object.fromEntries(Object.entries(spec.commands ?? {}).map(([name, c]) => [name, { ...c, params: z.strictObject(c.params.shape) }])),
  };
}
