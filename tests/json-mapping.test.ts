/**
 * The generic JSON mapping (#18): an installer declares a profile in the configuration (JSON Pointers,
 * units) and a sensor pushing its own JSON becomes a device of a Vigil kind without code. A profile with
 * a mistake stops the gateway at load with the path of the mistake; a push the profile cannot map is
 * refused with the reason; what it maps goes through the same ingest (units converted, schema checked)
 * and raises the same alerts as a native device.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../gateway/config.ts';
import { startTestGateway, until, type TestGateway } from './helpers/gateway.ts';

const site = 'jm';
const acmeSmoke = {
  kind: 'smoke',
  title: 'ACME S-200 smoke sensor',
  time: { from: '/sampled_at', format: 'iso' },
  telemetry: {
    temperature_c: { from: '/env/temp', unit: 'degF' },
    humidity_pct: '/env/rh',
    eco2_ppm: '/air/co2',
    obscuration_pct_m: { from: '/optical/obsc', scale: 100 },
  },
  events: [
    { when: { from: '/alarm', equals: true }, event: { type: 'alarm', active: true, source: 'smoke' } },
    { when: { from: '/alarm', equals: false }, event: { type: 'alarm', active: false, source: 'smoke' } },
    { when: { from: '/fault/code', equals: 'E7' }, event: { type: 'fault', code: 'chamber_dirty', active: true } },
  ],
  status: { from: '/state', online: 'ok' },
};

const problems = (profile: unknown): string[] => {
  try {
    loadConfig({ env: {}, overrides: { adapters: { profiles: { p: profile } } } as never });
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems;
  }
};

describe('a profile is checked against its kind when the configuration loads', () => {
  it('a sound profile loads', () => {
    expect(problems(acmeSmoke)).toEqual([]);
  });

  it('each mistake is reported with its path', () => {
    expect(problems({ ...acmeSmoke, kind: 'toaster' })).toEqual(['adapters.profiles.p.kind: unknown kind "toaster"']);
    expect(problems({ ...acmeSmoke, telemetry: { ...acmeSmoke.telemetry, temp_f: '/t' } })).toEqual([
      expect.stringMatching(/^adapters\.profiles\.p\.telemetry\.temp_f: "temp_f" is not a smoke reading \(readings: temperature_c, /),
    ]);
    expect(problems({ ...acmeSmoke, telemetry: { ...acmeSmoke.telemetry, temperature_c: { from: '/env/temp', unit: 'fahrenheit' } } })).toEqual([
      'adapters.profiles.p.telemetry.temperature_c.unit: "fahrenheit" is not a unit of temperature_c (use one of degC, degF, K)',
    ]);
    expect(problems({ ...acmeSmoke, telemetry: { temperature_c: '/env/temp' } })).toEqual([
      'adapters.profiles.p.telemetry: a smoke reading needs humidity_pct, eco2_ppm, obscuration_pct_m too',
    ]);
    expect(problems({ ...acmeSmoke, events: [{ when: { from: '/a', equals: 1 }, event: { type: 'explosion' } }] })).toEqual([
      expect.stringMatching(/^adapters\.profiles\.p\.events\.0\.event\.type: must be an event type of smoke \(alarm, test, fault/),
    ]);
    expect(problems({ ...acmeSmoke, events: [{ when: { from: '/a', equals: 1 }, event: { type: 'alarm', loud: true } }] })).toEqual([
      'adapters.profiles.p.events.0.event.loud: "loud" is not a field of alarm (active, source)',
    ]);
    expect(problems({ ...acmeSmoke, status: { from: 'state', online: 'ok' } })).toEqual([
      'adapters.profiles.p.status.from: must be a JSON Pointer (RFC 6901) such as /env/temp',
    ]);
    expect(problems({ ...acmeSmoke, extra: 1 })).toEqual([expect.stringMatching(/^adapters\.profiles\.p: Unrecognized key: "extra"/)]);
  });
});

describe('a sensor pushing its own JSON through a profile', () => {
  let t: TestGateway;
  let secret = '';
  let consumer = '';
  const push = async (body: unknown, auth = `Basic ${Buffer.from(`acme-1:${secret}`).toString('base64')}`) => {
    const res = await fetch(`${t.httpUrl}/adapters/json-acme/acme-1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: auth },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
  const reading = (over: Record<string, unknown> = {}) => ({
    sampled_at: new Date().toISOString(),
    state: 'ok',
    env: { temp: 71.6, rh: 40 },
    air: { co2: 420 },
    optical: { obsc: 0.001 },
    alarm: false,
    ...over,
  });

  beforeAll(async () => {
    t = await startTestGateway({ security: { allowAnonymous: false }, alerts: { startupGraceS: 0 }, adapters: { profiles: { acme: acmeSmoke } } as never });
    const reg = t.gw.security.registry;
    secret = (await reg.provision({ deviceId: 'acme-1', kind: 'smoke', site, zone: 'kitchen', tags: ['adapter:json-acme'] }, { id: 'test' })).credentials
      .password;
    consumer = (await reg.addPrincipal({ id: 'jm-ops', role: 'consumer', sites: [site] }, { id: 'test' })).token;
  }, 20_000);
  afterAll(async () => {
    await t?.stop();
  });

  it('readings are converted into the kind’s units; the state is the device’s status', async () => {
    const r = await push(reading());
    expect(r).toEqual({
      status: 200,
      body: { adapter: 'json-acme', deviceId: 'acme-1', accepted: [{ channel: 'telemetry' }, { channel: 'event', type: 'alarm' }, { channel: 'status' }] },
    });
    const s = t.gw.states.get('acme-1')!;
    expect(s.telemetry?.data['temperature_c']).toBeCloseTo(22, 6);
    expect(s.telemetry?.data).toMatchObject({ humidity_pct: 40, eco2_ppm: 420, obscuration_pct_m: 0.1 });
    expect(s.status?.data).toMatchObject({ online: true });
  });

  it('the alarm raises a critical fire once, as from a native detector; a fault code is a device fault', async () => {
    await push(reading({ alarm: true }));
    const fire = await until(() => t.gw.alerts.store.query({ site, type: 'fire' }).find((a) => a.deviceId === 'acme-1'), 'fire');
    expect(fire).toMatchObject({ severity: 'critical', zone: 'kitchen' });
    const again = await push(reading({ alarm: true }));
    expect(again.body['accepted']).toEqual([{ channel: 'telemetry' }, { channel: 'status' }]);
    await push(reading({ alarm: true, fault: { code: 'E7' } }));
    await until(() => t.gw.alerts.store.query({ site, type: 'device_fault' }).find((a) => a.deviceId === 'acme-1'), 'device_fault');
  });

  it('what the profile cannot map is refused with the reason; the kind’s schema still checks the values', async () => {
    const missing = await push({ ...reading(), air: {} });
    expect(missing).toMatchObject({ status: 422, body: { code: 'VIGIL_ERR_VENDOR_REFUSED', message: 'json-acme: the reading lacks /air/co2 (eco2_ppm)' } });
    const notNumber = await push(reading({ optical: { obsc: 'dense' } }));
    expect(notNumber.body['message']).toBe('json-acme: /optical/obsc is "dense", not a number (obscuration_pct_m)');
    const badTime = await push(reading({ sampled_at: 'noon' }));
    expect(badTime.body['message']).toBe('json-acme: /sampled_at "noon" is not a time (iso)');
    const outOfRange = await push(reading({ env: { temp: 71.6, rh: 140 } }));
    expect(outOfRange.body['message']).toMatch(/mapped telemetry refused: .*humidity_pct/);
    expect((await push('[1,2]')).body['message']).toBe('json-acme: the message must be a JSON object');
    expect(t.gw.states.get('acme-1')?.refusedByReason['schema_violation']).toBeGreaterThanOrEqual(4);
  });

  it('GET /api/v1/adapters lists the shipped adapters and the profile, with the tag a device needs', async () => {
    const admin = (await t.gw.security.registry.addPrincipal({ id: 'jm-admin', role: 'admin', sites: ['*'] }, { id: 'test' })).token;
    const res = await fetch(`${t.httpUrl}/api/v1/adapters`, { headers: { authorization: `Bearer ${admin}` } });
    const body = (await res.json()) as { adapters: Record<string, unknown>[] };
    expect(body.adapters.map((a) => [a['name'], a['tag'], a['transport'], a['kinds'], a['commands']])).toEqual([
      ['hikvision-isapi', 'adapter:hikvision-isapi', 'http-push', ['camera'], false],
      ['zigbee2mqtt', 'adapter:zigbee2mqtt', 'mqtt-bridge', ['smoke', 'door'], true],
      ['json-acme', 'adapter:json-acme', 'http-push', ['smoke'], false],
    ]);
    expect((await fetch(`${t.httpUrl}/api/v1/adapters`, { headers: { authorization: `Bearer ${consumer}` } })).status).toBe(403);
  });

  it('a principal’s token, a wrong password or another device’s credentials get nothing in', async () => {
    expect((await push(reading({ alarm: true }), `Bearer ${consumer}`)).status).toBe(401);
    expect((await push(reading({ alarm: true }), `Basic ${Buffer.from('acme-1:guess').toString('base64')}`)).status).toBe(401);
    const res = await fetch(`${t.httpUrl}/adapters/json-nope/acme-1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(404);
  });
});
