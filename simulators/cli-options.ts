/** Fleet options shared by `npm run demo` and `npm run sim`. */
import { InvalidArgumentError, type Command } from 'commander';
import { simulatedKinds } from './fleet.ts';

export interface FleetDefaults {
  sites: string;
  camera: number;
  door: number;
  smoke: number;
  bodycam: number;
  speed: number;
}

/** Numbers are checked as they are parsed: `--speed abc` is a usage error, not NaN. */
const count = (v: string) => {
  if (!/^\d+$/.test(v.trim()) || Number(v) > 10_000) throw new InvalidArgumentError('expected a whole number from 0 to 10000');
  return v;
};
const positive = (v: string) => {
  if (!(Number(v) > 0) || !Number.isFinite(Number(v))) throw new InvalidArgumentError('expected a number above 0');
  return v;
};

/** `smoke=4,door=2` → { smoke: 4, door: 2 }, kinds checked against the simulators. */
const perKindList = (v: string): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const part of v
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [kind, n] = part.split('=').map((x) => x.trim());
    if (!kind || !simulatedKinds().includes(kind)) throw new InvalidArgumentError(`unknown kind "${kind}"; simulated kinds: ${simulatedKinds().join(', ')}`);
    out[kind] = Number(count(n ?? ''));
  }
  return out;
};

export function addFleetOptions(cmd: Command, d: FleetDefaults): Command {
  return cmd
    .option('--sites <list>', 'comma-separated site ids', d.sites)
    .option('--cameras <n>', 'cameras per site', count, String(d.camera))
    .option('--doors <n>', 'door controllers per site', count, String(d.door))
    .option('--smoke <n>', 'smoke alarms per site', count, String(d.smoke))
    .option('--bodycams <n>', 'body cameras per site', count, String(d.bodycam))
    .option('--devices <list>', 'devices per site of any simulated kind, e.g. "smoke=4,door=2" (wins over the flags above)', perKindList)
    .option('--speed <x>', 'time compression of device reporting and incidents', positive, String(d.speed))
    .option('--seed <seed>', 'random seed for the fleet and the incidents', '1')
    .option('--labels <file>', 'append the ground truth of injected incidents here (JSON lines)')
    .option('--duration <s>', 'stop after this many seconds (default: run until Ctrl-C)', positive);
}

export function fleetShape(o: Record<string, unknown>): { sites: string[]; perKind: Record<string, number>; speed: number; seed: string } {
  return {
    sites: String(o['sites'])
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    perKind: {
      camera: Number(o['cameras']),
      door: Number(o['doors']),
      smoke: Number(o['smoke']),
      bodycam: Number(o['bodycams']),
      ...(o['devices'] as Record<string, number> | undefined),
    },
    speed: Number(o['speed']),
    seed: String(o['seed']),
  };
}
