/**
 * Detector state survives a restart. Unit level: every kind's learned state, snapshot and restored
 * into a fresh instance, computes exactly what the original computes next. End to end: a camera
 * taped over before a restart of the gateway is still taped after it — its reference view and the
 * alarm in progress come back from the checkpoint, so the tape does not become the new normal.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { CameraFeatures } from '../edge/features/camera.ts';
import { CrowdFeatures } from '../edge/features/crowd.ts';
import { DoorFeatures, SiteCredentials } from '../edge/features/door.ts';
import { FallFeatures } from '../edge/features/fall.ts';
import { SmokeFeatures } from '../edge/features/smoke.ts';
import { Decision } from '../edge/inference/decision.ts';
import type { Condition } from '../edge/alerts/model.ts';
import { SceneRenderer } from '../simulators/scene.ts';
import { startTestGateway, until, type TestGateway } from './helpers/gateway.ts';

const json = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

describe('snapshot → restore computes what the original computes next', () => {
  it('smoke: baseline, last minute and freeze', () => {
    const a = new SmokeFeatures();
    for (let i = 0; i < 40; i++) a.push({ ts: i * 10_000, temperature_c: 21 + i * 0.01, humidity_pct: 45, eco2_ppm: 450 + i });
    a.frozen = true;
    const b = SmokeFeatures.restore(json(a.snapshot()));
    const next = (t: number) => ({ ts: 400_000 + t * 10_000, temperature_c: 23 + t, humidity_pct: 40 - t, eco2_ppm: 900 * (t + 1) });
    for (let t = 0; t < 5; t++) expect(b.push(next(t))).toEqual(a.push(next(t)));
  });

  it('man down: the learned upright and the last two minutes', () => {
    const a = new FallFeatures();
    const win = (t: number, g: number[]) =>
      FallFeatures.windowSamples(
        t,
        50,
        Array.from({ length: 50 }, () => g),
      );
    for (let s = 1; s <= 30; s++) a.push(win(s * 1000, [0, 0, 1]));
    a.push(win(31_000, [3.5, 0.2, 0.1]));
    const b = FallFeatures.restore(json(a.snapshot()));
    for (let s = 32; s < 40; s++) expect(b.push(win(s * 1000, [1, 0, 0]))).toEqual(a.push(win(s * 1000, [1, 0, 0])));
  });

  it('door: hour profile, credentials, denials, and the site map rebuilt from them', () => {
    const siteA = new SiteCredentials();
    const a1 = new DoorFeatures('d1', siteA, (ts) => Math.floor(ts / 3_600_000) % 24);
    const a2 = new DoorFeatures('d2', siteA, (ts) => Math.floor(ts / 3_600_000) % 24);
    for (let i = 0; i < 50; i++) a1.push({ ts: i * 600_000, granted: true, credential: `card:${i % 7}` });
    a2.push({ ts: 1000, granted: true, credential: 'card:99' });
    a1.push({ ts: 30_000_000, granted: false, credential: 'pin:x' });
    const siteB = new SiteCredentials();
    const hourOf = (ts: number) => Math.floor(ts / 3_600_000) % 24;
    const b1 = DoorFeatures.restore(json(a1.snapshot()), 'd1', siteB, hourOf);
    DoorFeatures.restore(json(a2.snapshot()), 'd2', siteB, hourOf);
    for (const e of [
      { ts: 30_100_000, granted: false, credential: 'pin:y' },
      { ts: 30_200_000, granted: true, credential: 'card:99' },
      { ts: 30_300_000, granted: true, credential: 'card:3' },
    ]) {
      expect(b1.push(e)).toEqual(a1.push(e));
    }
  });

  it('camera: the reference view and the freeze', async () => {
    const scene = new SceneRenderer('st-cam', 3);
    const a = new CameraFeatures();
    for (let i = 0; i < 4; i++) {
      const { stats } = await a.push(await scene.frame(4));
      a.learn(stats);
    }
    a.frozen = true;
    const b = CameraFeatures.restore(json(a.snapshot()));
    const covered = await scene.frame(0, 'covered');
    expect((await b.push(covered)).features).toEqual((await a.push(covered)).features);
  });

  it('crowd: the learned week, the quarter being lived, each camera’s last reports', () => {
    const ctx = { capacity: 300, timezone: 'Asia/Shanghai' };
    const a = new CrowdFeatures();
    const t0 = Date.UTC(2026, 2, 2, 0, 0);
    for (let k = 0; k < 400; k++) a.push({ ts: t0 + k * 5000, camera: `c${k % 3}`, count: 50 + (k % 17) }, ctx);
    a.frozen = true;
    const b = CrowdFeatures.restore(json(a.snapshot()));
    for (let k = 400; k < 420; k++) {
      const r = { ts: t0 + k * 5000, camera: `c${k % 3}`, count: 50 + 10 * (k - 400) };
      expect(b.push(r, ctx)).toEqual(a.push(r, ctx));
    }
    expect(b.usual(t0 + 7 * 86_400_000, ctx)).toEqual(a.usual(t0 + 7 * 86_400_000, ctx));
  });

  it('decision: an alarm in progress stays raised', () => {
    const a = new Decision({ alert: 0.8, clear: 0.4, persist: 2 });
    a.update(0.9, 0);
    expect(a.update(0.9, 1)).toBe('raise');
    const b = Decision.restore({ alert: 0.8, clear: 0.4, persist: 2 }, json(a.snapshot()));
    expect([b.update(0.3, 2), b.update(0.9, 3), b.update(0.3, 4), b.update(0.3, 5)]).toEqual([
      a.update(0.3, 2),
      a.update(0.9, 3),
      a.update(0.3, 4),
      a.update(0.3, 5),
    ]);
  });
});

describe('across a gateway restart', () => {
  it('a taped camera stays taped: reference and alarm come back from the checkpoint, and the tape never becomes the reference', async () => {
    const modelsDir = fileURLToPath(new URL('../models', import.meta.url));
    const dataDir = mkdtempSync(join(tmpdir(), 'vigil-ds-'));
    const overrides = { dataDir, inference: { modelsDir }, security: { messagesPerSecond: 10_000, messageBurst: 10_000 }, alerts: { startupGraceS: 0 } };
    const scene = new SceneRenderer('ds-cam-1', 5);
    const topic = 'vigil/v1/ds/camera/ds-cam-1/snapshot';
    const send = async (url: string, frames: Buffer[]) => {
      const c = await mqtt.connectAsync(url, { clientId: 'ds-cam-1', reconnectPeriod: 0 });
      for (const f of frames) await c.publishAsync(topic, f, { qos: 1 });
      await c.endAsync();
    };

    const t1 = await startTestGateway(overrides);
    const decisions1: Condition[] = [];
    t1.gw.detectors.onDecision((_m, c) => decisions1.push(c));
    await send(t1.mqttUrl, [await scene.frame(3), await scene.frame(4), await scene.frame(3)]);
    const covered = await scene.frame(0, 'covered');
    await send(t1.mqttUrl, [covered, covered, covered]);
    await t1.gw.detectors.idle();
    await until(() => decisions1.some((c) => c.active && c.type === 'camera_tamper'), 'camera_tamper raised before the restart');
    const before = t1.gw.detectors.snapshot().find((r) => r.deviceId === 'ds-cam-1')!;
    expect(before.decision.active).toBe(true);
    await t1.stop(); // checkpoint at shutdown

    const t2 = await startTestGateway(overrides);
    try {
      const after = t2.gw.detectors.snapshot().find((r) => r.deviceId === 'ds-cam-1');
      expect(after, 'restored before any frame arrived').toBeDefined();
      expect(after!.state).toEqual(before.state);
      expect(after!.decision).toEqual(before.decision);
      const decisions2: Condition[] = [];
      const scores: number[] = [];
      t2.gw.detectors.onDecision((_m, c) => decisions2.push(c));
      t2.gw.detectors.onScore((_m, _msg, s) => scores.push(s));
      await send(t2.mqttUrl, [covered, covered, covered, covered]);
      await t2.gw.detectors.idle();
      expect(scores).toHaveLength(4);
      // Still seen as taped (at or above the clear threshold), so no clear and no second raise.
      expect(Math.min(...scores)).toBeGreaterThanOrEqual(0.4);
      expect(decisions2).toEqual([]);
      expect(t2.gw.alerts.store.query({ site: 'ds', type: 'camera_tamper' }).filter((a) => a.state === 'raised')).toHaveLength(1);
    } finally {
      await t2.stop();
    }
  }, 60_000);

  it('a zone’s crowd keeps its learned week and its surge alarm: one alert, and it clears in its zone', async () => {
    const modelsDir = fileURLToPath(new URL('../models', import.meta.url));
    const dataDir = mkdtempSync(join(tmpdir(), 'vigil-ds-crowd-'));
    // Monday 2026-03-02 03:00 in Shanghai; devices send their own timestamps (skew allowed) so a quarter hour passes in a moment.
    const t0 = Date.UTC(2026, 2, 1, 19, 0);
    const overrides = {
      dataDir,
      inference: { modelsDir },
      ingest: { maxClockSkewMs: 86_400_000 },
      security: { messagesPerSecond: 100_000, messageBurst: 100_000 },
      alerts: { startupGraceS: 0 },
    };
    // Fifteen minutes of a zone's reports arrive here in a moment: paced so the zone's queue (detector maxQueue) never overflows.
    const send = async (t: TestGateway, from: number, reports: number, count: (k: number) => number) => {
      const cams = await Promise.all([0, 1, 2].map((i) => mqtt.connectAsync(t.mqttUrl, { clientId: `ds-gate-cam-${i}`, reconnectPeriod: 0 })));
      for (let k = 0; k < reports; k++) {
        const i = k % 3;
        const body = { ts: from + k * 5000, type: 'crowd_count', zone: 'gate-1', count: count(k) };
        await cams[i]!.publishAsync(`vigil/v1/ds/camera/ds-gate-cam-${i}/event`, JSON.stringify(body), { qos: 1 });
        if (k % 16 === 15) await t.gw.detectors.idle();
      }
      await Promise.all(cams.map((c) => c.endAsync()));
      return from + reports * 5000;
    };
    const t1 = await startTestGateway(overrides, [], () => t0);
    t1.gw.sites.put('ds', 'gate-1', { type: 'gate', capacity: 400, timezone: 'Asia/Shanghai' }, { id: 'test' });
    const decisions1: Condition[] = [];
    t1.gw.detectors.onDecision((_m, c) => decisions1.push(c));
    // Seventeen quiet minutes (a quarter hour learned), then a train unloads into the gate.
    let ts = await send(t1, t0, 17 * 12, () => 20);
    ts = await send(t1, ts, 30, (k) => Math.min(380, 20 + 15 * k));
    await t1.gw.detectors.idle();
    await until(() => decisions1.some((c) => c.active && c.type === 'crowd_surge'), 'crowd_surge raised before the restart', 15_000);
    expect(t1.gw.detectors.skipped).toBe(0);
    const before = t1.gw.detectors.snapshot().find((r) => r.deviceId === 'crowd-gate-1')!;
    expect(before).toMatchObject({ zone: 'gate-1', decision: { active: true } });
    await t1.stop();

    const t2 = await startTestGateway(overrides, [], () => t0);
    try {
      const after = t2.gw.detectors.snapshot().find((r) => r.deviceId === 'crowd-gate-1');
      expect(after, 'restored before any count arrived').toBeDefined();
      expect(after!.state).toEqual(before.state);
      expect(after!.decision).toEqual(before.decision);
      const decisions2: Condition[] = [];
      t2.gw.detectors.onDecision((_m, c) => decisions2.push(c));
      ts = await send(t2, ts, 12, () => 380); // still full: no second alert
      await t2.gw.detectors.idle();
      expect(decisions2).toEqual([]);
      await send(t2, ts + 300_000, 60, () => 20); // the gate empties
      await t2.gw.detectors.idle();
      await until(() => decisions2.find((c) => !c.active), 'the surge cleared', 15_000);
      expect(decisions2.find((c) => !c.active)).toMatchObject({ deviceId: 'crowd-gate-1', zone: 'gate-1', type: 'crowd_surge' });
      const alerts = t2.gw.alerts.store.query({ site: 'ds', type: 'crowd_surge' });
      expect(alerts.map((a) => [a.deviceId, a.zone])).toEqual([['crowd-gate-1', 'gate-1']]);
    } finally {
      await t2.stop();
    }
  }, 60_000);
});
