/** The door-behaviour detector: training set, training and per-kind evaluation. */
import { doorFeatureNames } from '../../edge/features/door.ts';
import type { Thresholds } from '../../edge/inference/decision.ts';
import { confusion, mdTable } from '../lib/metrics.ts';
import { balance, train, type Trained } from '../lib/train.ts';
import type { DoorEvent } from './data.ts';

export const ID = 'door-behaviour';
export const features = doorFeatureNames;
export const thresholds: Required<Thresholds> = { alert: 0.8, clear: 0.4, persist: 1, forS: 0 };
export const SEED = 'vigil-door-1';

export function trainDoor(events: DoorEvent[]): Trained {
  const rows = events.filter((e, i) => e.label === 1 || (e.label === 0 && (e.kind !== 'normal' || i % 10 === 0)));
  const y = rows.map((e) => e.label as number);
  return train({ x: rows.map((e) => e.features), y, w: balance(y) }, { hidden: [8], epochs: 12, lr: 0.005, l2: 1e-4, batch: 128, seed: SEED });
}

export interface DoorFigures {
  kind: string;
  events: number;
  flagged: number;
  rule: number;
}

export async function evaluateDoor(events: DoorEvent[], doorDays: number, score: (f: number[]) => number | Promise<number>) {
  const byKind = new Map<string, DoorFigures>();
  const truth: boolean[] = [];
  const pred: boolean[] = [];
  let falseAlarms = 0;
  for (const e of events) {
    if (e.label === null) continue;
    const hit = (await score(e.features)) >= thresholds.alert;
    // The brute-force rule in devices/kinds/door/rules.ts: 5 denials within 60 s.
    const rule = e.features[4] === 1 && e.features[5]! >= 5;
    const k = byKind.get(e.kind) ?? { kind: e.kind, events: 0, flagged: 0, rule: 0 };
    byKind.set(e.kind, k);
    k.events++;
    if (hit) k.flagged++;
    if (rule) k.rule++;
    if (hit && !e.label) falseAlarms++;
    truth.push(e.label === 1);
    pred.push(hit);
  }
  return {
    kinds: [...byKind.values()].sort((a, b) => a.kind.localeCompare(b.kind)),
    overall: confusion(truth, pred),
    falseAlarmsPerDoorDay: falseAlarms / doorDays,
  };
}

export function doorTable(setting: string, e: Awaited<ReturnType<typeof evaluateDoor>>): string {
  const r = (n: number, d: number) => `${n} (${((100 * n) / d).toFixed(1)} %)`;
  return mdTable(
    ['setting', 'events', 'kind', 'flagged by the model', 'flagged by the brute-force rule'],
    [
      ...e.kinds.map((k) => [setting, k.events, anomalyLabel(k.kind), r(k.flagged, k.events), r(k.rule, k.events)]),
      [
        setting,
        e.overall.n,
        'all',
        `precision ${e.overall.precision.toFixed(3)}, recall ${e.overall.recall.toFixed(3)}, F1 ${e.overall.f1.toFixed(3)}`,
        `false alarms per door-day: ${e.falseAlarmsPerDoorDay.toFixed(3)}`,
      ],
    ],
  );
}

const anomalyLabel = (k: string) =>
  ['off_hours', 'unusual_pair', 'denial_burst'].includes(k) ? `anomaly: ${k.replace('_', ' ')}` : `normal: ${k.replace('_', ' ')}`;
