/**
 * The central tier on an existing broker: Debian's Mosquitto (persistence on, passwords, the ACL of
 * deploy/central/acl) as the district's broker, three gateway processes as three boxes, and the
 * centre's console as an MQTT.js client. Alerts arrive once per (id, version), a cut uplink loses
 * nothing and replays in order, an acknowledgement from the centre reaches its box only, and a box
 * cannot speak for another.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceTopic } from '../devices/index.ts';
import { pino } from 'pino';
import { centralRow, MqttUplink } from '../gateway/forward/mqtt-uplink.ts';
import { Spool } from '../gateway/forward/spool.ts';
import { CentralBroker } from '../scripts/central-broker.ts';
import { scrape, startTestGateway, until } from './helpers/gateway.ts';
import { freePortsEnv, ROOT as ROOT_DIR, runScript, type Proc } from './helpers/process.ts';

const BOXES = ['box-a', 'box-b', 'box-c'] as const;
const PASS: Record<string, string> = { 'box-a': 'pw-a', 'box-b': 'pw-b', 'box-c': 'pw-c', 'centre-ops': 'pw-ops' };
const ROOT = 'vigil-central/v1';

interface Received {
  topic: string;
  box: string;
  body: Record<string, unknown>;
}

let broker: CentralBroker;
const gateways = new Map<string, { proc: Proc; mqttPort: number; httpPort: number; dataDir: string }>();
let centre: MqttClient;
const received: Received[] = [];
const devices: MqttClient[] = [];

async function device(box: string, deviceId: string): Promise<MqttClient> {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${gateways.get(box)!.mqttPort}`, { clientId: deviceId, protocolVersion: 4, reconnectPeriod: 0 });
  devices.push(c);
  return c;
}

async function doorEvent(box: string, deviceId: string, type: 'forced_open' | 'door_closed'): Promise<void> {
  const c = await device(box, deviceId);
  await c.publishAsync(deviceTopic({ site: `site-${box}`, kind: 'door', deviceId }, 'event'), JSON.stringify({ type, ts: Date.now() }), { qos: 1 });
  await c.endAsync();
}

const alertsOf = (box: string) => received.filter((r) => r.box === box && r.topic.includes('/alerts/'));

async function startBox(box: string, dataDir: string): Promise<void> {
  const proc = runScript('gateway/main.ts', [], {
    ...freePortsEnv,
    VIGIL_DATA_DIR: dataDir,
    VIGIL_GATEWAY_ID: box,
    VIGIL_SECURITY_ALLOW_ANONYMOUS: 'true',
    VIGIL_FORWARD_MQTT_URL: broker.url,
    VIGIL_FORWARD_MQTT_USERNAME: box,
    VIGIL_FORWARD_MQTT_PASSWORD: PASS[box],
    VIGIL_FORWARD_MQTT_RECONNECT_MS: '300',
    VIGIL_FORWARD_MAX_RETRY_MS: '2000',
    // The 1-3-5 clocks at 1-2-3 s: a cut of a few seconds sees every alert escalate, request
    // reinforcement and escalate again, as a 10-minute cut would at the real 60-180-300 s.
    VIGIL_ALERTS_ESCALATION_ACK_S: '1',
    VIGIL_ALERTS_ESCALATION_REINFORCE_S: '2',
    VIGIL_ALERTS_ESCALATION_REESCALATE_S: '3',
    VIGIL_FORWARD_HEALTH_INTERVAL_S: '1',
    VIGIL_INFERENCE_MODELS_DIR: '/nonexistent', // rules alone: the door rule raises forced_entry
  });
  const running = JSON.parse(await proc.line(/vigil gateway running/)) as { ports: { mqtt: number; http: number } };
  gateways.set(box, { proc, mqttPort: running.ports.mqtt, httpPort: running.ports.http, dataDir });
}

async function metric(box: string, re: RegExp): Promise<number | undefined> {
  const text = await scrape(`http://127.0.0.1:${gateways.get(box)!.httpPort}`);
  const m = re.exec(text);
  return m ? Number(m[1]) : undefined;
}

beforeAll(async () => {
  broker = await CentralBroker.start(PASS);
  await Promise.all(BOXES.map((box) => startBox(box, mkdtempSync(join(tmpdir(), `vigil-${box}-`)))));
  centre = await mqtt.connectAsync(broker.url, {
    clientId: 'centre-console',
    username: 'centre-ops',
    password: PASS['centre-ops'],
    clean: false,
    protocolVersion: 4,
    reconnectPeriod: 200,
  });
  centre.on('message', (topic, payload) => {
    const box = topic.split('/')[2]!;
    received.push({ topic, box, body: JSON.parse(String(payload)) as Record<string, unknown> });
  });
  await centre.subscribeAsync([`${ROOT}/+/alerts/#`, `${ROOT}/+/cmd/reply/#`, `${ROOT}/+/health`, `${ROOT}/+/online`], { qos: 1 });
}, 60_000);

afterAll(async () => {
  for (const d of devices) d.end(true);
  await centre?.endAsync();
  await Promise.all(
    [...gateways.values()].map(async ({ proc }) => {
      proc.child.kill('SIGTERM');
      await proc.exit;
    }),
  );
  await broker?.stop();
}, 30_000);

describe('the central uplink on Debian Mosquitto, three boxes', () => {
  it('every alert of every box arrives centrally under the box prefix, once per (id, version); health and presence are retained', async () => {
    for (const box of BOXES) await doorEvent(box, `${box}-door-1`, 'forced_open');
    // This test's own door of each box (other tests raise alerts on other doors, before or after).
    const mine = (box: string) => alertsOf(box).find((r) => r.body['deviceId'] === `${box}-door-1` && r.body['event'] === 'raised');
    await until(() => BOXES.every((b) => mine(b)), 'a raised alert from every box', 15_000);
    for (const box of BOXES) {
      const r = mine(box);
      expect(r!.topic).toBe(`${ROOT}/${box}/alerts/site-${box}/forced_entry`);
      expect(r!.body).toMatchObject({
        event: 'raised',
        box,
        site: `site-${box}`,
        deviceId: `${box}-door-1`,
        type: 'forced_entry',
        severity: 'critical',
        version: 1,
      });
    }
    const keys = received.filter((r) => r.topic.includes('/alerts/')).map((r) => `${r.box}/${String(r.body['id'])}/${String(r.body['version'])}`);
    expect(new Set(keys).size).toBe(keys.length);
    await until(
      () => BOXES.every((b) => received.some((r) => r.topic === `${ROOT}/${b}/health` && (r.body['uplinks'] as { central?: unknown })?.central)),
      'box health',
      10_000,
    );
    const health = received.filter((r) => r.topic === `${ROOT}/box-a/health`).at(-1)!.body;
    expect(health).toMatchObject({ box: 'box-a', uplinks: { central: { circuit: 'closed' } } });
    expect(received.some((r) => r.topic === `${ROOT}/box-c/online` && r.body['online'] === true)).toBe(true);
  });

  it('a cut uplink (the central broker stopped) under load, through the 1-3-5 escalations, loses nothing: the boxes spool, and replay in order once it is back', async () => {
    const cut = () => received.filter((r) => r.topic.includes('/alerts/') && String(r.body['deviceId']).includes('-cut-'));
    await broker.stop();
    // While the centre is away every box keeps raising alerts, 12 doors each, under telemetry load
    // (a smoke alarm per box publishing every 20 ms).
    const loaders = await Promise.all(BOXES.map((box) => device(box, `${box}-smoke-load`)));
    const load = setInterval(() => {
      BOXES.forEach(
        (box, i) =>
          void loaders[i]!.publishAsync(
            deviceTopic({ site: `site-${box}`, kind: 'smoke', deviceId: `${box}-smoke-load` }, 'telemetry'),
            JSON.stringify({ temperature_c: 21, humidity_pct: 40, eco2_ppm: 450, obscuration_pct_m: 0.01 }),
            { qos: 1 },
          ).catch(() => undefined),
      );
    }, 20);
    try {
      // In order within a box; the three boxes side by side.
      await Promise.all(
        BOXES.map(async (box) => {
          for (let i = 0; i < 12; i++) await doorEvent(box, `${box}-cut-${i}`, 'forced_open');
        }),
      );
    } finally {
      clearInterval(load);
    }
    expect(cut()).toEqual([]);
    // Every box knows the centre is away and holds the alerts in its spool (alert + site summary per change).
    for (const box of BOXES) {
      await until(async () => (await metric(box, /vigil_uplink_circuit_state\{target="central"\} (\d)/)) === 2, `${box}: circuit open`, 10_000);
    }
    // The cut lasts until every alert raised during it has gone through the whole ladder (4 versions, each an event and a summary).
    for (const box of BOXES)
      await until(
        async () => ((await metric(box, /vigil_uplink_spooled\{target="central"\} (\d+)/)) ?? 0) >= 12 * 4 * 2,
        `${box}: the escalations spooled`,
        20_000,
      );
    // One box is killed outright during the cut and started again: its spool is on disk.
    const c = gateways.get('box-c')!;
    c.proc.child.kill('SIGKILL');
    await c.proc.exit;
    await startBox('box-c', c.dataDir);
    await broker.restart();
    const ladder = (box: string) => {
      const byId = new Map<string, number[]>();
      for (const r of cut().filter((x) => x.box === box))
        byId.set(String(r.body['id']), [...(byId.get(String(r.body['id'])) ?? []), Number(r.body['version'])]);
      return byId;
    };
    await until(
      () => BOXES.every((b) => ladder(b).size === 12 && [...ladder(b).values()].every((v) => Math.max(...v) >= 4)),
      'every alert of the cut, through its escalations',
      30_000,
    );
    for (const box of BOXES) {
      const got = cut().filter((r) => r.box === box);
      const keys = got.map((r) => `${String(r.body['id'])}/${String(r.body['version'])}`);
      expect(new Set(keys).size, `${box}: each (id, version) once`).toBe(keys.length);
      // In order: the doors in the order they were forced, and each alert's versions 1, 2, 3, … with none missing.
      expect(got.filter((r) => r.body['event'] === 'raised').map((r) => String(r.body['deviceId']))).toEqual(
        Array.from({ length: 12 }, (_, i) => `${box}-cut-${i}`),
      );
      for (const [id, versions] of ladder(box)) expect(versions, `${box} ${id}`).toEqual(Array.from({ length: versions.length }, (_, i) => i + 1));
      expect(got.filter((r) => r.body['event'] === 'reinforcement_requested')).toHaveLength(12);
    }
  }, 120_000);

  it('an acknowledgement published by the centre reaches the right box only, once per command id, and is audited as the centre operator', async () => {
    await doorEvent('box-b', 'box-b-door-ack', 'forced_open');
    const alert = await until(() => alertsOf('box-b').find((r) => r.body['deviceId'] === 'box-b-door-ack'), 'the alert to acknowledge', 15_000);
    const alertId = String(alert.body['id']);
    const cmd = { id: 'cmd-ack-1', action: 'ack', alertId, operator: 'desk-7', note: 'unit 12 on the way' };
    // To the wrong box first: it does not know the alert.
    await centre.publishAsync(`${ROOT}/box-a/cmd/alerts`, JSON.stringify({ ...cmd, id: 'cmd-wrong-box' }), { qos: 1 });
    const wrong = await until(() => received.find((r) => r.topic === `${ROOT}/box-a/cmd/reply/cmd-wrong-box`), 'reply of box-a', 10_000);
    expect(wrong.body).toMatchObject({ ok: false, error: expect.stringMatching(/does not exist/) });
    await centre.publishAsync(`${ROOT}/box-b/cmd/alerts`, JSON.stringify(cmd), { qos: 1 });
    const reply = await until(() => received.find((r) => r.topic === `${ROOT}/box-b/cmd/reply/cmd-ack-1`), 'reply of box-b', 10_000);
    expect(reply.body).toMatchObject({ ok: true, state: 'acknowledged', alertId, box: 'box-b' });
    const acked = await until(
      () => alertsOf('box-b').find((r) => r.body['id'] === alertId && r.body['event'] === 'acknowledged'),
      'the acknowledged event',
      10_000,
    );
    expect(acked.body).toMatchObject({ actor: 'central:desk-7', acknowledgedBy: 'central:desk-7' });
    // In box-b's audit log, as the admin CLI reads it.
    const audit = runScript('gateway/admin-cli.ts', ['audit', '--action', 'alert.ack'], { VIGIL_DATA_DIR: gateways.get('box-b')!.dataDir });
    expect((await audit.exit).code).toBe(0);
    expect(audit.stdout()).toMatch(new RegExp(`ok +central:desk-7 alert\\.ack ${alertId} .*"via":"central".*"note":"unit 12 on the way"`));
    // The same command again (a QoS 1 redelivery, a retry): the first reply again, no second acknowledgement.
    await centre.publishAsync(`${ROOT}/box-b/cmd/alerts`, JSON.stringify(cmd), { qos: 1 });
    await until(() => received.filter((r) => r.topic === `${ROOT}/box-b/cmd/reply/cmd-ack-1`).length === 2, 'the second reply', 10_000);
    expect(received.filter((r) => r.body['id'] === alertId && r.body['event'] === 'acknowledged')).toHaveLength(1);
    expect(received.filter((r) => r.box !== 'box-b' && r.body['event'] === 'acknowledged')).toEqual([]);
    // A malformed command gets a specific refusal.
    await centre.publishAsync(`${ROOT}/box-b/cmd/alerts`, JSON.stringify({ id: 'cmd-bad', action: 'delete', alertId }), { qos: 1 });
    const bad = await until(() => received.find((r) => r.topic === `${ROOT}/box-b/cmd/reply/cmd-bad`), 'refusal', 10_000);
    expect(bad.body).toMatchObject({ ok: false, error: expect.stringMatching(/^invalid command: .*action/) });
  });

  it("a box's credential cannot publish under another box's prefix, nor read or send another box's commands", async () => {
    const thief = await mqtt.connectAsync(broker.url, {
      clientId: 'stolen-box-a',
      username: 'box-a',
      password: PASS['box-a'],
      protocolVersion: 4,
      reconnectPeriod: 0,
    });
    try {
      // Mosquitto 2.0 grants the subscription and enforces read access on delivery: nothing arrives.
      const stolen: string[] = [];
      thief.on('message', (t) => stolen.push(t));
      await thief.subscribeAsync(`${ROOT}/box-b/cmd/#`, { qos: 1 });
      await thief.publishAsync(`${ROOT}/box-b/alerts/site-box-b/fire`, JSON.stringify({ id: 'forged', version: 1, event: 'raised', marker: 'forged-by-a' }), {
        qos: 1,
      });
      await thief.publishAsync(`${ROOT}/box-b/cmd/alerts`, JSON.stringify({ id: 'cmd-forged', action: 'resolve', alertId: 'x', operator: 'thief' }), {
        qos: 1,
      });
      // Its own prefix works: the control that the thief's messages would have been seen.
      await thief.publishAsync(`${ROOT}/box-a/alerts/site-box-a/probe`, JSON.stringify({ marker: 'own-prefix' }), { qos: 1 });
      await until(() => received.find((r) => r.body['marker'] === 'own-prefix'), 'the control message', 10_000);
      expect(received.find((r) => r.body['marker'] === 'forged-by-a')).toBeUndefined();
      expect(received.find((r) => r.topic.endsWith('/cmd/reply/cmd-forged'))).toBeUndefined();
      await centre.publishAsync(`${ROOT}/box-b/cmd/alerts`, JSON.stringify({ id: 'cmd-probe', action: 'ack', alertId: 'none', operator: 'desk-7' }), {
        qos: 1,
      });
      await until(() => received.find((r) => r.topic === `${ROOT}/box-b/cmd/reply/cmd-probe`), "box-b's reply to the probe", 10_000);
      expect(stolen).toEqual([]);
    } finally {
      await thief.endAsync();
    }
  });
});

describe('the central uplink over TLS with a client certificate', () => {
  it('the box proves who it is with its certificate (CN = gatewayId, the user the ACL sees); a client without one is refused', async () => {
    const pki = mkdtempSync(join(tmpdir(), 'vigil-central-pki-'));
    execFileSync('bash', ['scripts/certs.sh', 'site', pki, 'district', 'localhost', '127.0.0.1'], { cwd: ROOT_DIR });
    for (const id of ['box-t', 'centre-ops']) execFileSync('bash', ['scripts/certs.sh', 'device', pki, id], { cwd: ROOT_DIR });
    const tlsBroker = await CentralBroker.start({}, { dir: pki });
    const t = await startTestGateway({
      gatewayId: 'box-t',
      forward: {
        mqtt: {
          url: tlsBroker.url,
          caFile: join(pki, 'ca.crt'),
          certFile: join(pki, 'box-t.crt'),
          keyFile: join(pki, 'box-t.key'),
          reconnectMs: 300,
          telemetry: ['bodycam'],
        },
      },
    });
    const ca = readFileSync(join(pki, 'ca.crt'));
    const ops = await mqtt.connectAsync(tlsBroker.url, {
      clientId: 'tls-centre',
      ca,
      cert: readFileSync(join(pki, 'centre-ops.crt')),
      key: readFileSync(join(pki, 'centre-ops.key')),
      protocolVersion: 4,
      reconnectPeriod: 0,
    });
    try {
      const got: Received[] = [];
      ops.on('message', (topic, payload) => got.push({ topic, box: topic.split('/')[2]!, body: JSON.parse(String(payload)) as Record<string, unknown> }));
      await ops.subscribeAsync([`${ROOT}/+/alerts/#`, `${ROOT}/+/telemetry/#`], { qos: 1 });
      await until(() => t.gw.forwarding.central?.connected, 'box-t connected over TLS', 10_000);
      const d = await mqtt.connectAsync(t.mqttUrl, { clientId: 'tls-door-1', protocolVersion: 4, reconnectPeriod: 0 });
      await d.publishAsync(deviceTopic({ site: 'tls-site', kind: 'door', deviceId: 'tls-door-1' }, 'event'), JSON.stringify({ type: 'forced_open' }), {
        qos: 1,
      });
      await d.endAsync();
      const a = await until(() => got.find((r) => r.body['deviceId'] === 'tls-door-1'), 'the alert over TLS', 10_000);
      expect(a.topic).toBe(`${ROOT}/box-t/alerts/tls-site/forced_entry`);
      // Telemetry goes up only for the kinds listed (forward.mqtt.telemetry = ["bodycam"]).
      const cam = await mqtt.connectAsync(t.mqttUrl, { clientId: 'tls-cam-1', protocolVersion: 4, reconnectPeriod: 0 });
      const smoke = await mqtt.connectAsync(t.mqttUrl, { clientId: 'tls-smoke-1', protocolVersion: 4, reconnectPeriod: 0 });
      await smoke.publishAsync(
        deviceTopic({ site: 'tls-site', kind: 'smoke', deviceId: 'tls-smoke-1' }, 'telemetry'),
        JSON.stringify({ temperature_c: 21, humidity_pct: 40, eco2_ppm: 450, obscuration_pct_m: 0.01 }),
        { qos: 1 },
      );
      await cam.publishAsync(
        deviceTopic({ site: 'tls-site', kind: 'bodycam', deviceId: 'tls-cam-1' }, 'telemetry'),
        JSON.stringify({ recording: true, gps: { lat: 51.5012, lon: -0.1412, accuracy_m: 4 } }),
        { qos: 1 },
      );
      const pos = await until(() => got.find((r) => r.topic === `${ROOT}/box-t/telemetry/tls-site/bodycam/tls-cam-1`), 'the body camera position', 10_000);
      expect(pos.body).toMatchObject({ recording: true, gps: { lat: 51.5012, lon: -0.1412 } });
      expect(got.filter((r) => r.topic.includes('/telemetry/') && r.topic.includes('smoke'))).toEqual([]);
      await cam.endAsync();
      await smoke.endAsync();
      // No certificate, no connection.
      await expect(
        mqtt.connectAsync(tlsBroker.url, { clientId: 'no-cert', ca, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 3000 }),
      ).rejects.toThrow();
    } finally {
      await ops.endAsync();
      await t.stop();
      await tlsBroker.stop();
    }
  });
});

describe('a central broker that refuses connections', () => {
  it('is not hammered: reconnects follow a jittered exponential backoff, and the box says where it stands', async () => {
    // A port that accepts TCP and hangs up at once: each MQTT connect attempt is one connection here.
    let attempts = 0;
    const server = createServer((s) => (attempts++, s.destroy()));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const t = await startTestGateway({ gatewayId: 'box-lonely', forward: { maxRetryMs: 2000, mqtt: { url: `mqtt://127.0.0.1:${port}`, reconnectMs: 200 } } });
    try {
      await new Promise((r) => setTimeout(r, 4000));
      // At a fixed 200 ms there would be ~20; the backoff (full jitter, doubling to 2 s) allows about half.
      expect(attempts).toBeGreaterThan(1);
      expect(attempts).toBeLessThanOrEqual(14);
      const ready = (await (await fetch(`${t.httpUrl}/readyz`)).json()) as {
        ready: boolean;
        checks: Record<string, { ok: boolean; critical?: boolean; detail?: string }>;
      };
      expect(ready.ready).toBe(true);
      expect(ready.checks['uplink:central']).toMatchObject({ ok: false, critical: false });
    } finally {
      await t.stop();
      server.close();
    }
  });
});

describe('a central broker stopped in the middle of a drain', () => {
  it('does not leave the uplink waiting for acknowledgements that will never come: the backlog drains once it is back', async () => {
    const b = await CentralBroker.start({ 'box-d': 'pd' });
    const dir = mkdtempSync(join(tmpdir(), 'vigil-drain-'));
    const spool = new Spool({ file: join(dir, 'spool.db'), maxBytes: 1e10, maxAgeMs: 1e12, durability: 'process', deadLetterFile: join(dir, 'dead.jsonl') });
    const N = 20_000;
    for (let i = 0; i < N; i += 5000)
      await spool.append(
        Array.from({ length: 5000 }, (_, k) => ({
          cls: 'telemetry' as const,
          ts: i + k,
          target: 'central',
          line: centralRow('telemetry/s/bodycam/b1', { i: i + k }),
        })),
      );
    const up = new MqttUplink(
      { url: b.url, gatewayId: 'box-d', prefix: ROOT, username: 'box-d', password: 'pd', reconnectMs: 200, maxReconnectMs: 1000, keepaliveS: 30, batch: 500 },
      spool,
      pino({ level: 'silent' }),
      () => ({ ok: false, error: 'none' }),
    );
    try {
      up.start();
      await until(() => spool.depthOf('central') < N - 2000, 'the drain under way', 20_000);
      await b.stop(); // with a batch in flight
      await b.restart();
      await until(() => spool.depthOf('central') === 0, 'the whole backlog delivered after the restart', 60_000);
      expect(up.connected).toBe(true);
    } finally {
      await up.stop();
      spool.close();
      await b.stop();
    }
  }, 90_000);
});
