/** Transports into the broker: MQTT over TCP and over WebSocket (browsers). */
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { Aedes } from 'aedes';
import type { GatewayConfig } from '../config.ts';
import type { Metrics } from '../metrics.ts';
import type { ConnectionLimiter } from '../security/limits.ts';
import { FrameGuard } from './frame-guard.ts';

export interface Listener {
  name: 'mqtt-tcp' | 'mqtt-ws' | 'mqtt-tls' | 'mqtt-wss';
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

const closeServer = (server: NetServer | HttpServer) => new Promise<void>((resolve) => server.close(() => resolve()));

const guarded = (socket: import('node:net').Socket, maxPacketBytes: number, metrics: Metrics, transport: string) =>
  new FrameGuard(socket, maxPacketBytes, () => metrics.oversizedPackets.inc({ transport }));

/** What every listener shares: the metrics and the connection limits (all MQTT listeners together). */
export interface ListenerContext {
  metrics: Metrics;
  maxPacketBytes: number;
  limiter: ConnectionLimiter;
}

/**
 * Admit a new connection within the limits, or close it at once (counted). TCP keep-alive finds
 * peers that vanished without a FIN, which MQTT keep-alive 0 would never notice.
 */
export function admit(ctx: ListenerContext, listener: string, socket: import('node:net').Socket): boolean {
  const a = ctx.limiter.admit(socket.remoteAddress);
  if ('refused' in a) {
    ctx.metrics.connectionsRefused.inc({ listener, reason: a.refused });
    socket.destroy();
    return false;
  }
  socket.once('close', a.release);
  socket.setKeepAlive(true, 60_000);
  return true;
}

export async function startTcp(broker: Aedes, cfg: GatewayConfig['mqtt']['tcp'], ctx: ListenerContext): Promise<Listener> {
  // Nagle off: with it on, a QoS 1 round trip waits ~40 ms for delayed ACKs.
  const server = createNetServer({ noDelay: true }, (socket) => {
    if (!admit(ctx, 'mqtt-tcp', socket)) return;
    ctx.metrics.connections.inc({ transport: 'tcp' });
    broker.handle(guarded(socket, ctx.maxPacketBytes, ctx.metrics, 'tcp'));
  });
  const port = await listen(server, cfg.host, cfg.port);
  return { name: 'mqtt-tcp', port, stopAccepting: () => closeServer(server) };
}

/** TLS options from the config: server certificate, and the site CA for client certificates (mutual TLS). */
export function tlsOptions(cfg: GatewayConfig['mqtt']['tls']): TlsOptions {
  const read = (f: string, what: string) => {
    try {
      return readFileSync(f);
    } catch (err) {
      throw new Error(`cannot read ${what} ${f}: ${(err as Error).message}`);
    }
  };
  return {
    cert: read(cfg.certFile, 'mqtt.tls.certFile'),
    key: read(cfg.keyFile, 'mqtt.tls.keyFile'),
    ...(cfg.clientCerts !== 'off' ? { ca: read(cfg.caFile, 'mqtt.tls.caFile'), requestCert: true, rejectUnauthorized: cfg.clientCerts === 'required' } : {}),
    minVersion: 'TLSv1.2',
  };
}

export async function startTls(broker: Aedes, cfg: GatewayConfig['mqtt']['tls'], tls: TlsOptions, ctx: ListenerContext): Promise<Listener> {
  const server = createTlsServer(tls, (socket) => {
    socket.setNoDelay(true);
    ctx.metrics.connections.inc({ transport: 'tls' });
    broker.handle(guarded(socket, ctx.maxPacketBytes, ctx.metrics, 'tls'));
  });
  // Limits apply before the handshake, so a flood of half-open TLS connections costs no crypto beyond the limit.
  server.on('connection', (socket: import('node:net').Socket) => admit(ctx, 'mqtt-tls', socket));
  // A failed handshake (untrusted client certificate, plain TCP on the TLS port) must not reach the broker or crash anything.
  server.on('tlsClientError', () => ctx.metrics.connections.inc({ transport: 'tls_rejected' }));
  const port = await listen(server, cfg.host, cfg.port);
  return { name: 'mqtt-tls', port, stopAccepting: () => closeServer(server) };
}

export async function startWebSocket(broker: Aedes, cfg: GatewayConfig['mqtt']['ws'], ctx: ListenerContext, tls?: TlsOptions): Promise<Listener> {
  const { metrics, maxPacketBytes } = ctx;
  const scheme = tls ? 'wss' : 'ws';
  const handler = (_req: unknown, res: import('node:http').ServerResponse) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end(`MQTT over WebSocket: connect to ${scheme}://host:port${cfg.path}\n`);
  };
  const http = tls ? createHttpsServer(tls, handler) : createHttpServer(handler);
  http.on(tls ? 'secureConnection' : 'connection', (socket: import('node:net').Socket) => socket.setNoDelay(true));
  http.on('connection', (socket: import('node:net').Socket) => admit(ctx, tls ? 'mqtt-wss' : 'mqtt-ws', socket));
  const wss = new WebSocketServer({
    server: http,
    path: cfg.path,
    maxPayload: maxPacketBytes,
    handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false),
  });
  wss.on('connection', (ws, req) => {
    metrics.connections.inc({ transport: scheme });
    const stream = createWebSocketStream(ws);
    stream.on('error', () => stream.destroy());
    broker.handle(stream, req);
  });
  const port = await listen(http, cfg.host, cfg.port);
  return {
    name: tls ? 'mqtt-wss' : 'mqtt-ws',
    port,
    stopAccepting: () => {
      wss.close();
      // WebSocket connections are upgraded sockets: the broker closes them, then this resolves.
      return closeServer(http);
    },
  };
}
