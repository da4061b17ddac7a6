/**
 * The shipped detectors in a running gateway, fed by the simulators over MQTT: each fires on its
 * kind's labelled incidents, says why, and stays quiet on normal traffic. Time runs 200× faster
 * for the simulators; the detectors read device time (and a body camera's IMU timeline).
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Condition } from '../edge/alerts/model.ts';
import { CameraFeatures } from '../edge/features/camera.ts';
import type { SimDevice } from '../simulators/device.ts';
import { clockAt, compressedClock } from '../simulators/clock.ts';
import { createSim, Fleet } from '../simulators/fleet.ts';
import type { IncidentType } from '../simulators/labels.ts';
import type { PipelineStage } from '../edge/pipeline.ts';
import type { DeviceMessage } from '../edge/message.ts';
import { closeAll, connect, getJson, startTestGateway, until, type TestGateway } from './helpers/gateway.ts';

const modelsDir = fileURLToPath(new URL('../models', import.meta.url));
let t: TestGateway;
let fleet: Fleet;
/**
 * The hours this suite exercises are pinned, not read from the wall clock: the fleet and the gateway
 * live at 08:00 local time — the morning rush, crowds in every camera view — and two more doors at
 * the rush on their own clocks (device time is taken as sent: the skew bound is a day), so the suite
 * means the same at any hour and in any zone. (A brute force on a door with almost no history, at
 * night, can stay under the door model's threshold; the brute_force rule still raises it.)
 */
const rushHour = clockAt(8);
let rushDoors: SimDevice[] = [];
const decisions: { model: string; c: Condition }[] = [];
/**
 * Tests stand alone, in any order: incidents go to the first device of each kind (or to devices a
 * test makes for itself); "stay quiet" watches the others, which no test disturbs.
 */
const quiet = () => [...fleet.devices.filter((d) => fleet.ofKind(d.kind).indexOf(d) > 0), ...rushDoors].map((d) => d.id);
const raised = (model: string, deviceId: string) => decisions.filter((d) => d.model === model && d.c.deviceId === deviceId && d.c.active);

/** The accepted messages that feed each model, and the ones each model scored: every one fed must be scored. */
const ids = ['smoke-fire', 'bodycam-man-down', 'camera-tamper', 'door-behaviour'];
const fed = new Map<string, DeviceMessage[]>(ids.map((id) => [id, []]));
const scored = new Map<string, Set<DeviceMessage>>(ids.map((id) => [id, new Set()]));
const counter: PipelineStage = {
  name: 'count-fed',
  accept: (m) => {
    if (m.kind === 'smoke' && m.channel === 'telemetry') fed.get('smoke-fire')!.push(m);
    if (m.kind === 'bodycam' && m.channel === 'telemetry' && m.data['imu']) fed.get('bodycam-man-down')!.push(m);
    if (m.kind === 'camera' && m.channel === 'snapshot') fed.get('camera-tamper')!.push(m);
    if (m.kind === 'door' && m.channel === 'event' && String(m.data['type']).startsWith('access_')) fed.get('door-behaviour')!.push(m);
  },
};
const smokeTelemetry = () => fed.get('smoke-fire')!.length;

beforeAll(async () => {
  t = await startTestGateway(
    {
      inference: { modelsDir },
      ingest: { maxClockSkewMs: 86_400_000 },
      security: { messagesPerSecond: 100_000, messageBurst: 100_000 },
      alerts: { startupGraceS: 0 },
    },
    [counter],
    rushHour,
  );
  t.gw.detectors.onDecision((model, c) => decisions.push({ model, c }));
  t.gw.detectors.onScore((model, m) => scored.get(model)?.add(m));
  fleet = new Fleet({ url: t.mqttUrl, sites: ['det'], perKind: { smoke: 2, bodycam: 2, camera: 2 }, speed: 200, seed: 11, now: rushHour });
  // Doors are judged on rates (denials per minute, per ten minutes): their device time runs as fast as the
  // simulators (200×) from 08:00, so their traffic has its real rate whenever in the run a test looks at it.
  const doorClock = compressedClock(200, rushHour());
  fleet.devices.push(
    ...[1, 2].map((n) => createSim('door', { url: t.mqttUrl, site: 'det', deviceId: `det-door-0${n}`, speed: 200, seed: 11, now: doorClock })),
  );
  await fleet.start();
  const rush = compressedClock(200, clockAt(8)());
  rushDoors = [1, 2].map((n) => createSim('door', { url: t.mqttUrl, site: 'det', deviceId: `det-door-rush-${n}`, speed: 200, seed: 11, now: rush }));
  for (const d of rushDoors) await d.start();
  await until(() => [...fleet.devices, ...rushDoors].every((d) => t.gw.states.get(d.id)?.online), 'fleet online', 10_000);
}, 30_000);
afterAll(async () => {
  await fleet?.stop();
  for (const d of rushDoors) await d.stop();
  await closeAll();
  await t?.stop();
});

describe('shipped detectors', () => {
  it('all five models load, match their detectors, and /readyz names them', async () => {
    const models = await getJson<{ models: { id: string; kind: string }[]; problems: unknown[] }>(`${t.httpUrl}/api/v1/models`);
    expect(models.body.models.map((m) => `${m.kind}:${m.id}`).sort()).toEqual([
      'bodycam:bodycam-man-down',
      'camera:camera-tamper',
      'camera:crowd-zone',
      'door:door-behaviour',
      'smoke:smoke-fire',
    ]);
    expect(models.body.problems).toEqual([]);
    const ready = await getJson<{ checks: { inference: { detail: string } } }>(`${t.httpUrl}/readyz`);
    expect(ready.body.checks.inference.detail).toMatch(/smoke-fire@1\.0\.0/);
  });

  it('stay quiet on normal traffic while scoring every window', async () => {
    await new Promise((r) => setTimeout(r, 6000)); // ≈ 20 simulated minutes
    // Everything fed until now is in the detectors' queues, which idle() drains.
    const fedNow = new Map([...fed].map(([id, ms]) => [id, [...ms]]));
    await t.gw.detectors.idle();
    for (const id of ids) {
      const ms = fedNow.get(id)!;
      expect(ms.length, id).toBeGreaterThanOrEqual(id === 'camera-tamper' ? 3 : 10);
      // A camera's first snapshots form its reference and are not scored (warm-up); every other window is.
      const warmup = (m: DeviceMessage) => id === 'camera-tamper' && ms.filter((x) => x.deviceId === m.deviceId).indexOf(m) < CameraFeatures.WARMUP;
      expect(ms.filter((m) => !warmup(m) && !scored.get(id)!.has(m)).length, `${id}: windows fed but never scored`).toBe(0);
      expect(ms.filter((m) => warmup(m) && scored.get(id)!.has(m)).length, `${id}: warm-up windows scored`).toBe(0);
    }
    expect(quiet().length).toBeGreaterThanOrEqual(6);
    expect(decisions.filter((d) => d.c.active && quiet().includes(d.c.deviceId)).map((d) => `${d.model} ${d.c.deviceId} ${d.c.reason}`)).toEqual([]);
    expect(t.gw.detectors.skipped).toBe(0);
  }, 20_000);

  const cases: [IncidentType, string, string, string][] = [
    ['fire', 'smoke', 'smoke-fire', 'fire_suspected'],
    ['man_down', 'bodycam', 'bodycam-man-down', 'man_down'],
    ['camera_covered', 'camera', 'camera-tamper', 'camera_tamper'],
    ['camera_defocused', 'camera', 'camera-tamper', 'camera_tamper'],
    ['camera_moved', 'camera', 'camera-tamper', 'camera_tamper'],
    ['camera_glare', 'camera', 'camera-tamper', 'camera_tamper'],
    ['camera_dark', 'camera', 'camera-tamper', 'camera_tamper'],
    ['brute_force', 'door', 'door-behaviour', 'brute_force'],
  ];
  it.each(cases)(
    '%s: the %s model %s raises %s on the incident, with a reason, and clears after it',
    async (incident, kind, model, type) => {
      const device = fleet.ofKind(kind as 'smoke')[0]!;
      // Whenever this case runs, the device is past its warm-up: its detector has scored some normal windows.
      await until(() => [...scored.get(model)!].filter((m) => m.deviceId === device.id).length >= 3, `${model} scoring ${device.id}`, 15_000);
      const n = raised(model, device.id).length;
      await device.incident(incident);
      // Polled for up to 20 s: on a loaded 2-core machine the simulated incident and the batched scoring both slow down.
      await until(() => raised(model, device.id).length > n, `${model} raised on ${device.id}`, 20_000);
      const d = raised(model, device.id).at(-1)!.c;
      expect(d.type).toBe(type);
      expect(d.reason).toMatch(new RegExp(`\\(model ${model} [01]\\.\\d\\d\\)$`));
      expect(d.evidence).toMatchObject({ model, version: '1.0.0', score: expect.any(Number) });
      // One alert for the incident, whatever the rules said about it too.
      const open = t.gw.alerts.store.query({ site: 'det', type: type as 'fire' }).filter((a) => a.deviceId === device.id);
      expect(open.length).toBe(1);
      if (kind !== 'door')
        await until(
          () =>
            decisions.some(
              (x) =>
                x.model === model && x.c.deviceId === device.id && !x.c.active && decisions.indexOf(x) > decisions.indexOf(raised(model, device.id).at(-1)!),
            ),
          `${model} cleared`,
          15_000,
        );
    },
    50_000,
  );

  it("a fire is confirmed (critical fire) beyond the model's pre-alarm; vape, frying and toast give at most a pre-alarm, never a critical fire", async () => {
    // Two detectors of its own, on the fleet's clock, with a baseline of normal readings first.
    const [a, b] = ['det-smoke-fire', 'det-smoke-nuisance'].map((id) =>
      createSim('smoke', { url: t.mqttUrl, site: 'det', deviceId: id, speed: 200, seed: 11, now: rushHour }),
    );
    for (const d of [a!, b!]) await d.start();
    await until(
      () => fed.get('smoke-fire')!.filter((m) => m.deviceId === a!.id).length >= 30 && fed.get('smoke-fire')!.filter((m) => m.deviceId === b!.id).length >= 30,
      'a baseline',
      15_000,
    );
    const fires = (id: string) => t.gw.alerts.store.query({ site: 'det', type: 'fire' }).filter((x) => x.deviceId === id);
    for (const nuisance of ['vape', 'cooking', 'toaster'] as const) {
      await b!.incident(nuisance);
      await t.gw.detectors.idle();
      expect(fires(b!.id), `${nuisance} raised a critical fire`).toEqual([]);
    }
    // A real fire is confirmed: by heat, or by the obscuration alarm a little later.
    await a!.incident('fire');
    await until(() => fires(a!.id).length > 0, 'a critical fire for the real fire');
    expect(fires(a!.id)[0]!.severity).toBe('critical');
    for (const d of [a!, b!]) await d.stop();
  }, 60_000);

  it('a slow smoulder (little heat or gas) is caught on the steady rise of smoke before the alarm level', async () => {
    // Its own device, on a clock as compressed as its schedule: 20 minutes of smoke are 20 minutes of device time.
    const b = createSim('smoke', { url: t.mqttUrl, site: 'det', deviceId: 'det-smoke-slow', speed: 200, seed: 11, now: compressedClock(200, rushHour()) });
    await b.start();
    await until(() => t.gw.states.get(b.id)?.online, 'smoulder detector online');
    const raisedFires: { reason: string; obscuration: unknown }[] = [];
    t.gw.alerts.onChange(({ alert, event }) => {
      if (alert.deviceId === b.id && alert.type === 'fire' && event === 'raised')
        raisedFires.push({ reason: alert.reason, obscuration: alert.evidence['obscuration_pct_m'] });
    });
    await b.incident('smoulder');
    expect(raisedFires).toHaveLength(1);
    expect(raisedFires[0]!.reason).toMatch(/smoke rising steadily: .* \(smouldering fire\)/);
    expect(raisedFires[0]!.obscuration).toBeLessThan(4); // before the alarm level of the obscuration rule
    await b.stop();
  }, 30_000);

  it('a hot reload under traffic scores every window: none lost between the versions', async () => {
    const from = smokeTelemetry();
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 200));
      await t.gw.reloadModel('smoke-fire');
    }
    await new Promise((r) => setTimeout(r, 300));
    const during = fed.get('smoke-fire')!.slice(from);
    await t.gw.detectors.idle();
    expect(during.length).toBeGreaterThan(10);
    expect(during.filter((m) => !scored.get('smoke-fire')!.has(m)).length).toBe(0);
  });

  it('the door model learns who uses which door: a credential of another door is an access anomaly', async () => {
    const [a, b] = ['det-door-x1', 'det-door-x2'];
    const ca = await connect(t.mqttUrl, { clientId: a });
    const cb = await connect(t.mqttUrl, { clientId: b });
    const grant = (c: typeof ca, door: string, id: string) =>
      c.publishAsync(`vigil/v1/det/door/${door}/event`, JSON.stringify({ type: 'access_granted', credential: { type: 'card', id } }), { qos: 1 });
    for (let i = 0; i < 60; i++) {
      await grant(ca, a, `a-staff-${i % 6}`);
      await grant(cb, b, `b-staff-${i % 6}`);
    }
    await t.gw.detectors.idle();
    expect(raised('door-behaviour', a).concat(raised('door-behaviour', b))).toEqual([]);
    await grant(cb, b, 'a-staff-3');
    await until(() => raised('door-behaviour', b).length === 1, 'access anomaly');
    const c = raised('door-behaviour', b)[0]!.c;
    expect(c.type).toBe('access_anomaly');
    expect(c.reason).toMatch(/credential of other doors, never used at this one/);
  });
});
