/**
 * The deployment files, read as an auditor would (this machine has no Docker engine to run them):
 * the edge profile publishes only device-facing ports and never mounts the CA key; the central
 * tier does not run on a box; the central broker's ACL is the one the uplink tests prove.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

interface Service {
  profiles?: string[];
  ports?: string[];
  volumes?: string[];
  environment?: Record<string, string>;
}
const compose = parse(readFileSync(new URL('../docker-compose.yml', import.meta.url), 'utf8')) as { services: Record<string, Service> };
const inProfile = (p: string) => Object.entries(compose.services).filter(([, s]) => s.profiles?.includes(p));

describe('docker-compose.yml', () => {
  it('edge: only the gateway, with device-facing ports; the CA private key is never mounted; a scoped token, not the admin token', () => {
    expect(inProfile('edge').map(([n]) => n)).toEqual(['gateway']);
    const gw = compose.services['gateway']!;
    expect(gw.ports!.map((p) => p.split(':')[0])).toEqual(['8883', '8884', '8080']);
    for (const v of gw.volumes!) expect(v, v).not.toMatch(/ca\.key|\.\/deploy\/pki:/);
    expect(gw.environment!['VIGIL_FORWARD_TOKEN']).toMatch(/INFLUX_WRITE_TOKEN/);
    expect(gw.environment!['VIGIL_FORWARD_MQTT_URL']).toMatch(/^mqtts:\/\//);
  });

  it('central: InfluxDB, Grafana and the central broker, none of them in the edge profile', () => {
    expect(
      inProfile('central')
        .map(([n]) => n)
        .sort(),
    ).toEqual(['central-broker', 'grafana', 'influxdb']);
    for (const [, s] of inProfile('central')) expect(s.profiles).not.toContain('edge');
    expect(compose.services['central-broker']!.volumes).toEqual(expect.arrayContaining(['./deploy/central/acl:/etc/mosquitto/acl:ro']));
  });
});

describe('deploy/vigil.service', () => {
  it('is a unit systemd accepts, that restarts on failure but not on a bad configuration, and stops with SIGTERM', () => {
    const unit = readFileSync(new URL('../deploy/vigil.service', import.meta.url), 'utf8');
    const dir = mkdtempSync(join(tmpdir(), 'vigil-unit-'));
    copyFileSync(new URL('../deploy/vigil.service', import.meta.url), join(dir, 'vigil.service'));
    const v = spawnSync('systemd-analyze', ['verify', join(dir, 'vigil.service')], { encoding: 'utf8' });
    expect(
      v.stderr.split('\n').filter((l) => l.includes('vigil.service')),
      'systemd-analyze verify',
    ).toEqual([]);
    for (const line of [
      'Restart=on-failure',
      'RestartPreventExitStatus=2',
      'KillSignal=SIGTERM',
      'StateDirectory=vigil',
      'StateDirectoryMode=0700',
      'NoNewPrivileges=yes',
      'User=vigil',
    ])
      expect(unit).toContain(line);
  });
});

describe('npm', () => {
  it("reads the project configuration without warnings (the onnxruntime skip flag lives in the scripts' environment)", () => {
    const r = spawnSync('npm', ['config', 'list'], { cwd: new URL('..', import.meta.url), encoding: 'utf8' });
    expect(r.stderr).not.toMatch(/Unknown project config/);
  });
});
