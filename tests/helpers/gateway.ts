/** Start a real gateway on free ports for a test file, and MQTT helpers around it. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { loadConfig, type GatewayConfigInput } from '../../gateway/config.ts';
import { Gateway } from '../../gateway/gateway.ts';
import type { PipelineStage } from '../../edge/pipeline.ts';
import { deviceTopic, type DeviceAddress } from '../../devices/index.ts';

export interface TestGateway {
  gw: Gateway;
  mqttUrl: string;
  wsUrl: string;
  httpUrl: string;
  stop(): Promise<void>;
}

/**
 * A gateway on free ports with a fresh database. Anonymous (dev mode) by default so the
 * ingest suites need no credentials; the security suite turns it off.
 */
export async function startTestGateway(overrides: GatewayConfigInput = {}, stages: PipelineStage[] = [], now?: () => number): Promise<TestGateway> {
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir: mkdtempSync(join(tmpdir(), 'vigil-test-')),
      ...overrides,
      security: { allowAnonymous: true, ...overrides.security },
      mqtt: { ...overrides.mqtt, tcp: { host: '127.0.0.1', port: 0, ...overrides.mqtt?.tcp }, ws: { host: '127.0.0.1', port: 0, ...overrides.mqtt?.ws } },
      http: { host: '127.0.0.1', port: 0, ...overrides.http },
      log: { level: (process.env['VIGIL_TEST_LOG'] as 'info') ?? 'silent', ...overrides.log },
    },
  });
  const gw = await new Gateway({ config, stages, now }).start();
  return {
    gw,
    mqttUrl: `mqtt://127.0.0.1:${gw.ports.mqtt}`,
    wsUrl: `ws://127.0.0.1:${gw.ports.ws}${config.mqtt.ws.path}`,
    httpUrl: `http://127.0.0.1:${gw.ports.http}`,
    stop: () => gw.stop(),
  };
}

const clients = new Set<MqttClient>();

export async function connect(url: string, opts: IClientOptions = {}): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, ...opts });
  clients.add(c);
  return c;
}

/** Connect as a device: its id as client id and a retained offline Last Will on its status topic. */
export function connectDevice(url: string, a: DeviceAddress, opts: IClientOptions = {}): Promise<MqttClient> {
  return connect(url, {
    clientId: a.deviceId,
    will: { topic: deviceTopic(a, 'status'), payload: Buffer.from('{"online":false,"reason":"lwt"}'), qos: 1, retain: true },
    ...opts,
  });
}

export async function closeAll(): Promise<void> {
  await Promise.all([...clients].map((c) => c.endAsync(true).catch(() => {})));
  clients.clear();
}

/** Collect messages on `filter`; `next(pred)` resolves with the first (past or future) match. */
export async function collect(client: MqttClient, filter: string) {
  const seen: { topic: string; payload: Buffer; retain: boolean }[] = [];
  const waiters: { pred: (m: (typeof seen)[number]) => boolean; resolve: (m: (typeof seen)[number]) => void }[] = [];
  client.on('message', (topic, payload, packet) => {
    const m = { topic, payload, retain: packet.retain };
    seen.push(m);
    for (const w of [...waiters])
      if (w.pred(m)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
  });
  await client.subscribeAsync(filter, { qos: 1 });
  return {
    seen,
    json: () => seen.map((m) => ({ topic: m.topic, body: JSON.parse(m.payload.toString()) as Record<string, unknown> })),
    next(pred: (m: (typeof seen)[number]) => boolean = () => true, timeoutMs = 5000) {
      const hit = seen.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise<(typeof seen)[number]>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no message on ${filter} matching within ${timeoutMs} ms; saw ${seen.length}`)), timeoutMs);
        waiters.push({
          pred,
          resolve: (m) => {
            clearTimeout(t);
            resolve(m);
          },
        });
      });
    },
  };
}

/** Poll until `fn` returns a truthy value (state reached through the network, no fixed sleeps). */
export async function until<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 5000): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function getJson<T = Record<string, unknown>>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as T };
}

/** /metrics of a gateway, without the `gateway` label every series carries (tests/metrics.test.ts checks that label). */
export async function scrape(base: string): Promise<string> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return text
    .replace(/,gateway="[^"]*"/g, '')
    .replace(/\{gateway="[^"]*",/g, '{')
    .replace(/\{gateway="[^"]*"\}/g, '');
}
