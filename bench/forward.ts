/**
 * Forwarding benchmark (`npm run bench`): how fast the spool accepts points (durable, fsync
 * group commit, as the pipeline uses it) and how fast a backlog drains to a real time-series
 * server after an outage, side by side with a baseline measured in the same run: the same
 * points written straight to the server with the same client, no spool.
 * Then the same for the central MQTT uplink (Debian's Mosquitto): an hour's backlog of messages
 * drained by one box against MQTT.js publishing straight to the broker, and three boxes draining
 * at once, counted as the centre receives them.
 */
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InfluxDB } from '@influxdata/influxdb-client';
import { pino } from 'pino';
import { Forwarder } from '../gateway/forward/forwarder.ts';
import { Spool } from '../gateway/forward/spool.ts';
import type { Line } from '../gateway/forward/points.ts';
import mqtt from 'mqtt';
import { MqttUplink, centralRow } from '../gateway/forward/mqtt-uplink.ts';
import { CentralBroker } from '../scripts/central-broker.ts';
import { Victoria } from '../scripts/victoria.ts';

const N = Number(process.env['BENCH_POINTS'] ?? 100_000);
const devices = 500;
const t0 = Date.now() - 3_600_000;
const lines: Line[] = Array.from({ length: N }, (_, i) => ({
  cls: 'telemetry',
  ts: t0 + i,
  line: `smoke,site=hub${i % 4},zone=z${i % 20},kind=smoke,device=smoke-${i % devices} temperature_c=${(21 + (i % 50) / 10).toFixed(1)},humidity_pct=41.5,eco2_ppm=${420 + (i % 300)},obscuration_pct_m=0.02,battery_pct=87 ${t0 + i}`,
}));

const vm = await Victoria.start();
const log = pino({ level: 'silent' });
const result: Record<string, number> = {};
try {
  // Baseline: the server's own ingest rate through the same client, 5000-point batches, no spool.
  const direct = new InfluxDB({ url: vm.url, token: 'x' }).getWriteApi('o', 'b', 'ms', {
    batchSize: 5001,
    flushInterval: 0,
    maxRetries: 0,
    gzipThreshold: 1024,
  });
  let t = performance.now();
  for (let i = 0; i < N; i += 5000) {
    direct.writeRecords(lines.slice(i, i + 5000).map((l) => l.line.replace('smoke,', 'baseline,')));
    await direct.flush();
  }
  await direct.close();
  result['baseline_direct_write_points_per_s'] = N / ((performance.now() - t) / 1000);

  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-'));
  const spool = new Spool({ file: join(dir, 'spool.db'), maxBytes: 1e10, maxAgeMs: 1e12, durability: 'fsync', deadLetterFile: join(dir, 'dead.jsonl') });
  // Spool write rate as the pipeline drives it: one append per message, many in flight at once.
  t = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < N; i++) {
    pending.push(spool.append([lines[i]!]));
    if (pending.length >= 1000) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  result['spool_durable_append_points_per_s'] = N / ((performance.now() - t) / 1000);

  // Catch-up: the backlog drains to the server after the outage.
  const fw = new Forwarder(
    {
      url: vm.url,
      org: 'o',
      bucket: 'b',
      token: 'x',
      timeoutMs: 30_000,
      batchLines: 5000,
      batchBytes: 2_000_000,
      gzipThreshold: 1024,
      minRetryMs: 100,
      maxRetryMs: 1000,
    },
    spool,
    log,
    { written: () => {}, failed: () => {}, deadLettered: () => {} },
  );
  t = performance.now();
  fw.start();
  while (spool.depth > 0) await new Promise((r) => setTimeout(r, 20));
  result['spool_catch_up_drain_points_per_s'] = N / ((performance.now() - t) / 1000);
  await fw.stop();
  spool.close();
  const written = await vm.samples('smoke_eco2_ppm');
  result['points_verified_in_server'] = written;
} finally {
  await vm.stop();
}

// The central MQTT uplink. An hour of backlog for a busy box: 10 body cameras' positions every 2 s
// (forward.mqtt.telemetry = ["bodycam"]) plus its alert traffic, ~18,000 messages.
const M = Number(process.env['BENCH_CENTRAL_MESSAGES'] ?? 18_000);
const users: Record<string, string> = { 'box-0': 'p0', 'box-1': 'p1', 'box-2': 'p2', 'box-3': 'p3', 'centre-ops': 'po' };
const broker = await CentralBroker.start(users);
try {
  const centre = await mqtt.connectAsync(broker.url, { clientId: 'bench-centre', username: 'centre-ops', password: 'po', protocolVersion: 4 });
  let seen = 0;
  centre.on('message', () => seen++);
  await centre.subscribeAsync('vigil-central/v1/+/telemetry/#', { qos: 1 });
  const payload = (i: number) => ({ ts: t0 + i * 200, gps: { lat: 51.5 + (i % 100) / 1e4, lon: -0.12, accuracy_m: 4 }, recording: true, battery_pct: 80 });
  const waitSeen = async (n: number) => {
    while (seen < n) await new Promise((r) => setTimeout(r, 10));
  };
  // Baseline: MQTT.js straight to the broker, QoS 1, 500 in flight.
  const direct = await mqtt.connectAsync(broker.url, { clientId: 'box-1', username: 'box-1', password: 'p1', protocolVersion: 4 });
  let t = performance.now();
  for (let i = 0; i < M; i += 500)
    await Promise.all(
      Array.from({ length: Math.min(500, M - i) }, (_, k) =>
        direct.publishAsync(`vigil-central/v1/box-1/telemetry/hub1/bodycam/b${(i + k) % 10}`, JSON.stringify(payload(i + k)), { qos: 1 }),
      ),
    );
  result['central_baseline_direct_publish_msgs_per_s'] = M / ((performance.now() - t) / 1000);
  await direct.endAsync();
  await waitSeen(M);
  // One box drains its backlog from the spool; then three boxes at once.
  const boxes = await Promise.all(
    ['box-0', 'box-1', 'box-2', 'box-3'].map(async (box) => {
      const dir = mkdtempSync(join(tmpdir(), `vigil-bench-${box}-`));
      const spool = new Spool({ file: join(dir, 'spool.db'), maxBytes: 1e10, maxAgeMs: 1e12, durability: 'fsync', deadLetterFile: join(dir, 'dead.jsonl') });
      const rows: Line[] = Array.from({ length: M }, (_, i) => ({
        cls: 'telemetry',
        ts: t0 + i,
        target: 'central',
        line: centralRow(`telemetry/hub1/bodycam/b${i % 10}`, payload(i)),
      }));
      for (let i = 0; i < M; i += 5000) await spool.append(rows.slice(i, i + 5000));
      const up = new MqttUplink(
        { url: broker.url, gatewayId: box, prefix: 'vigil-central/v1', username: box, password: users[box], reconnectMs: 1000, keepaliveS: 30, batch: 500 },
        spool,
        log,
        () => ({ ok: false, error: 'bench' }),
      );
      return { box, spool, up };
    }),
  );
  const drain = async (bs: typeof boxes) => {
    const start = seen;
    const t1 = performance.now();
    for (const b of bs) b.up.start();
    while (bs.some((b) => b.spool.depthOf('central') > 0)) await new Promise((r) => setTimeout(r, 10));
    await waitSeen(start + bs.length * M);
    return (bs.length * M) / ((performance.now() - t1) / 1000);
  };
  result['central_catch_up_one_box_msgs_per_s'] = await drain(boxes.slice(0, 1));
  result['central_catch_up_three_boxes_received_msgs_per_s'] = await drain(boxes.slice(1));
  result['central_messages_verified'] = seen;
  for (const b of boxes) {
    await b.up.stop();
    b.spool.close();
  }
  await centre.endAsync();
} finally {
  await broker.stop();
}

const r = (x: number) => Math.round(x).toLocaleString('en-US');
console.log(`\nforwarding benchmark: ${N.toLocaleString('en-US')} points, victoria-metrics on loopback, ${new Date().toISOString()}`);
console.log(`  baseline  direct write (client → server, no spool)      ${r(result['baseline_direct_write_points_per_s']!).padStart(10)} points/s`);
console.log(`  vigil     spool append, fsync'd before acknowledging   ${r(result['spool_durable_append_points_per_s']!).padStart(10)} points/s`);
console.log(
  `  vigil     catch-up drain of the spool to the server    ${r(result['spool_catch_up_drain_points_per_s']!).padStart(10)} points/s   (${(result['spool_catch_up_drain_points_per_s']! / result['baseline_direct_write_points_per_s']!).toFixed(2)} × baseline)`,
);
console.log(`  check     points found in the server after the drain   ${r(result['points_verified_in_server']!).padStart(10)} / ${N}`);
console.log(`\ncentral MQTT uplink: ${M.toLocaleString('en-US')} messages per box (an hour of backlog), Debian Mosquitto on loopback, QoS 1`);
console.log(`  baseline  MQTT.js publishing straight to the broker    ${r(result['central_baseline_direct_publish_msgs_per_s']!).padStart(10)} msgs/s`);
console.log(
  `  vigil     one box draining its spool to the broker     ${r(result['central_catch_up_one_box_msgs_per_s']!).padStart(10)} msgs/s   (${(result['central_catch_up_one_box_msgs_per_s']! / result['central_baseline_direct_publish_msgs_per_s']!).toFixed(2)} × baseline)`,
);
console.log(`  vigil     three boxes at once, received by the centre  ${r(result['central_catch_up_three_boxes_received_msgs_per_s']!).padStart(10)} msgs/s`);
console.log(`  check     messages received by the centre              ${r(result['central_messages_verified']!).padStart(10)} / ${5 * M}`);
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/forward.json', JSON.stringify({ at: new Date().toISOString(), points: N, ...result }, null, 2) + '\n');
