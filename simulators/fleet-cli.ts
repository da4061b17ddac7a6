/**
 * `npm run sim -- --url mqtt://gateway:1883 ...`: a simulated fleet (and
 * optionally the incident tour) against a gateway that is already running,
 * e.g. to commission a new edge box or load it from another machine.
 */
import { Command } from 'commander';
import { Fleet } from './fleet.ts';
import { LabelLog } from './labels.ts';
import { Scenario, tour } from './scenario.ts';
import { addFleetOptions, fleetShape } from './cli-options.ts';

const o = addFleetOptions(new Command('vigil-sim'), { sites: 'hub1', camera: 2, door: 4, smoke: 8, bodycam: 2, speed: 1 })
  .description('Run simulated Vigil devices against a running gateway')
  .option('--url <url>', 'gateway MQTT URL (mqtt:// or ws://)', 'mqtt://127.0.0.1:1883')
  .option('--incidents', 'loop the scripted incident tour')
  .parse()
  .opts<Record<string, string | boolean | undefined>>();
const shape = fleetShape(o);

const labels = new LabelLog(o['labels'] as string | undefined);
const fleet = new Fleet({
  url: o['url'] as string,
  ...shape,
  labels,
});
await fleet.start();
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
