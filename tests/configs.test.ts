/** Config flashing end to end: signed desired configs, device answers, sync status, rollouts, rollback, permissions. */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceTopic } from '../devices/index.ts';
import { signDesired } from '../devices/config-envelope.ts';
import type { Gateway } from '../gateway/gateway.ts';
import { DoorSim } from '../simulators/kinds/door.ts';
import { closeAll, startTestGateway, until } from './helpers/gateway.ts';

let gw: Gateway;
const sims = new Map<string, DoorSim>();
const tokens: Record<string, string> = {};
let siteKey = '';

const api = async (method: string, path: string, token: string, body?: unknown) => {
  const res = await fetch(`http://127.0.0.1:${gw.ports.http}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
};
const status = (id: string) => gw.configs.state(id)?.status;

beforeAll(async () => {
  gw = (await startTestGateway({ security: { allowAnonymous: false, messagesPerSecond: 10_000, messageBurst: 10_000 } })).gw;
  const reg = gw.security.registry;
  const doors = Array.from({ length: 10 }, (_, i) => ({
    deviceId: `cfg-door-${String(i + 1).padStart(2, '0')}`,
    kind: 'door' as const,
    site: 'cfg',
    zone: 'north',
    tags: ['entrance'],
  }));
  const provisioned = await reg.provisionMany([...doors, { deviceId: 'oth-door-01', kind: 'door', site: 'other' }], { id: 'test' });
  for (const [id, role, sites] of [
    ['eng-cfg', 'engineer', ['cfg']],
    ['eng-other', 'engineer', ['other']],
    ['screen', 'consumer', ['cfg']],
  ] as const) {
    tokens[id] = (await reg.addPrincipal({ id, role, sites: [...sites] }, { id: 'test' })).token;
  }
  siteKey = (await api('GET', '/api/v1/sites/cfg/config-key', tokens['eng-cfg']!)).body['publicKey'];
  expect(siteKey).toMatch(/BEGIN PUBLIC KEY/);
  for (const p of provisioned.filter((x) => x.device.site === 'cfg')) {
    const id = p.device.deviceId;
    const sim = new DoorSim({
      url: `mqtt://127.0.0.1:${gw.ports.mqtt}`,
      site: 'cfg',
      deviceId: id,
      speed: 1,
      seed: id,
      ...p.credentials,
      configKey: siteKey,
      // The first two doors cannot take a held-open timeout of 99 s (for the canary test).
      failConfig: (c) =>
        ['cfg-door-01', 'cfg-door-02'].includes(id) && c['heldOpenTimeoutS'] === 99 ? 'controller firmware rejects timeouts above 90 s' : undefined,
    });
    await sim.start();
    sims.set(id, sim);
  }
});
afterAll(async () => {
  await Promise.all([...sims.values()].map((s) => s.stop()));
  await closeAll();
  await gw.stop();
});

describe('one device', () => {
  it('push → the device verifies, applies and reports → in sync; behaviour changes; history and audit record the author', async () => {
    const r = await api('POST', '/api/v1/devices/cfg-door-03/config', tokens['eng-cfg']!, {
      patch: { heldOpenTimeoutS: 45, reportIntervalS: 5 },
      note: 'longer hold for deliveries',
    });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ status: 'pending', desiredVersion: 1 });
    await until(() => status('cfg-door-03') === 'in_sync', 'in sync');
    const sim = sims.get('cfg-door-03')!;
    expect(sim.config).toMatchObject({ heldOpenTimeoutS: 45, reportIntervalS: 5, unlockDurationS: 5 });
    expect(sim.telemetryPeriodMs).toBe(5000);
    const cfg = await api('GET', '/api/v1/devices/cfg-door-03/config', tokens['screen']!);
    expect(cfg.body).toMatchObject({ status: 'in_sync', desiredVersion: 1, reportedVersion: 1, desired: { heldOpenTimeoutS: 45 } });
    expect(cfg.body['history'][0]).toMatchObject({ version: 1, author: 'eng-cfg', note: 'longer hold for deliveries' });
    expect(gw.security.audit.query({ action: 'config.push', actor: 'eng-cfg', limit: 10 }).map((a) => a.target)).toContain('cfg-door-03');
  });

  it('an invalid config is refused with every invalid field and its reason; nothing is pushed', async () => {
    const r = await api('POST', '/api/v1/devices/cfg-door-04/config', tokens['eng-cfg']!, {
      patch: { heldOpenTimeoutS: 1, schedule: { from: 25 }, unlockDurationS: 'long' },
    });
    expect(r.status).toBe(400);
    expect(r.body['details'].map((d: { path: string }) => d.path).sort()).toEqual([
      'cfg-door-04: heldOpenTimeoutS',
      'cfg-door-04: schedule.from',
      'cfg-door-04: unlockDurationS',
    ]);
    expect(r.body['details'].find((d: { path: string }) => d.path.endsWith('heldOpenTimeoutS')).message).toMatch(/>=5/);
    expect(gw.configs.state('cfg-door-04')).toBeUndefined();
  });

  it('a tampered, foreign-signed or misaddressed config is rejected by the device', async () => {
    const sim = sims.get('cfg-door-05')!;
    const topic = deviceTopic({ site: 'cfg', kind: 'door', deviceId: 'cfg-door-05' }, 'config/desired');
    const base = { version: 7, site: 'cfg', deviceId: 'cfg-door-05', issuedAt: new Date().toISOString(), author: 'mallory', config: { heldOpenTimeoutS: 600 } };
    const rogue = generateKeyPairSync('ed25519').privateKey;
    const k = gw.configs.keys.get('cfg');
    const send = (env: unknown) =>
      new Promise<void>((r) =>
        gw.broker!.publish({ cmd: 'publish', topic, payload: Buffer.from(JSON.stringify(env)), qos: 1, retain: false, dup: false }, () => r()),
      );
    await send(signDesired(base, rogue, 'site:cfg')); // signed by someone else
    const tampered = signDesired({ ...base, config: { heldOpenTimeoutS: 30 } }, k.privateKey, k.keyId);
    await send({ ...tampered, config: { heldOpenTimeoutS: 600 } }); // altered after signing
    await send(signDesired({ ...base, deviceId: 'cfg-door-06' }, k.privateKey, k.keyId)); // for another door
    await until(() => sim.configReports.length >= 3, 'three answers');
    expect(sim.configReports.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(sim.configReports.map((r) => r.reason)).toEqual([
      'signature does not verify with the site key',
      'signature does not verify with the site key',
      'config is for cfg/cfg-door-06, not this device',
    ]);
    expect(sim.config['heldOpenTimeoutS']).toBe(30); // unchanged defaults
  });

  it('an offline device gets its config when it reconnects', async () => {
    const sim = sims.get('cfg-door-07')!;
    await sim.stop();
    await api('POST', '/api/v1/devices/cfg-door-07/config', tokens['eng-cfg']!, { patch: { unlockDurationS: 8 } });
    expect(status('cfg-door-07')).toBe('pending');
    await sim.start();
    await until(() => status('cfg-door-07') === 'in_sync', 'in sync after reconnect');
    expect(sim.config['unlockDurationS']).toBe(8);
  });

  it('a device that reports another version than the one it was in sync with is drifted, and gets the desired one again', async () => {
    const sim = sims.get('cfg-door-07')!;
    expect(status('cfg-door-07')).toBe('in_sync');
    // A local reset: the controller now says it runs version 0 (factory settings).
    sim.configVersion = 0;
    await sim.publish('config/reported', { version: 0, status: 'applied' });
    expect(gw.configs.state('cfg-door-07')).toMatchObject({ status: 'drifted', reportedVersion: 0, reason: 'device reports version 0, desired is 1' });
    await until(() => status('cfg-door-07') === 'in_sync', 're-delivered and applied');
    expect(sim.configVersion).toBe(1);
  });

  it('rollback pushes the previous version as a new one, and the device applies it', async () => {
    await api('POST', '/api/v1/devices/cfg-door-03/config', tokens['eng-cfg']!, { patch: { heldOpenTimeoutS: 60 } });
    await until(() => status('cfg-door-03') === 'in_sync' && gw.configs.state('cfg-door-03')!.desiredVersion === 2, 'v2 in sync');
    const r = await api('POST', '/api/v1/devices/cfg-door-03/config/rollback', tokens['eng-cfg']!);
    expect(r.body['desiredVersion']).toBe(3);
    await until(() => status('cfg-door-03') === 'in_sync' && gw.configs.state('cfg-door-03')!.reportedVersion === 3, 'v3 in sync');
    expect(sims.get('cfg-door-03')!.config['heldOpenTimeoutS']).toBe(45);
    expect(gw.configs.history('cfg-door-03')[0]!.note).toBe('rollback to version 1');
  });
});

describe('rollouts', () => {
  it('a canary wave that fails stops the rollout and rolls the canaries back; the rest never get it', async () => {
    const r = await api('POST', '/api/v1/config/rollouts', tokens['eng-cfg']!, {
      selector: { site: 'cfg', kind: 'door', zone: 'north' },
      patch: { heldOpenTimeoutS: 99 },
      canaryPercent: 30,
      failureThreshold: 0.2,
      waveTimeoutS: 10,
    });
    expect(r.status).toBe(202);
    const done = await until(
      async () => {
        const x = await api('GET', `/api/v1/config/rollouts/${r.body['id']}`, tokens['eng-cfg']!);
        return x.body['state'] !== 'running' ? x.body : undefined;
      },
      'rollout finished',
      20_000,
    );
    expect(done['state']).toBe('rolled_back');
    expect(done['reason']).toMatch(/wave 1: 2 of 3 devices failed/);
    expect(done['waves'][0].devices).toEqual(['cfg-door-01', 'cfg-door-02', 'cfg-door-03']);
    expect(done['waves'][1].versions).toEqual({});
    await until(() => ['cfg-door-01', 'cfg-door-02', 'cfg-door-03'].every((id) => status(id) === 'in_sync'), 'canaries back in sync');
    expect(sims.get('cfg-door-03')!.config['heldOpenTimeoutS']).toBe(45);
    expect(sims.get('cfg-door-08')!.configVersion).toBe(0);
  });

  it('a good rollout converges in waves: every door in sync', async () => {
    const r = await api('POST', '/api/v1/config/rollouts', tokens['eng-cfg']!, {
      selector: { site: 'cfg', kind: 'door', tags: ['entrance'] },
      patch: { unlockDurationS: 7 },
      canaryPercent: 20,
    });
    const done = await until(
      async () => {
        const x = await api('GET', `/api/v1/config/rollouts/${r.body['id']}`, tokens['eng-cfg']!);
        return x.body['state'] !== 'running' ? x.body : undefined;
      },
      'rollout finished',
      20_000,
    );
    expect(done['state']).toBe('completed');
    expect(done['waves'].map((w: { devices: string[] }) => w.devices.length)).toEqual([2, 8]);
    const st = await api('GET', '/api/v1/config/status?site=cfg&kind=door', tokens['screen']!);
    expect(st.body['devices'].map((d: { status: string }) => d.status)).toEqual(Array(10).fill('in_sync'));
    expect([...sims.values()].every((s) => s.config['unlockDurationS'] === 7)).toBe(true);
  });
});

describe('who may push', () => {
  it('only an engineer (or admin) granted the site', async () => {
    expect((await api('POST', '/api/v1/devices/cfg-door-09/config', tokens['eng-other']!, { patch: { unlockDurationS: 9 } })).status).toBe(404);
    expect(
      (await api('POST', '/api/v1/config/rollouts', tokens['eng-other']!, { selector: { site: 'cfg', kind: 'door' }, patch: { unlockDurationS: 9 } })).status,
    ).toBe(403);
    expect((await api('POST', '/api/v1/devices/cfg-door-09/config', tokens['screen']!, { patch: { unlockDurationS: 9 } })).status).toBe(403);
    expect((await api('POST', '/api/v1/devices/oth-door-01/config', tokens['eng-other']!, { patch: { unlockDurationS: 9 } })).status).toBe(202);
  });
});
