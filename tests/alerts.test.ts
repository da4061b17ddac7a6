/**
 * Alerts end to end: simulated incidents over MQTT → rules → alerts received by a
 * subscribed consumer; acknowledgement over MQTT and HTTP; concurrency; coverage;
 * restart and kill -9 persistence.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceTopic } from '../devices/index.ts';
import { toAlert } from '../edge/alerts/store.ts';
import { loadConfig, type GatewayConfigInput } from '../gateway/config.ts';
import { Gateway } from '../gateway/gateway.ts';
import { Fleet } from '../simulators/fleet.ts';
import { LabelLog, type IncidentType } from '../simulators/labels.ts';
import { Scenario } from '../simulators/scenario.ts';
import { closeAll, collect, connect, until } from './helpers/gateway.ts';
import { freePortsEnv, runScript } from './helpers/process.ts';

type AlertMsg = {
  event: string;
  actor: string;
  id: string;
  type: string;
  deviceId: string;
  state: string;
  severity: string;
  acknowledgedBy: string | null;
  incidentId: string;
  version: number;
  reason: string;
};

async function startGateway(dataDir: string, over: GatewayConfigInput = {}, now?: () => number) {
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir,
      mqtt: { tcp: { host: '127.0.0.1', port: 0 }, ws: { enabled: false } },
      http: { host: '127.0.0.1', port: 0 },
      log: { level: 'silent' },
      ...over,
      security: { allowAnonymous: false, messagesPerSecond: 100_000, messageBurst: 100_000, ...over.security },
      alerts: { startupGraceS: 0, ...over.alerts },
    },
  });
  return new Gateway({ config, now }).start();
}

const dataDir = mkdtempSync(join(tmpdir(), 'vigil-alerts-e2e-'));
let gw: Gateway;
let fleet: Fleet;
let scenario: Scenario;
const labels = new LabelLog();
let consumer: { id: string; password: string; token: string };
let feed: Awaited<ReturnType<typeof collect>>;

beforeAll(async () => {
  gw = await startGateway(dataDir);
  const url = `mqtt://127.0.0.1:${gw.ports.mqtt}`;
  fleet = new Fleet({ url, sites: ['e2e'], perKind: { camera: 1, door: 2, smoke: 2, bodycam: 2 }, speed: 200, seed: 3, labels });
  const provisioned = await gw.security.registry.provisionMany(
    fleet.devices.map((d) => ({ deviceId: d.id, kind: d.kind, site: d.site, zone: d.kind === 'smoke' || d.kind === 'camera' ? 'hall' : 'perimeter' })),
    { id: 'test' },
  );
  const secrets = new Map(provisioned.map((p) => [p.credentials.username, p.credentials]));
  fleet = new Fleet({
    url,
    sites: ['e2e'],
    perKind: { camera: 1, door: 2, smoke: 2, bodycam: 2 },
    speed: 200,
    seed: 3,
    labels,
    credentials: (id) => secrets.get(id),
  });
  const p = await gw.security.registry.addPrincipal({ id: 'control-room', role: 'consumer', sites: ['e2e'] }, { id: 'test' });
  consumer = { id: 'control-room', password: p.credentials.password, token: p.token };
  const c = await connect(url, { clientId: `${consumer.id}:wall`, username: consumer.id, password: consumer.password });
  feed = await collect(c, 'vigil/v1/e2e/alerts/#');
  await fleet.start();
  scenario = new Scenario(fleet, 3);
  await until(() => fleet.devices.every((d) => gw.states.get(d.id)?.online), 'fleet online', 10_000);
});
afterAll(async () => {
  await scenario.stop();
  await fleet.stop();
  await closeAll();
  await gw.stop();
});

const alertsSeen = () =>
  feed.seen
    .filter((m) => !m.topic.endsWith('/summary') && !m.topic.includes('/command') && !m.topic.includes('/escalations/'))
    .map((m) => JSON.parse(m.payload.toString()) as AlertMsg);

const expected: [IncidentType, string][] = [
  ['fire', 'fire'],
  ['forced_door', 'forced_entry'],
  ['door_held_open', 'door_held_open'],
  ['brute_force', 'brute_force'],
  ['camera_covered', 'camera_tamper'],
  ['man_down', 'man_down'],
  ['sos', 'sos'],
  ['device_offline', 'device_offline'],
];

describe('incidents become alerts for a subscribed consumer', () => {
  for (const [incident, type] of expected) {
    it(`${incident} → exactly one raised "${type}" alert on the site's alert topics`, async () => {
      const before = labels.labels.length;
      await scenario.stage(incident);
      const label = labels.labels[before]!;
      const raised = await until(
        () => {
          const xs = alertsSeen().filter((a) => a.deviceId === label.deviceId && a.type === type && a.event === 'raised');
          return xs.length ? xs : undefined;
        },
        `${type} alert for ${label.deviceId}`,
        10_000,
      );
      expect(raised).toHaveLength(1);
      const topic = feed.seen.find((m) => m.payload.toString().includes(raised[0]!.id))!.topic;
      expect(topic).toBe(`vigil/v1/e2e/alerts/${raised[0]!.severity}/${type}/${label.deviceId}`);
      expect(raised[0]!.reason.length).toBeGreaterThan(5);
    });
  }

  it('no alert was raised twice for one incident, and normal traffic raised none of the incident types elsewhere', () => {
    const raised = alertsSeen().filter((a) => a.event === 'raised');
    const keys = raised.map((a) => `${a.deviceId}/${a.type}`);
    expect(new Set(keys).size).toBe(keys.length);
    const incidentDevices = new Set(labels.labels.map((l) => l.deviceId));
    const fleetDevices = new Set(fleet.devices.map((d) => d.id));
    const stray = raised.filter((a) => fleetDevices.has(a.deviceId) && !incidentDevices.has(a.deviceId));
    expect(stray).toEqual([]);
  });
});

/**
 * Each test below raises the alert it acts on, from a device of its own (not part of the fleet), so
 * the tests stand alone in any order.
 */
async function ownAlert(deviceId: string, kind: 'smoke' | 'bodycam' | 'door', event: Record<string, unknown>, site = 'e2e'): Promise<AlertMsg> {
  const [p] = await gw.security.registry.provisionMany([{ deviceId, kind, site, zone: 'aux' }], { id: 'test' });
  const dev = await connect(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { clientId: deviceId, ...p!.credentials });
  await dev.publishAsync(deviceTopic({ site, kind, deviceId }, 'event'), JSON.stringify(event), { qos: 1 });
  const id = await until(() => gw.alerts.store.query({ site, limit: 500 }).find((a) => a.deviceId === deviceId)?.id, `an alert for ${deviceId}`);
  return { event: 'raised', actor: 'gateway', ...toAlert(gw.alerts.store.get(id)!) } as AlertMsg;
}
const alarm = { type: 'alarm', active: true, source: 'smoke' };

describe('acknowledge and resolve', () => {
  it('over MQTT: the command topic acknowledges, records who, and replies', async () => {
    const fire = await ownAlert('aux-smoke-mqtt', 'smoke', alarm);
    const op = await connect(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { clientId: `${consumer.id}:desk`, username: consumer.id, password: consumer.password });
    const replies = await collect(op, 'vigil/v1/e2e/alerts/command/reply/control-room:desk');
    await op.publishAsync('vigil/v1/e2e/alerts/command', JSON.stringify({ action: 'ack', alertId: fire.id, note: 'crew dispatched' }), { qos: 1 });
    expect(JSON.parse((await replies.next()).payload.toString())).toMatchObject({ ok: true, action: 'ack', alertId: fire.id, state: 'acknowledged' });
    const acked = await until(() => alertsSeen().find((a) => a.id === fire.id && a.event === 'acknowledged'), 'acknowledged published');
    expect(acked).toMatchObject({ acknowledgedBy: 'control-room', actor: 'control-room', state: 'acknowledged' });
    const audit = gw.security.audit.query({ actor: 'control-room', limit: 100 }).map((r) => `${r.action} ${r.target} ${String(r.detail['via'])}`);
    expect(audit).toContain(`alert.ack ${fire.id} mqtt`);
    await op.publishAsync('vigil/v1/e2e/alerts/command', JSON.stringify({ action: 'launch', alertId: fire.id }), { qos: 1 });
    expect(JSON.parse((await replies.next((m) => m.payload.includes('invalid'))).payload.toString()).error).toMatch(/action/);
  });

  it('over HTTP: resolve records who; the history has every transition; the audit log has both', async () => {
    const fire = await ownAlert('aux-smoke-http', 'smoke', alarm);
    const post = (action: string, note: string) =>
      fetch(`http://127.0.0.1:${gw.ports.http}/api/v1/alerts/${fire.id}/${action}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${consumer.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ note }),
      });
    expect((await post('ack', 'on my way')).status).toBe(200);
    const res = await post('resolve', 'extinguished');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ state: 'resolved', resolvedBy: 'control-room' });
    const one = (await (
      await fetch(`http://127.0.0.1:${gw.ports.http}/api/v1/alerts/${fire.id}`, { headers: { authorization: `Bearer ${consumer.token}` } })
    ).json()) as { history: { event: string; actor: string }[] };
    expect(one.history.map((h) => h.event)).toEqual(expect.arrayContaining(['raised', 'acknowledged', 'resolved']));
    expect(one.history.find((h) => h.event === 'resolved')!.actor).toBe('control-room');
    const audit = gw.security.audit.query({ actor: 'control-room', limit: 100 }).map((r) => `${r.action} ${r.target} ${String(r.detail['via'])}`);
    expect(audit).toEqual(expect.arrayContaining([`alert.ack ${fire.id} http`, `alert.resolve ${fire.id} http`]));
  });

  it('a consumer of another site can neither see nor acknowledge', async () => {
    const p = await gw.security.registry.addPrincipal({ id: 'other-site', role: 'consumer', sites: ['elsewhere'] }, { id: 'test' });
    const anyAlert = await ownAlert('aux-smoke-other', 'smoke', alarm);
    const res = await fetch(`http://127.0.0.1:${gw.ports.http}/api/v1/alerts/${anyAlert.id}/ack`, {
      method: 'POST',
      headers: { authorization: `Bearer ${p.token}` },
    });
    expect(res.status).toBe(404);
    const list = (await (await fetch(`http://127.0.0.1:${gw.ports.http}/api/v1/alerts`, { headers: { authorization: `Bearer ${p.token}` } })).json()) as {
      count: number;
    };
    expect(list.count).toBe(0);
  });

  it('GET /api/v1/alerts filters and pages', async () => {
    // A site of its own: seven alerts, one of them an open SOS, whatever else the file raised.
    for (let i = 1; i <= 6; i++) await ownAlert(`pager-door-0${i}`, 'door', { type: 'forced_open' }, 'pager');
    await ownAlert('pager-bodycam-01', 'bodycam', { type: 'sos', pressed: true }, 'pager');
    const pager = await gw.security.registry.addPrincipal({ id: 'pager-room', role: 'consumer', sites: ['pager'] }, { id: 'test' });
    const h = { authorization: `Bearer ${pager.token}` };
    const all = (await (await fetch(`http://127.0.0.1:${gw.ports.http}/api/v1/alerts?limit=500`, { headers: h })).json()) as { alerts: { id: string }[] };
    const page1 = (await (await fetch(`http://127.0.0.1:${gw.ports.http}/api/v1/alerts?limit=3`, { headers: h })).json()) as {
      alerts: { id: string }[];
      nextCursor: string;
    };
    const page2 = (await (await fetch(`http://127.0.0.1:${gw.ports.http}/api/v1/alerts?limit=3&cursor=${page1.nextCursor}`, { headers: h })).json()) as {
      alerts: { id: string }[];
    };
    expect([...page1.alerts, ...page2.alerts].map((a) => a.id)).toEqual(all.alerts.slice(0, 6).map((a) => a.id));
    const sos = (await (await fetch(`http://127.0.0.1:${gw.ports.http}/api/v1/alerts?type=sos&state=open`, { headers: h })).json()) as {
      alerts: { type: string; state: string }[];
    };
    expect(sos.alerts.length).toBe(1);
    expect(sos.alerts[0]).toMatchObject({ type: 'sos', state: 'raised' });
  });
});

describe('dedupe under concurrency', () => {
  it('the same condition arriving concurrently from 100 in-flight messages (alarm events and telemetry) raises one alert', async () => {
    await gw.security.registry.provisionMany([{ deviceId: 'c-smoke-1', kind: 'smoke', site: 'conc', zone: 'z' }], { id: 'test' }).then(async ([p]) => {
      const url = `mqtt://127.0.0.1:${gw.ports.mqtt}`;
      const a = { site: 'conc', kind: 'smoke', deviceId: 'c-smoke-1' };
      const dev = await connect(url, { clientId: a.deviceId, username: a.deviceId, password: p!.credentials.password });
      const hot = JSON.stringify({ temperature_c: 70, humidity_pct: 20, eco2_ppm: 9000, obscuration_pct_m: 9 });
      // 100 in flight at once: alarm events and over-threshold telemetry, not awaited one by one.
      await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          dev.publishAsync(deviceTopic(a, i % 2 ? 'telemetry' : 'event'), i % 2 ? hot : JSON.stringify({ type: 'alarm', active: true, source: 'smoke' }), {
            qos: 1,
          }),
        ),
      );
      const fires = gw.alerts.store.query({ site: 'conc', type: 'fire' });
      expect(fires).toHaveLength(1);
      expect(fires[0]!.repeatCount).toBe(99);
    });
  });
});

describe('fleet coverage', () => {
  it('raises coverage_drop when a kind falls below 90 % online at a site, and auto-resolves when it recovers', async () => {
    const cov = await startGateway(mkdtempSync(join(tmpdir(), 'vigil-cov-')), { alerts: { clearAfterS: 0 } });
    try {
      const url = `mqtt://127.0.0.1:${cov.ports.mqtt}`;
      const ps = await cov.security.registry.provisionMany(
        Array.from({ length: 5 }, (_, i) => ({ deviceId: `cov-smoke-${i}`, kind: 'smoke', site: 'cov' })),
        { id: 'test' },
      );
      const conns = await Promise.all(
        ps.map((p) => connect(url, { clientId: p.credentials.username, username: p.credentials.username, password: p.credentials.password })),
      );
      await until(() => ps.every((p) => cov.states.get(p.credentials.username)?.online), 'all online');
      cov.alerts.tick();
      // Open ones only: on a loaded machine the gateway's own 1-s tick may have caught the moment the
      // devices were provisioned but not yet connected, and that alert has auto-resolved by now.
      expect(cov.alerts.store.query({ site: 'cov', type: 'coverage_drop', state: 'open' })).toHaveLength(0);
      conns[0]!.stream.destroy();
      await until(() => !cov.states.get('cov-smoke-0')?.online, 'one offline');
      cov.alerts.tick();
      const [drop] = cov.alerts.store.query({ site: 'cov', type: 'coverage_drop', state: 'open' });
      expect(drop).toMatchObject({ state: 'raised', deviceId: 'coverage-smoke', evidence: { healthy: 4, registered: 5, ratio: 0.8 } });
      expect(drop!.reason).toMatch(/smoke coverage 80 % \(4 of 5/);
      await connect(url, { clientId: 'cov-smoke-0', username: 'cov-smoke-0', password: ps[0]!.credentials.password });
      await until(() => cov.states.get('cov-smoke-0')?.online, 'back online');
      cov.alerts.tick();
      cov.alerts.tick();
      expect(cov.alerts.store.get(drop!.id)!.state).toBe('auto_resolved');
    } finally {
      await cov.stop();
    }
  });
});

describe('device offline without a Last Will', () => {
  it('a device that disconnects without a will is reported offline once the reconnect grace has passed', async () => {
    let clock = Date.now();
    const g = await startGateway(mkdtempSync(join(tmpdir(), 'vigil-nowill-')), { security: { allowAnonymous: true } }, () => clock);
    try {
      const d = await mqtt.connectAsync(`mqtt://127.0.0.1:${g.ports.mqtt}`, { clientId: 'nw-door-1', reconnectPeriod: 0 });
      await d.publishAsync('vigil/v1/nw/door/nw-door-1/telemetry', JSON.stringify({ door: 'closed', locked: true }), { qos: 1 });
      d.stream.destroy();
      await until(() => g.states.get('nw-door-1')?.connected === false, 'disconnected');
      clock += 5_000;
      g.alerts.tick();
      expect(g.alerts.store.query({ site: 'nw', type: 'device_offline' })).toHaveLength(0); // a blip, so far
      clock += 6_000;
      g.alerts.tick();
      const [a] = g.alerts.store.query({ site: 'nw', type: 'device_offline' });
      expect(a).toMatchObject({ deviceId: 'nw-door-1', state: 'raised' });
      expect(a!.reason).toMatch(/disconnected 1\d s ago/);
    } finally {
      await g.stop();
    }
  });
});

describe('the fleet scan, sliced', () => {
  it('spread over event-loop turns it raises what the whole scan raises; a halted scan raises nothing', async () => {
    let clock = Date.now();
    const g = await startGateway(mkdtempSync(join(tmpdir(), 'vigil-sliced-')), { security: { allowAnonymous: true } }, () => clock);
    try {
      const ids = ['sl-door-1', 'sl-door-2', 'sl-door-3'];
      for (const id of ids) {
        const d = await mqtt.connectAsync(`mqtt://127.0.0.1:${g.ports.mqtt}`, { clientId: id, reconnectPeriod: 0 });
        await d.publishAsync(`vigil/v1/sl/door/${id}/telemetry`, JSON.stringify({ door: 'closed', locked: true }), { qos: 1 });
        d.stream.destroy();
      }
      await until(() => ids.every((id) => g.states.get(id)?.connected === false), 'disconnected');
      clock += 11_000;
      // Nothing yet when tickSliced returns (one device per turn here, conditions at the end of the scan), then all three.
      const offline = () => g.alerts.store.query({ site: 'sl', type: 'device_offline' });
      g.alerts.pipeline.tickSliced(1);
      expect(offline()).toHaveLength(0);
      await until(() => offline().length === 3 || undefined, 'three device_offline alerts from the sliced scan');
      // A fourth goes silent; a scan is started and the pipeline halted (shutdown): it raises nothing.
      const d4 = await mqtt.connectAsync(`mqtt://127.0.0.1:${g.ports.mqtt}`, { clientId: 'sl-door-4', reconnectPeriod: 0 });
      await d4.publishAsync('vigil/v1/sl/door/sl-door-4/telemetry', JSON.stringify({ door: 'closed', locked: true }), { qos: 1 });
      d4.stream.destroy();
      await until(() => g.states.get('sl-door-4')?.connected === false, 'fourth disconnected');
      clock += 11_000;
      g.alerts.pipeline.tickSliced(1);
      g.alerts.pipeline.halt();
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      expect(offline()).toHaveLength(3);
    } finally {
      await g.stop();
    }
  });
});

describe('a planned stop is no outage', () => {
  it('a device that announces its shutdown raises no device_offline, neither before it disconnects nor after the grace', async () => {
    let clock = Date.now();
    const g = await startGateway(mkdtempSync(join(tmpdir(), 'vigil-planned-')), { security: { allowAnonymous: true } }, () => clock);
    try {
      const d = await mqtt.connectAsync(`mqtt://127.0.0.1:${g.ports.mqtt}`, { clientId: 'ps-door-1', reconnectPeriod: 0 });
      await d.publishAsync('vigil/v1/ps/door/ps-door-1/telemetry', JSON.stringify({ door: 'closed', locked: true }), { qos: 1 });
      await d.publishAsync('vigil/v1/ps/door/ps-door-1/status', JSON.stringify({ online: false, reason: 'shutdown' }), { qos: 1, retain: true });
      // Still connected, announced offline: the fleet check must not read this as a silent device.
      g.alerts.tick();
      expect(g.alerts.store.query({ site: 'ps', type: 'device_offline' })).toHaveLength(0);
      await d.endAsync();
      await until(() => g.states.get('ps-door-1')?.connected === false, 'disconnected');
      clock += 11_000;
      g.alerts.tick();
      expect(g.alerts.store.query({ site: 'ps', type: 'device_offline' })).toHaveLength(0);
    } finally {
      await g.stop();
    }
  });
});

describe('persistence', () => {
  it('alerts, their retained summary and escalation deadlines survive a restart', async () => {
    let clock = Date.now();
    const dir = mkdtempSync(join(tmpdir(), 'vigil-restart-'));
    const g1 = await startGateway(dir, {}, () => clock);
    const [p] = await g1.security.registry.provisionMany([{ deviceId: 'r-door-1', kind: 'door', site: 'rs' }], { id: 'test' });
    const d = await mqtt.connectAsync(`mqtt://127.0.0.1:${g1.ports.mqtt}`, {
      clientId: 'r-door-1',
      username: 'r-door-1',
      password: p!.credentials.password,
      reconnectPeriod: 0,
    });
    await d.publishAsync('vigil/v1/rs/door/r-door-1/event', JSON.stringify({ type: 'forced_open' }), { qos: 1 });
    const [alert] = g1.alerts.store.query({ site: 'rs', type: 'forced_entry' });
    expect(alert).toBeDefined();
    d.end(true);
    await g1.stop();

    clock += 61_000; // down across the 60 s acknowledgement deadline
    const g2 = await startGateway(dir, {}, () => clock);
    try {
      const watcher = await connect(`mqtt://127.0.0.1:${g2.ports.mqtt}`, { clientId: 'anyone' }).catch(() => undefined);
      expect(watcher).toBeUndefined(); // still secured after restart
      const admin = await g2.security.registry.addPrincipal({ id: 'ops2', role: 'admin', sites: ['*'] }, { id: 'test' });
      const w = await connect(`mqtt://127.0.0.1:${g2.ports.mqtt}`, { clientId: 'ops2:watch', username: 'ops2', password: admin.credentials.password });
      const summary = await collect(w, 'vigil/v1/rs/alerts/summary');
      const s = JSON.parse((await summary.next()).payload.toString()) as { active: number; alerts: { id: string }[] };
      expect(s.active).toBe(1);
      expect(s.alerts[0]!.id).toBe(alert!.id);
      g2.alerts.tick();
      expect(g2.alerts.store.get(alert!.id)).toMatchObject({ escalationLevel: 1, state: 'raised' });
    } finally {
      await g2.stop();
    }
  });

  it('stopping the gateway does not raise device_offline for every connected device (their wills are dropped)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-stop-'));
    const g1 = await startGateway(dir, { security: { allowAnonymous: true } });
    const devs = await Promise.all(
      [1, 2, 3].map((i) =>
        mqtt.connectAsync(`mqtt://127.0.0.1:${g1.ports.mqtt}`, {
          clientId: `st-smoke-${i}`,
          reconnectPeriod: 0,
          will: { topic: `vigil/v1/st/smoke/st-smoke-${i}/status`, payload: Buffer.from('{"online":false,"reason":"connection lost"}'), qos: 1, retain: true },
        }),
      ),
    );
    await until(() => [1, 2, 3].every((i) => g1.states.get(`st-smoke-${i}`)?.online), 'online');
    await g1.stop();
    for (const d of devs) d.end(true);
    const g2 = await startGateway(dir, { security: { allowAnonymous: true } });
    try {
      expect(g2.alerts.store.query({ site: 'st' })).toEqual([]);
    } finally {
      await g2.stop();
    }
  });

  it('an alert acknowledged by PUBACK survives kill -9 of the gateway', async () => {
    const env = { ...freePortsEnv, VIGIL_DATA_DIR: mkdtempSync(join(tmpdir(), 'vigil-kill-')), VIGIL_SECURITY_ALLOW_ANONYMOUS: 'true' };
    const p1 = runScript('gateway/main.ts', [], env);
    const r1 = JSON.parse(await p1.line(/vigil gateway running/)) as { ports: { mqtt: number } };
    const dev = await mqtt.connectAsync(`mqtt://127.0.0.1:${r1.ports.mqtt}`, { clientId: 'k-cam-1', reconnectPeriod: 0 });
    await dev.publishAsync('vigil/v1/ks/bodycam/k-cam-1/event', JSON.stringify({ type: 'sos', pressed: true }), { qos: 1 });
    p1.child.kill('SIGKILL');
    expect((await p1.exit).signal).toBe('SIGKILL');
    dev.end(true);
    const p2 = runScript('gateway/main.ts', [], env);
    const r2 = JSON.parse(await p2.line(/vigil gateway running/)) as { ports: { http: number } };
    const list = (await (await fetch(`http://127.0.0.1:${r2.ports.http}/api/v1/alerts?type=sos`)).json()) as { alerts: { deviceId: string; state: string }[] };
    expect(list.alerts).toEqual([expect.objectContaining({ deviceId: 'k-cam-1', state: 'raised' })]);
    p2.child.kill('SIGTERM');
    await p2.exit;
  });
});
