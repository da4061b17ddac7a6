/**
 * Ingest: topic → kind → size → parse → units → schema → time.
 * Pure apart from the JPEG decode; the broker policy calls it for every publish
 * and turns a refusal into an `/error` message and a counter.
 */
import { getKind, parseTopic, type DeviceAddress, type DeviceChannel, type DeviceDefinition } from '../devices/index.ts';
import { decodeSnapshot, InvalidJpegError } from './jpeg.ts';
import type { DeviceMessage, IngestResult, Issue, Refusal } from './message.ts';
import { applyUnits, resolveTime } from './normalise.ts';

export interface IngestLimits {
  /** Largest accepted JSON payload, bytes. */
  maxJsonBytes: number;
  /** Largest accepted snapshot, bytes. */
  maxSnapshotBytes: number;
  /** Device timestamps further than this from the gateway clock are replaced by the receive time. */
  maxClockSkewMs: number;
}

export interface IngestInput {
  topic: string;
  payload: Buffer;
  clientId: string;
  qos: 0 | 1 | 2;
  receivedAt: number;
  /** Where the registry says this device is: a device may publish only as its own kind at its own site. */
  registered?: { site: string; kind: string };
}

export interface Route {
  address: DeviceAddress;
  channel: DeviceChannel;
  def: DeviceDefinition;
}

const refuse = (code: Refusal['code'], message: string, issues?: Issue[]): { ok: false; refusal: Refusal } => ({
  ok: false,
  refusal: issues ? { code, message, issues } : { code, message },
});

/** Which device and channel a publish is for, and whether this client may publish there. */
export function route(
  topic: string,
  clientId: string,
  registered?: { site: string; kind: string },
): { ok: true; route: Route } | { ok: false; refusal: Refusal } {
  const parsed = parseTopic(topic);
  if (!parsed.ok) return refuse(parsed.reason, parsed.message);
  if (parsed.direction === 'gateway') {
    return refuse('reserved_topic', `"${parsed.channel}" is published by the gateway only`);
  }
  const def = getKind(parsed.address.kind);
  if (!def) return refuse('unknown_kind', `unknown device kind "${parsed.address.kind}"`);
  if (parsed.address.deviceId !== clientId) {
    return refuse('device_mismatch', `client "${clientId}" may only publish on its own topics (deviceId "${parsed.address.deviceId}" in topic)`);
  }
  if (registered && (registered.site !== parsed.address.site || registered.kind !== parsed.address.kind)) {
    return refuse(
      'device_mismatch',
      `device "${clientId}" is registered as a ${registered.kind} at site "${registered.site}"; it cannot publish as a ${parsed.address.kind} at "${parsed.address.site}"`,
    );
  }
  if (parsed.channel === 'snapshot' && !def.snapshots) {
    return refuse('unknown_channel', `kind "${def.kind}" does not publish snapshots`);
  }
  return { ok: true, route: { address: parsed.address, channel: parsed.channel as DeviceChannel, def } };
}

const schemaFor = (def: DeviceDefinition, channel: DeviceChannel) => {
  switch (channel) {
    case 'telemetry':
      return def.schemas.telemetry;
    case 'event':
      return def.schemas.event;
    case 'status':
      return def.schemas.status;
    case 'config/reported':
      return def.schemas.configReported;
    case 'cmd/reply':
      return def.schemas.commandReply;
    case 'snapshot':
      throw new Error('snapshots are binary');
  }
};

function toIssues(issues: readonly { path: PropertyKey[]; message: string }[]): Issue[] {
  return issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
}

function describe(issues: Issue[]): string {
  const shown = issues.slice(0, 3).map((i) => (i.path ? `${i.path}: ${i.message}` : i.message));
  return shown.join('; ') + (issues.length > 3 ? ` (+${issues.length - 3} more)` : '');
}

export function ingest(input: IngestInput, limits: IngestLimits): IngestResult | Promise<IngestResult> {
  const r = route(input.topic, input.clientId, input.registered);
  if (!r.ok) return r;
  const { address, channel, def } = r.route;
  const base = { ...address, channel, qos: input.qos, clientId: input.clientId, receivedAt: input.receivedAt };

  const max = channel === 'snapshot' ? limits.maxSnapshotBytes : limits.maxJsonBytes;
  if (input.payload.length > max) {
    return refuse('payload_too_large', `${channel} payload is ${input.payload.length} bytes; the limit is ${max}`);
  }

  if (channel === 'snapshot') {
    return decodeSnapshot(input.payload).then(
      (snapshot): IngestResult => ({
        ok: true,
        message: { ...base, ts: input.receivedAt, clockSkewed: false, data: {}, snapshot },
      }),
      (err: unknown) => refuse('invalid_jpeg', err instanceof InvalidJpegError ? err.message : String(err)),
    );
  }

  let body: unknown;
  try {
    body = JSON.parse(input.payload.toString('utf8'));
  } catch (err) {
    return refuse('invalid_json', `payload is not valid JSON: ${(err as Error).message}`);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return refuse('schema_violation', `payload must be a JSON object, got ${Array.isArray(body) ? 'array' : body === null ? 'null' : typeof body}`, [
      { path: '', message: 'expected object' },
    ]);
  }

  const unitIssues = applyUnits(def, body as Record<string, unknown>);
  if (unitIssues.length) return refuse('invalid_unit', describe(unitIssues), unitIssues);

  const parsed = schemaFor(def, channel).safeParse(body);
  if (!parsed.success) {
    const issues = toIssues(parsed.error.issues);
    return refuse('schema_violation', `${def.kind} ${channel}: ${describe(issues)}`, issues);
  }
  const data = parsed.data as Record<string, unknown>;
  const time = resolveTime(data['ts'] as number | string | undefined, input.receivedAt, limits.maxClockSkewMs);
  delete data['ts'];
  const message: DeviceMessage = { ...base, ...time, data };
  return { ok: true, message };
}
