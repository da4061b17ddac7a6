/** The crowd-zone detector: training set, training and evaluation as the gateway runs it (Decision over every report). */
import { crowdFeatureNames, isDispersal } from '../../edge/features/crowd.ts';
import { Decision, type Thresholds } from '../../edge/inference/decision.ts';
import { mdTable } from '../lib/metrics.ts';
import { balance, train, type Trained } from '../lib/train.ts';
import { DAY, detectWithin, FEATURES, periods, row, START, type ZoneRun } from './data.ts';
import type { CrowdIncident } from '../../simulators/crowd.ts';

export const ID = 'crowd-zone';
export const features = crowdFeatureNames;
/**
 * Three reports in a row at 0.95 (about 15 s with three cameras) turn it on; three below 0.4 turn it off.
 * Chosen on the training sites (tune.ts-style sweep of alert 0.85-0.98 × persist 2-4: the fewest false alarms
 * that keep every incident); the held-out sites were not looked at for it.
 */
export const thresholds: Required<Thresholds> = { alert: 0.95, clear: 0.4, persist: 3, forS: 0 };
export const SEED = 'vigil-crowd-1';

/** All incident reports; normal ones thinned (every 40th), but every tenth of the busy or fast-moving ones kept. */
export function trainingSet(runs: ZoneRun[]): { x: number[][]; y: number[] } {
  const x: number[][] = [];
  const y: number[] = [];
  for (const z of runs) {
    const n = z.label.length;
    for (let i = 0; i < n; i++) {
      const l = z.label[i]!;
      if (l === 255) continue;
      const o = i * FEATURES;
      const hard = z.features[o]! >= 0.5 || Math.abs(z.features[o + 4]!) >= 0.08 || z.features[o + 8]! >= 0.25 || z.features[o + 3]! >= 0.05;
      if (l === 1 || i % (hard ? 5 : 40) === 0) {
        x.push(row(z, i));
        y.push(l);
      }
    }
  }
  return { x, y };
}

export function trainCrowd(runs: ZoneRun[]): Trained {
  const { x, y } = trainingSet(runs);
  // Class-balanced, then a false alarm weighs three times a missed report: an incident is many reports, a false alarm one raise.
  return train({ x, y, w: balance(y).map((w, i) => (y[i] ? w : 3 * w)) }, { hidden: [10], epochs: 10, lr: 0.005, l2: 1e-4, batch: 128, seed: SEED });
}

/** The fixed rule a site would otherwise set: ≥ 90 % of capacity, or half the crowd gone within 2 min from ≥ 30 %. */
export const baselineRule = (f: ArrayLike<number>) => f[0]! >= 0.9 || (f[8]! >= 0.5 && f[7]! >= 0.3);

export interface CrowdFigures {
  zoneDays: number;
  /** Per incident type: how many, detected, seconds to detect (from the start), detected as the right type. */
  incidents: Record<CrowdIncident, { n: number; detected: number; rightType: number; ttd: number[] }>;
  falseAlarms: number;
  /** False alarms by local period (rush hours, the event evening, other). */
  falseByPeriod: Record<(typeof periods)[number], number>;
  /** Event evenings seen, and false alarms on them. */
  eventEvenings: number;
}

const empty = (): CrowdFigures => ({
  zoneDays: 0,
  incidents: { crowd_surge: { n: 0, detected: 0, rightType: 0, ttd: [] }, crowd_dispersal: { n: 0, detected: 0, rightType: 0, ttd: [] } },
  falseAlarms: 0,
  falseByPeriod: { rush: 0, event: 0, other: 0 },
  eventEvenings: 0,
});

/**
 * Replays every report of the zones through a scorer and the manifest's Decision, between day
 * `fromDay` and `toDay`: a raise within an incident's detection window is a detection (the first
 * one counts, with its delay); any other raise is a false alarm. `score` gives one score per report.
 */
export function evaluateCrowd(runs: { run: ZoneRun; scores: ArrayLike<number> }[], fromDay: number, toDay: number, t: Thresholds = thresholds): CrowdFigures {
  const out = empty();
  for (const { run: z, scores } of runs) {
    const from = START + fromDay * DAY;
    const to = START + Math.min(toDay, z.days) * DAY;
    out.zoneDays += (to - from) / DAY;
    const d = new Decision(t);
    const incidents = z.incidents.filter((i) => i.start >= from && i.start < to).map((i) => ({ ...i, hit: false }));
    for (const i of incidents) out.incidents[i.type].n++;
    let evening = -1;
    for (let k = 0; k < z.ts.length; k++) {
      const ts = z.ts[k]!;
      if (ts < from || ts >= to) continue;
      if (z.period[k] === 1 && Math.floor(ts / DAY) !== evening) {
        evening = Math.floor(ts / DAY);
        out.eventEvenings++;
      }
      if (d.update(scores[k]!, ts) !== 'raise') continue;
      const inc = incidents.find((i) => ts >= i.start && ts < i.start + detectWithin[i.type]);
      if (inc) {
        if (inc.hit) continue;
        inc.hit = true;
        const fig = out.incidents[inc.type];
        fig.detected++;
        fig.ttd.push((ts - inc.start) / 1000);
        const f = z.features.subarray(k * FEATURES, (k + 1) * FEATURES);
        if ((isDispersal(Array.from(f)) ? 'crowd_dispersal' : 'crowd_surge') === inc.type) fig.rightType++;
        continue;
      }
      // The end of an incident (easing, recovery) is not a false alarm: it is the same event.
      if (z.incidents.some((i) => ts >= i.start && ts < i.start + 1_230_000)) continue;
      out.falseAlarms++;
      out.falseByPeriod[periods[z.period[k]!]!]++;
    }
  }
  return out;
}

const q = (xs: number[], p: number) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]! : NaN);

export function crowdTable(setting: string, e: CrowdFigures, baseline?: CrowdFigures): string {
  const rows: (string | number)[][] = [];
  for (const type of ['crowd_surge', 'crowd_dispersal'] as const) {
    const i = e.incidents[type];
    const b = baseline?.incidents[type];
    rows.push([
      setting,
      type,
      i.n,
      `${i.detected} (${i.n ? ((100 * i.detected) / i.n).toFixed(0) : '–'} %)`,
      i.detected ? `${q(i.ttd, 0.5).toFixed(0)} s / ${q(i.ttd, 0.9).toFixed(0)} s` : '–',
      `${i.rightType} of ${i.detected}`,
      b ? `${b.detected} (${b.n ? ((100 * b.detected) / b.n).toFixed(0) : '–'} %), ${b.detected ? `${q(b.ttd, 0.5).toFixed(0)} s` : '–'}` : '–',
    ]);
  }
  const per = (n: number) => (n / e.zoneDays).toFixed(3);
  rows.push([
    setting,
    'false alarms',
    `${e.zoneDays} zone-days`,
    `${e.falseAlarms} (${per(e.falseAlarms)} per zone-day)`,
    `rush hours ${e.falseByPeriod.rush}, event evenings ${e.falseByPeriod.event} of ${e.eventEvenings}, other ${e.falseByPeriod.other}`,
    '',
    baseline
      ? `${baseline.falseAlarms} (${per(baseline.falseAlarms)} per zone-day; event evenings ${baseline.falseByPeriod.event}, rush ${baseline.falseByPeriod.rush})`
      : '–',
  ]);
  return mdTable(['setting', 'incident', 'count', 'detected', 'time to detect p50 / p90', 'right alert type', 'fixed rule (≥ 90 % or half gone)'], rows);
}
