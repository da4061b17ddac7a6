/** Transports into the broker: MQTT over TCP and over WebSocket (browsers). */
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { Aedes } from 'aedes';
import type { GatewayConfig } from '../config.ts';
import type { Metrics } from '../metrics.ts';

export interface Listener {
  name: 'mqtt-tcp' | 'mqtt-ws';
  port: number;
  /**
   * Stop accepting new connections at once; existing ones stay until the broker
   * closes them. Resolves when the last connection has gone.
   */
  stopAccepting(): Promise<void>;
}

const listen = (server: NetServer | HttpServer, host: string, port: number) =>
  new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });

const closeServer = (server: NetServer | HttpServer) =>
  new Promise<void>((resolve) => server.close(() => resolve()));

export async function startTcp(broker: Aedes, cfg: GatewayConfig['mqtt']['tcp'], metrics: Metrics): Promise<Listener> {
  // Nagle off: with it on, a QoS 1 round trip waits ~40 ms for delayed ACKs.
  const server = createNetServer({ noDelay: true }, (socket) => {
    metrics.connections.inc({ transport: 'tcp' });
    broker.handle(socket);
  });
  const port = await listen(server, cfg.host, cfg.port);
  return { name: 'mqtt-tcp', port, stopAccepting: () => closeServer(server) };
}

export async function startWebSocket(broker: Aedes, cfg: GatewayConfig['mqtt']['ws'], metrics: Metrics): Promise<Listener> {
  const http = createHttpServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end(`MQTT over WebSocket: connect to ws://host:port${cfg.path}\n`);
  });
  http.on('connection', (socket) => socket.setNoDelay(true));
  const wss = new WebSocketServer({ server: http, path: cfg.path, handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false) });
  wss.on('connection', (ws, req) => {
    metrics.connections.inc({ transport: 'ws' });
    const stream = createWebSocketStream(ws);
    stream.on('error', () => stream.destroy());
    broker.handle(stream, req);
  });
  const port = await listen(http, cfg.host, cfg.port);
  return {
    name: 'mqtt-ws',
    port,
    stopAccepting: () => {
      wss.close();
      // WebSocket connections are upgraded sockets: the broker closes them, then this resolves.
      return closeServer(http);
    },
  };
}
