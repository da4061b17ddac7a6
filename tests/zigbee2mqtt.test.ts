/**
 * zigbee2mqtt through a bridge (#18): a zigbee2mqtt instance logs in to the box as a bridge of one site and
 * publishes on its own topic scheme (`zigbee2mqtt/<friendly_name>`, payloads from the Zigbee2MQTT device
 * pages in tests/fixtures/zigbee2mqtt), or stays on the site's existing broker (Debian's Mosquitto), which the
 * box reads. Smoke → fire, exactly as from a native alarm; a test is not a fire; a contact sensor is a door;
 * an unknown friendly name is pending until approved. Nobody else can speak as a bridged device: not a
 * principal, not a device with a stolen password, not a bridge of another site.
 */
import { readFileSync } from 'node:fs';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CentralBroker } from '../scripts/central-broker.ts';
import { closeAll, collect, connect, scrape, startTestGateway, until, type TestGateway } from './helpers/gateway.ts';

const fixture = (f: string) => readFileSync(new URL(`./fixtures/zigbee2mqtt/${f}`, import.meta.url));
const site = 'z2m-site';
const other = 'z2m-other';
let t: TestGateway;
let siteBroker: CentralBroker;
let admin = '';
let bridgeSecret = '';
let otherBridgeSecret = '';
const deviceSecrets = new Map<string, string>();

const api = async (method: string, path: string, body?: unknown, token = admin, type = 'application/json') => {
  const res = await fetch(`${t.httpUrl}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': type } : {}) },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
};
const alertsOf = (deviceId: string, type: string, s = site) => t.gw.alerts.store.query({ site: s, type }).filter((a) => a.deviceId === deviceId);
/** zigbee2mqtt as it logs in: its client id is the bridge id, its Last Will the bridge state. */
const bridgeClient = (id: string, password: string) =>
  connect(t.mqttUrl, {
    clientId: id,
    username: id,
    password,
    will: { topic: 'zigbee2mqtt/bridge/state', payload: Buffer.from('{"state":"offline"}'), qos: 1, retain: true },
  });
const publish = (c: MqttClient, topic: string, payload: Buffer | string, retain = false) => c.publishAsync(topic, payload, { qos: 1, retain });

beforeAll(async () => {
  siteBroker = await CentralBroker.start({ 'vigil-box': 'box-pw', z2m: 'z2m-pw' }, undefined, { acl: null });
  t = await startTestGateway({
    security: { allowAnonymous: false },
    alerts: { startupGraceS: 0 },
    adapters: { upstream: [{ id: 'z2m-home', site, url: siteBroker.url, username: 'vigil-box', password: 'box-pw' }] },
  });
  const reg = t.gw.security.registry;
  admin = (await reg.addPrincipal({ id: 'z2m-admin', role: 'admin', sites: ['*'] }, { id: 'test' })).token;
  const ps = await reg.provisionMany(
    [
      { deviceId: 'smoke-hall', kind: 'smoke', site, zone: 'hall', tags: ['adapter:zigbee2mqtt'], externalId: 'hall/smoke' },
      { deviceId: 'smoke-lab', kind: 'smoke', site, zone: 'lab', tags: ['adapter:zigbee2mqtt'], externalId: 'lab smoke' },
      { deviceId: 'door-back', kind: 'door', site, zone: 'yard', tags: ['adapter:zigbee2mqtt'], externalId: 'back door' },
      { deviceId: 'smoke-native', kind: 'smoke', site, zone: 'hall' },
      { deviceId: 'smoke-upstairs', kind: 'smoke', site, zone: 'attic', tags: ['adapter:zigbee2mqtt'], externalId: 'attic/smoke' },
    ],
    { id: 'test' },
  );
  for (const p of ps) deviceSecrets.set(p.device.deviceId, p.credentials.password);
}, 30_000);
afterAll(async () => {
  await closeAll();
  await t?.stop();
  await siteBroker?.stop();
});

describe('a zigbee2mqtt bridge publishing to the box', () => {
  it('an admin registers the bridge of a site; it logs in with its id as client id', async () => {
    const r = await api('POST', '/bridges', { id: 'z2m-main', site, adapter: 'zigbee2mqtt', baseTopic: 'zigbee2mqtt' });
    expect(r.status).toBe(201);
    expect(r.body['bridge']).toMatchObject({ id: 'z2m-main', site, adapter: 'zigbee2mqtt', baseTopic: 'zigbee2mqtt', state: 'enabled' });
    bridgeSecret = r.body['credentials'].password;
    otherBridgeSecret = (await api('POST', '/bridges', { id: 'z2m-elsewhere', site: other, adapter: 'zigbee2mqtt', baseTopic: 'zigbee2mqtt' })).body[
      'credentials'
    ].password;
    // A wrong base topic is refused at registration.
    expect((await api('POST', '/bridges', { id: 'z2m-bad', site, adapter: 'zigbee2mqtt', baseTopic: 'vigil/v1' })).status).toBe(400);
    await expect(connect(t.mqttUrl, { clientId: 'z2m-main-2', username: 'z2m-main', password: bridgeSecret })).rejects.toThrow(/Identifier rejected/i);
    const z = await bridgeClient('z2m-main', bridgeSecret);
    // zigbee2mqtt subscribes to its whole base topic; nothing outside it.
    expect((await z.subscribeAsync('zigbee2mqtt/#', { qos: 1 }))[0]!.qos).toBe(1);
    await expect(z.subscribeAsync('vigil/v1/#', { qos: 1 })).rejects.toThrow(/Subscribe error/);
    await publish(z, 'zigbee2mqtt/bridge/state', fixture('bridge-state.json'), true);
  });

  it('smoke=true from a Bitron detector is a critical fire on the device, seen by consumers on its canonical topic', async () => {
    const ops = await connect(t.mqttUrl, {
      clientId: 'z2m-admin:watch',
      username: 'z2m-admin',
      password: admin.slice(admin.indexOf('.') + 1),
    });
    const events = await collect(ops, `vigil/v1/${site}/smoke/smoke-hall/event`);
    const z = await bridgeClient('z2m-main', bridgeSecret);
    await publish(z, 'zigbee2mqtt/hall/smoke', fixture('902010_24-clear.json'));
    await publish(z, 'zigbee2mqtt/hall/smoke', fixture('902010_24-smoke.json'));
    const fire = await until(() => alertsOf('smoke-hall', 'fire')[0], 'fire raised');
    expect(fire).toMatchObject({ severity: 'critical', zone: 'hall', reason: 'smoke alarm from the detector' });
    const m = await events.next((x) => JSON.parse(x.payload.toString()).type === 'alarm');
    expect(JSON.parse(m.payload.toString())).toMatchObject({ type: 'alarm', active: true, source: 'smoke' });
    // The whole state again (a battery report): no second alarm event.
    await publish(z, 'zigbee2mqtt/hall/smoke', fixture('902010_24-smoke.json'));
    await until(() => (t.gw.states.get('smoke-hall')?.messages ?? 0) >= 1, 'state');
    expect(events.json().filter((e) => e.body['type'] === 'alarm')).toHaveLength(1);
    expect(t.gw.states.get('smoke-hall')).toMatchObject({ online: true });
  });

  it('commands go back through the bridge: hush is the siren stop on <friendly_name>/set; what zigbee2mqtt cannot do is rejected with the reason', async () => {
    const z = await bridgeClient('z2m-main', bridgeSecret);
    const sets = await collect(z, 'zigbee2mqtt/+/+/set');
    const hush = await api('POST', '/devices/smoke-hall/commands', { name: 'hush', params: { seconds: 120 } });
    expect(hush.status).toBe(200);
    expect(hush.body).toMatchObject({
      state: 'ok',
      reply: { data: { via: 'adapter', note: expect.stringMatching(/sent on zigbee2mqtt\/hall\/smoke\/set through bridge z2m-main/) } },
    });
    const m = await sets.next();
    expect([m.topic, JSON.parse(m.payload.toString())]).toEqual(['zigbee2mqtt/hall/smoke/set', { alarm: 'OFF' }]);
    const test = await api('POST', '/devices/smoke-hall/commands', { name: 'self_test', params: {} });
    expect(test.body).toMatchObject({ state: 'rejected', reply: { error: expect.stringMatching(/zigbee2mqtt smoke devices take no "self_test" command/) } });
  });

  it('the devices a bridge speaks for go offline with its session, and are reachable again when it is back', async () => {
    const z = await bridgeClient('z2m-main', bridgeSecret);
    await until(() => t.gw.states.get('smoke-hall')?.connected, 'reachable while the bridge is connected');
    await z.endAsync();
    await until(() => t.gw.states.get('smoke-hall')?.connected === false, 'offline with the bridge');
    expect((await api('POST', '/devices/smoke-hall/commands', { name: 'hush', params: {} })).status).toBe(409);
    await bridgeClient('z2m-main', bridgeSecret);
    await until(() => t.gw.states.get('smoke-hall')?.connected, 'reachable again');
  });

  it('a bridge republishing its network at once (300 messages, as on reconnect) is not rate limited like one device', async () => {
    const z = await bridgeClient('z2m-main', bridgeSecret);
    const before = t.gw.states.get('smoke-hall')?.messages ?? 0;
    await Promise.all(Array.from({ length: 300 }, () => publish(z, 'zigbee2mqtt/hall/smoke/availability', '{"state":"online"}')));
    expect(t.gw.states.get('smoke-hall')?.messages).toBe(before + 300);
  });

  it('a test press (Develco SMSZB-120: smoke and test both true) is a passed test, not a fire', async () => {
    const z = await bridgeClient('z2m-main', bridgeSecret);
    await publish(z, 'zigbee2mqtt/lab smoke', fixture('SMSZB-120-test.json'));
    await until(() => t.gw.states.get('smoke-lab')?.lastEvent?.data['type'] === 'test', 'test event');
    expect(t.gw.states.get('smoke-lab')?.lastEvent?.data).toMatchObject({ type: 'test', result: 'pass' });
    expect(alertsOf('smoke-lab', 'fire')).toEqual([]);
  });

  it('a contact sensor opening is the door opening; availability offline is the device offline', async () => {
    const z = await bridgeClient('z2m-main', bridgeSecret);
    await publish(z, 'zigbee2mqtt/back door', fixture('MCCGQ11LM-open.json'));
    await until(() => t.gw.states.get('door-back')?.lastEvent?.data['type'] === 'door_opened', 'door_opened');
    await publish(z, 'zigbee2mqtt/back door/availability', fixture('availability-offline.json'));
    await until(() => t.gw.states.get('door-back')?.status?.data['online'] === false, 'offline status');
  });

  it('malformed payloads are refused with the reason, counted on the device, and the bridge keeps going', async () => {
    const z = await bridgeClient('z2m-main', bridgeSecret);
    const errors = await collect(z, 'vigil/v1/_clients/z2m-main/error');
    await publish(z, 'zigbee2mqtt/hall/smoke', '{"smoke": tru');
    const e = JSON.parse((await errors.next()).payload.toString());
    expect(e).toMatchObject({
      code: 'schema_violation',
      message: expect.stringMatching(/zigbee2mqtt "hall\/smoke": the zigbee2mqtt state is unreadable: not JSON/),
    });
    await publish(z, 'zigbee2mqtt/back door/availability', '{"state":"maybe"}');
    await errors.next((m) => /availability must be/.test(m.payload.toString()));
    expect(t.gw.states.get('smoke-hall')?.refusedByReason['schema_violation']).toBe(1);
    expect(await scrape(t.httpUrl)).toMatch(/vigil_ingest_refused_total\{reason="schema_violation"\} [1-9]/);
    await publish(z, 'zigbee2mqtt/back door', '{"contact":true}');
    await until(() => t.gw.states.get('door-back')?.lastEvent?.data['type'] === 'door_closed', 'door_closed after refusals');
  });

  it('an unknown friendly name is pending with the kind it looks like, and once approved it is a device', async () => {
    const z = await bridgeClient('z2m-main', bridgeSecret);
    const errors = await collect(z, 'vigil/v1/_clients/z2m-main/error');
    await publish(z, 'zigbee2mqtt/0x00158d0001a2b3c4', fixture('MCCGQ11LM-open.json'));
    expect(JSON.parse((await errors.next((m) => /0x00158d0001a2b3c4/.test(m.payload.toString()))).payload.toString())).toMatchObject({
      code: 'unknown_device',
      message: expect.stringMatching(/is not a registered device of site "z2m-site"; it is listed as pending/),
    });
    const list = await api('GET', '/pending');
    const p = list.body['pending'].find((x: any) => x.claimedId === '0x00158d0001a2b3c4');
    expect(p).toMatchObject({
      source: 'bridge:z2m-main',
      adapter: 'zigbee2mqtt',
      kind: 'door',
      site,
      topic: 'zigbee2mqtt/0x00158d0001a2b3c4',
      state: 'pending',
    });
    // A bridged device stays in its bridge's site.
    expect((await api('POST', `/pending/${p.id}/approve`, { deviceId: 'door-store', site: other })).status).toBe(403);
    const ok = await api('POST', `/pending/${p.id}/approve`, { deviceId: 'door-store', zone: 'store' });
    expect(ok.status).toBe(201);
    expect(ok.body['device']).toMatchObject({ deviceId: 'door-store', kind: 'door', site, zone: 'store', tags: ['adapter:zigbee2mqtt'] });
    expect(ok.body['pending']).toMatchObject({ state: 'approved', deviceId: 'door-store', decidedBy: 'z2m-admin' });
    await publish(z, 'zigbee2mqtt/0x00158d0001a2b3c4', fixture('MCCGQ11LM-open.json'));
    await until(() => t.gw.states.get('door-store')?.lastEvent?.data['type'] === 'door_opened', 'approved device reports');
    expect((await api('GET', '/pending')).body['pending'].some((x: any) => x.claimedId === '0x00158d0001a2b3c4')).toBe(false);
  });
});

describe('nobody else speaks as a bridged device', () => {
  it('a principal (even an admin) cannot publish on the bridge topics or as the device', async () => {
    const before = t.gw.states.get('smoke-lab')?.messages ?? 0;
    const c = await connect(t.mqttUrl, { clientId: 'z2m-admin:tool', username: 'z2m-admin', password: admin.slice(admin.indexOf('.') + 1) });
    const errors = await collect(c, 'vigil/v1/_clients/z2m-admin:tool/error');
    await publish(c, 'zigbee2mqtt/lab smoke', fixture('902010_24-smoke.json'));
    expect(JSON.parse((await errors.next()).payload.toString())).toMatchObject({ code: 'not_permitted' });
    await publish(c, `vigil/v1/${site}/smoke/smoke-lab/event`, JSON.stringify({ type: 'alarm', active: true, source: 'smoke' }));
    await errors.next((m) => JSON.parse(m.payload.toString()).topic.startsWith('vigil/v1'));
    expect(alertsOf('smoke-lab', 'fire')).toEqual([]);
    expect(t.gw.states.get('smoke-lab')?.messages ?? 0).toBe(before);
  });

  it("a device's stolen password does not make it a bridge; a bridge cannot use Vigil's own topics", async () => {
    const d = await connect(t.mqttUrl, { clientId: 'smoke-native', username: 'smoke-native', password: deviceSecrets.get('smoke-native') });
    await publish(d, 'zigbee2mqtt/lab smoke', fixture('902010_24-smoke.json'));
    const z = await bridgeClient('z2m-main', bridgeSecret);
    const errors = await collect(z, 'vigil/v1/_clients/z2m-main/error');
    await publish(z, `vigil/v1/${site}/smoke/smoke-lab/event`, JSON.stringify({ type: 'alarm', active: true, source: 'smoke' }));
    expect(JSON.parse((await errors.next((m) => /base topic/.test(m.payload.toString()))).payload.toString())).toMatchObject({ code: 'not_permitted' });
    // A native device (not tagged for the adapter) cannot be spoken for by the bridge either.
    await publish(z, 'zigbee2mqtt/smoke-native', fixture('902010_24-smoke.json'));
    await errors.next((m) => JSON.parse(m.payload.toString()).message.includes('is not provisioned for adapter "zigbee2mqtt"'));
    expect(alertsOf('smoke-lab', 'fire')).toEqual([]);
    expect(alertsOf('smoke-native', 'fire')).toEqual([]);
  });

  it("another site's bridge naming this site's devices reaches nothing here (they are pending in its own site)", async () => {
    const z = await bridgeClient('z2m-elsewhere', otherBridgeSecret);
    const errors = await collect(z, 'vigil/v1/_clients/z2m-elsewhere/error');
    await publish(z, 'zigbee2mqtt/lab smoke', fixture('902010_24-smoke.json'));
    await publish(z, 'zigbee2mqtt/smoke-lab', fixture('902010_24-smoke.json'));
    await errors.next((m) => /smoke-lab/.test(m.payload.toString()));
    expect(alertsOf('smoke-lab', 'fire')).toEqual([]);
    const pending = (await api('GET', '/pending')).body['pending'].filter((x: any) => x.source === 'bridge:z2m-elsewhere');
    expect(pending.map((x: any) => [x.claimedId, x.site]).sort()).toEqual([
      ['lab smoke', other],
      ['smoke-lab', other],
    ]);
  });

  it('a revoked bridge is disconnected and cannot log in again', async () => {
    const r = await api('POST', '/bridges', { id: 'z2m-temp', site, adapter: 'zigbee2mqtt', baseTopic: 'zigbee2mqtt' });
    const z = await bridgeClient('z2m-temp', r.body['credentials'].password);
    const closed = new Promise<void>((resolve) => z.once('close', () => resolve()));
    expect((await api('POST', '/bridges/z2m-temp/revoke')).body).toMatchObject({ state: 'revoked' });
    await closed;
    await expect(bridgeClient('z2m-temp', r.body['credentials'].password)).rejects.toThrow(/Not authorized|Bad username/i);
  });
});

describe("a zigbee2mqtt left on the site's own broker (Debian's Mosquitto)", () => {
  it('the box reads it: smoke=true is a fire, availability works, unknown names are pending with the bridge as source', async () => {
    await until(() => t.gw.upstream[0]?.connected, 'box subscribed to the site broker', 10_000);
    const z2m = await connect(siteBroker.url, { clientId: 'zigbee2mqtt', username: 'z2m', password: 'z2m-pw' });
    await publish(z2m, 'zigbee2mqtt/bridge/state', fixture('bridge-state.json'), true);
    await publish(z2m, 'zigbee2mqtt/attic/smoke', fixture('902010_24-clear.json'));
    await publish(z2m, 'zigbee2mqtt/attic/smoke', fixture('902010_24-smoke.json'));
    const fire = await until(() => alertsOf('smoke-upstairs', 'fire')[0], 'fire from the site broker', 10_000);
    expect(fire).toMatchObject({ severity: 'critical', zone: 'attic' });
    // A command goes back to zigbee2mqtt on the site broker.
    const sets = await collect(z2m, 'zigbee2mqtt/attic/smoke/set');
    expect((await api('POST', '/devices/smoke-upstairs/commands', { name: 'hush', params: {} })).body).toMatchObject({ state: 'ok' });
    expect(JSON.parse((await sets.next()).payload.toString())).toEqual({ alarm: 'OFF' });
    await publish(z2m, 'zigbee2mqtt/attic/smoke/availability', fixture('availability-offline.json'));
    await until(() => t.gw.states.get('smoke-upstairs')?.status?.data['online'] === false, 'offline via the site broker');
    await publish(z2m, 'zigbee2mqtt/garage smoke', fixture('902010_24-clear.json'));
    const p = await until(
      async () => (await api('GET', '/pending')).body['pending'].find((x: any) => x.claimedId === 'garage smoke'),
      'pending from the site broker',
    );
    expect(p).toMatchObject({ source: 'bridge:z2m-home', kind: 'smoke', site });
    const ready = (await (await fetch(`${t.httpUrl}/readyz`)).json()) as { checks: Record<string, unknown> };
    expect(ready.checks['bridge:z2m-home']).toMatchObject({ ok: true, critical: false });
  });
});
