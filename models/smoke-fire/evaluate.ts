/** Figures for the smoke-fire detector and the single-threshold baselines on whole sessions. */
import { alertStarts, confusion, quantile } from '../lib/metrics.ts';
import { syntheticFires, type SmokeRow } from './data.ts';
import { baselines, runDetector, type Scorer } from './model.ts';

export interface DetectorFigures {
  detector: string;
  /** Row-level against the dataset's own fire_alarm labels. */
  precision: number;
  recall: number;
  f1: number;
  /** Alerts raised on normal rows (episodes closer than the 5-min hold-down count once), per 24 h of normal operation. */
  falseAlarmsPerDay: number;
  falseAlarms: number;
  /** Seconds from the labelled fire onset to the first alarm (null: no onset in the data, or never detected). */
  onsetDelayS: number | null;
  /** Synthetic fires on this session's normal backgrounds (dev data only). */
  synthetic?: { fires: number; detected: number; medianDelayS: number; p90DelayS: number; falseAlarmsBeforeOnset: number };
}

type Active = (rows: SmokeRow[]) => boolean[] | Promise<boolean[]>;

/** Alarm state of a single threshold, with the same 2-reading persistence as the model. */
const thresholdActive =
  (test: (r: SmokeRow) => boolean) =>
  (rows: SmokeRow[]): boolean[] => {
    let run = 0;
    let on = false;
    return rows.map((r) => {
      const hit = test(r) !== on;
      run = hit ? run + 1 : 0;
      if (run >= 2) ((on = !on), (run = 0));
      return on;
    });
  };

async function figures(name: string, rows: SmokeRow[], active: Active, synthetic?: SmokeRow[][]): Promise<DetectorFigures> {
  const a = await active(rows);
  const c = confusion(
    rows.map((r) => r.fire),
    a,
  );
  const normalS = rows.filter((r) => !r.fire).length; // 1 reading per second
  const fa = alertStarts(
    a,
    rows.map((r) => r.ts),
  ).filter((i) => !rows[i]!.fire).length;
  // Labelled onset: the first fire row that follows at least a minute of normal readings.
  let onset = -1;
  for (let i = 60; i < rows.length; i++) if (rows[i]!.fire && rows.slice(i - 60, i).every((r) => !r.fire)) ((onset = i), (i = rows.length));
  const first = onset >= 0 ? a.findIndex((v, i) => v && i >= onset) : -1;
  const out: DetectorFigures = {
    detector: name,
    precision: c.precision,
    recall: c.recall,
    f1: c.f1,
    falseAlarms: fa,
    falseAlarmsPerDay: normalS ? (fa * 86400) / normalS : 0,
    onsetDelayS: first >= 0 ? (rows[first]!.ts - rows[onset]!.ts) / 1000 : null,
  };
  if (synthetic) {
    const delays: number[] = [];
    let early = 0;
    for (const fire of synthetic) {
      const fa = await active(fire);
      const onsetIdx = fire.findIndex((r) => r.fire);
      if (fa.slice(0, onsetIdx).some(Boolean)) early++;
      const hit = fa.findIndex((v, i) => v && i >= onsetIdx);
      if (hit >= 0) delays.push((fire[hit]!.ts - fire[onsetIdx]!.ts) / 1000);
    }
    out.synthetic = {
      fires: synthetic.length,
      detected: delays.length,
      medianDelayS: quantile(delays, 0.5),
      p90DelayS: quantile(delays, 0.9),
      falseAlarmsBeforeOnset: early,
    };
  }
  return out;
}

export interface SessionReport {
  session: string;
  rows: number;
  fireRows: number;
  normalHours: number;
  detectors: DetectorFigures[];
}

/** Scores the model (as `score`) and the baselines on one session; `syntheticSeed` adds fires on its backgrounds. */
export async function evaluateSession(session: string, rows: SmokeRow[], score: Scorer, syntheticSeed?: string): Promise<SessionReport> {
  const synthetic = syntheticSeed ? syntheticFires(rows, 100, syntheticSeed).map((f) => f.rows) : undefined;
  const model: Active = async (r) => (await runDetector(r, score)).active;
  return {
    session,
    rows: rows.length,
    fireRows: rows.filter((r) => r.fire).length,
    normalHours: rows.filter((r) => !r.fire).length / 3600,
    detectors: [
      await figures('smoke-fire model', rows, model, synthetic),
      ...(await Promise.all(Object.entries(baselines).map(([n, t]) => figures(n, rows, thresholdActive(t), synthetic)))),
    ],
  };
}
