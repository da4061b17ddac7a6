/** The shipped model, loaded the way the gateway loads it (manifest, sha256, onnxruntime), as a scorer. */
import ort from 'onnxruntime-node';
import { ModelStore, type LoadedModel } from '../../gateway/inference/models.ts';
import { MODELS_DIR } from './export.ts';

export async function loadShipped(id: string): Promise<{ model: LoadedModel; score: (f: number[]) => Promise<number>; close: () => Promise<void> }> {
  const store = new ModelStore(MODELS_DIR, { maxBatch: 1, maxWaitMs: 0 });
  const model = await store.reload(id);
  return { model, score: (f) => model.batcher.infer(Float32Array.from(f)), close: () => store.close() };
}

/** Scores many independent feature rows through the shipped model in batches of 1024 (one onnxruntime run each). */
export async function scoreAll(model: LoadedModel, rows: number[][]): Promise<Map<number[], number>> {
  const out = new Map<number[], number>();
  const f = model.manifest.input.features.length;
  for (let i = 0; i < rows.length; i += 1024) {
    const chunk = rows.slice(i, i + 1024);
    const res = await model.session.run({ [model.manifest.input.name]: new ort.Tensor('float32', Float32Array.from(chunk.flat()), [chunk.length, f]) });
    const scores = res[model.manifest.output.name]!.data as Float32Array;
    chunk.forEach((r, k) => out.set(r, scores[k]!));
  }
  return out;
}

/** Scores rows stored flat (`width` features each) through the shipped model in runs of 8192 rows: one score per row, in order. */
export async function scoreFlat(model: LoadedModel, features: Float32Array, width: number): Promise<Float32Array> {
  const n = features.length / width;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 8192) {
    const m = Math.min(8192, n - i);
    const res = await model.session.run({ [model.manifest.input.name]: new ort.Tensor('float32', features.slice(i * width, (i + m) * width), [m, width]) });
    out.set(res[model.manifest.output.name]!.data as Float32Array, i);
  }
  return out;
}
