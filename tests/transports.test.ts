/**
 * One behaviour suite run over every transport the gateway serves, the MQTT.js way: plain TCP,
 * WebSocket, TLS and secure WebSocket, each with real MQTT.js clients against one gateway with all
 * four listeners. What a device and a consumer see must not depend on how they connect.
 */
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import type { IClientOptions } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deviceTopic } from '../devices/index.ts';
import { badInputs } from '../simulators/faulty.ts';
import { closeAll, collect, connect, connectDevice, startTestGateway, type TestGateway, until } from './helpers/gateway.ts';
import { makePki } from './helpers/security.ts';

let t: TestGateway;
let tls: IClientOptions;

beforeAll(async () => {
  const pki = makePki('tx');
  t = await startTestGateway({
    security: { messagesPerSecond: 100_000, messageBurst: 100_000 },
    mqtt: {
      tls: { enabled: true, host: '127.0.0.1', port: 0, certFile: join(pki, 'server.crt'), keyFile: join(pki, 'server.key'), clientCerts: 'off' },
      wss: { enabled: true, host: '127.0.0.1', port: 0 },
    },
  });
  tls = { ca: readFileSync(join(pki, 'ca.crt')), servername: 'localhost' };
});
afterEach(closeAll);
afterAll(() => t.stop());

const transports: [string, () => string, () => IClientOptions][] = [
  ['TCP', () => t.mqttUrl, () => ({})],
  ['WebSocket', () => t.wsUrl, () => ({})],
  ['TLS', () => `mqtts://localhost:${t.gw.ports.tls}`, () => tls],
  ['secure WebSocket', () => `wss://localhost:${t.gw.ports.wss}/mqtt`, () => tls],
];

describe.each(transports)('over %s', (name, url, extra) => {
  const id = (s: string) => `tx-${name.replace(/\s/g, '').toLowerCase()}-${s}`;
  const a = (s: string) => ({ site: 'tx', kind: 'smoke', deviceId: id(s) });
  const reading = { temperature_c: 22.1, humidity_pct: 44, eco2_ppm: 512, obscuration_pct_m: 0.03 };

  it('a valid reading is acknowledged and reaches a consumer connected the same way, unchanged', async () => {
    const dev = a('ok');
    const consumer = await collect(await connect(url(), { clientId: id('consumer'), ...extra() }), deviceTopic(dev, 'telemetry'));
    const d = await connect(url(), { clientId: dev.deviceId, ...extra() });
    const body = JSON.stringify({ ...reading, ts: Date.now() });
    await d.publishAsync(deviceTopic(dev, 'telemetry'), body, { qos: 1 });
    const m = await consumer.next();
    expect(m.payload.toString()).toBe(body);
    expect(t.gw.states.get(dev.deviceId)).toMatchObject({ online: true });
  });

  it('bad input gets its specific error on the device /error topic, the device stays connected, nothing reaches subscribers', async () => {
    const dev = { site: 'tx', kind: 'camera', deviceId: id('faulty') };
    const sniffer = await collect(await connect(url(), { clientId: id('sniffer'), ...extra() }), `vigil/v1/tx/camera/${dev.deviceId}/#`);
    const errors = await collect(await connect(url(), { clientId: id('err-watch'), ...extra() }), deviceTopic(dev, 'error'));
    // A device names itself by its Last Will on its status topic: errors of any topic it uses come back on its own.
    const d = await connectDevice(url(), dev, extra());
    for (const b of badInputs(dev.site, dev.deviceId)) {
      await d.publishAsync(b.topic, b.payload, { qos: 1 });
      const e = await errors.next((m) => JSON.parse(m.payload.toString()).topic === b.topic && !errors.seen.slice(0, -1).includes(m));
      expect(JSON.parse(e.payload.toString()).code, b.topic).toBe(b.expect);
      errors.seen.length = 0;
    }
    expect(d.connected).toBe(true);
    expect(sniffer.seen.filter((m) => !m.topic.endsWith('/error'))).toEqual([]);
  });

  it('an abrupt disconnect publishes the retained offline status (Last Will), which a late subscriber gets', async () => {
    const dev = a('will');
    const d = await connect(url(), {
      clientId: dev.deviceId,
      will: { topic: deviceTopic(dev, 'status'), payload: Buffer.from('{"online":false,"reason":"lwt"}'), qos: 1, retain: true },
      ...extra(),
    });
    await d.publishAsync(deviceTopic(dev, 'status'), JSON.stringify({ online: true, ts: Date.now() }), { qos: 1, retain: true });
    await until(() => t.gw.states.get(dev.deviceId)?.online, 'online');
    d.stream.destroy();
    await until(() => t.gw.states.get(dev.deviceId) && !t.gw.states.get(dev.deviceId)!.online, 'offline after the will');
    const late = await collect(await connect(url(), { clientId: id('late'), ...extra() }), deviceTopic(dev, 'status'));
    const s = await late.next();
    expect(s.retain).toBe(true);
    expect(JSON.parse(s.payload.toString())).toMatchObject({ online: false, reason: 'lwt' });
  });
});
