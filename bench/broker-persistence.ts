/**
 * Broker persistence benchmark (`npm run bench`): QoS 1 publishes that are queued for an offline
 * persistent session (the case every write goes to the store), over real MQTT on loopback,
 * through bare aedes with its in-memory persistence (baseline, same run) and through aedes with
 * Vigil's durable SQLite persistence at both durability settings; then the restart time of a
 * store holding 10,000 persistent sessions.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { SqlitePersistence } from '../gateway/broker/persistence.ts';

const N = Number(process.env['BENCH_MESSAGES'] ?? 20_000);
const SESSIONS = Number(process.env['BENCH_SESSIONS'] ?? 10_000);
const WINDOW = 100; // QoS 1 publishes in flight at once
const store = (durability: 'fsync' | 'process') =>
  new SqlitePersistence({
    file: join(mkdtempSync(join(tmpdir(), 'vigil-bench-bp-')), 'broker.db'),
    durability,
    maxQueued: N * 2,
    maxQueuedBytes: 1 << 30,
    sessionExpiryMs: 0,
  });

async function run(name: string, persistence?: SqlitePersistence): Promise<number> {
  const broker = await Aedes.createBroker({ id: 'bench', ...(persistence ? { persistence } : {}) });
  const server = createServer((s) => broker.handle(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const ops = await mqtt.connectAsync(url, { clientId: 'ops:wall', clean: false });
  await ops.subscribeAsync('vigil/v1/hub1/alerts/#', { qos: 1 });
  await ops.endAsync();
  const pub = await mqtt.connectAsync(url, { clientId: 'gateway-alerts' });
  const payload = Buffer.from(JSON.stringify({ id: 'al-0001', type: 'fire', severity: 'critical', state: 'raised', version: 1, reason: 'smoke 4.2 %/m' }));
  const t = performance.now();
  let sent = 0;
  const worker = async () => {
    while (sent < N) {
      sent++;
      await pub.publishAsync(`vigil/v1/hub1/alerts/critical/fire/a${sent}`, payload, { qos: 1 });
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, worker));
  const perS = N / ((performance.now() - t) / 1000);
  await pub.endAsync();
  await new Promise<void>((r) => broker.close(() => r()));
  server.close();
  await persistence?.destroy();
  console.log(`${name.padEnd(36)} ${Math.round(perS).toLocaleString('en').padStart(8)} msgs/s queued for an offline session`);
  return perS;
}

async function restart(): Promise<{ populateS: number; restartMs: number }> {
  const file = join(mkdtempSync(join(tmpdir(), 'vigil-bench-bp-')), 'broker.db');
  const opts = { file, durability: 'process' as const, maxQueued: 1000, maxQueuedBytes: 1 << 24, sessionExpiryMs: 0 };
  const a = new SqlitePersistence(opts);
  const fake = { id: 'bench', counter: 0, clients: {}, mq: { on() {}, emit() {}, removeListener() {} } };
  await a.setup(fake);
  let t = performance.now();
  for (let i = 0; i < SESSIONS; i++) {
    const id = `ops-${i}:wall`;
    await a.addSubscriptions({ id }, [
      { topic: `vigil/v1/site${i % 50}/alerts/#`, qos: 1 },
      { topic: `vigil/v1/site${i % 50}/+/+/status`, qos: 1 },
    ]);
    await a.outgoingEnqueue(
      { clientId: id },
      {
        cmd: 'publish',
        topic: `vigil/v1/site${i % 50}/alerts/major/x/a${i}`,
        payload: Buffer.from('{"id":"al"}'),
        qos: 1,
        retain: false,
        dup: false,
        brokerId: 'bench',
        brokerCounter: i + 1,
      },
    );
  }
  const populateS = (performance.now() - t) / 1000;
  a.db.close();
  t = performance.now();
  const b = new SqlitePersistence(opts);
  await b.setup(fake);
  const restartMs = performance.now() - t;
  const { clientsCount } = await b.countOffline();
  if (clientsCount !== SESSIONS) throw new Error(`restored ${clientsCount} sessions, expected ${SESSIONS}`);
  await b.destroy();
  console.log(`restart with ${SESSIONS.toLocaleString('en')} persistent sessions (2 subscriptions and 1 queued message each): ${Math.round(restartMs)} ms`);
  return { populateS, restartMs };
}

const result = {
  at: new Date().toISOString(),
  messages: N,
  baseline_aedes_memory_msgs_per_s: await run('bare aedes, in-memory persistence', undefined),
  durable_process_msgs_per_s: await run('aedes + SQLite, durability=process', store('process')),
  durable_fsync_msgs_per_s: await run('aedes + SQLite, durability=fsync', store('fsync')),
  sessions: SESSIONS,
  ...(await restart()),
};
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/broker-persistence.json', JSON.stringify(result, null, 2) + '\n');
