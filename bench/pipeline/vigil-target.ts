/**
 * The full Vigil gateway as a benchmark target: authentication (provisioned devices with scrypt
 * passwords), validation, device state, rules, the four detectors, alerts, and the durable spool
 * forwarding to a time-series server. Reads a JSON job from argv[2]:
 * { devices: [{deviceId, kind, site}], consumers: string[] (principal ids), forwardUrl, dataDir, anonymous }.
 * Provisions them, writes credentials to <dataDir>/credentials.json, prints "READY <mqtt> <http>".
 */
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../gateway/config.ts';
import { Gateway } from '../../gateway/gateway.ts';

const job = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as {
  devices: { deviceId: string; kind: string; site: string }[];
  consumers: string[];
  forwardUrl: string;
  dataDir: string;
  anonymous?: boolean;
};
const config = loadConfig({
  env: {},
  overrides: {
    dataDir: job.dataDir,
    // All load comes from 127.0.0.1 here: the per-address limits would be the bottleneck, not the pipeline.
    mqtt: { tcp: { host: '127.0.0.1', port: 0 }, ws: { enabled: false }, maxConnections: 100_000, maxConnectionsPerAddress: 100_000 },
    http: { host: '127.0.0.1', port: 0 },
    log: { level: 'warn' },
    security: {
      allowAnonymous: !!job.anonymous,
      messagesPerSecond: 1_000_000,
      messageBurst: 1_000_000,
      loginThrottle: { perAddressQueued: 100_000, maxQueued: 100_000 },
    },
    forward: { url: job.forwardUrl, token: 'bench', minRetryMs: 100 },
    inference: { modelsDir: fileURLToPath(new URL('../../models', import.meta.url)) },
    alerts: { startupGraceS: 0 },
    // BENCH_VIGIL='{"spool":{"durability":"process"}}': measure a setting without editing code.
    ...(JSON.parse(process.env['BENCH_VIGIL'] ?? '{}') as object),
  },
});
const gw = new Gateway({ config, processMetrics: true });
await gw.start();
const creds: Record<string, { username: string; password: string }> = {};
for (let i = 0; i < job.devices.length; i += 500) {
  for (const p of await gw.security.registry.provisionMany(
    job.devices.slice(i, i + 500).map((d) => ({ ...d, zone: 'bench' })),
    { id: 'bench' },
  ))
    creds[p.device.deviceId] = p.credentials;
}
for (const id of job.consumers) {
  const p = await gw.security.registry.addPrincipal({ id, role: 'consumer', sites: ['*'] }, { id: 'bench' });
  creds[id] = { username: id, password: p.credentials.password };
}
writeFileSync(join(job.dataDir, 'credentials.json'), JSON.stringify(creds));
// SIGUSR2 starts a CPU profile, the next SIGUSR2 writes it to <dataDir>/prof/ (the benchmark profiles one phase only).
const inspector = await import('node:inspector/promises');
const session = new inspector.Session();
session.connect();
let profiling = false;
process.on('SIGUSR2', () => {
  void (async () => {
    if (!profiling) {
      profiling = true;
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 200 });
      await session.post('Profiler.start');
      console.log('PROFILING');
      return;
    }
    profiling = false;
    const { profile } = await session.post('Profiler.stop');
    mkdirSync(join(job.dataDir, 'prof'), { recursive: true });
    writeFileSync(join(job.dataDir, 'prof', 'saturation.cpuprofile'), JSON.stringify(profile));
    console.log('PROFILED');
  })();
});
// Event-loop delay, every 2 s, to <dataDir>/event-loop.log: where latency tails come from.
const { monitorEventLoopDelay } = await import('node:perf_hooks');
const eld = monitorEventLoopDelay({ resolution: 5 });
eld.enable();
setInterval(() => {
  appendFileSync(
    join(job.dataDir, 'event-loop.log'),
    `${new Date().toISOString()} p50 ${(eld.percentile(50) / 1e6).toFixed(1)} p99 ${(eld.percentile(99) / 1e6).toFixed(1)} max ${(eld.max / 1e6).toFixed(1)} ms\n`,
  );
  eld.reset();
}, 2000).unref();
console.log(`READY ${gw.ports.mqtt} ${gw.ports.http}`);
process.on('SIGTERM', () => void gw.stop().then(() => process.exit(0)));
