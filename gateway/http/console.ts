/**
 * The on-site console (console/): the built single-page app served at `/`, and MQTT over WebSocket at
 * `/mqtt` on this same server, so the page talks to its own origin only (the CSP says `connect-src 'self'`).
 * The page is public, as a login page is; everything it shows comes from the API and the broker with the
 * principal's own token. Without a build (`npm run build:console`, done by scripts/setup.sh) `/` says so.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { Aedes } from 'aedes';
import type { FastifyPluginAsync } from 'fastify';
import fastifyStatic from '@fastify/static';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { admit, type ListenerContext } from '../broker/listeners.ts';

export const CONSOLE_DIR = fileURLToPath(new URL('../../console/dist', import.meta.url));

export interface ConsoleDeps {
  dir: string;
  broker?: Aedes;
  /** The MQTT listeners' limits (connections in all and per address), which MQTT over this port obeys too. */
  mqtt?: ListenerContext;
}

export const consoleRoutes: FastifyPluginAsync<ConsoleDeps> = async (app, { dir, broker, mqtt }) => {
  if (existsSync(join(dir, 'index.html'))) {
    // One route per built file (no wildcard: unknown paths stay the API's 404), cached by their content hash.
    await app.register(fastifyStatic, {
      root: dir,
      prefix: '/',
      wildcard: false,
      index: ['index.html'],
      setHeaders: (res, path) => res.setHeader('cache-control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache'),
    });
  } else {
    app.get('/', { config: { console: true }, schema: { hide: true } }, async (_req, reply) =>
      reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .send('The console is not built. Run: npm run build:console (npm start and npm run demo do it). The API is at /api/v1, its documentation at /docs.\n'),
    );
  }
  if (!broker || !mqtt) return;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: mqtt.maxPacketBytes,
    handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false),
  });
  wss.on('connection', (ws, req) => {
    mqtt.metrics.connections.inc({ transport: 'ws' });
    const stream = createWebSocketStream(ws);
    stream.on('error', () => stream.destroy());
    broker.handle(stream, req);
  });
  app.server.on('upgrade', (req, socket, head) => {
    if (new URL(req.url ?? '/', 'http://x').pathname !== '/mqtt') return socket.destroy();
    if (!admit(mqtt, 'http-mqtt', socket as import('node:net').Socket)) return;
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  app.addHook('onClose', async () => {
    for (const c of wss.clients) c.terminate();
    wss.close();
  });
};
