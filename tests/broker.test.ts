/** The ingest path end to end: real MQTT.js clients over TCP against a gateway started here. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deviceTopic } from '../devices/index.ts';
import type { DeviceMessage } from '../edge/message.ts';
import type { PipelineStage } from '../edge/pipeline.ts';
import { badInputs } from '../simulators/faulty.ts';
import { SceneRenderer } from '../simulators/scene.ts';
import { closeAll, collect, connect, connectDevice, scrape, startTestGateway, type TestGateway, until } from './helpers/gateway.ts';

/** A pipeline stage that records what ingest handed over: the seam later issues plug into. */
class Recorder implements PipelineStage {
  readonly name = 'recorder';
  readonly messages: DeviceMessage[] = [];
  accept(m: DeviceMessage) {
    this.messages.push(m);
  }
  of(deviceId: string) {
    return this.messages.filter((m) => m.deviceId === deviceId);
  }
}

const rec = new Recorder();
let t: TestGateway;
beforeAll(async () => {
  // These suites test ingest and simulators at compressed time, not the per-device rate limit (security.test.ts does).
  t = await startTestGateway({ security: { messagesPerSecond: 100_000, messageBurst: 100_000 } }, [rec]);
});
afterEach(closeAll);
afterAll(() => t.stop());

const valid = {
  camera: {
    telemetry: { fps: 25, bitrate_kbps: 4200, temperature_c: 41.5 },
    event: { type: 'intrusion', zone: 'platform-2', confidence: 0.91, object: 'person', bbox: [0.1, 0.2, 0.1, 0.3] },
  },
  door: {
    telemetry: { door: 'closed', locked: true },
    event: { type: 'access_denied', credential: { type: 'card', id: '04A2-1187' }, reason: 'unknown_credential' },
  },
  smoke: {
    telemetry: { temperature_c: 22.1, humidity_pct: 44, eco2_ppm: 512, obscuration_pct_m: 0.03, battery_pct: 87 },
    event: { type: 'alarm', active: true, source: 'smoke' },
  },
  bodycam: {
    telemetry: {
      recording: true,
      imu: {
        rate_hz: 2,
        accel_g: [
          [0, 0, 1],
          [0.1, 0, 0.98],
        ],
      },
      gps: { lat: 22.54, lon: 114.06, accuracy_m: 4 },
      battery_pct: 64,
    },
    event: { type: 'sos', pressed: true },
  },
} as const;

describe('valid ingest for each kind', () => {
  for (const [kind, bodies] of Object.entries(valid)) {
    it(`${kind}: status, telemetry, event and config report reach the pipeline and the API`, async () => {
      const a = { site: 'hub1', kind, deviceId: `t-${kind}-1` };
      const dev = await connectDevice(t.mqttUrl, a);
      await dev.publishAsync(deviceTopic(a, 'status'), JSON.stringify({ online: true, firmware: '2.1.0' }), { qos: 1, retain: true });
      await dev.publishAsync(deviceTopic(a, 'telemetry'), JSON.stringify(bodies.telemetry), { qos: 1 });
      await dev.publishAsync(deviceTopic(a, 'event'), JSON.stringify(bodies.event), { qos: 1 });
      await dev.publishAsync(deviceTopic(a, 'config/reported'), JSON.stringify({ version: 3, status: 'applied' }), { qos: 1 });
      // QoS 1 PUBACK comes after authorizePublish, so the pipeline has the messages now.
      expect(rec.of(a.deviceId).map((m) => m.channel)).toEqual(['status', 'telemetry', 'event', 'config/reported']);
      const tel = rec.of(a.deviceId).find((m) => m.channel === 'telemetry')!;
      expect(tel).toMatchObject({ site: 'hub1', kind, data: bodies.telemetry, qos: 1, clockSkewed: false });
      const res = await fetch(`${t.httpUrl}/api/v1/devices/${a.deviceId}`);
      const body = (await res.json()) as Record<string, any>;
      expect(body).toMatchObject({ kind, site: 'hub1', online: true, connected: true, messages: 4, refused: 0 });
      expect(body.telemetry.data).toEqual(bodies.telemetry);
      expect(body.status.data).toMatchObject({ online: true, firmware: '2.1.0' });
      expect(body.lastEvent.data).toMatchObject({ type: bodies.event.type });
      expect(body.configReported.data).toMatchObject({ version: 3, status: 'applied' });
    });
  }

  it('camera and bodycam snapshots: real JPEGs accepted and routed to subscribers unchanged', async () => {
    const a = { site: 'hub1', kind: 'camera', deviceId: 't-cam-snap' };
    const jpeg = await new SceneRenderer(a.deviceId).frame(8);
    const viewer = await connect(t.mqttUrl, { clientId: 'viewer-1' });
    const got = await collect(viewer, deviceTopic(a, 'snapshot'));
    const dev = await connectDevice(t.mqttUrl, a);
    await dev.publishAsync(deviceTopic(a, 'snapshot'), jpeg, { qos: 1 });
    const m = await got.next();
    expect(Buffer.compare(m.payload, jpeg)).toBe(0);
    expect(rec.of(a.deviceId)[0]).toMatchObject({ channel: 'snapshot', snapshot: { width: 320, height: 240 } });
  });
});

describe('bad input', () => {
  it('each class gets its specific error on the device /error topic, without disconnecting it', async () => {
    const site = 'hub1';
    const id = 't-faulty';
    const errors = await collect(await connect(t.mqttUrl, { clientId: 'err-watch' }), deviceTopic({ site, kind: 'camera', deviceId: id }, 'error'));
    const dev = await connectDevice(t.mqttUrl, { site, kind: 'camera', deviceId: id });
    const inputs = badInputs(site, id);
    for (const b of inputs) {
      await dev.publishAsync(b.topic, b.payload, { qos: 1 }); // acknowledged [MQTT-3.3.5-2] ...
      const e = await errors.next((m) => JSON.parse(m.payload.toString()).topic === b.topic && !errors.seen.slice(0, -1).includes(m));
      const body = JSON.parse(e.payload.toString());
      expect(body.code, `${b.topic} → ${body.message}`).toBe(b.expect);
      expect(body.message.length).toBeGreaterThan(10);
      errors.seen.length = 0;
    }
    expect(dev.connected).toBe(true); // ... and still connected
    expect(rec.of(id)).toEqual([]); // nothing refused reached the pipeline
    const d = t.gw.states.get(id)!;
    expect(d.refused).toBe(inputs.length);
    expect(Object.keys(d.refusedByReason).sort()).toEqual([...new Set(inputs.map((b) => b.expect))].sort());
    const metrics = await scrape(`${t.httpUrl}`);
    expect(metrics).toMatch(/vigil_ingest_refused_total\{reason="invalid_json"\} [1-9]/);
    expect(metrics).toMatch(/vigil_ingest_refused_total\{reason="device_mismatch"\} [1-9]/);
  });

  it('schema errors carry every field path', async () => {
    const a = { site: 'hub1', kind: 'smoke', deviceId: 't-smoke-bad' };
    const dev = await connectDevice(t.mqttUrl, a);
    const errors = await collect(dev, deviceTopic(a, 'error'));
    await dev.publishAsync(deviceTopic(a, 'telemetry'), JSON.stringify({ temperature_c: 'hot', humidity_pct: 130, eco2_ppm: 400 }), { qos: 1 });
    const body = JSON.parse((await errors.next()).payload.toString());
    expect(body).toMatchObject({ code: 'schema_violation', topic: deviceTopic(a, 'telemetry') });
    expect(body.issues.map((i: { path: string }) => i.path).sort()).toEqual(['humidity_pct', 'obscuration_pct_m', 'temperature_c']);
  });

  it('refused messages never reach subscribers of the topic they were sent to', async () => {
    const a = { site: 'hub1', kind: 'smoke', deviceId: 't-smoke-quiet' };
    const sub = await collect(await connect(t.mqttUrl, { clientId: 'sniffer' }), '#');
    const dev = await connectDevice(t.mqttUrl, a);
    await dev.publishAsync(deviceTopic(a, 'telemetry'), '{not json', { qos: 1 });
    await dev.publishAsync(deviceTopic(a, 'telemetry'), JSON.stringify(valid.smoke.telemetry), { qos: 1 });
    await sub.next((m) => m.topic === deviceTopic(a, 'telemetry'));
    await sub.next((m) => m.topic === deviceTopic(a, 'error'));
    const onTelemetry = sub.seen.filter((m) => m.topic === deviceTopic(a, 'telemetry'));
    expect(onTelemetry.map((m) => m.payload.toString())).toEqual([JSON.stringify(valid.smoke.telemetry)]);
    expect(sub.seen.some((m) => m.topic.startsWith('$SYS'))).toBe(false);
  });

  it('a device flooding bad input does not disturb another device: nothing of the good one is lost', async () => {
    const good = { site: 'hub2', kind: 'smoke', deviceId: 't-good' };
    const badA = { site: 'hub2', kind: 'smoke', deviceId: 't-bad' };
    const [g, b] = await Promise.all([connectDevice(t.mqttUrl, good), connectDevice(t.mqttUrl, badA)]);
    const N = 300;
    const bad = (async () => {
      for (let i = 0; i < N; i++) {
        b.publish(deviceTopic(badA, 'telemetry'), i % 2 ? '{"x":' : JSON.stringify({ temperature_c: 'x' }), { qos: 0 });
        if (i % 50 === 0) await new Promise((r) => setImmediate(r));
      }
      await b.publishAsync(deviceTopic(badA, 'telemetry'), 'end', { qos: 1 });
    })();
    for (let i = 0; i < N; i++) {
      await g.publishAsync(deviceTopic(good, 'telemetry'), JSON.stringify({ ...valid.smoke.telemetry, seq: i }), { qos: 1 });
    }
    await bad;
    const seqs = rec.of(good.deviceId).map((m) => m.data['seq']);
    expect(seqs).toEqual(Array.from({ length: N }, (_, i) => i));
    await until(() => t.gw.states.get(badA.deviceId)?.refused === N + 1, 'all bad messages counted');
    expect(b.connected && g.connected).toBe(true);
  });
});

describe('protocol abuse', () => {
  it('garbage bytes, a CONNECT-less socket and absurd topics close those connections; the broker keeps serving others', async () => {
    const { connect: tcp } = await import('node:net');
    const port = t.gw.ports.mqtt!;
    const closed = (bytes: Buffer) =>
      new Promise<void>((resolve) => {
        const s = tcp({ port, host: '127.0.0.1' }, () => s.write(bytes));
        s.resume();
        s.on('error', () => {});
        s.on('close', () => resolve());
      });
    await closed(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await closed(Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x7f])); // CONNECT with an impossible remaining length
    await closed(Buffer.from([0x30, 0x05, 0x00, 0x01, 0x61, 0x62, 0x63])); // PUBLISH before CONNECT
    const a = { site: 'hub9', kind: 'smoke', deviceId: 't-deep' };
    const dev = await connectDevice(t.mqttUrl, a);
    const gone = new Promise<void>((r) => dev.once('close', () => r()));
    dev.publish(`vigil/v1/${'x/'.repeat(40)}telemetry`, '{}', { qos: 1 });
    await gone; // too many topic levels: closed before it reaches the router
    const ok = await connectDevice(t.mqttUrl, { site: 'hub9', kind: 'smoke', deviceId: 't-after' });
    await ok.publishAsync('vigil/v1/hub9/smoke/t-after/telemetry', JSON.stringify(valid.smoke.telemetry), { qos: 1 });
    expect(rec.of('t-after')).toHaveLength(1);
  });
});

describe('packet size at the transport', () => {
  it('a packet announcing more than mqtt.maxPacketBytes closes the connection before it is buffered, over TCP and WebSocket', async () => {
    const { connect: tcp } = await import('node:net');
    // A valid CONNECT, then a PUBLISH header announcing 100 MB and nothing after it.
    const connectPkt = Buffer.from([0x10, 0x12, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c, 0x00, 0x06, 0x62, 0x69, 0x67, 0x2d, 0x30, 0x31]);
    const hugeHeader = Buffer.from([0x30, 0x80, 0xad, 0xe2, 0x2f]); // Remaining Length 100,000,000
    const oversized = async () => Number(/vigil_mqtt_oversized_packets_total\{transport="tcp"\} (\d+)/.exec(await scrape(`${t.httpUrl}`))?.[1] ?? 0);
    const before = await oversized();
    await new Promise<void>((resolve) => {
      const s = tcp({ port: t.gw.ports.mqtt!, host: '127.0.0.1' }, () => {
        s.write(connectPkt);
        setTimeout(() => s.write(hugeHeader), 50);
      });
      s.resume(); // read the CONNACK, or 'close' waits for it to be consumed
      s.on('error', () => {});
      s.on('close', () => resolve());
    });
    const ws = await connect(t.wsUrl, { clientId: 'big-ws' });
    const closed = new Promise<void>((r) => ws.once('close', () => r()));
    ws.publish('vigil/v1/hub1/camera/big-ws/snapshot', Buffer.alloc(3 * 1024 * 1024), { qos: 0 });
    await closed;
    expect(await oversized()).toBe(before + 1);
    // Everyone else is unaffected.
    const ok = await connectDevice(t.mqttUrl, { site: 'hub9', kind: 'smoke', deviceId: 't-after-big' });
    await ok.publishAsync('vigil/v1/hub9/smoke/t-after-big/telemetry', JSON.stringify(valid.smoke.telemetry), { qos: 1 });
    expect(rec.of('t-after-big')).toHaveLength(1);
  });
});

describe('Last Will status', () => {
  it('an abrupt disconnect publishes the retained offline status, and the API shows the device offline', async () => {
    const a = { site: 'hub1', kind: 'door', deviceId: 't-door-lwt' };
    const dev = await connectDevice(t.mqttUrl, a);
    await dev.publishAsync(deviceTopic(a, 'status'), JSON.stringify({ online: true }), { qos: 1, retain: true });
    expect(t.gw.states.get(a.deviceId)).toMatchObject({ online: true, connected: true });
    const watcher = await collect(await connect(t.mqttUrl, { clientId: 'status-watch' }), deviceTopic(a, 'status'));
    await watcher.next((m) => JSON.parse(m.payload.toString()).online === true);
    dev.stream.destroy(); // power cut: no DISCONNECT packet
    const will = await watcher.next((m) => JSON.parse(m.payload.toString()).online === false);
    expect(JSON.parse(will.payload.toString())).toMatchObject({ online: false, reason: 'lwt' });
    await until(() => t.gw.states.get(a.deviceId)?.online === false, 'device offline in state');
    // A consumer connecting later still sees the last state: the will was retained.
    const late = await collect(await connect(t.mqttUrl, { clientId: 'late-watch' }), deviceTopic(a, 'status'));
    const retained = await late.next();
    expect(retained.retain).toBe(true);
    expect(JSON.parse(retained.payload.toString()).online).toBe(false);
    const api = (await (await fetch(`${t.httpUrl}/api/v1/devices/${a.deviceId}`)).json()) as Record<string, any>;
    expect(api).toMatchObject({ online: false, connected: false, status: { data: { online: false } } });
  });

  it('marks a device online at connect when its will names its status topic', async () => {
    const a = { site: 'hub1', kind: 'smoke', deviceId: 't-smoke-connect' };
    await connectDevice(t.mqttUrl, a);
    await until(() => t.gw.states.get(a.deviceId)?.online, 'online from will binding');
  });
});

describe('MQTT over WebSocket', () => {
  it('a browser-style client publishes and subscribes through /mqtt', async () => {
    const a = { site: 'hub1', kind: 'bodycam', deviceId: 't-ws-cam' };
    const consumer = await connect(t.wsUrl, { clientId: 'ws-consumer' });
    const events = await collect(consumer, 'vigil/v1/hub1/bodycam/+/event');
    const dev = await connectDevice(t.wsUrl, a);
    await dev.publishAsync(deviceTopic(a, 'event'), JSON.stringify(valid.bodycam.event), { qos: 1 });
    const m = await events.next();
    expect(JSON.parse(m.payload.toString())).toMatchObject({ type: 'sos' });
    expect(rec.of(a.deviceId)).toHaveLength(1);
  });
});
