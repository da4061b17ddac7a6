/** Fleet options shared by `npm run demo` and `npm run sim`. */
import type { Command } from 'commander';
import type { DeviceKind } from '../devices/index.ts';

export interface FleetDefaults {
  sites: string;
  camera: number;
  door: number;
  smoke: number;
  bodycam: number;
  speed: number;
}

export function addFleetOptions(cmd: Command, d: FleetDefaults): Command {
  return cmd
    .option('--sites <list>', 'comma-separated site ids', d.sites)
    .option('--cameras <n>', 'cameras per site', String(d.camera))
    .option('--doors <n>', 'door controllers per site', String(d.door))
    .option('--smoke <n>', 'smoke alarms per site', String(d.smoke))
    .option('--bodycams <n>', 'body cameras per site', String(d.bodycam))
    .option('--speed <x>', 'time compression of device reporting and incidents', String(d.speed))
    .option('--seed <seed>', 'random seed for the fleet and the incidents', '1')
    .option('--labels <file>', 'append the ground truth of injected incidents here (JSON lines)')
    .option('--duration <s>', 'stop after this many seconds (default: run until Ctrl-C)');
}

export function fleetShape(o: Record<string, unknown>): { sites: string[]; perKind: Record<DeviceKind, number>; speed: number; seed: string } {
  return {
    sites: String(o['sites']).split(',').map((s) => s.trim()).filter(Boolean),
    perKind: { camera: Number(o['cameras']), door: Number(o['doors']), smoke: Number(o['smoke']), bodycam: Number(o['bodycams']) },
    speed: Number(o['speed']),
    seed: String(o['seed']),
  };
}
