/**
 * authorizePublish, the aedes way: one named step per concern, in order,
 *
 *   closing → reserved-sys → orphan-will → permission → rate-limit → command → bridge → ingest → hand-off
 *
 * each of which lets the publish go on, refuses it (RefusalReporter: counted, audited, told to the
 * sender), answers it itself (alert commands), or denies it (no acknowledgement).
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
import { parseTopic, type DeviceAddress } from '../../devices/index.ts';
import { ingest, type IngestLimits } from '../../edge/ingest.ts';
import type { DeviceStates } from '../../edge/device-state.ts';
import type { DeviceMessage, IngestResult, Refusal } from '../../edge/message.ts';
import type { Pipeline } from '../../edge/pipeline.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { AuditLog } from '../security/audit.ts';
import { mayPublish } from '../security/authorize.ts';
import type { Identities, Identity } from '../security/identity.ts';
import { TokenBuckets } from '../security/limits.ts';
import { bucketKey, RefusalReporter, sinkTopic } from './refusals.ts';
import { remoteAddress } from '../security/identity.ts';

export { sinkTopic } from './refusals.ts';

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
  /** Per-identity publish rate limit; a bridge (a network of devices) has its own. */
  rate?: { perSecond: number; burst: number; bridge?: { perSecond: number; burst: number } };
  /** A bridge's publish (zigbee2mqtt): translated and ingested for the device it names (gateway/adapters). */
  bridged?: (bridge: Extract<Identity, { type: 'bridge' }>, topic: string, payload: Buffer, address: string | undefined) => Promise<BridgedResult>;
}

/** What became of one bridged message (gateway/adapters): handed over, nothing to do (and why), or refused. */
export type BridgedResult = { ok: true; accepted: number; note?: string } | { ok: false; refusal: Refusal };

/** A non-device topic the gateway answers itself (e.g. alert commands), instead of ingesting it. */
export interface CommandHandler {
  match(topic: string): boolean;
  handle(client: Client, packet: PublishPacket): void;
}

/** One publish on its way through the steps. */
export interface PublishCall {
  client: Client | null;
  packet: PublishPacket;
  identity?: Identity;
  /** performance.now() when it arrived (ingest latency). */
  t0: number;
}

/**
 * What a step decides: go on to the next step; `refuse` (acknowledged, dropped, the sender told why);
 * `route` (let aedes deliver it as it is now, e.g. a command answered and re-routed to the sink); or
 * `deny` (no acknowledgement: the client retransmits or is told by the connection).
 */
export type Verdict = { next: true } | { refuse: Refusal } | { route: true } | { deny: Error };
const next: Verdict = { next: true };

export interface PublishStep {
  readonly name: string;
  run(call: PublishCall): Verdict | Promise<Verdict>;
}

/**
 * An accepted message's hand-over, the same whichever way it came (an MQTT publish, a vendor push
 * through an adapter): counted, its device marked connected when the sender is live, and given to the
 * pipeline, whose critical stages (the spool's commit) the answer to the sender waits for.
 */
export function handOver(d: Pick<PublishPolicyDeps, 'metrics' | 'states' | 'pipeline'>, msg: DeviceMessage, live: boolean): void | Promise<void> {
  d.metrics.accepted.inc({ kind: msg.kind, channel: msg.channel });
  if (msg.clockSkewed) d.metrics.clockSkewed.inc();
  if (live && !d.states.get(msg.deviceId)?.connected) d.states.connected(msg);
  return d.pipeline.accept(msg);
}

export class PublishPolicy {
  readonly #deps: PublishPolicyDeps;
  readonly #now: () => number;
  readonly #inflight = new Set<Promise<unknown>>();
  /** Connection → device address learnt from its Last Will topic at CONNECT (keyed by connection, not id, so a takeover cannot mix them up). */
  readonly #bound = new WeakMap<Client, DeviceAddress>();
  #broker!: Aedes;
  readonly #rate?: TokenBuckets;
  readonly #bridgeRate?: TokenBuckets;
  readonly #commands: CommandHandler[] = [];
  readonly refusals: RefusalReporter;
  readonly steps: readonly PublishStep[];
  #closing = false;

  constructor(deps: PublishPolicyDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    if (deps.rate) this.#rate = new TokenBuckets(deps.rate.perSecond, deps.rate.burst, this.#now);
    if (deps.rate?.bridge) this.#bridgeRate = new TokenBuckets(deps.rate.bridge.perSecond, deps.rate.bridge.burst, this.#now);
    this.refusals = new RefusalReporter({ ...deps, now: this.#now, boundAddress: (c) => this.#bound.get(c) });
    this.steps = [
      // Shutdown: from now on nothing is accepted. A publish gets no PUBACK (the device sends it again after
      // reconnecting) and the Last Wills aedes fires while closing its clients are dropped: the gateway going
      // down is not every device going offline.
      { name: 'closing', run: () => (this.#closing ? { deny: new Error('gateway is shutting down') } : next) },
      // [MQTT-4.7.2-1] $-topics are the server's: no client publishes there.
      { name: 'reserved-sys', run: (c) => (c.packet.topic.startsWith('$') ? { deny: new Error('topics starting with $ are reserved for the broker') } : next) },
      // A will left by a client of an earlier broker run (persistent stores only): nothing to attribute it to.
      { name: 'orphan-will', run: (c) => (c.client ? next : { route: true }) },
      // People and services publish alert commands of their sites, never on a device's channels.
      {
        name: 'permission',
        run: (c) =>
          mayPublish(c.identity, c.packet.topic)
            ? next
            : {
                refuse: {
                  code: 'not_permitted',
                  message:
                    c.identity?.type === 'bridge'
                      ? `bridge "${c.identity.id}" publishes under its base topic ${c.identity.baseTopic}/ only`
                      : `a ${c.identity?.type === 'principal' ? c.identity.role : 'client'} may publish only alert commands (vigil/v1/{site}/alerts/command) of the sites it is granted; device topics are accepted from the registered device only`,
                },
              },
      },
      // A Last Will is never rate limited: it is how the site learns the device is gone.
      // The bucket is the identity's, not the connection's: reconnecting does not refill it.
      {
        name: 'rate-limit',
        run: (c) => {
          const bridge = c.identity?.type === 'bridge' && this.#bridgeRate;
          const buckets = bridge ? this.#bridgeRate : this.#rate;
          const limit = bridge ? deps.rate!.bridge! : deps.rate;
          return !buckets || isWillOf(c.client!, c.packet) || buckets.take(bucketKey(c.identity, c.client!))
            ? next
            : { refuse: { code: 'rate_limited', message: `more than ${limit!.perSecond} messages/s (burst ${limit!.burst}); message dropped` } };
        },
      },
      {
        name: 'command',
        run: (c) => {
          const command = this.#commands.find((h) => h.match(c.packet.topic));
          if (!command) return next;
          command.handle(c.client!, c.packet);
          // Handled here; not routed (replies go to the sender's reply topic).
          c.packet.topic = sinkTopic(this.#broker);
          c.packet.retain = false;
          return { route: true };
        },
      },
      // A bridge speaks for the devices of its network: each of its device reports is translated by its adapter and
      // ingested as that device's (or refused, or the device listed as pending); the bridge's own topics pass untouched.
      {
        name: 'bridge',
        run: (c) => {
          if (c.identity?.type !== 'bridge') return next;
          if (!deps.bridged) return { refuse: { code: 'not_permitted', message: 'bridges are not served by this gateway' } };
          const payload = typeof c.packet.payload === 'string' ? Buffer.from(c.packet.payload) : c.packet.payload;
          return deps.bridged(c.identity, c.packet.topic, payload, remoteAddress(c.client!)).then(
            (r): Verdict => (r.ok ? { route: true } : { refuse: r.refusal }),
            (err: unknown): Verdict => {
              this.refusals.refuse(
                c.client!,
                c.packet,
                { code: 'pipeline_unavailable', message: 'the gateway could not store this message; retry' },
                c.identity,
                false,
              );
              return { deny: err as Error };
            },
          );
        },
      },
      { name: 'ingest', run: (c) => this.#ingest(c) },
    ];
  }

  addCommand(h: CommandHandler): void {
    this.#commands.push(h);
  }

  attach(broker: Aedes): void {
    this.#broker = broker;
    this.refusals.attach(broker);
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

  close(): void {
    this.#closing = true;
  }

  /** Resolves when every message under validation has been handed over (graceful shutdown). */
  async drain(): Promise<void> {
    while (this.#inflight.size) await Promise.allSettled([...this.#inflight]);
  }

  authorize(client: Client | null, packet: PublishPacket, done: (err?: Error | null) => void): void {
    const call: PublishCall = { client, packet, identity: client ? this.#deps.identities?.get(client) : undefined, t0: performance.now() };
    const r = this.#run(call, 0, done);
    if (r) {
      this.#inflight.add(r);
      void r.finally(() => this.#inflight.delete(r));
    }
  }

  /** Runs the steps from `i`; synchronous while the steps are (most publishes), a promise once one is not. */
  #run(call: PublishCall, i: number, done: (err?: Error | null) => void): Promise<void> | undefined {
    for (; i < this.steps.length; i++) {
      const v = this.steps[i]!.run(call);
      if (v instanceof Promise) {
        const from = i + 1;
        return v.then((verdict) => (this.#conclude(call, verdict, done) ? this.#run(call, from, done) : undefined));
      }
      if (!this.#conclude(call, v, done)) return;
    }
    done(null);
  }

  /** Applies a verdict; true when the publish goes on to the next step. */
  #conclude(call: PublishCall, v: Verdict, done: (err?: Error | null) => void): boolean {
    if ('next' in v) return true;
    if ('refuse' in v) {
      this.refusals.refuse(call.client!, call.packet, v.refuse, call.identity);
      done(null);
    } else if ('route' in v) done(null);
    else done(v.deny);
    return false;
  }

  /** Route, size, parse, units, schema, time (edge/ingest.ts); a valid message is handed to the pipeline. */
  #ingest(c: PublishCall): Verdict | Promise<Verdict> {
    const { client, packet, identity } = c;
    const registered = identity?.type === 'device' ? { site: identity.site, kind: identity.kind } : undefined;
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const result = ingest({ topic: packet.topic, payload, clientId: client!.id, qos: packet.qos, receivedAt: this.#now(), registered }, this.#deps.limits);
    return result instanceof Promise ? result.then((r) => this.#handOff(c, r)) : this.#handOff(c, result);
  }

  /**
   * Hand-off: the accepted message goes to the pipeline; the PUBACK waits for its critical stages
   * (the spool's commit). A critical stage that fails denies the publish: no PUBACK, the device retransmits.
   */
  #handOff(c: PublishCall, result: IngestResult): Verdict | Promise<Verdict> {
    if (!result.ok) return { refuse: result.refusal };
    const { client, packet } = c;
    const msg = result.message;
    const { metrics } = this.#deps;
    if (msg.channel !== 'status') packet.retain = false; // only status is retained state [topic table]
    let handed: void | Promise<void>;
    try {
      handed = handOver(this.#deps, msg, client!.connected && !client!.closed);
    } catch (err) {
      return { deny: err as Error };
    }
    const acked = (): Verdict => {
      metrics.ingestSeconds.observe({ qos: String(packet.qos) }, (performance.now() - c.t0) / 1000);
      return next;
    };
    if (!handed) return acked();
    return handed.then(acked, (err: unknown): Verdict => {
      this.refusals.refuse(client!, packet, { code: 'pipeline_unavailable', message: 'the gateway could not store this message; retry' }, c.identity, false);
      return { deny: err as Error };
    });
  }
}
