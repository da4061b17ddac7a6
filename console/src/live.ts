/**
 * Live data over MQTT on the page's own origin (`/mqtt` on the gateway's HTTP server): the same principal,
 * its MQTT password being the secret part of its token, a client id of its own (`<id>:console-<random>`).
 * The broker lets it subscribe only to the sites it is granted.
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { Me } from './api.ts';

export interface Live {
  close(): void;
  readonly connected: () => boolean;
}

export function connectLive(token: string, me: Me, onAlert: (a: any) => void, onState: (connected: boolean) => void): Live {
  const dot = token.indexOf('.');
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/mqtt`;
  const client: MqttClient = mqtt.connect(url, {
    clientId: `${me.id}:console-${Math.random().toString(36).slice(2, 10)}`,
    username: me.id,
    password: token.slice(dot + 1),
    protocolVersion: 4,
    reconnectPeriod: 3000,
    // Plain timers: MQTT.js's default runs them in a Worker made from a blob: URL, which the CSP (script-src 'self') forbids.
    timerVariant: 'native',
    connectTimeout: 10_000,
  });
  const filters = me.sites.includes('*') ? ['vigil/v1/+/alerts/+/+/+'] : me.sites.map((s) => `vigil/v1/${s}/alerts/+/+/+`);
  client.on('connect', () => {
    onState(true);
    client.subscribe(filters, { qos: 1 });
  });
  client.on('close', () => onState(false));
  client.on('message', (_topic, payload) => {
    try {
      onAlert(JSON.parse(payload.toString()));
    } catch {
      /* not an alert */
    }
  });
  return { close: () => client.end(true), connected: () => client.connected };
}
