/**
 * The MQTT topic namespace: Vigil's public interface (README, "Topics").
 *
 *   vigil/v1/{site}/{kind}/{deviceId}/{channel}
 *
 * Channels published by devices and by the gateway are disjoint, so the broker
 * policy can tell at a glance who may publish where.
 */
export const TOPIC_ROOT = 'vigil/v1';

/** device → gateway */
export const deviceChannels = ['telemetry', 'event', 'status', 'snapshot', 'config/reported', 'cmd/reply'] as const;
/** gateway → device */
export const gatewayChannels = ['config/desired', 'error', 'cmd'] as const;

export type DeviceChannel = (typeof deviceChannels)[number];
export type GatewayChannel = (typeof gatewayChannels)[number];
export type Channel = DeviceChannel | GatewayChannel;

export interface DeviceAddress {
  site: string;
  kind: string;
  deviceId: string;
}

export function deviceTopic(a: DeviceAddress, channel: Channel): string {
  return `${TOPIC_ROOT}/${a.site}/${a.kind}/${a.deviceId}/${channel}`;
}

export type ParsedTopic =
  | { ok: true; address: DeviceAddress; channel: Channel; direction: 'device' | 'gateway' }
  | { ok: false; reason: 'outside_namespace' | 'unknown_channel'; message: string };

const idPattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Split a device topic; pure, allocation-light (it runs for every message). */
export function parseTopic(topic: string): ParsedTopic {
  if (!topic.startsWith(TOPIC_ROOT + '/')) {
    return { ok: false, reason: 'outside_namespace', message: `topic must start with "${TOPIC_ROOT}/"` };
  }
  const parts = topic.slice(TOPIC_ROOT.length + 1).split('/');
  if (parts.length < 4 || parts.length > 5) {
    return {
      ok: false,
      reason: 'outside_namespace',
      message: `expected ${TOPIC_ROOT}/{site}/{kind}/{deviceId}/{channel}, got ${parts.length} levels after "${TOPIC_ROOT}/"`,
    };
  }
  const [site, kind, deviceId, ...rest] = parts as [string, string, string, ...string[]];
  for (const [name, v] of [
    ['site', site],
    ['kind', kind],
    ['deviceId', deviceId],
  ] as const) {
    if (!idPattern.test(v)) {
      return { ok: false, reason: 'outside_namespace', message: `${name} "${v}" is not a valid identifier` };
    }
  }
  const channel = rest.join('/');
  const address = { site, kind, deviceId };
  if ((deviceChannels as readonly string[]).includes(channel)) {
    return { ok: true, address, channel: channel as Channel, direction: 'device' };
  }
  if ((gatewayChannels as readonly string[]).includes(channel)) {
    return { ok: true, address, channel: channel as Channel, direction: 'gateway' };
  }
  return {
    ok: false,
    reason: 'unknown_channel',
    message: `unknown channel "${channel}"; devices publish on ${deviceChannels.join(', ')}`,
  };
}
