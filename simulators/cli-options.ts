/** Fleet options shared by `npm run demo` and `npm run sim`. */
import { InvalidArgumentError, type Command } from 'commander';
import type { DeviceKind } from '../devices/index.ts';

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

export function addFleetOptions(cmd: Command, d: FleetDefaults): Command {
  return cmd
    .option('--sites <list>', 'comma-separated site ids', d.sites)
    .option('--cameras <n>', 'cameras per site', count, String(d.camera))
    .option('--doors <n>', 'door controllers per site', count, String(d.door))
    .option('--smoke <n>', 'smoke alarms per site', count, String(d.smoke))
    .option('--bodycams <n>', 'body cameras per site', count, String(d.bodycam))
    .option('--speed <x>', 'time compression of device reporting and incidents', positive, String(d.speed))
    .option('--seed <seed>', 'random seed for the fleet and the incidents', '1')
    .option('--labels <file>', 'append the ground truth of injected incidents here (JSON lines)')
    .option('--duration <s>', 'stop after this many seconds (default: run until Ctrl-C)', positive);
}

export function fleetShape(o: Record<string, unknown>): { sites: string[]; perKind: Record<DeviceKind, number>; speed: number; seed: string } {
  return {
    sites: String(o['sites'])
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    perKind: { camera: Number(o['cameras']), door: Number(o['doors']), smoke: Number(o['smoke']), bodycam: Number(o['bodycams']) },
    speed: Number(o['speed']),
    seed: String(o['seed']),
  };
}
