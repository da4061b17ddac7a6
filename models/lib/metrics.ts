/** Figures for the evaluation reports: confusion counts, precision/recall/F1, alarm episodes. */
export interface Scores {
  n: number;
  tp: number;
  fp: number;
  fn: number;
  tn: number;
  precision: number;
  recall: number;
  f1: number;
  accuracy: number;
}

export function confusion(truth: readonly (0 | 1 | boolean)[], pred: readonly (0 | 1 | boolean)[]): Scores {
  let tp = 0,
    fp = 0,
    fn = 0,
    tn = 0;
  truth.forEach((t, i) => {
    const p = pred[i];
    if (t && p) tp++;
    else if (!t && p) fp++;
    else if (t && !p) fn++;
    else tn++;
  });
  const precision = tp + fp ? tp / (tp + fp) : 0;
  const recall = tp + fn ? tp / (tp + fn) : 0;
  return {
    n: truth.length,
    tp,
    fp,
    fn,
    tn,
    precision,
    recall,
    f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0,
    accuracy: truth.length ? (tp + tn) / truth.length : 0,
  };
}

/** Start indices of alarm episodes (rising edges) in a boolean series. */
export function episodes(active: readonly boolean[]): number[] {
  const out: number[] = [];
  active.forEach((a, i) => {
    if (a && !active[i - 1]) out.push(i);
  });
  return out;
}

export const pct = (v: number) => `${(100 * v).toFixed(1)} %`;
export const quantile = (xs: number[], q: number) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

/**
 * Alerts an operator would see: alarm episodes, where one that starts within `holdDownS` of the
 * previous one's end continues it (the gateway reopens the same alert, README "Alerts").
 */
export function alertStarts(active: readonly boolean[], tsMs: readonly number[], holdDownS = 300): number[] {
  const out: number[] = [];
  let lastEnd = -Infinity;
  active.forEach((a, i) => {
    if (a && !active[i - 1] && tsMs[i]! - lastEnd >= holdDownS * 1000) out.push(i);
    if (!a && active[i - 1]) lastEnd = tsMs[i]!;
  });
  return out;
}

export function mdTable(head: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}
