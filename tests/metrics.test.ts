/**
 * /metrics as Prometheus sees it: the exposition of a real gateway process, linted by `promtool check
 * metrics` (Debian's prometheus package), with the series an operator needs.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { deviceTopic } from '../devices/index.ts';
import { freePortsEnv, runScript } from './helpers/process.ts';

describe('/metrics', () => {
  it('is lint-clean under promtool, with standard process metrics, a gateway label and the operator series', async () => {
    const env = {
      ...freePortsEnv,
      VIGIL_DATA_DIR: mkdtempSync(join(tmpdir(), 'vigil-metrics-')),
      VIGIL_GATEWAY_ID: 'station-12',
      VIGIL_SECURITY_ALLOW_ANONYMOUS: 'true',
    };
    const gw = runScript('gateway/main.ts', [], env);
    try {
      const ports = (JSON.parse(await gw.line(/vigil gateway running/)) as { ports: { mqtt: number; http: number } }).ports;
      // Some traffic, so histograms and per-route series exist: a forced door raises an alert.
      const d = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.mqtt}`, { clientId: 'm-door-1', protocolVersion: 4, reconnectPeriod: 0 });
      await d.publishAsync(deviceTopic({ site: 'm1', kind: 'door', deviceId: 'm-door-1' }, 'event'), JSON.stringify({ type: 'forced_open' }), { qos: 1 });
      await d.endAsync();
      await fetch(`http://127.0.0.1:${ports.http}/healthz`);
      const text = await (await fetch(`http://127.0.0.1:${ports.http}/metrics`)).text();
      const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      expect(lint.stdout + lint.stderr, 'promtool findings').toBe('');
      expect(lint.status).toBe(0);
      /** The value of the series `name` carrying all of `labels` (in any order). */
      const value = (name: string, labels: Record<string, string | RegExp>) => {
        const line = text
          .split('\n')
          .find(
            (l) =>
              l.startsWith(`${name}{`) &&
              Object.entries(labels).every(([k, v]) => (typeof v === 'string' ? l.includes(`${k}="${v}"`) : new RegExp(`${k}="${v.source}"`).test(l))),
          );
        return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
      };
      expect(value('process_cpu_seconds_total', { gateway: 'station-12' })).toBeGreaterThan(0);
      expect(text).not.toMatch(/vigil_process_process_/);
      expect(value('vigil_build_info', { version: /\d+\.\d+\.\d+/, node: /v\d+[^"]*/, gateway: 'station-12' })).toBe(1);
      expect(value('vigil_alerts_open', { site: 'm1', severity: 'critical', state: 'raised', gateway: 'station-12' })).toBe(1);
      expect(value('vigil_ingest_ack_seconds_count', { qos: '1', gateway: 'station-12' })).toBeGreaterThanOrEqual(1);
      expect(value('vigil_http_requests_total', { method: 'GET', route: '/healthz', status: '200', gateway: 'station-12' })).toBe(1);
      for (const name of [
        'vigil_devices_registered',
        'vigil_devices_healthy',
        'vigil_coverage_ratio',
        'vigil_config_devices',
        'vigil_inference_windows_skipped_total',
        'vigil_spool_commit_seconds',
        'vigil_uplink_circuit_state',
      ]) {
        expect(text, name).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
      }
    } finally {
      gw.child.kill('SIGTERM');
      await gw.exit;
    }
  });
});
