/**
 * Inference benchmark (`npm run bench`): per shipped model, inferences/s and latency p50/p99
 * on this machine, unbatched (one `session.run` per window, the baseline) beside micro-batched
 * (the gateway's MicroBatcher, many devices' windows in flight), with real feature rows from
 * the evaluation data. Also the camera's sharp preprocessing per JPEG, which dominates its cost.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import ort from 'onnxruntime-node';
import { frameStats } from '../edge/features/camera.ts';
import { MicroBatcher, sessionRunner } from '../gateway/inference/batcher.ts';
import { quantile } from '../models/lib/metrics.ts';
import { loadShipped } from '../models/lib/shipped.ts';
import { loadSmokeCsv } from '../models/smoke-fire/data.ts';
import { featureRows } from '../models/smoke-fire/model.ts';
import { DEV_DATA } from '../models/smoke-fire/train.ts';
import { loadUpFall } from '../models/bodycam-man-down/data.ts';
import { trialFeatures } from '../models/bodycam-man-down/model.ts';
import { UPFALL } from '../models/bodycam-man-down/train.ts';
import { cameraStream } from '../models/camera-tamper/data.ts';
import { siteTraffic } from '../models/door-behaviour/data.ts';
import { SceneRenderer } from '../simulators/scene.ts';

const N = Number(process.env['BENCH_WINDOWS'] ?? 20_000);
const IN_FLIGHT = Number(process.env['BENCH_IN_FLIGHT'] ?? 256);

async function rowsFor(id: string): Promise<number[][]> {
  if (id === 'smoke-fire') return featureRows([...loadSmokeCsv(DEV_DATA).values()].flat().slice(0, 5000));
  if (id === 'bodycam-man-down')
    return loadUpFall(UPFALL)
      .slice(0, 20)
      .flatMap((t) => trialFeatures(t.views.belt));
  if (id === 'camera-tamper') return (await cameraStream('bench-cam', 40, 'bench')).map((f) => f.features);
  return siteTraffic('bench', 4, 3, 1, 'bench')
    .slice(0, 5000)
    .map((e) => e.features);
}

const stats = (ms: number[]) => ({ p50: quantile(ms, 0.5), p99: quantile(ms, 0.99) });
const results: Record<string, unknown> = {};
const table: string[][] = [];

for (const id of ['smoke-fire', 'bodycam-man-down', 'camera-tamper', 'door-behaviour']) {
  const { model, close } = await loadShipped(id);
  const rows = await rowsFor(id);
  const f = model.manifest.input.features.length;
  const input = (i: number) => Float32Array.from(rows[i % rows.length]!);
  const run = sessionRunner(model.session, ort, model.manifest.input.name, model.manifest.output.name, f);
  for (let i = 0; i < 500; i++) await run(input(i), 1); // warm-up

  // Baseline: one session.run per window, one after another.
  const single: number[] = [];
  let t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const t = performance.now();
    await run(input(i), 1);
    single.push(performance.now() - t);
  }
  const singleRate = N / ((performance.now() - t0) / 1000);

  // Micro-batched as in the gateway (maxBatch 32, maxWait 5 ms), IN_FLIGHT windows from many devices at a time.
  const batcher = new MicroBatcher(run, f, 32, 5);
  const lat: number[] = [];
  t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < N) {
        const i = next++;
        const t = performance.now();
        await batcher.infer(input(i));
        lat.push(performance.now() - t);
      }
    }),
  );
  const batchedRate = N / ((performance.now() - t0) / 1000);
  // The price of batching at low load: a lone window waits up to maxWaitMs for company.
  const lone: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    await batcher.infer(input(i));
    lone.push(performance.now() - t);
  }
  const l = stats(lone);
  const s = stats(single);
  const b = stats(lat);
  results[id] = { unbatched: { perS: singleRate, ...s }, batched: { perS: batchedRate, ...b }, loneWindowMs: l };
  table.push([
    id,
    Math.round(singleRate).toLocaleString('en'),
    `${s.p50.toFixed(3)} / ${s.p99.toFixed(3)}`,
    Math.round(batchedRate).toLocaleString('en'),
    `${b.p50.toFixed(2)} / ${b.p99.toFixed(2)}`,
    (batchedRate / singleRate).toFixed(1) + '×',
    `${l.p50.toFixed(2)} / ${l.p99.toFixed(2)}`,
  ]);
  await close();
}

// Camera preprocessing: sharp decode + scale + statistics, per 320×240 JPEG snapshot.
const scene = new SceneRenderer('bench-cam', 'bench');
const jpegs = await Promise.all(Array.from({ length: 20 }, (_, i) => scene.frame(i)));
const pre: number[] = [];
for (let i = 0; i < 400; i++) {
  const t = performance.now();
  await frameStats(jpegs[i % jpegs.length]!);
  pre.push(performance.now() - t);
}
const p = stats(pre);
results['camera_preprocess_ms'] = p;

console.log(`Inference, ${N.toLocaleString('en')} windows per model, ${IN_FLIGHT} in flight for the batched runs\n`);
console.log(
  '| model | unbatched windows/s | unbatched p50 / p99 ms | micro-batched windows/s | batched p50 / p99 ms (queue + run) | speed-up | a lone window, batched: p50 / p99 ms |',
);
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const r of table) console.log(`| ${r.join(' | ')} |`);
console.log(
  `\nCamera preprocessing (sharp: decode 320×240 JPEG, grey 160×120, statistics): p50 ${p.p50.toFixed(2)} ms, p99 ${p.p99.toFixed(2)} ms per snapshot`,
);
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(
  new URL('./results/inference.json', import.meta.url),
  JSON.stringify({ at: new Date().toISOString(), windows: N, inFlight: IN_FLIGHT, results }, null, 2),
);
