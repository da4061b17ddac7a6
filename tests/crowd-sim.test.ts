/**
 * The simulated crowd of a hub's zones (simulators/crowd.ts), read in the zone's own time zone: rush
 * hours on weekdays, quiet nights, weekends and holidays differ, a Friday concert is large at the
 * plaza; a surge fills a gate within two minutes and a dispersal empties a zone within half a minute,
 * on every camera; through MQTT, cameras report the zone's count and stage the labelled incidents.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrowdZone, type CrowdZoneSpec } from '../simulators/crowd.ts';
import { createSim } from '../simulators/fleet.ts';
import type { CameraSim } from '../simulators/kinds/camera.ts';
import { LabelLog } from '../simulators/labels.ts';
import { closeAll, startTestGateway, until, type TestGateway } from './helpers/gateway.ts';

const TZ = 'Asia/Shanghai';
/** 2026-03-02 is a Monday; hh:mm in Shanghai (UTC+8). */
const on = (day: number, hh: number, mm = 0) => Date.UTC(2026, 2, 2 + day, hh - 8, mm);
const gate: CrowdZoneSpec = { site: 'hub', zone: 'gate-3', type: 'gate', capacity: 440, timezone: TZ, holidays: ['2026-03-04'] };
const plaza: CrowdZoneSpec = {
  site: 'hub',
  zone: 'plaza',
  type: 'plaza',
  capacity: 3000,
  timezone: TZ,
  events: [{ weekday: 5, from: 19 * 60, peak: 20 * 60, to: 23 * 60, extra: 0.7 }],
};
/** Mean count over an hour, minute by minute. */
const hourly = (z: CrowdZone, t: number) => Array.from({ length: 60 }, (_, i) => z.normal(t + i * 60_000)).reduce((a, b) => a + b, 0) / 60;

describe('the simulated crowd', () => {
  it('follows the day and the week in the zone’s time zone: weekday rushes, quiet nights, weekends and holidays, the Friday concert', () => {
    const g = new CrowdZone(gate, 1);
    const [night, rush, midday, evening] = [on(0, 3), on(0, 7, 40), on(0, 12, 30), on(0, 17, 30)].map((t) => hourly(g, t)) as [number, number, number, number];
    expect(rush).toBeGreaterThan(0.35 * gate.capacity);
    expect(evening).toBeGreaterThan(0.3 * gate.capacity);
    expect(midday).toBeLessThan(rush / 2);
    expect(night).toBeLessThan(0.03 * gate.capacity);
    expect(hourly(g, on(5, 7, 40))).toBeLessThan(rush / 3); // Saturday morning
    expect(hourly(g, on(2, 7, 40))).toBeLessThan(rush / 3); // Wednesday, a holiday
    const p = new CrowdZone(plaza, 1);
    expect(hourly(p, on(4, 19, 30))).toBeGreaterThan(3 * hourly(p, on(3, 19, 30))); // Friday's concert against Thursday evening
    // The same minute reads the same, whoever asks.
    expect(new CrowdZone(gate, 1).normal(on(0, 8, 10))).toBe(g.normal(on(0, 8, 10)));
  });

  it('a surge fills a gate to near capacity within two minutes; a dispersal empties a dense zone within half a minute; cameras see about the whole crowd', () => {
    const g = new CrowdZone(gate, 2);
    const t0 = on(0, 8, 30);
    const before = g.count(t0);
    g.start('crowd_surge', t0);
    expect(g.count(t0 + 120_000)).toBeGreaterThan(0.9 * gate.capacity);
    expect(g.count(t0 + 120_000) - before).toBeGreaterThan(100);
    expect(g.count(t0 + 30 * 60_000)).toBeLessThan(0.8 * gate.capacity); // eased
    const p = new CrowdZone(plaza, 2);
    const t1 = on(4, 20, 0); // the concert at its height
    const dense = p.count(t1);
    p.start('crowd_dispersal', t1);
    expect(p.count(t1 + 30_000)).toBeLessThan(0.15 * dense);
    const seen = [0, 1, 2].map((c) => p.reported(t1 + 45_000, c));
    for (const n of seen) expect(n).toBeLessThan(0.2 * dense);
    const normal = [0, 1, 2].map((c) => g.reported(on(0, 13), c));
    for (const n of normal) expect(Math.abs(n - g.count(on(0, 13)))).toBeLessThanOrEqual(Math.ceil(0.25 * g.count(on(0, 13))) + 2);
  });
});

describe('cameras counting a zone', () => {
  let t: TestGateway;
  const clock = (() => {
    const start = on(0, 8, 0);
    const t0 = Date.now();
    return () => start + (Date.now() - t0) * 60; // device time a minute per second
  })();
  beforeAll(async () => {
    t = await startTestGateway({ security: { messagesPerSecond: 100_000, messageBurst: 100_000 } }, [], clock);
  });
  afterAll(async () => {
    await closeAll();
    await t.stop();
  });

  it('report the zone’s count every 15 s and stage a labelled surge seen by every camera of the zone', async () => {
    const zone = new CrowdZone({ ...gate, zone: 'gate-9' }, 5);
    const labels = new LabelLog();
    const cams = [0, 1].map((i) => {
      const c = createSim('camera', { url: t.mqttUrl, site: 'hub', deviceId: `hub-cam-g9-${i}`, speed: 60, seed: 5, now: clock, labels }) as CameraSim;
      c.crowd = { zone, camera: i };
      return c;
    });
    for (const c of cams) await c.start();
    try {
      const counts = (id: string) => t.gw.states.get(id)?.lastEvent?.data['type'] === 'crowd_count';
      await until(() => cams.every((c) => counts(c.id)), 'crowd counts from both cameras', 10_000);
      expect(cams[0]!.incidents).toContain('crowd_surge');
      void cams[0]!.incident('crowd_surge');
      expect(labels.labels.at(-1)).toMatchObject({
        type: 'crowd_surge',
        deviceId: 'hub-cam-g9-0',
        note: expect.stringMatching(/^gate-9: a late train unloads/),
      });
      await until(() => cams.every((c) => Number(t.gw.states.get(c.id)?.lastEvent?.data['count']) > 0.8 * gate.capacity), 'both cameras see the surge', 15_000);
    } finally {
      for (const c of cams) await c.stop();
    }
  });
});
