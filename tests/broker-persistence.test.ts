/**
 * The durable broker persistence against the contract every aedes persistence must meet (the
 * abstract suite shipped by aedes-persistence, run here through a small node:test adapter), and
 * what the contract does not cover: the state survives reopening the file, queues are bounded
 * with alerts dropped last, and abandoned sessions expire.
 */
import assert from 'node:assert';
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqlitePersistence, type BrokerPersistenceOptions, type StoredPacket } from '../gateway/broker/persistence.ts';

const require = createRequire(import.meta.url);
const abstractSuite = require('aedes-persistence/abstract.js') as (o: { test: unknown; persistence: () => unknown; testAsync: boolean }) => void;

const options = (o: Partial<BrokerPersistenceOptions> = {}): BrokerPersistenceOptions => ({
  file: ':memory:',
  durability: 'process',
  maxQueued: 1000,
  maxQueuedBytes: 1 << 24,
  sessionExpiryMs: 0,
  ...o,
});

/** node:test's `test(name, fn(t))` on vitest: `t.assert` counts assertions so `t.plan(n)` is checked. */
type NodeT = { assert: typeof assert; diagnostic: (m: string) => void; plan: (n: number) => void };
const nodeTest = (name: string, fn: (t: NodeT) => Promise<void> | void) =>
  it(name, async () => {
    let planned: number | undefined;
    let count = 0;
    const counting = new Proxy(assert, {
      get: (target, key) => {
        const v = (target as unknown as Record<string | symbol, unknown>)[key];
        return typeof v === 'function' ? (...a: unknown[]) => (count++, (v as (...x: unknown[]) => unknown).apply(target, a)) : v;
      },
    });
    await fn({ assert: counting, diagnostic: () => {}, plan: (n) => (planned = n) });
    if (planned !== undefined) expect(count, 'assertions planned').toBe(planned);
  });

describe('aedes-persistence abstract suite', () => {
  abstractSuite({ test: nodeTest, persistence: () => new SqlitePersistence(options()), testAsync: true });
});

const broker = (id = 'vigil-edge') => ({
  id,
  counter: 0,
  clients: {} as Record<string, unknown>,
  mq: { on() {}, emit() {}, removeListener() {} },
  publish() {},
  subscribe() {},
  unsubscribe() {},
});
const publish = (topic: string, n: number, brokerId = 'vigil-edge'): StoredPacket => ({
  cmd: 'publish',
  topic,
  payload: Buffer.from(`m${n}`),
  qos: 1,
  retain: false,
  dup: false,
  brokerId,
  brokerCounter: n,
});
const drain = async (s: SqlitePersistence, id: string) => (await s.outgoingStream({ id }).toArray()) as StoredPacket[];

describe('durable across reopening', () => {
  it('sessions, subscriptions, queued and in-flight messages, retained messages, inbound QoS 2 and wills come back', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'vigil-bp-')), 'broker.db');
    const a = new SqlitePersistence(options({ file, durability: 'fsync' }));
    await a.setup(broker());
    await a.addSubscriptions({ id: 'ops:wall' }, [{ topic: 'vigil/v1/hub1/alerts/#', qos: 1 }]);
    await a.storeRetained({ cmd: 'publish', topic: 'vigil/v1/hub1/smoke/s1/status', payload: Buffer.from('{"online":true}'), qos: 1, retain: true });
    for (let i = 1; i <= 3; i++) await a.outgoingEnqueueCombi([{ clientId: 'ops:wall' }], publish(`vigil/v1/hub1/alerts/critical/fire/a${i}`, i));
    await a.outgoingUpdate({ id: 'ops:wall' }, { ...publish('vigil/v1/hub1/alerts/critical/fire/a1', 1), messageId: 7 });
    await a.outgoingClearMessageId({ id: 'ops:wall' }, { cmd: 'puback', messageId: 7 });
    await a.incomingStorePacket({ id: 'hub1-door-01' }, { ...publish('vigil/v1/hub1/door/hub1-door-01/event', 9), qos: 2, messageId: 42 });
    await a.putWill(
      { id: 'hub1-smoke-01' },
      { cmd: 'publish', topic: 'vigil/v1/hub1/smoke/hub1-smoke-01/status', payload: Buffer.from('{"online":false}'), qos: 1, retain: true },
    );
    a.db.close(); // as a kill -9 leaves it: no destroy()

    const b = new SqlitePersistence(options({ file }));
    await b.setup(broker());
    expect(await b.subscriptionsByClient({ id: 'ops:wall' })).toEqual([expect.objectContaining({ topic: 'vigil/v1/hub1/alerts/#', qos: 1 })]);
    expect((await b.subscriptionsByTopic('vigil/v1/hub1/alerts/critical/fire/x')).map((x) => x.clientId)).toEqual(['ops:wall']);
    expect((await drain(b, 'ops:wall')).map((p) => p.topic)).toEqual(['vigil/v1/hub1/alerts/critical/fire/a2', 'vigil/v1/hub1/alerts/critical/fire/a3']);
    const retained = (await b.createRetainedStreamCombi(['vigil/v1/#']).toArray()) as StoredPacket[];
    expect(retained.map((p) => [p.topic, p.payload!.toString()])).toEqual([['vigil/v1/hub1/smoke/s1/status', '{"online":true}']]);
    expect((await b.incomingGetPacket({ id: 'hub1-door-01' }, { cmd: 'publish', messageId: 42 })).topic).toBe('vigil/v1/hub1/door/hub1-door-01/event');
    // The will of the previous run is published unless its device reconnects first.
    const wills = (await b.streamWill({ 'vigil-edge': Date.now() }).toArray()) as StoredPacket[];
    expect(wills.map((w) => w.topic)).toEqual(['vigil/v1/hub1/smoke/hub1-smoke-01/status']);
    await b.destroy();
  });
});

describe('bounded queues and session expiry', () => {
  it('a full queue drops its oldest message that is not an alert first, and alerts only when nothing else is left', async () => {
    const drops: string[] = [];
    const s = new SqlitePersistence(options({ maxQueued: 3, isPriority: (t) => t.includes('/alerts/'), onDrop: (_c, t) => drops.push(t) }));
    await s.setup(broker());
    const id = 'ops:wall';
    await s.outgoingEnqueue({ clientId: id }, publish('vigil/v1/hub1/alerts/critical/fire/a1', 1));
    await s.outgoingEnqueue({ clientId: id }, publish('vigil/v1/hub1/smoke/s1/status', 2));
    await s.outgoingEnqueue({ clientId: id }, publish('vigil/v1/hub1/alerts/major/x/a2', 3));
    await s.outgoingEnqueue({ clientId: id }, publish('vigil/v1/hub1/alerts/major/x/a3', 4));
    expect(drops).toEqual(['vigil/v1/hub1/smoke/s1/status']);
    await s.outgoingEnqueue({ clientId: id }, publish('vigil/v1/hub1/alerts/major/x/a4', 5));
    expect(drops).toEqual(['vigil/v1/hub1/smoke/s1/status', 'vigil/v1/hub1/alerts/critical/fire/a1']);
    expect((await drain(s, id)).map((p) => p.topic!.split('/').at(-1))).toEqual(['a2', 'a3', 'a4']);
    expect(s.queued()).toEqual([{ clientId: id, messages: 3, bytes: expect.any(Number) }]);
    expect(s.dropped).toBe(2);
    await s.destroy();
  });

  it('a persistent session not seen for sessionExpiryMs is removed with its queue; a connected one is kept', async () => {
    let now = 0;
    const drops: string[] = [];
    const s = new SqlitePersistence(options({ sessionExpiryMs: 1000, now: () => now, onDrop: (c, _t, why) => drops.push(`${c} ${why}`) }));
    const b = broker();
    await s.setup(b);
    await s.addSubscriptions({ id: 'gone:1' }, [{ topic: 'vigil/v1/hub1/alerts/#', qos: 1 }]);
    await s.addSubscriptions({ id: 'here:1' }, [{ topic: 'vigil/v1/hub1/alerts/#', qos: 1 }]);
    await s.outgoingEnqueue({ clientId: 'gone:1' }, publish('vigil/v1/hub1/alerts/critical/fire/a1', 1));
    b.clients['here:1'] = {};
    now = 5000;
    expect(s.expireSessions()).toBe(1);
    expect(drops).toEqual(['gone:1 session_expired']);
    expect(await s.subscriptionsByClient({ id: 'gone:1' })).toEqual([]);
    expect((await s.subscriptionsByClient({ id: 'here:1' })).length).toBe(1);
    await s.destroy();
  });
});
