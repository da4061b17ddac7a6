/** The alert lifecycle with a controllable clock (no sleeps), on the real SQLite store. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { AlertEngine, type AlertPolicy } from '../edge/alerts/engine.ts';
import type { AlertEvent, Condition } from '../edge/alerts/model.ts';
import type { AlertRecord } from '../edge/alerts/store.ts';
import { escalationPolicy } from '../gateway/alerts/index.ts';
import { SqliteAlertStore } from '../gateway/alerts/sqlite-store.ts';
import { loadConfig } from '../gateway/config.ts';
import { openStore } from '../gateway/db.ts';

let clock = 0;
const S = 1000;
const policy = (over: Partial<AlertPolicy> = {}): AlertPolicy => ({
  holdDownMs: 300 * S,
  clearAfterMs: 60 * S,
  groupWindowMs: 120 * S,
  repeatPublishMs: 30 * S,
  escalation: () => ({ ackMs: 60 * S, reinforceMs: 180 * S, reescalateMs: 300 * S }),
  manualResolve: new Set(['sos', 'fire']),
  ...over,
});
const zones: Record<string, string> = { s1: 'hall', s2: 'hall', d1: 'gate' };

function setup(file = ':memory:', p = policy()) {
  const store = new SqliteAlertStore(openStore(file), () => clock);
  const engine = new AlertEngine(
    store,
    p,
    () => clock,
    (id) => zones[id] ?? null,
  );
  const events: { event: AlertEvent; alert: AlertRecord }[] = [];
  engine.onChange((alert, event) => events.push({ event, alert: structuredClone(alert) }));
  return { store, engine, events };
}

const cond = (over: Partial<Condition> = {}): Condition => ({
  site: 'hub1',
  deviceId: 's1',
  kind: 'smoke',
  type: 'door_held_open',
  active: true,
  severity: 'major',
  reason: 'held open',
  ts: clock,
  ...over,
});

beforeEach(() => {
  clock = Date.UTC(2026, 10, 29, 12);
});

describe('alert engine', () => {
  it('repeats of one condition update one alert; publications are throttled', () => {
    const { engine, store, events } = setup();
    for (let i = 0; i < 100; i++) {
      engine.signal(cond());
      clock += 100;
    }
    const all = store.query({});
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ state: 'raised', repeatCount: 99 });
    expect(events.map((e) => e.event)).toEqual(['raised']); // 10 s of repeats: inside repeatPublishS
    clock += 30 * S;
    engine.signal(cond());
    expect(events.map((e) => e.event)).toEqual(['raised', 'updated']);
    expect(store.history(all[0]!.id).filter((h) => h.event === 'updated')).toHaveLength(100);
  });

  it('auto-resolves only after the condition has been clear for clearAfter; a flicker back continues the alert', () => {
    const { engine, store } = setup();
    const a = engine.signal(cond())!;
    engine.signal(cond({ active: false }));
    clock += 59 * S;
    engine.tick();
    expect(store.get(a.id)!.state).toBe('raised');
    engine.signal(cond()); // back before clearAfter: same alert, clear timer reset
    engine.signal(cond({ active: false }));
    clock += 59 * S;
    engine.tick();
    expect(store.get(a.id)!.state).toBe('raised');
    clock += 1 * S;
    engine.tick();
    expect(store.get(a.id)).toMatchObject({ state: 'auto_resolved', resolvedBy: 'gateway' });
    expect(store.query({})).toHaveLength(1);
  });

  it('a condition returning within the hold-down reopens the same alert; later it is a new alert', () => {
    const { engine, store, events } = setup();
    const a = engine.signal(cond())!;
    engine.signal(cond({ active: false }));
    clock += 60 * S;
    engine.tick();
    clock += 100 * S;
    const b = engine.signal(cond())!;
    expect(b.id).toBe(a.id);
    expect(store.get(a.id)).toMatchObject({ state: 'raised', reopenCount: 1 });
    engine.signal(cond({ active: false }));
    clock += 60 * S;
    engine.tick();
    clock += 301 * S;
    const c = engine.signal(cond())!;
    expect(c.id).not.toBe(a.id);
    expect(events.map((e) => e.event)).toEqual(['raised', 'auto_resolved', 'reopened', 'auto_resolved', 'raised']);
  });

  it('a flapping sensor cannot storm: 200 on/off flips in 10 minutes make one alert and a handful of messages', () => {
    const { engine, store, events } = setup();
    for (let i = 0; i < 200; i++) {
      engine.signal(cond({ active: i % 2 === 0 }));
      clock += 3 * S;
      engine.tick();
    }
    expect(store.query({})).toHaveLength(1);
    expect(events.filter((e) => e.event === 'raised' || e.event === 'reopened')).toHaveLength(1);
    expect(events.length).toBeLessThan(40);
  });

  it('escalates on the 1-3-5 rule: not acknowledged at 60 s, reinforcement at 180 s, again at 300 s', () => {
    const { engine, store, events } = setup();
    const a = engine.signal(cond({ severity: 'major' }))!;
    clock += 59.9 * S;
    engine.tick();
    expect(events.map((e) => e.event)).toEqual(['raised']);
    clock += 0.1 * S;
    engine.tick();
    expect(store.get(a.id)).toMatchObject({ escalationLevel: 1, severity: 'critical', baseSeverity: 'major' });
    engine.acknowledge(a.id, 'operator-7');
    clock += 120 * S;
    engine.tick();
    expect(store.get(a.id)).toMatchObject({ reinforcementRequested: true, state: 'acknowledged' });
    clock += 120 * S;
    engine.tick();
    expect(store.get(a.id)).toMatchObject({ escalationLevel: 2, severity: 'critical' });
    expect(events.map((e) => e.event)).toEqual(['raised', 'escalated', 'acknowledged', 'reinforcement_requested', 'escalated']);
    engine.tick();
    expect(events).toHaveLength(5); // each step once
  });

  it('an alert acknowledged in time is not escalated at 60 s', () => {
    const { engine, store } = setup();
    const a = engine.signal(cond({ severity: 'minor' }))!;
    clock += 30 * S;
    engine.acknowledge(a.id, 'op');
    clock += 60 * S;
    engine.tick();
    expect(store.get(a.id)).toMatchObject({ escalationLevel: 0, severity: 'minor', state: 'acknowledged' });
  });

  it('escalation times can be set per site, type and severity', () => {
    const cfg = loadConfig({
      env: {},
      overrides: {
        alerts: {
          escalationOverrides: [
            { type: 'fire', ackS: 20 },
            { site: 'hub9', ackS: 5, reinforceS: 10, reescalateS: 15 },
          ],
        },
      },
    });
    const p = escalationPolicy(cfg.alerts);
    expect(p({ site: 'hub1', type: 'fire', baseSeverity: 'critical' })).toEqual({ ackMs: 20_000, reinforceMs: 180_000, reescalateMs: 300_000 });
    expect(p({ site: 'hub9', type: 'fire', baseSeverity: 'critical' })).toEqual({ ackMs: 5000, reinforceMs: 10_000, reescalateMs: 15_000 });
    expect(p({ site: 'hub1', type: 'sos', baseSeverity: 'critical' })).toEqual({ ackMs: 60_000, reinforceMs: 180_000, reescalateMs: 300_000 });
  });

  it('types that need an operator never auto-resolve', () => {
    const { engine, store } = setup();
    const a = engine.signal(cond({ type: 'sos', severity: 'critical' }))!;
    engine.signal(cond({ type: 'sos', active: false }));
    clock += 3600 * S;
    engine.tick();
    expect(store.get(a.id)!.state).not.toBe('auto_resolved');
    expect(engine.resolve(a.id, 'sergeant-2').state).toBe('resolved');
    expect(() => engine.acknowledge(a.id, 'late')).toThrow(/already resolved/);
  });

  it('groups alerts of one zone within the window into one incident', () => {
    const { engine } = setup();
    const a = engine.signal(cond({ deviceId: 's1', type: 'fire', severity: 'critical' }))!;
    clock += 30 * S;
    const b = engine.signal(cond({ deviceId: 's2', kind: 'camera', type: 'camera_tamper' }))!;
    const c = engine.signal(cond({ deviceId: 'd1', kind: 'door', type: 'forced_entry' }))!;
    expect(b.incidentId).toBe(a.id);
    expect(c.incidentId).toBe(c.id); // another zone
  });

  it('escalation deadlines survive a restart: they are computed from persisted times', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'vigil-alerts-')), 'vigil.db');
    const first = setup(file);
    const a = first.engine.signal(cond())!;
    clock += 61 * S; // the gateway was down across the deadline
    const second = setup(file);
    second.engine.tick();
    expect(second.store.get(a.id)).toMatchObject({ escalationLevel: 1 });
    expect(second.events.map((e) => e.event)).toEqual(['escalated']);
  });
});

describe('several sources on one condition', () => {
  it('a condition raised by a rule and a model clears only when both have cleared', async () => {
    const { ConditionSources } = await import('../edge/alerts/sources.ts');
    const seen: Condition[] = [];
    const s = new ConditionSources((c) => seen.push(c));
    const base = { site: 'x', deviceId: 's1', kind: 'smoke', type: 'fire' as const, severity: 'critical' as const, reason: '', ts: 0 };
    s.signal({ ...base, active: true, source: 'model:smoke-fire' });
    s.signal({ ...base, active: true });
    s.signal({ ...base, active: false }); // the rule: readings back to normal
    expect(seen.map((c) => c.active)).toEqual([true, true]);
    expect(s.sourcesOf(base)).toEqual(['model:smoke-fire']);
    s.signal({ ...base, active: false, source: 'model:smoke-fire' });
    expect(seen.map((c) => c.active)).toEqual([true, true, false]);
    // A source that never raised it may still clear (nothing is open; the engine ignores it).
    s.signal({ ...base, active: false });
    expect(seen.length).toBe(4);
  });
});
