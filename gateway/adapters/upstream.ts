/**
 * A bridge read from the site's own broker: where zigbee2mqtt already publishes to a broker of the site
 * (often a Mosquitto next to Home Assistant), the box subscribes there to `<baseTopic>/#` with a persistent
 * session and takes each message as though the bridge had published it to the box (AdaptedIngest.bridged):
 * same devices (the bridge's site, the adapter's tag), same refusals, same pending list. The PUBACK of a
 * QoS 1 message waits for the spool's commit, so nothing acknowledged is lost. The site broker being away
 * is retried every `reconnectMs`; the devices the bridge spoke for go offline meanwhile.
 */
import { readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from '../logger.ts';
import type { Bridge } from '../security/registry.ts';
import type { AdaptedIngest } from './index.ts';

export interface UpstreamOptions {
  url: string;
  username?: string;
  password?: string;
  caFile?: string;
  clientId: string;
  reconnectMs?: number;
}

/** The bridge as the configuration declares it (adapters.upstream): no credentials at the box, it never logs in here. */
export type UpstreamSource = Pick<Bridge, 'id' | 'site' | 'adapter' | 'baseTopic'>;

export class UpstreamBridge {
  readonly #o: UpstreamOptions;
  readonly #bridge: UpstreamSource;
  readonly #ingest: AdaptedIngest;
  readonly #log: Logger;
  #client?: MqttClient;
  received = 0;
  refused = 0;
  lastError?: string;

  constructor(o: UpstreamOptions, bridge: UpstreamSource, ingest: AdaptedIngest, log: Logger) {
    this.#o = o;
    this.#bridge = bridge;
    this.#ingest = ingest;
    this.#log = log;
  }

  get id(): string {
    return this.#bridge.id;
  }

  get connected(): boolean {
    return !!this.#client?.connected;
  }

  start(): void {
    const o = this.#o;
    const b = this.#bridge;
    const c = mqtt.connect(o.url, {
      clientId: o.clientId,
      clean: false,
      protocolVersion: 4,
      reconnectPeriod: o.reconnectMs ?? 5000,
      connectTimeout: 10_000,
      username: o.username || undefined,
      password: o.password || undefined,
      ca: o.caFile ? readFileSync(o.caFile) : undefined,
    });
    this.#client = c;
    // The PUBACK (QoS 1) goes once the messages the device's report became are stored.
    c.handleMessage = (packet, done) => {
      this.received++;
      const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
      this.#ingest.bridged(b, packet.topic, payload, `upstream:${o.url}`).then(
        (r) => {
          if (!r.ok) {
            this.refused++;
            this.#log.warn({ bridge: b.id, topic: packet.topic, code: r.refusal.code }, `refused: ${r.refusal.message}`);
          }
          done();
        },
        (err: Error) => {
          // Not stored: no PUBACK, the site broker sends it again after reconnecting.
          this.#log.error({ bridge: b.id, err }, 'bridged message not stored; dropping the link so it is redelivered');
          c.end(true, () => c.reconnect());
        },
      );
    };
    this.#ingest.setSender(b.id, (topic, payload) => c.publish(topic, payload, { qos: 1 }));
    c.on('connect', () => {
      this.#ingest.bridgeBack(b.id);
      this.#log.info({ bridge: b.id, url: o.url }, 'reading the bridge from the site broker');
      c.subscribe(`${b.baseTopic}/#`, { qos: 1 }, (err, granted) => {
        if (err || granted?.some((g) => g.qos === 128)) this.#log.error({ err, granted }, 'the site broker refused the subscription (check its ACL)');
      });
    });
    c.on('close', () => this.#ingest.bridgeGone(b.id));
    c.on('error', (err) => {
      this.lastError = err.message;
      this.#log.debug({ err }, 'site broker error');
    });
  }

  async stop(): Promise<void> {
    const c = this.#client;
    if (!c) return;
    this.#ingest.setSender(this.#bridge.id, undefined);
    await new Promise<void>((resolve) => c.end(false, {}, () => resolve()));
    this.#ingest.bridgeGone(this.#bridge.id);
  }
}
