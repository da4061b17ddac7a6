/** Simulators over real MQTT: every kind valid against the gateway, every incident staged, labelled and observable. */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceMessage } from '../edge/message.ts';
import type { PipelineStage } from '../edge/pipeline.ts';
import { clockAt } from '../simulators/clock.ts';
import { Fleet } from '../simulators/fleet.ts';
import { LabelLog, type IncidentType } from '../simulators/labels.ts';
import { Scenario } from '../simulators/scenario.ts';
import { closeAll, collect, connect, startTestGateway, until, type TestGateway } from './helpers/gateway.ts';

class Recorder implements PipelineStage {
  readonly name = 'recorder';
  readonly messages: DeviceMessage[] = [];
  accept(m: DeviceMessage) {
    this.messages.push(m);
  }
  since(t: number, deviceId: string, channel?: string) {
    return this.messages.filter((m) => m.receivedAt >= t && m.deviceId === deviceId && (!channel || m.channel === channel));
  }
}

/** The site's hour is pinned (13:00 local), not read from the wall clock: the suite means the same at any hour. */
const clock = clockAt(13);
const rec = new Recorder();
const labels = new LabelLog();
let t: TestGateway;
let fleet: Fleet;
let scenario: Scenario;
beforeAll(async () => {
  // These suites test ingest and simulators at compressed time, not the per-device rate limit (security.test.ts does).
  t = await startTestGateway({ security: { messagesPerSecond: 100_000, messageBurst: 100_000 } }, [rec], clock);
  fleet = new Fleet({ url: t.mqttUrl, sites: ['sim1'], perKind: { camera: 2, door: 2, smoke: 2, bodycam: 2 }, speed: 200, seed: 7, labels, now: clock });
  await fleet.start();
  scenario = new Scenario(fleet, 7);
});
afterAll(async () => {
  await scenario.stop();
  await fleet.stop();
  await closeAll();
  await t.stop();
});

describe('simulated fleet', () => {
  it('every device of every kind comes online and reports valid telemetry, snapshots included', async () => {
    await until(() => fleet.devices.every((d) => t.gw.states.get(d.id)?.telemetry && t.gw.states.get(d.id)?.online), 'all devices reporting', 15_000);
    await until(() => fleet.ofKind('camera').every((d) => t.gw.states.get(d.id)?.lastSnapshot), 'camera snapshots', 15_000);
    const kinds = new Set(t.gw.states.list().map((d) => d.kind));
    expect([...kinds].sort()).toEqual(['bodycam', 'camera', 'door', 'smoke']);
    expect(t.gw.states.list().reduce((n, d) => n + d.refused, 0)).toBe(0);
    const imu = rec.messages.find((m) => m.kind === 'bodycam' && m.channel === 'telemetry')!.data['imu'] as { accel_g: number[][] };
    const mags = imu.accel_g.map(([x, y, z]) => Math.hypot(x!, y!, z!));
    expect(Math.min(...mags)).toBeGreaterThan(0.5); // walking: about 1 g, never free fall
    expect(Math.max(...mags)).toBeLessThan(1.6);
  });

  const signatures: Record<
    Exclude<IncidentType, 'camera_glare' | 'camera_dark' | 'camera_defocused' | 'crowd_surge' | 'crowd_dispersal'>,
    (since: number, id: string) => Promise<boolean> | boolean
  > = {
    fire: (since, id) => {
      const tel = rec.since(since, id, 'telemetry').map((m) => m.data as { obscuration_pct_m: number; temperature_c: number });
      const alarm = rec.since(since, id, 'event').some((m) => m.data['type'] === 'alarm' && m.data['active'] === true);
      return alarm && Math.max(...tel.map((r) => r.obscuration_pct_m)) > 4 && Math.max(...tel.map((r) => r.temperature_c)) - tel[0]!.temperature_c > 10;
    },
    smoulder: (since, id) => rec.since(since, id, 'telemetry').some((m) => (m.data['obscuration_pct_m'] as number) > 1.5),
    vape: (since, id) => rec.since(since, id, 'telemetry').some((m) => (m.data['tvoc_ppb'] as number) > 1500),
    cooking: (since, id) => rec.since(since, id, 'telemetry').some((m) => (m.data['tvoc_ppb'] as number) > 900),
    toaster: (since, id) => rec.since(since, id, 'telemetry').some((m) => (m.data['obscuration_pct_m'] as number) > 0.5),
    forced_door: (since, id) => rec.since(since, id, 'event').some((m) => m.data['type'] === 'forced_open'),
    door_held_open: (since, id) => rec.since(since, id, 'event').some((m) => m.data['type'] === 'held_open'),
    brute_force: (since, id) => rec.since(since, id, 'event').filter((m) => m.data['type'] === 'access_denied').length >= 8,
    camera_covered: async (since, id) => {
      // A snapshot taken just before the tape went on may arrive first: any covered one will do.
      const means = await Promise.all(rec.since(since, id, 'snapshot').map(async (m) => (await sharp(m.snapshot!.jpeg).stats()).channels[0]!.mean));
      return means.some((mean) => mean < 50) && rec.since(since, id, 'event').some((m) => m.data['type'] === 'tamper' && m.data['reason'] === 'covered');
    },
    camera_moved: (since, id) => rec.since(since, id, 'snapshot').length >= 2,
    intrusion: (since, id) => rec.since(since, id, 'event').filter((m) => m.data['type'] === 'intrusion' && m.data['object'] === 'person').length >= 3,
    loitering: (since, id) => rec.since(since, id, 'event').some((m) => m.data['type'] === 'loitering' && (m.data['duration_s'] as number) >= 600),
    man_down: (since, id) => {
      const windows = rec.since(since, id, 'telemetry').map((m) => (m.data['imu'] as { accel_g: number[][] }).accel_g);
      const peak = Math.max(...windows.flat().map(([x, y, z]) => Math.hypot(x!, y!, z!)));
      return peak > 2.5;
    },
    sos: (since, id) => rec.since(since, id, 'event').some((m) => m.data['type'] === 'sos'),
    device_offline: (since, id) =>
      rec.since(since, id, 'status').some((m) => m.data['online'] === false) && rec.since(since, id, 'status').some((m) => m.data['online'] === true),
  };

  for (const [incident, seen] of Object.entries(signatures)) {
    it(`stages "${incident}": labelled, and visible in what the device sends`, async () => {
      const before = labels.labels.length;
      const since = clock();
      await scenario.stage(incident as IncidentType);
      const label = labels.labels[before];
      expect(label).toMatchObject({ type: incident, site: 'sim1' });
      expect(label!.end).toBeGreaterThan(label!.start);
      await until(() => seen(since, label!.deviceId), `${incident} signature from ${label!.deviceId}`, 10_000);
    });
  }

  it('sent nothing the gateway refused while staging incidents', () => {
    expect(t.gw.states.list().reduce((n, d) => n + d.refused, 0)).toBe(0);
    expect(fleet.devices.flatMap((d) => d.refusals)).toEqual([]);
  });

  it('a consumer sees the fleet on the public topics', async () => {
    const sub = await collect(await connect(t.mqttUrl, { clientId: 'fleet-watch' }), 'vigil/v1/sim1/+/+/telemetry');
    const m = await sub.next();
    expect(m.topic).toMatch(/^vigil\/v1\/sim1\/(camera|door|smoke|bodycam)\/sim1-\w+-\d\d\/telemetry$/);
  });
});

describe('fleet options', () => {
  it('--devices sets the count of any simulated kind and wins over the per-kind flags; an unknown kind is a usage error', async () => {
    const { Command } = await import('commander');
    const { addFleetOptions, fleetShape } = await import('../simulators/cli-options.ts');
    const defaults = { sites: 'hub1', camera: 1, door: 1, smoke: 1, bodycam: 1, speed: 1 };
    const parse = (args: string[]) => fleetShape(addFleetOptions(new Command().exitOverride(), defaults).parse(args, { from: 'user' }).opts());
    expect(parse(['--smoke', '3', '--devices', 'smoke=4,door=0']).perKind).toEqual({ camera: 1, door: 0, smoke: 4, bodycam: 1 });
    expect(() =>
      addFleetOptions(new Command().exitOverride().configureOutput({ writeErr: () => {} }), defaults).parse(['--devices', 'toaster=2'], { from: 'user' }),
    ).toThrow(/unknown kind "toaster"; simulated kinds: camera, door, smoke, bodycam/);
  });
});
