/** The camera-tamper detector: training and per-kind evaluation. */
import { cameraFeatureNames } from '../../edge/features/camera.ts';
import { Decision, type Thresholds } from '../../edge/inference/decision.ts';
import { confusion, mdTable } from '../lib/metrics.ts';
import { balance, train, type Trained } from '../lib/train.ts';
import { CameraFeatures } from '../../edge/features/camera.ts';
import type { LabelledFrame, rushHourStreams } from './data.ts';

export const ID = 'camera-tamper';
export const features = cameraFeatureNames;
/**
 * Two snapshots in a row at or above `alert` raise the alarm: a single odd frame (a crowd pressed
 * against the lens, a flash) is a "suspicious" one that waits for the next snapshot. That costs one
 * snapshot interval of latency (60 s by default) and is worth it: see the rush-hour table in REPORT.md.
 */
export const thresholds: Required<Thresholds> = { alert: 0.8, clear: 0.4, persist: 2, forS: 0 };
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
  const label = (k: string) =>
    k === 'none' ? 'normal' : k === 'lighting' ? 'normal: lights dimmed/brightened' : k === 'crowd' ? 'normal: crowd surge' : `tamper: ${k.replace('_', ' ')}`;
  return mdTable(
    ['setting', 'frames', 'flagged as tampered', 'rate'],
    [
      ...e.kinds.map((k) => [`${setting} — ${label(k.kind)}`, k.frames, k.flagged, `${((100 * k.flagged) / k.frames).toFixed(1)} %`]),
      [`${setting} — all`, e.overall.n, `precision ${e.overall.precision.toFixed(3)}, recall ${e.overall.recall.toFixed(3)}`, `F1 ${e.overall.f1.toFixed(3)}`],
    ],
  );
}

/**
 * Run untouched cameras through a rush as the gateway does (warm-up, median reference, freeze while
 * the score is at or above the clear threshold) and count false tamper alerts (raises).
 */
export async function evaluateRush(streams: Awaited<ReturnType<typeof rushHourStreams>>, score: (f: number[]) => number | Promise<number>, intervalS = 60) {
  let frames = 0;
  let flagged = 0;
  let alerts = 0;
  let camerasAlerting = 0;
  for (const [c, stream] of streams.entries()) {
    const f = new CameraFeatures();
    const d = new Decision(thresholds);
    let any = false;
    for (const [i, { stats }] of stream.entries()) {
      if (f.warming) {
        f.learn(stats);
        continue;
      }
      const s = await score(f.features(stats));
      frames++;
      if (s >= thresholds.alert) flagged++;
      if (d.update(s, (c * 1e6 + i) * intervalS * 1000) === 'raise') (alerts++, (any = true));
      f.frozen = s >= thresholds.clear;
      f.learn(stats);
    }
    if (any) camerasAlerting++;
  }
  const cameraDays = (frames * intervalS) / 86_400;
  return { cameras: streams.length, frames, flagged, alerts, camerasAlerting, perCameraDay: alerts / cameraDays, intervalS };
}

export function rushTable(r: Awaited<ReturnType<typeof evaluateRush>>, views = 'rendered scenes'): string {
  return mdTable(
    [
      'untouched cameras through a morning rush',
      'snapshots scored',
      'flagged',
      'false tamper alerts',
      'cameras with one',
      `per camera-day (1 snapshot / ${r.intervalS} s)`,
    ],
    [[`${r.cameras} cameras on ${views}, started 06:30–09:30`, r.frames, r.flagged, r.alerts, r.camerasAlerting, r.perCameraDay.toFixed(2)]],
  );
}
