/**
 * authorizePublish: every device publish is routed, validated and normalised
 * here, before aedes routes it (issue 2, ingest path).
 *
 * A refused message is still acknowledged at its QoS and then dropped, which
 * [MQTT-3.3.5-2] allows ("make a positive acknowledgement ... or close the
 * Network Connection"). Closing would make a device with one bad field
 * reconnect in a loop and lose its good traffic too; instead it is told why on
 * its `/error` topic. Only a failing critical pipeline stage (e.g. the spool
 * cannot persist) closes the connection, so the device retransmits unacknowledged QoS 1.
 */
import { isWillOf } from './aedes-compat.ts';
import type { Aedes, Client, PublishPacket } from 'aedes';
import { deviceTopic, parseTopic, type DeviceAddress } from '../../devices/index.ts';
import { ingest, type IngestLimits } from '../../edge/ingest.ts';
import type { DeviceStates } from '../../edge/device-state.ts';
import type { Refusal } from '../../edge/message.ts';
import type { Pipeline } from '../../edge/pipeline.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { AuditLog } from '../security/audit.ts';
import { mayPublish } from '../security/authorize.ts';
import { clientErrorTopic, remoteAddress, type Identities, type Identity } from '../security/identity.ts';
import { TokenBuckets } from '../security/limits.ts';

export interface PublishPolicyDeps {
  limits: IngestLimits;
  pipeline: Pipeline;
  states: DeviceStates;
  metrics: Metrics;
  log: Logger;
  now?: () => number;
  /** Who each connection is (security); without it the client id is taken at its word (dev mode). */
  identities?: Identities;
  audit?: AuditLog;
  /** Per-client publish rate limit. */
  rate?: { perSecond: number; burst: number };
}

/** A non-device topic the gateway answers itself (e.g. alert commands), instead of ingesting it. */
export interface CommandHandler {
  match(topic: string): boolean;
  handle(client: Client, packet: PublishPacket): void;
}

/** Refusals that are security events (audited), as opposed to data errors (counted). */
const auditedCodes = new Set<Refusal['code']>(['device_mismatch', 'not_permitted', 'reserved_topic', 'rate_limited', 'payload_too_large']);

/** Where refused publishes go: a $SYS topic, so `#` subscribers never match it [MQTT-4.7.2-1]. */
export const sinkTopic = (broker: Aedes) => `$SYS/${broker.id}/vigil/refused`;

/** Limits belong to the identity, not the connection: reconnecting does not refill them. */
const bucketKey = (identity: Identity | undefined, client: Client) => (identity ? `${identity.type}:${identity.id}` : client.id);

export class PublishPolicy {
  readonly #deps: PublishPolicyDeps;
  readonly #now: () => number;
  readonly #inflight = new Set<Promise<unknown>>();
  /** Connection → device address learnt from its Last Will topic at CONNECT (keyed by connection, not id, so a takeover cannot mix them up). */
  readonly #bound = new WeakMap<Client, DeviceAddress>();
  #broker!: Aedes;
  readonly #rate?: TokenBuckets;
  /** A device flooding bad input gets at most 5 error replies a second (plus a burst of 20); the rest are counted only. */
  readonly #errorReplies: TokenBuckets;
  readonly #commands: CommandHandler[] = [];

  constructor(deps: PublishPolicyDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    if (deps.rate) this.#rate = new TokenBuckets(deps.rate.perSecond, deps.rate.burst, this.#now);
    this.#errorReplies = new TokenBuckets(5, 20, this.#now);
  }

  addCommand(h: CommandHandler): void {
    this.#commands.push(h);
  }

  attach(broker: Aedes): void {
    this.#broker = broker;
    broker.authorizePublish = (client, packet, done) => this.authorize(client, packet, done);
  }

  bind(client: Client, clientId: string, willTopic: string | undefined): void {
    if (!willTopic) return;
    const t = parseTopic(willTopic);
    if (t.ok && t.address.deviceId === clientId) this.#bound.set(client, t.address);
  }

  boundAddress(client: Client): DeviceAddress | undefined {
    return this.#bound.get(client);
  }

  #closing = false;

  /**
   * Shutdown: from now on nothing is accepted. A publish gets no PUBACK (the device sends it
   * again after reconnecting) and the Last Wills aedes fires while closing its clients are
   * dropped: the gateway going down is not every device going offline.
   */
  close(): void {
    this.#closing = true;
  }

  /** Resolves when every message under validation has been handed over (graceful shutdown). */
  async drain(): Promise<void> {
    while (this.#inflight.size) await Promise.allSettled([...this.#inflight]);
  }

  authorize(client: Client | null, packet: PublishPacket, done: (err?: Error | null) => void): void {
    if (this.#closing) return done(new Error('gateway is shutting down'));
    // [MQTT-4.7.2-1] $-topics are the server's: no client publishes there.
    if (packet.topic.startsWith('$')) return done(new Error('topics starting with $ are reserved for the broker'));
    if (!client) {
      // A will left by a client of an earlier broker run (persistent stores only): nothing to attribute it to.
      return done(null);
    }
    const identity = this.#deps.identities?.get(client);
    // People and services publish alert commands of their sites, never on a device's channels.
    if (!mayPublish(identity, packet.topic)) {
      this.#refuse(client, packet, {
        code: 'not_permitted',
        message: `a ${identity?.type === 'principal' ? identity.role : 'client'} may publish only alert commands (vigil/v1/{site}/alerts/command) of the sites it is granted; device topics are accepted from the registered device only`,
      });
      return done(null);
    }
    // A Last Will is never rate limited: it is how the site learns the device is gone.
    // The bucket is the identity's, not the connection's: reconnecting does not refill it.
    const isWill = isWillOf(client, packet);
    if (this.#rate && !isWill && !this.#rate.take(bucketKey(identity, client))) {
      this.#refuse(client, packet, {
        code: 'rate_limited',
        message: `more than ${this.#deps.rate!.perSecond} messages/s (burst ${this.#deps.rate!.burst}); message dropped`,
      });
      return done(null);
    }
    const command = this.#commands.find((c) => c.match(packet.topic));
    if (command) {
      command.handle(client, packet);
      // Handled here; not routed (replies go to the sender's reply topic).
      packet.topic = sinkTopic(this.#broker);
      packet.retain = false;
      return done(null);
    }
    const registered = identity?.type === 'device' ? { site: identity.site, kind: identity.kind } : undefined;
    const qos = packet.qos;
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const t0 = performance.now();
    const result = ingest({ topic: packet.topic, payload, clientId: client.id, qos, receivedAt: this.#now(), registered }, this.#deps.limits);
    if (!(result instanceof Promise)) return this.#settle(client, packet, result, done, t0);
    const p = result.then((r) => this.#settle(client, packet, r, done, t0));
    this.#inflight.add(p);
    void p.finally(() => this.#inflight.delete(p));
  }

  #settle(client: Client, packet: PublishPacket, result: Awaited<ReturnType<typeof ingest>>, done: (err?: Error | null) => void, t0: number): void {
    if (!result.ok) {
      this.#refuse(client, packet, result.refusal);
      return done(null);
    }
    const msg = result.message;
    const { metrics, states } = this.#deps;
    metrics.accepted.inc({ kind: msg.kind, channel: msg.channel });
    if (msg.clockSkewed) metrics.clockSkewed.inc();
    if (msg.channel !== 'status') packet.retain = false; // only status is retained state [topic table]
    if (!states.get(msg.deviceId)?.connected && client.connected && !client.closed) states.connected(msg);

    let handed: void | Promise<void>;
    try {
      handed = this.#deps.pipeline.accept(msg);
    } catch (err) {
      return done(err as Error);
    }
    const acked = () => {
      metrics.ingestSeconds.observe({ qos: String(packet.qos) }, (performance.now() - t0) / 1000);
      done(null);
    };
    if (!handed) return acked();
    const p = handed.then(acked, (err: unknown) => {
      this.#refuse(client, packet, { code: 'pipeline_unavailable', message: 'the gateway could not store this message; retry' }, false);
      done(err as Error);
    });
    this.#inflight.add(p);
    void p.finally(() => this.#inflight.delete(p));
  }

  #refuse(client: Client, packet: PublishPacket, refusal: Refusal, drop = true): void {
    const { metrics, states, log } = this.#deps;
    const topic = packet.topic;
    metrics.refused.inc({ reason: refusal.code });
    const parsed = parseTopic(topic);
    // Tell the device that sent it, on its own error topic, whatever topic it used.
    const identity = this.#deps.identities?.get(client);
    const own =
      identity?.type === 'device'
        ? { site: identity.site, kind: identity.kind, deviceId: identity.id }
        : identity?.type === 'principal'
          ? undefined
          : (this.#bound.get(client) ?? (parsed.ok && parsed.address.deviceId === client.id ? parsed.address : undefined));
    if (own) states.refused(own, refusal.code);
    const count = own ? (states.get(own.deviceId)?.refusedByReason[refusal.code] ?? 1) : 1;
    // Log the 1st, 2nd, 4th, 8th ... refusal per device and reason: visible without flooding.
    if ((count & (count - 1)) === 0) {
      log.warn({ clientId: client.id, topic, code: refusal.code, count, issues: refusal.issues }, `refused: ${refusal.message}`);
    }
    if (auditedCodes.has(refusal.code)) {
      this.#deps.audit?.recordThrottled({
        actor: identity?.id ?? client.id,
        action: 'mqtt.publish',
        target: topic,
        outcome: 'denied',
        address: remoteAddress(client),
        detail: { code: refusal.code, message: refusal.message },
      });
    }
    if (drop) {
      packet.topic = sinkTopic(this.#broker);
      packet.retain = false;
      packet.payload = Buffer.alloc(0);
    }
    if (!this.#errorReplies.take(bucketKey(identity, client))) return;
    const body = {
      code: refusal.code,
      message: refusal.message,
      ...(refusal.issues ? { issues: refusal.issues } : {}),
      topic,
      ...(packet.messageId !== undefined ? { messageId: packet.messageId } : {}),
      ts: new Date(this.#now()).toISOString(),
    };
    this.#broker.publish(
      {
        cmd: 'publish',
        topic: own ? deviceTopic(own, 'error') : clientErrorTopic(client.id),
        payload: Buffer.from(JSON.stringify(body)),
        qos: 1,
        retain: false,
        dup: false,
      },
      () => {},
    );
  }
}
