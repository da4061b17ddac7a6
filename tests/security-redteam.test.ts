/**
 * Red-team tests: what someone with a consumer credential, a device's name or no credential at all
 * can do against a secured gateway, through real MQTT clients and HTTP. Each finding of the
 * security review is a test here that failed before the fix.
 */
import { createConnection } from 'node:net';
import { readFileSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { MqttClient, type IClientOptions } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceTopic } from '../devices/index.ts';
import { ConfigError, loadConfig, type GatewayConfigInput } from '../gateway/config.ts';
import { clientErrorTopic } from '../gateway/security/identity.ts';
import { openStore } from '../gateway/db.ts';
import { closeAll, collect, connect, scrape, until } from './helpers/gateway.ts';
import { makePki, refusedWith, startSecureGateway } from './helpers/security.ts';

const pki = makePki('hub1');
let G: Awaited<ReturnType<typeof startSecureGateway>>;
const pw: Record<string, string> = {};
const principals: Record<string, { secret: string; token: string }> = {};

beforeAll(async () => {
  G = await startSecureGateway(pki, {
    // Small delays so the suite stays quick; the shape (free failures, then doubling) is the production one.
    security: { messagesPerSecond: 2, messageBurst: 5, loginThrottle: { freeFailures: 3, baseDelayMs: 50, maxDelayMs: 200, floodFailures: 50 } },
    mqtt: { maxConnectionsPerAddress: 600 },
  } as GatewayConfigInput);
  const devices = [
    { deviceId: 'hub1-smoke-06', kind: 'smoke', site: 'hub1' },
    { deviceId: 'hub1-smoke-07', kind: 'smoke', site: 'hub1' },
    { deviceId: 'hub1-door-01', kind: 'door', site: 'hub1' },
    { deviceId: 'community2-smoke-01', kind: 'smoke', site: 'community2' },
  ];
  for (const p of await G.gw.security.registry.provisionMany(devices, { id: 'test' })) pw[p.device.deviceId] = p.credentials.password;
  for (const [id, sites] of [
    ['cons', ['hub1']],
    ['hub1', ['hub1']],
    ['eng', ['hub1']],
  ] as const) {
    const p = await G.gw.security.registry.addPrincipal({ id, role: id === 'eng' ? 'engineer' : 'consumer', sites: [...sites] }, { id: 'test' });
    principals[id] = { secret: p.credentials.password, token: p.token };
  }
}, 30_000);
afterAll(async () => {
  await closeAll();
  await G?.gw.stop();
});

const device = (id: string, extra: IClientOptions = {}) => connect(G.mqttUrl, { clientId: id, username: id, password: pw[id], ...extra });
const person = (id: string, suffix: string, extra: IClientOptions = {}) =>
  connect(G.mqttUrl, { clientId: `${id}:${suffix}`, username: id, password: principals[id]!.secret, ...extra });
const audits = (action: string, outcome: 'ok' | 'denied') => G.gw.security.audit.query({ action, outcome, limit: 5000 });
const metrics = async () => scrape(`http://127.0.0.1:${G.gw.ports.http}`);

/** An MQTT client whose TCP connection leaves from another loopback address (127.0.0.2 is another source). */
function fromAddress(localAddress: string, opts: IClientOptions): MqttClient {
  const port = G.gw.ports.mqtt!;
  return new MqttClient(() => createConnection({ host: '127.0.0.1', port, localAddress }), {
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 30_000,
    ...opts,
  });
}

describe('a person can never speak as a device', () => {
  it('a consumer publishing on device topics — another site, an invented site, its own site, a real device — is refused: no alert, no state, no retained status, no ghost device', async () => {
    const real = await device('hub1-smoke-06');
    await real.publishAsync(
      deviceTopic({ site: 'hub1', kind: 'smoke', deviceId: 'hub1-smoke-06' }, 'status'),
      JSON.stringify({ online: true, firmware: 'real' }),
      { qos: 1, retain: true },
    );
    const c = await person('cons', 'phone');
    const errors = await collect(c, clientErrorTopic('cons:phone'));
    const alarm = JSON.stringify({ type: 'alarm', active: true, source: 'smoke' });
    const forged = [
      ['vigil/v1/community2/smoke/cons-hub1-smoke/event', alarm],
      ['vigil/v1/ghost/smoke/cons-hub1-smoke/event', alarm],
      ['vigil/v1/hub1/smoke/cons-hub1-smoke/event', alarm],
      ['vigil/v1/hub1/smoke/hub1-smoke-06/event', alarm],
      ['vigil/v1/hub1/smoke/hub1-smoke-06/status', JSON.stringify({ online: false, firmware: 'forged' })],
      [
        'vigil/v1/community2/smoke/community2-smoke-01/telemetry',
        JSON.stringify({ temperature_c: 90, humidity_pct: 5, eco2_ppm: 20000, obscuration_pct_m: 12 }),
      ],
    ] as const;
    for (const [topic, body] of forged) await c.publishAsync(topic, body, { qos: 1, retain: topic.endsWith('/status') });
    await until(() => errors.seen.length >= forged.length, 'one refusal per forged message');
    expect(new Set(errors.json().map((e) => e.body['code']))).toEqual(new Set(['not_permitted']));
    expect(String(errors.json()[0]!.body['message'])).toMatch(/device topics are accepted from the registered device only/);
    // Nothing reached the pipeline: no alert, no state, no device seen.
    expect(G.gw.alerts.store.query({ type: 'fire' })).toHaveLength(0);
    expect(G.gw.states.get('cons-hub1-smoke')).toBeUndefined();
    expect(G.gw.states.get('hub1-smoke-06')?.lastEvent).toBeUndefined();
    expect(G.gw.states.get('community2-smoke-01')?.telemetry).toBeUndefined();
    const list = await G.api('GET', '/api/v1/devices', G.adminToken);
    expect(list.body.devices.map((d: { deviceId: string }) => d.deviceId)).not.toContain('cons-hub1-smoke');
    // The retained status is still the device's own.
    const late = await collect(
      await connect(G.mqttUrl, { clientId: 'root-admin:late', username: 'root-admin', password: G.adminSecret }),
      'vigil/v1/hub1/smoke/hub1-smoke-06/status',
    );
    expect(JSON.parse((await late.next()).payload.toString())).toMatchObject({ firmware: 'real' });
    // Each attempt audited as a denial of the consumer.
    const denied = audits('mqtt.publish', 'denied').filter((r) => r.actor === 'cons');
    expect(denied.map((r) => r.target)).toEqual(expect.arrayContaining(forged.map(([t]) => t)));
    expect(await metrics()).toMatch(/vigil_ingest_refused_total\{reason="not_permitted"\} [6-9]/);
  });

  it("a principal cannot take a device's client id, nor use a bare id that looks like a device's", async () => {
    const owner = await device('hub1-smoke-06');
    // The consumer named "hub1" is a prefix of every hub1 device id.
    expect(await refusedWith(G.mqttUrl, { clientId: 'hub1-smoke-06', username: 'hub1', password: principals['hub1']!.secret })).toBe(2);
    expect(await refusedWith(G.mqttUrl, { clientId: 'hub1', username: 'hub1', password: principals['hub1']!.secret })).toBe(2);
    expect(await refusedWith(G.mqttUrl, { clientId: 'cons-hub1-smoke', username: 'cons', password: principals['cons']!.secret })).toBe(2);
    expect(owner.connected).toBe(true);
    expect(G.gw.states.get('hub1-smoke-06')?.online).toBe(true);
    expect(await refusedWith(G.mqttUrl, { clientId: 'hub1:console', username: 'hub1', password: principals['hub1']!.secret })).toBe(0);
    const reasons = audits('mqtt.connect', 'denied')
      .filter((r) => r.actor === 'hub1')
      .map((r) => String(r.detail['reason']));
    expect(reasons.some((r) => r.includes('"hub1:<suffix>"'))).toBe(true);
  });

  it("a principal's Last Will stays within the alert commands of its granted sites", async () => {
    const will = (topic: string) => ({ will: { topic, payload: Buffer.from('{}'), qos: 1 as const, retain: true } });
    expect(
      await refusedWith(G.mqttUrl, {
        clientId: 'cons:w1',
        username: 'cons',
        password: principals['cons']!.secret,
        ...will('vigil/v1/hub1/smoke/hub1-smoke-06/status'),
      }),
    ).toBe(5);
    expect(
      await refusedWith(G.mqttUrl, {
        clientId: 'cons:w2',
        username: 'cons',
        password: principals['cons']!.secret,
        ...will('vigil/v1/community2/alerts/command'),
      }),
    ).toBe(5);
    expect(
      await refusedWith(G.mqttUrl, { clientId: 'cons:w3', username: 'cons', password: principals['cons']!.secret, ...will('vigil/v1/hub1/alerts/command') }),
    ).toBe(0);
  });

  it('a device that rotates nothing but its connection keeps its publish rate: reconnecting does not refill the bucket', async () => {
    const a = { site: 'hub1', kind: 'smoke', deviceId: 'hub1-smoke-07' };
    const body = JSON.stringify({ temperature_c: 21, humidity_pct: 40, eco2_ppm: 420, obscuration_pct_m: 0 });
    let c = await device(a.deviceId);
    for (let i = 0; i < 5; i++) await c.publishAsync(deviceTopic(a, 'telemetry'), body, { qos: 1 });
    await c.endAsync();
    c = await device(a.deviceId);
    const errors = await collect(c, deviceTopic(a, 'error'));
    for (let i = 0; i < 5; i++) await c.publishAsync(deviceTopic(a, 'telemetry'), body, { qos: 1 });
    await errors.next((m) => m.payload.toString().includes('"rate_limited"'));
    expect(G.gw.states.get(a.deviceId)!.refusedByReason.rate_limited).toBeGreaterThanOrEqual(3);
  });
});

describe('throttling protects, never punishes', () => {
  it("a stranger's bad passwords do not stop the real device, another device at the same address, or the admin's API token", async () => {
    for (let i = 0; i < 10; i++) expect(await refusedWith(G.mqttUrl, { clientId: 'hub1-door-01', username: 'hub1-door-01', password: `guess-${i}` })).toBe(4);
    // Past the free failures, refusals were held back (up to maxDelayMs) — and counted.
    const delays = audits('mqtt.connect', 'denied')
      .filter((r) => r.actor === 'hub1-door-01')
      .map((r) => r.detail['delayedMs'])
      .filter((d): d is number => typeof d === 'number');
    expect(delays.length).toBeGreaterThan(0);
    expect(Math.max(...delays)).toBeLessThanOrEqual(200);
    expect(await metrics()).toMatch(/vigil_login_throttled_total\{transport="mqtt",what="delayed"\} [1-9]/);
    // The right password gets in at once from the same address; so does another device, and the admin's API token.
    expect(await refusedWith(G.mqttUrl, { clientId: 'hub1-door-01', username: 'hub1-door-01', password: pw['hub1-door-01'] })).toBe(0);
    expect(await refusedWith(G.mqttUrl, { clientId: 'hub1-smoke-07', username: 'hub1-smoke-07', password: pw['hub1-smoke-07'] })).toBe(0);
    expect((await G.api('GET', '/api/v1/devices', G.adminToken)).status).toBe(200);
    // The API has its own budget: bad tokens from this address are refused (401), the good one still works (never 429).
    for (let i = 0; i < 8; i++) expect((await G.api('GET', '/api/v1/devices', `root-admin.wrong-${i}`)).status).toBe(401);
    expect((await G.api('GET', '/api/v1/devices', G.adminToken)).status).toBe(200);
  });

  it('revocation cuts an API token and an MQTT session within one request, even when another process revokes it', async () => {
    const eng = principals['eng']!;
    expect((await G.api('GET', '/api/v1/devices', eng.token)).status).toBe(200); // cached from here on
    const session = await person('eng', 'tablet');
    const closed = new Promise<void>((r) => session.once('close', () => r()));
    // The admin CLI's way: a second connection to the database.
    const other = openStore(join(G.gw.config.dataDir, 'vigil.db'));
    other.prepare(`UPDATE principals SET state = 'revoked', secret_hash = NULL WHERE id = 'eng'`).run();
    other.close();
    expect((await G.api('GET', '/api/v1/devices', eng.token)).status).toBe(401);
    // Through the API, the session closes at once.
    await G.api('POST', '/api/v1/principals/eng/revoke', G.adminToken);
    await closed;
  });

  it('a login flood from one address does not hold another address up: its login stays within a small multiple of an idle one, and the flood is shed', async () => {
    const login = async () => {
      const t0 = performance.now();
      expect(await refusedWith('', {}, fromAddress('127.0.0.2', { clientId: 'hub1-smoke-07', username: 'hub1-smoke-07', password: pw['hub1-smoke-07'] }))).toBe(
        0,
      );
      return performance.now() - t0;
    };
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const idle: number[] = [];
    for (let i = 0; i < 5; i++) idle.push(await login());
    // 400 parallel logins with bad passwords from 127.0.0.1.
    const flood = Array.from({ length: 400 }, (_, i) =>
      refusedWith(G.mqttUrl, { clientId: `flood-${i}`, username: i % 2 ? 'hub1-door-01' : `nobody-${i}`, password: 'x' }),
    );
    await until(() => G.gw.security.checks.queued > 0, 'the flood queued');
    const busy: number[] = [];
    for (let i = 0; i < 5; i++) busy.push(await login());
    const codes = await Promise.all(flood);
    // Without the fair queue, this login waited behind all 400 checks (~400 × an idle login).
    expect(median(busy) / median(idle), `idle ${idle.map(Math.round).join(', ')} ms; under flood ${busy.map(Math.round).join(', ')} ms`).toBeLessThan(10);
    expect(codes.filter((c) => c === 3).length, 'logins shed with CONNACK 3').toBeGreaterThan(100);
    expect(codes.every((c) => c === 3 || c === 4 || c === 5)).toBe(true);
    expect(await metrics()).toMatch(/vigil_login_throttled_total\{transport="mqtt",what="shed"\} [1-9]/);
  }, 60_000);
});

describe('limits', () => {
  it('keep-alive 0 is accepted (MQTT 3.1.1 allows it); a keep-alive above the limit is not', async () => {
    const c = await device('hub1-smoke-06', { keepalive: 0 });
    expect(c.connected).toBe(true);
    expect(await refusedWith(G.mqttUrl, { clientId: 'hub1-smoke-07', username: 'hub1-smoke-07', password: pw['hub1-smoke-07'], keepalive: 5000 })).not.toBe(0);
  });

  it('connections are capped per source address; others keep connecting', async () => {
    const L = await startSecureGateway(pki, { mqtt: { maxConnectionsPerAddress: 2 } } as GatewayConfigInput);
    try {
      const url = `mqtt://127.0.0.1:${L.gw.ports.mqtt}`;
      const opts = (s: string) => ({ clientId: `root-admin:${s}`, username: 'root-admin', password: L.adminSecret });
      await connect(url, opts('a'));
      await connect(url, opts('b'));
      expect(await refusedWith(url, opts('c'))).toBe('ECONNRESET');
      // MQTT over the HTTP port (/mqtt, the console's live data) counts against the same per-address cap.
      expect(await refusedWith(`ws://127.0.0.1:${L.gw.ports.http}/mqtt`, opts('d'))).not.toBe(0);
      const m = await scrape(`http://127.0.0.1:${L.gw.ports.http}`);
      expect(m).toMatch(/vigil_connections_refused_total\{listener="mqtt-tcp",reason="max_connections_per_address"\} 1/);
      expect(m).toMatch(/vigil_connections_refused_total\{listener="http-mqtt",reason="max_connections_per_address"\} 1/);
    } finally {
      await closeAll();
      await L.gw.stop();
    }
  });

  it('HTTP: a slow sender is cut off; security headers on every response; no-store on API responses', async () => {
    const L = await startSecureGateway(pki, { http: { requestTimeoutMs: 300 } } as GatewayConfigInput);
    try {
      const sock = createConnection({ host: '127.0.0.1', port: L.gw.ports.http! });
      sock.on('error', () => {});
      let closed = false;
      sock.on('close', () => (closed = true));
      sock.write('GET /api/v1/devices HTTP/1.1\r\nHost: x\r\n'); // headers never finished (slowloris)
      await until(() => closed, 'slow request cut off', 10_000);
      const r = await L.api('GET', '/api/v1/devices', L.adminToken);
      expect(r.headers.get('cache-control')).toBe('no-store');
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      expect(r.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
      expect((await fetch(`http://127.0.0.1:${L.gw.ports.http}/docs`)).status).toBe(200);
    } finally {
      await L.gw.stop();
    }
  });
});

describe('secrets at rest and encryption in transit', () => {
  it('the data directory is 0700 and its database, WAL and key files 0600; site signing keys are sealed, never in clear', async () => {
    const dir = G.gw.config.dataDir;
    const push = await G.api('POST', '/api/v1/devices/hub1-smoke-06/config', G.adminToken, { patch: { sensitivity: 'high' } });
    expect(push.status, push.text).toBeLessThan(300);
    G.gw.security.db.pragma('wal_checkpoint(FULL)');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const f of ['vigil.db', 'vigil.db-wal', 'vigil.db-shm', 'master.key']) expect(statSync(join(dir, f)).mode & 0o777, f).toBe(0o600);
    const rows = G.gw.security.db.prepare('SELECT site, private_key FROM site_keys').all() as { site: string; private_key: string }[];
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) expect(r.private_key).toMatch(/^sealed:v1:/);
    expect(readFileSync(join(dir, 'vigil.db')).toString('latin1')).not.toMatch(/PRIVATE KEY/);
  });

  it('plaintext listeners on a non-loopback address are refused unless explicitly allowed', () => {
    const load = (overrides: GatewayConfigInput) => () => loadConfig({ env: {}, overrides });
    expect(load({ mqtt: { tcp: { host: '0.0.0.0' } } })).toThrow(ConfigError);
    expect(load({ mqtt: { tcp: { host: '0.0.0.0' } } })).toThrow(
      /mqtt\.tcp\.host.*plaintext listener on non-loopback address "0\.0\.0\.0".*security\.allowPlaintext/s,
    );
    expect(load({ http: { host: '10.0.0.5' } })).toThrow(/http\.host/);
    expect(
      load({
        http: { host: '0.0.0.0', tls: true },
        mqtt: {
          tcp: { enabled: false },
          ws: { enabled: false },
          tls: { certFile: join(pki, 'server.crt'), keyFile: join(pki, 'server.key'), caFile: join(pki, 'ca.crt') },
        },
      }),
    ).not.toThrow();
    expect(load({ mqtt: { tcp: { host: '0.0.0.0' } }, security: { allowPlaintext: true } })).not.toThrow();
  });

  it('the API is served over HTTPS with the site certificate when http.tls is on', async () => {
    const L = await startSecureGateway(pki, { http: { tls: true } } as GatewayConfigInput);
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port: L.gw.ports.http,
            path: '/api/v1/devices',
            servername: 'localhost',
            ca: readFileSync(join(pki, 'ca.crt')),
            headers: { authorization: `Bearer ${L.adminToken}` },
          },
          (res) => {
            let t = '';
            res.on('data', (d: Buffer) => (t += d));
            res.on('end', () =>
              res.statusCode === 200 && res.headers['strict-transport-security']
                ? resolve(t)
                : reject(new Error(`${res.statusCode} ${JSON.stringify(res.headers)}`)),
            );
          },
        );
        req.on('error', reject);
        req.end();
      });
      expect(JSON.parse(body)).toHaveProperty('devices');
    } finally {
      await L.gw.stop();
    }
  });
});
