/**
 * Camera analytics become alerts where the zone says they matter, through a real broker and the API,
 * on a gateway clock pinned to hours of the zone's own time zone (the suite means the same at any
 * hour, in any zone): intrusion into a track or staff-only zone at any hour, into a public zone only
 * outside its opening hours; loitering beyond the zone's threshold; low-confidence detections
 * ignored; zones validated; the simulator's labelled incidents raise them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceTopic, isOpen } from '../devices/index.ts';
import type { AlertRecord } from '../edge/alerts/store.ts';
import { createSim } from '../simulators/fleet.ts';
import type { CameraSim } from '../simulators/kinds/camera.ts';
import { closeAll, connectDevice, startTestGateway, until, type TestGateway } from './helpers/gateway.ts';
import type { MqttClient } from 'mqtt';

const site = 'hub';
const TZ = 'Asia/Shanghai';
/** 2026-03-02 (a Monday) at hh:mm in Shanghai (UTC+8, no daylight saving). */
const at = (hh: number, mm = 0) => Date.UTC(2026, 2, 2, hh - 8, mm);
let pinned = at(12);
let base = Date.now();
const now = () => pinned + (Date.now() - base);
const setClock = (t: number) => {
  pinned = t;
  base = Date.now();
};

let t: TestGateway;
let admin = '';
const cams = new Map<string, MqttClient>();
const devices = [
  { deviceId: 'hub-cam-concourse', zone: 'concourse' },
  { deviceId: 'hub-cam-platform', zone: 'platform' }, // its analytics region is the track
  { deviceId: 'hub-cam-ops', zone: 'ops-room' },
  { deviceId: 'hub-cam-plaza', zone: 'plaza' },
  { deviceId: 'hub-cam-sim', zone: 'platform' },
];

const api = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${t.httpUrl}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${admin}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
};

const event = async (deviceId: string, body: Record<string, unknown>) => {
  const a = { site, kind: 'camera', deviceId };
  await cams.get(deviceId)!.publishAsync(deviceTopic(a, 'event'), JSON.stringify({ ts: now(), ...body }), { qos: 1 });
};
const alertOf = (deviceId: string, type: string): AlertRecord | undefined => t.gw.alerts.store.query({ site, type }).find((a) => a.deviceId === deviceId);
/** Every message sent so far has been through the pipeline (QoS 1 answered after ingest). */
const settled = () => new Promise((r) => setTimeout(r, 50));

beforeAll(async () => {
  // The clock jumps between the hours the tests exercise, back as well as forward (a jump back is no time passing for the rate limit).
  t = await startTestGateway({ security: { allowAnonymous: false } }, [], now);
  const reg = t.gw.security.registry;
  admin = (await reg.addPrincipal({ id: 'hub-admin', role: 'admin', sites: ['*'] }, { id: 'test' })).token;
  const ps = await reg.provisionMany(
    devices.map((d) => ({ ...d, kind: 'camera', site })),
    { id: 'test' },
  );
  for (const [zone, body] of Object.entries({
    'track-2': { type: 'track', name: 'Track 2' },
    'ops-room': { type: 'restricted' },
    concourse: { type: 'concourse', hours: '05:30-23:30', timezone: TZ, loiteringS: 600 },
    plaza: { type: 'plaza', minConfidence: 0.8 },
  }))
    expect((await api('PUT', `/sites/${site}/zones/${zone}`, body)).status).toBe(200);
  for (const p of ps.filter((x) => x.device.deviceId !== 'hub-cam-sim'))
    cams.set(p.device.deviceId, await connectDevice(t.mqttUrl, { site, kind: 'camera', deviceId: p.device.deviceId }, { ...p.credentials }));
}, 20_000);

afterAll(async () => {
  await closeAll();
  await t?.stop();
});

describe('zones with meaning', () => {
  it('opening hours in the zone’s own time zone, past midnight too', () => {
    const z = { hours: '05:30-23:30', timezone: TZ };
    expect([at(3), at(5, 29), at(5, 30), at(12), at(23, 29), at(23, 30)].map((ts) => isOpen(z, ts))).toEqual([false, false, true, true, true, false]);
    const night = { hours: '18:00-02:00', timezone: TZ };
    expect([at(17, 59), at(18), at(23, 59), at(1, 59), at(2)].map((ts) => isOpen(night, ts))).toEqual([false, true, true, true, false]);
    expect(isOpen({ timezone: TZ }, at(3))).toBe(true); // no hours: always open
    // The same instant is 03:00 in Shanghai and 20:00 the day before in London.
    expect(isOpen({ hours: '18:00-22:00', timezone: 'Europe/London' }, at(3))).toBe(true);
  });

  it('bad hours, time zones and types are refused field by field', async () => {
    const r = await api('PUT', `/sites/${site}/zones/bad`, { hours: '25:00-02:00', timezone: 'Mars/Olympus', type: 'tunnel', capacity: 0 });
    expect(r.status).toBe(400);
    const paths = (r.body['details'] as { path: string }[]).map((d) => d.path).sort();
    expect(paths).toEqual(['/capacity', '/hours', '/timezone', '/type']);
    expect(JSON.stringify(r.body['details'])).toMatch(/HH:MM-HH:MM.*IANA time zone/);
  });
});

describe('intrusion', () => {
  it('into a track, named by the camera’s analytics region: critical at noon, with the zone, object and box', async () => {
    setClock(at(12));
    await event('hub-cam-platform', { type: 'intrusion', zone: 'track-2', confidence: 0.82, object: 'person', bbox: [0.4, 0.5, 0.1, 0.3] });
    const a = await until(() => alertOf('hub-cam-platform', 'intrusion'), 'intrusion raised');
    expect(a).toMatchObject({ severity: 'critical', state: 'raised' });
    expect(a.reason).toBe('person in track-2 (a track zone), confidence 0.82');
    expect(a.evidence).toMatchObject({ zone: 'track-2', zoneType: 'track', object: 'person', bbox: [0.4, 0.5, 0.1, 0.3] });
  });

  it('into an open public zone is no news; outside its hours (03:10 local) it is a major alert, which ends when the camera stops reporting', async () => {
    setClock(at(12));
    await event('hub-cam-concourse', { type: 'intrusion', zone: 'concourse-east', confidence: 0.9, object: 'person' });
    await settled();
    expect(alertOf('hub-cam-concourse', 'intrusion')).toBeUndefined();
    setClock(at(3, 10));
    await event('hub-cam-concourse', { type: 'intrusion', zone: 'concourse-east', confidence: 0.9, object: 'person' });
    const a = await until(() => alertOf('hub-cam-concourse', 'intrusion'), 'after-hours intrusion');
    expect(a).toMatchObject({ severity: 'major', reason: 'person in concourse (outside opening hours 05:30-23:30), confidence 0.90' });
    setClock(at(3, 10) + 121_000); // nothing more for analyticsClearS (120 s) ...
    t.gw.alerts.tick();
    setClock(at(3, 10) + 182_000); // ... and the condition clear for clearAfterS (60 s)
    t.gw.alerts.tick();
    await until(() => alertOf('hub-cam-concourse', 'intrusion')?.state === 'auto_resolved', 'auto-resolved');
  });

  it('below the zone’s minimum confidence nothing happens; above it a staff-only zone is major at any hour', async () => {
    setClock(at(14));
    await event('hub-cam-ops', { type: 'intrusion', zone: 'ops', confidence: 0.4, object: 'person' });
    await settled();
    expect(alertOf('hub-cam-ops', 'intrusion')).toBeUndefined();
    await event('hub-cam-ops', { type: 'intrusion', zone: 'ops', confidence: 0.7, object: 'person' });
    expect(await until(() => alertOf('hub-cam-ops', 'intrusion'), 'staff-only intrusion')).toMatchObject({ severity: 'major' });
  });
});

describe('loitering', () => {
  it('beyond the zone’s threshold: minor; at three times it, major; under it, nothing', async () => {
    setClock(at(15));
    await event('hub-cam-concourse', { type: 'loitering', zone: 'c', confidence: 0.8, duration_s: 300 });
    await settled();
    expect(alertOf('hub-cam-concourse', 'loitering')).toBeUndefined();
    await event('hub-cam-concourse', { type: 'loitering', zone: 'c', confidence: 0.8, duration_s: 660 });
    const a = await until(() => alertOf('hub-cam-concourse', 'loitering'), 'loitering');
    expect(a).toMatchObject({ severity: 'minor', reason: 'someone has stayed 11 min in concourse (threshold 10 min)' });
    // The plaza wants more confidence (0.8) and uses the public default (600 s); 31 minutes is three times that.
    await event('hub-cam-plaza', { type: 'loitering', zone: 'p', confidence: 0.7, duration_s: 1860 });
    await settled();
    expect(alertOf('hub-cam-plaza', 'loitering')).toBeUndefined();
    await event('hub-cam-plaza', { type: 'loitering', zone: 'p', confidence: 0.85, duration_s: 1860 });
    expect(await until(() => alertOf('hub-cam-plaza', 'loitering'), 'long loitering')).toMatchObject({ severity: 'major' });
  });
});

describe('the simulator', () => {
  it('a labelled intrusion staged on a platform camera watching the track raises a critical intrusion', async () => {
    setClock(at(2, 30));
    const creds = await t.gw.security.registry.rotateDevice('hub-cam-sim', { id: 'test' });
    const sim = createSim('camera', { url: t.mqttUrl, site, deviceId: 'hub-cam-sim', speed: 50, seed: 3, now, ...creds }) as CameraSim;
    sim.zone = 'track-2';
    await sim.start();
    try {
      void sim.incident('intrusion');
      const a = await until(() => alertOf('hub-cam-sim', 'intrusion'), 'intrusion from the simulator', 10_000);
      expect(a.severity).toBe('critical');
    } finally {
      await sim.stop();
    }
  });
});
