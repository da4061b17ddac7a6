/**
 * Loaded models, one current version per model id: manifest validated, file hash verified,
 * an onnxruntime session with options for small models (one intra-op thread, full graph
 * optimisation). A reload loads the new version beside the running one and switches only
 * when it loaded: a model that fails to load is reported and the previous version keeps
 * serving (rollback). No model at all means the gateway runs on its rules alone.
 */
import { Listeners } from '../../edge/listeners.ts';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { manifestSchema, type Manifest } from '../../edge/inference/manifest.ts';
import { MicroBatcher, sessionRunner } from './batcher.ts';

export interface LoadedModel {
  manifest: Manifest;
  session: ort.InferenceSession;
  batcher: MicroBatcher;
  loadedAt: number;
}

export interface ModelProblem {
  id: string;
  at: number;
  error: string;
}

export interface BatchOptions {
  maxBatch: number;
  maxWaitMs: number;
}

export class ModelStore {
  readonly #dir: string;
  readonly #batch: BatchOptions;
  readonly #models = new Map<string, LoadedModel>();
  readonly problems: ModelProblem[] = [];
  /** Every model (version) that loaded. */
  readonly loaded = new Listeners<[m: LoadedModel]>();

  constructor(dir: string, batch: BatchOptions) {
    this.#dir = dir;
    this.#batch = batch;
  }

  get models(): LoadedModel[] {
    return [...this.#models.values()];
  }

  forKind(kind: string): LoadedModel[] {
    return this.models.filter((m) => m.manifest.kind === kind);
  }

  /** Every `<dir>/<id>/manifest.json`; returns what loaded. Problems are kept in `problems`. */
  async loadAll(): Promise<LoadedModel[]> {
    if (!existsSync(this.#dir)) return [];
    const ids = readdirSync(this.#dir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(join(this.#dir, d.name, 'manifest.json')))
      .map((d) => d.name);
    const out: LoadedModel[] = [];
    for (const id of ids) {
      const m = await this.reload(id).catch(() => undefined);
      if (m) out.push(m);
    }
    return out;
  }

  /** Load (or hot-reload) one model; on failure the running version, if any, stays. */
  async reload(id: string): Promise<LoadedModel> {
    try {
      const dir = join(this.#dir, id);
      const manifest = manifestSchema.parse(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')));
      if (manifest.id !== id) throw new Error(`manifest id "${manifest.id}" does not match its directory "${id}"`);
      const bytes = readFileSync(join(dir, manifest.file));
      const hash = createHash('sha256').update(bytes).digest('hex');
      if (hash !== manifest.sha256) throw new Error(`sha256 mismatch: manifest says ${manifest.sha256.slice(0, 12)}…, file is ${hash.slice(0, 12)}…`);
      const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
      if (!session.inputNames.includes(manifest.input.name) || !session.outputNames.includes(manifest.output.name)) {
        throw new Error(`model inputs/outputs (${session.inputNames.join(',')} → ${session.outputNames.join(',')}) do not match the manifest`);
      }
      const f = manifest.input.features.length;
      const batcher = new MicroBatcher(
        sessionRunner(session, ort, manifest.input.name, manifest.output.name, f),
        f,
        this.#batch.maxBatch,
        this.#batch.maxWaitMs,
      );
      const loaded: LoadedModel = { manifest, session, batcher, loadedAt: Date.now() };
      const previous = this.#models.get(id);
      this.#models.set(id, loaded);
      // Requests already queued on the old version finish there; the old session is released after.
      if (previous) setTimeout(() => void previous.session.release().catch(() => {}), 1000).unref();
      this.loaded.emit(loaded);
      return loaded;
    } catch (err) {
      const error = err instanceof Error ? err.message.split('\n')[0]! : String(err);
      this.problems.push({ id, at: Date.now(), error });
      if (this.problems.length > 50) this.problems.shift();
      throw new Error(`model ${id}: ${error}${this.#models.has(id) ? ` (still serving version ${this.#models.get(id)!.manifest.version})` : ''}`);
    }
  }

  async close(): Promise<void> {
    for (const m of this.#models.values()) await m.session.release().catch(() => {});
    this.#models.clear();
  }
}
