/**
 * Reinforcement dispatch through a real broker, the body camera simulators and the API, on an
 * injected clock: zones with coordinates (admins only, versioned); the nearest free officers with a
 * recent fix are asked (geometry with fixed coordinates); nobody accepting in time, or everybody
 * declining, asks the next nearest; arrival is seen on GPS; the 5-minute mark is escalated; the
 * officer down is the target, not a responder; forged answers are ignored; resolution stands everybody
 * down; and a restart mid-incident carries on from the stored roster.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deviceTopic } from '../devices/index.ts';
import { distanceM, nearest, offset, type Dispatch } from '../edge/alerts/dispatch.ts';
import type { AlertRecord } from '../edge/alerts/store.ts';
import type { SimDevice } from '../simulators/device.ts';
import { createSim } from '../simulators/fleet.ts';
import type { BodycamSim } from '../simulators/kinds/bodycam.ts';
import { closeAll, collect, connect, connectDevice, scrape, startTestGateway, until, type TestGateway } from './helpers/gateway.ts';

let t: TestGateway;
let skew = 0;
const now = () => Date.now() + skew;
const site = 'dp';
const GATE = { lat: 22.54, lon: 114.06 };
/** Where each officer stands at the start of every test (metres north, east of the gate). */
const HOME: Record<string, [number, number]> = {
  'dp-bc-01': [80, 0],
  'dp-bc-02': [0, 150],
  'dp-bc-03': [-300, 0],
  'dp-bc-04': [0, -500],
  'dp-bc-05': [6000, 0], // beyond dispatch.maxDistanceM
};
const officers = new Map<string, BodycamSim>();
const smokes = new Map<string, SimDevice>();
const creds = new Map<string, { username: string; password: string }>();
const tokens: Record<string, string> = {};
let feed: Awaited<ReturnType<typeof collect>>;

const api = async (method: string, path: string, token: string, body?: unknown) => {
  const res = await fetch(`${t.httpUrl}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, any> };
};

const alertOf = (deviceId: string, type: string) => t.gw.alerts.store.query({ site, type, state: 'open' }).find((a) => a.deviceId === deviceId);
const roster = (a: AlertRecord | undefined) => Object.fromEntries((a?.dispatch?.officers ?? []).map((o) => [o.deviceId, o.state]));
const history = (id: string) => t.gw.alerts.store.history(id).map((h) => h.event);

async function fire(smokeId: string): Promise<AlertRecord> {
  await smokes.get(smokeId)!.publish('event', { type: 'alarm', active: true, source: 'smoke' });
  return until(() => alertOf(smokeId, 'fire')?.dispatch && alertOf(smokeId, 'fire'), `${smokeId}: fire raised with a dispatch`, 10_000);
}

const resolve = (a: AlertRecord | undefined) => {
  if (a && (a.state === 'raised' || a.state === 'acknowledged')) t.gw.alerts.act('resolve', a.id, { id: 'dp-admin', sites: ['*'], via: 'http' }, 'test over');
};

beforeAll(async () => {
  t = await startTestGateway({ security: { allowAnonymous: false } }, [], now);
  const reg = t.gw.security.registry;
  const ps = await reg.provisionMany(
    [
      ...Object.keys(HOME).map((deviceId) => ({ deviceId, kind: 'bodycam', site, zone: 'beat' })),
      { deviceId: 'dp-bc-stale', kind: 'bodycam', site, zone: 'beat' },
      ...['01', '02', '03', '04', '05', '06', '07', '08'].map((n) => ({ deviceId: `dp-smoke-${n}`, kind: 'smoke', site, zone: 'gate' })),
      { deviceId: 'dp-smoke-nowhere', kind: 'smoke', site, zone: 'cellar' },
    ],
    { id: 'test' },
  );
  for (const p of ps) creds.set(p.device.deviceId, p.credentials);
  for (const [id, role, sites] of [
    ['dp-admin', 'admin', ['*']],
    ['dp-room', 'consumer', [site]],
    ['other-room', 'consumer', ['elsewhere']],
  ] as const) {
    const p = await reg.addPrincipal({ id, role, sites: [...sites] }, { id: 'test' });
    tokens[id] = p.token;
    if (id === 'dp-room') feed = await collect(await connect(t.mqttUrl, { clientId: 'dp-room:wall', ...p.credentials }), `vigil/v1/${site}/alerts/#`);
  }
  expect((await api('PUT', `/sites/${site}/zones/gate`, tokens['dp-admin']!, { name: 'Gate 3', location: GATE })).status).toBe(200);
  for (const deviceId of Object.keys(HOME)) {
    const s = createSim('bodycam', { url: t.mqttUrl, site, deviceId, speed: 5, seed: deviceId, ...creds.get(deviceId)! }) as BodycamSim;
    s.patrol = false;
    await s.start();
    officers.set(deviceId, s);
  }
  for (const p of ps.filter((x) => x.device.kind === 'smoke')) {
    const s = createSim('smoke', { url: t.mqttUrl, site, deviceId: p.device.deviceId, speed: 1, seed: p.device.deviceId, ...p.credentials });
    await s.start();
    smokes.set(p.device.deviceId, s);
  }
  await until(() => [...officers.keys(), ...smokes.keys()].every((id) => t.gw.states.get(id)?.connected), 'devices connected', 15_000);
}, 40_000);

afterAll(async () => {
  for (const s of [...officers.values(), ...smokes.values()]) await s.stop();
  await closeAll();
  await t?.stop();
});

/** Every officer back home, answering yes, with a fix the gateway holds (fresh on its clock). */
beforeEach(async () => {
  // The last test's stand-downs reach the officers first (one still heading somewhere would walk off home).
  await until(() => [...officers.values()].every((s) => s.heading === undefined), 'officers released');
  for (const [id, [n, e]] of Object.entries(HOME)) {
    const s = officers.get(id)!;
    const p = offset(GATE, n, e);
    s.placeAt(p.lat, p.lon);
    s.dispatchAnswer = 'accept';
    s.respondSpeedMps = 10; // hurrying: on scene within a few seconds of test time
  }
  const since = now();
  const away = () =>
    Object.entries(HOME).filter(([id, [n, e]]) => {
      const f = t.gw.dispatcher.fixOf(id);
      return !f || f.at < since || Math.abs(distanceM(f, GATE) - Math.hypot(n, e)) >= 2;
    });
  await until(() => !away().length, 'officers home with fresh fixes').catch((err: Error) => {
    throw new Error(`${err.message}: ${away().map(([id]) => `${id} heading to ${officers.get(id)!.heading}`)}`);
  });
});

describe('geometry', () => {
  it('distances on the sphere and the nearest officers, with walking ETA, range and reproducible ties', () => {
    expect(distanceM({ lat: 0, lon: 0 }, { lat: 1, lon: 0 })).toBeCloseTo(111_195, -1); // one degree of latitude
    expect(distanceM({ lat: 0, lon: 0 }, { lat: 0, lon: 90 })).toBeCloseTo((Math.PI / 2) * 6_371_008.8, 0); // a quarter of the equator
    expect(distanceM({ lat: 60, lon: 0 }, { lat: 60, lon: 1 })).toBeCloseTo(55_597, -1); // a degree of longitude is half as long at 60°
    expect(distanceM(GATE, offset(GATE, 300, 400))).toBeCloseTo(500, 0);
    const fix = (n: number, e: number) => ({ ...offset(GATE, n, e), accuracyM: 5, at: 0 });
    const ranked = nearest(
      GATE,
      [
        { deviceId: 'c', officer: null, fix: fix(0, 140) },
        { deviceId: 'a', officer: 'A', fix: fix(-280, 0) },
        { deviceId: 'b', officer: null, fix: fix(140, 0) }, // as near as c: the id decides
        { deviceId: 'far', officer: null, fix: fix(5000, 0) },
      ],
      { n: 3, maxDistanceM: 3000, walkingSpeedMps: 1.4 },
    );
    expect(ranked).toEqual([
      { deviceId: 'b', officer: null, distanceM: 140, etaS: 100 },
      { deviceId: 'c', officer: null, distanceM: 140, etaS: 100 },
      { deviceId: 'a', officer: 'A', distanceM: 280, etaS: 200 },
    ]);
  });
});

describe('zones', () => {
  it('admins set coordinates (versioned, audited); others read them at their own sites only; bad coordinates are refused field by field', async () => {
    const put = await api('PUT', `/sites/${site}/zones/platform`, tokens['dp-admin']!, { name: 'Platform 1', location: { lat: 22.541, lon: 114.061 } });
    expect(put.body).toMatchObject({ site, zone: 'platform', version: 1, updatedBy: 'dp-admin', location: { lat: 22.541, lon: 114.061 } });
    expect(
      (await api('PUT', `/sites/${site}/zones/platform`, tokens['dp-admin']!, { location: { lat: 22.5415, lon: 114.061 }, arrivalRadiusM: 60 })).body,
    ).toMatchObject({
      version: 2,
      arrivalRadiusM: 60,
    });
    expect((await api('PUT', `/sites/${site}/zones/platform`, tokens['dp-room']!, { location: GATE })).status).toBe(403);
    const bad = await api('PUT', `/sites/${site}/zones/platform`, tokens['dp-admin']!, { location: { lat: 95, lon: 114 }, colour: 'red' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body['details'])).toMatch(/location\/lat.*<=90.*colour/);
    const list = (await api('GET', `/sites/${site}/zones`, tokens['dp-room']!)).body['zones'] as { zone: string; registered: boolean; devices: number }[];
    expect(list.find((z) => z.zone === 'gate')).toMatchObject({ registered: true, devices: 8 });
    expect(list.find((z) => z.zone === 'cellar')).toMatchObject({ registered: false, devices: 1 }); // named by a device, no coordinates yet
    expect((await api('GET', `/sites/${site}/zones`, tokens['other-room']!)).status).toBe(404);
    expect((await api('GET', `/sites/${site}/zones/platform`, tokens['other-room']!)).status).toBe(404);
    const h = (await api('GET', `/sites/${site}/zones/platform/history`, tokens['dp-room']!)).body['versions'] as { version: number }[];
    expect(h.map((v) => v.version)).toEqual([2, 1]);
    expect(t.gw.security.audit.query({ action: 'zone.put', limit: 10 }).filter((e) => e.target === `${site}/platform`)).toHaveLength(2);
    expect((await api('DELETE', `/sites/${site}/zones/platform`, tokens['dp-admin']!)).status).toBe(204);
    expect((await api('GET', `/sites/${site}/zones/platform`, tokens['dp-room']!)).body['code']).toBe('VIGIL_ERR_ZONE_NOT_FOUND');
  });
});

describe('reinforcement dispatch', () => {
  it('a fire sends the two nearest free officers at once; they accept, the nearest walks there and arrives; resolution stands them down; the SLA has the times', async () => {
    let a = await fire('dp-smoke-01');
    try {
      expect(a.dispatch).toMatchObject({ trigger: 'critical', target: { ...GATE, source: 'zone' }, round: 1 });
      expect(a.dispatch!.officers.map((o) => [o.deviceId, o.distanceM, o.etaS])).toEqual([
        ['dp-bc-01', 80, 57],
        ['dp-bc-02', 150, 107],
      ]);
      // What the officer is shown.
      const cmd = t.gw.commands.list('dp-bc-01').find((c) => c.name === 'dispatch' && c.params['alertId'] === a.id)!;
      expect(cmd.params).toMatchObject({ type: 'fire', zone: 'gate', lat: GATE.lat, lon: GATE.lon, distanceM: 80, etaS: 57 });
      const published = await feed.next((m) => {
        const b = JSON.parse(m.payload.toString()) as { id: string; event: string; detail?: { deviceId?: string } };
        return b.id === a.id && b.event === 'dispatch_requested' && b.detail?.deviceId === 'dp-bc-02';
      });
      expect(JSON.parse(published.payload.toString())).toMatchObject({ event: 'dispatch_requested', detail: { deviceId: 'dp-bc-02', distanceM: 150 } });
      a = await until(
        () =>
          Object.values(roster(alertOf('dp-smoke-01', 'fire'))).every((s) => s === 'accepted' || s === 'arrived') ? alertOf('dp-smoke-01', 'fire') : undefined,
        'both accepted',
      );
      a = await until(() => (alertOf('dp-smoke-01', 'fire')?.dispatch?.arrivedAt ? alertOf('dp-smoke-01', 'fire') : undefined), 'an officer on scene', 10_000);
      expect(Object.values(roster(a))).toContain('arrived');
      expect(history(a.id)).toEqual(expect.arrayContaining(['raised', 'dispatch_requested', 'dispatch_accepted', 'dispatch_arrived']));
      const sla = (await api('GET', `/sla?site=${site}`, tokens['dp-room']!)).body['rows'] as Record<string, unknown>[];
      expect(sla.find((r) => r['type'] === 'fire')).toMatchObject({
        dispatched: expect.any(Number),
        toAcceptP50S: expect.any(Number),
        toArriveP50S: expect.any(Number),
      });
      const metrics = await scrape(t.httpUrl);
      expect(metrics).toMatch(/vigil_alert_time_to_arrival_seconds_count\{site="dp",type="fire",severity="critical"\} [1-9]/);
      expect(metrics).toMatch(/vigil_dispatch_answers_total\{site="dp",outcome="accepted"\} [1-9]/);
    } finally {
      resolve(alertOf('dp-smoke-01', 'fire'));
    }
    await until(() => Object.values(roster(t.gw.alerts.store.get(a.id))).every((s) => s === 'stood_down'), 'both stood down');
    await until(() => t.gw.commands.list('dp-bc-02').some((c) => c.name === 'stand_down' && c.state === 'ok'), 'stand-down delivered');
    expect(officers.get('dp-bc-02')!.heading).toBeUndefined();
  });

  it('nobody answering within acceptTimeoutS: the next nearest are asked; a late yes still counts', async () => {
    officers.get('dp-bc-01')!.dispatchAnswer = 'ignore';
    officers.get('dp-bc-02')!.dispatchAnswer = 'ignore';
    officers.get('dp-bc-02')!.respondSpeedMps = 0; // asked, silent, stays put
    const a0 = await fire('dp-smoke-02');
    try {
      expect(Object.keys(roster(a0))).toEqual(['dp-bc-01', 'dp-bc-02']);
      skew += 31_000;
      t.gw.dispatcher.tick();
      const a = await until(() => (roster(alertOf('dp-smoke-02', 'fire'))['dp-bc-03'] ? alertOf('dp-smoke-02', 'fire') : undefined), 'the next asked');
      expect(roster(a)).toMatchObject({ 'dp-bc-01': 'unanswered', 'dp-bc-02': 'unanswered', 'dp-bc-03': 'asked', 'dp-bc-04': 'asked' });
      expect(a.dispatch!.round).toBe(2);
      expect(t.gw.alerts.store.history(a.id).find((h) => h.event === 'dispatch_unanswered')!.detail).toMatchObject({ reason: 'no answer within 30 s' });
      await until(() => roster(alertOf('dp-smoke-02', 'fire'))['dp-bc-03'] === 'accepted', 'the next accepts');
    } finally {
      resolve(alertOf('dp-smoke-02', 'fire'));
    }
  });

  it('everybody of a round declining asks the next at once; nobody left is said on the escalation topic, and so is nobody on scene at the 5-minute mark', async () => {
    for (const s of officers.values()) s.dispatchAnswer = 'decline';
    const a0 = await fire('dp-smoke-03');
    try {
      const a = await until(
        () => (alertOf('dp-smoke-03', 'fire')?.dispatch?.exhaustedAt ? alertOf('dp-smoke-03', 'fire') : undefined),
        'all four in range declined, nobody left',
        10_000,
      );
      expect(roster(a)).toEqual({ 'dp-bc-01': 'declined', 'dp-bc-02': 'declined', 'dp-bc-03': 'declined', 'dp-bc-04': 'declined' }); // dp-bc-05 is 6 km away
      expect(t.gw.alerts.store.history(a.id).find((h) => h.event === 'dispatch_declined')!.detail).toMatchObject({ reason: 'busy' });
      const esc = await feed.next((m) => m.topic === `vigil/v1/${site}/alerts/escalations/dispatch/fire/dp-smoke-03`);
      expect(JSON.parse(esc.payload.toString())).toMatchObject({ event: 'dispatch_exhausted', detail: { reason: expect.stringContaining('no free officer') } });
      skew += 301_000;
      t.gw.dispatcher.tick();
      const over = await feed.next((m) => m.topic.endsWith('/escalations/dispatch/fire/dp-smoke-03') && m.payload.toString().includes('"dispatch_overdue"'));
      expect(JSON.parse(over.payload.toString())).toMatchObject({ detail: { why: 'nobody on scene 300 s after the alert', asked: 4, accepted: 0 } });
      expect(a0.id).toBe(a.id);
    } finally {
      resolve(alertOf('dp-smoke-03', 'fire'));
    }
  });

  it('an officer down is where the others are sent, not one of them; an officer without a recent fix, offline, out of range or engaged is not asked', async () => {
    // A body camera that reported once, near the gate, then went quiet: its fix grows old.
    const stale = await connectDevice(t.mqttUrl, { site, kind: 'bodycam', deviceId: 'dp-bc-stale' }, creds.get('dp-bc-stale')!);
    const near = offset(GATE, 5, 0);
    await stale.publishAsync(
      deviceTopic({ site, kind: 'bodycam', deviceId: 'dp-bc-stale' }, 'telemetry'),
      JSON.stringify({ recording: false, gps: { ...near, accuracy_m: 4 } }),
      {
        qos: 1,
      },
    );
    await until(() => t.gw.dispatcher.fixOf('dp-bc-stale'), 'the stale fix');
    skew += 61_000;
    await until(() => Object.keys(HOME).every((id) => t.gw.dispatcher.fixOf(id)!.at >= now() - 1000), 'the others report again');
    const sos = officers.get('dp-bc-02')!;
    await sos.publish('event', { type: 'sos', pressed: true });
    const a = await until(() => (alertOf('dp-bc-02', 'sos')?.dispatch?.round ? alertOf('dp-bc-02', 'sos') : undefined), 'reinforcement for the SOS', 10_000);
    try {
      expect(a.dispatch!.target).toMatchObject({ source: 'device' });
      expect(distanceM(a.dispatch!.target!, offset(GATE, 0, 150))).toBeLessThan(2);
      // From dp-bc-02 (150 m east): dp-bc-01 at 170 m, dp-bc-03 at 335 m; not itself, not the stale one next to the gate.
      expect(a.dispatch!.officers.map((o) => [o.deviceId, o.distanceM])).toEqual([
        ['dp-bc-01', 170],
        ['dp-bc-03', 335],
      ]);
      // A second incident meanwhile: the engaged officers are not free for it.
      const b = await fire('dp-smoke-04');
      try {
        expect(Object.keys(roster(b)).sort()).toEqual(['dp-bc-04']);
      } finally {
        resolve(alertOf('dp-smoke-04', 'fire'));
      }
    } finally {
      resolve(alertOf('dp-bc-02', 'sos'));
      await stale.endAsync(true);
    }
  });

  it('forged and stray answers change nothing: an officer who was not asked, an answer for another alert, a person on a body camera topic', async () => {
    officers.get('dp-bc-01')!.dispatchAnswer = 'ignore';
    officers.get('dp-bc-02')!.dispatchAnswer = 'ignore';
    const a = await fire('dp-smoke-05');
    try {
      const before = await scrape(t.httpUrl);
      const ignored = (b: string) => Number(/vigil_dispatch_answers_ignored_total\{reason="not_asked"\} (\d+)/.exec(b)?.[1] ?? 0);
      await officers.get('dp-bc-04')!.publish('event', { type: 'dispatch_accepted', alertId: a.id });
      await officers.get('dp-bc-04')!.publish('event', { type: 'dispatch_accepted', alertId: 'al-nonexistent' });
      await until(async () => ignored(await scrape(t.httpUrl)) >= ignored(before) + 1, 'the stray answer counted');
      expect(roster(alertOf('dp-smoke-05', 'fire'))).toEqual({ 'dp-bc-01': 'asked', 'dp-bc-02': 'asked' });
      // A person cannot speak for a body camera, nor send the dispatch command past the dispatcher.
      const p = await t.gw.security.registry.addPrincipal({ id: 'dp-prankster', role: 'consumer', sites: [site] }, { id: 'test' });
      const c = await connect(t.mqttUrl, { clientId: 'dp-prankster:1', ...p.credentials });
      await c.publishAsync(
        deviceTopic({ site, kind: 'bodycam', deviceId: 'dp-bc-01' }, 'event'),
        JSON.stringify({ type: 'dispatch_accepted', alertId: a.id }),
        { qos: 1 },
      );
      const direct = await api('POST', '/devices/dp-bc-03/commands', p.token, { name: 'dispatch', params: { ...GATE, alertId: a.id } });
      expect(direct.status).toBe(403);
      expect(roster(alertOf('dp-smoke-05', 'fire'))).toEqual({ 'dp-bc-01': 'asked', 'dp-bc-02': 'asked' });
      // Operators of another site cannot send reinforcement to this alert.
      expect((await api('POST', `/alerts/${a.id}/dispatch`, tokens['other-room']!)).status).toBe(404);
    } finally {
      resolve(alertOf('dp-smoke-05', 'fire'));
    }
  });

  it('an operator asks for more: the next nearest are asked now, audited', async () => {
    officers.get('dp-bc-01')!.dispatchAnswer = 'ignore';
    officers.get('dp-bc-02')!.dispatchAnswer = 'ignore';
    const a = await fire('dp-smoke-06');
    try {
      const r = await api('POST', `/alerts/${a.id}/dispatch`, tokens['dp-room']!);
      expect(r.status).toBe(200);
      expect((r.body['dispatch'] as Dispatch).officers.map((o) => o.deviceId)).toEqual(['dp-bc-01', 'dp-bc-02', 'dp-bc-03', 'dp-bc-04']);
      expect(t.gw.security.audit.query({ action: 'alert.dispatch', limit: 5 }).map((e) => `${e.actor} ${e.target}`)).toContain(`dp-room ${a.id}`);
      expect(
        t.gw.alerts.store
          .history(a.id)
          .filter((h) => h.event === 'dispatch_requested')
          .at(-1)!.detail,
      ).toMatchObject({ by: 'dp-room' });
      // Where the officers are, and who is engaged: for the control room, at its own sites only.
      const list = (await api('GET', `/sites/${site}/officers`, tokens['dp-room']!)).body['officers'] as Record<string, any>[];
      expect(list.find((o) => o['deviceId'] === 'dp-bc-01')).toMatchObject({
        online: true,
        fix: { ageS: expect.any(Number) },
        engaged: { alertId: a.id, state: 'asked' },
      });
      expect(list.find((o) => o['deviceId'] === 'dp-bc-05')).toMatchObject({ engaged: null });
      expect((await api('GET', `/sites/${site}/officers`, tokens['other-room']!)).status).toBe(404);
    } finally {
      resolve(alertOf('dp-smoke-06', 'fire'));
    }
  });

  it('a zone without coordinates: the operator is told why nobody was sent, and an explicit request is refused with the same reason', async () => {
    await smokes.get('dp-smoke-nowhere')!.publish('event', { type: 'alarm', active: true, source: 'smoke' });
    const a = await until(() => alertOf('dp-smoke-nowhere', 'fire')?.dispatch && alertOf('dp-smoke-nowhere', 'fire'), 'the failed dispatch');
    try {
      expect(a.dispatch!.target).toBeNull();
      const h = t.gw.alerts.store.history(a.id).find((x) => x.event === 'dispatch_failed')!;
      expect(h.detail['reason']).toMatch(/zone dp\/cellar has no coordinates \(PUT \/api\/v1\/sites\/dp\/zones\/cellar/);
      const r = await api('POST', `/alerts/${a.id}/dispatch`, tokens['dp-room']!);
      expect(r.status).toBe(409);
      expect(r.body).toMatchObject({ code: 'VIGIL_ERR_DISPATCH_REFUSED', message: expect.stringContaining('has no coordinates') });
    } finally {
      resolve(alertOf('dp-smoke-nowhere', 'fire'));
    }
  });

  it('a major alert gets reinforcement at the reinforcement mark, not at once', async () => {
    const s = smokes.get('dp-smoke-07')!;
    await s.publish('event', { type: 'tamper', reason: 'removed_from_base' });
    const a = await until(() => alertOf('dp-smoke-07', 'device_tamper'), 'a device_tamper (major)');
    try {
      expect(a.dispatch ?? null).toBeNull();
      skew += 181_000;
      t.gw.alerts.tick();
      const r = await until(
        () => (alertOf('dp-smoke-07', 'device_tamper')?.dispatch?.round ? alertOf('dp-smoke-07', 'device_tamper') : undefined),
        'dispatched',
      );
      expect(r.dispatch!.trigger).toBe('reinforcement');
    } finally {
      resolve(alertOf('dp-smoke-07', 'device_tamper'));
    }
  });
});

describe('a restart mid-incident', () => {
  it('the roster comes back: an answer deadline passes after the restart, and an arrival after it is recorded', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-dispatch-'));
    let clock = Date.parse('2026-03-02T03:00:00Z');
    const cfg = { dataDir: dir, security: { allowAnonymous: false } };
    let g = await startTestGateway(cfg, [], () => clock);
    const ps = await g.gw.security.registry.provisionMany(
      [
        { deviceId: 'rs-bc-1', kind: 'bodycam', site: 'rs', zone: 'beat' },
        { deviceId: 'rs-bc-2', kind: 'bodycam', site: 'rs', zone: 'beat' },
        { deviceId: 'rs-smoke', kind: 'smoke', site: 'rs', zone: 'hall' },
      ],
      { id: 'test' },
    );
    g.gw.sites.put('rs', 'hall', { location: GATE }, { id: 'test' });
    const cred = (id: string) => ps.find((p) => p.device.deviceId === id)!.credentials;
    const sims: BodycamSim[] = [];
    const start = async (id: string, at: [number, number], answer: 'accept' | 'ignore', url: string) => {
      const s = createSim('bodycam', { url, site: 'rs', deviceId: id, speed: 5, seed: id, ...cred(id) }) as BodycamSim;
      s.patrol = false;
      const p = offset(GATE, ...at);
      s.placeAt(p.lat, p.lon);
      s.dispatchAnswer = answer;
      s.respondSpeedMps = 0; // accepts, but does not move before the restart
      await s.start();
      sims.push(s);
      return s;
    };
    const smoke = createSim('smoke', { url: g.mqttUrl, site: 'rs', deviceId: 'rs-smoke', speed: 1, seed: 'rs', ...cred('rs-smoke') });
    try {
      const one = await start('rs-bc-1', [100, 0], 'accept', g.mqttUrl);
      await start('rs-bc-2', [0, 200], 'ignore', g.mqttUrl);
      await smoke.start();
      await until(() => g.gw.dispatcher.fixOf('rs-bc-1') && g.gw.dispatcher.fixOf('rs-bc-2'), 'fixes');
      await smoke.publish('event', { type: 'alarm', active: true, source: 'smoke' });
      const raised = await until(() => {
        const a = g.gw.alerts.store.query({ site: 'rs', type: 'fire' })[0];
        return a?.dispatch?.officers.some((o) => o.state === 'accepted') ? a : undefined;
      }, 'rs-bc-1 accepted');
      expect(roster(raised)).toEqual({ 'rs-bc-1': 'accepted', 'rs-bc-2': 'asked' });
      await one.stop();
      for (const s of sims.slice(1)) await s.stop();
      await smoke.stop();
      await g.stop();

      clock += 40_000; // rs-bc-2's 30 s to answer run out while the box is down
      g = await startTestGateway(cfg, [], () => clock);
      const back = await start('rs-bc-1', [100, 0], 'accept', g.mqttUrl);
      await until(() => g.gw.dispatcher.fixOf('rs-bc-1'), 'a fix after the restart');
      g.gw.dispatcher.tick();
      await until(() => roster(g.gw.alerts.store.get(raised.id))['rs-bc-2'] === 'unanswered', 'the deadline kept across the restart');
      back.placeAt(GATE.lat, GATE.lon + 0.0001); // about 10 m from the hall
      const there = await until(
        () => (g.gw.alerts.store.get(raised.id)?.dispatch?.arrivedAt ? g.gw.alerts.store.get(raised.id) : undefined),
        'arrival after the restart',
        10_000,
      );
      expect(roster(there)['rs-bc-1']).toBe('arrived');
      expect(there.dispatch!.arrivedAt! - there.raisedAt).toBeGreaterThanOrEqual(40_000);
    } finally {
      for (const s of sims) await s.stop();
      await smoke.stop();
      await g.stop();
    }
  }, 40_000);
});
