/**
 * Inference feature: the models on disk (gateway/inference/models.ts: manifests, hashes,
 * onnxruntime sessions), the detector pipeline stage that scores device windows with them
 * (edge/inference/stage.ts), and checkpoints of what the detectors learned (./checkpoints.ts).
 * Start restores learned state before any device connects; stop saves it and releases the sessions.
 */
import type { GatewayConfig } from '../config.ts';
import type { Db } from '../db.ts';
import type { Feature } from '../feature.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Condition } from '../../edge/alerts/model.ts';
import { DetectorStage } from '../../edge/inference/stage.ts';
import type { Places } from '../../edge/inference/detectors.ts';
import { DetectorCheckpoints } from './checkpoints.ts';
import { ModelStore, type LoadedModel } from './models.ts';

export interface InferenceDeps {
  config: GatewayConfig['inference'];
  db: Db;
  log: Logger;
  metrics: Metrics;
  /** Where the detectors' verdicts go (the alert pipeline). */
  signal: (c: Condition) => void;
  /** Zones of the sites, for detectors of places (a zone's crowd). */
  places?: Places;
  now?: () => number;
}

export class Inference implements Feature {
  readonly name = 'inference';
  readonly models: ModelStore;
  readonly detectors: DetectorStage;
  readonly checkpoints: DetectorCheckpoints;
  readonly #deps: InferenceDeps;

  constructor(deps: InferenceDeps) {
    this.#deps = deps;
    const { config: c, metrics, log } = deps;
    this.models = new ModelStore(c.modelsDir, { maxBatch: c.maxBatch, maxWaitMs: c.maxWaitMs });
    this.detectors = new DetectorStage(
      this.models,
      deps.signal,
      {
        onError: (model, err) => {
          metrics.stageErrors.inc({ stage: `detector:${model}` });
          log.error({ model, err }, 'detector failed on a window');
        },
      },
      { maxQueue: c.maxQueuePerDevice, ...(deps.places ? { places: deps.places } : {}) },
    );
    this.detectors.onDecision((model, cond) => {
      metrics.modelDetections.inc({ model, type: cond.type, change: cond.active ? 'raise' : 'clear' });
      log.info({ model, device: cond.deviceId, type: cond.type, active: cond.active, reason: cond.reason }, 'detector decision');
    });
    this.checkpoints = new DetectorCheckpoints(deps.db, this.detectors, log.child({ module: 'detector-state' }), deps.now);
    this.models.loaded.on((m) => this.#loaded(m));
  }

  #loaded(m: LoadedModel): void {
    const { metrics, log } = this.#deps;
    const id = m.manifest.id;
    const problem = this.detectors.check(m);
    if (problem) {
      this.models.problems.push({ id, at: Date.now(), error: problem });
      metrics.modelLoadFailures.inc({ model: id });
      log.error({ model: id, err: problem }, "model loaded but not used: it does not match its kind's detector");
    }
    metrics.modelsLoaded.set(this.models.models.length);
    m.batcher.batches.on((n, ms, scores) => {
      metrics.modelInferences.inc({ model: id, version: m.manifest.version }, n);
      metrics.modelBatches.observe({ model: id }, n);
      metrics.modelLatency.observe({ model: id }, ms / 1000);
      for (const s of scores) metrics.modelScores.observe({ model: id }, s);
    });
    log.info({ model: id, version: m.manifest.version, kind: m.manifest.kind }, 'model loaded');
  }

  async start(): Promise<void> {
    await this.models.loadAll();
    for (const p of this.models.problems) {
      this.#deps.metrics.modelLoadFailures.inc({ model: p.id });
      this.#deps.log.error({ model: p.id, err: p.error }, 'model failed to load; running on rules for it');
    }
    // Learned state and alarms in progress come back before any device does.
    this.checkpoints.load();
    this.checkpoints.start(this.#deps.config.checkpointS);
  }

  /** Load or hot-reload one model; a failure leaves the running version serving, and is counted. */
  async reload(id: string): Promise<LoadedModel> {
    try {
      return await this.models.reload(id);
    } catch (err) {
      this.#deps.metrics.modelLoadFailures.inc({ model: id });
      this.#deps.log.error({ model: id, err: (err as Error).message }, 'model failed to load');
      throw err;
    }
  }

  /** For /readyz: what serves, or that the rules serve alone. No model is not a readiness failure. */
  describe(): string {
    const { models, problems } = this.models;
    const last = problems.at(-1);
    return models.length
      ? models.map((m) => `${m.manifest.id}@${m.manifest.version}`).join(', ') + (last ? `; last problem: ${last.error}` : '')
      : `no models loaded: running on rules alone${last ? ` (${last.id}: ${last.error})` : ''}`;
  }

  async stop(): Promise<void> {
    this.checkpoints.stop();
    if (this.models.models.length) {
      try {
        this.checkpoints.save();
      } catch (err) {
        this.#deps.log.error({ err }, 'detector state not saved at shutdown');
      }
    }
    await this.models.close();
  }
}
