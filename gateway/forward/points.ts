/**
 * The InfluxDB schema (README "Forwarding"): one measurement per device kind for telemetry,
 * `events`, `status`, `config`, `snapshots` and `alerts`; tags site, zone, kind, device;
 * millisecond timestamps (the device's measurement time). Line protocol is produced by the
 * official client's Point, so escaping is the client's.
 */
import { Point } from '@influxdata/influxdb-client';
import { imuStats, type ImuWindow } from '../../edge/imu.ts';
import type { DeviceMessage } from '../../edge/message.ts';
import type { AlertEvent } from '../../edge/alerts/model.ts';
import type { AlertRecord } from '../../edge/alerts/store.ts';

/** Spool classes, in the order they are sacrificed when the spool is full (alerts last). */
export type PointClass = 'telemetry' | 'event' | 'status' | 'alert';

export type Fields = Record<string, number | boolean | string>;

/** Flatten a reading into scalar fields: `gps.lat` → `gps_lat`; an IMU window → its summary. */
export function flatten(data: Record<string, unknown>, prefix = '', out: Fields = {}): Fields {
  for (const [k, v] of Object.entries(data)) {
    const name = prefix ? `${prefix}_${k}` : k;
    if (typeof v === 'number' && Number.isFinite(v)) out[name] = v;
    else if (typeof v === 'boolean' || typeof v === 'string') out[name] = v;
    else if (k === 'imu' && v && typeof v === 'object') Object.assign(out, imuSummary(v as ImuWindow));
    else if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v as Record<string, unknown>, name, out);
  }
  return out;
}

function imuSummary(w: ImuWindow): Fields {
  const s = imuStats(w);
  const out: Fields = { imu_samples: s.samples, imu_accel_peak_g: s.peakG, imu_accel_mean_g: s.meanG, imu_accel_sd_g: s.sdG };
  if (s.gyroMeanDps !== undefined) out['imu_gyro_mean_dps'] = s.gyroMeanDps;
  return out;
}

function point(measurement: string, tags: Record<string, string | null | undefined>, fields: Fields, ts: number): Point {
  const p = new Point(measurement).timestamp(ts);
  for (const [k, v] of Object.entries(tags)) if (v) p.tag(k, v);
  for (const [k, v] of Object.entries(fields)) {
    if (typeof v === 'number') p.floatField(k, v);
    else if (typeof v === 'boolean') p.booleanField(k, v);
    else p.stringField(k, v);
  }
  return p;
}

const measurementOf: Record<DeviceMessage['channel'], string | undefined> = {
  telemetry: undefined, // the kind
  event: 'events',
  status: 'status',
  'config/reported': 'config',
  snapshot: 'snapshots',
};

export interface Line {
  cls: PointClass;
  ts: number;
  line: string;
}

export function messageLine(m: DeviceMessage, zone: string | null, fields?: Fields): Line | undefined {
  const tags = { site: m.site, zone, kind: m.kind, device: m.deviceId };
  let f: Fields;
  let cls: PointClass = 'telemetry';
  if (m.channel === 'snapshot') f = { bytes: m.snapshot?.jpeg.length ?? 0, width: m.snapshot?.width ?? 0, height: m.snapshot?.height ?? 0 };
  else f = fields ?? flatten(m.data);
  if (m.channel === 'event') {
    cls = 'event';
    const { type, ...rest } = f;
    Object.assign(tags, { type: String(type) });
    f = Object.keys(rest).length ? rest : { count: 1 };
  }
  if (m.channel === 'status' || m.channel === 'config/reported') cls = 'status';
  if (!Object.keys(f).length) return undefined;
  const line = point(measurementOf[m.channel] ?? m.kind, tags, f, m.ts).toLineProtocol();
  return line ? { cls, ts: m.ts, line } : undefined;
}

export function alertLine(a: AlertRecord, event: AlertEvent, ts: number): Line {
  const p = point(
    'alerts',
    { site: a.site, zone: a.zone, kind: a.kind, device: a.deviceId, type: a.type, severity: a.severity, state: a.state, event },
    { alert_id: a.id, incident_id: a.incidentId, reason: a.reason, version: a.version, repeat_count: a.repeatCount, escalation_level: a.escalationLevel },
    ts,
  );
  return { cls: 'alert', ts, line: p.toLineProtocol()! };
}
