/**
 * SUBSCRIBE and delivery policy (aedes authorizeSubscribe + authorizeForward).
 *
 * | identity | may subscribe to |
 * |---|---|
 * | device | its own `config/desired`, `cmd` and `error` topics, exactly |
 * | consumer, engineer, admin | filters under `vigil/v1/{site}/` for each granted site (`*`: `vigil/v1/#`) |
 * | bridge (zigbee2mqtt) | filters under its base topic (`zigbee2mqtt/#`) |
 * | anonymous (dev mode only) | anything |
 *
 * A refused subscription gets the SUBACK failure code 0x80 [MQTT-3.9.3] and an
 * audit record; the connection stays up. `$SYS` is never granted to a client.
 * authorizeForward applies the same rule per message, so nothing reaches a
 * client outside its scope even through a filter granted before a change.
 */
import type { AedesPublishPacket, Client, Subscription } from 'aedes';
import { deviceTopic, TOPIC_ROOT } from '../../devices/index.ts';
import type { AuditLog } from './audit.ts';
import { clientErrorTopic, grants, remoteAddress, type Identities, type Identity } from './identity.ts';

/** Alert commands, the one thing people and services publish; device channels are the registered devices' own. */
const commandTopic = new RegExp(`^${TOPIC_ROOT}/([A-Za-z0-9][A-Za-z0-9_.-]{0,63})/alerts/command$`);

/**
 * Whether a principal may publish on `topic` (a device's own topics are checked by ingest against
 * its registration; anonymous clients exist only in development mode).
 */
export function mayPublish(identity: Identity | undefined, topic: string): boolean {
  if (!identity || identity.type === 'anonymous') return true;
  if (identity.type === 'device') return true;
  if (identity.type === 'bridge') return underBase(identity.baseTopic, topic);
  const site = commandTopic.exec(topic)?.[1];
  return site !== undefined && grants(identity.sites, site);
}

/** A topic or filter under a bridge's base topic (a filter's wildcards only below it). */
const underBase = (base: string, topic: string) => topic === base || topic.startsWith(`${base}/`);

export function mayReceive(identity: Identity | undefined, topic: string): boolean {
  if (!identity) return false;
  if (identity.type === 'anonymous') return true;
  if (topic.startsWith('$')) return false;
  if (identity.type === 'bridge') return underBase(identity.baseTopic, topic);
  if (identity.type === 'device') {
    const a = { site: identity.site, kind: identity.kind, deviceId: identity.id };
    return topic === deviceTopic(a, 'config/desired') || topic === deviceTopic(a, 'cmd') || topic === deviceTopic(a, 'error');
  }
  if (!topic.startsWith(TOPIC_ROOT + '/')) return false;
  const site = topic.slice(TOPIC_ROOT.length + 1).split('/')[0]!;
  if (identity.sites.includes('*')) return true;
  // A wildcard in the site level would reach sites not granted.
  return site !== '+' && site !== '#' && grants(identity.sites, site);
}

/** A principal hears why its own publishes were refused (devices have their device error topic). */
const isOwnErrorTopic = (identity: Identity | undefined, client: Client, topic: string) =>
  (identity?.type === 'principal' || identity?.type === 'bridge') && topic === clientErrorTopic(client.id);

export function createAuthorizeSubscribe(identities: Identities, audit: AuditLog) {
  return (client: Client, sub: Subscription, done: (err: Error | null, sub?: Subscription | null) => void): void => {
    const identity = identities.get(client);
    if (mayReceive(identity, sub.topic) || isOwnErrorTopic(identity, client, sub.topic)) return done(null, sub);
    audit.recordThrottled({
      actor: identity?.id ?? client.id,
      action: 'mqtt.subscribe',
      target: sub.topic,
      outcome: 'denied',
      address: remoteAddress(client),
      detail: {
        reason:
          identity?.type === 'device'
            ? 'devices subscribe only to their own config/desired, cmd and error topics'
            : identity?.type === 'bridge'
              ? `a bridge subscribes under its base topic ${identity.baseTopic}/ only`
              : 'outside the sites granted',
      },
    });
    done(null, null);
  };
}

export function createAuthorizeForward(identities: Identities) {
  return (client: Client, packet: AedesPublishPacket): AedesPublishPacket | null => {
    const identity = identities.get(client);
    return mayReceive(identity, packet.topic) || isOwnErrorTopic(identity, client, packet.topic) ? packet : null;
  };
}
