/** The man-down detector: features per sample / per second, training set, and the runtime decision. */
import { FallFeatures, fallFeatureNames, type ImuSample } from '../../edge/features/fall.ts';
import { Decision, type Thresholds } from '../../edge/inference/decision.ts';
import { Rng } from '../../simulators/random.ts';
import { balance, train, type Trained } from '../lib/train.ts';
import { syntheticLieDown, type FallTrial, type Recording } from './data.ts';

export const ID = 'bodycam-man-down';
/** Raised after the detector has said "down" for 10 s: an impact, then the body stays down. */
export const thresholds: Required<Thresholds> = { alert: 0.8, clear: 0.4, persist: 1, forS: 10 };
export const features = fallFeatureNames;

/** Features at every sample of a trial (one sample pushed at a time), for one sensor view. */
export function trialFeatures(samples: ImuSample[]): number[][] {
  const f = new FallFeatures();
  return samples.map((s) => f.push([s]));
}

/** Features once per second, the way a body camera's 1-s IMU windows arrive. */
export function recordingFeatures(samples: ImuSample[]): { ts: number; f: number[] }[] {
  const f = new FallFeatures();
  const out: { ts: number; f: number[] }[] = [];
  let chunk: ImuSample[] = [];
  for (const s of samples) {
    if (chunk.length && s.ts - chunk[0]!.ts >= 1000) {
      out.push({ ts: chunk.at(-1)!.ts, f: f.push(chunk) });
      chunk = [];
    }
    chunk.push(s);
  }
  if (chunk.length) out.push({ ts: chunk.at(-1)!.ts, f: f.push(chunk) });
  return out;
}

export function trainingSet(trials: FallTrial[], adl: Recording[], seed: string) {
  const x: number[][] = [];
  const y: number[] = [];
  const rng = new Rng(seed);
  for (const t of trials) {
    for (const view of [t.views.belt, t.views.neck]) {
      trialFeatures(view).forEach((f, i) => {
        const l = t.labels[i];
        if (l === null || l === undefined) return;
        x.push(f);
        y.push(l);
      });
      // The standing part of the trial, lain down on purpose: normal.
      const onset = t.labels.findIndex((l) => l === 1);
      if (onset > 10 && rng.chance(0.5)) for (const { f } of recordingFeatures(syntheticLieDown(view.slice(0, onset), rng))) (x.push(f), y.push(0));
    }
  }
  for (const r of adl) for (const { f } of recordingFeatures(r.samples)) (x.push(f), y.push(0));
  return { x, y, w: balance(y) };
}

export function trainManDown(trials: FallTrial[], adl: Recording[], seed = 'vigil-man-down-1'): Trained {
  return train(trainingSet(trials, adl, seed), { hidden: [8], epochs: 40, lr: 0.005, l2: 1e-4, batch: 64, seed });
}

export type Scorer = (f: number[]) => number | Promise<number>;

/** Runtime decision over per-second features: alarms raised (start indices). */
export async function alarmsOn(series: { ts: number; f: number[] }[], score: Scorer, t: Thresholds = thresholds): Promise<{ raised: number[]; above: number }> {
  const d = new Decision(t);
  const raised: number[] = [];
  let above = 0;
  for (let i = 0; i < series.length; i++) {
    const s = await score(series[i]!.f);
    if (s >= t.alert) above++;
    if (d.update(s, series[i]!.ts) === 'raise') raised.push(i);
  }
  return { raised, above };
}
