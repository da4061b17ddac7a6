/**
 * A fifth device kind is one folder plus its simulator: tests/fixtures/kinds/gas, registered in
 * this file only. Through a real gateway and real MQTT it is provisioned, validated, simulated,
 * configured, alerted on and forwarded like a shipped kind, and no shipped source names it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getKind, kindNames, registerKind, alertTypeNames, severityOf } from '../devices/index.ts';
import { loadConfig, ConfigError } from '../gateway/config.ts';
import { fieldTypes } from '../gateway/forward/points.ts';
import { Fleet, registerSimulator, simulatedKinds } from '../simulators/fleet.ts';
import { gas } from './fixtures/kinds/gas/index.ts';
import { GasSim } from './fixtures/kinds/gas/simulator.ts';
import { closeAll, collect, connect, startTestGateway, until, type TestGateway } from './helpers/gateway.ts';
import { ROOT } from './helpers/process.ts';

registerKind(gas);
registerSimulator('gas', GasSim);

describe('a kind registered from outside the shipped tree', () => {
  it('is a kind like the others: name, alert type with its severity, settings in the configuration', () => {
    expect(kindNames()).toContain('gas');
    expect(getKind('gas')!.eventTypes).toEqual(expect.arrayContaining(['sensor_expired', 'low_battery', 'tamper']));
    expect(alertTypeNames()).toContain('gas_leak');
    expect(severityOf('gas_leak')).toBe('critical');
    expect(simulatedKinds()).toContain('gas');
    const cfg = loadConfig({ env: { VIGIL_KINDS_GAS_CO_ALARM_PPM: '200' } });
    expect(cfg.kinds['gas']).toMatchObject({ coAlarmPpm: 200, ch4AlarmPctLel: 10, lowBatteryPct: 15, aggregateS: 0 });
    expect(() => loadConfig({ env: {}, overrides: { kinds: { gas: { coAlarmPpm: 5 } } } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: {}, overrides: { kinds: { gas: { coAlarmPpn: 200 } } } })).toThrow(/kinds\.gas/);
  });

  it('declares commands the command channel can validate', () => {
    const cmds = getKind('gas')!.commands;
    expect(Object.keys(cmds)).toEqual(['self_test', 'hush']);
    expect(cmds['hush']!.params.safeParse({ seconds: 60 }).success).toBe(true);
    expect(cmds['hush']!.params.safeParse({ seconds: 60, extra: 1 }).success).toBe(false);
  });

  it('gets time-series field types from its schema and capabilities', () => {
    expect(fieldTypes('gas', 'telemetry')).toMatchObject({ co_ppm: 'float', ch4_pct_lel: 'float', battery_pct: 'float' });
  });

  it('a definition that contradicts another kind is refused at registration', () => {
    expect(() => registerKind(gas)).toThrow(/already registered/);
    const clash = { ...gas, kind: 'gas2', alerts: { fire: { severity: 'minor' as const, title: 'x' } } };
    expect(() => registerKind(clash)).toThrow(/"fire" as minor; it is already critical/);
    expect(kindNames()).not.toContain('gas2');
  });

  it('is not named by any shipped source: devices/, edge/, gateway/ and simulators/ know it only through the registry', () => {
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const f of readdirSync(dir)) {
        const p = join(dir, f);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith('.ts') && /['"`]gas['"`]|gas_leak/.test(readFileSync(p, 'utf8'))) offenders.push(p);
      }
    };
    for (const d of ['devices', 'edge', 'gateway', 'simulators']) walk(join(ROOT, d));
    expect(offenders).toEqual([]);
  });
});

describe('a registered kind end to end (real broker, simulator, alert)', () => {
  let t: TestGateway;
  let fleet: Fleet;

  // Each test stands alone (they may run in any order): the gateway and an operator of both sites are all they share.
  beforeAll(async () => {
    t = await startTestGateway({ security: { allowAnonymous: false }, alerts: { clearAfterS: 0 }, kinds: { gas: { coAlarmPpm: 250 } } });
    ops = await t.gw.security.registry.addPrincipal({ id: 'plant-ops', role: 'admin', sites: ['plant', 'works'] }, { id: 'test' });
  });
  afterAll(async () => {
    await fleet?.stop();
    await closeAll();
    await t?.stop();
  });

  let ops: { token: string; credentials: { username: string; password: string } };

  it('is provisioned over the API; an unknown kind is refused with the registered ones listed', async () => {
    const post = (body: unknown) =>
      fetch(`${t.httpUrl}/api/v1/devices`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ops.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const ok = await post({ deviceId: 'plant-gas-01', kind: 'gas', site: 'plant', zone: 'boiler-room' });
    expect(ok.status).toBe(201);
    expect(((await ok.json()) as { credentials: { username: string } }).credentials.username).toBe('plant-gas-01');
    const bad = await post({ deviceId: 'plant-x-01', kind: 'plasma', site: 'plant' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/unknown device kind "plasma"; registered: camera, door, smoke, bodycam, gas/);
  });

  it('its simulator runs over MQTT; a leak raises gas_leak (critical, with the reason) and clears; bad events are refused', async () => {
    const [p] = await t.gw.security.registry.provisionMany([{ deviceId: 'works-gas-01', kind: 'gas', site: 'works', zone: 'boiler-room' }], { id: 'test' });
    const watch = await connect(t.mqttUrl, { clientId: 'plant-ops:watch', ...ops.credentials });
    const alerts = await collect(watch, 'vigil/v1/works/alerts/#');
    const errors = await collect(await connect(t.mqttUrl, { clientId: 'plant-ops:errors', ...ops.credentials }), 'vigil/v1/works/gas/works-gas-01/error');

    // The fleet `npm run sim` runs (a registered kind is one `--devices gas=1` away) makes works-gas-01.
    fleet = new Fleet({ url: t.mqttUrl, sites: ['works'], perKind: { gas: 1 }, speed: 50, seed: 'gas', credentials: () => p!.credentials });
    await fleet.start();
    const sim = fleet.ofKind('gas')[0]!;
    await until(() => t.gw.states.get('works-gas-01')?.online, 'the gas detector online', 10_000);

    await sim.incident('gas_leak');
    const raised = await alerts.next((m) => m.topic === 'vigil/v1/works/alerts/critical/gas_leak/works-gas-01');
    const body = JSON.parse(String(raised.payload));
    expect(body).toMatchObject({ event: 'raised', type: 'gas_leak', severity: 'critical', kind: 'gas', zone: 'boiler-room' });
    expect(body.reason).toMatch(/^CO \d+ ppm \(alarm 250\), methane/);
    await until(
      () => {
        t.gw.alerts.tick();
        return t.gw.alerts.store.query({ type: 'gas_leak', state: 'auto_resolved' }).length;
      },
      'gas_leak auto-resolved',
      10_000,
    );

    // Validation is the kind's: an event it does not declare is refused, naming the ones it does.
    await sim.publish('event', { type: 'meltdown' });
    const refusal = JSON.parse(String((await errors.next(() => true)).payload));
    expect(refusal).toMatchObject({ code: 'schema_violation' });
    expect(refusal.message).toMatch(/expected one of: sensor_expired, low_battery, tamper/);
    expect(t.gw.states.get('works-gas-01')?.kind).toBe('gas');
  }, 60_000);
});
