/**
 * Micro-batching: feature vectors from many devices wait at most `maxWaitMs`, or until
 * `maxBatch` are queued, and run as one [N, F] tensor. onnxruntime-node runs `session.run`
 * on the JS thread, so one call for 32 windows costs about what one call for 1 does.
 */
import { Listeners } from '../../edge/listeners.ts';
import type { InferenceSession, Tensor } from 'onnxruntime-node';

export interface BatchStats {
  runs: number;
  inferences: number;
}

export class MicroBatcher {
  readonly #run: (input: Float32Array, n: number) => Promise<Float32Array>;
  readonly #features: number;
  readonly #maxBatch: number;
  readonly #maxWaitMs: number;
  #queue: { x: Float32Array; resolve: (v: number) => void; reject: (e: unknown) => void }[] = [];
  #timer?: NodeJS.Timeout;
  readonly stats: BatchStats = { runs: 0, inferences: 0 };
  /** Every batch run: its size, how long it took, its scores. */
  readonly batches = new Listeners<[n: number, ms: number, scores: Float32Array]>();

  constructor(run: (input: Float32Array, n: number) => Promise<Float32Array>, features: number, maxBatch: number, maxWaitMs: number) {
    this.#run = run;
    this.#features = features;
    this.#maxBatch = maxBatch;
    this.#maxWaitMs = maxWaitMs;
  }

  infer(x: Float32Array): Promise<number> {
    if (x.length !== this.#features) return Promise.reject(new Error(`expected ${this.#features} features, got ${x.length}`));
    return new Promise((resolve, reject) => {
      this.#queue.push({ x, resolve, reject });
      if (this.#queue.length >= this.#maxBatch) this.flush();
      else this.#timer ??= setTimeout(() => this.flush(), this.#maxWaitMs);
    });
  }

  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#queue.splice(0, this.#maxBatch);
    if (this.#queue.length) this.#timer = setTimeout(() => this.flush(), 0);
    if (!batch.length) return;
    const input = new Float32Array(batch.length * this.#features);
    batch.forEach((b, i) => input.set(b.x, i * this.#features));
    const t0 = performance.now();
    this.#run(input, batch.length).then(
      (scores) => {
        this.stats.runs++;
        this.stats.inferences += batch.length;
        this.batches.emit(batch.length, performance.now() - t0, scores);
        batch.forEach((b, i) => b.resolve(scores[i]!));
      },
      (err) => batch.forEach((b) => b.reject(err)),
    );
  }
}

/** `run` for a single-output model session. */
export function sessionRunner(session: InferenceSession, ort: { Tensor: typeof Tensor }, inputName: string, outputName: string, features: number) {
  return async (input: Float32Array, n: number): Promise<Float32Array> => {
    const out = await session.run({ [inputName]: new ort.Tensor('float32', input, [n, features]) });
    return out[outputName]!.data as Float32Array;
  };
}
