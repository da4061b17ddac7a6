/**
 * The 1-3-5 rule measured, on an injected clock: time to acknowledge and to resolve per alert, the
 * Prometheus histograms, the per-site report of the API (shares within 1, 3 and 5 minutes), and the
 * figures on the InfluxDB alert points.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceTopic } from '../devices/index.ts';
import { slaReport } from '../edge/alerts/sla.ts';
import type { AlertRecord } from '../edge/alerts/store.ts';
import { closeAll, connectDevice, scrape, startTestGateway, until, type TestGateway } from './helpers/gateway.ts';

const T0 = Date.parse('2026-03-02T08:00:00Z');
let clock = T0;
let t: TestGateway;

beforeAll(async () => {
  t = await startTestGateway({}, [], () => clock);
});
afterAll(async () => {
  await closeAll();
  await t?.stop();
});

const rec = (over: Partial<AlertRecord>): AlertRecord =>
  ({ site: 's', type: 'fire', raisedAt: T0, acknowledgedAt: null, resolvedAt: null, ...over }) as AlertRecord;

describe('slaReport', () => {
  it('shares in time per site and type; an open alert past a mark counts as missed, before it is not judged yet', () => {
    const marks = { respondS: 60, handleS: 180, reinforceS: 300 };
    const rows = slaReport(
      [
        rec({ acknowledgedAt: T0 + 30_000, resolvedAt: T0 + 150_000 }), // all in time
        rec({ acknowledgedAt: T0 + 90_000, resolvedAt: T0 + 240_000 }), // late to respond, handled by the 5
        rec({ raisedAt: T0 + 500_000 }), // open, 100 s old at `now`: missed the 1, not yet judged on the 3 and 5
        rec({ type: 'sos', site: 't', resolvedAt: T0 + 20_000 }), // resolved at once: responded by resolving
      ],
      marks,
      T0 + 600_000,
    );
    expect(rows).toEqual([
      {
        site: 's',
        type: 'fire',
        alerts: 3,
        acknowledged: 2,
        resolved: 2,
        respondedInTime: 1 / 3,
        handledInTime: 1 / 2,
        handledByReinforcementMark: 1,
        toAckP50S: 30,
        toAckP90S: 90,
        toResolveP50S: 150,
        toResolveP90S: 240,
        dispatched: 0,
        arrivedByReinforcementMark: null,
        toAcceptP50S: null,
        toAcceptP90S: null,
        toArriveP50S: null,
        toArriveP90S: null,
      },
      expect.objectContaining({ site: 't', type: 'sos', respondedInTime: 1, handledInTime: 1, toAckP50S: 20 }),
    ]);
  });

  it('the 5 of 1-3-5: time to the first acceptance and the first arrival of dispatched officers; an open alert past the mark with nobody on scene missed it', () => {
    const marks = { respondS: 60, handleS: 180, reinforceS: 300 };
    const sent = (accepted: number | null, arrived: number | null) =>
      ({
        target: { lat: 0, lon: 0, source: 'zone' },
        acceptedAt: accepted === null ? null : T0 + accepted * 1000,
        arrivedAt: arrived === null ? null : T0 + arrived * 1000,
      }) as AlertRecord['dispatch'];
    const [row] = slaReport(
      [
        rec({ dispatch: sent(20, 200), resolvedAt: T0 + 400_000 }), // on scene at 200 s: in time
        rec({ dispatch: sent(40, 360), resolvedAt: T0 + 400_000 }), // on scene at 360 s: late
        rec({ dispatch: sent(null, null) }), // open, nobody accepted, 600 s old: missed
        rec({ dispatch: sent(null, null), resolvedAt: T0 + 100_000 }), // resolved before the mark: not judged on arrival
        rec({}), // nobody sent: not in the dispatch figures
      ],
      marks,
      T0 + 600_000,
    );
    expect(row).toMatchObject({
      alerts: 5,
      dispatched: 4,
      arrivedByReinforcementMark: 1 / 3,
      toAcceptP50S: 20,
      toAcceptP90S: 40,
      toArriveP50S: 200,
      toArriveP90S: 360,
    });
  });
});

describe('the 1-3-5 rule in a running gateway', () => {
  it('times to acknowledge and resolve go to Prometheus, the API report and InfluxDB points', async () => {
    const door = { site: 'sla', kind: 'door', deviceId: 'sla-door-1' };
    const c = await connectDevice(t.mqttUrl, door);
    await c.publishAsync(deviceTopic(door, 'event'), JSON.stringify({ type: 'forced_open' }), { qos: 1 });
    const a = await until(() => t.gw.alerts.store.query({ site: 'sla', type: 'forced_entry' })[0], 'forced_entry raised');
    const act = (action: string) =>
      fetch(`${t.httpUrl}/api/v1/alerts/${a.id}/${action}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    clock += 45_000;
    expect((await act('ack')).status).toBe(200);
    clock += 155_000; // resolved 200 s after the raise: after the 3-minute mark, before the 5
    expect((await act('resolve')).status).toBe(200);

    const metrics = await scrape(t.httpUrl);
    expect(metrics).toMatch(/vigil_alert_time_to_ack_seconds_bucket\{le="60",site="sla",type="forced_entry",severity="critical"\} 1/);
    expect(metrics).toMatch(/vigil_alert_time_to_ack_seconds_bucket\{le="30",site="sla",type="forced_entry",severity="critical"\} 0/);
    expect(metrics).toMatch(/vigil_alert_time_to_resolve_seconds_sum\{site="sla",type="forced_entry",severity="critical",by="operator"\} 200/);

    const report = (await (await fetch(`${t.httpUrl}/api/v1/sla?site=sla&since=${new Date(T0 - 60_000).toISOString()}`)).json()) as {
      marks: Record<string, number>;
      rows: Record<string, unknown>[];
    };
    expect(report.marks).toEqual({ respondS: 60, handleS: 180, reinforceS: 300 });
    expect(report.rows).toEqual([
      expect.objectContaining({
        site: 'sla',
        type: 'forced_entry',
        alerts: 1,
        respondedInTime: 1,
        handledInTime: 0,
        handledByReinforcementMark: 1,
        toAckP50S: 45,
        toResolveP50S: 200,
      }),
    ]);

    const line = t.gw.forwarding.encoder.alert(t.gw.alerts.store.get(a.id)!, 'resolved', clock).line;
    expect(line).toMatch(/time_to_ack_s=45[, ]/);
    expect(line).toMatch(/time_to_resolve_s=200[, ]/);
  });
});
