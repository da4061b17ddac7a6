/** The camera-tamper detector: training and per-kind evaluation. */
import { cameraFeatureNames } from '../../edge/features/camera.ts';
import type { Thresholds } from '../../edge/inference/decision.ts';
import { confusion, mdTable } from '../lib/metrics.ts';
import { balance, train, type Trained } from '../lib/train.ts';
import type { LabelledFrame } from './data.ts';

export const ID = 'camera-tamper';
export const features = cameraFeatureNames;
export const thresholds: Required<Thresholds> = { alert: 0.8, clear: 0.4, persist: 1, forS: 0 };
export const SEED = 'vigil-camera-1';

export function trainCamera(frames: LabelledFrame[]): Trained {
  const y = frames.map((f) => f.tampered);
  return train({ x: frames.map((f) => f.features), y, w: balance(y) }, { hidden: [8], epochs: 80, lr: 0.01, l2: 1e-4, batch: 32, seed: SEED });
}

export interface CameraFigures {
  kind: string;
  frames: number;
  flagged: number;
}

export async function evaluateCamera(frames: LabelledFrame[], score: (f: number[]) => number | Promise<number>) {
  const byKind = new Map<string, CameraFigures>();
  const truth: boolean[] = [];
  const pred: boolean[] = [];
  for (const f of frames) {
    const hit = (await score(f.features)) >= thresholds.alert;
    const k = byKind.get(f.kind) ?? { kind: f.kind, frames: 0, flagged: 0 };
    byKind.set(f.kind, k);
    k.frames++;
    if (hit) k.flagged++;
    truth.push(f.tampered === 1);
    pred.push(hit);
  }
  return { kinds: [...byKind.values()].sort((a, b) => a.kind.localeCompare(b.kind)), overall: confusion(truth, pred) };
}

export function cameraTable(setting: string, e: Awaited<ReturnType<typeof evaluateCamera>>): string {
  const label = (k: string) => (k === 'none' ? 'normal' : k === 'lighting' ? 'normal: lights dimmed/brightened' : k === 'crowd' ? 'normal: crowd surge' : `tamper: ${k.replace('_', ' ')}`);
  return mdTable(
    ['setting', 'frames', 'flagged as tampered', 'rate'],
    [
      ...e.kinds.map((k) => [`${setting} — ${label(k.kind)}`, k.frames, k.flagged, `${((100 * k.flagged) / k.frames).toFixed(1)} %`]),
      [`${setting} — all`, e.overall.n, `precision ${e.overall.precision.toFixed(3)}, recall ${e.overall.recall.toFixed(3)}`, `F1 ${e.overall.f1.toFixed(3)}`],
    ],
  );
}
