/**
 * The 1-3-5 rule measured: how long alerts took to be acknowledged (the 1: response) and resolved
 * (the 3: handling; the 5: by when reinforcement must have made it so), per site and type. The marks
 * are the escalation times of the gateway (alerts.escalation: ackS, reinforceS, reescalateS).
 */
import type { AlertRecord } from './store.ts';

export interface SlaMarks {
  /** Acknowledged within this (s): responded in time. */
  respondS: number;
  /** Resolved within this (s): handled in time. */
  handleS: number;
  /** Resolved within this (s): at the latest once reinforcement was due. */
  reinforceS: number;
}

/** Seconds from raise to acknowledgement and to resolution (null: not yet). An alert resolved without acknowledgement was responded to by its resolution. */
export function alertTimes(a: Pick<AlertRecord, 'raisedAt' | 'acknowledgedAt' | 'resolvedAt'>): { toAckS: number | null; toResolveS: number | null } {
  const s = (t: number | null) => (t === null ? null : Math.max(0, (t - a.raisedAt) / 1000));
  const toResolveS = s(a.resolvedAt);
  return { toAckS: s(a.acknowledgedAt) ?? toResolveS, toResolveS };
}

export interface SlaRow {
  site: string;
  type: string;
  alerts: number;
  acknowledged: number;
  resolved: number;
  /** Shares of all the row's alerts (0..1): an alert still open past a mark counts as missed. */
  respondedInTime: number;
  handledInTime: number;
  handledByReinforcementMark: number;
  toAckP50S: number | null;
  toAckP90S: number | null;
  toResolveP50S: number | null;
  toResolveP90S: number | null;
}

const quantile = (xs: number[], q: number): number | null => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
};

/**
 * Per (site, type): the share of alerts that met each mark. An alert still open is judged at `now`:
 * past a mark without the step, it missed it; before the mark, it is not counted against it yet.
 */
export function slaReport(alerts: AlertRecord[], marks: SlaMarks, now: number): SlaRow[] {
  const rows = new Map<string, { site: string; type: string; list: AlertRecord[] }>();
  for (const a of alerts) {
    const k = `${a.site}\u0000${a.type}`;
    const r = rows.get(k) ?? { site: a.site, type: a.type, list: [] };
    r.list.push(a);
    rows.set(k, r);
  }
  return [...rows.values()]
    .map(({ site, type, list }) => {
      const times = list.map((a) => ({ a, ...alertTimes(a), ageS: (now - a.raisedAt) / 1000 }));
      const share = (mark: number, pick: (t: (typeof times)[number]) => number | null) => {
        const judged = times.filter((t) => pick(t) !== null || t.ageS >= mark);
        return judged.length ? judged.filter((t) => pick(t) !== null && pick(t)! <= mark).length / judged.length : 1;
      };
      const acks = times.map((t) => t.toAckS).filter((x): x is number => x !== null);
      const resolves = times.map((t) => t.toResolveS).filter((x): x is number => x !== null);
      return {
        site,
        type,
        alerts: list.length,
        acknowledged: acks.length,
        resolved: resolves.length,
        respondedInTime: share(marks.respondS, (t) => t.toAckS),
        handledInTime: share(marks.handleS, (t) => t.toResolveS),
        handledByReinforcementMark: share(marks.reinforceS, (t) => t.toResolveS),
        toAckP50S: quantile(acks, 0.5),
        toAckP90S: quantile(acks, 0.9),
        toResolveP50S: quantile(resolves, 0.5),
        toResolveP90S: quantile(resolves, 0.9),
      };
    })
    .sort((a, b) => a.site.localeCompare(b.site) || a.type.localeCompare(b.type));
}
