/**
 * Nothing the broker accepted is lost across a restart: a persistent session (clean = false) gets,
 * after a kill -9 and a restart of the gateway process, every QoS 1 alert raised while it was
 * offline, and retained device status is there before any device reconnects.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { scrape, until } from './helpers/gateway.ts';
import { freePortsEnv, runScript } from './helpers/process.ts';

type Running = { ports: { mqtt: number; http: number } };
const start = async (env: NodeJS.ProcessEnv) => {
  const p = runScript('gateway/main.ts', [], env);
  return { p, r: JSON.parse(await p.line(/vigil gateway running/)) as Running };
};

describe('durable broker state', () => {
  it('after kill -9: the offline persistent session gets exactly the alerts raised meanwhile, and retained status survives', async () => {
    const env = { ...freePortsEnv, VIGIL_DATA_DIR: mkdtempSync(join(tmpdir(), 'vigil-durable-')), VIGIL_SECURITY_ALLOW_ANONYMOUS: 'true' };
    const { p: p1, r: r1 } = await start(env);
    const url1 = `mqtt://127.0.0.1:${r1.ports.mqtt}`;
    const ops = await mqtt.connectAsync(url1, { clientId: 'ops-wall', clean: false, reconnectPeriod: 0 });
    await ops.subscribeAsync('vigil/v1/ks/alerts/+/+/+', { qos: 1 });
    await ops.endAsync();

    // A desired config (signed, retained), pushed through the API (anonymous here acts as admin).
    const api1 = (path: string, body: unknown) =>
      fetch(`http://127.0.0.1:${r1.ports.http}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await api1('/api/v1/devices', { deviceId: 'ks-door-1', kind: 'door', site: 'ks' })).status).toBe(201);
    expect((await api1('/api/v1/devices/ks-door-1/config', { patch: { heldOpenTimeoutS: 45 } })).status).toBeLessThan(300);
    const dev = await mqtt.connectAsync(url1, { clientId: 'ks-cam-1', reconnectPeriod: 0 });
    await dev.publishAsync('vigil/v1/ks/bodycam/ks-cam-1/status', JSON.stringify({ online: true, firmware: '2.1.0' }), { qos: 1, retain: true });
    await dev.publishAsync('vigil/v1/ks/bodycam/ks-cam-1/event', JSON.stringify({ type: 'sos', pressed: true }), { qos: 1 });
    const door = await mqtt.connectAsync(url1, { clientId: 'ks-door-1', reconnectPeriod: 0 });
    await door.publishAsync('vigil/v1/ks/door/ks-door-1/event', JSON.stringify({ type: 'forced_open' }), { qos: 1 });
    // Both alerts queued for the offline session (the gateway's own gauge), then the power goes.
    const queued = async () => Number(/^vigil_mqtt_queued_messages (\d+)/m.exec(await scrape(`http://127.0.0.1:${r1.ports.http}`))?.[1] ?? 0);
    await until(async () => (await queued()) >= 2, 'two alerts queued for ops-wall', 10_000);
    const alerts = (await (await fetch(`http://127.0.0.1:${r1.ports.http}/api/v1/alerts`)).json()) as { alerts: { id: string }[] };
    p1.child.kill('SIGKILL');
    expect((await p1.exit).signal).toBe('SIGKILL');
    dev.end(true);
    door.end(true);

    const { p: p2, r: r2 } = await start(env);
    try {
      const url2 = `mqtt://127.0.0.1:${r2.ports.mqtt}`;
      // Retained device status is there without the device (or the gateway) publishing it again.
      const watcher = await mqtt.connectAsync(url2, { clientId: 'status-watch', reconnectPeriod: 0 });
      const retained = new Promise<string>((resolve) => watcher.on('message', (_t, payload, packet) => packet.retain && resolve(payload.toString())));
      await watcher.subscribeAsync('vigil/v1/ks/bodycam/ks-cam-1/status', { qos: 1 });
      expect(JSON.parse(await retained)).toMatchObject({ online: true, firmware: '2.1.0' });
      // So is the door's desired config: not published again at start (the broker kept it), still signed.
      const desired = new Promise<Record<string, unknown>>((resolve) =>
        watcher.on(
          'message',
          (t, payload, packet) => t.endsWith('/config/desired') && packet.retain && resolve(JSON.parse(payload.toString()) as Record<string, unknown>),
        ),
      );
      await watcher.subscribeAsync('vigil/v1/ks/door/ks-door-1/config/desired', { qos: 1 });
      expect(await desired).toMatchObject({
        version: 1,
        config: expect.objectContaining({ heldOpenTimeoutS: 45 }),
        signature: expect.objectContaining({ alg: 'Ed25519', sig: expect.any(String) }),
      });
      watcher.end(true);
      // The session is still there, and gets what was queued for it: the same alerts, each once (dedupable by id and version).
      const got: { id: string; event: string }[] = [];
      const again = mqtt.connect(url2, { clientId: 'ops-wall', clean: false, reconnectPeriod: 0 });
      again.on('message', (_t, payload) => got.push(JSON.parse(payload.toString()) as { id: string; event: string }));
      const connack = await new Promise<{ sessionPresent: boolean }>((resolve) => again.once('connect', resolve));
      expect(connack.sessionPresent).toBe(true);
      await until(() => got.length >= 2, 'queued alerts delivered after restart', 10_000);
      expect(new Set(got.filter((m) => m.event === 'raised').map((m) => m.id))).toEqual(new Set(alerts.alerts.map((a) => a.id)));
      // Delivered, so no longer queued; nothing was dropped.
      const sessions = (await (await fetch(`http://127.0.0.1:${r2.ports.http}/api/v1/broker/sessions`)).json()) as {
        durable: boolean;
        sessions: unknown[];
        dropped: number;
      };
      expect(sessions).toMatchObject({ durable: true, dropped: 0 });
      again.end(true);
    } finally {
      p2.child.kill('SIGTERM');
      await p2.exit;
    }
  }, 60_000);
});
