/**
 * `npm run sim -- --url mqtt://gateway:1883 ...`: a simulated fleet (and
 * optionally the incident tour) against a gateway that is already running,
 * e.g. to commission a new edge box or load it from another machine.
 */
import { Command } from 'commander';
import { Fleet } from './fleet.ts';
import { LabelLog } from './labels.ts';
import { Scenario, tour } from './scenario.ts';

const o = new Command('vigil-sim')
  .description('Run simulated Vigil devices against a running gateway')
  .option('--url <url>', 'gateway MQTT URL (mqtt:// or ws://)', 'mqtt://127.0.0.1:1883')
  .option('--sites <list>', 'comma-separated site ids', 'hub1')
  .option('--cameras <n>', 'cameras per site', '2')
  .option('--doors <n>', 'door controllers per site', '4')
  .option('--smoke <n>', 'smoke alarms per site', '8')
  .option('--bodycams <n>', 'body cameras per site', '2')
  .option('--speed <x>', 'time compression', '1')
  .option('--incidents', 'loop the scripted incident tour')
  .option('--labels <file>', 'append incident ground truth here (JSON lines)')
  .option('--seed <seed>', 'random seed', '1')
  .option('--duration <s>', 'stop after this many seconds')
  .parse()
  .opts<Record<string, string | boolean | undefined>>();

const labels = new LabelLog(o['labels'] as string | undefined);
const fleet = new Fleet({
  url: o['url'] as string,
  sites: (o['sites'] as string).split(','),
  perKind: { camera: Number(o['cameras']), door: Number(o['doors']), smoke: Number(o['smoke']), bodycam: Number(o['bodycams']) },
  speed: Number(o['speed']),
  seed: o['seed'] as string,
  labels,
});
await fleet.start();
console.log(`${fleet.devices.length} devices connected to ${o['url']}`);
const scenario = new Scenario(fleet, o['seed'] as string);
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
