/** Where alerts live: the engine reads and writes through this; the gateway provides SQLite. */
import type { Alert, AlertEvent } from './model.ts';
import { dispatchView, type Dispatch } from './dispatch.ts';

/** An alert as stored: times in epoch ms, plus the engine's own bookkeeping. */
export type AlertRecord = Omit<
  Alert,
  'schema' | 'raisedAt' | 'lastSeenAt' | 'acknowledgedAt' | 'escalatedAt' | 'reinforcementRequestedAt' | 'resolvedAt' | 'dispatch'
> & {
  key: string;
  raisedAt: number;
  lastSeenAt: number;
  acknowledgedAt: number | null;
  escalatedAt: number | null;
  reinforcementRequestedAt: number | null;
  resolvedAt: number | null;
  /** Since when the condition has been clear (null: active). */
  clearSince: number | null;
  /** Reinforcement sent (absent in alerts stored before dispatch existed: none). */
  dispatch?: Dispatch | null;
};

export interface AlertQuery {
  state?: Alert['state'] | 'open';
  site?: string;
  sites?: string[];
  type?: string;
  since?: number;
  /** Page: alerts raised before this (raisedAt, id) cursor. */
  before?: { raisedAt: number; id: string };
  limit?: number;
}

export interface HistoryEntry {
  ts: number;
  event: AlertEvent;
  actor: string;
  detail: Record<string, unknown>;
  version: number;
}

export interface AlertStore {
  get(id: string): AlertRecord | undefined;
  findOpen(key: string): AlertRecord | undefined;
  findLatest(key: string): AlertRecord | undefined;
  openAlerts(): AlertRecord[];
  openInZone(site: string, zone: string, since: number): AlertRecord[];
  /** Insert or update; with an event, append it to the alert's history in the same transaction. */
  save(a: AlertRecord, event: AlertEvent | undefined, actor: string, detail?: Record<string, unknown>): void;
  query(q: AlertQuery): AlertRecord[];
  history(id: string): HistoryEntry[];
}

export const toAlert = (r: AlertRecord): Alert => {
  const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
  const { key: _key, clearSince: _clear, ...rest } = r;
  return {
    schema: 1,
    ...rest,
    raisedAt: iso(r.raisedAt)!,
    lastSeenAt: iso(r.lastSeenAt)!,
    acknowledgedAt: iso(r.acknowledgedAt),
    escalatedAt: iso(r.escalatedAt),
    reinforcementRequestedAt: iso(r.reinforcementRequestedAt),
    resolvedAt: iso(r.resolvedAt),
    dispatch: dispatchView(r.dispatch),
  };
};
