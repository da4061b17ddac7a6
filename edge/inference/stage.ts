/**
 * The detector stage: for every accepted message of a kind that has a model, extract its features
 * (per device, in arrival order), score them through the model's micro-batcher, and turn scores
 * into conditions with the manifest's thresholds. It never holds up the PUBACK: inference runs
 * after the message is accepted, off the ingest path, and a failure is counted, not thrown.
 */
import type { AlertType, Condition } from '../alerts/model.ts';
import { getKind, severityOf } from '../../devices/index.ts';
import type { DeviceMessage } from '../message.ts';
import type { PipelineStage } from '../pipeline.ts';
import { Decision, type DecisionSnapshot } from './decision.ts';
import { detectors as builtIn, type Detector, type Places, type Subject } from './detectors.ts';
import type { Manifest } from './manifest.ts';
import { Listeners } from '../listeners.ts';

/** A model as the stage runs it; gateway/inference loads them (files, hashes, onnxruntime sessions, micro-batching). */
export interface ServingModel {
  manifest: Manifest;
  /** Scores one feature vector (batched with others behind the scenes). */
  batcher: { infer(x: Float32Array): Promise<number> };
}

/** The models loaded now (a port: the gateway's ModelStore is one). */
export interface ModelCatalog {
  readonly models: readonly ServingModel[];
  forKind(kind: string): readonly ServingModel[];
}

/** Failures are reported here; scores and decisions through onScore() / onDecision(). */
export interface DetectorEvents {
  onError?(model: string, err: unknown): void;
}

interface DeviceRun {
  model: string;
  /** The detector (feature extractor) the model reads. */
  detector: string;
  site: string;
  kind: string;
  /** The device, or the place a detector of places scores (Subject.id). */
  deviceId: string;
  /** The zone of a place's run: its alerts belong there. */
  zone?: string;
  state: unknown;
  decision: Decision;
  version: string;
  chain: Promise<void>;
  /** Messages waiting in the chain: beyond `maxQueue` a device's messages are skipped, not queued without end. */
  queued: number;
  /** The alert type raised, so the clear goes to the same condition. */
  raisedType?: AlertType;
}

/** One device's learned state and decision for one model, as checkpointed across restarts. */
export interface SavedRun {
  model: string;
  deviceId: string;
  site: string;
  kind: string;
  /** The zone of a place's run. */
  zone?: string;
  /** The model version the decision belongs to. */
  version: string;
  /** The detector's state format (Detector.stateFormat). */
  format: number;
  state: unknown;
  decision: DecisionSnapshot;
  raisedType?: AlertType;
}

export class DetectorStage implements PipelineStage {
  readonly name = 'detectors';
  readonly #models: ModelCatalog;
  readonly #sink: (c: Condition) => void;
  readonly #detectors: Record<string, Detector>;
  readonly #runs = new Map<string, DeviceRun>();
  readonly #shared = new Map<string, unknown>();
  readonly #events: DetectorEvents;
  readonly #maxQueue: number;
  readonly #places: Places;
  /** Models whose manifest does not match the detector of their kind, with why. */
  readonly mismatched = new Map<string, string>();
  /** Windows skipped because a device's queue was full. */
  skipped = 0;
  readonly #decisions = new Listeners<[model: string, c: Condition]>();
  readonly #scores = new Listeners<[model: string, m: DeviceMessage, score: number]>();

  /** Every window scored, with the message it came from. */
  onScore(fn: (model: string, m: DeviceMessage, score: number) => void): () => void {
    return this.#scores.on(fn);
  }

  /** Every raise and clear, after it went to the sink. */
  onDecision(fn: (model: string, c: Condition) => void): () => void {
    return this.#decisions.on(fn);
  }

  constructor(
    models: ModelCatalog,
    sink: (c: Condition) => void,
    events: DetectorEvents = {},
    opts: { detectors?: Record<string, Detector>; maxQueue?: number; places?: Places } = {},
  ) {
    this.#places = opts.places ?? { zone: () => undefined, zoneOf: () => null };
    this.#models = models;
    this.#sink = sink;
    this.#events = events;
    this.#detectors = opts.detectors ?? builtIn;
    this.#maxQueue = opts.maxQueue ?? 64;
  }

  /** The detector a model names (or its kind's, for manifests that name none). */
  #detectorName(model: ServingModel): string {
    return model.manifest.detector ?? getKind(model.manifest.kind)?.detector ?? model.manifest.kind;
  }

  /** Whether a loaded model can run: its detector exists, serves its kind, and computes the features it reads. */
  check(model: ServingModel): string | undefined {
    const name = this.#detectorName(model);
    const d = this.#detectors[name];
    const want = d?.features.join(',');
    const got = model.manifest.input.features.join(',');
    const problem = !d
      ? `no detector "${name}"`
      : d.kind !== model.manifest.kind
        ? `detector "${name}" reads ${d.kind} devices, the model is for ${model.manifest.kind}`
        : want !== got
          ? `features [${got}] are not the detector's [${want}]`
          : undefined;
    if (problem) this.mismatched.set(model.manifest.id, problem);
    else this.mismatched.delete(model.manifest.id);
    return problem;
  }

  accept(m: DeviceMessage): void {
    const models = this.#models.forKind(m.kind);
    if (!models.length) return;
    for (const model of models) {
      if (this.mismatched.has(model.manifest.id)) continue;
      const detectorName = this.#detectorName(model);
      const detector = this.#detectors[detectorName];
      if (!detector) continue;
      const subject = detector.subject ? detector.subject(m, this.#places) : undefined;
      if (detector.subject && !subject) continue;
      // By site too: two sites may both have a zone called "concourse" (device ids are unique anyway).
      const key = `${model.manifest.id}/${m.site}/${subject?.id ?? m.deviceId}`;
      let run = this.#runs.get(key);
      if (!run || run.version !== model.manifest.version) {
        // A new version starts with fresh thresholds but keeps the device's learned features.
        run = {
          model: model.manifest.id,
          detector: detectorName,
          site: m.site,
          kind: m.kind,
          deviceId: subject?.id ?? m.deviceId,
          ...(subject ? { zone: subject.zone } : {}),
          state: run?.state ?? detector.init({ site: m.site, deviceId: subject?.id ?? m.deviceId }, this.#shared),
          decision: new Decision(model.manifest.thresholds),
          version: model.manifest.version,
          chain: run?.chain ?? Promise.resolve(),
          queued: run?.queued ?? 0,
        };
        this.#runs.set(key, run);
      }
      if (run.queued >= this.#maxQueue) {
        this.skipped++;
        continue;
      }
      run.queued++;
      const r = run;
      r.chain = r.chain
        .then(() => this.#process(model, detector, r, m, subject))
        .catch((err: unknown) => this.#events.onError?.(model.manifest.id, err))
        .finally(() => r.queued--);
    }
  }

  async #process(model: ServingModel, detector: Detector, run: DeviceRun, m: DeviceMessage, subject?: Subject): Promise<void> {
    const x = await detector.extract(run.state, m, subject);
    if (!x) return;
    // Always the current version of the model (a hot reload takes effect at the next window).
    const current = this.#models.models.find((l) => l.manifest.id === model.manifest.id) ?? model;
    const score = await current.batcher.infer(Float32Array.from(x.features));
    const t = current.manifest.thresholds;
    x.scored?.(score, t.clear);
    this.#scores.emit(current.manifest.id, m, score);
    const change = run.decision.update(score, x.ts ?? m.ts);
    if (!change) {
      // An alarm whose finding changed its nature (a surge turning into people fleeing): the new alert is raised, the old one clears.
      if (!run.decision.active || score < t.alert || !run.raisedType) return;
      const e = detector.explain(x.features, score, m, run.state, subject);
      if (!e.type || e.type === run.raisedType) return;
      this.#emit(run, m, current, score, 'clear', run.raisedType, `model ${current.manifest.id}: now ${e.type}`, {});
      run.raisedType = e.type;
      this.#emit(run, m, current, score, 'raise', e.type, e.reason, e.evidence ?? {});
      return;
    }
    const e = detector.explain(x.features, score, m, run.state, subject);
    const type = change === 'clear' ? (run.raisedType ?? current.manifest.alertType) : (e.type ?? current.manifest.alertType);
    run.raisedType = change === 'raise' ? type : undefined;
    this.#emit(
      run,
      m,
      current,
      score,
      change,
      type,
      change === 'raise' ? e.reason : `model ${current.manifest.id}: back to normal (${score.toFixed(2)})`,
      e.evidence ?? {},
    );
  }

  #emit(
    run: DeviceRun,
    m: DeviceMessage,
    model: ServingModel,
    score: number,
    change: 'raise' | 'clear',
    type: AlertType,
    reason: string,
    evidence: Record<string, unknown>,
  ): void {
    const id = model.manifest.id;
    const c: Condition = {
      site: m.site,
      deviceId: run.deviceId,
      ...(run.zone !== undefined ? { zone: run.zone } : {}),
      kind: m.kind,
      type,
      active: change === 'raise',
      severity: severityOf(type),
      reason: change === 'raise' ? `${reason} (model ${id} ${score.toFixed(2)})` : reason,
      evidence: { ...evidence, model: id, version: model.manifest.version, score: Math.round(score * 1000) / 1000 },
      ts: m.ts,
      source: `model:${id}`,
    };
    this.#sink(c);
    this.#decisions.emit(id, c);
  }

  /**
   * An engineer accepted the device's present view as its new normal (a camera re-aimed on purpose):
   * the detector forgets its reference and learns a new one (after its warm-up), and an alarm in
   * progress clears. Returns the models it applied to and whether an alarm was cleared.
   */
  async rebaseline(deviceId: string, why: string, ts: number): Promise<{ models: string[]; cleared: boolean }> {
    const out = { models: [] as string[], cleared: false };
    for (const r of this.#runs.values()) {
      if (r.deviceId !== deviceId) continue;
      const d = this.#detectors[r.detector];
      const model = this.#models.models.find((m) => m.manifest.id === r.model);
      if (!d?.rebaseline || !model) continue;
      // In the device's order: after the windows already queued, before the next one.
      await (r.chain = r.chain.then(() => {
        d.rebaseline!(r.state);
        if (r.decision.active) {
          const type = r.raisedType ?? model.manifest.alertType;
          const c: Condition = {
            site: r.site,
            deviceId,
            ...(r.zone !== undefined ? { zone: r.zone } : {}),
            kind: r.kind,
            type,
            active: false,
            severity: severityOf(type),
            reason: `model ${r.model}: ${why}`,
            evidence: { model: r.model, version: r.version },
            ts,
            source: `model:${r.model}`,
          };
          this.#sink(c);
          this.#decisions.emit(r.model, c);
          out.cleared = true;
        }
        r.decision = new Decision(model.manifest.thresholds);
        r.raisedType = undefined;
      }));
      out.models.push(r.model);
    }
    return out;
  }

  /** Every device's learned state and decision, JSON-safe (checkpoints). */
  snapshot(): SavedRun[] {
    const out: SavedRun[] = [];
    for (const r of this.#runs.values()) {
      const d = this.#detectors[r.detector];
      if (!d) continue;
      out.push({
        model: r.model,
        deviceId: r.deviceId,
        site: r.site,
        kind: r.kind,
        ...(r.zone !== undefined ? { zone: r.zone } : {}),
        version: r.version,
        format: d.stateFormat,
        state: d.snapshot(r.state),
        decision: r.decision.snapshot(),
        ...(r.raisedType ? { raisedType: r.raisedType } : {}),
      });
    }
    return out;
  }

  /**
   * Restore checkpointed runs (before traffic). The learned features come back whatever the model
   * version (they belong to the detector, as on a hot reload); the decision — an alarm in progress —
   * only under the same model version (thresholds may differ). A state in another format than the
   * detector's, or for a model not loaded, is discarded: that device learns anew.
   */
  restore(saved: SavedRun[]): { restored: number; decisions: number; discarded: { model: string; deviceId: string; why: string }[] } {
    const out = { restored: 0, decisions: 0, discarded: [] as { model: string; deviceId: string; why: string }[] };
    for (const s of saved) {
      const model = this.#models.models.find((m) => m.manifest.id === s.model);
      const detectorName = model ? this.#detectorName(model) : (getKind(s.kind)?.detector ?? s.kind);
      const d = this.#detectors[detectorName];
      const why = !d
        ? `no detector "${detectorName}"`
        : d.stateFormat !== s.format
          ? `state format ${s.format}, detector has ${d.stateFormat}`
          : !model
            ? 'model not loaded'
            : undefined;
      if (why) {
        out.discarded.push({ model: s.model, deviceId: s.deviceId, why });
        continue;
      }
      const sameVersion = model!.manifest.version === s.version;
      this.#runs.set(`${s.model}/${s.site}/${s.deviceId}`, {
        model: s.model,
        detector: detectorName,
        site: s.site,
        kind: s.kind,
        deviceId: s.deviceId,
        ...(s.zone !== undefined ? { zone: s.zone } : {}),
        state: d!.restore(s.state, s, this.#shared),
        decision: sameVersion ? Decision.restore(model!.manifest.thresholds, s.decision) : new Decision(model!.manifest.thresholds),
        version: model!.manifest.version,
        chain: Promise.resolve(),
        queued: 0,
        ...(sameVersion && s.raisedType ? { raisedType: s.raisedType } : {}),
      });
      out.restored++;
      if (sameVersion) out.decisions++;
    }
    return out;
  }

  /** Resolves once every queued window has been scored (tests and shutdown). */
  async idle(): Promise<void> {
    await Promise.all([...this.#runs.values()].map((r) => r.chain));
  }

  async stop(): Promise<void> {
    await this.idle();
  }
}
