/**
 * Load generator, run as its own process so it does not share the target's event loop.
 * Job (JSON file, argv[2]): { url, devices: [{deviceId, kind, site, username?, password?}], qos,
 * mode: 'closed' (each device keeps `window` publishes in flight: saturation) | 'open' (`rate`
 * messages/s in total, spread over the devices) | 'idle' (connect, then only keep-alives) |
 * 'fleet' (each device on its kind's real schedule, `fleetSchedule` below: the capacity figure),
 * durationMs, warmupMs, keepalive }.
 * Payloads are the simulators' own telemetry (simulators/*), with fresh ts and seq per message.
 * Prints one JSON line: { connected, connectMs, sent, acked, errors, inWindow, windowMs, latencyMs: sample }.
 */
import { readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import { deviceTopic, type DeviceKind } from '../../devices/index.ts';
import { createSim } from '../../simulators/fleet.ts';
import { SceneRenderer } from '../../simulators/scene.ts';

/**
 * What one device of each kind sends in the capacity run (issue #20): body cameras an IMU window a
 * second and a snapshot a minute; cameras their health every 10 s and a snapshot a minute; smoke
 * alarms a reading every 10 s; doors a passage a minute (access granted, opened, closed) and their
 * state at their reporting period.
 */
export const fleetSchedule: Record<DeviceKind, { telemetryS: number; snapshotS?: number; passageS?: number }> = {
  bodycam: { telemetryS: 1, snapshotS: 60 },
  camera: { telemetryS: 10, snapshotS: 60 },
  smoke: { telemetryS: 10 },
  door: { telemetryS: 60, passageS: 60 },
};

interface Job {
  url: string;
  devices: { deviceId: string; kind: DeviceKind; site: string; username?: string; password?: string }[];
  qos: 0 | 1;
  mode: 'closed' | 'open' | 'idle' | 'fleet';
  window?: number;
  rate?: number;
  durationMs: number;
  warmupMs: number;
  keepalive?: number;
}
const job = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Job;

// 20 bodies per device from its simulator (an IMU window, a smoke reading, a door state, a camera's health).
const bodies = new Map<string, string[]>();
for (const d of job.mode === 'idle' ? [] : job.devices) {
  const sim = createSim(d.kind, { url: '', site: d.site, deviceId: d.deviceId });
  bodies.set(
    d.deviceId,
    Array.from({ length: 20 }, () => JSON.stringify(sim.sample()).slice(1)),
  );
}

const statusTopic = (d: Job['devices'][number]) => deviceTopic({ site: d.site, kind: d.kind, deviceId: d.deviceId }, 'status');
const clients: { c: MqttClient; d: Job['devices'][number]; topic: string; seq: number }[] = [];
const t0 = Date.now();
let errors = 0;
const queue = [...job.devices];
await Promise.all(
  Array.from({ length: 50 }, async () => {
    for (let d = queue.shift(); d; d = queue.shift()) {
      try {
        const c = await mqtt.connectAsync(job.url, {
          clientId: d.deviceId,
          username: d.username,
          password: d.password,
          protocolVersion: 4,
          reconnectPeriod: 0,
          connectTimeout: 60_000,
          keepalive: job.keepalive ?? 30,
          clean: true,
          // As the simulators (and real devices) do: a Last Will, online once connected, a planned stop announced.
          will: { topic: statusTopic(d), payload: Buffer.from('{"online":false,"reason":"connection lost"}'), qos: 1, retain: true },
        });
        if (job.mode !== 'idle') await c.publishAsync(statusTopic(d), '{"online":true}', { qos: 1, retain: true });
        c.on('error', () => errors++);
        clients.push({ c, d, topic: deviceTopic({ site: d.site, kind: d.kind, deviceId: d.deviceId }, 'telemetry'), seq: 0 });
      } catch {
        errors++;
      }
    }
  }),
);
const connectMs = Date.now() - t0;
process.send?.({ connected: clients.length });

let sent = 0;
let acked = 0;
let inWindow = 0;
const latency: number[] = [];
let seen = 0;
const start = Date.now();
const windowStart = start + job.warmupMs;
const end = start + job.durationMs;
const payload = (x: (typeof clients)[number]) => {
  const b = bodies.get(x.d.deviceId)!;
  return `{"ts":${Date.now()},"seq":${x.seq++},${b[x.seq % b.length]}`;
};
const publish = async (x: (typeof clients)[number]) => {
  const t = performance.now();
  sent++;
  try {
    await x.c.publishAsync(x.topic, payload(x), { qos: job.qos });
    acked++;
    const now = Date.now();
    if (now >= windowStart && now < end) {
      inWindow++;
      // Reservoir sample of at most 10,000 ack latencies.
      if (job.qos === 1) {
        seen++;
        if (latency.length < 10_000) latency.push(performance.now() - t);
        else if (Math.random() < 10_000 / seen) latency[Math.floor(Math.random() * 10_000)] = performance.now() - t;
      }
    }
  } catch {
    errors++;
  }
};

if (job.mode === 'fleet') {
  // Eight real frames (rendered once), sent in turn by every camera and body camera.
  const scene = new SceneRenderer('bench-cam');
  const frames = await Promise.all(Array.from({ length: 8 }, (_, i) => scene.frame(i * 3)));
  const timers: NodeJS.Timeout[] = [];
  const every = (ms: number, fn: () => void) => {
    // A random phase per device and task: the fleet's load is spread, not synchronised.
    timers.push(setTimeout(() => (fn(), timers.push(setInterval(fn, ms))), Math.random() * ms));
  };
  const pending = new Set<Promise<void>>();
  const track = (x: (typeof clients)[number], topic: string, body: string | Buffer) => {
    sent++;
    const p = x.c.publishAsync(topic, body, { qos: 1 }).then(
      () => {
        acked++;
        const now = Date.now();
        if (now >= windowStart && now < end) inWindow++;
      },
      () => void errors++,
    );
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };
  let frame = 0;
  for (const x of clients) {
    const plan = fleetSchedule[x.d.kind];
    every(plan.telemetryS * 1000, () => track(x, x.topic, payload(x)));
    if (plan.snapshotS) every(plan.snapshotS * 1000, () => track(x, deviceTopic(x.d, 'snapshot'), frames[frame++ % frames.length]!));
    if (plan.passageS)
      every(plan.passageS * 1000, () => {
        const event = deviceTopic(x.d, 'event');
        track(x, event, `{"ts":${Date.now()},"type":"access_granted","credential":{"type":"card","id":"c-${x.seq}"},"direction":"in"}`);
        track(x, event, `{"ts":${Date.now()},"type":"door_opened"}`);
        timers.push(setTimeout(() => track(x, event, `{"ts":${Date.now()},"type":"door_closed"}`), 3000));
      });
  }
  await new Promise((r) => setTimeout(r, job.durationMs));
  for (const t of timers) clearTimeout(t);
  await Promise.race([Promise.all(pending), new Promise((r) => setTimeout(r, 5000))]);
} else if (job.mode === 'closed') {
  await Promise.all(
    clients.flatMap((x) =>
      Array.from({ length: job.window ?? 8 }, async () => {
        while (Date.now() < end) await publish(x);
      }),
    ),
  );
} else if (job.mode === 'open') {
  // Open loop: a fixed offered rate, whatever the target does (the way devices really behave).
  // What is owed follows the clock, not the number of ticks: a timer that fires late (a loaded
  // machine) must not lower the offered rate.
  const perMs = (job.rate ?? 1000) / 1000;
  let issued = 0;
  let i = 0;
  const pending = new Set<Promise<void>>();
  while (Date.now() < end) {
    const owed = Math.floor((Date.now() - start) * perMs) - issued;
    for (let k = 0; k < owed; k++) {
      issued++;
      const p = publish(clients[i++ % clients.length]!);
      pending.add(p);
      void p.finally(() => pending.delete(p));
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  await Promise.race([Promise.all(pending), new Promise((r) => setTimeout(r, 5000))]);
} else {
  await new Promise((r) => setTimeout(r, job.durationMs));
}
const windowMs = Math.min(Date.now(), end) - windowStart;
// A planned stop between phases, not an outage: no device_offline alert storm in the next phase.
await Promise.all(
  clients.map(async (x) => {
    if (job.mode !== 'idle') await x.c.publishAsync(statusTopic(x.d), '{"online":false,"reason":"shutdown"}', { qos: 1, retain: true }).catch(() => {});
    await x.c.endAsync().catch(() => {});
  }),
);
// stdout to a pipe is asynchronous: exit only once the line is written, or the parent never gets it.
process.stdout.write(JSON.stringify({ connected: clients.length, connectMs, sent, acked, errors, inWindow, windowMs, latencyMs: latency }) + '\n', () =>
  process.exit(0),
);
