/**
 * Evidence on alerts, through a real broker and the simulators: a fire in a zone gets a snapshot from
 * each camera of that zone (not from other zones), listed in the alert with its sha256 and published;
 * the bytes are served only to people granted the site, every view recorded; an SOS gets the
 * officer's own camera; retention removes old items.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deviceTopic } from '../devices/index.ts';
import { SceneRenderer } from '../simulators/scene.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimDevice } from '../simulators/device.ts';
import { createSim } from '../simulators/fleet.ts';
import { closeAll, collect, connect, connectDevice, startTestGateway, until, type TestGateway } from './helpers/gateway.ts';

let t: TestGateway;
let skew = 0;
const now = () => Date.now() + skew;
const sims = new Map<string, SimDevice>();
const tokens: Record<string, string> = {};
let feed: Awaited<ReturnType<typeof collect>>;

const devices = [
  { deviceId: 'ev-cam-01', kind: 'camera', zone: 'hall' },
  { deviceId: 'ev-cam-02', kind: 'camera', zone: 'hall' },
  { deviceId: 'ev-cam-03', kind: 'camera', zone: 'platform' },
  // One smoke detector per test that raises a fire: each test has an alert (and items) of its own.
  { deviceId: 'ev-smoke-01', kind: 'smoke', zone: 'hall' },
  { deviceId: 'ev-smoke-02', kind: 'smoke', zone: 'hall' },
  { deviceId: 'ev-smoke-03', kind: 'smoke', zone: 'hall' },
  { deviceId: 'ev-bodycam-01', kind: 'bodycam', zone: 'beat' },
];

type Item = { id: string; device: string; ts: string; sha256: string; bytes: number };
const itemsOf = (deviceId: string, type: string): Item[] =>
  (t.gw.alerts.store.query({ site: 'ev', type }).find((a) => a.deviceId === deviceId)?.evidence['items'] as Item[] | undefined) ?? [];

beforeAll(async () => {
  t = await startTestGateway({ security: { allowAnonymous: false } }, [], now);
  const reg = t.gw.security.registry;
  const ps = await reg.provisionMany(
    devices.map((d) => ({ ...d, site: 'ev' })),
    { id: 'test' },
  );
  for (const [id, role, sites] of [
    ['ev-room', 'consumer', ['ev']],
    ['elsewhere-room', 'consumer', ['elsewhere']],
    ['ev-admin', 'admin', ['*']],
  ] as const) {
    const p = await reg.addPrincipal({ id, role, sites: [...sites] }, { id: 'test' });
    tokens[id] = p.token;
    if (id === 'ev-room') feed = await collect(await connect(t.mqttUrl, { clientId: 'ev-room:wall', ...p.credentials }), 'vigil/v1/ev/alerts/#');
  }
  for (const p of ps) {
    const d = devices.find((x) => x.deviceId === p.device.deviceId)!;
    const s = createSim(d.kind, { url: t.mqttUrl, site: 'ev', deviceId: d.deviceId, speed: 1, seed: d.deviceId, ...p.credentials });
    await s.start();
    sims.set(d.deviceId, s);
  }
  await until(() => devices.every((d) => t.gw.states.get(d.deviceId)?.connected), 'devices connected', 10_000);
}, 30_000);

afterAll(async () => {
  for (const s of sims.values()) await s.stop();
  await closeAll();
  await t?.stop();
});

const get = (path: string, token: string) => fetch(`${t.httpUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });

describe('evidence on alerts', () => {
  it("a fire gets a snapshot from each camera of its zone, listed in the alert with its sha256 and published; other zones' cameras are not asked", async () => {
    await sims.get('ev-smoke-01')!.publish('event', { type: 'alarm', active: true, source: 'smoke' });
    const items = await until(() => (itemsOf('ev-smoke-01', 'fire').length === 2 ? itemsOf('ev-smoke-01', 'fire') : undefined), 'two items attached', 15_000);
    expect(items.map((i) => i.device).sort()).toEqual(['ev-cam-01', 'ev-cam-02']);
    for (const i of items) expect(i).toMatchObject({ sha256: expect.stringMatching(/^[0-9a-f]{64}$/), bytes: expect.any(Number) });
    const published = await feed.next((m) => m.payload.toString().includes('"evidence_attached"') && m.payload.toString().includes(items[1]!.id));
    expect(JSON.parse(published.payload.toString())).toMatchObject({ event: 'evidence_attached', type: 'fire', evidence: { items: expect.any(Array) } });
    const asked = t.gw.commands.list('ev-cam-03');
    expect(asked).toEqual([]);
  });

  it('the bytes go to people granted the site, match the sha256 listed, and every view is recorded; another site does not see them', async () => {
    await sims.get('ev-smoke-02')!.publish('event', { type: 'alarm', active: true, source: 'smoke' });
    const [item] = await until(() => (itemsOf('ev-smoke-02', 'fire').length ? itemsOf('ev-smoke-02', 'fire') : undefined), 'an item', 15_000);
    const res = await get(`/api/v1/evidence/${item!.id}`, tokens['ev-room']!);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    const body = Buffer.from(await res.arrayBuffer());
    expect(createHash('sha256').update(body).digest('hex')).toBe(item!.sha256);
    expect(res.headers.get('x-evidence-sha256')).toBe(item!.sha256);
    expect(body.length).toBe(item!.bytes);
    expect((await get(`/api/v1/evidence/${item!.id}`, tokens['elsewhere-room']!)).status).toBe(404);
    const views = (await (await get(`/api/v1/evidence/${item!.id}/views`, tokens['ev-admin']!)).json()) as { views: { actor: string }[] };
    expect(views.views.map((v) => v.actor)).toEqual(['ev-room']);
    expect((await get(`/api/v1/evidence/${item!.id}/views`, tokens['ev-room']!)).status).toBe(403);
    expect(t.gw.security.audit.query({ action: 'evidence.view', limit: 10 }).map((a) => `${a.actor} ${a.target}`)).toContain(`ev-room ${item!.id}`);
  });

  it("an SOS gets the officer's own camera as evidence, and starts its recording", async () => {
    await sims.get('ev-bodycam-01')!.publish('event', { type: 'sos', pressed: true });
    const items = await until(() => (itemsOf('ev-bodycam-01', 'sos').length ? itemsOf('ev-bodycam-01', 'sos') : undefined), 'the body camera snapshot', 15_000);
    expect(items.map((i) => i.device)).toEqual(['ev-bodycam-01']);
    await until(() => t.gw.commands.list('ev-bodycam-01').some((c) => c.name === 'start_recording' && c.state === 'ok'), 'recording started');
  });

  it('alert types not configured gather nothing; items past retention are removed and no longer served', async () => {
    expect(t.gw.evidence.alertRaised({ ...t.gw.alerts.store.query({ site: 'ev', limit: 1 })[0]!, type: 'low_battery' })).toEqual([]);
    await sims.get('ev-smoke-03')!.publish('event', { type: 'alarm', active: true, source: 'smoke' });
    const [item] = await until(() => (itemsOf('ev-smoke-03', 'fire').length ? itemsOf('ev-smoke-03', 'fire') : undefined), 'an item', 15_000);
    skew += 91 * 86_400_000; // past the 90 days kept
    try {
      expect(t.gw.evidence.retain()).toBeGreaterThan(0);
    } finally {
      skew -= 91 * 86_400_000;
    }
    expect((await get(`/api/v1/evidence/${item!.id}`, tokens['ev-room']!)).status).toBe(404);
  });

  it('a snapshot asked for just before a restart is still attached when it comes after it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-evidence-'));
    const cfg = { dataDir: dir, security: { allowAnonymous: false } };
    let g = await startTestGateway(cfg);
    const ps = await g.gw.security.registry.provisionMany(
      [
        { deviceId: 'rs-cam', kind: 'camera', site: 'rs', zone: 'hall' },
        { deviceId: 'rs-smoke', kind: 'smoke', site: 'rs', zone: 'hall' },
      ],
      { id: 'test' },
    );
    const cred = (id: string) => ps.find((p) => p.device.deviceId === id)!.credentials;
    const cam = { site: 'rs', kind: 'camera', deviceId: 'rs-cam' };
    const smoke = { site: 'rs', kind: 'smoke', deviceId: 'rs-smoke' };
    try {
      // A camera slow to answer: it takes the command, and the box restarts before the picture comes.
      let c = await connectDevice(g.mqttUrl, cam, { ...cred('rs-cam') });
      await c.subscribeAsync(deviceTopic(cam, 'cmd'), { qos: 1 });
      const asked = new Promise<void>((r) => c.once('message', () => r()));
      const s = await connectDevice(g.mqttUrl, smoke, { ...cred('rs-smoke') });
      await s.publishAsync(deviceTopic(smoke, 'event'), JSON.stringify({ type: 'alarm', active: true, source: 'smoke' }), { qos: 1 });
      await asked;
      const alert = g.gw.alerts.store.query({ site: 'rs', type: 'fire' })[0]!;
      await c.endAsync(true);
      await s.endAsync(true);
      await g.stop();
      g = await startTestGateway(cfg);
      c = await connectDevice(g.mqttUrl, cam, { ...cred('rs-cam') });
      const jpeg = (await new SceneRenderer('rs-cam', 1).frame(10)) as Buffer;
      await c.publishAsync(deviceTopic(cam, 'snapshot'), jpeg, { qos: 1 });
      const items = await until(() => g.gw.alerts.store.get(alert.id)?.evidence['items'] as Item[] | undefined, 'the item attached after the restart');
      expect(items.map((i) => [i.device, i.sha256])).toEqual([['rs-cam', createHash('sha256').update(jpeg).digest('hex')]]);
      await c.endAsync(true);
    } finally {
      await g.stop();
    }
  }, 30_000);
});
