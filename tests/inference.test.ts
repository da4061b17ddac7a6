/** The inference engine: manifests and hashes, onnxruntime sessions, micro-batching, hot reload and rollback, rules-only fallback. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildMlp, sha256, type Dense } from '../models/lib/onnx-builder.ts';
import { smokeFeatureNames } from '../edge/features/smoke.ts';
import type { Manifest } from '../edge/inference/manifest.ts';
import { closeAll, connect, getJson, startTestGateway, until, type TestGateway } from './helpers/gateway.ts';

// Toy models over the smoke detector's own features (a model whose features differ from its kind's detector is refused).
const features = [...smokeFeatureNames];
const mean = [0, 1, 0, 2, 0, 0.5];
const std = [2, 10, 3, 5, 0.5, 0.5];
const pad = (w: number[]) => [...w, ...Array(6 - w.length).fill(0)];

function writeModel(dir: string, id: string, version: string, layers: Dense[], opts: { bytes?: Uint8Array; sha?: string } = {}) {
  const bytes = opts.bytes ?? buildMlp({ name: id, inputName: 'features', outputName: 'score', mean, std, layers });
  const manifest: Manifest = {
    id, version, kind: 'smoke', file: 'model.onnx', sha256: opts.sha ?? sha256(bytes),
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
    const metrics = await (await fetch(`${t.httpUrl}/metrics`)).text();
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

  it('hot reload switches to a new version; a model that fails to load is rolled back (the old one keeps serving)', async () => {
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
    writeModel(dir, 'toy-mlp', '1.0.0', [
      { weights: [[1, -1], [0, 1], [2, 0], [0, 0], [0, 0], [0, 0]], bias: [0, 0.5] },
      { weights: [[1], [-1]], bias: [0.25] },
    ]);
    const m = await t.gw.reloadModel('toy-mlp');
    const x = [2.4, 55, 0.7, 0, 0, 0];
    const h = [0, 1].map((j) => Math.max(0, [[1, -1], [0, 1], [2, 0]].reduce((a, w, i) => a + ((x[i]! - mean[i]!) / std[i]!) * w[j]!, [0, 0.5][j]!)));
    expect(await m.batcher.infer(Float32Array.from(x))).toBeCloseTo(sigmoid(h[0]! - h[1]! + 0.25), 5);
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
