/**
 * A zigbee2mqtt bridge with a small Zigbee network, speaking zigbee2mqtt's own topics and payloads
 * (`<base>/bridge/state`, `<base>/<friendly_name>` with the device's whole state, `<base>/<name>/availability`):
 * smoke detectors (smoke, battery, battery_low, tamper, linkquality) and door contact sensors (contact: true =
 * closed). It logs in as the bridge it is registered as (client id = bridge id, Last Will on its state) and
 * follows zigbee2mqtt's habit of republishing everything when it connects. `smoke(name)` sets a detector off.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { Rng } from './random.ts';

export interface Z2mDevice {
  name: string;
  type: 'smoke' | 'contact';
}

export interface Zigbee2mqttSimOptions {
  url: string;
  bridgeId: string;
  password: string;
  baseTopic?: string;
  devices: Z2mDevice[];
  /** Time compression: a state report every `reportS / speed` real seconds. */
  speed?: number;
  reportS?: number;
  seed?: string | number;
}

export class Zigbee2mqttSim {
  readonly #o: Zigbee2mqttSimOptions;
  readonly #rng: Rng;
  readonly #state = new Map<string, Record<string, unknown>>();
  #client?: MqttClient;
  #timer?: NodeJS.Timeout;

  constructor(o: Zigbee2mqttSimOptions) {
    this.#o = o;
    this.#rng = new Rng(`z2m:${o.seed ?? 1}:${o.bridgeId}`);
    for (const d of o.devices)
      this.#state.set(
        d.name,
        d.type === 'smoke'
          ? { battery: Math.round(this.#rng.range(60, 100)), battery_low: false, smoke: false, tamper: false, linkquality: 120 }
          : { battery: Math.round(this.#rng.range(60, 100)), contact: true, linkquality: 110, voltage: 3000 },
      );
  }

  get #base(): string {
    return this.#o.baseTopic ?? 'zigbee2mqtt';
  }

  async start(): Promise<void> {
    const o = this.#o;
    this.#client = await mqtt.connectAsync(o.url, {
      clientId: o.bridgeId,
      username: o.bridgeId,
      password: o.password,
      protocolVersion: 4,
      reconnectPeriod: 2000,
      will: { topic: `${this.#base}/bridge/state`, payload: Buffer.from('{"state":"offline"}'), qos: 1, retain: true },
    });
    // Like zigbee2mqtt on (re)connect: the bridge state, every device's availability and state.
    const announce = async () => {
      await this.#publish('bridge/state', { state: 'online' }, true);
      for (const d of o.devices) {
        await this.#publish(`${d.name}/availability`, { state: 'online' }, true);
        await this.#report(d.name);
      }
    };
    this.#client.on('connect', () => void announce().catch(() => {}));
    await announce();
    const periodMs = ((o.reportS ?? 60) * 1000) / (o.speed ?? 1);
    this.#timer = setInterval(() => void this.#tick().catch(() => {}), periodMs);
  }

  async #tick(): Promise<void> {
    for (const d of this.#o.devices) {
      const s = this.#state.get(d.name)!;
      s['linkquality'] = Math.round(this.#rng.range(80, 160));
      // Now and then someone goes through a door with a contact sensor.
      if (d.type === 'contact' && this.#rng.next() < 0.2) s['contact'] = !s['contact'];
      await this.#report(d.name);
    }
  }

  #report(name: string): Promise<unknown> {
    return this.#publish(name, this.#state.get(name)!);
  }

  #publish(sub: string, body: unknown, retain = false): Promise<unknown> {
    return this.#client!.publishAsync(`${this.#base}/${sub}`, JSON.stringify(body), { qos: 1, retain });
  }

  /** A detector senses smoke (`on`), or the air clears. */
  async smoke(name: string, on = true): Promise<void> {
    const s = this.#state.get(name);
    if (!s) throw new Error(`no zigbee2mqtt device "${name}"`);
    s['smoke'] = on;
    await this.#report(name);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#client?.endAsync().catch(() => {});
  }
}
