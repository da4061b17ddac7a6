/** The smoke-fire detector: training set, training, and the same decision loop the gateway runs. */
import { SmokeFeatures, smokeFeatureNames } from '../../edge/features/smoke.ts';
import { Decision, type Thresholds } from '../../edge/inference/decision.ts';
import { balance, predict, train, type Trained } from '../lib/train.ts';
import { normalStretches, syntheticFires, syntheticNuisances, type SmokeRow } from './data.ts';

export const ID = 'smoke-fire';
export const thresholds: Required<Thresholds> = { alert: 0.9, clear: 0.5, persist: 2, forS: 0 };
export const FIRES_PER_SESSION = 200;

export function featureRows(rows: SmokeRow[]): number[][] {
  const f = new SmokeFeatures();
  return rows.map((r) => f.push(r));
}

/** Negatives: every real normal reading and synthetic nuisances; positives: synthetic fires past their first quarter of growth. */
export function trainingSet(sessions: SmokeRow[][], seed: string) {
  const x: number[][] = [];
  const y: number[] = [];
  sessions.forEach((rows, si) => {
    for (const stretch of normalStretches(rows)) {
      featureRows(stretch).forEach((f, i) => {
        if (i % 2 === 0) (x.push(f), y.push(0));
      });
    }
    for (const fire of syntheticFires(rows, FIRES_PER_SESSION, `${seed}:train:${si}`)) {
      featureRows(fire.rows).forEach((f, i) => {
        if (i % 2) return;
        if (i < fire.onset) (x.push(f), y.push(0));
        else if (i >= fire.detectable) (x.push(f), y.push(1));
      });
    }
    for (const nuisance of syntheticNuisances(rows, FIRES_PER_SESSION / 2, `${seed}:nuisance:${si}`)) {
      featureRows(nuisance).forEach((f, i) => {
        if (i % 2 === 0) (x.push(f), y.push(0));
      });
    }
  });
  return { x, y, w: balance(y) };
}

export function trainSmoke(sessions: SmokeRow[][], seed = 'vigil-smoke-1'): Trained {
  return train(trainingSet(sessions, seed), { hidden: [8], epochs: 25, lr: 0.005, l2: 1e-4, batch: 128, seed });
}

/** Scores and alarm state per reading, with the baseline frozen while the score is above `clear` (as at runtime). */
export async function runDetector(rows: SmokeRow[], score: Scorer, t: Thresholds = thresholds): Promise<{ score: number[]; active: boolean[] }> {
  const feats = new SmokeFeatures();
  const d = new Decision(t);
  const out = { score: [] as number[], active: [] as boolean[] };
  for (const r of rows) {
    const s = await score(feats.push(r));
    feats.frozen = s >= t.clear;
    d.update(s, r.ts);
    out.score.push(s);
    out.active.push(d.active);
  }
  return out;
}

/** A trained model in memory, or the shipped ONNX through onnxruntime. */
export type Scorer = (f: number[]) => number | Promise<number>;
export const modelScorer =
  (m: Trained): Scorer =>
  (f) =>
    predict(m, f);

/** The single-threshold alarms the model is compared with. */
export const baselines: Record<string, (r: SmokeRow) => boolean> = {
  'heat ≥ 57 °C': (r) => r.temperature_c >= 57,
  'eCO2 ≥ 2000 ppm': (r) => r.eco2_ppm >= 2000,
};

export const features = smokeFeatureNames;
