/**
 * Device security against a real broker over TCP and TLS: authentication, client-id
 * ownership, ACLs, abuse limits, mutual TLS, the admin API, and the audit record of each denial.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { IClientOptions } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceTopic } from '../devices/index.ts';
import type { GatewayConfigInput } from '../gateway/config.ts';
import type { AuditRecord } from '../gateway/security/audit.ts';
import { closeAll, collect, connect, scrape, until } from './helpers/gateway.ts';
import { certs, grantedQos, refusedWith, startSecureGateway as startGateway } from './helpers/security.ts';

const pki = mkdtempSync(join(tmpdir(), 'vigil-pki-'));
const otherPki = mkdtempSync(join(tmpdir(), 'vigil-pki-other-'));

/** Everything the gateway logs, to prove no secret ever reaches it. */
const logLines: string[] = [];
const logSink = new Writable({
  write(chunk, _enc, cb) {
    logLines.push(String(chunk));
    cb();
  },
});
const issuedSecrets: string[] = [];

async function startSecureGateway(overrides: GatewayConfigInput = {}) {
  const g = await startGateway(pki, overrides, logSink);
  issuedSecrets.push(g.adminSecret);
  return g;
}

let S: Awaited<ReturnType<typeof startSecureGateway>>;
const pw: Record<string, string> = {};

beforeAll(async () => {
  certs('ca', pki, 'hub1');
  certs('server', pki, 'localhost');
  certs('device', pki, 'hub1-cam-tls');
  certs('device', pki, 'hub1-cam-revoked');
  certs('ca', otherPki, 'rogue');
  certs('device', otherPki, 'hub1-cam-tls'); // same CN, untrusted CA
  // Every test here connects from 127.0.0.1: the login throttle is tested on its own gateways (security-redteam.test.ts).
  S = await startSecureGateway({ security: { loginThrottle: { freeFailures: 1000 } } } as GatewayConfigInput);
  const bulk = await S.api(
    'POST',
    '/api/v1/devices/bulk',
    S.adminToken,
    'deviceId,kind,site,zone,tags\nhub1-smoke-01,smoke,hub1,hall,ceiling\nhub1-cam-01,camera,hub1,,\nhub2-smoke-01,smoke,hub2,,\nhub1-cam-tls,camera,hub1,,\nhub1-cam-revoked,camera,hub1,,\nhub1-door-01,door,hub1,,\nhub1-smoke-login,smoke,hub1,,',
    'text/csv',
  );
  expect(bulk.status, bulk.text).toBe(201);
  for (const d of bulk.body.devices) pw[d.credentials.username] = d.credentials.password;
  issuedSecrets.push(...Object.values(pw));
});
afterAll(async () => {
  await closeAll();
  await S.gw.stop();
});

const audits = (q: Partial<AuditRecord> & { since?: number } = {}) =>
  S.gw.security.audit
    .query({ limit: 1000 })
    .filter((r) => Object.entries(q).every(([k, v]) => (k === 'since' ? r.ts >= (v as number) : (r as unknown as Record<string, unknown>)[k] === v)));

const device = (id: string, extra: IClientOptions = {}) => connect(S.mqttUrl, { clientId: id, username: id, password: pw[id], ...extra });

describe('MQTT authentication', () => {
  it('a provisioned device logs in with its password and publishes', async () => {
    // A device no other test uses: its first login and first message, whatever ran before.
    const a = { site: 'hub1', kind: 'smoke', deviceId: 'hub1-smoke-login' };
    const c = await device(a.deviceId);
    // Online from the moment it authenticates (its identity says which device it is; no will needed).
    await until(() => S.gw.states.get(a.deviceId)?.online, 'online at connect');
    await c.publishAsync(deviceTopic(a, 'telemetry'), JSON.stringify({ temperature_c: 21, humidity_pct: 40, eco2_ppm: 420, obscuration_pct_m: 0 }), { qos: 1 });
    expect(S.gw.states.get(a.deviceId)?.messages).toBe(1);
    expect(audits({ action: 'mqtt.connect', actor: a.deviceId, outcome: 'ok' })).toHaveLength(1);
    expect(S.gw.security.registry.getDevice(a.deviceId)?.lastAddress).toBe('127.0.0.1');
  });

  it('refuses with the right CONNACK code, and audits each refusal', async () => {
    expect(await refusedWith(S.mqttUrl, { clientId: 'hub1-cam-01', username: 'hub1-cam-01', password: 'wrong' })).toBe(4);
    expect(await refusedWith(S.mqttUrl, { clientId: 'ghost-1', username: 'ghost-1', password: 'x' })).toBe(4);
    expect(await refusedWith(S.mqttUrl, { clientId: 'anon-1' })).toBe(5);
    // The client id is the device id: no one logs in as a device under another id.
    expect(await refusedWith(S.mqttUrl, { clientId: 'something-else', username: 'hub1-cam-01', password: pw['hub1-cam-01'] })).toBe(2);
    const denied = audits({ action: 'mqtt.connect', outcome: 'denied' }).map((r) => `${r.actor}: ${String(r.detail['reason'])}`);
    expect(denied).toEqual(
      expect.arrayContaining([
        'hub1-cam-01: bad user name or password',
        'ghost-1: bad user name or password',
        'anon-1: credentials required (anonymous access is disabled)',
        'hub1-cam-01: client id must be the device id "hub1-cam-01"',
      ]),
    );
    expect(audits({ action: 'mqtt.connect', outcome: 'denied' }).every((r) => r.address === '127.0.0.1')).toBe(true);
    const metrics = await scrape(`http://127.0.0.1:${S.gw.ports.http}`);
    expect(metrics).toMatch(/vigil_security_events_total\{action="mqtt.connect",outcome="denied"\} [4-9]/);
  });

  it('a revoked device is refused (5), and revoking a connected device closes its session', async () => {
    const c = await device('hub1-door-01');
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    const res = await S.api('POST', '/api/v1/devices/hub1-door-01/revoke', S.adminToken);
    expect(res.body).toMatchObject({ deviceId: 'hub1-door-01', state: 'revoked' });
    await closed;
    expect(await refusedWith(S.mqttUrl, { clientId: 'hub1-door-01', username: 'hub1-door-01', password: pw['hub1-door-01'] })).toBe(5);
    expect(audits({ action: 'mqtt.session_closed', target: 'hub1-door-01' })).toHaveLength(1);
    expect(audits({ action: 'device.revoke', target: 'hub1-door-01', actor: 'root-admin' })).toHaveLength(1);
    // Rotation reinstates it with a new secret; the old one stays dead.
    const rot = await S.api('POST', '/api/v1/devices/hub1-door-01/rotate', S.adminToken);
    issuedSecrets.push(rot.body.credentials.password);
    expect(await refusedWith(S.mqttUrl, { clientId: 'hub1-door-01', username: 'hub1-door-01', password: pw['hub1-door-01'] })).toBe(4);
    expect(await refusedWith(S.mqttUrl, { clientId: 'hub1-door-01', username: 'hub1-door-01', password: rot.body.credentials.password })).toBe(0);
  });

  it('a client id can only be taken over by the identity that owns it', async () => {
    const owner = await device('hub1-cam-01');
    // Another device's valid credentials with this client id: refused, the owner's session untouched.
    expect(await refusedWith(S.mqttUrl, { clientId: 'hub1-cam-01', username: 'hub1-smoke-01', password: pw['hub1-smoke-01'] })).toBe(2);
    const ops = await S.gw.security.registry.addPrincipal({ id: 'ops', role: 'consumer', sites: ['hub1'] }, { id: 'test' });
    issuedSecrets.push(ops.credentials.password);
    expect(await refusedWith(S.mqttUrl, { clientId: 'hub1-cam-01', username: 'ops', password: ops.credentials.password })).toBe(2);
    expect(owner.connected).toBe(true);
    // The same identity may take its own session over [MQTT-3.1.4-2].
    const closed = new Promise<void>((r) => owner.once('close', () => r()));
    await device('hub1-cam-01');
    await closed;
  });
});

describe('authorization', () => {
  it('a device publishes only on its own topics, as its registered kind and site', async () => {
    const c = await device('hub1-cam-01');
    const errors = await collect(c, deviceTopic({ site: 'hub1', kind: 'camera', deviceId: 'hub1-cam-01' }, 'error'));
    await c.publishAsync(
      deviceTopic({ site: 'hub1', kind: 'smoke', deviceId: 'hub1-smoke-01' }, 'event'),
      JSON.stringify({ type: 'alarm', active: true, source: 'smoke' }),
      { qos: 1 },
    );
    // A compromised camera cannot pass itself off as a smoke alarm under its own id either.
    await c.publishAsync(
      deviceTopic({ site: 'hub1', kind: 'smoke', deviceId: 'hub1-cam-01' }, 'event'),
      JSON.stringify({ type: 'alarm', active: true, source: 'smoke' }),
      { qos: 1 },
    );
    await until(() => errors.seen.length >= 2, 'two errors');
    const bodies = errors.json().map((e) => e.body);
    expect(bodies.map((b) => b['code'])).toEqual(['device_mismatch', 'device_mismatch']);
    expect(String(bodies[1]!['message'])).toMatch(/registered as a camera at site "hub1"/);
    expect(S.gw.states.get('hub1-smoke-01')?.lastEvent).toBeUndefined();
    const denied = audits({ action: 'mqtt.publish', actor: 'hub1-cam-01', outcome: 'denied' });
    expect(denied.map((r) => r.target)).toEqual(expect.arrayContaining(['vigil/v1/hub1/smoke/hub1-smoke-01/event', 'vigil/v1/hub1/smoke/hub1-cam-01/event']));
  });

  it('a device subscribes only to its own config/desired, cmd and error topics', async () => {
    const a = { site: 'hub1', kind: 'smoke', deviceId: 'hub1-smoke-01' };
    const c = await device(a.deviceId);
    const granted = await grantedQos(c, [
      deviceTopic(a, 'config/desired'),
      deviceTopic(a, 'error'),
      deviceTopic(a, 'cmd'),
      '#',
      '$SYS/#',
      'vigil/v1/hub1/camera/hub1-cam-01/config/desired',
      'vigil/v1/hub1/door/hub1-door-01/cmd',
      'vigil/v1/hub1/+/+/telemetry',
    ]);
    expect(granted).toEqual([1, 1, 1, 128, 128, 128, 128, 128]);
    expect(c.connected).toBe(true);
    const denied = audits({ action: 'mqtt.subscribe', actor: a.deviceId, outcome: 'denied' }).map((r) => r.target);
    expect(denied).toEqual(expect.arrayContaining(['#', '$SYS/#', 'vigil/v1/hub1/+/+/telemetry']));
  });

  it('a consumer is scoped to the sites it is granted', async () => {
    const p = await S.gw.security.registry.addPrincipal({ id: 'screen-hub1', role: 'consumer', sites: ['hub1'] }, { id: 'test' });
    issuedSecrets.push(p.credentials.password);
    const c = await connect(S.mqttUrl, { clientId: 'screen-hub1:wall', username: 'screen-hub1', password: p.credentials.password });
    const granted = await grantedQos(c, ['vigil/v1/hub1/alerts/#', 'vigil/v1/hub1/+/+/status', 'vigil/v1/hub2/alerts/#', 'vigil/v1/+/alerts/#', '#', '$SYS/#']);
    expect(granted).toEqual([1, 1, 128, 128, 128, 128]);
    const got = await collect(c, 'vigil/v1/hub1/alerts/#');
    S.gw.broker!.publish(
      { cmd: 'publish', topic: 'vigil/v1/hub2/alerts/critical/fire/x', payload: Buffer.from('{}'), qos: 1, retain: false, dup: false },
      () => {},
    );
    S.gw.broker!.publish(
      { cmd: 'publish', topic: 'vigil/v1/hub1/alerts/critical/fire/y', payload: Buffer.from('{"ok":1}'), qos: 1, retain: false, dup: false },
      () => {},
    );
    const m = await got.next((x) => x.topic.endsWith('/fire/y'));
    expect(m.payload.toString()).toBe('{"ok":1}');
    expect(got.seen.some((x) => x.topic.includes('hub2'))).toBe(false);
    expect(audits({ action: 'mqtt.subscribe', actor: 'screen-hub1', outcome: 'denied' }).map((r) => r.target)).toEqual(
      expect.arrayContaining(['vigil/v1/hub2/alerts/#', 'vigil/v1/+/alerts/#']),
    );
  });
});

describe('abuse limits', () => {
  it('an oversized message is refused with payload_too_large and counted', async () => {
    const a = { site: 'hub1', kind: 'smoke', deviceId: 'hub1-smoke-01' };
    const c = await device(a.deviceId);
    const errors = await collect(c, deviceTopic(a, 'error'));
    await c.publishAsync(deviceTopic(a, 'telemetry'), JSON.stringify({ pad: 'x'.repeat(50_000) }), { qos: 1 });
    expect((await errors.next()).payload.toString()).toMatch(/"code":"payload_too_large"/);
    expect(audits({ action: 'mqtt.publish', actor: a.deviceId, outcome: 'denied' }).map((r) => r.detail['code'])).toContain('payload_too_large');
    expect(await scrape(`http://127.0.0.1:${S.gw.ports.http}`)).toMatch(/vigil_ingest_refused_total\{reason="payload_too_large"\} [1-9]/);
  });

  it('a device above its rate is refused with rate_limited (and audited), then recovers', async () => {
    const a = { site: 'hub2', kind: 'smoke', deviceId: 'hub2-smoke-01' };
    const c = await device(a.deviceId);
    const errors = await collect(c, deviceTopic(a, 'error'));
    const body = JSON.stringify({ temperature_c: 21, humidity_pct: 40, eco2_ppm: 420, obscuration_pct_m: 0 });
    for (let i = 0; i < 30; i++) await c.publishAsync(deviceTopic(a, 'telemetry'), body, { qos: 1 });
    const accepted = S.gw.states.get(a.deviceId)!.messages;
    expect(accepted).toBeGreaterThanOrEqual(10); // the burst
    expect(accepted).toBeLessThan(30);
    expect(S.gw.states.get(a.deviceId)!.refusedByReason.rate_limited).toBe(30 - accepted);
    expect((await errors.next()).payload.toString()).toMatch(/"code":"rate_limited"/);
    expect(audits({ action: 'mqtt.publish', actor: a.deviceId, outcome: 'denied' })[0]?.detail['code']).toBe('rate_limited');
    expect(c.connected).toBe(true);
  });
});

describe('slow consumers', () => {
  it('a subscriber that stops reading is disconnected after drainTimeoutMs; others keep receiving', async () => {
    const p = await S.gw.security.registry.addPrincipal({ id: 'slow', role: 'consumer', sites: ['*'] }, { id: 'test' });
    const q = await S.gw.security.registry.addPrincipal({ id: 'fast', role: 'consumer', sites: ['*'] }, { id: 'test' });
    issuedSecrets.push(p.credentials.password, q.credentials.password);
    const slow = await connect(S.mqttUrl, { clientId: 'slow:sub', username: 'slow', password: p.credentials.password });
    const fast = await connect(S.mqttUrl, { clientId: 'fast:sub', username: 'fast', password: q.credentials.password });
    await slow.subscribeAsync('vigil/v1/hub1/alerts/#', { qos: 0 });
    const got = await collect(fast, 'vigil/v1/hub1/alerts/#');
    const gone = new Promise<void>((r) => S.gw.broker!.on('clientDisconnect', (c) => c.id === 'slow:sub' && r()));
    slow.stream.pause(); // stops reading: the kernel buffers fill, then the broker's writes stall
    const big = Buffer.alloc(256 * 1024, 120);
    for (let i = 0; i < 100; i++) {
      S.gw.broker!.publish({ cmd: 'publish', topic: `vigil/v1/hub1/alerts/info/load/x${i}`, payload: big, qos: 0, retain: false, dup: false }, () => {});
      if (i % 20 === 0) await new Promise((r) => setImmediate(r));
    }
    await gone;
    await until(() => got.seen.filter((m) => m.topic.includes('/load/')).length === 100, 'the fast consumer got everything', 15_000);
  });
});

describe('TLS and mutual TLS', () => {
  const ca = () => readFileSync(join(pki, 'ca.crt'));
  it('a device certificate signed by the site CA logs in without a password', async () => {
    const c = await connect(S.tlsUrl, {
      clientId: 'hub1-cam-tls',
      ca: ca(),
      cert: readFileSync(join(pki, 'hub1-cam-tls.crt')),
      key: readFileSync(join(pki, 'hub1-cam-tls.key')),
      servername: 'localhost',
    });
    await c.publishAsync('vigil/v1/hub1/camera/hub1-cam-tls/telemetry', JSON.stringify({ fps: 25, bitrate_kbps: 3000, temperature_c: 40 }), { qos: 1 });
    expect(S.gw.states.get('hub1-cam-tls')?.telemetry).toBeDefined();
    expect(audits({ action: 'mqtt.connect', actor: 'hub1-cam-tls', outcome: 'ok' })[0]?.detail).toMatchObject({ via: 'certificate' });
  });

  it('a certificate from another CA is refused, even with the right CN', async () => {
    const code = await refusedWith(S.tlsUrl, {
      clientId: 'hub1-cam-tls',
      ca: ca(),
      cert: readFileSync(join(otherPki, 'hub1-cam-tls.crt')),
      key: readFileSync(join(otherPki, 'hub1-cam-tls.key')),
      servername: 'localhost',
    });
    expect(code).toBe(5);
    const r = audits({ action: 'mqtt.connect', outcome: 'denied' }).find((x) => String(x.detail['reason']).startsWith('client certificate not trusted'));
    expect(r).toBeDefined();
  });

  it('the certificate of a revoked device is refused', async () => {
    await S.api('POST', '/api/v1/devices/hub1-cam-revoked/revoke', S.adminToken);
    const code = await refusedWith(S.tlsUrl, {
      clientId: 'hub1-cam-revoked',
      ca: ca(),
      cert: readFileSync(join(pki, 'hub1-cam-revoked.crt')),
      key: readFileSync(join(pki, 'hub1-cam-revoked.key')),
      servername: 'localhost',
    });
    expect(code).toBe(5);
  });

  it('a device without a certificate can use its password over TLS and secure WebSocket', async () => {
    const c = await connect(S.tlsUrl, { clientId: 'hub1-cam-01', username: 'hub1-cam-01', password: pw['hub1-cam-01'], ca: ca(), servername: 'localhost' });
    expect(c.connected).toBe(true);
    const w = await connect(S.wssUrl, {
      clientId: 'hub1-smoke-01',
      username: 'hub1-smoke-01',
      password: pw['hub1-smoke-01'],
      ca: ca(),
      servername: 'localhost',
    });
    expect(w.connected).toBe(true);
    expect(await refusedWith(S.wssUrl, { clientId: 'hub1-smoke-01', username: 'hub1-smoke-01', password: 'nope', ca: ca(), servername: 'localhost' })).toBe(4);
  });

  it('with clientCerts "required", a client without a valid certificate does not get past the handshake', async () => {
    const R = await startSecureGateway({ mqtt: { tls: { clientCerts: 'required' } } } as GatewayConfigInput);
    try {
      R.gw.security.db
        .prepare(`INSERT INTO devices (device_id, kind, site, state, created_at, updated_at) VALUES ('hub1-cam-tls', 'camera', 'hub1', 'enabled', 0, 0)`)
        .run();
      const url = `mqtts://127.0.0.1:${R.gw.ports.tls}`;
      const tls = { ca: ca(), servername: 'localhost' };
      // TLS errors, not CONNACKs: the broker never sees these connections.
      expect(await refusedWith(url, { clientId: 'x', username: 'root-admin', password: 'whatever', ...tls })).toMatch(/CERTIFICATE_REQUIRED|ECONNRESET/);
      expect(
        await refusedWith(url, {
          clientId: 'hub1-cam-tls',
          ...tls,
          cert: readFileSync(join(otherPki, 'hub1-cam-tls.crt')),
          key: readFileSync(join(otherPki, 'hub1-cam-tls.key')),
        }),
      ).toMatch(/UNKNOWN_CA|ECONNRESET|SSL/);
      expect(
        await refusedWith(url, {
          clientId: 'hub1-cam-tls',
          ...tls,
          cert: readFileSync(join(pki, 'hub1-cam-tls.crt')),
          key: readFileSync(join(pki, 'hub1-cam-tls.key')),
        }),
      ).toBe(0);
    } finally {
      await R.gw.stop();
    }
  });
});

describe('HTTP API roles', () => {
  it('requires a valid token; roles and sites limit what it sees', async () => {
    expect((await S.api('GET', '/api/v1/devices')).status).toBe(401);
    const bad = await S.api('GET', '/api/v1/devices', 'root-admin.not-the-secret');
    expect(bad).toMatchObject({ status: 401, body: { code: 'VIGIL_ERR_UNAUTHORIZED' } });
    expect(audits({ action: 'api.auth', outcome: 'denied' }).length).toBeGreaterThan(0);
    const eng = await S.api('POST', '/api/v1/principals', S.adminToken, { id: 'eng-hub2', role: 'engineer', sites: ['hub2'] });
    expect(eng.status).toBe(201);
    issuedSecrets.push(eng.body.credentials.password);
    const list = await S.api('GET', '/api/v1/devices', eng.body.token);
    expect(list.body.devices.map((d: { deviceId: string }) => d.deviceId)).toEqual(['hub2-smoke-01']);
    expect(list.body.devices[0]).toMatchObject({ registration: 'enabled', site: 'hub2' });
    expect((await S.api('GET', '/api/v1/devices/hub1-smoke-01', eng.body.token)).status).toBe(404);
    const forbidden = await S.api('POST', '/api/v1/devices', eng.body.token, { deviceId: 'x-1', kind: 'smoke', site: 'hub2' });
    expect(forbidden).toMatchObject({ status: 403, body: { code: 'VIGIL_ERR_FORBIDDEN' } });
    expect(audits({ action: 'api.access', actor: 'eng-hub2', outcome: 'denied' })).toHaveLength(1);
    expect((await S.api('GET', '/api/v1/audit', eng.body.token)).status).toBe(403);
  });

  it('provisioning refuses bad input with every problem listed, and provisions nothing', async () => {
    const r = await S.api('POST', '/api/v1/devices/bulk', S.adminToken, [
      { deviceId: 'ok-1', kind: 'smoke', site: 'hub1' },
      { deviceId: 'bad id', kind: 'toaster', site: 'hub1' },
      { deviceId: 'hub1-smoke-01', kind: 'smoke', site: 'hub1' },
    ]);
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('VIGIL_ERR_BULK_INVALID');
    expect(r.body.details.map((d: { path: string }) => d.path)).toEqual(['[1].deviceId', '[1].kind', '[2].deviceId']);
    expect(S.gw.security.registry.getDevice('ok-1')).toBeUndefined();
    const dup = await S.api('POST', '/api/v1/devices', S.adminToken, { deviceId: 'hub1-smoke-01', kind: 'smoke', site: 'hub1' });
    expect(dup).toMatchObject({ status: 409, body: { code: 'VIGIL_ERR_CONFLICT' } });
  });

  it('GET /api/v1/audit pages through the log with filters', async () => {
    const first = await S.api('GET', '/api/v1/audit?limit=5', S.adminToken);
    expect(first.body.records).toHaveLength(5);
    const next = await S.api('GET', `/api/v1/audit?limit=5&afterSeq=${first.body.nextAfterSeq}`, S.adminToken);
    expect(next.body.records[0].seq).toBe(first.body.nextAfterSeq + 1);
    const prov = await S.api('GET', '/api/v1/audit?action=device.provision&limit=1000', S.adminToken);
    expect(prov.body.records.map((r: { target: string }) => r.target)).toEqual(expect.arrayContaining(['hub1-smoke-01', 'hub1-cam-tls']));
    expect(prov.body.records[0]).toMatchObject({ actor: 'root-admin', outcome: 'ok', address: '127.0.0.1' });
  });

  it('the audit log cannot be edited or deleted', () => {
    expect(() => S.gw.security.db.prepare('UPDATE audit SET actor = ?').run('x')).toThrow(/append-only/);
    expect(() => S.gw.security.db.prepare('DELETE FROM audit').run()).toThrow(/append-only/);
  });
});

describe('secrets', () => {
  it('never appear in logs, API responses other than the one that issued them, or the database in clear', async () => {
    // Secrets of every sort, issued here (other tests add theirs when they ran first): a principal's, a device's, a rotated one.
    const p = await S.api('POST', '/api/v1/principals', S.adminToken, { id: 'secret-keeper', role: 'consumer', sites: ['hub1'] });
    const d = await S.api('POST', '/api/v1/devices', S.adminToken, { deviceId: 'hub1-secret-01', kind: 'door', site: 'hub1' });
    const r = await S.api('POST', '/api/v1/devices/hub1-secret-01/rotate', S.adminToken);
    issuedSecrets.push(p.body.credentials.password, d.body.credentials.password, r.body.credentials.password);
    expect(issuedSecrets.length).toBeGreaterThan(8);
    const responses = [
      (await S.api('GET', '/api/v1/devices', S.adminToken)).text,
      (await S.api('GET', '/api/v1/principals', S.adminToken)).text,
      (await S.api('GET', '/api/v1/audit?limit=1000', S.adminToken)).text,
      (await S.api('GET', '/api/v1/devices/hub1-smoke-01', S.adminToken)).text,
    ].join('\n');
    const logs = logLines.join('');
    expect(logs.length).toBeGreaterThan(1000);
    S.gw.security.db.pragma('wal_checkpoint(FULL)');
    const db = readFileSync(join(S.gw.config.dataDir, 'vigil.db')).toString('latin1');
    for (const s of issuedSecrets) {
      expect(responses.includes(s), 'API response').toBe(false);
      expect(logs.includes(s), 'log').toBe(false);
      expect(db.includes(s), 'database').toBe(false);
    }
  });
});
