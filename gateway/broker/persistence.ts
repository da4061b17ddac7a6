/**
 * Durable broker state in SQLite (`dataDir/broker.db`): persistent sessions (clean = false) and
 * their subscriptions, QoS 1/2 messages queued for them and in flight, inbound QoS 2 packets
 * awaiting PUBREL, retained messages and Last Wills — so a restart, a kill -9 or a power cut
 * loses none of them (durability below).
 *
 * It is aedes-persistence's in-memory implementation (the matching trie, retained lookup, the
 * exact semantics its abstract test suite checks) with every change written through to SQLite
 * in the same call, and the memory rebuilt from SQLite at start. The outgoing queues are kept
 * here rather than in the parent so they can be bounded: per session at most `maxQueued`
 * messages and `maxQueuedBytes`; past that the oldest queued message that is not an alert is
 * dropped (alerts go last), counted by the `onDrop` callback. Sessions not seen for
 * `sessionExpiryH` are removed with everything queued for them.
 *
 * Durability: WAL with synchronous=NORMAL. With `durability: "fsync"` every change is synced to
 * disk before its call resolves (it survives a power cut), by `WalSync` on libuv's thread pool:
 * changes made together share one sync, and the event loop never waits for the disk. With
 * `"process"` a change survives a crash of the gateway; the OS may lose the last ones on a power cut.
 */
import { connectedClient } from './aedes-compat.ts';
import { Readable } from 'node:stream';
import { createRequire } from 'node:module';
import Database from 'better-sqlite3';
import { privateFile } from '../security/at-rest.ts';
import { WalSync } from '../wal-sync.ts';

const require = createRequire(import.meta.url);
// The in-memory persistence of the aedes-persistence package (CommonJS, no types for this entry point).
const MemoryPersistence = require('aedes-persistence/asyncPersistence.js') as new () => MemoryBase;
const Packet = require('aedes-packet') as new (p: StoredPacket, broker?: unknown) => StoredPacket;

/** What aedes hands a persistence: a publish (or pubrel) packet with its broker-assigned identity. */
export interface StoredPacket {
  cmd: string;
  topic?: string;
  payload?: Buffer;
  qos?: number;
  retain?: boolean;
  dup?: boolean;
  messageId?: number;
  brokerId?: string;
  brokerCounter?: number;
  clientId?: string;
  [k: string]: unknown;
}
type ClientRef = { id: string };
type Sub = { topic: string; qos: number; rh?: number; rap?: boolean; nl?: boolean };

interface MemoryBase {
  setup(broker: unknown): Promise<void>;
  storeRetained(p: StoredPacket): Promise<void>;
  addSubscriptions(c: ClientRef, subs: Sub[]): Promise<void>;
  removeSubscriptions(c: ClientRef, topics: string[]): Promise<void>;
  subscriptionsByClient(c: ClientRef): Promise<Sub[]>;
  cleanSubscriptions(c: ClientRef): Promise<void>;
  incomingStorePacket(c: ClientRef, p: StoredPacket): Promise<void>;
  incomingDelPacket(c: ClientRef, p: StoredPacket): Promise<void>;
  incomingGetPacket(c: ClientRef, p: StoredPacket): Promise<StoredPacket>;
  subscriptionsByTopic(topic: string): Promise<(Sub & { clientId: string })[]>;
  countOffline(): Promise<{ subsCount: number; clientsCount: number }>;
  createRetainedStreamCombi(patterns: string[]): Readable;
  streamWill(brokers?: Record<string, number>): Readable;
  cleanIncoming(c: ClientRef): Promise<void>;
  putWill(c: ClientRef, p: StoredPacket): Promise<void>;
  delWill(c: ClientRef): Promise<StoredPacket | undefined>;
  destroy(): Promise<void>;
}

export interface BrokerPersistenceOptions {
  file: string;
  durability: 'fsync' | 'process';
  /** Messages queued per persistent session at most. */
  maxQueued: number;
  /** Bytes of payload queued per persistent session at most. */
  maxQueuedBytes: number;
  /** A persistent session not seen for this long is removed (0: never). */
  sessionExpiryMs: number;
  /** Topics dropped last when a queue is full. */
  isPriority?: (topic: string) => boolean;
  onDrop?: (clientId: string, topic: string, reason: 'queue_full' | 'session_expired') => void;
  now?: () => number;
}

const toJson = (p: StoredPacket) =>
  JSON.stringify({ ...p, payload: p.payload ? Buffer.from(p.payload).toString('base64') : undefined, writeCallback: undefined });
const fromJson = (s: string): StoredPacket => {
  const o = JSON.parse(s) as StoredPacket & { payload?: string };
  return { ...o, payload: o.payload !== undefined ? Buffer.from(o.payload, 'base64') : undefined } as StoredPacket;
};
const sizeOf = (p: StoredPacket) => (p.payload ? p.payload.length : 0) + (p.topic?.length ?? 0);

type BrokerRef = { id: string };

interface Queued {
  seq: number;
  packet: StoredPacket;
}

export class SqlitePersistence extends (MemoryPersistence as new () => MemoryBase) {
  readonly db: Database.Database;
  readonly #o: BrokerPersistenceOptions;
  readonly #now: () => number;
  readonly #queues = new Map<string, { items: Queued[]; bytes: number }>();
  #broker?: BrokerRef;
  #sql: Record<string, Database.Statement>;
  readonly #walSync?: WalSync;
  /** Messages dropped from full queues and expired sessions since start. */
  dropped = 0;

  constructor(o: BrokerPersistenceOptions) {
    super();
    this.#o = o;
    this.#now = o.now ?? Date.now;
    if (o.file !== ':memory:') privateFile(o.file);
    this.db = new Database(o.file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    if (o.durability === 'fsync' && o.file !== ':memory:') this.#walSync = new WalSync(o.file);
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS retained (topic TEXT PRIMARY KEY, packet TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS sessions (client_id TEXT PRIMARY KEY, seen_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS subscriptions (client_id TEXT NOT NULL, topic TEXT NOT NULL, sub TEXT NOT NULL, PRIMARY KEY (client_id, topic));
      CREATE TABLE IF NOT EXISTS outgoing (seq INTEGER PRIMARY KEY AUTOINCREMENT, client_id TEXT NOT NULL, packet TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS outgoing_client ON outgoing (client_id, seq);
      CREATE TABLE IF NOT EXISTS incoming (client_id TEXT NOT NULL, message_id INTEGER NOT NULL, packet TEXT NOT NULL, PRIMARY KEY (client_id, message_id));
      CREATE TABLE IF NOT EXISTS wills (client_id TEXT PRIMARY KEY, packet TEXT NOT NULL);`);
    const q = (s: string) => this.db.prepare(s);
    this.#sql = {
      putRetained: q('INSERT OR REPLACE INTO retained (topic, packet) VALUES (?, ?)'),
      delRetained: q('DELETE FROM retained WHERE topic = ?'),
      seen: q('INSERT INTO sessions (client_id, seen_at) VALUES (?, ?) ON CONFLICT (client_id) DO UPDATE SET seen_at = excluded.seen_at'),
      putSub: q('INSERT OR REPLACE INTO subscriptions (client_id, topic, sub) VALUES (?, ?, ?)'),
      delSub: q('DELETE FROM subscriptions WHERE client_id = ? AND topic = ?'),
      delSubs: q('DELETE FROM subscriptions WHERE client_id = ?'),
      delSession: q('DELETE FROM sessions WHERE client_id = ?'),
      enqueue: q('INSERT INTO outgoing (client_id, packet) VALUES (?, ?)'),
      updateOut: q('UPDATE outgoing SET packet = ? WHERE seq = ?'),
      delOut: q('DELETE FROM outgoing WHERE seq = ?'),
      delOuts: q('DELETE FROM outgoing WHERE client_id = ?'),
      putIn: q('INSERT OR REPLACE INTO incoming (client_id, message_id, packet) VALUES (?, ?, ?)'),
      delIn: q('DELETE FROM incoming WHERE client_id = ? AND message_id = ?'),
      delIns: q('DELETE FROM incoming WHERE client_id = ?'),
      putWill: q('INSERT OR REPLACE INTO wills (client_id, packet) VALUES (?, ?)'),
      delWill: q('DELETE FROM wills WHERE client_id = ?'),
    };
  }

  /** Rebuild the memory from the database, then serve from memory. */
  override async setup(broker: unknown): Promise<void> {
    await super.setup(broker);
    this.#broker = broker as BrokerRef;
    // Through super.*, not the overrides: rebuilding the memory writes nothing back.
    for (const r of this.db.prepare('SELECT packet FROM retained').all() as { packet: string }[]) await super.storeRetained(fromJson(r.packet));
    const subs = new Map<string, Sub[]>();
    for (const r of this.db.prepare('SELECT client_id, sub FROM subscriptions').all() as { client_id: string; sub: string }[]) {
      subs.set(r.client_id, [...(subs.get(r.client_id) ?? []), JSON.parse(r.sub) as Sub]);
    }
    for (const [id, s] of subs) await super.addSubscriptions({ id }, s);
    for (const r of this.db.prepare('SELECT seq, client_id, packet FROM outgoing ORDER BY seq').all() as { seq: number; client_id: string; packet: string }[]) {
      const q = this.#queue(r.client_id);
      const packet = fromJson(r.packet);
      q.items.push({ seq: r.seq, packet });
      q.bytes += sizeOf(packet);
    }
    for (const r of this.db.prepare('SELECT client_id, packet FROM incoming').all() as { client_id: string; packet: string }[])
      await super.incomingStorePacket({ id: r.client_id }, fromJson(r.packet));
    // Wills left by the previous run of this broker: under an id that never heartbeats again, so aedes
    // publishes them unless their client reconnects first (a reconnect deletes its will).
    const previous = `${this.#broker!.id}:before-restart`;
    for (const r of this.db.prepare('SELECT client_id, packet FROM wills').all() as { client_id: string; packet: string }[]) {
      const will = fromJson(r.packet);
      await super.putWill({ id: r.client_id }, will);
      will.brokerId = previous;
    }
    this.expireSessions();
  }

  /** Set when a sync to disk failed: nothing more is acknowledged as durable (readiness reports it). */
  get syncFailed(): Error | undefined {
    return this.#walSync?.failed;
  }

  /** Resolves once the changes made so far are on disk (durability "fsync"). */
  #durable(): Promise<void> {
    return this.#walSync ? this.#walSync.sync() : Promise.resolve();
  }

  // ── retained ──────────────────────────────────────────────────────────

  override async storeRetained(p: StoredPacket): Promise<void> {
    await super.storeRetained(p);
    if (!p.payload || p.payload.length === 0) this.#sql['delRetained']!.run(p.topic);
    else this.#sql['putRetained']!.run(p.topic, toJson({ ...p }));
    await this.#durable();
  }

  // ── sessions and subscriptions (aedes calls these for clean = false sessions only) ──

  override async addSubscriptions(c: ClientRef, subs: Sub[]): Promise<void> {
    await super.addSubscriptions(c, subs);
    this.db.transaction(() => {
      this.#sql['seen']!.run(c.id, this.#now());
      for (const s of subs) this.#sql['putSub']!.run(c.id, s.topic, JSON.stringify({ topic: s.topic, qos: s.qos, rh: s.rh, rap: s.rap, nl: s.nl }));
    })();
    await this.#durable();
  }

  override async removeSubscriptions(c: ClientRef, topics: string[]): Promise<void> {
    await super.removeSubscriptions(c, topics);
    this.db.transaction(() => {
      for (const t of topics) this.#sql['delSub']!.run(c.id, t);
    })();
    await this.#durable();
  }

  /** Called when a persistent session reconnects: it is alive. */
  override async subscriptionsByClient(c: ClientRef): Promise<Sub[]> {
    this.#sql['seen']!.run(c.id, this.#now());
    return super.subscriptionsByClient(c);
  }

  override async cleanSubscriptions(c: ClientRef): Promise<void> {
    await super.cleanSubscriptions(c);
    this.db.transaction(() => {
      this.#sql['delSubs']!.run(c.id);
      this.#sql['delSession']!.run(c.id);
    })();
    await this.#durable();
  }

  // ── outgoing queues, bounded ──────────────────────────────────────────

  #queue(id: string) {
    let q = this.#queues.get(id);
    if (!q) this.#queues.set(id, (q = { items: [], bytes: 0 }));
    return q;
  }

  #enqueue(clientId: string, original: StoredPacket): void {
    const packet = new Packet(original);
    const q = this.#queue(clientId);
    const seq = Number(this.#sql['enqueue']!.run(clientId, toJson(packet)).lastInsertRowid);
    q.items.push({ seq, packet });
    q.bytes += sizeOf(packet);
    while (q.items.length > this.#o.maxQueued || (q.bytes > this.#o.maxQueuedBytes && q.items.length > 1)) {
      // The oldest message not yet in flight, and not an alert while there is anything else.
      const waiting = q.items.filter((x) => x.packet.messageId === undefined || x.packet.messageId === null);
      const victim = waiting.find((x) => !this.#o.isPriority?.(x.packet.topic ?? '')) ?? waiting[0];
      if (!victim) break;
      q.items.splice(q.items.indexOf(victim), 1);
      q.bytes -= sizeOf(victim.packet);
      this.#sql['delOut']!.run(victim.seq);
      this.dropped++;
      this.#o.onDrop?.(clientId, victim.packet.topic ?? '', 'queue_full');
    }
  }

  async outgoingEnqueue(sub: { clientId: string }, packet: StoredPacket): Promise<void> {
    this.#enqueue(sub.clientId, packet);
    await this.#durable();
  }

  async outgoingEnqueueCombi(subs: { clientId: string }[], packet: StoredPacket): Promise<void> {
    // aedes calls this for every QoS 1/2 publish, mostly with no offline persistent session to queue for.
    if (!subs.length) return;
    this.db.transaction(() => {
      for (const s of subs) this.#enqueue(s.clientId, packet);
    })();
    await this.#durable();
  }

  /** Same matching as aedes-persistence's memory store: by broker identity, else a packet of another broker by message id. */
  async outgoingUpdate(c: ClientRef, packet: StoredPacket): Promise<void> {
    const q = this.#queue(c.id);
    for (const item of q.items) {
      const temp = item.packet;
      if (temp.brokerId === packet.brokerId) {
        if (temp.brokerCounter === packet.brokerCounter) {
          temp.messageId = packet.messageId;
          this.#sql['updateOut']!.run(toJson(temp), item.seq);
          return this.#durable();
        }
      } else if (temp.messageId === packet.messageId) {
        q.bytes += sizeOf(packet) - sizeOf(temp);
        item.packet = packet;
        this.#sql['updateOut']!.run(toJson(packet), item.seq);
        return this.#durable();
      }
    }
    throw new Error('no such packet');
  }

  async outgoingClearMessageId(c: ClientRef, packet: StoredPacket): Promise<StoredPacket | undefined> {
    const q = this.#queue(c.id);
    const i = q.items.findIndex((x) => x.packet.messageId === packet.messageId);
    if (i < 0) return undefined;
    const [item] = q.items.splice(i, 1);
    q.bytes -= sizeOf(item!.packet);
    this.#sql['delOut']!.run(item!.seq);
    await this.#durable();
    return item!.packet;
  }

  outgoingStream(c: ClientRef): Readable {
    return Readable.from(this.#queue(c.id).items.map((x) => x.packet));
  }

  /** Queued messages per session (API and metrics). */
  queued(): { clientId: string; messages: number; bytes: number }[] {
    return [...this.#queues].filter(([, q]) => q.items.length).map(([clientId, q]) => ({ clientId, messages: q.items.length, bytes: q.bytes }));
  }

  // ── inbound QoS 2 and wills ───────────────────────────────────────────

  override async incomingStorePacket(c: ClientRef, p: StoredPacket): Promise<void> {
    await super.incomingStorePacket(c, p);
    this.#sql['putIn']!.run(c.id, p.messageId, toJson({ ...p, messageId: p.messageId }));
    await this.#durable();
  }

  override async incomingDelPacket(c: ClientRef, p: StoredPacket): Promise<void> {
    await super.incomingDelPacket(c, p);
    this.#sql['delIn']!.run(c.id, p.messageId);
    await this.#durable();
  }

  override async cleanIncoming(c: ClientRef): Promise<void> {
    await super.cleanIncoming(c);
    this.#sql['delIns']!.run(c.id);
    await this.#durable();
  }

  override async putWill(c: ClientRef, p: StoredPacket): Promise<void> {
    await super.putWill(c, p);
    this.#sql['putWill']!.run(c.id, toJson(p));
    await this.#durable();
  }

  override async delWill(c: ClientRef): Promise<StoredPacket | undefined> {
    const w = await super.delWill(c);
    this.#sql['delWill']!.run(c.id);
    await this.#durable();
    return w;
  }

  // ── expiry and shutdown ───────────────────────────────────────────────

  /** Remove persistent sessions not seen for sessionExpiryMs (not connected now), with their queues. */
  expireSessions(): number {
    if (!this.#o.sessionExpiryMs) return 0;
    const cutoff = this.#now() - this.#o.sessionExpiryMs;
    const stale = (this.db.prepare('SELECT client_id FROM sessions WHERE seen_at < ?').all(cutoff) as { client_id: string }[]).map((r) => r.client_id);
    let n = 0;
    for (const id of stale) {
      if (connectedClient(this.#broker, id)) {
        this.#sql['seen']!.run(id, this.#now());
        continue;
      }
      void super.cleanSubscriptions({ id });
      const q = this.#queues.get(id);
      for (const item of q?.items ?? []) this.#o.onDrop?.(id, item.packet.topic ?? '', 'session_expired');
      this.dropped += q?.items.length ?? 0;
      this.#queues.delete(id);
      this.db.transaction(() => {
        this.#sql['delSubs']!.run(id);
        this.#sql['delOuts']!.run(id);
        this.#sql['delSession']!.run(id);
      })();
      n++;
    }
    return n;
  }

  override async destroy(): Promise<void> {
    await super.destroy();
    if (this.db.open) this.db.close();
    this.#walSync?.close();
  }
}
