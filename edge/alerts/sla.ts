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

export interface AlertTimes {
  toAckS: number | null;
  toResolveS: number | null;
  /** To the first officer accepting a dispatch (null: none dispatched, or nobody accepted yet). */
  toAcceptS: number | null;
  /** To the first dispatched officer arriving on scene: the 5 of 1-3-5. */
  toArriveS: number | null;
}

/**
 * Seconds from raise to acknowledgement, resolution, first dispatch acceptance and first arrival
 * (null: not yet). An alert resolved without acknowledgement was responded to by its resolution.
 */
export function alertTimes(a: Pick<AlertRecord, 'raisedAt' | 'acknowledgedAt' | 'resolvedAt' | 'dispatch'>): AlertTimes {
  const s = (t: number | null | undefined) => (t === null || t === undefined ? null : Math.max(0, (t - a.raisedAt) / 1000));
  const toResolveS = s(a.resolvedAt);
  return { toAckS: s(a.acknowledgedAt) ?? toResolveS, toResolveS, toAcceptS: s(a.dispatch?.acceptedAt), toArriveS: s(a.dispatch?.arrivedAt) };
}

export interface SlaRow {
  site: string;
  type: string;
  alerts: number;
  acknowledged: number;
  resolved: number;
  /** Shares of the row's alerts judged on each mark (0..1; null: none judged yet): an alert still open past a mark counts as missed. */
  respondedInTime: number | null;
  handledInTime: number | null;
  handledByReinforcementMark: number | null;
  toAckP50S: number | null;
  toAckP90S: number | null;
  toResolveP50S: number | null;
  toResolveP90S: number | null;
  /** Alerts officers were sent to. */
  dispatched: number;
  /** Share of those with an officer on scene by the reinforcement mark (an open one past the mark without one: missed). */
  arrivedByReinforcementMark: number | null;
  toAcceptP50S: number | null;
  toAcceptP90S: number | null;
  toArriveP50S: number | null;
  toArriveP90S: number | null;
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
      // How long each alert has been (or was) open: one closed before a mark without the step is not judged on it.
      const times = list.map((a) => ({ a, ...alertTimes(a), ageS: ((a.resolvedAt ?? now) - a.raisedAt) / 1000 }));
      const share = (mark: number, pick: (t: (typeof times)[number]) => number | null, of = times) => {
        const judged = of.filter((t) => pick(t) !== null || t.ageS >= mark);
        return judged.length ? judged.filter((t) => pick(t) !== null && pick(t)! <= mark).length / judged.length : null;
      };
      const acks = times.map((t) => t.toAckS).filter((x): x is number => x !== null);
      const resolves = times.map((t) => t.toResolveS).filter((x): x is number => x !== null);
      const dispatched = times.filter((t) => t.a.dispatch?.target);
      const accepts = dispatched.map((t) => t.toAcceptS).filter((x): x is number => x !== null);
      const arrivals = dispatched.map((t) => t.toArriveS).filter((x): x is number => x !== null);
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
        dispatched: dispatched.length,
        arrivedByReinforcementMark: share(marks.reinforceS, (t) => t.toArriveS, dispatched),
        toAcceptP50S: quantile(accepts, 0.5),
        toAcceptP90S: quantile(accepts, 0.9),
        toArriveP50S: quantile(arrivals, 0.5),
        toArriveP90S: quantile(arrivals, 0.9),
      };
    })
    .sort((a, b) => a.site.localeCompare(b.site) || a.type.localeCompare(b.type));
}
