/**
 * A misbehaving camera: cycles through every class of bad input the gateway
 * must refuse, so the demo (and anyone testing a deployment) sees each refusal
 * reason on the device's /error topic and in the counters.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { deviceTopic } from '../devices/index.ts';

export interface BadInput {
  /** The refusal code the gateway is expected to answer with. */
  expect: string;
  topic: string;
  payload: string | Buffer;
}

export function badInputs(site: string, deviceId: string): BadInput[] {
  const own = (ch: Parameters<typeof deviceTopic>[1]) => deviceTopic({ site, kind: 'camera', deviceId }, ch);
  return [
    { expect: 'invalid_json', topic: own('telemetry'), payload: '{"fps": 25, "bitrate_kbps": ' },
    { expect: 'schema_violation', topic: own('telemetry'), payload: JSON.stringify({ fps: 'twenty-five', bitrate_kbps: 4000, temperature_c: 40 }) },
    { expect: 'schema_violation', topic: own('event'), payload: JSON.stringify({ type: 'intrusion', zone: 'gate-3' }) },
    {
      expect: 'payload_too_large',
      topic: own('telemetry'),
      payload: JSON.stringify({ fps: 25, bitrate_kbps: 4000, temperature_c: 40, pad: 'x'.repeat(40_000) }),
    },
    { expect: 'invalid_jpeg', topic: own('snapshot'), payload: Buffer.from('this is not a jpeg') },
    {
      expect: 'invalid_unit',
      topic: own('telemetry'),
      payload: JSON.stringify({ fps: 25, bitrate_kbps: 4000, temperature_c: 40, units: { temperature_c: 'furlong' } }),
    },
    { expect: 'unknown_kind', topic: deviceTopic({ site, kind: 'toaster', deviceId }, 'telemetry'), payload: '{}' },
    { expect: 'unknown_channel', topic: `vigil/v1/${site}/camera/${deviceId}/firmware`, payload: '{}' },
    { expect: 'outside_namespace', topic: `cameras/${deviceId}/telemetry`, payload: '{}' },
    {
      expect: 'device_mismatch',
      topic: deviceTopic({ site, kind: 'camera', deviceId: `${site}-camera-01` }, 'telemetry'),
      payload: JSON.stringify({ fps: 25, bitrate_kbps: 1, temperature_c: 30 }),
    },
    { expect: 'reserved_topic', topic: own('config/desired'), payload: '{}' },
  ];
}

export class FaultyCamera {
  readonly site: string;
  readonly id: string;
  readonly #url: string;
  #client?: MqttClient;
  #timer?: NodeJS.Timeout;
  #i = 0;
  sent = 0;

  readonly #auth?: { username: string; password: string };

  constructor(url: string, site: string, deviceId = `${site}-camera-faulty`, auth?: { username: string; password: string }) {
    this.#url = url;
    this.site = site;
    this.id = deviceId;
    this.#auth = auth;
  }

  async start(periodMs = 2000): Promise<void> {
    const status = deviceTopic({ site: this.site, kind: 'camera', deviceId: this.id }, 'status');
    this.#client = await mqtt.connectAsync(this.#url, {
      clientId: this.id,
      protocolVersion: 4,
      ...this.#auth,
      will: { topic: status, payload: Buffer.from('{"online":false}'), qos: 1, retain: true },
    });
    await this.#client.publishAsync(status, JSON.stringify({ online: true, firmware: '0.9.0-beta' }), { qos: 1, retain: true });
    const inputs = badInputs(this.site, this.id);
    this.#timer = setInterval(() => {
      const b = inputs[this.#i++ % inputs.length]!;
      this.sent++;
      this.#client?.publish(b.topic, b.payload, { qos: 1 });
    }, periodMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#client?.endAsync();
  }
}
