/** The shipped model, loaded the way the gateway loads it (manifest, sha256, onnxruntime), as a scorer. */
import { ModelStore, type LoadedModel } from '../../edge/inference/models.ts';
import { MODELS_DIR } from './export.ts';

export async function loadShipped(id: string): Promise<{ model: LoadedModel; score: (f: number[]) => Promise<number>; close: () => Promise<void> }> {
  const store = new ModelStore(MODELS_DIR, { maxBatch: 1, maxWaitMs: 0 });
  const model = await store.reload(id);
  return { model, score: (f) => model.batcher.infer(Float32Array.from(f)), close: () => store.close() };
}
