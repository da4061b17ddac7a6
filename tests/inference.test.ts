/** The inference engine: manifests and hashes, onnxruntime sessions, micro-batching, hot reload and rollback, rules-only fallback. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { buildMlp, sha256, type Dense } from '../models/lib/onnx-builder.ts';
import { smokeFeatureNames } from '../edge/features/smoke.ts';
import type { Manifest } from '../edge/inference/manifest.ts';
import { closeAll, connect, getJson, scrape, startTestGateway, type TestGateway, until } from './helpers/gateway.ts';

// Toy models over the smoke detector's own features (a model whose features differ from its kind's detector is refused).
const features = [...smokeFeatureNames];
const mean = [0, 1, 0, 2, 0, 0.5];
const std = [2, 10, 3, 5, 0.5, 0.5];
const pad = (w: number[]) => [...w, ...Array(6 - w.length).fill(0)];

function writeModel(dir: string, id: string, version: string, layers: Dense[], opts: { bytes?: Uint8Array; sha?: string; detector?: string } = {}) {
  const bytes = opts.bytes ?? buildMlp({ name: id, inputName: 'features', outputName: 'score', mean, std, layers });
  const manifest: Manifest = {
    id,
    version,
    kind: 'smoke',
    ...(opts.detector ? { detector: opts.detector } : {}),
    file: 'model.onnx',
    sha256: opts.sha ?? sha256(bytes),
    input: { name: 'features', features, window: { seconds: 60 } },
    normalisation: { mean, std },
    output: { name: 'score', meaning: 'probability of fire' },
    thresholds: { alert: 0.8, clear: 0.3 },
    alertType: 'fire',
  };
  mkdirSync(join(dir, id), { recursive: true });
  writeFileSync(join(dir, id, 'model.onnx'), bytes);
  writeFileSync(join(dir, id, 'manifest.json'), JSON.stringify(manifest, null, 2));
}

const lr = (w: number[], b: number): Dense[] => [{ weights: pad(w).map((x) => [x]), bias: [b] }];
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
const expectedLr = (x: number[], w: number[], b: number) => sigmoid(x.reduce((a, v, i) => a + ((v - mean[i]!) / std[i]!) * w[i]!, b));

const dir = mkdtempSync(join(tmpdir(), 'vigil-models-'));
let t: TestGateway;
beforeAll(async () => {
  writeModel(dir, 'toy-fire', '1.0.0', lr([1.5, -0.5, 2], -1));
  writeModel(dir, 'toy-bad-hash', '1.0.0', lr([1, 1, 1], 0), { sha: 'a'.repeat(64) });
  t = await startTestGateway({ inference: { modelsDir: dir, maxBatch: 16, maxWaitMs: 5 } });
});
afterAll(async () => {
  await closeAll();
  await t.stop();
});

describe('inference engine', () => {
  it('loads models whose file matches the manifest hash, and scores what the graph computes', async () => {
    const models = await getJson<{ models: { id: string; version: string }[]; problems: { id: string; error: string }[] }>(`${t.httpUrl}/api/v1/models`);
    expect(models.body.models.map((m) => `${m.id}@${m.version}`)).toEqual(['toy-fire@1.0.0']);
    expect(models.body.problems).toEqual([expect.objectContaining({ id: 'toy-bad-hash', error: expect.stringMatching(/sha256 mismatch/) })]);
    const [m] = t.gw.models.forKind('smoke');
    const x = [3, 20, -1, 4, 0.8, 1.2];
    expect(await m!.batcher.infer(Float32Array.from(x))).toBeCloseTo(expectedLr(x, pad([1.5, -0.5, 2]), -1), 5);
    const metrics = await scrape(`${t.httpUrl}`);
    expect(metrics).toMatch(/vigil_model_load_failures_total\{model="toy-bad-hash"\} 1/);
    expect(metrics).toMatch(/vigil_models_loaded 1/);
  });

  it('micro-batches concurrent windows into few runs, each answer still its own', async () => {
    const m = t.gw.models.forKind('smoke')[0]!;
    const before = { ...m.batcher.stats };
    const xs = Array.from({ length: 100 }, (_, i) => [i / 10, 30 + (i % 40), (i % 7) / 3, 1, 0.1 * (i % 5), 0.2]);
    const scores = await Promise.all(xs.map((x) => m.batcher.infer(Float32Array.from(x))));
    scores.forEach((s, i) => expect(s).toBeCloseTo(expectedLr(xs[i]!, pad([1.5, -0.5, 2]), -1), 5));
    expect(m.batcher.stats.inferences - before.inferences).toBe(100);
    expect(m.batcher.stats.runs - before.runs).toBeLessThanOrEqual(7); // 100 windows in batches of 16
  });

  // The tests below change models on disk: each has its own directory and gateway, so any order gives the same answers.
  it('hot reload switches to a new version; a model that fails to load is rolled back (the old one keeps serving)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-reload-'));
    writeModel(dir, 'toy-fire', '1.0.0', lr([1.5, -0.5, 2], -1));
    const t = await startTestGateway({ inference: { modelsDir: dir, maxBatch: 16, maxWaitMs: 5 } });
    onTestFinished(() => t.stop());
    const admin = await t.gw.security.registry.addPrincipal({ id: 'ml-admin', role: 'admin', sites: ['*'] }, { id: 'test' });
    const reload = (id: string) => fetch(`${t.httpUrl}/api/v1/models/${id}/reload`, { method: 'POST', headers: { authorization: `Bearer ${admin.token}` } });
    writeModel(dir, 'toy-fire', '1.1.0', lr([0.5, 0, 0], 0));
    const ok = await reload('toy-fire');
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ id: 'toy-fire', version: '1.1.0' });
    const x = [3, 20, -1, 4, 0.8, 1.2];
    expect(await t.gw.models.forKind('smoke')[0]!.batcher.infer(Float32Array.from(x))).toBeCloseTo(expectedLr(x, pad([0.5]), 0), 5);
    const garbage = Buffer.from('not an onnx model at all');
    writeModel(dir, 'toy-fire', '1.2.0', lr([0, 0, 0], 0), { bytes: garbage });
    const bad = await reload('toy-fire');
    expect(bad.status).toBe(409);
    expect(((await bad.json()) as { message: string }).message).toMatch(/still serving version 1\.1\.0/);
    expect(t.gw.models.forKind('smoke')[0]!.manifest.version).toBe('1.1.0');
    expect(await t.gw.models.forKind('smoke')[0]!.batcher.infer(Float32Array.from(x))).toBeCloseTo(expectedLr(x, pad([0.5]), 0), 5);
    expect(t.gw.security.audit.query({ action: 'model.reload', limit: 10 }).map((r) => r.outcome)).toEqual(['ok', 'failed']);
  });

  it('builds multi-layer models (ReLU between dense layers)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-mlp-'));
    const t = await startTestGateway({ inference: { modelsDir: dir } });
    onTestFinished(() => t.stop());
    writeModel(dir, 'toy-mlp', '1.0.0', [
      {
        weights: [
          [1, -1],
          [0, 1],
          [2, 0],
          [0, 0],
          [0, 0],
          [0, 0],
        ],
        bias: [0, 0.5],
      },
      { weights: [[1], [-1]], bias: [0.25] },
    ]);
    const m = await t.gw.reloadModel('toy-mlp');
    const x = [2.4, 55, 0.7, 0, 0, 0];
    const h = [0, 1].map((j) =>
      Math.max(
        0,
        [
          [1, -1],
          [0, 1],
          [2, 0],
        ].reduce((a, w, i) => a + ((x[i]! - mean[i]!) / std[i]!) * w[j]!, [0, 0.5][j]!),
      ),
    );
    expect(await m.batcher.infer(Float32Array.from(x))).toBeCloseTo(sigmoid(h[0]! - h[1]! + 0.25), 5);
  });
});

describe('models and their detectors', () => {
  it('several models may serve one kind, each naming its detector; a detector of another kind is refused', async () => {
    const d = mkdtempSync(join(tmpdir(), 'vigil-two-models-'));
    writeModel(d, 'smoke-a', '1.0.0', lr([1.5, -0.5, 2], -1)); // no detector named: its kind's
    writeModel(d, 'smoke-b', '1.0.0', lr([0.5, 0, 1], 0), { detector: 'smoke' });
    writeModel(d, 'smoke-wrong', '1.0.0', lr([1], 0), { detector: 'man-down' });
    const g = await startTestGateway({ inference: { modelsDir: d, maxWaitMs: 0 } });
    try {
      expect(
        g.gw.models
          .forKind('smoke')
          .map((m) => m.manifest.id)
          .sort(),
      ).toEqual(['smoke-a', 'smoke-b', 'smoke-wrong']);
      expect(g.gw.detectors.mismatched.get('smoke-wrong')).toBe('detector "man-down" reads bodycam devices, the model is for smoke');
      const c = await connect(g.mqttUrl, { clientId: 'two-smoke-1' });
      for (let i = 0; i < 3; i++) {
        await c.publishAsync(
          'vigil/v1/two/smoke/two-smoke-1/telemetry',
          JSON.stringify({ temperature_c: 21 + i, humidity_pct: 40, eco2_ppm: 450, obscuration_pct_m: 0 }),
          { qos: 1 },
        );
      }
      await g.gw.detectors.idle();
      const runs = Object.fromEntries(g.gw.models.models.map((m) => [m.manifest.id, m.batcher.stats.inferences]));
      expect(runs['smoke-a']).toBeGreaterThan(0);
      expect(runs['smoke-b']).toBeGreaterThan(0);
      expect(runs['smoke-wrong']).toBe(0);
    } finally {
      await g.stop();
    }
  });

  it("a model whose features are not the ones its kind's detector computes is refused, and says why", async () => {
    const d = mkdtempSync(join(tmpdir(), 'vigil-mismatch-'));
    const bytes = buildMlp({
      name: 'odd',
      inputName: 'features',
      outputName: 'score',
      mean: [0, 0, 0],
      std: [1, 1, 1],
      layers: [{ weights: [[1], [1], [1]], bias: [0] }],
    });
    mkdirSync(join(d, 'odd-smoke'));
    writeFileSync(join(d, 'odd-smoke', 'model.onnx'), bytes);
    writeFileSync(
      join(d, 'odd-smoke', 'manifest.json'),
      JSON.stringify({
        id: 'odd-smoke',
        version: '1.0.0',
        kind: 'smoke',
        file: 'model.onnx',
        sha256: sha256(bytes),
        input: { name: 'features', features: ['temperature_c', 'humidity_pct', 'eco2_ppm'], window: { seconds: 10 } },
        normalisation: { mean: [0, 0, 0], std: [1, 1, 1] },
        output: { name: 'score', meaning: 'x' },
        thresholds: { alert: 0.9, clear: 0.5 },
        alertType: 'fire',
      }),
    );
    const g = await startTestGateway({ inference: { modelsDir: d } });
    try {
      expect(g.gw.detectors.mismatched.get('odd-smoke')).toMatch(/features \[temperature_c,humidity_pct,eco2_ppm\] are not the detector's \[temp_rise_60s_c,/);
      const models = await getJson<{ problems: { id: string; error: string }[] }>(`${g.httpUrl}/api/v1/models`);
      expect(models.body.problems).toEqual([expect.objectContaining({ id: 'odd-smoke', error: expect.stringMatching(/are not the detector's/) })]);
      const c = await connect(g.mqttUrl, { clientId: 'mm-smoke-1' });
      await c.publishAsync(
        'vigil/v1/mm/smoke/mm-smoke-1/telemetry',
        JSON.stringify({ temperature_c: 80, humidity_pct: 10, eco2_ppm: 30000, obscuration_pct_m: 0 }),
        { qos: 1 },
      );
      await g.gw.detectors.idle();
      expect(g.gw.models.models[0]!.batcher.stats.inferences).toBe(0);
    } finally {
      await g.stop();
    }
  });

  it('training is deterministic, and the exported graph computes what the trainer computed', async () => {
    const { train, predict } = await import('../models/lib/train.ts');
    const { Rng } = await import('../simulators/random.ts');
    const rng = new Rng('t');
    const x = Array.from({ length: 400 }, () => [rng.gauss(0, 1), rng.gauss(5, 2), rng.gauss(-1, 0.5)]);
    const y = x.map((r) => (r[0]! + 0.5 * (r[1]! - 5) > 0.3 ? 1 : 0));
    const a = train({ x, y }, { hidden: [4], epochs: 20, seed: 's' });
    const b = train({ x, y }, { hidden: [4], epochs: 20, seed: 's' });
    const bytes = (m: typeof a) => buildMlp({ name: 't', inputName: 'features', outputName: 'score', mean: m.mean, std: m.std, layers: m.layers });
    expect(sha256(bytes(a))).toBe(sha256(bytes(b)));
    // It learned the rule (a held-in sanity check, not a benchmark).
    expect(x.filter((r, i) => (predict(a, r) >= 0.5 ? 1 : 0) === y[i]).length / x.length).toBeGreaterThan(0.9);
    const ort = (await import('onnxruntime-node')).default;
    const session = await ort.InferenceSession.create(bytes(a));
    const out = await session.run({ features: new ort.Tensor('float32', Float32Array.from(x.slice(0, 50).flat()), [50, 3]) });
    const got = out['score']!.data as Float32Array;
    x.slice(0, 50).forEach((r, i) => expect(got[i]).toBeCloseTo(predict(a, r), 4));
    await session.release();
  });
});

describe('without models', () => {
  it('a gateway with no loadable model runs on its rules alone and says so in /readyz', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'vigil-nomodels-'));
    writeModel(empty, 'broken', '1.0.0', lr([1, 1, 1], 0), { bytes: Buffer.from('corrupt'), sha: sha256(Buffer.from('corrupt')) });
    const g = await startTestGateway({ inference: { modelsDir: empty } });
    try {
      const ready = await getJson<{ ready: boolean; checks: { inference: { ok: boolean; detail: string } } }>(`${g.httpUrl}/readyz`);
      expect(ready.body.ready).toBe(true);
      expect(ready.body.checks.inference.detail).toMatch(/^no models loaded: running on rules alone \(broken: /);
      const d = await connect(g.mqttUrl, { clientId: 'nm-door-1' });
      await d.publishAsync('vigil/v1/nm/door/nm-door-1/event', JSON.stringify({ type: 'forced_open' }), { qos: 1 });
      await until(() => g.gw.alerts.store.query({ site: 'nm', type: 'forced_entry' }).length === 1, 'rule alert without models');
    } finally {
      await g.stop();
    }
  });
});
