/**
 * Writes a trained detector as `models/<id>/model.onnx` + `manifest.json`, after checking that
 * onnxruntime computes from the exported graph what the trainer computed (to 1e-4) on real inputs.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { manifestSchema, type Manifest } from '../../edge/inference/manifest.ts';
import { buildMlp, sha256 } from './onnx-builder.ts';
import { predict, type Trained } from './train.ts';

export const MODELS_DIR = new URL('..', import.meta.url).pathname;

export async function exportModel(
  m: Trained,
  meta: Omit<Manifest, 'file' | 'sha256' | 'input' | 'normalisation' | 'output'> & { features: readonly string[]; windowS: number; meaning: string },
  check: number[][],
): Promise<Manifest> {
  const bytes = buildMlp({ name: meta.id, inputName: 'features', outputName: 'score', mean: m.mean, std: m.std, layers: m.layers });
  const manifest = manifestSchema.parse({
    id: meta.id,
    version: meta.version,
    kind: meta.kind,
    ...(meta.detector ? { detector: meta.detector } : {}),
    file: 'model.onnx',
    sha256: sha256(bytes),
    input: { name: 'features', features: [...meta.features], window: { seconds: meta.windowS } },
    normalisation: { mean: m.mean, std: m.std },
    output: { name: 'score', meaning: meta.meaning },
    thresholds: meta.thresholds,
    alertType: meta.alertType,
    training: meta.training,
  } satisfies Manifest);
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  const rows = check.slice(0, 256);
  const out = await session.run({ features: new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, meta.features.length]) });
  const got = out['score']!.data as Float32Array;
  rows.forEach((x, i) => {
    const want = predict(m, x);
    if (Math.abs(got[i]! - want) > 1e-4) throw new Error(`${meta.id}: ONNX gives ${got[i]} where the trainer gives ${want} for ${JSON.stringify(x)}`);
  });
  await session.release();
  const dir = join(MODELS_DIR, meta.id);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.onnx'), bytes);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}
