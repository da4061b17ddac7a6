/**
 * Onboarding (#18): devices nobody registered show up as pending (an MQTT login, a vendor push), an admin
 * approves them one by one or from a CSV (credentials once, the adapter's tag set) or rejects them; a
 * per-site provisioning key lets a device claim itself (zero-touch), throttled and audited. What strangers
 * can do with it: fill the list (bounded and counted), guess keys (throttled), claim outside the key's
 * kinds, uses or lifetime (refused with the reason). Time is the gateway's injected clock.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeAll, connect, scrape, startTestGateway, until, type TestGateway } from './helpers/gateway.ts';

const site = 'onb';
let t: TestGateway;
let admin = '';
let engineer = '';
let consumer = '';
let clock = Date.parse('2026-03-02T08:00:00Z');

const call = async (method: string, path: string, body?: unknown, token = admin, type = 'application/json') => {
  const res = await fetch(`${t.httpUrl}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': type } : {}) },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
};
const pendingOf = async (claimedId: string, token = admin) =>
  ((await call('GET', '/api/v1/pending', undefined, token)).body['pending'] as any[]).find((p) => p.claimedId === claimedId);
const tryDevice = (id: string, password: string, will?: string) =>
  connect(t.mqttUrl, {
    clientId: id,
    username: id,
    password,
    ...(will ? { will: { topic: will, payload: Buffer.from('{"online":false}'), qos: 1 as const, retain: true } } : {}),
  });

beforeAll(async () => {
  t = await startTestGateway(
    { security: { allowAnonymous: false, loginThrottle: { freeFailures: 100 } }, adapters: { maxPending: 40, maxPendingPerAddress: 30 } },
    [],
    () => clock,
  );
  const reg = t.gw.security.registry;
  admin = (await reg.addPrincipal({ id: 'onb-admin', role: 'admin', sites: [site] }, { id: 'test' })).token;
  engineer = (await reg.addPrincipal({ id: 'onb-eng', role: 'engineer', sites: [site] }, { id: 'test' })).token;
  consumer = (await reg.addPrincipal({ id: 'onb-ops', role: 'consumer', sites: [site] }, { id: 'test' })).token;
}, 20_000);
afterAll(async () => {
  await closeAll();
  await t?.stop();
});

describe('pending devices', () => {
  it('an unknown device logging in over MQTT is refused and listed, with the kind and site its Last Will names', async () => {
    await expect(tryDevice('smoke-new-1', 'factory-default', `vigil/v1/${site}/smoke/smoke-new-1/status`)).rejects.toThrow(/Bad username or password/i);
    const p = await until(() => pendingOf('smoke-new-1'), 'pending');
    expect(p).toMatchObject({ source: 'mqtt', kind: 'smoke', site, address: '127.0.0.1', topic: `vigil/v1/${site}/smoke/smoke-new-1/status`, attempts: 1 });
    // Engineers see the list; consumers do not; nobody without a token.
    expect((await call('GET', '/api/v1/pending', undefined, engineer)).status).toBe(200);
    expect((await call('GET', '/api/v1/pending', undefined, consumer)).status).toBe(403);
    expect((await call('GET', '/api/v1/pending', undefined, '')).status).toBe(401);
    // Retrying within 10 s rewrites nothing; later it counts the attempt.
    await expect(tryDevice('smoke-new-1', 'factory-default')).rejects.toThrow();
    clock += 11_000;
    await expect(tryDevice('smoke-new-1', 'factory-default')).rejects.toThrow();
    expect(await pendingOf('smoke-new-1')).toMatchObject({ attempts: 2 });
  });

  it('a vendor push from an unknown camera is listed with its adapter; approving it issues credentials and the tag', async () => {
    const res = await fetch(`${t.httpUrl}/adapters/hikvision-isapi/hik-new-7`, {
      method: 'POST',
      headers: { 'content-type': 'application/xml', authorization: `Basic ${Buffer.from('hik-new-7:admin12345').toString('base64')}` },
      body: '<EventNotificationAlert><eventType>videoloss</eventType></EventNotificationAlert>',
    });
    expect(res.status).toBe(401);
    const p = await pendingOf('hik-new-7');
    expect(p).toMatchObject({ source: 'http:hikvision-isapi', adapter: 'hikvision-isapi', kind: 'camera', site: null });
    // Engineers list, only admins decide; a device of no site needs one.
    expect((await call('POST', `/api/v1/pending/${p.id}/approve`, { site }, engineer)).status).toBe(403);
    expect((await call('POST', `/api/v1/pending/${p.id}/approve`, {})).body).toMatchObject({ code: 'VIGIL_ERR_BULK_INVALID' });
    const ok = await call('POST', `/api/v1/pending/${p.id}/approve`, { site, zone: 'gate-1' });
    expect(ok.status).toBe(201);
    expect(ok.body['device']).toMatchObject({ deviceId: 'hik-new-7', kind: 'camera', site, zone: 'gate-1', tags: ['adapter:hikvision-isapi'] });
    const heartbeat = await fetch(`${t.httpUrl}/adapters/hikvision-isapi/hik-new-7`, {
      method: 'POST',
      headers: {
        'content-type': 'application/xml',
        authorization: `Basic ${Buffer.from(`hik-new-7:${ok.body['credentials'].password}`).toString('base64')}`,
      },
      body: '<EventNotificationAlert><activePostCount>0</activePostCount><eventType>videoloss</eventType><eventState>inactive</eventState></EventNotificationAlert>',
    });
    expect(heartbeat.status).toBe(200);
    expect((await call('POST', `/api/v1/pending/${p.id}/approve`, { site })).status).toBe(409);
    const audit = (await call('GET', '/api/v1/audit?action=pending.approve')).body;
    expect(JSON.stringify(audit)).toContain('hik-new-7');
  });

  it('approved from the MQTT list, the device logs in with its new credentials; a rejected one stays out of the list', async () => {
    const p = await pendingOf('smoke-new-1');
    const ok = await call('POST', `/api/v1/pending/${p.id}/approve`, {});
    expect(ok.body['device']).toMatchObject({ deviceId: 'smoke-new-1', kind: 'smoke', site, tags: [] });
    const c = await tryDevice('smoke-new-1', ok.body['credentials'].password);
    expect(c.connected).toBe(true);
    await expect(tryDevice('door-stranger', 'x')).rejects.toThrow();
    const s = await until(() => pendingOf('door-stranger'), 'stranger pending');
    expect((await call('POST', `/api/v1/pending/${s.id}/reject`, { reason: 'not ours' })).body).toMatchObject({ state: 'rejected', decidedBy: 'onb-admin' });
    clock += 11_000;
    await expect(tryDevice('door-stranger', 'x')).rejects.toThrow();
    expect(await pendingOf('door-stranger')).toBeUndefined();
    const all = (await call('GET', '/api/v1/pending?state=all')).body['pending'] as any[];
    expect(all.find((x) => x.claimedId === 'door-stranger')).toMatchObject({ state: 'rejected', attempts: 2 });
  });

  it('bulk approval from a CSV is all or nothing, and lists every bad line', async () => {
    for (const id of ['cam-b1', 'cam-b2']) await expect(tryDevice(id, 'x', `vigil/v1/${site}/camera/${id}/status`)).rejects.toThrow();
    await until(() => pendingOf('cam-b2'), 'both pending');
    const bad = await call('POST', '/api/v1/pending/approve', 'claimedId,zone\ncam-b1,gate-2\nnobody,gate-3\n', admin, 'text/csv');
    expect(bad.status).toBe(400);
    expect(bad.body['details']).toEqual([{ path: '[1].claimedId', message: 'no device "nobody" is waiting' }]);
    expect(await pendingOf('cam-b1')).toMatchObject({ state: 'pending' });
    const ok = await call('POST', '/api/v1/pending/approve', 'claimedId,zone,tags\ncam-b1,gate-2,\ncam-b2,gate-3,ptz;outdoor\n', admin, 'text/csv');
    expect(ok.status).toBe(201);
    expect(ok.body['devices'].map((d: any) => [d.device.deviceId, d.device.zone, d.device.tags])).toEqual([
      ['cam-b1', 'gate-2', []],
      ['cam-b2', 'gate-3', ['ptz', 'outdoor']],
    ]);
  });

  it('strangers cannot grow the list without bound: what does not fit is counted, not stored', async () => {
    for (let i = 0; i < 40; i++) await expect(tryDevice(`flood-${i}`, 'x')).rejects.toThrow();
    const all = (await call('GET', '/api/v1/pending')).body['pending'] as any[];
    expect(all.filter((p) => p.claimedId.startsWith('flood-')).length).toBeLessThan(40);
    expect(all.filter((p) => p.state === 'pending' && p.address === '127.0.0.1').length).toBeLessThanOrEqual(30);
    expect(await scrape(t.httpUrl)).toMatch(/vigil_pending_dropped_total [1-9]/);
    expect(await scrape(t.httpUrl)).toMatch(/vigil_devices_pending\{source="mqtt"\} [1-9]/);
  });
});

describe('zero-touch claiming with a provisioning key', () => {
  let key = '';
  it('an admin makes a key for a site, zone and kinds; the secret is shown once and never listed', async () => {
    expect((await call('POST', '/api/v1/claim-keys', { site, kinds: ['smoke'] }, engineer)).status).toBe(403);
    expect((await call('POST', '/api/v1/claim-keys', { site: 'elsewhere', kinds: ['smoke'] })).status).toBe(201);
    const r = await call('POST', '/api/v1/claim-keys', { site, zone: 'tower-b', kinds: ['smoke', 'door'], maxUses: 2, ttlH: 24 });
    expect(r.status).toBe(201);
    key = r.body['secret'];
    expect(key.startsWith(`${r.body['key'].id}.`)).toBe(true);
    expect(JSON.stringify((await call('GET', '/api/v1/claim-keys')).body)).not.toContain(key.split('.')[1]);
  });

  it('a device claims itself into the key’s site and zone, gets credentials once, and logs in', async () => {
    const r = await call('POST', '/claim', { deviceId: 'smoke-tb-1', kind: 'smoke', key }, '');
    expect(r.status).toBe(201);
    expect(r.body['device']).toMatchObject({ deviceId: 'smoke-tb-1', kind: 'smoke', site, zone: 'tower-b' });
    expect((await tryDevice('smoke-tb-1', r.body['credentials'].password)).connected).toBe(true);
    // Claiming the same id again is a conflict, not a second set of credentials.
    expect((await call('POST', '/claim', { deviceId: 'smoke-tb-1', kind: 'smoke', key }, '')).status).toBe(409);
  });

  it('wrong keys are refused, throttled and audited; kinds, uses and lifetime are enforced with the reason', async () => {
    const wrong = await call('POST', '/claim', { deviceId: 'smoke-x', kind: 'smoke', key: `${key.split('.')[0]}.guess` }, '');
    expect(wrong).toMatchObject({ status: 401, body: { code: 'VIGIL_ERR_UNAUTHORIZED' } });
    expect((await call('POST', '/claim', { deviceId: 'smoke-x', kind: 'smoke', key: 'no-dot' }, '')).status).toBe(401);
    const cam = await call('POST', '/claim', { deviceId: 'cam-x', kind: 'camera', key }, '');
    expect(cam).toMatchObject({ status: 403, body: { message: expect.stringMatching(/is for smoke, door devices, not camera/) } });
    expect((await call('POST', '/claim', { deviceId: 'door-tb-1', kind: 'door', key }, '')).status).toBe(201);
    const used = await call('POST', '/claim', { deviceId: 'door-tb-2', kind: 'door', key }, '');
    expect(used.body['message']).toMatch(/is used up \(2 devices\)/);
    const k2 = (await call('POST', '/api/v1/claim-keys', { site, kinds: ['door'], ttlH: 1 })).body['secret'];
    clock += 3_600_000;
    expect((await call('POST', '/claim', { deviceId: 'door-tb-3', kind: 'door', key: k2 }, '')).body['message']).toMatch(/expired at/);
    const audit = JSON.stringify((await call('GET', '/api/v1/audit?action=device.claim')).body);
    expect(audit).toContain('the provisioning key is wrong or revoked');
    expect(audit).toContain('smoke-tb-1');
    // Two devices claiming the last use at the same moment: one gets it.
    const k1 = (await call('POST', '/api/v1/claim-keys', { site, kinds: ['door'], maxUses: 1 })).body['secret'];
    const both = await Promise.all(['door-race-1', 'door-race-2'].map((id) => call('POST', '/claim', { deviceId: id, kind: 'door', key: k1 }, '')));
    expect(both.map((r) => r.status).sort()).toEqual([201, 403]);
    // Revoked: the key stops working at once.
    const k3 = await call('POST', '/api/v1/claim-keys', { site, kinds: ['door'] });
    await call('POST', `/api/v1/claim-keys/${k3.body['key'].id}/revoke`);
    expect((await call('POST', '/claim', { deviceId: 'door-tb-4', kind: 'door', key: k3.body['secret'] }, '')).status).toBe(401);
  });
});
