/**
 * `vigil`: the field engineers' CLI, talking to a gateway's HTTP API with a token
 * (`--token` or VIGIL_TOKEN; `--url` or VIGIL_URL). Readable tables, progress for
 * rollouts, `--json` for scripts.
 * Exit codes: 0 done, 1 the operation failed (rollout rolled back, device rejected),
 * 2 invalid input, 3 not authorized, 4 not found, 5 gateway unreachable.
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import mqtt from 'mqtt';

const program = new Command('vigil')
  .description('Vigil field-engineer CLI: configs, devices and alerts of an edge gateway')
  .addOption(new Option('--url <url>', 'gateway HTTP API').env('VIGIL_URL').default('http://localhost:8080'))
  .addOption(new Option('--token <token>', 'API token <principal>.<secret>').env('VIGIL_TOKEN'))
  .addOption(new Option('--mqtt <url>', 'gateway MQTT URL (alerts watch)').env('VIGIL_MQTT_URL').default('mqtt://localhost:1883'))
  .option('--json', 'machine-readable output');

const g = () => program.opts<{ url: string; token?: string; mqtt: string; json?: boolean }>();

class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly details?: { path: string; message: string }[]) {
    super(message);
  }
}

const exitFor = (status: number) => (status === 400 || status === 409 ? 2 : status === 401 || status === 403 ? 3 : status === 404 ? 4 : 1);

function fail(err: unknown): never {
  if (err instanceof ApiError) {
    console.error(`vigil: ${err.message}`);
    for (const d of err.details ?? []) console.error(`  ${d.path}: ${d.message}`);
    process.exit(exitFor(err.status));
  }
  console.error(`vigil: ${(err as Error).message}`);
  process.exit((err as { code?: string }).code === 'UNREACHABLE' ? 5 : 1);
}

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
    throw Object.assign(new Error(`cannot reach the gateway at ${url}: ${(err as Error).cause ? String((err as { cause: Error }).cause.message) : (err as Error).message}`), { code: 'UNREACHABLE' });
  }
  const text = await res.text();
  const data = text ? (JSON.parse(text) as Record<string, any>) : {};
  if (!res.ok) throw new ApiError(res.status, String(data['message'] ?? res.statusText), data['details']);
  return data as T;
}

function table(rows: Record<string, unknown>[], cols: [string, string][]): void {
  const cells = rows.map((r) => cols.map(([k]) => (r[k] === null || r[k] === undefined ? '-' : String(r[k]))));
  const w = cols.map(([, h], i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  console.log(cols.map(([, h], i) => h.padEnd(w[i]!)).join('  ').trimEnd());
  for (const c of cells) console.log(c.map((x, i) => x.padEnd(w[i]!)).join('  ').trimEnd());
}

const out = (data: unknown, human: () => void) => (g().json ? console.log(JSON.stringify(data, null, 2)) : human());

/** --patch JSON, --file config.json, or --set a.b=value pairs, into a merge patch or a full config. */
function configBody(o: { patch?: string; file?: string; set?: string[]; note?: string }) {
  if (o.file) return { config: JSON.parse(readFileSync(o.file, 'utf8')) as Record<string, unknown>, note: o.note };
  const patch: Record<string, unknown> = o.patch ? (JSON.parse(o.patch) as Record<string, unknown>) : {};
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
  .option('--canary <percent>', 'share of devices in the first wave', '10')
  .option('--threshold <share>', 'stop and roll back when more than this share of a wave fails', '0.2')
  .option('--wave-timeout <s>', 'seconds a wave may take; silent devices count as failed', '60')
  .option('--no-wait', 'return once started')
  .action(async (o) => {
    try {
      const body = configBody(o);
      if (o.device) {
        let s = await api('POST', `/api/v1/devices/${o.device}/config`, body);
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
      out(r, () => table(r['devices'], [['deviceId', 'DEVICE'], ['kind', 'KIND'], ['status', 'STATUS'], ['desiredVersion', 'DESIRED'], ['reportedVersion', 'REPORTED'], ['reason', 'REASON']]));
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
        table(r['history'], [['version', 'VERSION'], ['author', 'AUTHOR'], ['createdAt', 'WHEN'], ['rolloutId', 'ROLLOUT'], ['note', 'NOTE']]);
      });
    } catch (err) {
      fail(err);
    }
  });

config
  .command('rollback [deviceId]')
  .description('a device back to an earlier version (--to N; default the previous), or every device of a rollout (--rollout)')
  .option('--to <version>')
  .option('--rollout <id>')
  .action(async (id: string | undefined, o) => {
    try {
      const r = o.rollout
        ? await api('POST', `/api/v1/config/rollouts/${o.rollout}/rollback`)
        : await api('POST', `/api/v1/devices/${id ?? ''}/config/rollback`, o.to !== undefined ? { toVersion: Number(o.to) } : {});
      out(r, () => console.log(o.rollout ? `rollout ${o.rollout}: ${r['state']}` : `${id}: rolled back, now desired version ${r['desiredVersion']} (${r['status']})`));
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
      out(r, () => table(r['devices'], [['deviceId', 'DEVICE'], ['kind', 'KIND'], ['site', 'SITE'], ['zone', 'ZONE'], ['registration', 'REGISTRATION'], ['online', 'ONLINE'], ['lastSeen', 'LAST SEEN'], ['messages', 'MSGS'], ['refused', 'REFUSED']]));
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
  .option('--file <file>', 'CSV (deviceId,kind,site,zone,tags) or JSON')
  .action(async (id: string | undefined, o) => {
    try {
      if (o.file) {
        const text = readFileSync(o.file, 'utf8');
        const r = await api('POST', '/api/v1/devices/bulk', o.file.endsWith('.json') ? JSON.parse(text) : text, o.file.endsWith('.json') ? 'application/json' : 'text/csv');
        out(r, () => table(r['devices'].map((d: { credentials: Record<string, string> }) => d.credentials), [['username', 'DEVICE'], ['password', 'PASSWORD (shown once)']]));
        return;
      }
      const r = await api('POST', '/api/v1/devices', { deviceId: id, kind: o.kind, site: o.site, ...(o.zone ? { zone: o.zone } : {}), tags: o.tags ? String(o.tags).split(',') : [] });
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
      out(r, () => console.log(`${id}: new view accepted; ${r['models'].join(', ') || 'no model'} re-learning its reference${r['alarmCleared'] ? '; the tamper alarm cleared' : ''}`));
    } catch (err) {
      fail(err);
    }
  });

program
  .command('alerts')
  .description('alerts')
  .command('watch')
  .description('follow alerts as they are raised, escalated, acknowledged and resolved (MQTT, with the same token)')
  .option('--site <site>', 'one site (default: all granted)')
  .option('--count <n>', 'exit after this many alert messages')
  .action(async (o) => {
    const { token, mqtt: url } = g();
    const dot = token?.indexOf('.') ?? -1;
    if (!token || dot < 1) fail(new ApiError(401, 'alerts watch needs --token <principal>.<secret>'));
    const id = token!.slice(0, dot);
    let client;
    try {
      client = await mqtt.connectAsync(url, { clientId: `${id}:cli-${process.pid}`, username: id, password: token!.slice(dot + 1), reconnectPeriod: 0, connectTimeout: 5000 });
    } catch (err) {
      const code = (err as { code?: number }).code;
      fail(code === 4 || code === 5 ? new ApiError(401, `MQTT login refused (${(err as Error).message})`) : Object.assign(new Error(`cannot reach ${url}: ${(err as Error).message}`), { code: 'UNREACHABLE' }));
    }
    let n = 0;
    client.on('message', (_t, payload) => {
      const a = JSON.parse(payload.toString()) as Record<string, string>;
      if (g().json) console.log(JSON.stringify(a));
      else console.log(`${new Date().toISOString().slice(11, 19)} ${a['event']!.padEnd(23)} ${a['severity']!.padEnd(8)} ${a['type']!.padEnd(14)} ${a['site']}/${a['deviceId']}  ${a['reason']}${a['acknowledgedBy'] && a['event'] === 'acknowledged' ? ` by ${a['acknowledgedBy']}` : ''}  [${a['id']}]`);
      if (o.count && ++n >= Number(o.count)) void client.endAsync().then(() => process.exit(0));
    });
    await client.subscribeAsync(`vigil/v1/${o.site ?? '+'}/alerts/+/+/+`, { qos: 1 });
    if (!g().json) console.error(`watching alerts of ${o.site ?? 'every granted site'} (Ctrl-C to stop)`);
  });

await program.parseAsync();
