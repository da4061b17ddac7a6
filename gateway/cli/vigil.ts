/**
 * `vigil`: the field engineers' CLI, talking to a gateway's HTTP API with a token
 * (`--token` or VIGIL_TOKEN; `--url` or VIGIL_URL). Readable tables, progress for
 * rollouts, `--json` for scripts.
 * Exit codes: 0 done, 1 the operation failed (rollout rolled back, device rejected),
 * 2 invalid input, 3 not authorized, 4 not found, 5 gateway unreachable.
 */
import { readFileSync } from 'node:fs';
import { Option } from 'commander';
import mqtt from 'mqtt';
import { CliError, cliProgram, EXIT, failWith, intArg, numArg, parseJson, runProgram } from './common.ts';
import { exitCodeOf } from '../errors.ts';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const program = cliProgram('vigil')
  .version(VERSION)
  .description('Vigil field-engineer CLI: configs, devices and alerts of an edge gateway')
  .addOption(new Option('--url <url>', 'gateway HTTP API').env('VIGIL_URL').default('http://localhost:8080'))
  .addOption(new Option('--token <token>', 'API token <principal>.<secret>').env('VIGIL_TOKEN'))
  .addOption(new Option('--mqtt <url>', 'gateway MQTT URL (alerts watch)').env('VIGIL_MQTT_URL').default('mqtt://localhost:1883'))
  .option('--json', 'machine-readable output');

const g = () => program.opts<{ url: string; token?: string; mqtt: string; json?: boolean }>();

/** An answer of the API as an expected failure: its message, its field errors, the exit code of its status. */
class ApiError extends CliError {
  constructor(
    readonly status: number,
    message: string,
    details?: { path: string; message: string }[],
  ) {
    super(message, exitCodeOf(status), details);
  }
}

const fail = (err: unknown): never => failWith(program, err);

async function api<T = Record<string, any>>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
  const { url, token } = g();
  let res: Response;
  try {
    res = await fetch(`${url.replace(/\/$/, '')}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': contentType } : {}) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
  } catch (err) {
    throw new CliError(
      `cannot reach the gateway at ${url}: ${(err as Error).cause ? String((err as { cause: Error }).cause.message) : (err as Error).message}`,
      EXIT.unreachable,
    );
  }
  const text = await res.text();
  let data: Record<string, any> = {};
  try {
    data = text ? (JSON.parse(text) as Record<string, any>) : {};
  } catch {
    throw new CliError(`${url} answered ${res.status} with something that is not the Vigil API (is --url right?)`, EXIT.unreachable);
  }
  if (!res.ok) throw new ApiError(res.status, String(data['message'] ?? res.statusText), data['details']);
  return data as T;
}

function table(rows: Record<string, unknown>[], cols: [string, string][]): void {
  const cells = rows.map((r) => cols.map(([k]) => (r[k] === null || r[k] === undefined ? '-' : String(r[k]))));
  const w = cols.map(([, h], i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  console.log(
    cols
      .map(([, h], i) => h.padEnd(w[i]!))
      .join('  ')
      .trimEnd(),
  );
  for (const c of cells)
    console.log(
      c
        .map((x, i) => x.padEnd(w[i]!))
        .join('  ')
        .trimEnd(),
    );
}

const out = (data: unknown, human: () => void) => (g().json ? console.log(JSON.stringify(data, null, 2)) : human());

/** --patch JSON, --file config.json, or --set a.b=value pairs, into a merge patch or a full config. */
function configBody(o: { patch?: string; file?: string; set?: string[]; note?: string }) {
  if (o.file) {
    let text: string;
    try {
      text = readFileSync(o.file, 'utf8');
    } catch (err) {
      throw new CliError(`cannot read --file ${o.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, EXIT.invalid);
    }
    return { config: parseJson(text, `--file ${o.file}`), note: o.note };
  }
  const patch: Record<string, unknown> = o.patch ? parseJson(o.patch, '--patch') : {};
  for (const kv of o.set ?? []) {
    const i = kv.indexOf('=');
    if (i < 1) throw new ApiError(400, `--set expects key=value, got "${kv}"`);
    const path = kv.slice(0, i).split('.');
    let v: unknown = kv.slice(i + 1);
    try {
      v = JSON.parse(v as string);
    } catch {
      /* a plain string */
    }
    let o2 = patch;
    for (const k of path.slice(0, -1)) o2 = (o2[k] ??= {}) as Record<string, unknown>;
    o2[path.at(-1)!] = v;
  }
  if (!Object.keys(patch).length) throw new ApiError(400, 'nothing to push: give --patch, --set or --file');
  return { patch, note: o.note };
}

const collect = (v: string, prev: string[] = []) => [...prev, v];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const config = program.command('config').description('push, watch and roll back device configurations');

config
  .command('push')
  .description('push a config to one device (--device) or, in waves, to every device matching --site/--kind/--zone/--tag')
  .option('--device <id>', 'one device')
  .option('--site <site>')
  .option('--kind <kind>', 'camera, door, smoke or bodycam')
  .option('--zone <zone>')
  .option('--tag <tag>', 'devices carrying this tag (repeatable)', collect)
  .option('--patch <json>', 'JSON merge patch, e.g. \'{"heldOpenTimeoutS":45}\'')
  .option('--set <key=value>', 'set one field (repeatable), e.g. --set schedule.from=7', collect)
  .option('--file <config.json>', 'a full configuration')
  .option('--note <text>', 'why (kept in the history)')
  .option('--canary <percent>', 'share of devices in the first wave, 1-100', intArg(1, 100), 10)
  .option('--threshold <share>', 'stop and roll back when more than this share of a wave fails, 0-1', numArg(0, 1), 0.2)
  .option('--wave-timeout <s>', 'seconds a wave may take; silent devices count as failed', intArg(1, 86_400), 60)
  .option('--no-wait', 'return once started')
  .action(async (o) => {
    try {
      const body = configBody(o);
      if (o.device) {
        let s = await api('POST', `/api/v1/devices/${o.device}/config`, body);
        if (s['unchanged']) {
          out(s, () => console.log(`${o.device}: nothing to change, it already has this configuration (version ${s['desiredVersion']}, ${s['status']})`));
          process.exit(EXIT.ok);
        }
        const version = s['desiredVersion'];
        if (o.wait) {
          const end = Date.now() + Number(o.waveTimeout) * 1000;
          while ((s['status'] === 'pending' || s['desiredVersion'] !== version) && Date.now() < end) {
            await sleep(300);
            s = await api('GET', `/api/v1/devices/${o.device}/config`);
          }
        }
        out(s, () => console.log(`${o.device}: version ${version} ${s['status']}${s['reason'] ? ` (${s['reason']})` : ''}`));
        process.exit(s['status'] === 'failed' || (o.wait && s['status'] === 'pending') ? 1 : 0);
      }
      if (!o.site || !o.kind) throw new ApiError(400, 'give --device, or --site and --kind for a rollout');
      let r = await api('POST', '/api/v1/config/rollouts', {
        selector: { site: o.site, kind: o.kind, ...(o.zone ? { zone: o.zone } : {}), ...(o.tag ? { tags: o.tag } : {}) },
        ...body,
        canaryPercent: Number(o.canary),
        failureThreshold: Number(o.threshold),
        waveTimeoutS: Number(o.waveTimeout),
      });
      if (r['state'] === 'unchanged') {
        out(r, () => console.log(`nothing to change: ${r['reason']}`));
        process.exit(EXIT.ok);
      }
      if (!g().json) console.log(`rollout ${r['id']}: ${r['total']} devices in ${r['waves'].length} wave(s)`);
      let last = '';
      while (o.wait && r['state'] === 'running') {
        await sleep(500);
        r = await api('GET', `/api/v1/config/rollouts/${r['id']}`);
        const line = (r['waves'] as { devices: string[]; status: Record<string, string>; done: boolean }[])
          .map((w, i) => {
            const st = Object.values(w.status);
            const n = (s: string) => st.filter((x) => x === s).length;
            return `wave ${i + 1}${i === 0 ? ' (canary)' : ''}: ${n('in_sync')}/${w.devices.length} in sync, ${n('failed') + n('timeout')} failed, ${n('pending')} pending${w.done ? ' ✓' : ''}`;
          })
          .join(' | ');
        if (line !== last && !g().json) console.log(`  ${line}`);
        last = line;
      }
      out(r, () => console.log(`rollout ${r['id']}: ${r['state']}${r['reason'] ? ` — ${r['reason']}` : ''}`));
      process.exit(r['state'] === 'rolled_back' ? 1 : 0);
    } catch (err) {
      fail(err);
    }
  });

config
  .command('status')
  .description('which device runs which version')
  .option('--site <site>')
  .option('--kind <kind>')
  .action(async (o) => {
    try {
      const q = new URLSearchParams(Object.entries({ site: o.site, kind: o.kind }).filter(([, v]) => v) as [string, string][]);
      const r = await api('GET', `/api/v1/config/status?${q}`);
      out(r, () =>
        table(r['devices'], [
          ['deviceId', 'DEVICE'],
          ['kind', 'KIND'],
          ['status', 'STATUS'],
          ['desiredVersion', 'DESIRED'],
          ['reportedVersion', 'REPORTED'],
          ['reason', 'REASON'],
        ]),
      );
      process.exit((r['devices'] as { status: string }[]).some((d) => d.status === 'failed') ? 1 : 0);
    } catch (err) {
      fail(err);
    }
  });

config
  .command('history <deviceId>')
  .description('every version of a device config, newest first')
  .action(async (id: string) => {
    try {
      const r = await api('GET', `/api/v1/devices/${id}/config`);
      out(r, () => {
        console.log(`${id}: ${r['status']} (desired ${r['desiredVersion'] ?? '-'}, reported ${r['reportedVersion'] ?? '-'})`);
        table(r['history'], [
          ['version', 'VERSION'],
          ['author', 'AUTHOR'],
          ['createdAt', 'WHEN'],
          ['rolloutId', 'ROLLOUT'],
          ['note', 'NOTE'],
        ]);
      });
    } catch (err) {
      fail(err);
    }
  });

config
  .command('rollback [deviceId]')
  .description('a device back to an earlier version (--to N; default the previous), or every device of a rollout (--rollout)')
  .option('--to <version>', 'version to go back to', intArg(1))
  .option('--rollout <id>')
  .action(async (id: string | undefined, o) => {
    try {
      if (!id && !o.rollout) throw new CliError('give the device to roll back, or --rollout <id>', EXIT.invalid);
      const r = o.rollout
        ? await api('POST', `/api/v1/config/rollouts/${o.rollout}/rollback`)
        : await api('POST', `/api/v1/devices/${id ?? ''}/config/rollback`, o.to !== undefined ? { toVersion: Number(o.to) } : {});
      out(r, () =>
        console.log(o.rollout ? `rollout ${o.rollout}: ${r['state']}` : `${id}: rolled back, now desired version ${r['desiredVersion']} (${r['status']})`),
      );
    } catch (err) {
      fail(err);
    }
  });

const devices = program.command('devices').description('list and provision devices');
devices
  .command('list')
  .option('--site <site>')
  .option('--kind <kind>')
  .action(async (o) => {
    try {
      const q = new URLSearchParams(Object.entries({ site: o.site, kind: o.kind }).filter(([, v]) => v) as [string, string][]);
      const r = await api('GET', `/api/v1/devices?${q}`);
      out(r, () =>
        table(r['devices'], [
          ['deviceId', 'DEVICE'],
          ['kind', 'KIND'],
          ['site', 'SITE'],
          ['zone', 'ZONE'],
          ['registration', 'REGISTRATION'],
          ['online', 'ONLINE'],
          ['lastSeen', 'LAST SEEN'],
          ['messages', 'MSGS'],
          ['refused', 'REFUSED'],
        ]),
      );
    } catch (err) {
      fail(err);
    }
  });
devices
  .command('provision [deviceId]')
  .description('provision one device, or every device of a CSV/JSON file (--file); prints the passwords once')
  .option('--kind <kind>')
  .option('--site <site>')
  .option('--zone <zone>')
  .option('--tags <list>', 'comma-separated')
  .option('--external-id <name>', "the vendor's name for it (a zigbee2mqtt friendly name), unique in its site")
  .option('--file <file>', 'CSV (deviceId,kind,site,zone,tags,externalId) or JSON')
  .action(async (id: string | undefined, o) => {
    try {
      if (o.file) {
        const text = readFileSync(o.file, 'utf8');
        const r = await api(
          'POST',
          '/api/v1/devices/bulk',
          o.file.endsWith('.json') ? JSON.parse(text) : text,
          o.file.endsWith('.json') ? 'application/json' : 'text/csv',
        );
        out(r, () =>
          table(
            r['devices'].map((d: { credentials: Record<string, string> }) => d.credentials),
            [
              ['username', 'DEVICE'],
              ['password', 'PASSWORD (shown once)'],
            ],
          ),
        );
        return;
      }
      const r = await api('POST', '/api/v1/devices', {
        deviceId: id,
        kind: o.kind,
        site: o.site,
        ...(o.zone ? { zone: o.zone } : {}),
        tags: o.tags ? String(o.tags).split(',') : [],
        ...(o.externalId ? { externalId: o.externalId } : {}),
      });
      out(r, () => console.log(`provisioned ${id}\n  MQTT username ${r['credentials'].username}\n  MQTT password ${r['credentials'].password}   (shown once)`));
    } catch (err) {
      fail(err);
    }
  });

program
  .command('camera')
  .description('cameras')
  .command('accept-view <deviceId>')
  .description("accept a camera's present view as its new normal (re-aimed on purpose): the tamper detector re-learns its reference")
  .option('--note <text>', 'why (kept in the audit log)')
  .action(async (id: string, o: { note?: string }) => {
    try {
      const r = await api('POST', `/api/v1/devices/${id}/accept-view`, o.note ? { note: o.note } : {});
      out(r, () =>
        console.log(
          `${id}: new view accepted; ${r['models'].join(', ') || 'no model'} re-learning its reference${r['alarmCleared'] ? '; the tamper alarm cleared' : ''}`,
        ),
      );
    } catch (err) {
      fail(err);
    }
  });

program
  .command('cmd <deviceId> <name>')
  .description(
    "send a command the device's kind declares (door: lock, unlock, hold_open_release; camera: snapshot, ptz_preset; bodycam: start_recording, start_stream, locate; smoke: hush, self_test) and wait for the answer",
  )
  .option('--param <key=value>', 'one parameter (repeatable), e.g. --param seconds=10', collect)
  .option('--params <json>', 'all parameters as JSON')
  .option('--wait <s>', 'seconds to wait for the answer (0: send and return)', numArg(0, 30), 10)
  .option('--ttl <s>', 'keep it this long for an offline device (0: refuse if offline)', intArg(0, 86_400), 0)
  .action(async (id: string, name: string, o: { param?: string[]; params?: string; wait: number; ttl: number }) => {
    try {
      const params: Record<string, unknown> = o.params ? parseJson(o.params, '--params') : {};
      for (const kv of o.param ?? []) {
        const i = kv.indexOf('=');
        if (i < 1) throw new ApiError(400, `--param expects key=value, got "${kv}"`);
        let v: unknown = kv.slice(i + 1);
        try {
          v = JSON.parse(v as string);
        } catch {
          /* a plain string */
        }
        params[kv.slice(0, i)] = v;
      }
      const c = await api('POST', `/api/v1/devices/${id}/commands`, { name, params, ttlS: o.ttl, waitS: o.wait });
      out(c, () => {
        const answer = c['reply']?.['error'] ?? (c['reply']?.['data'] ? JSON.stringify(c['reply']['data']) : '');
        console.log(`${id} ${name}: ${c['state']}${answer ? ` ${answer}` : ''}  [${c['id']}]`);
      });
      // Sent, queued or answered ok is done; an answer of error or rejected, or none in time, failed.
      if (['error', 'rejected', 'timeout', 'expired'].includes(String(c['state']))) process.exitCode = EXIT.failed;
    } catch (err) {
      fail(err);
    }
  });

const alertsCmd = program.command('alerts').description('list, acknowledge, resolve and follow alerts');

const alertLine = (a: Record<string, any>) =>
  `${String(a['severity']).padEnd(8)} ${String(a['state']).padEnd(12)} ${String(a['type']).padEnd(14)} ${a['site']}/${a['deviceId']}  ${a['reason']}  [${a['id']}]`;

alertsCmd
  .command('list')
  .description('alerts of your sites, newest first')
  .option('--site <site>')
  .option('--state <state>', 'open (raised or acknowledged), raised, acknowledged, resolved, auto_resolved', 'open')
  .option('--limit <n>', 'at most this many', intArg(1, 500), 50)
  .action(async (o) => {
    try {
      const q = new URLSearchParams(Object.entries({ site: o.site, state: o.state, limit: String(o.limit) }).filter(([, v]) => v) as [string, string][]);
      const r = await api('GET', `/api/v1/alerts?${q}`);
      out(r, () => {
        if (!r['alerts'].length) console.log(`no ${o.state} alerts`);
        else
          table(r['alerts'], [
            ['raisedAt', 'RAISED'],
            ['severity', 'SEVERITY'],
            ['state', 'STATE'],
            ['type', 'TYPE'],
            ['site', 'SITE'],
            ['deviceId', 'DEVICE'],
            ['id', 'ID'],
            ['reason', 'REASON'],
          ]);
      });
    } catch (err) {
      fail(err);
    }
  });

for (const action of ['ack', 'resolve'] as const) {
  alertsCmd
    .command(`${action} <alertId>`)
    .description(action === 'ack' ? 'acknowledge: you are responding (stops the first escalation)' : 'resolve: handled')
    .option('--note <text>', 'kept in the alert history')
    .action(async (id: string, o: { note?: string }) => {
      try {
        const a = await api('POST', `/api/v1/alerts/${encodeURIComponent(id)}/${action}`, o.note ? { note: o.note } : {});
        out(a, () => console.log(alertLine(a)));
      } catch (err) {
        fail(err);
      }
    });
}

alertsCmd
  .command('dispatch <alertId>')
  .description('send reinforcement now: the nearest free officers are asked (or the next nearest, when some already are)')
  .action(async (id: string) => {
    try {
      const r = await api('POST', `/api/v1/alerts/${encodeURIComponent(id)}/dispatch`, {});
      out(r, () =>
        table(r['dispatch']['officers'], [
          ['deviceId', 'OFFICER CAMERA'],
          ['officer', 'OFFICER'],
          ['round', 'ROUND'],
          ['state', 'STATE'],
          ['distanceM', 'DISTANCE M'],
          ['etaS', 'ETA S'],
        ]),
      );
    } catch (err) {
      fail(err);
    }
  });

const zones = program.command('zones').description('the zones of a site and where they are (reinforcement is sent to their coordinates)');
zones.command('list <site>').action(async (site: string) => {
  try {
    const r = await api('GET', `/api/v1/sites/${encodeURIComponent(site)}/zones`);
    out(r, () =>
      table(
        (r['zones'] as Record<string, any>[]).map((z) => ({
          ...z,
          where: z['location'] ? `${z['location'].lat}, ${z['location'].lon}` : 'no coordinates',
        })),
        [
          ['zone', 'ZONE'],
          ['name', 'NAME'],
          ['where', 'LAT, LON'],
          ['arrivalRadiusM', 'ARRIVAL M'],
          ['devices', 'DEVICES'],
          ['version', 'VERSION'],
        ],
      ),
    );
  } catch (err) {
    fail(err);
  }
});
zones
  .command('set <site> <zone>')
  .description('create or replace a zone (admin): name, coordinates (WGS 84), arrival radius')
  .option('--name <text>')
  .requiredOption('--lat <deg>', 'latitude, -90..90', numArg(-90, 90))
  .requiredOption('--lon <deg>', 'longitude, -180..180', numArg(-180, 180))
  .option('--radius <m>', 'an officer this close has arrived (default dispatch.arrivalRadiusM)', numArg(5, 2000))
  .action(async (site: string, zone: string, o: { name?: string; lat: number; lon: number; radius?: number }) => {
    try {
      const z = await api('PUT', `/api/v1/sites/${encodeURIComponent(site)}/zones/${encodeURIComponent(zone)}`, {
        ...(o.name ? { name: o.name } : {}),
        location: { lat: o.lat, lon: o.lon },
        ...(o.radius !== undefined ? { arrivalRadiusM: o.radius } : {}),
      });
      out(z, () => console.log(`${z['site']}/${z['zone']} version ${z['version']}: ${z['location'].lat}, ${z['location'].lon}`));
    } catch (err) {
      fail(err);
    }
  });

alertsCmd
  .command('watch')
  .description('follow alerts as they are raised, escalated, acknowledged and resolved (MQTT, with the same token)')
  .option('--site <site>', 'one site (default: every site granted to the token)')
  .option('--count <n>', 'exit after this many alert messages', intArg(1))
  .action(async (o) => {
    try {
      const { token, mqtt: url } = g();
      const dot = token?.indexOf('.') ?? -1;
      if (!token || dot < 1) throw new CliError('alerts watch needs --token <principal>.<secret>', EXIT.unauthorized);
      const id = token.slice(0, dot);
      // Without --site: the sites the token is granted ("*" = every site), from the API.
      const sites: string[] = o.site ? [o.site] : ((await api('GET', '/api/v1/me'))['sites'] as string[]);
      const filters = sites.includes('*') ? ['vigil/v1/+/alerts/+/+/+'] : sites.map((s) => `vigil/v1/${s}/alerts/+/+/+`);
      let client;
      try {
        client = await mqtt.connectAsync(url, {
          clientId: `${id}:cli-${process.pid}`,
          username: id,
          password: token.slice(dot + 1),
          reconnectPeriod: 0,
          connectTimeout: 5000,
        });
      } catch (err) {
        const code = (err as { code?: number }).code;
        throw code === 4 || code === 5
          ? new CliError(`MQTT login refused (${(err as Error).message})`, EXIT.unauthorized)
          : new CliError(`cannot reach ${url}: ${(err as Error).message}`, EXIT.unreachable);
      }
      let n = 0;
      client.on('message', (_t, payload) => {
        const a = JSON.parse(payload.toString()) as Record<string, string>;
        if (g().json) console.log(JSON.stringify(a));
        else
          console.log(
            `${new Date().toISOString().slice(11, 19)} ${a['event']!.padEnd(23)} ${a['severity']!.padEnd(8)} ${a['type']!.padEnd(14)} ${a['site']}/${a['deviceId']}  ${a['reason']}${a['acknowledgedBy'] && a['event'] === 'acknowledged' ? ` by ${a['acknowledgedBy']}` : ''}  [${a['id']}]`,
          );
        if (o.count && ++n >= o.count) void client.endAsync().then(() => process.exit(EXIT.ok));
      });
      let granted;
      try {
        granted = await client.subscribeAsync(filters, { qos: 1 });
      } catch (err) {
        throw new CliError(`the gateway refused the subscription: ${(err as Error).message}`, EXIT.unauthorized);
      }
      const refused = granted.filter((x) => x.qos === 128).map((x) => x.topic.split('/')[2]);
      if (refused.length) {
        await client.endAsync();
        throw new CliError(`not granted site${refused.length > 1 ? 's' : ''} ${refused.join(', ')}`, EXIT.unauthorized);
      }
      if (!g().json) console.error(`watching alerts of ${sites.includes('*') ? 'every site' : sites.join(', ')} (Ctrl-C to stop)`);
    } catch (err) {
      fail(err);
    }
  });

const pending = program.command('pending').description('devices that turned up unregistered: list, approve (one, or a CSV), reject');
pending
  .command('list')
  .option('--all', 'approved and rejected ones too')
  .action(async (o: { all?: boolean }) => {
    try {
      const r = await api('GET', `/api/v1/pending${o.all ? '?state=all' : ''}`);
      out(r, () =>
        table(r['pending'], [
          ['id', 'ID'],
          ['claimedId', 'CLAIMED ID'],
          ['source', 'SOURCE'],
          ['kind', 'LOOKS LIKE'],
          ['site', 'SITE'],
          ['address', 'FROM'],
          ['attempts', 'TRIES'],
          ['lastSeen', 'LAST SEEN'],
          ['state', 'STATE'],
        ]),
      );
    } catch (err) {
      fail(err);
    }
  });
pending
  .command('approve [id]')
  .description(
    'approve a waiting device (admin) into a site, zone and kind, or every line of a CSV (--file claimedId,deviceId,kind,site,zone,tags); prints the passwords once',
  )
  .option('--device-id <id>', 'the Vigil device id (default: the id it claimed)')
  .option('--kind <kind>')
  .option('--site <site>')
  .option('--zone <zone>')
  .option('--tags <list>', 'comma-separated')
  .option('--file <file>', 'CSV: claimedId,deviceId,kind,site,zone,tags')
  .action(async (id: string | undefined, o) => {
    try {
      const passwords = (devices: { credentials: Record<string, string> }[]) =>
        table(
          devices.map((d) => d.credentials),
          [
            ['username', 'DEVICE'],
            ['password', 'PASSWORD (shown once)'],
          ],
        );
      if (o.file) {
        const r = await api('POST', '/api/v1/pending/approve', readFileSync(o.file, 'utf8'), 'text/csv');
        out(r, () => passwords(r['devices']));
        return;
      }
      if (!id || !/^\d+$/.test(id)) throw new CliError('give the pending id (vigil pending list) or --file <csv>', EXIT.invalid);
      const r = await api('POST', `/api/v1/pending/${id}/approve`, {
        ...(o.deviceId ? { deviceId: o.deviceId } : {}),
        ...(o.kind ? { kind: o.kind } : {}),
        ...(o.site ? { site: o.site } : {}),
        ...(o.zone ? { zone: o.zone } : {}),
        tags: o.tags ? String(o.tags).split(',') : [],
      });
      out(r, () => passwords([r as { credentials: Record<string, string> }]));
    } catch (err) {
      fail(err);
    }
  });
pending
  .command('reject <id>')
  .option('--reason <text>')
  .action(async (id: string, o: { reason?: string }) => {
    try {
      const r = await api('POST', `/api/v1/pending/${encodeURIComponent(id)}/reject`, o.reason ? { reason: o.reason } : {});
      out(r, () => console.log(`rejected ${r['claimedId']} (${r['source']})`));
    } catch (err) {
      fail(err);
    }
  });

const bridges = program.command('bridges').description('bridges (zigbee2mqtt instances) that speak for the devices of a site');
bridges.command('list').action(async () => {
  try {
    const r = await api('GET', '/api/v1/bridges');
    out(r, () =>
      table(r['bridges'], [
        ['id', 'BRIDGE'],
        ['site', 'SITE'],
        ['adapter', 'ADAPTER'],
        ['baseTopic', 'BASE TOPIC'],
        ['state', 'STATE'],
        ['lastSeen', 'LAST SEEN'],
      ]),
    );
  } catch (err) {
    fail(err);
  }
});
bridges
  .command('add <id>')
  .description('register a bridge (admin); prints its MQTT credentials once (its client id is its id)')
  .requiredOption('--site <site>')
  .option('--adapter <name>', 'the bridge adapter', 'zigbee2mqtt')
  .option('--base-topic <topic>', "zigbee2mqtt's mqtt.base_topic", 'zigbee2mqtt')
  .action(async (id: string, o: { site: string; adapter: string; baseTopic: string }) => {
    try {
      const r = await api('POST', '/api/v1/bridges', { id, site: o.site, adapter: o.adapter, baseTopic: o.baseTopic });
      out(r, () =>
        console.log(
          `bridge ${id} of site ${o.site}\n  MQTT client id ${id}\n  MQTT username  ${r['credentials'].username}\n  MQTT password  ${r['credentials'].password}   (shown once)`,
        ),
      );
    } catch (err) {
      fail(err);
    }
  });
for (const action of ['rotate', 'revoke'] as const)
  bridges.command(`${action} <id>`).action(async (id: string) => {
    try {
      const r = await api('POST', `/api/v1/bridges/${encodeURIComponent(id)}/${action}`);
      out(r, () => console.log(action === 'rotate' ? `bridge ${id}: new MQTT password ${r['credentials'].password}   (shown once)` : `bridge ${id} revoked`));
    } catch (err) {
      fail(err);
    }
  });

const claimKeys = program.command('claim-keys').description('provisioning keys: devices claim themselves into a site (zero-touch)');
claimKeys
  .command('create')
  .requiredOption('--site <site>')
  .requiredOption('--kinds <list>', 'comma-separated kinds the key admits')
  .option('--zone <zone>')
  .option('--uses <n>', 'devices it may provision', intArg(1))
  .option('--ttl-h <hours>', 'hours it stays valid', numArg(0.1, 24 * 90))
  .action(async (o: { site: string; kinds: string; zone?: string; uses?: number; ttlH?: number }) => {
    try {
      const r = await api('POST', '/api/v1/claim-keys', {
        site: o.site,
        kinds: o.kinds.split(','),
        ...(o.zone ? { zone: o.zone } : {}),
        ...(o.uses ? { maxUses: o.uses } : {}),
        ...(o.ttlH ? { ttlH: o.ttlH } : {}),
      });
      out(r, () =>
        console.log(
          `provisioning key ${r['key'].id} (${r['key'].kinds.join(', ')} at ${o.site}, until ${r['key'].expiresAt})\n  ${r['secret']}   (shown once)`,
        ),
      );
    } catch (err) {
      fail(err);
    }
  });
claimKeys.command('list').action(async () => {
  try {
    const r = await api('GET', '/api/v1/claim-keys');
    out(r, () =>
      table(r['keys'], [
        ['id', 'KEY'],
        ['site', 'SITE'],
        ['zone', 'ZONE'],
        ['kinds', 'KINDS'],
        ['uses', 'USED'],
        ['maxUses', 'OF'],
        ['expiresAt', 'EXPIRES'],
        ['state', 'STATE'],
      ]),
    );
  } catch (err) {
    fail(err);
  }
});
claimKeys.command('revoke <id>').action(async (id: string) => {
  try {
    const r = await api('POST', `/api/v1/claim-keys/${encodeURIComponent(id)}/revoke`);
    out(r, () => console.log(`provisioning key ${r['id']} revoked`));
  } catch (err) {
    fail(err);
  }
});

await runProgram(program);
