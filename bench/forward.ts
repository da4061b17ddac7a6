/**
 * Forwarding benchmark (`npm run bench`): how fast the spool accepts points (durable, fsync
 * group commit, as the pipeline uses it) and how fast a backlog drains to a real time-series
 * server after an outage, side by side with a baseline measured in the same run: the same
 * points written straight to the server with the same client, no spool.
 */
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InfluxDB } from '@influxdata/influxdb-client';
import { pino } from 'pino';
import { Forwarder } from '../gateway/forward/forwarder.ts';
import { Spool } from '../gateway/forward/spool.ts';
import type { Line } from '../gateway/forward/points.ts';
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
  const direct = new InfluxDB({ url: vm.url, token: 'x' }).getWriteApi('o', 'b', 'ms', { batchSize: 5001, flushInterval: 0, maxRetries: 0, gzipThreshold: 1024 });
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
  const fw = new Forwarder({ url: vm.url, org: 'o', bucket: 'b', token: 'x', timeoutMs: 30_000, batchLines: 5000, batchBytes: 2_000_000, gzipThreshold: 1024, minRetryMs: 100, maxRetryMs: 1000 }, spool, log, { written: () => {}, failed: () => {}, deadLettered: () => {} });
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

const r = (x: number) => Math.round(x).toLocaleString('en-US');
console.log(`\nforwarding benchmark: ${N.toLocaleString('en-US')} points, victoria-metrics on loopback, ${new Date().toISOString()}`);
console.log(`  baseline  direct write (client → server, no spool)      ${r(result['baseline_direct_write_points_per_s']!).padStart(10)} points/s`);
console.log(`  vigil     spool append, fsync'd before acknowledging   ${r(result['spool_durable_append_points_per_s']!).padStart(10)} points/s`);
console.log(`  vigil     catch-up drain of the spool to the server    ${r(result['spool_catch_up_drain_points_per_s']!).padStart(10)} points/s   (${(result['spool_catch_up_drain_points_per_s']! / result['baseline_direct_write_points_per_s']!).toFixed(2)} × baseline)`);
console.log(`  check     points found in the server after the drain   ${r(result['points_verified_in_server']!).padStart(10)} / ${N}`);
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/forward.json', JSON.stringify({ at: new Date().toISOString(), points: N, ...result }, null, 2) + '\n');
