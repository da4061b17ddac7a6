/** A secured gateway (no anonymous access, TLS with a site PKI) and MQTT probes for the security suites. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import mqtt, { type IClientOptions } from 'mqtt';
import { pino } from 'pino';
import { loadConfig, type GatewayConfigInput } from '../../gateway/config.ts';
import { Gateway } from '../../gateway/gateway.ts';
import { ROOT } from './process.ts';

export const certs = (...args: string[]) => execFileSync('bash', [join(ROOT, 'scripts/certs.sh'), ...args], { stdio: 'pipe' });

/** A site PKI in a temporary directory: CA for `site`, a server certificate for localhost, and device certificates. */
export function makePki(site: string, devices: string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-pki-'));
  certs('ca', dir, site);
  certs('server', dir, 'localhost');
  for (const d of devices) certs('device', dir, d);
  return dir;
}

export async function startSecureGateway(pki: string, overrides: GatewayConfigInput = {}, logSink?: Writable) {
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir: mkdtempSync(join(tmpdir(), 'vigil-sec-')),
      ...overrides,
      mqtt: {
        ...overrides.mqtt,
        tcp: { host: '127.0.0.1', port: 0, ...overrides.mqtt?.tcp },
        ws: { enabled: false },
        wss: { enabled: true, host: '127.0.0.1', port: 0 },
        // A subscriber that stops reading is dropped quickly (see "slow consumer"): short enough for the slow-consumer test, long enough that a reader on a loaded 2-core machine is not taken for a stalled one.
        drainTimeoutMs: 2000,
        tls: {
          enabled: true,
          host: '127.0.0.1',
          port: 0,
          certFile: join(pki, 'server.crt'),
          keyFile: join(pki, 'server.key'),
          caFile: join(pki, 'ca.crt'),
          clientCerts: 'optional',
          ...overrides.mqtt?.tls,
        },
      },
      http: { host: '127.0.0.1', port: 0, ...overrides.http },
      security: { allowAnonymous: false, messagesPerSecond: 5, messageBurst: 10, ...overrides.security } as GatewayConfigInput['security'],
    },
  });
  const gw = await new Gateway({ config, log: pino({ level: logSink ? 'trace' : 'silent' }, logSink) }).start();
  const base = `${config.http.tls ? 'https' : 'http'}://127.0.0.1:${gw.ports.http}`;
  const api = async (method: string, path: string, token?: string, body?: unknown, contentType = 'application/json') => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': contentType } : {}) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, text, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, any>) : {} };
  };
  const admin = await gw.security.registry.addPrincipal({ id: 'root-admin', role: 'admin', sites: ['*'] }, { id: 'test' });
  return {
    gw,
    api,
    adminToken: admin.token,
    adminSecret: admin.credentials.password,
    mqttUrl: `mqtt://127.0.0.1:${gw.ports.mqtt}`,
    tlsUrl: `mqtts://127.0.0.1:${gw.ports.tls}`,
    wssUrl: `wss://127.0.0.1:${gw.ports.wss}/mqtt`,
  };
}

/** SUBACK return code per filter, one SUBSCRIBE each (MQTT.js rejects a SUBACK that holds a 0x80). */
export async function grantedQos(c: mqtt.MqttClient, topics: string[]): Promise<number[]> {
  const out: number[] = [];
  for (const t of topics) {
    try {
      const g = await c.subscribeAsync(t, { qos: 1 });
      out.push(g[0]!.qos);
    } catch (err) {
      out.push((err as { packet?: { granted?: number[] } }).packet?.granted?.[0] ?? -1);
    }
  }
  return out;
}

/** Connect and expect a CONNACK refusal; resolves with its return code (0 when accepted). */
export async function refusedWith(url: string, opts: IClientOptions, client?: mqtt.MqttClient): Promise<number | string> {
  const c = client ?? mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 30_000, ...opts });
  try {
    // 'close' without 'error' is how a handshake torn down by the server can end.
    await new Promise<void>((resolve, reject) => {
      c.once('connect', () => resolve());
      c.once('error', reject);
      c.once('close', () => reject(Object.assign(new Error('closed'), { code: 'ECONNRESET' })));
    });
    return 0;
  } catch (err) {
    return (err as { code?: number | string }).code ?? -1;
  } finally {
    c.end(true);
  }
}
