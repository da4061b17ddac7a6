/**
 * The embedded aedes broker with Vigil's policy installed in its hooks:
 * ingest in authorizePublish, connection tracking in preConnect / client events.
 */
import { connectedClient } from './aedes-compat.ts';
import { Aedes, type AedesOptions, type Client } from 'aedes';
import type { DeviceAddress } from '../../devices/index.ts';
import type { GatewayConfig } from '../config.ts';
import type { DeviceStates } from '../../edge/device-state.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { PublishPolicy } from './publish-policy.ts';
import type { SqlitePersistence } from './persistence.ts';

export interface BrokerDeps {
  config: GatewayConfig;
  policy: PublishPolicy;
  states: DeviceStates;
  metrics: Metrics;
  log: Logger;
  /** Security policy (authenticate, authorizeSubscribe, authorizeForward). */
  hooks?: Pick<AedesOptions, 'authenticate' | 'authorizeSubscribe' | 'authorizeForward'>;
  /** Called when a client's connection ends, to drop per-client state. */
  /** `replaced`: a newer session took the client id over (the identity is still connected). */
  onClientGone?: (client: Client, replaced: boolean) => void;
  onClientReady?: (client: Client) => void;
  /** The device an authenticated connection belongs to (security), before falling back to its will topic. */
  addressOf?: (client: Client) => DeviceAddress | undefined;
  /** Durable sessions and retained messages; aedes' in-memory persistence without it. */
  persistence?: SqlitePersistence;
}

export async function createBroker({
  config,
  policy,
  states,
  metrics,
  log,
  hooks,
  onClientGone,
  onClientReady,
  addressOf,
  persistence,
}: BrokerDeps): Promise<Aedes> {
  const m = config.mqtt;
  const broker = await Aedes.createBroker({
    id: config.gatewayId,
    connectTimeout: m.connectTimeoutMs,
    // aedes would refuse keep-alive 0 with a return code MQTT 3.1.1 does not define; the limit is enforced in preConnect.
    keepaliveLimit: 0,
    drainTimeout: m.drainTimeoutMs,
    queueLimit: m.queueLimit,
    maxInflightInbound: m.maxInflightInbound,
    concurrency: m.concurrency,
    ...(persistence ? { persistence } : {}),
    // Device ids are up to 64 characters (devices/define.ts idSchema); MQTT 3.1's default is 23.
    maxClientsIdLength: 64,
    // The namespace is 6 levels deep; nothing legitimate needs more than a few more.
    maxTopicLevels: 16,
    ...hooks,
    preConnect: (client, packet, done) => {
      // [MQTT-3.1.2-24] keep-alive 0 turns the mechanism off: legal, and TCP keep-alive (listeners.ts) finds dead peers.
      // A keep-alive above the limit has no CONNACK code in 3.1.1: the connection is closed, and the reason logged.
      if (m.keepaliveLimitS > 0 && (packet.keepalive ?? 0) > m.keepaliveLimitS) {
        log.info(
          { clientId: packet.clientId, keepalive: packet.keepalive, limit: m.keepaliveLimitS },
          'keep-alive above mqtt.keepaliveLimitS: connection closed',
        );
        return done(new Error(`keep-alive ${packet.keepalive} s is above the limit of ${m.keepaliveLimitS} s`), false);
      }
      policy.bind(client, packet.clientId, packet.will?.topic);
      done(null, true);
    },
  });
  policy.attach(broker);

  broker.on('clientReady', (client) => {
    metrics.clients.set(broker.connectedClients);
    const bound = addressOf?.(client) ?? policy.boundAddress(client);
    if (bound) states.connected(bound);
    onClientReady?.(client);
    log.debug({ clientId: client.id }, 'client connected');
  });
  broker.on('clientDisconnect', (client) => {
    metrics.clients.set(broker.connectedClients);
    // A takeover closes the old connection after the new one authenticated: only mark offline if no one holds the id.
    const current = connectedClient(broker, client.id);
    if (!current || current === client) states.disconnected(client.id);
    onClientGone?.(client, !!current && current !== client);
    log.debug({ clientId: client.id }, 'client disconnected');
  });
  broker.on('clientError', (client, err) => {
    log.info({ clientId: client.id, err: err.message }, 'client error, connection closed');
  });
  broker.on('connectionError', (_client, err) => {
    log.info({ err: err.message }, 'connection refused');
  });
  return broker;
}
