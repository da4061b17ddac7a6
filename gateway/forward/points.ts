/**
 * The InfluxDB schema (README "Forwarding"), one line-protocol encoder for every point:
 * - measurements: one per device kind for telemetry (`smoke`, `door`, ...), `<kind>_agg` for edge
 *   aggregates (min/max/mean of a window: never mixed with raw readings), `events`, `status`,
 *   `config`, `snapshots` and `alerts`;
 * - tags: `gateway` (which box), `site`, `zone`, `kind`, `device` (+ `type` on events; alert state tags);
 * - field types come from the kind's zod schema: `.int()` → integer (`12i`), other numbers → float,
 *   booleans, strings; so a field never changes type between points (InfluxDB refuses that);
 * - a field named like a tag (a camera event's `zone`) is written as `data_<name>`: InfluxDB 3
 *   refuses one name as both tag and field, and Flux mixes them up;
 * - the kind's own converters (`forward` in devices/kinds/*) reshape fields, e.g. door state → `door_open` boolean;
 * - personal data per the privacy setting: officer ids and credential ids hashed (HMAC, a stable
 *   pseudonym per key), GPS coarsened — or forwarded, or dropped.
 * Millisecond timestamps (the device's measurement time). Lines are written directly (no `Point`
 * object per point: the pipeline encodes one per message), with the official client's escaping and
 * its ordering (tags and fields sorted by key), byte for byte what its `Point` writes (tested).
 */
import { alertTimes } from '../../edge/alerts/sla.ts';
import { createHmac } from 'node:crypto';
import { escape } from '@influxdata/influxdb-client';
import { z } from 'zod';
import { getKind, type FieldSummary, type FieldType } from '../../devices/index.ts';
import type { DeviceMessage } from '../../edge/message.ts';
import type { AlertEvent } from '../../edge/alerts/model.ts';
import type { AlertRecord } from '../../edge/alerts/store.ts';

/** Spool classes, in the order they are sacrificed when the spool is full (alerts last). */
export type PointClass = 'telemetry' | 'event' | 'status' | 'alert';

export type Fields = Record<string, number | boolean | string>;
export type { FieldType };

/** Flatten a reading into scalar fields: `gps.lat` → `gps_lat`; a field the kind summarises (an IMU window) → its summary. */
export function flatten(data: Record<string, unknown>, kind?: string): Fields {
  return flattenInto(data, '', {}, kind ? getKind(kind)?.summaries : undefined);
}

function flattenInto(data: Record<string, unknown>, prefix: string, out: Fields, summaries?: Record<string, FieldSummary>): Fields {
  for (const [k, v] of Object.entries(data)) {
    const name = prefix ? `${prefix}_${k}` : k;
    const summary = !prefix ? summaries?.[k] : undefined;
    if (typeof v === 'number' && Number.isFinite(v)) out[name] = v;
    else if (typeof v === 'boolean' || typeof v === 'string') out[name] = v;
    else if (summary && v && typeof v === 'object') Object.assign(out, summary.summarise(v));
    else if (v && typeof v === 'object' && !Array.isArray(v)) flattenInto(v as Record<string, unknown>, name, out);
  }
  return out;
}

/** Fields computed at the edge (not in any device schema), with their types. */
const computed: Record<string, FieldType> = {
  samples: 'integer',
  event_count: 'integer',
  bytes: 'integer',
  width: 'integer',
  height: 'integer',
  alert_id: 'string',
  incident_id: 'string',
  reason: 'string',
  version: 'integer',
  repeat_count: 'integer',
  escalation_level: 'integer',
  age_s: 'float',
  time_to_ack_s: 'float',
  time_to_resolve_s: 'float',
  time_to_accept_s: 'float',
  time_to_arrive_s: 'float',
};

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
};

function walk(s: JsonSchema, prefix: string, out: Record<string, FieldType>): void {
  for (const alt of [...(s.anyOf ?? []), ...(s.oneOf ?? []), ...(s.allOf ?? [])]) walk(alt, prefix, out);
  const t = Array.isArray(s.type) ? s.type.find((x) => x !== 'null') : s.type;
  if (t === 'object' || s.properties) {
    for (const [k, v] of Object.entries(s.properties ?? {})) walk(v, prefix ? `${prefix}_${k}` : k, out);
    return;
  }
  if (!prefix) return;
  const ft: FieldType | undefined =
    t === 'integer'
      ? 'integer'
      : t === 'number'
        ? 'float'
        : t === 'boolean'
          ? 'boolean'
          : t === 'string' || s.enum || typeof s.const === 'string'
            ? 'string'
            : undefined;
  if (!ft) return;
  // Two event types of a kind declaring one field differently: the wider type wins (float over integer).
  const prev = out[prefix];
  out[prefix] = prev === 'float' && ft === 'integer' ? 'float' : prev === 'integer' && ft === 'float' ? 'float' : ft;
}

const typeCache = new Map<string, Record<string, FieldType>>();
/** Field name → type for a kind's telemetry or events, from its zod schema. */
export function fieldTypes(kind: string, channel: 'telemetry' | 'event' | 'status' | 'config/reported'): Record<string, FieldType> {
  const key = `${kind}:${channel}`;
  let t = typeCache.get(key);
  if (!t) {
    t = {};
    const def = getKind(kind);
    if (def) {
      const schema =
        channel === 'telemetry'
          ? def.schemas.telemetry
          : channel === 'event'
            ? def.schemas.event
            : channel === 'status'
              ? def.schemas.status
              : def.schemas.configReported;
      walk(z.toJSONSchema(schema, { unrepresentable: 'any', io: 'input' }) as JsonSchema, '', t);
      if (channel === 'telemetry') for (const summary of Object.values(def.summaries)) Object.assign(t, summary.types);
    }
    typeCache.set(key, t);
  }
  return t;
}

export const TAG_KEYS = ['gateway', 'site', 'zone', 'kind', 'device', 'type', 'severity', 'state', 'event'] as const;

export type PersonalPolicy = 'forward' | 'hash' | 'drop';
export interface Privacy {
  /** Officer ids (body cameras' `officer`). */
  officerId: PersonalPolicy;
  /** Credential ids (card numbers, face-template ids) of door events. */
  credentialId: PersonalPolicy;
  /** GPS position: exact, coarsened to `gpsDecimals`, or dropped. */
  gps: 'forward' | 'coarse' | 'drop';
  gpsDecimals: number;
}
export const defaultPrivacy: Privacy = { officerId: 'hash', credentialId: 'hash', gps: 'coarse', gpsDecimals: 2 };

/** Which privacy class a flattened field belongs to. */
function personalClass(field: string): 'officerId' | 'credentialId' | 'gps' | undefined {
  if (field === 'officer' || field === 'officer_id') return 'officerId';
  if (field === 'credential_id') return 'credentialId';
  if (field === 'gps_lat' || field === 'gps_lon') return 'gps';
  return undefined;
}

/**
 * One line of line protocol, as the client's `Point` writes it: tags and fields sorted by key, empty
 * tags left out, the client's escaping; a number is an integer (`12i`) where `types` (or the edge's
 * computed fields) declare one. Undefined without fields.
 */
export function lineOf(
  measurement: string,
  tags: Record<string, string | null | undefined>,
  fields: Fields,
  ts: number,
  types: Record<string, FieldType>,
): string | undefined {
  let f = '';
  for (const k of Object.keys(fields).sort()) {
    if (!k) continue;
    const v = fields[k]!;
    let enc: string;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new Error(`invalid float value for field '${k}': ${v}`);
      const declared = types[k] ?? types[k.replace(/^data_/, '')] ?? computed[k];
      enc = declared === 'integer' && Number.isSafeInteger(v) ? `${v}i` : String(v);
    } else if (typeof v === 'boolean') enc = v ? 'T' : 'F';
    else enc = escape.quoted(v);
    f += `${f ? ',' : ''}${escape.tag(k)}=${enc}`;
  }
  if (!f) return undefined;
  let t = '';
  for (const k of Object.keys(tags).sort()) {
    const v = tags[k];
    if (k && v) t += `,${escape.tag(k)}=${escape.tag(v)}`;
  }
  return `${escape.measurement(measurement)}${t} ${f} ${Math.floor(ts)}`;
}

/** What a field name becomes: its privacy class, and its name in the point (`data_<name>` for a tag's name). */
const plans = new Map<string, { cls: ReturnType<typeof personalClass>; name: string }>();
function fieldPlan(k: string): { cls: ReturnType<typeof personalClass>; name: string } {
  let plan = plans.get(k);
  if (!plan) {
    plan = { cls: personalClass(k.replace(/_(min|max|mean)$/, '')), name: (TAG_KEYS as readonly string[]).includes(k) ? `data_${k}` : k };
    // Field names come from the kinds' schemas; the bound only keeps a flood of odd names from growing it.
    if (plans.size < 10_000) plans.set(k, plan);
  }
  return plan;
}

export interface Line {
  cls: PointClass;
  ts: number;
  /** Line protocol for InfluxDB; for the MQTT uplink, a JSON {topic, payload, retain}. */
  line: string;
  /** The forward target the row is for (default `influx`). */
  target?: string;
}

const measurementOf: Record<DeviceMessage['channel'], string | undefined> = {
  telemetry: undefined, // the kind
  event: 'events',
  status: 'status',
  'config/reported': 'config',
  snapshot: 'snapshots',
  'cmd/reply': undefined, // not forwarded: commands are the box's own business (audited there)
};

export interface EncoderOptions {
  gatewayId: string;
  privacy?: Privacy;
  /** Key of the pseudonyms (HMAC-SHA256): the same id gives the same pseudonym under one key. */
  pseudonymKey?: Buffer;
}

export class LineEncoder {
  readonly #gateway: string;
  readonly #privacy: Privacy;
  readonly #key: Buffer;

  constructor(o: EncoderOptions) {
    this.#gateway = o.gatewayId;
    this.#privacy = o.privacy ?? defaultPrivacy;
    this.#key = o.pseudonymKey ?? Buffer.alloc(0);
    if ((this.#privacy.officerId === 'hash' || this.#privacy.credentialId === 'hash') && !this.#key.length)
      throw new Error('hashing personal ids needs a pseudonym key');
  }

  pseudonym(id: string): string {
    return createHmac('sha256', this.#key).update(id).digest('hex').slice(0, 16);
  }

  /** Privacy, converters and tag collisions applied to a point's fields. */
  #shape(kind: string, fields: Fields): Fields {
    const out: Fields = {};
    const convert = getKind(kind)?.forward;
    for (const k0 in fields) {
      const v0 = fields[k0]!;
      const conv = convert?.[k0];
      if (!conv) this.#put(out, k0, v0);
      else for (const [k, v] of Object.entries(conv(v0))) this.#put(out, k, v);
    }
    return out;
  }

  #put(out: Fields, k: string, v: number | boolean | string): void {
    const plan = fieldPlan(k);
    let value = v;
    if (plan.cls === 'gps') {
      if (this.#privacy.gps === 'drop') return;
      if (this.#privacy.gps === 'coarse' && typeof v === 'number') value = Number(v.toFixed(this.#privacy.gpsDecimals));
    } else if (plan.cls) {
      const policy = this.#privacy[plan.cls];
      if (policy === 'drop') return;
      if (policy === 'hash') value = this.pseudonym(String(v));
    }
    out[plan.name] = value;
  }

  #point(
    measurement: string,
    tags: Record<string, string | null | undefined>,
    fields: Fields,
    ts: number,
    types: Record<string, FieldType>,
  ): string | undefined {
    return lineOf(measurement, { gateway: this.#gateway, ...tags }, fields, ts, types);
  }

  /** A device message as one point (telemetry: one per reading, or pass the fields of an aggregate to `aggregate`). */
  message(m: DeviceMessage, zone: string | null, fields?: Fields): Line | undefined {
    if (m.channel === 'cmd/reply') return undefined;
    const tags: Record<string, string | null> = { site: m.site, zone, kind: m.kind, device: m.deviceId };
    let f: Fields;
    let cls: PointClass = 'telemetry';
    if (m.channel === 'snapshot') f = { bytes: m.snapshot?.jpeg.length ?? 0, width: m.snapshot?.width ?? 0, height: m.snapshot?.height ?? 0 };
    else f = fields ?? flatten(m.data, m.kind);
    if (m.channel === 'event') {
      cls = 'event';
      const { type, ...rest } = f;
      tags['type'] = String(type);
      // One field every event carries, whatever its type: dashboards count events on it.
      f = { event_count: 1, ...rest };
    }
    if (m.channel === 'status' || m.channel === 'config/reported') cls = 'status';
    f = this.#shape(m.kind, f);
    if (!Object.keys(f).length) return undefined;
    const types = m.channel === 'snapshot' ? computed : fieldTypes(m.kind, m.channel);
    const line = this.#point(measurementOf[m.channel] ?? m.kind, tags, f, m.ts, types);
    return line ? { cls, ts: m.ts, line } : undefined;
  }

  /** An edge aggregate (Aggregator): its own measurement `<kind>_agg`, `samples` and `<field>_min/_max/_mean`. */
  aggregate(m: DeviceMessage, zone: string | null, fields: Fields): Line | undefined {
    const f = this.#shape(m.kind, fields);
    const line = this.#point(`${m.kind}_agg`, { site: m.site, zone, kind: m.kind, device: m.deviceId }, f, m.ts, computed);
    return line ? { cls: 'telemetry', ts: m.ts, line } : undefined;
  }

  /** `age_s`: seconds since the alert was raised — on `acknowledged`, the response time; on `resolved`, the handling time (the 1-3-5 clocks). */
  alert(a: AlertRecord, event: AlertEvent, ts: number): Line {
    const times = alertTimes(a);
    const line = this.#point(
      'alerts',
      { site: a.site, zone: a.zone, kind: a.kind, device: a.deviceId, type: a.type, severity: a.severity, state: a.state, event },
      {
        alert_id: a.id,
        incident_id: a.incidentId,
        reason: a.reason,
        version: a.version,
        repeat_count: a.repeatCount,
        escalation_level: a.escalationLevel,
        age_s: Math.max(0, (ts - a.raisedAt) / 1000),
        // The 1-3-5 figures, once there are: dashboards chart them per site and type.
        ...(times.toAckS !== null ? { time_to_ack_s: times.toAckS } : {}),
        ...(times.toResolveS !== null ? { time_to_resolve_s: times.toResolveS } : {}),
        ...(times.toAcceptS !== null ? { time_to_accept_s: times.toAcceptS } : {}),
        ...(times.toArriveS !== null ? { time_to_arrive_s: times.toArriveS } : {}),
      },
      ts,
      computed,
    );
    return { cls: 'alert', ts, line: line! };
  }

  /** Box health as `box` (spool and circuit per forward target, open alerts) and `coverage` (per site and kind) points. */
  health(h: BoxHealth, ts: number): Line[] {
    const box: Fields = { uptime_s: h.uptimeS, open_alerts: h.openAlerts };
    for (const [t, u] of Object.entries(h.uplinks))
      Object.assign(box, { [`spooled_${t}`]: u.spooled, [`oldest_age_s_${t}`]: u.oldestAgeS, [`circuit_${t}`]: circuitCode[u.circuit] ?? 2 });
    const ints = Object.fromEntries(Object.keys(box).map((k) => [k, 'integer' as const]));
    const out: Line[] = [{ cls: 'status', ts, line: this.#point('box', {}, box, ts, ints)! }];
    for (const c of h.coverage) {
      out.push({
        cls: 'status',
        ts,
        line: this.#point('coverage', { site: c.site, kind: c.kind }, { healthy: c.healthy, registered: c.registered, ratio: c.ratio }, ts, {
          healthy: 'integer',
          registered: 'integer',
          ratio: 'float',
        })!,
      });
    }
    return out;
  }
}

const circuitCode: Record<string, number> = { closed: 0, half_open: 1, open: 2 };

/** What Gateway.boxHealth() reports. */
export interface BoxHealth {
  box: string;
  uptimeS: number;
  openAlerts: number;
  uplinks: Record<string, { circuit: string; spooled: number; oldestAgeS: number }>;
  coverage: { site: string; kind: string; healthy: number; registered: number; ratio: number }[];
}
