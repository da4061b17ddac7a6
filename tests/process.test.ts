/** The gateway as a process: configuration errors, environment overrides, graceful shutdown. */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { configMarkdown, loadConfig, ConfigError } from '../gateway/config.ts';
import { deviceTopic } from '../devices/index.ts';
import { freePortsEnv, ROOT, runScript } from './helpers/process.ts';

const dir = mkdtempSync(join(tmpdir(), 'vigil-cfg-'));

describe('configuration', () => {
  it('merges defaults, file and environment, environment last', () => {
    const file = join(dir, 'a.json');
    writeFileSync(file, JSON.stringify({ gatewayId: 'metro-7', mqtt: { tcp: { port: 1999 } }, ingest: { maxJsonBytes: 4096 } }));
    const c = loadConfig({ file, env: { VIGIL_MQTT_TCP_PORT: '2883', VIGIL_MQTT_WS_ENABLED: 'false', VIGIL_LOG_LEVEL: 'debug' } });
    expect(c).toMatchObject({
      gatewayId: 'metro-7',
      mqtt: { tcp: { port: 2883 }, ws: { enabled: false } },
      ingest: { maxJsonBytes: 4096, maxSnapshotBytes: 1_048_576 },
      log: { level: 'debug' },
    });
  });

  it('reports every problem with its path and environment variable', () => {
    const file = join(dir, 'b.json');
    writeFileSync(file, JSON.stringify({ mqtt: { tcp: { prot: 1 } }, ingest: { maxJsonBytes: 10 } }));
    let err: ConfigError | undefined;
    try {
      loadConfig({ file, env: { VIGIL_HTTP_PORT: 'eighty' } });
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^mqtt\.tcp: Unrecognized key: "prot"/),
        expect.stringMatching(/^ingest\.maxJsonBytes \(VIGIL_INGEST_MAX_JSON_BYTES\): Too small/),
        expect.stringMatching(/^http\.port \(VIGIL_HTTP_PORT\): .*expected number/),
      ]),
    );
  });

  it('checks URLs, ports and the files it names before anything starts', () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig({ env });
      } catch (e) {
        return (e as ConfigError).problems;
      }
      return [];
    };
    expect(problems({ VIGIL_FORWARD_URL: 'not a url' })).toEqual([expect.stringMatching(/^forward\.url \(VIGIL_FORWARD_URL\): an http\(s\) URL/)]);
    expect(problems({ VIGIL_FORWARD_MQTT_URL: 'central:1883' })).toEqual([expect.stringMatching(/^forward\.mqtt\.url .*an MQTT URL/)]);
    expect(problems({ VIGIL_HTTP_PORT: '70000' })).toEqual([expect.stringMatching(/^http\.port .*Too big/)]);
    expect(
      problems({
        VIGIL_MQTT_TLS_ENABLED: 'true',
        VIGIL_MQTT_TLS_CERT_FILE: join(dir, 'missing.crt'),
        VIGIL_MQTT_TLS_KEY_FILE: join(dir, 'missing.key'),
        VIGIL_MQTT_TLS_CLIENT_CERTS: 'off',
      }),
    ).toEqual([
      expect.stringMatching(/^mqtt\.tls\.certFile .*cannot read .*missing\.crt \(no such file\)/),
      expect.stringMatching(/^mqtt\.tls\.keyFile .*cannot read .*missing\.key \(no such file\)/),
    ]);
    expect(problems({ VIGIL_FORWARD_MQTT_URL: 'mqtts://c:8883', VIGIL_FORWARD_MQTT_CERT_FILE: join(ROOT, 'package.json') })).toEqual([
      expect.stringMatching(/^forward\.mqtt\.keyFile .*needs both/),
    ]);
  });

  it('options that moved under kinds.<kind> are still read from a file and the environment, with a deprecation warning', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-cfg-old-'));
    const file = join(dir, 'old.json');
    writeFileSync(file, JSON.stringify({ alerts: { bruteForceDenials: 7 }, forward: { aggregateS: { smoke: 60 } } }));
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const c = loadConfig({ file, env: { VIGIL_ALERTS_MAN_DOWN_STILL_S: '20' } });
      expect(c.kinds['door']).toMatchObject({ bruteForceDenials: 7, bruteForceWindowS: 60 });
      expect(c.kinds['smoke']).toMatchObject({ aggregateS: 60 });
      expect(c.kinds['bodycam']).toMatchObject({ manDownStillS: 20 });
      // The new place wins when both are given.
      expect(
        loadConfig({ env: {}, overrides: { kinds: { door: { bruteForceDenials: 3 } }, alerts: { bruteForceDenials: 9 } } as never }).kinds['door'],
      ).toMatchObject({
        bruteForceDenials: 3,
      });
      // process.emitWarning delivers on the next tick.
      await new Promise<void>((r) => setImmediate(r));
      expect(warnings).toEqual(expect.arrayContaining([expect.stringMatching(/alerts\.bruteForceDenials .* is now kinds\.door\.bruteForceDenials/)]));
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('the README configuration reference is the one generated from the schema', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.split('<!-- config:start -->')[1]?.split('<!-- config:end -->')[0]?.trim();
    expect(section, 'regenerate with: node --import tsx gateway/main.ts --config-doc').toBe(configMarkdown());
  });

  it("the README command table is the kinds' declarations", async () => {
    const { commandsMarkdown } = await import('../gateway/commands/index.ts');
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.split('<!-- commands:start -->')[1]?.split('<!-- commands:end -->')[0]?.trim();
    expect(section, 'regenerate with: node --import tsx gateway/main.ts --commands-doc').toBe(commandsMarkdown());
  });

  it('the README error table is the catalogue', async () => {
    const { errorsMarkdown } = await import('../gateway/errors.ts');
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.split('<!-- errors:start -->')[1]?.split('<!-- errors:end -->')[0]?.trim();
    expect(section, 'regenerate with: node --import tsx gateway/main.ts --errors-doc').toBe(errorsMarkdown());
  });

  it('the README layout is the one generated from the tree, and every folder says what it is for', async () => {
    const { layout } = await import('../scripts/layout.ts');
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.split('<!-- layout:start -->')[1]?.split('<!-- layout:end -->')[0]?.trim();
    expect(section, 'regenerate with: npm run docs:layout').toBe(layout());
  });
});

describe('gateway process', () => {
  it('exits 2 with a clear message on a bad config file', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, '{"mqtt": {"tcp": {"port": 70000}}}');
    const p = runScript('gateway/main.ts', ['--config', file]);
    expect((await p.exit).code).toBe(2);
    expect(p.stderr()).toMatch(/invalid configuration .*bad\.json[\s\S]*mqtt\.tcp\.port \(VIGIL_MQTT_TCP_PORT\): Too big/);
  });

  it('exits 2 on an invalid environment override', async () => {
    const p = runScript('gateway/main.ts', [], { VIGIL_LOG_LEVEL: 'chatty' });
    expect((await p.exit).code).toBe(2);
    expect(p.stderr()).toMatch(/log\.level \(VIGIL_LOG_LEVEL\): Invalid option/);
  });

  it('exits 2 when a plaintext listener would face the network without TLS, and says how to fix it', async () => {
    const p = runScript('gateway/main.ts', [], { ...freePortsEnv, VIGIL_MQTT_TCP_HOST: '0.0.0.0' });
    expect((await p.exit).code).toBe(2);
    expect(p.stderr()).toMatch(
      /mqtt\.tcp\.host \(VIGIL_MQTT_TCP_HOST\): plaintext listener on non-loopback address "0\.0\.0\.0".*npm run certs -- site.*security\.allowPlaintext/,
    );
  });

  it('exits 2 on a data directory that others can read (secrets at rest), and names the fix', async () => {
    const data = mkdtempSync(join(tmpdir(), 'vigil-modes-'));
    chmodSync(data, 0o755);
    const p = runScript('gateway/main.ts', [], { ...freePortsEnv, VIGIL_DATA_DIR: data });
    expect((await p.exit).code).toBe(2);
    expect(p.stderr()).toMatch(/directory .*vigil-modes-\S+ has mode 0755 \(want 0700\)[\s\S]*chmod 700/);
    expect(p.stderr()).not.toMatch(/\n\s+at /); // a message, not a stack trace
  });

  it('shuts down gracefully on SIGTERM: accepted messages handed over, clients closed, exit 0', async () => {
    const p = runScript('gateway/main.ts', [], { ...freePortsEnv, VIGIL_SECURITY_ALLOW_ANONYMOUS: 'true' });
    const running = JSON.parse(await p.line(/vigil gateway running/)) as { ports: { mqtt: number; http: number } };
    const a = { site: 'hub1', kind: 'smoke', deviceId: 'proc-smoke-1' };
    const dev = await mqtt.connectAsync(`mqtt://127.0.0.1:${running.ports.mqtt}`, { clientId: a.deviceId, reconnectPeriod: 0 });
    for (let i = 0; i < 20; i++) {
      await dev.publishAsync(
        deviceTopic(a, 'telemetry'),
        JSON.stringify({ temperature_c: 20, humidity_pct: 40, eco2_ppm: 400, obscuration_pct_m: 0, seq: i }),
        { qos: 1 },
      );
    }
    const api = (await (await fetch(`http://127.0.0.1:${running.ports.http}/api/v1/devices/${a.deviceId}`)).json()) as { messages: number };
    expect(api.messages).toBe(20);
    const closed = new Promise<void>((r) => dev.once('close', () => r()));
    p.child.kill('SIGTERM');
    expect(await p.exit).toEqual({ code: 0, signal: null });
    await closed;
    expect(p.stdout()).toMatch(/"signal":"SIGTERM".*shutting down/);
    expect(p.stdout()).toMatch(/vigil gateway stopped/);
    dev.end(true);
  });

  it('npm start under SIGTERM: npm hands the signal to the gateway, which stops and frees its ports; exit 0, no orphan', async () => {
    const child = spawn('npm', ['start', '--silent'], {
      cwd: ROOT,
      env: { ...process.env, ...freePortsEnv, VIGIL_DATA_DIR: mkdtempSync(join(tmpdir(), 'vigil-npm-start-')) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d));
    const exit = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    const end = Date.now() + 60_000;
    while (!/vigil gateway running/.test(out) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    const running = JSON.parse(out.split('\n').find((l) => /vigil gateway running/.test(l))!) as { ports: { http: number } };
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(out).toMatch(/vigil gateway stopped/);
    await expect(fetch(`http://127.0.0.1:${running.ports.http}/healthz`)).rejects.toThrow();
  }, 90_000);

  it('--print-config shows the effective configuration', async () => {
    const p = runScript('gateway/main.ts', ['--print-config'], { VIGIL_GATEWAY_ID: 'station-12' });
    expect((await p.exit).code).toBe(0);
    expect(JSON.parse(p.stdout())).toMatchObject({ gatewayId: 'station-12', mqtt: { tcp: { port: 1883 } } });
  });
});

describe('admin CLI', () => {
  it('provisions from a CSV file, and a revocation closes the live session of a running gateway', async () => {
    const env = { ...freePortsEnv, VIGIL_DATA_DIR: mkdtempSync(join(tmpdir(), 'vigil-cli-')) };
    const cli = async (...args: string[]) => {
      const p = runScript('gateway/admin-cli.ts', ['--json', ...args], env);
      const { code } = await p.exit;
      return { code, out: p.stdout(), err: p.stderr() };
    };
    const god = await cli('principal', 'add', 'zeus', '--role', 'god', '--sites', '*');
    expect(god.code).toBe(2);
    expect(god.err).toMatch(/^vigil-admin: option '--role <role>' argument 'god' is invalid\. Allowed choices are consumer, engineer, admin/);
    const limit = await cli('audit', '--limit', 'abc');
    expect(limit.code).toBe(2);
    expect(limit.err).toMatch(/^vigil-admin: option '--limit <n>' argument 'abc' is invalid/);
    const admin = await cli('principal', 'add', 'ops', '--role', 'admin', '--sites', '*');
    expect(admin.code, admin.err).toBe(0);
    const again = await cli('principal', 'add', 'ops', '--role', 'admin', '--sites', '*');
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/^vigil-admin: principal "ops" exists/);
    expect(JSON.parse(admin.out).token).toMatch(/^ops\./);
    const csv = join(dir, 'site.csv');
    writeFileSync(csv, 'deviceId,kind,site,zone,tags\nhub9-door-01,door,hub9,lobby,entrance;24h\nhub9-smoke-01,smoke,hub9,,\n');
    const imported = await cli('device', 'import', csv);
    expect(imported.code, imported.err).toBe(0);
    const creds = JSON.parse(imported.out) as { username: string; password: string }[];
    expect(creds.map((c) => c.username)).toEqual(['hub9-door-01', 'hub9-smoke-01']);
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'deviceId,kind,site\nhub9-x,toaster,hub9\n');
    const refused = await cli('device', 'import', bad);
    expect(refused.code).toBe(2); // invalid input
    expect(refused.err).toMatch(/nothing was provisioned[\s\S]*\[0\]\.kind/);

    const gw = runScript('gateway/main.ts', [], env);
    const running = JSON.parse(await gw.line(/vigil gateway running/)) as { ports: { mqtt: number } };
    const dev = await mqtt.connectAsync(`mqtt://127.0.0.1:${running.ports.mqtt}`, {
      clientId: 'hub9-door-01',
      username: 'hub9-door-01',
      password: creds[0]!.password,
      reconnectPeriod: 0,
    });
    const closed = new Promise<void>((r) => dev.once('close', () => r()));
    expect((await cli('device', 'revoke', 'hub9-door-01')).code).toBe(0);
    await closed; // within the gateway's 2 s database watch
    const audit = JSON.parse((await cli('audit', '--limit', '100')).out) as { action: string; target: string }[];
    expect(audit.map((r) => `${r.action} ${r.target}`)).toEqual(
      expect.arrayContaining(['device.provision hub9-door-01', 'mqtt.connect hub9-door-01', 'device.revoke hub9-door-01', 'mqtt.session_closed hub9-door-01']),
    );
    // --tail: the newest records; --since: an age back from now.
    const tail = JSON.parse((await cli('audit', '--tail', '--limit', '2', '--since', '1h')).out) as { seq: number }[];
    expect(tail.map((r) => r.seq)).toEqual((audit as unknown as { seq: number }[]).slice(-2).map((r) => r.seq));
    gw.child.kill('SIGTERM');
    expect((await gw.exit).code).toBe(0);
  });
});

describe('npm run sim', () => {
  it('provisions its fleet through the API with an admin token and runs it against a secured gateway', async () => {
    const env = { ...freePortsEnv, VIGIL_DATA_DIR: mkdtempSync(join(tmpdir(), 'vigil-sim-')) };
    const admin = runScript('gateway/admin-cli.ts', ['--json', 'principal', 'add', 'ops', '--role', 'admin', '--sites', '*'], env);
    await admin.exit;
    const token = JSON.parse(admin.stdout()).token as string;
    const gw = runScript('gateway/main.ts', [], env);
    const ports = (JSON.parse(await gw.line(/vigil gateway running/)) as { ports: { mqtt: number; http: number } }).ports;
    const args = [
      '--url',
      `mqtt://127.0.0.1:${ports.mqtt}`,
      '--api',
      `http://127.0.0.1:${ports.http}`,
      '--sites',
      'simx',
      '--cameras',
      '1',
      '--doors',
      '1',
      '--smoke',
      '2',
      '--bodycams',
      '1',
      '--speed',
      '20',
      '--duration',
      '4',
    ];
    const sim = runScript('simulators/fleet-cli.ts', args, { VIGIL_TOKEN: token });
    expect((await sim.exit).code, sim.stderr()).toBe(0);
    expect(sim.stdout()).toMatch(/provisioned 5 and re-keyed 0 simulated devices/);
    const again = runScript('simulators/fleet-cli.ts', [...args.slice(0, -2), '--duration', '2'], { VIGIL_TOKEN: token });
    expect((await again.exit).code, again.stderr()).toBe(0);
    expect(again.stdout()).toMatch(/provisioned 0 and re-keyed 5/);
    const list = (await (await fetch(`http://127.0.0.1:${ports.http}/api/v1/devices?site=simx`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      devices: { messages: number; refused: number }[];
    };
    expect(list.devices).toHaveLength(5);
    expect(list.devices.every((d) => d.messages > 0 && d.refused === 0)).toBe(true);
    // A wrong token and an unreachable gateway are messages with their exit codes, not stack traces.
    const refused = runScript('simulators/fleet-cli.ts', args, { VIGIL_TOKEN: 'ops.wrong-secret' });
    expect((await refused.exit).code).toBe(3);
    expect(refused.stderr()).toMatch(/^vigil-sim: the gateway refused the token/);
    const away = runScript('simulators/fleet-cli.ts', ['--url', 'mqtt://127.0.0.1:1', '--duration', '1'], { VIGIL_TOKEN: '' });
    expect((await away.exit).code).toBe(5);
    expect(away.stderr()).toMatch(/^vigil-sim: cannot connect the simulated devices to mqtt:\/\/127\.0\.0\.1:1/);
    expect(refused.stderr() + away.stderr()).not.toMatch(/\n\s+at /);
    gw.child.kill('SIGTERM');
    await gw.exit;
  });
});

describe('npm run demo', () => {
  it('runs the gateway with all four kinds online, message rates and refused inputs by reason; a fire gets its zone cameras, the two nearest officers arrive, the concourse crowd surges, and the SLA table is printed', async () => {
    const labelsFile = join(dir, 'incidents.jsonl');
    const dataDir = join(dir, 'demo');
    const p = runScript(
      'scripts/demo.ts',
      [
        '--duration',
        '25',
        '--speed',
        '20',
        '--interval',
        '4',
        '--labels',
        labelsFile,
        '--data-dir',
        dataDir,
        '--sites',
        'hub1',
        '--cameras',
        '2',
        '--doors',
        '2',
        '--smoke',
        '2',
        '--bodycams',
        '2',
      ],
      freePortsEnv,
    );
    // The newcomer's path: the printed consumer and engineer credentials work straight away.
    await p.line(/curl -H/);
    const creds = JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8')) as Record<
      string,
      { id: string; mqttPassword: string; apiToken: string }
    > & { mqtt: string; http: string };
    const consumer = await mqtt.connectAsync(creds.mqtt.replace('localhost', '127.0.0.1'), {
      clientId: `${creds['consumer']!.id}:test`,
      username: creds['consumer']!.id,
      password: creds['consumer']!.mqttPassword,
      reconnectPeriod: 0,
    });
    const event = new Promise<string>((r) => consumer.once('message', (t) => r(t)));
    await consumer.subscribeAsync('vigil/v1/+/+/+/telemetry', { qos: 1 });
    expect(await event).toMatch(/^vigil\/v1\/hub1\//);
    consumer.end(true);
    const api = await fetch(`${creds.http.replace('localhost', '127.0.0.1')}/api/v1/devices`, {
      headers: { authorization: `Bearer ${creds['engineer']!.apiToken}` },
    });
    expect(api.status).toBe(200);
    // 2 cameras + the faulty one, 2 doors, 2 smoke alarms, 2 body cameras, and the zigbee2mqtt bridge's 2 detectors and door contact.
    expect(((await api.json()) as { count: number }).count).toBe(12);
    // The Zigbee detector nobody registered waits for an admin (once the simulated bridge has connected).
    const pendingNow = async () =>
      (
        (await (
          await fetch(`${creds.http.replace('localhost', '127.0.0.1')}/api/v1/pending`, {
            headers: { authorization: `Bearer ${creds['admin']!.apiToken}` },
          })
        ).json()) as { pending: { claimedId: string; source: string }[] }
      ).pending;
    let pending = await pendingNow();
    for (let i = 0; i < 100 && !pending.some((x) => x.claimedId === 'garage/smoke' && (x as { kind?: string }).kind); i++) {
      await new Promise((r) => setTimeout(r, 100));
      pending = await pendingNow();
    }
    expect(pending).toEqual([expect.objectContaining({ claimedId: 'garage/smoke', source: 'bridge:hub1-z2m', kind: 'smoke', site: 'hub1' })]);
    expect((await p.exit).code, p.stderr()).toBe(0);
    const out = p.stdout();
    const final = out.slice(out.lastIndexOf('kind       online/total'));
    // Before shutdown every device was online: cameras 2 + the faulty camera, 2 doors + a Zigbee contact, 2 smoke + 2 Zigbee, 2 bodycams.
    const lastLive = out.slice(0, out.lastIndexOf('final')).lastIndexOf('kind       online/total');
    const live = out.slice(lastLive);
    for (const [kind, n] of [
      ['camera', 3],
      ['door', 3],
      ['smoke', 4],
      ['bodycam', 2],
    ] as const) {
      const row = live.split('\n').find((l) => l.startsWith(kind))!;
      expect(row, live).toMatch(new RegExp(`^${kind}\\s+${n}/${n}\\s+\\d+\\.\\d\\s+[1-9]`));
    }
    expect(final).toMatch(/refused inputs by reason: .*invalid_json [1-9]/);
    expect(final).toMatch(/incidents injected \([1-9]/);
    // Alerts as they are raised, acknowledged by the simulated operator, and escalated when nobody does.
    expect(out).toMatch(/ALERT raised +critical +fire +hub1-smoke-0\d/);
    expect(out).toMatch(/ALERT acknowledged .* by ops-center/);
    expect(out).toMatch(/ALERT escalated /);
    // The concourse's crowd surges: one alert for the zone, from its counting cameras, with the operator's reason.
    expect(out).toMatch(/ALERT raised +major +crowd_surge +crowd-concourse +concourse: \d+ people, \d+ % of capacity, \+\d+ in 60 s/);
    // The 1-3-5 loop closed on the opening fire: both concourse cameras photograph it, the two officers are sent, accept and arrive.
    const fire = out.split('\n').filter((l) => / fire +hub1-smoke-01 /.test(l));
    expect(
      fire.filter((l) => /evidence_attached .* snapshot of hub1-camera-0[12]$/.test(l)),
      out,
    ).toHaveLength(2);
    expect(
      fire.filter((l) => /dispatch_requested .* → hub1-bodycam-0[12] \d+ m, ETA \d+ s$/.test(l)),
      out,
    ).toHaveLength(2);
    expect(
      fire.some((l) => /dispatch_accepted .* → hub1-bodycam-0[12]$/.test(l)),
      out,
    ).toBe(true);
    expect(
      fire.some((l) => /dispatch_arrived .* → hub1-bodycam-0[12] \d+ m$/.test(l)),
      out,
    ).toBe(true);
    expect(out).toMatch(/the 1-3-5 rule over this run[\s\S]*\nhub1 +fire +1 /);
    expect(
      readFileSync(labelsFile, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).type),
    ).toContain('fire');
  }, 90_000);
});
