import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineDevice, deviceKinds, getKind, kindNames, parseTopic, deviceTopic, convert } from '../devices/index.ts';
import { battery, tamper } from '../devices/capabilities.ts';

describe('device kinds', () => {
  it('registers every definition file under devices/kinds', () => {
    const folders = readdirSync(new URL('../devices/kinds', import.meta.url));
    expect(kindNames().sort()).toEqual(folders.sort());
    for (const k of kindNames()) expect(getKind(k)?.kind).toBe(k);
  });

  it('does not resolve inherited property names as kinds', () => {
    expect(getKind('toString')).toBeUndefined();
    expect(getKind('constructor')).toBeUndefined();
  });

  it('gives each kind the events the issue asks for', () => {
    expect(deviceKinds.camera.eventTypes).toEqual(expect.arrayContaining(['motion', 'intrusion', 'loitering', 'crowd_count', 'tamper']));
    expect(deviceKinds.door.eventTypes).toEqual(
      expect.arrayContaining(['access_granted', 'access_denied', 'door_opened', 'door_closed', 'forced_open', 'held_open', 'tamper', 'exit_request']),
    );
    expect(deviceKinds.smoke.eventTypes).toEqual(expect.arrayContaining(['alarm', 'test', 'fault', 'tamper', 'low_battery']));
    expect(deviceKinds.bodycam.eventTypes).toEqual(expect.arrayContaining(['sos', 'recording_started', 'recording_stopped']));
    expect(deviceKinds.camera.snapshots && deviceKinds.bodycam.snapshots).toBe(true);
    expect(deviceKinds.smoke.snapshots || deviceKinds.door.snapshots).toBe(false);
  });

  it('fills config defaults so an empty desired config is a complete one', () => {
    for (const k of kindNames()) {
      const cfg = getKind(k)!.schemas.config.parse({});
      expect(cfg['reportIntervalS']).toBeGreaterThan(0);
    }
    expect(deviceKinds.door.schemas.config.parse({}).heldOpenTimeoutS).toBe(30);
  });

  it('requires the smoke readings of the dataset columns', () => {
    const r = deviceKinds.smoke.schemas.telemetry.safeParse({ temperature_c: 21 });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => i.path.join('.'))).toEqual(expect.arrayContaining(['humidity_pct', 'eco2_ppm', 'obscuration_pct_m']));
  });

  it('names valid event types when one is unknown', () => {
    const r = deviceKinds.door.schemas.event.safeParse({ type: 'teleport' });
    expect(r.error!.issues[0]!.message).toMatch(/unknown event type; expected one of: access_granted/);
  });

  it('refuses a definition with duplicate event types or units on unknown fields', () => {
    const base = { title: 't', description: 'd', telemetryPeriodS: 1, config: {}, telemetry: { a: z.number() } };
    expect(() => defineDevice({ ...base, kind: 'dup', units: {}, events: [], capabilities: [tamper(), tamper()] })).toThrow(/duplicate event types: tamper/);
    expect(() =>
      defineDevice({ ...base, kind: 'unit', units: { nope: { quantity: 'temperature', unit: '°C' } }, events: [], capabilities: [battery()] }),
    ).toThrow(/unknown telemetry field "nope"/);
    expect(() => defineDevice({ ...base, kind: 'Bad Kind', units: {}, events: [], capabilities: [] })).toThrow(/lower-case/);
  });
});

describe('topics', () => {
  const a = { site: 'hub1', kind: 'smoke', deviceId: 'hub1-smoke-01' };
  it('round-trips every channel', () => {
    for (const ch of ['telemetry', 'event', 'status', 'snapshot', 'config/reported', 'config/desired', 'error'] as const) {
      const p = parseTopic(deviceTopic(a, ch));
      expect(p).toMatchObject({ ok: true, address: a, channel: ch });
    }
    expect(parseTopic(deviceTopic(a, 'error'))).toMatchObject({ direction: 'gateway' });
    expect(parseTopic(deviceTopic(a, 'event'))).toMatchObject({ direction: 'device' });
  });
  it('explains what is wrong with a topic', () => {
    expect(parseTopic('foo/bar')).toMatchObject({ ok: false, reason: 'outside_namespace' });
    expect(parseTopic('vigil/v1/hub1/smoke')).toMatchObject({ ok: false, reason: 'outside_namespace', message: /levels/ });
    expect(parseTopic('vigil/v1/hub 1/smoke/x/telemetry')).toMatchObject({ ok: false, message: /site "hub 1"/ });
    expect(parseTopic('vigil/v1/hub1/smoke/x/firmware')).toMatchObject({ ok: false, reason: 'unknown_channel' });
  });
});

describe('units', () => {
  it('converts into canonical units, element-wise for IMU windows', () => {
    expect(convert('temperature', 'degF', 212)).toBeCloseTo(100);
    expect(convert('temperature', 'K', 273.15)).toBeCloseTo(0);
    expect(convert('acceleration', 'm/s2', [[9.80665, 0, -9.80665]])).toEqual([[1, 0, -1]]);
    expect(convert('angularVelocity', 'rad/s', Math.PI)).toBeCloseTo(180);
    expect(() => convert('temperature', 'furlong', 1)).toThrow(/degC, degF, K/);
  });
});
