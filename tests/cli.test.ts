/** The field engineers' `vigil` CLI (bin/vigil) against a real gateway with simulated doors. */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../gateway/gateway.ts';
import type { DoorSim } from '../simulators/kinds/door.ts';
import { doorSite as startDoors } from './helpers/doors.ts';
import { startTestGateway } from './helpers/gateway.ts';
import { ROOT } from './helpers/process.ts';

let gw: Gateway;
const sims: DoorSim[] = [];
let eng = '';
let admin = '';

function vigil(args: string[], token = eng): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(join(ROOT, 'bin/vigil'), args, {
      env: { ...process.env, VIGIL_URL: `http://127.0.0.1:${gw.ports.http}`, VIGIL_MQTT_URL: `mqtt://127.0.0.1:${gw.ports.mqtt}`, VIGIL_TOKEN: token },
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

/**
 * Four doors of a site of their own, online and verifying the site's signed configs. Tests that change
 * configurations each take a site, so their versions and histories do not depend on which ran first.
 */
async function doorSite(site: string): Promise<DoorSim[]> {
  const doors = await startDoors(gw, site, 4, { failConfig: (_id, c) => (c['unlockDurationS'] === 60 ? 'out of range for this lock' : undefined) });
  sims.push(...doors);
  return doors;
}

beforeAll(async () => {
  gw = (await startTestGateway({ security: { allowAnonymous: false } })).gw;
  const reg = gw.security.registry;
  eng = (await reg.addPrincipal({ id: 'field-eng', role: 'engineer', sites: ['cli', 'cfg-push', 'cfg-status', 'cfg-canary', 'cfg-typo'] }, { id: 'test' }))
    .token;
  admin = (await reg.addPrincipal({ id: 'cli-admin', role: 'admin', sites: ['*'] }, { id: 'test' })).token;
  await doorSite('cli');
});
afterAll(async () => {
  await Promise.all(sims.map((s) => s.stop()));
  await gw.stop();
});

describe('vigil CLI', () => {
  it('config push to every door of a site, in waves, with progress; exit 0 when it converges', async () => {
    const doors = await doorSite('cfg-push');
    const r = await vigil([
      'config',
      'push',
      '--site',
      'cfg-push',
      '--kind',
      'door',
      '--set',
      'heldOpenTimeoutS=40',
      '--set',
      'schedule.from=6',
      '--canary',
      '25',
      '--note',
      'night shift',
    ]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/rollout ro-\S+: 4 devices in 2 wave\(s\)/);
    expect(r.out).toMatch(/wave 1 \(canary\): 1\/1 in sync/);
    expect(r.out).toMatch(/completed/);
    expect(doors.every((s) => s.config['heldOpenTimeoutS'] === 40 && (s.config['schedule'] as { from: number }).from === 6)).toBe(true);
  });

  it('config status and history: readable tables, and --json for scripts', async () => {
    await doorSite('cfg-status');
    const push = await vigil([
      'config',
      'push',
      '--site',
      'cfg-status',
      '--kind',
      'door',
      '--set',
      'heldOpenTimeoutS=40',
      '--canary',
      '25',
      '--note',
      'night shift',
    ]);
    expect(push.code, push.err).toBe(0);
    const st = await vigil(['--json', 'config', 'status', '--site', 'cfg-status']);
    expect(st.code).toBe(0);
    expect((JSON.parse(st.out) as { devices: { status: string }[] }).devices.map((d) => d.status)).toEqual(['in_sync', 'in_sync', 'in_sync', 'in_sync']);
    const h = await vigil(['config', 'history', 'cfg-status-door-02']);
    expect(h.out).toMatch(/cfg-status-door-02: in_sync \(desired 1, reported 1\)/);
    expect(h.out).toMatch(/VERSION\s+AUTHOR\s+WHEN\s+ROLLOUT\s+NOTE\n1\s+field-eng\s+\S+\s+ro-\S+\s+night shift/);
  });

  it('a rollout that fails at the canary is rolled back: exit 1 with the reason', async () => {
    await doorSite('cfg-canary');
    const r = await vigil([
      'config',
      'push',
      '--site',
      'cfg-canary',
      '--kind',
      'door',
      '--patch',
      '{"unlockDurationS":60}',
      '--canary',
      '25',
      '--threshold',
      '0',
      '--wave-timeout',
      '10',
    ]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/rolled_back — wave 1: 1 of 1 devices failed/);
  });

  it('invalid input exits 2 with every field error; a role without the right exits 3; an unknown device 4', async () => {
    const bad = await vigil(['config', 'push', '--device', 'cli-door-01', '--patch', '{"heldOpenTimeoutS":2,"unlockDurationS":0}']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/cli-door-01: heldOpenTimeoutS: Too small[\s\S]*cli-door-01: unlockDurationS: Too small/);
    const forbidden = await vigil(['devices', 'provision', 'cli-smoke-09', '--kind', 'smoke', '--site', 'cli']);
    expect(forbidden.code).toBe(3);
    const missing = await vigil(['config', 'history', 'nope-01']);
    expect(missing.code).toBe(4);
  });

  it('devices list and provision (admin), and config rollback of one device', async () => {
    const p = await vigil(['devices', 'provision', 'cli-smoke-01', '--kind', 'smoke', '--site', 'cli', '--zone', 'hall'], admin);
    expect(p.code, p.err).toBe(0);
    expect(p.out).toMatch(/MQTT password \S{40,}/);
    const l = await vigil(['devices', 'list', '--site', 'cli']);
    expect(l.out).toMatch(/cli-door-01\s+door\s+cli\s+gate\s+enabled\s+true/);
    expect(l.out).toMatch(/cli-smoke-01\s+smoke\s+cli\s+hall\s+enabled\s+false/);
    const pushed = await vigil(['config', 'push', '--device', 'cli-door-04', '--set', 'heldOpenTimeoutS=45']);
    expect(pushed.code, pushed.err).toBe(0);
    const rb = await vigil(['config', 'rollback', 'cli-door-04']);
    expect(rb.code, rb.err).toBe(0);
    expect(rb.out).toMatch(/cli-door-04: rolled back, now desired version \d+/);
  });

  it('zones set (admin) and list; a wrong coordinate exits 2, an engineer setting one exits 3; dispatch for a zone without coordinates exits 2 with the reason', async () => {
    const set = await vigil(['zones', 'set', 'cli', 'gate', '--name', 'Gate 3', '--lat', '22.54', '--lon', '114.06', '--radius', '40'], admin);
    expect(set.code, set.err).toBe(0);
    expect(set.out).toMatch(/cli\/gate version 1: 22.54, 114.06/);
    const list = await vigil(['zones', 'list', 'cli']);
    expect(list.out).toMatch(/gate\s+Gate 3\s+22.54, 114.06\s+40\s+4\s+1/);
    expect((await vigil(['zones', 'set', 'cli', 'gate', '--lat', '95', '--lon', '114'], admin)).code).toBe(2);
    expect((await vigil(['zones', 'set', 'cli', 'gate', '--lat', '22', '--lon', '114'])).code).toBe(3);
    // A forced door in a zone nobody located, at a site with a body camera: reinforcement cannot be sent, and the CLI says why.
    await gw.security.registry.provisionMany(
      [
        { deviceId: 'cli-bodycam-01', kind: 'bodycam', site: 'cli', zone: 'beat' },
        { deviceId: 'cli-door-x', kind: 'door', site: 'cli', zone: 'yard' },
      ],
      { id: 'test' },
    );
    const a = gw.alerts.pipeline.engine.signal({
      site: 'cli',
      deviceId: 'cli-door-x',
      kind: 'door',
      type: 'forced_entry',
      active: true,
      severity: 'critical',
      reason: 'forced',
      ts: Date.now(),
    })!;
    const d = await vigil(['alerts', 'dispatch', a.id]);
    expect(d.code).toBe(2);
    expect(d.err).toMatch(/zone cli\/yard has no coordinates/);
    gw.alerts.act('resolve', a.id, { id: 'test', sites: ['*'], via: 'http' });
  });

  it('alerts watch follows alerts over MQTT with the same token', async () => {
    const subscribed = new Promise<void>((r) => gw.broker!.on('subscribe', (_s, client) => client.id.startsWith('field-eng:cli') && r()));
    const w = vigil(['alerts', 'watch', '--site', 'cli', '--count', '1']);
    await subscribed;
    await sims[0]!.publish('event', { type: 'forced_open' });
    const r = await w;
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/raised\s+critical\s+forced_entry\s+cli\/cli-door-01/);
  });

  it('a typo in a setting is refused with a suggestion, and nothing is pushed; a push that changes nothing makes no version and says so', async () => {
    // Its own site: every door in sync, then one door made different from what the site push below will want.
    await doorSite('cfg-typo');
    const base = await vigil(['config', 'push', '--site', 'cfg-typo', '--kind', 'door', '--set', 'heldOpenTimeoutS=40', '--set', 'schedule.from=6']);
    expect(base.code, base.err).toBe(0);
    const ahead = await vigil(['config', 'push', '--device', 'cfg-typo-door-04', '--set', 'schedule.from=7']);
    expect(ahead.code, ahead.err).toBe(0);
    const before = await vigil(['--json', 'config', 'history', 'cfg-typo-door-03']);
    const versions = (JSON.parse(before.out) as { history: unknown[] }).history.length;
    const typo = await vigil(['config', 'push', '--site', 'cfg-typo', '--kind', 'door', '--set', 'heldOpenTimoutS=50']);
    expect(typo.code).toBe(2);
    expect(typo.err).toMatch(/cfg-typo-door-01: heldOpenTimoutS: unknown setting "heldOpenTimoutS" for a door; did you mean "heldOpenTimeoutS"\?/);
    const nested = await vigil(['config', 'push', '--device', 'cfg-typo-door-03', '--set', 'schedule.form=7']);
    expect(nested.code).toBe(2);
    expect(nested.err).toMatch(/schedule\.form: unknown setting "form" .*did you mean "from"\?/);
    const current = (JSON.parse(before.out) as { desired: Record<string, unknown> }).desired;
    const same = await vigil(['config', 'push', '--device', 'cfg-typo-door-03', '--set', `heldOpenTimeoutS=${String(current['heldOpenTimeoutS'])}`]);
    expect(same.code, same.err).toBe(0);
    expect(same.out).toMatch(/cfg-typo-door-03: nothing to change, it already has this configuration/);
    // Site-wide: only the doors whose configuration changes are in the waves (cfg-typo-door-04 differs) ...
    const push = [
      'config',
      'push',
      '--site',
      'cfg-typo',
      '--kind',
      'door',
      '--set',
      `heldOpenTimeoutS=${String(current['heldOpenTimeoutS'])}`,
      '--set',
      'schedule.from=6',
    ];
    const some = await vigil(push);
    expect(some.code, some.err).toBe(0);
    expect(some.out).toMatch(/rollout ro-\S+: [1-3] devices in/);
    // ... and the same push again changes nothing.
    const all = await vigil(push);
    expect(all.code, all.err).toBe(0);
    expect(all.out).toMatch(/nothing to change: all 4 matching device\(s\) already have this configuration/);
    const after = await vigil(['--json', 'config', 'history', 'cfg-typo-door-03']);
    expect((JSON.parse(after.out) as { history: unknown[] }).history).toHaveLength(versions);
  });

  it('usage errors exit 2 with a message, never a stack trace; --version; a closed pipe ends quietly', async () => {
    const cases: [string[], RegExp][] = [
      [['config', 'push', '--nosuch'], /^vigil: unknown option '--nosuch'/],
      [['config', 'push', '--device', 'cli-door-01', '--patch', '{bad'], /^vigil: --patch is not valid JSON/],
      [
        ['config', 'push', '--site', 'cli', '--kind', 'door', '--set', 'heldOpenTimeoutS=45', '--canary', 'abc'],
        /^vigil: option '--canary <percent>' argument 'abc' is invalid\. expected a whole number from 1 to 100/,
      ],
      [['config', 'rollback'], /^vigil: give the device to roll back, or --rollout <id>/],
      [['config', 'push', '--device', 'cli-door-01', '--file', '/nonexistent.json'], /^vigil: cannot read --file \/nonexistent\.json: ENOENT/],
    ];
    for (const [args, re] of cases) {
      const r = await vigil(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toMatch(re);
      expect(r.err).not.toMatch(/\n\s+at /);
    }
    expect((await vigil(['--version'])).out.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const piped = await new Promise<{ code: number | null; err: string }>((resolve) => {
      const p = spawn('bash', ['-c', `${join(ROOT, 'bin/vigil')} --json devices list | head -c 10`], {
        env: { ...process.env, VIGIL_URL: `http://127.0.0.1:${gw.ports.http}`, VIGIL_TOKEN: admin },
      });
      let err = '';
      p.stderr.on('data', (d) => (err += d));
      p.on('close', (code) => resolve({ code, err }));
    });
    expect(piped.err).not.toMatch(/EPIPE|\n\s+at /);
  });

  it('alerts list, ack and resolve; alerts watch without --site follows the sites the token is granted', async () => {
    const subscribed = new Promise<void>((r) =>
      gw.broker!.on('subscribe', (subs, client) => client.id.startsWith('field-eng:cli') && subs.some((x) => x.topic === 'vigil/v1/cli/alerts/+/+/+') && r()),
    );
    const w = vigil(['alerts', 'watch', '--count', '1']);
    await subscribed;
    await sims[1]!.publish('event', { type: 'forced_open' });
    const watched = await w;
    expect(watched.code, watched.err).toBe(0);
    expect(watched.out).toMatch(/raised\s+critical\s+forced_entry\s+cli\/cli-door-02/);
    const id = /\[([^\]]+)\]\s*$/.exec(watched.out.trim())![1]!;
    const list = await vigil(['alerts', 'list', '--site', 'cli']);
    expect(list.code, list.err).toBe(0);
    expect(list.out).toContain(id);
    const ack = await vigil(['alerts', 'ack', id, '--note', 'on my way']);
    expect(ack.code, ack.err).toBe(0);
    expect(ack.out).toMatch(/acknowledged\s+forced_entry/);
    const res = await vigil(['alerts', 'resolve', id]);
    expect(res.out).toMatch(/resolved\s+forced_entry/);
    expect((await vigil(['alerts', 'ack', 'no-such-alert'])).code).toBe(4);
  });

  it('onboarding: bridges add, pending list and approve (one, or a CSV), claim-keys; an engineer deciding exits 3', async () => {
    const b = await vigil(['bridges', 'add', 'cli-z2m', '--site', 'cli'], admin);
    expect(b.code, b.err).toBe(0);
    expect(b.out).toMatch(/MQTT client id cli-z2m\n\s+MQTT username\s+cli-z2m\n\s+MQTT password\s+\S+\s+\(shown once\)/);
    expect((await vigil(['bridges', 'list'], admin)).out).toMatch(/cli-z2m\s+cli\s+zigbee2mqtt\s+zigbee2mqtt\s+enabled/);
    for (const id of ['cli-new-1', 'cli-new-2', 'cli-new-3'])
      gw.onboarding.seen({ source: 'mqtt', claimedId: id, address: '10.0.0.9', topic: `vigil/v1/cli/door/${id}/status`, kind: 'door', site: 'cli' });
    const list = await vigil(['pending', 'list']);
    expect(list.code, list.err).toBe(0);
    expect(list.out).toMatch(/cli-new-1\s+mqtt\s+door\s+cli\s+10\.0\.0\.9\s+1\s+\S+\s+pending/);
    const id = gw.onboarding.list().find((p) => p.claimedId === 'cli-new-1')!.id;
    expect((await vigil(['pending', 'approve', String(id)])).code).toBe(3);
    expect((await vigil(['pending', 'approve', 'cli-new-1'], admin)).code).toBe(2);
    const one = await vigil(['pending', 'approve', String(id), '--zone', 'lobby'], admin);
    expect(one.code, one.err).toBe(0);
    expect(one.out).toMatch(/cli-new-1\s+\S{20,}/);
    const dir = mkdtempSync(join(tmpdir(), 'vigil-cli-'));
    writeFileSync(join(dir, 'approve.csv'), 'claimedId,zone\ncli-new-2,lobby\ncli-new-3,yard\n');
    const bulk = await vigil(['pending', 'approve', '--file', join(dir, 'approve.csv')], admin);
    expect(bulk.code, bulk.err).toBe(0);
    expect(bulk.out).toMatch(/cli-new-2\s+\S{20,}\n\s*cli-new-3\s+\S{20,}/);
    expect(gw.security.registry.getDevice('cli-new-3')).toMatchObject({ site: 'cli', zone: 'yard', kind: 'door' });
    const key = await vigil(['claim-keys', 'create', '--site', 'cli', '--kinds', 'door,smoke', '--uses', '5'], admin);
    expect(key.code, key.err).toBe(0);
    expect(key.out).toMatch(/^provisioning key (pk-\S+) \(door, smoke at cli, until \S+\)\n\s+pk-\S+\.\S+\s+\(shown once\)/);
    expect((await vigil(['claim-keys', 'list'], admin)).out).toMatch(/pk-\S+\s+cli\s+-\s+door,smoke\s+0\s+5\s/);
  });
});
