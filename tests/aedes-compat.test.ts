/**
 * The aedes internals Vigil relies on (gateway/broker/aedes-compat.ts), checked against the aedes
 * actually installed, over a real TCP listener and real MQTT.js clients: an upgrade that moves them
 * fails here, not as a takeover, a revocation or a Last Will misread somewhere else.
 */
import { createServer, type Server } from 'node:net';
import { Aedes, type Client, type PublishPacket } from 'aedes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectedClient, connectedClients, isWillOf } from '../gateway/broker/aedes-compat.ts';
import { closeAll, connect, until } from './helpers/gateway.ts';

let broker: Aedes;
let server: Server;
let url: string;
const seen: { client: Client | null; packet: PublishPacket; will: boolean }[] = [];

beforeAll(async () => {
  broker = await Aedes.createBroker();
  broker.authorizePublish = (client, packet, done) => {
    seen.push({ client, packet, will: client ? isWillOf(client, packet) : false });
    done(null);
  };
  server = createServer((s) => broker.handle(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  url = `mqtt://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});

afterAll(async () => {
  await closeAll();
  await new Promise<void>((r) => broker.close(() => r()));
  server.close();
});

describe('aedes compatibility', () => {
  it('finds connected clients by id, and after a takeover the new connection', async () => {
    await connect(url, { clientId: 'compat-a' });
    await until(() => connectedClient(broker, 'compat-a'), 'compat-a connected');
    expect(connectedClients(broker).map((c) => c.id)).toContain('compat-a');
    const first = connectedClient(broker, 'compat-a')!;
    await connect(url, { clientId: 'compat-a' }); // same id: aedes closes the first
    await until(() => connectedClient(broker, 'compat-a') && connectedClient(broker, 'compat-a') !== first, 'the takeover');
    expect(connectedClients(broker).filter((c) => c.id === 'compat-a')).toHaveLength(1);
    expect(connectedClient(broker, 'nobody')).toBeUndefined();
    expect(connectedClient(undefined, 'compat-a')).toBeUndefined();
  });

  it('tells a Last Will from an ordinary publish on the same topic', async () => {
    const c = await connect(url, { clientId: 'compat-w', will: { topic: 'compat/status', payload: Buffer.from('gone'), qos: 1, retain: false } });
    await c.publishAsync('compat/status', 'still here', { qos: 1 });
    expect(seen.find((s) => s.packet.topic === 'compat/status' && String(s.packet.payload) === 'still here')?.will).toBe(false);
    // Lose the link without DISCONNECT: aedes publishes the will through authorizePublish.
    c.stream.destroy();
    const will = await until(() => seen.find((s) => s.packet.topic === 'compat/status' && String(s.packet.payload) === 'gone'), 'the will');
    expect(will.will).toBe(true);
  });
});
