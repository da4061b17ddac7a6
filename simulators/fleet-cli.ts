/**
 * `npm run sim -- --url mqtt://gateway:1883 ...`: a simulated fleet (and
 * optionally the incident tour) against a gateway that is already running,
 * e.g. to commission a new edge box or load it from another machine.
 */
import { Command, CommanderError, Option } from 'commander';
import { Fleet, fleetPlan } from './fleet.ts';
import { LabelLog } from './labels.ts';
import { Scenario, tour } from './scenario.ts';
import { addFleetOptions, fleetShape } from './cli-options.ts';

/** Expected failures end as one line and an exit code (2 invalid input, 3 refused, 5 unreachable), never a stack trace. */
class SimError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}
const die = (err: unknown): never => {
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
  console.error(`vigil-sim: ${(err as Error).message}`);
  if (process.argv.includes('--debug')) console.error((err as Error).stack);
  process.exit(err instanceof SimError ? err.exitCode : 1);
};
process.on('uncaughtException', die);
process.on('unhandledRejection', die);

const o = addFleetOptions(new Command('vigil-sim'), { sites: 'hub1', camera: 2, door: 4, smoke: 8, bodycam: 2, speed: 1 })
  .description('Run simulated Vigil devices against a running gateway')
  .exitOverride()
  .configureOutput({ outputError: (str, write) => write(`vigil-sim: ${str.replace(/^error: /, '')}`) })
  .option('--debug', 'print stack traces of errors')
  .option('--url <url>', 'gateway MQTT URL (mqtt:// or ws://)', 'mqtt://127.0.0.1:1883')
  .addOption(new Option('--api <url>', 'gateway HTTP API, to provision the simulated devices').env('VIGIL_URL').default('http://127.0.0.1:8080'))
  .addOption(
    new Option(
      '--token <token>',
      'an admin token: provision (or re-key) the devices and fetch the site keys; without it the gateway must allow anonymous access',
    ).env('VIGIL_TOKEN'),
  )
  .option('--incidents', 'loop the scripted incident tour')
  .parse()
  .opts<Record<string, string | boolean | undefined>>();
const shape = fleetShape(o);

/** With an admin token: provision what is missing, re-key what exists (passwords are never readable), fetch site keys. */
async function provision(): Promise<{ creds: Map<string, { username: string; password: string }>; keys: Map<string, string> }> {
  const creds = new Map<string, { username: string; password: string }>();
  const keys = new Map<string, string>();
  const token = o['token'] as string | undefined;
  if (!token) return { creds, keys };
  const call = async (method: string, path: string, body?: unknown) => {
    let res: Response;
    try {
      res = await fetch(`${o['api']}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
    } catch (err) {
      throw new SimError(
        `cannot reach the gateway API at ${o['api']} (--api): ${String((err as { cause?: Error }).cause?.message ?? (err as Error).message)}`,
        5,
      );
    }
    const data = (await res.json().catch(() => ({}))) as Record<string, any>;
    if (res.status === 401 || res.status === 403)
      throw new SimError(`the gateway refused the token (--token / VIGIL_TOKEN): ${data['message'] ?? res.statusText}; provisioning needs an admin token`, 3);
    if (!res.ok) throw new SimError(`${method} ${path}: ${data['message'] ?? res.statusText}`, res.status < 500 ? 2 : 1);
    return data;
  };
  const plan = fleetPlan(shape.sites, shape.perKind);
  const known = new Set(
    ((await call('GET', '/api/v1/devices')).devices as { deviceId: string; registration: string }[])
      .filter((d) => d.registration !== 'unregistered')
      .map((d) => d.deviceId),
  );
  const fresh = plan.filter((d) => !known.has(d.deviceId)).map((d) => ({ ...d, tags: ['simulated'] }));
  if (fresh.length) for (const d of (await call('POST', '/api/v1/devices/bulk', fresh)).devices) creds.set(d.credentials.username, d.credentials);
  for (const d of plan.filter((x) => known.has(x.deviceId))) creds.set(d.deviceId, (await call('POST', `/api/v1/devices/${d.deviceId}/rotate`)).credentials);
  for (const site of shape.sites) keys.set(site, (await call('GET', `/api/v1/sites/${site}/config-key`)).publicKey);
  console.log(`provisioned ${fresh.length} and re-keyed ${plan.length - fresh.length} simulated devices through ${o['api']}`);
  return { creds, keys };
}
const { creds, keys } = await provision();

const labels = new LabelLog(o['labels'] as string | undefined);
const fleet = new Fleet({
  url: o['url'] as string,
  ...shape,
  labels,
  credentials: (id) => creds.get(id),
  configKeys: (site) => keys.get(site),
});
try {
  await fleet.start();
} catch (err) {
  const e = err as { code?: string | number; message: string };
  throw e.code === 4 || e.code === 5
    ? new SimError(
        `the gateway at ${o['url']} refused the devices' login (${e.message}): give an admin --token to provision them, or allow anonymous devices`,
        3,
      )
    : new SimError(`cannot connect the simulated devices to ${o['url']} (--url): ${e.message}`, 5);
}
console.log(`${fleet.devices.length} devices connected to ${o['url']}`);
const scenario = new Scenario(fleet, shape.seed);
labels.onLabel((l) => console.log(`${new Date(l.start).toISOString()} incident ${l.type} on ${l.deviceId}`));
if (o['incidents']) scenario.play(tour, true);
const stats = setInterval(() => console.log(`published ${fleet.published} messages`), 10_000);
const stop = async () => {
  clearInterval(stats);
  await scenario.stop();
  await fleet.stop();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
if (o['duration']) setTimeout(() => void stop(), Number(o['duration']) * 1000);
