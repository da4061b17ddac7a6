/** Interoperability with independent MQTT clients: Debian's mosquitto_pub / mosquitto_sub. */
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceTopic } from '../devices/index.ts';
import { closeAll, startTestGateway, type TestGateway } from './helpers/gateway.ts';

const run = promisify(execFile);
let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(async () => {
  await closeAll();
  await t.stop();
});

/** mosquitto_sub waiting for `count` messages; resolves with its output lines. */
function sub(topic: string, count: number, extra: string[] = []) {
  const p = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(t.gw.ports.mqtt), '-t', topic, '-C', String(count), '-W', '10', '-v', '-q', '1', ...extra]);
  let out = '';
  p.stdout.on('data', (d) => (out += d));
  const done = new Promise<string[]>((resolve, reject) =>
    p.on('close', (code) => (code === 0 ? resolve(out.trim().split('\n')) : reject(new Error(`mosquitto_sub exited ${code}: ${out}`)))),
  );
  // Ready once the broker has registered this subscription (no sleeps).
  const ready = new Promise<void>((resolve) => {
    const onSub = (subs: { topic: string }[]) => {
      if (subs.some((x) => x.topic === topic)) {
        t.gw.broker!.off('subscribe', onSub);
        resolve();
      }
    };
    t.gw.broker!.on('subscribe', onSub);
  });
  return { done, ready };
}

const pub = (clientId: string, topic: string, message: string, extra: string[] = []) =>
  run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(t.gw.ports.mqtt), '-i', clientId, '-q', '1', '-t', topic, '-m', message, ...extra]);

describe('mosquitto clients', () => {
  it('mosquitto_pub telemetry is validated and delivered to mosquitto_sub', async () => {
    const a = { site: 'hub1', kind: 'smoke', deviceId: 'mq-smoke-1' };
    const s = sub('vigil/v1/hub1/smoke/+/telemetry', 1);
    await s.ready;
    const body = JSON.stringify({ temperature_c: 23, humidity_pct: 41, eco2_ppm: 610, obscuration_pct_m: 0.01 });
    await pub(a.deviceId, deviceTopic(a, 'telemetry'), body);
    expect(await s.done).toEqual([`${deviceTopic(a, 'telemetry')} ${body}`]);
    expect(t.gw.states.get(a.deviceId)?.telemetry?.data).toMatchObject({ eco2_ppm: 610 });
  });

  it('mosquitto_pub of bad input: mosquitto_sub on the error topic gets the reason', async () => {
    const a = { site: 'hub1', kind: 'door', deviceId: 'mq-door-1' };
    const s = sub(deviceTopic(a, 'error'), 1);
    await s.ready;
    await pub(a.deviceId, deviceTopic(a, 'event'), JSON.stringify({ type: 'access_granted', credential: { type: 'card' } }));
    const [line] = await s.done;
    expect(line).toMatch(/^vigil\/v1\/hub1\/door\/mq-door-1\/error \{/);
    const body = JSON.parse(line!.slice(line!.indexOf(' ') + 1));
    expect(body).toMatchObject({ code: 'schema_violation', issues: [{ path: 'credential.id' }] });
  });

  it('a retained status set with mosquitto_pub -r is served to a later mosquitto_sub', async () => {
    const a = { site: 'hub3', kind: 'camera', deviceId: 'mq-cam-1' };
    await pub(a.deviceId, deviceTopic(a, 'status'), '{"online":true,"firmware":"5.0"}', ['-r']);
    const s = sub(deviceTopic(a, 'status'), 1);
    expect(await s.done).toEqual([`${deviceTopic(a, 'status')} {"online":true,"firmware":"5.0"}`]);
  });
});
