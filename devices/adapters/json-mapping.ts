/**
 * The generic JSON mapping: an installer adds a sensor that pushes JSON of its own shape without code, by
 * declaring a profile in the gateway configuration (`adapters.profiles.<name>`). The profile names the
 * Vigil kind the sensor is, and where each of the kind's readings and events is in the vendor's JSON, as
 * JSON Pointers (RFC 6901), with the units the vendor uses:
 *
 * ```json
 * "acme-smoke": {
 *   "kind": "smoke",
 *   "time": { "from": "/sampled_at", "format": "iso" },
 *   "telemetry": {
 *     "temperature_c": { "from": "/env/temp", "unit": "degF" },
 *     "humidity_pct": "/env/rh",
 *     "eco2_ppm": "/air/co2",
 *     "obscuration_pct_m": { "from": "/optical/obsc", "scale": 100 }
 *   },
 *   "events": [{ "when": { "from": "/alarm", "equals": true }, "event": { "type": "alarm", "active": true, "source": "smoke" } }],
 *   "status": { "from": "/state", "online": "ok" }
 * }
 * ```
 *
 * The profile is checked when the configuration loads, against the kind: every field it names must be a
 * field of the kind, the readings must cover the kind's required ones, each unit must be one the field's
 * quantity converts from, each event type must be the kind's and its fields the event's, and every pointer
 * must be well formed; a mistake stops the gateway at start with the path of the mistake (exit code 2),
 * not at 2 a.m. on the first alarm. It becomes the adapter `json-<name>` (HTTP push, like any adapter; the
 * device carries the tag `adapter:json-<name>`). What it maps goes through the same ingest as a native
 * device: the units are converted and the kind's schema checks the values.
 *
 * An event fires when its condition becomes true (or is true the first time it is seen), as vendors send
 * their whole state each time; `"every": true` fires it on every message where it holds.
 */
import jsonpointer from 'jsonpointer';
import { z } from 'zod';
import { envelope, getKind } from '../index.ts';
import { acceptedUnits } from '../units.ts';
import { defineAdapter, type AdaptedMessage, type AdapterDefinition, type Translation } from '../adapters.ts';

const pointer = z
  .string()
  .max(256)
  .refine((p) => {
    try {
      jsonpointer.compile(p);
      return true;
    } catch {
      return false;
    }
  }, 'must be a JSON Pointer (RFC 6901) such as /env/temp');
const scalar = z.union([z.string(), z.number(), z.boolean()]);

export const jsonProfileSchema = z
  .object({
    kind: z.string().describe('the Vigil kind the sensor is'),
    title: z.string().max(120).optional(),
    time: z
      .object({ from: pointer, format: z.enum(['ms', 's', 'iso']).default('ms') })
      .strict()
      .optional()
      .describe('where the sensor says when; without it, the time of arrival'),
    telemetry: z
      .record(z.string(), z.union([pointer, z.object({ from: pointer, unit: z.string().optional(), scale: z.number().optional() }).strict()]))
      .default({})
      .describe('kind field → pointer, or {from, unit, scale}: the value is multiplied by scale, then converted from unit'),
    events: z
      .array(
        z
          .object({
            when: z.object({ from: pointer, equals: scalar }).strict(),
            event: z.record(z.string(), z.unknown()).describe('the canonical event (with its type); fixed values'),
            fields: z.record(z.string(), pointer).default({}).describe('event field → pointer, for values taken from the message'),
            every: z.boolean().default(false),
          })
          .strict(),
      )
      .default([]),
    status: z.object({ from: pointer, online: scalar }).strict().optional().describe('online when the value at `from` equals `online`'),
  })
  .strict();
export type JsonProfile = z.output<typeof jsonProfileSchema>;

export type ProfileIssue = { path: (string | number)[]; message: string };

/** The kind-aware checks of a profile that parsed; empty when it is sound. */
export function checkProfile(p: JsonProfile): ProfileIssue[] {
  const issues: ProfileIssue[] = [];
  const kind = getKind(p.kind);
  if (!kind) return [{ path: ['kind'], message: `unknown kind "${p.kind}"` }];
  const shape = kind.schemas.telemetry.shape as Record<string, z.ZodType>;
  const own = Object.keys(shape).filter((f) => !(f in envelope));
  for (const [field, m] of Object.entries(p.telemetry)) {
    if (!own.includes(field)) {
      issues.push({ path: ['telemetry', field], message: `"${field}" is not a ${p.kind} reading (readings: ${own.join(', ')})` });
      continue;
    }
    const u = typeof m === 'string' ? undefined : m.unit;
    if (u !== undefined) {
      const q = kind.units[field]?.quantity ?? 'none';
      const ok = acceptedUnits(q);
      if (!ok.includes(u))
        issues.push({
          path: ['telemetry', field, 'unit'],
          message: ok.length ? `"${u}" is not a unit of ${field} (use one of ${ok.join(', ')})` : `${field} takes no unit conversion`,
        });
    }
  }
  if (Object.keys(p.telemetry).length) {
    const missing = own.filter((f) => !shape[f]!.safeParse(undefined).success && !(f in p.telemetry));
    if (missing.length) issues.push({ path: ['telemetry'], message: `a ${p.kind} reading needs ${missing.join(', ')} too` });
  }
  p.events.forEach((e, i) => {
    const type = e.event['type'];
    if (typeof type !== 'string' || !kind.eventTypes.includes(type)) {
      issues.push({ path: ['events', i, 'event', 'type'], message: `must be an event type of ${p.kind} (${kind.eventTypes.join(', ')})` });
      return;
    }
    const names = eventFields(p.kind, type);
    for (const f of [...Object.keys(e.event), ...Object.keys(e.fields)])
      if (f !== 'type' && !names.includes(f))
        issues.push({
          path: ['events', i, f in e.fields ? 'fields' : 'event', f],
          message: `"${f}" is not a field of ${type} (${names.join(', ') || 'none'})`,
        });
  });
  return issues;
}

/** The fields of one event type of a kind. */
function eventFields(kind: string, type: string): string[] {
  const schema = getKind(kind)!.schemas.event as unknown as { options?: z.ZodObject[] } & z.ZodType;
  const members = (schema.options ?? [schema]) as z.ZodObject[];
  const m = members.find((o) => {
    const t = o.shape?.['type'];
    return t instanceof z.ZodLiteral && t.value === type;
  });
  return m ? Object.keys(m.shape).filter((k) => k !== 'type' && !(k in envelope)) : [];
}

const at = (doc: unknown, p: string): unknown => {
  try {
    return jsonpointer.get(doc as object, p);
  } catch {
    return undefined;
  }
};

/** A checked profile as the adapter `json-<name>`. */
export function profileAdapter(name: string, p: JsonProfile): AdapterDefinition {
  return defineAdapter({
    name: `json-${name}`,
    title: p.title ?? `JSON profile "${name}" (${p.kind})`,
    docs: ['gateway configuration: adapters.profiles.' + name],
    transport: 'http-push',
    kinds: [p.kind],
    guessKind: () => p.kind,
    fromDevice(push, _kind, memory): Translation {
      let doc: unknown;
      try {
        doc = JSON.parse(push.body.toString('utf8'));
      } catch (err) {
        return { ok: false, message: `not JSON: ${(err as Error).message}` };
      }
      if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return { ok: false, message: 'the message must be a JSON object' };
      let ts: number | undefined;
      if (p.time) {
        const v = at(doc, p.time.from);
        if (v !== undefined) {
          ts = p.time.format === 'iso' ? (typeof v === 'string' ? Date.parse(v) : NaN) : typeof v === 'number' ? (p.time.format === 's' ? v * 1000 : v) : NaN;
          if (!Number.isFinite(ts)) return { ok: false, message: `${p.time.from} ${JSON.stringify(v)} is not a time (${p.time.format})` };
        }
      }
      const when = ts !== undefined ? { ts } : {};
      const out: AdaptedMessage[] = [];
      const reading: Record<string, unknown> = {};
      const units: Record<string, string> = {};
      const absent: string[] = [];
      for (const [field, m] of Object.entries(p.telemetry)) {
        const spec = typeof m === 'string' ? { from: m } : m;
        let v = at(doc, spec.from);
        if (v === undefined) {
          absent.push(`${spec.from} (${field})`);
          continue;
        }
        if (spec.scale !== undefined) {
          if (typeof v !== 'number') return { ok: false, message: `${spec.from} is ${JSON.stringify(v)}, not a number (${field})` };
          v = v * spec.scale;
        }
        reading[field] = v;
        if (spec.unit) units[field] = spec.unit;
      }
      if (Object.keys(reading).length) {
        const kind = getKind(p.kind)!;
        const required = absent.filter(
          (a) => !(kind.schemas.telemetry.shape as Record<string, z.ZodType>)[a.slice(a.indexOf('(') + 1, -1)]!.safeParse(undefined).success,
        );
        if (required.length) return { ok: false, message: `the reading lacks ${required.join(', ')}` };
        out.push({ channel: 'telemetry', data: { ...reading, ...(Object.keys(units).length ? { units } : {}) }, ...when });
      }
      p.events.forEach((e, i) => {
        const holds = at(doc, e.when.from) === e.when.equals;
        const key = `event${i}`;
        const before = memory[key];
        memory[key] = holds;
        if (!holds || (!e.every && before === true)) return;
        const data: Record<string, unknown> = { ...e.event };
        for (const [f, ptr] of Object.entries(e.fields)) {
          const v = at(doc, ptr);
          if (v !== undefined) data[f] = v;
        }
        out.push({ channel: 'event', data, ...when });
      });
      if (p.status) {
        const v = at(doc, p.status.from);
        if (v !== undefined) out.push({ channel: 'status', data: { online: v === p.status.online }, ...when });
      }
      return { ok: true, messages: out, ...(out.length ? {} : { note: 'nothing the profile maps' }) };
    },
  });
}
