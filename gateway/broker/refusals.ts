/**
 * The RefusalReporter: what happens to a publish Vigil will not take. It is counted by reason,
 * remembered against the device (GET /api/v1/devices/:id shows refusals by reason), logged on the
 * 1st, 2nd, 4th, 8th ... time per device and reason, audited when it is a security event, dropped
 * (re-routed to a $SYS sink topic no `#` subscriber matches), and explained to the sender on its
 * own `/error` topic, at most 5 replies a second (plus a burst of 20) per identity.
 */
import type { Aedes, Client, PublishPacket } from 'aedes';
import { deviceTopic, parseTopic, type DeviceAddress } from '../../devices/index.ts';
import type { DeviceStates } from '../../edge/device-state.ts';
import type { Refusal } from '../../edge/message.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { AuditLog } from '../security/audit.ts';
import { clientErrorTopic, remoteAddress, type Identity } from '../security/identity.ts';
import { TokenBuckets } from '../security/limits.ts';

/** Refusals that are security events (audited), as opposed to data errors (counted). */
const auditedCodes = new Set<Refusal['code']>(['device_mismatch', 'not_permitted', 'reserved_topic', 'rate_limited', 'payload_too_large']);

/** Where refused publishes go: a $SYS topic, so `#` subscribers never match it [MQTT-4.7.2-1]. */
export const sinkTopic = (broker: Aedes) => `$SYS/${broker.id}/vigil/refused`;

/** Limits belong to the identity, not the connection: reconnecting does not refill them. */
export const bucketKey = (identity: Identity | undefined, client: Client) => (identity ? `${identity.type}:${identity.id}` : client.id);

export interface RefusalDeps {
  states: DeviceStates;
  metrics: Metrics;
  log: Logger;
  audit?: AuditLog;
  now: () => number;
  /** The device a connection speaks for, when security does not know it (dev mode: its Last Will topic). */
  boundAddress(client: Client): DeviceAddress | undefined;
}

export class RefusalReporter {
  readonly #d: RefusalDeps;
  readonly #replies: TokenBuckets;
  #broker?: Aedes;

  constructor(deps: RefusalDeps) {
    this.#d = deps;
    this.#replies = new TokenBuckets(5, 20, deps.now);
  }

  attach(broker: Aedes): void {
    this.#broker = broker;
  }

  /** Report `refusal` of `packet`; with `drop`, the packet is re-routed to the sink (acknowledged, never delivered). */
  refuse(client: Client, packet: PublishPacket, refusal: Refusal, identity: Identity | undefined, drop = true): void {
    const { metrics, states, log } = this.#d;
    const topic = packet.topic;
    metrics.refused.inc({ reason: refusal.code });
    const parsed = parseTopic(topic);
    // Tell the device that sent it, on its own error topic, whatever topic it used.
    const own =
      identity?.type === 'device'
        ? { site: identity.site, kind: identity.kind, deviceId: identity.id }
        : identity?.type === 'principal'
          ? undefined
          : (this.#d.boundAddress(client) ?? (parsed.ok && parsed.address.deviceId === client.id ? parsed.address : undefined));
    if (own) states.refused(own, refusal.code);
    const count = own ? (states.get(own.deviceId)?.refusedByReason[refusal.code] ?? 1) : 1;
    if ((count & (count - 1)) === 0) {
      log.warn({ clientId: client.id, topic, code: refusal.code, count, issues: refusal.issues }, `refused: ${refusal.message}`);
    }
    if (auditedCodes.has(refusal.code)) {
      this.#d.audit?.recordThrottled({
        actor: identity?.id ?? client.id,
        action: 'mqtt.publish',
        target: topic,
        outcome: 'denied',
        address: remoteAddress(client),
        detail: { code: refusal.code, message: refusal.message },
      });
    }
    const broker = this.#broker;
    if (!broker) return;
    if (drop) {
      packet.topic = sinkTopic(broker);
      packet.retain = false;
      packet.payload = Buffer.alloc(0);
    }
    if (!this.#replies.take(bucketKey(identity, client))) return;
    const body = {
      code: refusal.code,
      message: refusal.message,
      ...(refusal.issues ? { issues: refusal.issues } : {}),
      topic,
      ...(packet.messageId !== undefined ? { messageId: packet.messageId } : {}),
      ts: new Date(this.#d.now()).toISOString(),
    };
    broker.publish(
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
