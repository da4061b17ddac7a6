/** Figures for the man-down detector: UP-Fall per sample and per trial, stairs recordings per alarm. */
import { confusion, mdTable, quantile } from '../lib/metrics.ts';
import { Rng } from '../../simulators/random.ts';
import { staysDown, type FallTrial, type Recording } from './data.ts';
import { alarmsOn, recordingFeatures, thresholds, trialFeatures, type Scorer } from './model.ts';

export interface TrialFigures {
  setting: string;
  view: 'belt' | 'neck';
  samples: number;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  trials: number;
  detected: number;
  /** Trials with a score above the alert threshold before the fall began. */
  early: number;
  medianDelayS: number;
  /** Falls the gateway would raise as man_down: the score held at or above `alert` for forS (10 s) after the fall, on 1-s windows. */
  raised: number;
  /** Trials that go on at least forS after the fall began (the others end before the rule could raise). */
  longEnough: number;
  /** The same rule on each trial continued by 30 s of staying down (data.ts staysDown): falls raised, and median s from onset to the alarm. */
  raisedDown: number;
  medianAlarmS: number;
}

export async function evaluateTrials(setting: string, trials: FallTrial[], score: Scorer): Promise<TrialFigures[]> {
  const out: TrialFigures[] = [];
  for (const view of ['belt', 'neck'] as const) {
    const truth: number[] = [];
    const pred: number[] = [];
    const delays: number[] = [];
    let detected = 0;
    let early = 0;
    let raised = 0;
    let longEnough = 0;
    let raisedDown = 0;
    const alarmDelays: number[] = [];
    const rng = new Rng(`stays-down:${setting}:${view}`);
    for (const t of trials) {
      const samples = t.views[view];
      const f = trialFeatures(samples);
      const s: number[] = [];
      for (const x of f) s.push(await score(x));
      t.labels.forEach((l, i) => {
        if (l === null) return;
        truth.push(l);
        pred.push(s[i]! >= thresholds.alert ? 1 : 0);
      });
      const onset = t.labels.findIndex((l) => l === 1);
      if (onset < 0) continue;
      const hit = s.findIndex((v, i) => i >= onset && v >= thresholds.alert);
      if (hit >= 0) (detected++, delays.push((samples[hit]!.ts - samples[onset]!.ts) / 1000));
      if (s.some((v, i) => i < onset && v >= thresholds.alert)) early++;
      // The runtime rule, as the gateway runs it: 1-s windows, the alarm once the score held forS.
      const t0 = samples[onset]!.ts;
      if (samples.at(-1)!.ts - t0 >= thresholds.forS * 1000) longEnough++;
      const series = recordingFeatures(samples);
      const a = await alarmsOn(series, score);
      if (a.raised.some((i) => series[i]!.ts >= t0)) raised++;
      const down = recordingFeatures(staysDown(samples, 30, rng));
      const d = (await alarmsOn(down, score)).raised.find((i) => down[i]!.ts >= t0);
      if (d !== undefined) (raisedDown++, alarmDelays.push((down[d]!.ts - t0) / 1000));
    }
    const c = confusion(
      truth.map((v) => v === 1),
      pred.map((v) => v === 1),
    );
    out.push({
      setting,
      view,
      samples: c.n,
      accuracy: c.accuracy,
      precision: c.precision,
      recall: c.recall,
      f1: c.f1,
      trials: trials.length,
      detected,
      early,
      medianDelayS: quantile(delays, 0.5),
      raised,
      longEnough,
      raisedDown,
      medianAlarmS: quantile(alarmDelays, 0.5),
    });
  }
  return out;
}

export interface RecordingFigures {
  setting: string;
  recording: string;
  minutes: number;
  /** Man-down alarms the gateway would raise (score ≥ alert held for forS seconds). */
  alarms: number;
  /** Seconds with a score at or above the alert threshold (before the hold time). */
  secondsAbove: number;
}

export async function evaluateRecordings(setting: string, recs: Recording[], score: Scorer): Promise<RecordingFigures[]> {
  const out: RecordingFigures[] = [];
  for (const r of recs) {
    const series = recordingFeatures(r.samples);
    const a = await alarmsOn(series, score);
    out.push({ setting, recording: r.name, minutes: (r.samples.at(-1)!.ts - r.samples[0]!.ts) / 60_000, alarms: a.raised.length, secondsAbove: a.above });
  }
  return out;
}

const f3 = (v: number) => (Number.isNaN(v) ? '–' : v.toFixed(3));
export function trialTable(rows: TrialFigures[]): string {
  return mdTable(
    [
      'setting',
      'sensor',
      'samples',
      'accuracy',
      'precision',
      'recall',
      'F1',
      'falls detected',
      'median s from onset',
      'trials alarmed before the fall',
      `raised by the ${thresholds.forS}-s rule (trials lasting ${thresholds.forS} s after the fall)`,
      `raised by the ${thresholds.forS}-s rule, trial + 30 s down`,
      'median s onset → man_down',
    ],
    rows.map((r) => [
      r.setting,
      r.view,
      r.samples,
      f3(r.accuracy),
      f3(r.precision),
      f3(r.recall),
      f3(r.f1),
      `${r.detected}/${r.trials}`,
      Number.isNaN(r.medianDelayS) ? '–' : r.medianDelayS.toFixed(2),
      r.early,
      `${r.raised}/${r.trials} (${r.longEnough})`,
      `${r.raisedDown}/${r.trials}`,
      Number.isNaN(r.medianAlarmS) ? '–' : r.medianAlarmS.toFixed(1),
    ]),
  );
}
export function recordingTable(rows: RecordingFigures[]): string {
  return mdTable(
    ['setting', 'recording', 'minutes', 'man-down alarms', 's at or above alert'],
    rows.map((r) => [r.setting, r.recording, r.minutes.toFixed(1), r.alarms, r.secondsAbove]),
  );
}
