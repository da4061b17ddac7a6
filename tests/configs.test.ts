/** Config flashing end to end: signed desired configs, device answers, sync status, rollouts, rollback, permissions. */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceTopic } from '../devices/index.ts';
import { signDesired } from '../devices/config-envelope.ts';
import type { Gateway } from '../gateway/gateway.ts';
import type { DoorSim } from '../simulators/kinds/door.ts';
import { doorSite as startDoors } from './helpers/doors.ts';
import { closeAll, startTestGateway, until } from './helpers/gateway.ts';

let gw: Gateway;
const sims = new Map<string, DoorSim>();
const tokens: Record<string, string> = {};

const api = async (method: string, path: string, token: string, body?: unknown) => {
  const res = await fetch(`http://127.0.0.1:${gw.ports.http}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
};
const status = (id: string) => gw.configs.state(id)?.status;

/** Sites the tests below take for themselves: a test's versions and reports never depend on which test ran first. */
const ownSites = ['cfg-push', 'cfg-invalid', 'cfg-tamper', 'cfg-offline', 'cfg-drift', 'cfg-rb', 'cfg-canary', 'cfg-good'];

/** `n` doors of `site` (`<site>-door-NN`, zone north, tag entrance), online and verifying the site's signed configs. */
async function doorSite(site: string, n: number): Promise<Map<string, DoorSim>> {
  const doors = await startDoors(gw, site, n, {
    zone: 'north',
    tags: ['entrance'],
    // The first two doors cannot take a held-open timeout of 99 s (for the canary test).
    failConfig: (id, c) => (/-door-0[12]$/.test(id) && c['heldOpenTimeoutS'] === 99 ? 'controller firmware rejects timeouts above 90 s' : undefined),
  });
  for (const d of doors) sims.set(d.id, d);
  return new Map(doors.map((d) => [d.id, d]));
}

beforeAll(async () => {
  gw = (await startTestGateway({ security: { allowAnonymous: false, messagesPerSecond: 10_000, messageBurst: 10_000 } })).gw;
  const reg = gw.security.registry;
  await reg.provisionMany([{ deviceId: 'oth-door-01', kind: 'door', site: 'other' }], { id: 'test' });
  const mine = ['cfg', ...ownSites];
  for (const [id, role, sites] of [
    ['eng-cfg', 'engineer', mine],
    ['eng-other', 'engineer', ['other']],
    ['screen', 'consumer', mine],
  ] as const) {
    tokens[id] = (await reg.addPrincipal({ id, role, sites: [...sites] }, { id: 'test' })).token;
  }
  const siteKey = (await api('GET', '/api/v1/sites/cfg/config-key', tokens['eng-cfg']!)).body['publicKey'];
  expect(siteKey).toMatch(/BEGIN PUBLIC KEY/);
  // The site key the API serves is the one the doors verify with.
  expect(siteKey).toBe(gw.configs.keys.get('cfg').publicPem);
  await doorSite('cfg', 10);
});
afterAll(async () => {
  await Promise.all([...sims.values()].map((s) => s.stop()));
  await closeAll();
  await gw.stop();
});

describe('one device', () => {
  it('push → the device verifies, applies and reports → in sync; behaviour changes; history and audit record the author', async () => {
    const sims = await doorSite('cfg-push', 1);
    const r = await api('POST', '/api/v1/devices/cfg-push-door-01/config', tokens['eng-cfg']!, {
      patch: { heldOpenTimeoutS: 45, reportIntervalS: 5 },
      note: 'longer hold for deliveries',
    });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ status: 'pending', desiredVersion: 1 });
    await until(() => status('cfg-push-door-01') === 'in_sync', 'in sync');
    const sim = sims.get('cfg-push-door-01')!;
    expect(sim.config).toMatchObject({ heldOpenTimeoutS: 45, reportIntervalS: 5, unlockDurationS: 5 });
    expect(sim.telemetryPeriodMs).toBe(5000);
    const cfg = await api('GET', '/api/v1/devices/cfg-push-door-01/config', tokens['screen']!);
    expect(cfg.body).toMatchObject({ status: 'in_sync', desiredVersion: 1, reportedVersion: 1, desired: { heldOpenTimeoutS: 45 } });
    expect(cfg.body['history'][0]).toMatchObject({ version: 1, author: 'eng-cfg', note: 'longer hold for deliveries' });
    expect(gw.security.audit.query({ action: 'config.push', actor: 'eng-cfg', limit: 1000 }).map((a) => a.target)).toContain('cfg-push-door-01');
  });

  it('an invalid config is refused with every invalid field and its reason; nothing is pushed', async () => {
    await doorSite('cfg-invalid', 1);
    const r = await api('POST', '/api/v1/devices/cfg-invalid-door-01/config', tokens['eng-cfg']!, {
      patch: { heldOpenTimeoutS: 1, schedule: { from: 25 }, unlockDurationS: 'long' },
    });
    expect(r.status).toBe(400);
    expect(r.body['details'].map((d: { path: string }) => d.path).sort()).toEqual([
      'cfg-invalid-door-01: heldOpenTimeoutS',
      'cfg-invalid-door-01: schedule.from',
      'cfg-invalid-door-01: unlockDurationS',
    ]);
    expect(r.body['details'].find((d: { path: string }) => d.path.endsWith('heldOpenTimeoutS')).message).toMatch(/>=5/);
    expect(gw.configs.state('cfg-invalid-door-01')).toBeUndefined();
  });

  it('a tampered, foreign-signed or misaddressed config is rejected by the device', async () => {
    const sim = (await doorSite('cfg-tamper', 2)).get('cfg-tamper-door-01')!;
    const topic = deviceTopic({ site: 'cfg-tamper', kind: 'door', deviceId: 'cfg-tamper-door-01' }, 'config/desired');
    const base = {
      version: 7,
      site: 'cfg-tamper',
      deviceId: 'cfg-tamper-door-01',
      issuedAt: new Date().toISOString(),
      author: 'mallory',
      config: { heldOpenTimeoutS: 600 },
    };
    const rogue = generateKeyPairSync('ed25519').privateKey;
    const k = gw.configs.keys.get('cfg-tamper');
    const send = (env: unknown) =>
      new Promise<void>((r) =>
        gw.broker!.publish({ cmd: 'publish', topic, payload: Buffer.from(JSON.stringify(env)), qos: 1, retain: false, dup: false }, () => r()),
      );
    await send(signDesired(base, rogue, 'site:cfg-tamper')); // signed by someone else
    const tampered = signDesired({ ...base, config: { heldOpenTimeoutS: 30 } }, k.privateKey, k.keyId);
    await send({ ...tampered, config: { heldOpenTimeoutS: 600 } }); // altered after signing
    await send(signDesired({ ...base, deviceId: 'cfg-tamper-door-02' }, k.privateKey, k.keyId)); // for another door
    await until(() => sim.configReports.length >= 3, 'three answers');
    expect(sim.configReports.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(sim.configReports.map((r) => r.reason)).toEqual([
      'signature does not verify with the site key',
      'signature does not verify with the site key',
      'config is for cfg-tamper/cfg-tamper-door-02, not this device',
    ]);
    expect(sim.config['heldOpenTimeoutS']).toBe(30); // unchanged defaults
  });

  it('an offline device gets its config when it reconnects', async () => {
    const sim = (await doorSite('cfg-offline', 1)).get('cfg-offline-door-01')!;
    await sim.stop();
    await api('POST', '/api/v1/devices/cfg-offline-door-01/config', tokens['eng-cfg']!, { patch: { unlockDurationS: 8 } });
    expect(status('cfg-offline-door-01')).toBe('pending');
    await sim.start();
    await until(() => status('cfg-offline-door-01') === 'in_sync', 'in sync after reconnect');
    expect(sim.config['unlockDurationS']).toBe(8);
  });

  it('a device that reports another version than the one it was in sync with is drifted, and gets the desired one again', async () => {
    const sim = (await doorSite('cfg-drift', 1)).get('cfg-drift-door-01')!;
    await api('POST', '/api/v1/devices/cfg-drift-door-01/config', tokens['eng-cfg']!, { patch: { unlockDurationS: 8 } });
    await until(() => status('cfg-drift-door-01') === 'in_sync', 'in sync');
    // A local reset: the controller now says it runs version 0 (factory settings).
    sim.configVersion = 0;
    await sim.publish('config/reported', { version: 0, status: 'applied' });
    expect(gw.configs.state('cfg-drift-door-01')).toMatchObject({ status: 'drifted', reportedVersion: 0, reason: 'device reports version 0, desired is 1' });
    await until(() => status('cfg-drift-door-01') === 'in_sync', 're-delivered and applied');
    expect(sim.configVersion).toBe(1);
  });

  it('rollback pushes the previous version as a new one, and the device applies it', async () => {
    const sims = await doorSite('cfg-rb', 1);
    await api('POST', '/api/v1/devices/cfg-rb-door-01/config', tokens['eng-cfg']!, { patch: { heldOpenTimeoutS: 45 } });
    await until(() => status('cfg-rb-door-01') === 'in_sync', 'v1 in sync');
    await api('POST', '/api/v1/devices/cfg-rb-door-01/config', tokens['eng-cfg']!, { patch: { heldOpenTimeoutS: 60 } });
    await until(() => status('cfg-rb-door-01') === 'in_sync' && gw.configs.state('cfg-rb-door-01')!.desiredVersion === 2, 'v2 in sync');
    const r = await api('POST', '/api/v1/devices/cfg-rb-door-01/config/rollback', tokens['eng-cfg']!);
    expect(r.body['desiredVersion']).toBe(3);
    await until(() => status('cfg-rb-door-01') === 'in_sync' && gw.configs.state('cfg-rb-door-01')!.reportedVersion === 3, 'v3 in sync');
    expect(sims.get('cfg-rb-door-01')!.config['heldOpenTimeoutS']).toBe(45);
    expect(gw.configs.history('cfg-rb-door-01')[0]!.note).toBe('rollback to version 1');
  });
});

/** A rollout as it ended (completed or rolled back), polled through the API. */
const rolloutDone = (id: string) =>
  until(
    async () => {
      const x = await api('GET', `/api/v1/config/rollouts/${id}`, tokens['eng-cfg']!);
      return x.body['state'] !== 'running' ? x.body : undefined;
    },
    'rollout finished',
    20_000,
  );

describe('rollouts', () => {
  it('a canary wave that fails stops the rollout and rolls the canaries back; the rest never get it', async () => {
    const sims = await doorSite('cfg-canary', 10);
    // The third canary runs a configuration of its own before (45 s), and gets it back.
    await api('POST', '/api/v1/devices/cfg-canary-door-03/config', tokens['eng-cfg']!, { patch: { heldOpenTimeoutS: 45 } });
    await until(() => status('cfg-canary-door-03') === 'in_sync', 'door 3 at 45 s');
    const r = await api('POST', '/api/v1/config/rollouts', tokens['eng-cfg']!, {
      selector: { site: 'cfg-canary', kind: 'door', zone: 'north' },
      patch: { heldOpenTimeoutS: 99 },
      canaryPercent: 30,
      failureThreshold: 0.2,
      waveTimeoutS: 10,
    });
    expect(r.status).toBe(202);
    const done = await rolloutDone(r.body['id']);
    expect(done['state']).toBe('rolled_back');
    expect(done['reason']).toMatch(/wave 1: 2 of 3 devices failed/);
    expect(done['waves'][0].devices).toEqual(['cfg-canary-door-01', 'cfg-canary-door-02', 'cfg-canary-door-03']);
    expect(done['waves'][1].versions).toEqual({});
    await until(() => ['cfg-canary-door-01', 'cfg-canary-door-02', 'cfg-canary-door-03'].every((id) => status(id) === 'in_sync'), 'canaries back in sync');
    expect(sims.get('cfg-canary-door-03')!.config['heldOpenTimeoutS']).toBe(45);
    expect(sims.get('cfg-canary-door-08')!.configVersion).toBe(0);
  });

  it('a good rollout converges in waves: every door in sync', async () => {
    const sims = await doorSite('cfg-good', 10);
    const r = await api('POST', '/api/v1/config/rollouts', tokens['eng-cfg']!, {
      selector: { site: 'cfg-good', kind: 'door', tags: ['entrance'] },
      patch: { unlockDurationS: 7 },
      canaryPercent: 20,
    });
    const done = await rolloutDone(r.body['id']);
    expect(done['state']).toBe('completed');
    expect(done['waves'].map((w: { devices: string[] }) => w.devices.length)).toEqual([2, 8]);
    const st = await api('GET', '/api/v1/config/status?site=cfg-good&kind=door', tokens['screen']!);
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
