/**
 * Device commands through a real broker, real MQTT clients and the simulators: declared per kind,
 * authorised per command, audited, answered at most once, timed out, queued for offline devices,
 * and not forgeable by anyone but the gateway. The gateway's clock is injected for the deadlines.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { deviceTopic } from '../devices/index.ts';
import type { SimDevice } from '../simulators/device.ts';
import { createSim } from '../simulators/fleet.ts';
import { closeAll, collect, connect, startTestGateway, until, type TestGateway } from './helpers/gateway.ts';
import { ROOT } from './helpers/process.ts';

let t: TestGateway;
let skew = 0;
const now = () => Date.now() + skew;
const sims = new Map<string, SimDevice>();
const creds = new Map<string, { username: string; password: string }>();
const tokens: Record<string, string> = {};
const mqttCreds: Record<string, { username: string; password: string }> = {};

const site = 'cmd';
const devices = [
  { deviceId: 'cmd-door-01', kind: 'door' },
  { deviceId: 'cmd-door-02', kind: 'door' },
  { deviceId: 'cmd-smoke-01', kind: 'smoke' },
  { deviceId: 'cmd-camera-01', kind: 'camera' },
  { deviceId: 'cmd-bodycam-01', kind: 'bodycam' },
];

async function startSim(deviceId: string, kind: string): Promise<SimDevice> {
  const s = createSim(kind, { url: t.mqttUrl, site, deviceId, speed: 1, seed: deviceId, ...creds.get(deviceId)! });
  await s.start();
  sims.set(deviceId, s);
  await until(() => t.gw.states.get(deviceId)?.connected, `${deviceId} connected`);
  return s;
}

const send = async (deviceId: string, body: Record<string, unknown>, token = tokens['eng']!) => {
  const res = await fetch(`${t.httpUrl}/api/v1/devices/${deviceId}/commands`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
};

beforeAll(async () => {
  t = await startTestGateway({ security: { allowAnonymous: false } }, [], now);
  const reg = t.gw.security.registry;
  const ps = await reg.provisionMany(
    [...devices, { deviceId: 'cmd-door-mute', kind: 'door' }, { deviceId: 'cmd-door-away', kind: 'door' }].map((d) => ({ ...d, site, zone: 'gate' })),
    { id: 'test' },
  );
  for (const p of ps) creds.set(p.device.deviceId, p.credentials);
  for (const [id, role, sites] of [
    ['eng', 'engineer', [site]],
    ['screen', 'consumer', [site]],
    ['eng-other', 'engineer', ['elsewhere']],
    ['ops', 'admin', ['*']],
  ] as const) {
    const p = await reg.addPrincipal({ id, role, sites: [...sites] }, { id: 'test' });
    tokens[id] = p.token;
    mqttCreds[id] = p.credentials;
  }
  for (const d of devices) await startSim(d.deviceId, d.kind);
}, 30_000);

afterAll(async () => {
  for (const s of sims.values()) await s.stop();
  await closeAll();
  await t?.stop();
});

describe('device commands', () => {
  it('a round trip: an engineer unlocks a door; the door acts, answers, and the command is audited with who sent it', async () => {
    const r = await send('cmd-door-01', { name: 'unlock', params: { seconds: 30 }, waitS: 5 });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      name: 'unlock',
      state: 'ok',
      actor: 'eng',
      via: 'http',
      params: { seconds: 30 },
      reply: { data: { lock: 'released', until: expect.any(String) } },
    });
    expect(t.gw.states.get('cmd-door-01')?.telemetry?.data).toMatchObject({ locked: false });
    const audit = t.gw.security.audit.query({ action: 'device.command', actor: 'eng', limit: 100 });
    expect(audit.find((a) => a.detail['id'] === r.body['id'])).toMatchObject({ target: 'cmd-door-01', outcome: 'ok', detail: { name: 'unlock', via: 'http' } });
    const one = await fetch(`${t.httpUrl}/api/v1/commands/${String(r.body['id'])}`, { headers: { authorization: `Bearer ${tokens['screen']}` } });
    expect(((await one.json()) as { state: string }).state).toBe('ok');
  });

  it.each([
    ['cmd-smoke-01', 'self_test', {}, { result: 'pass' }],
    ['cmd-smoke-01', 'hush', { seconds: 60 }, { hushedUntil: expect.any(String) }],
    ['cmd-camera-01', 'snapshot', {}, { snapshot: 'published' }],
    ['cmd-camera-01', 'ptz_preset', { preset: 3 }, { preset: 3 }],
    ['cmd-bodycam-01', 'start_recording', {}, { recording: true }],
    ['cmd-bodycam-01', 'start_stream', {}, { url: expect.stringMatching(/^rtsp:\/\//) }],
    ['cmd-bodycam-01', 'locate', {}, { gps: { lat: expect.any(Number), lon: expect.any(Number) } }],
    ['cmd-door-02', 'lock', {}, { lock: 'engaged' }],
    ['cmd-door-02', 'hold_open_release', {}, { lock: expect.stringMatching(/^(engaged|released)$/) }],
  ])('%s carries out %s', async (deviceId, name, params, data) => {
    const r = await send(deviceId, { name, params, waitS: 5 }, tokens['ops']);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ state: 'ok', reply: { data } });
  });

  it('a command delivered twice (QoS 1 redelivery, a retry) is carried out once; a second answer changes nothing', async () => {
    const r = await send('cmd-door-02', { name: 'unlock', params: { seconds: 5 }, waitS: 5 });
    expect(r.body['state']).toBe('ok');
    const door = sims.get('cmd-door-02')!;
    const executed = () => door.commandsExecuted.filter((c) => c.id === r.body['id']).length;
    expect(executed()).toBe(1);
    const watch = await connect(t.mqttUrl, { clientId: 'ops:watch', ...mqttCreds['ops']! });
    const replies = await collect(watch, deviceTopic({ site, kind: 'door', deviceId: 'cmd-door-02' }, 'cmd/reply'));
    const again = JSON.stringify({ id: r.body['id'], name: 'unlock', params: { seconds: 5 } });
    t.gw.broker!.publish(
      {
        cmd: 'publish',
        topic: deviceTopic({ site, kind: 'door', deviceId: 'cmd-door-02' }, 'cmd'),
        payload: Buffer.from(again),
        qos: 1,
        retain: false,
        dup: true,
      },
      () => {},
    );
    const second = await replies.next((m) => m.payload.toString().includes(String(r.body['id'])));
    expect(JSON.parse(second.payload.toString())).toMatchObject({ id: r.body['id'], status: 'ok' });
    expect(executed()).toBe(1);
    expect(t.gw.commands.get(String(r.body['id']))!.answeredAt).toBe(Date.parse(String(r.body['answeredAt'])));
  });

  it('a device that does not answer leaves the command timed out at its deadline', async () => {
    // Connected and subscribed to its commands, but it never answers.
    const mute = await connect(t.mqttUrl, { clientId: 'cmd-door-mute', ...creds.get('cmd-door-mute')! });
    const heard = await collect(mute, deviceTopic({ site, kind: 'door', deviceId: 'cmd-door-mute' }, 'cmd'));
    await until(() => t.gw.states.get('cmd-door-mute')?.connected, 'mute door connected');
    const r = await send('cmd-door-mute', { name: 'lock' });
    expect(r.status).toBe(202);
    expect(r.body['state']).toBe('sent');
    await heard.next();
    t.gw.commands.tick();
    expect(t.gw.commands.get(String(r.body['id']))!.state).toBe('sent');
    skew += 11_000; // past the 10 s a door has to answer
    try {
      t.gw.commands.tick();
      expect(t.gw.commands.get(String(r.body['id']))!.state).toBe('timeout');
    } finally {
      skew -= 11_000;
    }
  });

  it('an offline device: refused without ttlS; queued with it and delivered when it connects, or expired when it does not', async () => {
    expect(await send('cmd-door-away', { name: 'lock' })).toMatchObject({ status: 409, body: { code: 'VIGIL_ERR_DEVICE_OFFLINE' } });
    const queued = await send('cmd-door-away', { name: 'lock', ttlS: 60 });
    expect(queued).toMatchObject({ status: 202, body: { state: 'queued' } });
    const late = await send('cmd-door-away', { name: 'hold_open_release', ttlS: 5 });
    skew += 6_000;
    try {
      t.gw.commands.tick();
      expect(t.gw.commands.get(String(late.body['id']))!.state).toBe('expired');
    } finally {
      skew -= 6_000;
    }
    await startSim('cmd-door-away', 'door');
    await until(() => t.gw.commands.get(String(queued.body['id']))!.state === 'ok', 'queued command answered after reconnect');
    expect(sims.get('cmd-door-away')!.commandsExecuted.map((c) => c.name)).toEqual(['lock']);
  });

  it('who may send what: a consumer may not unlock, may start a bodycam stream; another site does not exist for its engineer', async () => {
    expect(await send('cmd-door-01', { name: 'unlock', params: { seconds: 5 } }, tokens['screen'])).toMatchObject({
      status: 403,
      body: { code: 'VIGIL_ERR_FORBIDDEN', message: expect.stringMatching(/needs the role engineer or admin; screen is consumer/) },
    });
    expect((await send('cmd-bodycam-01', { name: 'start_stream', waitS: 5 }, tokens['screen'])).body).toMatchObject({ state: 'ok' });
    expect((await send('cmd-door-01', { name: 'lock' }, tokens['eng-other'])).status).toBe(404);
    expect((await fetch(`${t.httpUrl}/api/v1/commands/${'cmd-x'}`, { headers: { authorization: `Bearer ${tokens['eng']}` } })).status).toBe(404);
    const denied = t.gw.security.audit.query({ action: 'device.command', outcome: 'denied', limit: 100 }).map((a) => a.actor);
    expect(denied).toEqual(expect.arrayContaining(['screen', 'eng-other']));
  });

  it('an unlock is refused while the door reports a forced entry, unless forced on purpose', async () => {
    await sims.get('cmd-door-01')!.publish('event', { type: 'forced_open' });
    await until(() => t.gw.alerts.store.query({ site, type: 'forced_entry', state: 'open' }).some((a) => a.deviceId === 'cmd-door-01'), 'forced_entry open');
    const refused = await send('cmd-door-01', { name: 'unlock', params: { seconds: 5 } });
    expect(refused).toMatchObject({
      status: 409,
      body: { code: 'VIGIL_ERR_COMMAND_REFUSED', message: expect.stringMatching(/open forced_entry alert; send force: true/) },
    });
    const forced = await send('cmd-door-01', { name: 'unlock', params: { seconds: 5, force: true }, waitS: 5 });
    expect(forced.body).toMatchObject({ state: 'ok', params: { force: true } });
  });

  it('bad input: an unknown command lists the kind’s; bad parameters list each field', async () => {
    expect(await send('cmd-door-01', { name: 'self_destruct' })).toMatchObject({
      status: 400,
      body: { code: 'VIGIL_ERR_UNKNOWN_COMMAND', message: 'a door has no command "self_destruct"; it has: lock, unlock, hold_open_release' },
    });
    const bad = await send('cmd-door-01', { name: 'unlock', params: { seconds: 9999, colour: 'red' } });
    expect(bad.status).toBe(400);
    expect(bad.body['details'].map((d: { path: string }) => d.path).sort()).toEqual(['params.', 'params.seconds']);
  });

  it('nobody but the gateway can command a device: a principal publishing on a cmd topic is refused, a device cannot command itself or answer for another', async () => {
    const door = sims.get('cmd-door-02')!;
    const before = door.commandsExecuted.length;
    const ops = await connect(t.mqttUrl, { clientId: 'ops:forger', ...mqttCreds['ops']! });
    await ops.publishAsync(
      deviceTopic({ site, kind: 'door', deviceId: 'cmd-door-02' }, 'cmd'),
      JSON.stringify({ id: 'forged-1', name: 'unlock', params: { seconds: 600 } }),
      {
        qos: 1,
      },
    );
    // A device publishing on its own cmd topic (a gateway channel) is refused as reserved.
    await door.publish('cmd' as never, { id: 'forged-2', name: 'unlock', params: { seconds: 600 } }).catch(() => {});
    await until(() => (t.gw.states.get('cmd-door-02')?.refusedByReason['reserved_topic'] ?? 0) > 0, 'reserved_topic refusal');
    // A real command to door 01, answered first by door 02 claiming its id: ignored; door 01's own answer counts.
    const r = await send('cmd-door-01', { name: 'lock', waitS: 0 });
    await door.publish('cmd/reply', { id: r.body['id'], status: 'error', error: 'not me' });
    const settled = await t.gw.commands.wait(String(r.body['id']), 5000);
    expect(settled).toMatchObject({ state: 'ok', deviceId: 'cmd-door-01' });
    expect(door.commandsExecuted.length).toBe(before);
  });

  it("automation: an SOS raised on a body camera has the gateway start the officer's recording (the kind's onAlert)", async () => {
    await sims.get('cmd-bodycam-01')!.publish('event', { type: 'sos', pressed: true });
    const auto = await until(
      () => t.gw.commands.list('cmd-bodycam-01').find((c) => c.actor === 'gateway' && c.via.startsWith('alert:') && c.state === 'ok'),
      'start_recording sent by the gateway and answered',
    );
    expect(auto).toMatchObject({ name: 'start_recording', reply: { data: { recording: true } } });
    const alert = t.gw.alerts.store.query({ site, type: 'sos' }).find((a) => a.deviceId === 'cmd-bodycam-01')!;
    expect(auto.via).toBe(`alert:${alert.id}`);
    expect(t.gw.security.audit.query({ action: 'device.command', actor: 'gateway', limit: 50 }).some((r) => r.detail['id'] === auto.id)).toBe(true);
  });

  it('the vigil CLI sends a command and waits for the answer; a refusal has its exit code', async () => {
    const vigil = (args: string[], token: string) =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const p = spawn(join(ROOT, 'bin/vigil'), args, { env: { ...process.env, VIGIL_URL: t.httpUrl, VIGIL_TOKEN: token } });
        let out = '';
        let err = '';
        p.stdout.on('data', (d) => (out += d));
        p.stderr.on('data', (d) => (err += d));
        p.on('close', (code) => resolve({ code, out, err }));
      });
    const ok = await vigil(['cmd', 'cmd-smoke-01', 'hush', '--param', 'seconds=120'], tokens['eng']!);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toMatch(/^cmd-smoke-01 hush: ok \{"hushedUntil":"[^"]+"\}\s+\[cmd-/);
    const forbidden = await vigil(['cmd', 'cmd-door-02', 'unlock'], tokens['screen']!);
    expect(forbidden.code).toBe(3);
    expect(forbidden.err).toMatch(/needs the role engineer or admin/);
  }, 30_000);
});
