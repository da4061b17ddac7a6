/**
 * Backup → wipe → restore → the box comes back: devices reconnect with their old credentials and
 * get their retained desired config, an alert raised before the backup is still there, site keys
 * still sign, and the audit log records both steps. The admin CLI runs as a separate process,
 * the backup online, against a running gateway.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../gateway/config.ts';
import { Gateway } from '../gateway/gateway.ts';
import { until } from './helpers/gateway.ts';
import { runScript } from './helpers/process.ts';

const masterKey = randomBytes(32).toString('base64');

async function startBox(dataDir: string) {
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir,
      mqtt: { tcp: { host: '127.0.0.1', port: 0 }, ws: { enabled: false } },
      http: { host: '127.0.0.1', port: 0 },
      log: { level: 'silent' },
      security: { masterKey },
      alerts: { startupGraceS: 0 },
    },
  });
  const gw = await new Gateway({ config }).start();
  const api = async (method: string, path: string, token: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${gw.ports.http}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
  return { gw, api, url: `mqtt://127.0.0.1:${gw.ports.mqtt}` };
}

const admin = (dataDir: string, args: string[], env: NodeJS.ProcessEnv = { VIGIL_SECURITY_MASTER_KEY: masterKey }) =>
  runScript('gateway/admin-cli.ts', args, { VIGIL_DATA_DIR: dataDir, ...env });

describe('backup and restore', () => {
  it('backup (online) → wipe → restore: devices reconnect with old credentials and get their config; alerts, keys and audit are back', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'vigil-box-'));
    const archive = join(mkdtempSync(join(tmpdir(), 'vigil-bk-')), 'box.tar.gz');
    let box = await startBox(dataDir);
    const ops = await box.gw.security.registry.addPrincipal({ id: 'ops', role: 'admin', sites: ['*'] }, { id: 'test' });
    const [door] = await box.gw.security.registry.provisionMany([{ deviceId: 'bk-door-01', kind: 'door', site: 'bk' }], { id: 'test' });
    const push = await box.api('POST', '/api/v1/devices/bk-door-01/config', ops.token, { patch: { heldOpenTimeoutS: 45 } });
    expect(push.status).toBeLessThan(300);
    const dev = await mqtt.connectAsync(box.url, { clientId: 'bk-door-01', username: 'bk-door-01', password: door!.credentials.password, reconnectPeriod: 0 });
    await dev.publishAsync('vigil/v1/bk/door/bk-door-01/event', JSON.stringify({ type: 'forced_open' }), { qos: 1 });
    await until(() => box.gw.alerts.store.query({ site: 'bk' }).length > 0, 'alert raised');
    const alertId = box.gw.alerts.store.query({ site: 'bk' })[0]!.id;
    await dev.endAsync();

    const b = admin(dataDir, ['backup', archive]);
    expect((await b.exit).code, b.stderr()).toBe(0);
    expect(b.stdout()).toMatch(/1 devices, 1 principals, \d+ alerts, 1 site keys/);
    expect(statSync(archive).mode & 0o777).toBe(0o600);
    expect(box.gw.security.audit.query({ action: 'box.backup', limit: 10 })).toHaveLength(1);
    await box.gw.stop();

    // The box is lost.
    rmSync(dataDir, { recursive: true, force: true });
    // Restoring without the master key that sealed the site keys is refused, clearly.
    const noKey = admin(dataDir, ['restore', archive], {});
    expect((await noKey.exit).code).toBe(2);
    expect(noKey.stderr()).toMatch(/site signing keys .* are sealed and no master key is available/);
    expect(existsSync(join(dataDir, 'vigil.db'))).toBe(false);
    const r = admin(dataDir, ['restore', archive]);
    expect((await r.exit).code, r.stderr()).toBe(0);
    // A second restore over a box needs --force.
    const again = admin(dataDir, ['restore', archive]);
    expect((await again.exit).code).toBe(2);
    expect(again.stderr()).toMatch(/already holds a box .* --force/);

    box = await startBox(dataDir);
    try {
      const desired = new Promise<Record<string, unknown>>((resolve) => {
        void mqtt
          .connectAsync(box.url, { clientId: 'bk-door-01', username: 'bk-door-01', password: door!.credentials.password, reconnectPeriod: 0 })
          .then(async (c) => {
            c.on('message', (_t, p) => resolve(JSON.parse(p.toString()) as Record<string, unknown>));
            await c.subscribeAsync('vigil/v1/bk/door/bk-door-01/config/desired', { qos: 1 });
          });
      });
      expect(await desired).toMatchObject({ config: expect.objectContaining({ heldOpenTimeoutS: 45 }) });
      expect(box.gw.alerts.store.get(alertId)).toMatchObject({ type: 'forced_entry', deviceId: 'bk-door-01' });
      // The restored site key still signs: a new version is pushed and signed.
      expect((await box.api('POST', '/api/v1/devices/bk-door-01/config', ops.token, { patch: { heldOpenTimeoutS: 50 } })).status).toBeLessThan(300);
      const actions = box.gw.security.audit.query({ limit: 1000 }).map((x) => x.action);
      expect(actions).toEqual(expect.arrayContaining(['device.provision', 'box.restore']));
    } finally {
      await box.gw.stop();
    }
  }, 60_000);
});
