/** An HTTP proxy in front of the time-series server that answers with planned errors: 503, 429 + Retry-After, 400 for "poison". */
import { createServer, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { freePort } from './victoria.ts';

export interface Fault {
  status: number;
  retryAfterS?: number;
}

export class FaultProxy {
  port = 0;
  /** Answers for the next requests, in order; then requests pass through. */
  plan: Fault[] = [];
  /** Once the plan is spent, answer every request with this (a server that stays down). */
  always?: Fault;
  /** A request whose body contains this is refused with 400, like a malformed point. */
  poison?: string;
  readonly seen: number[] = [];
  #server?: Server;

  static async start(target: () => string): Promise<FaultProxy> {
    const p = new FaultProxy();
    p.port = await freePort();
    p.#server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const raw = Buffer.concat(chunks);
      const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
      const fault = p.plan.shift() ?? p.always;
      if (fault) {
        p.seen.push(fault.status);
        res.writeHead(fault.status, { 'content-type': 'application/json', ...(fault.retryAfterS ? { 'retry-after': String(fault.retryAfterS) } : {}) });
        return res.end(JSON.stringify({ code: 'unavailable', message: 'planned fault' }));
      }
      if (p.poison && body.includes(p.poison)) {
        p.seen.push(400);
        res.writeHead(400, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ code: 'invalid', message: `unable to parse points containing "${p.poison}"` }));
      }
      try {
        const up = await fetch(`${target()}${req.url}`, {
          method: req.method,
          body,
          headers: { 'content-type': String(req.headers['content-type'] ?? 'text/plain') },
        });
        p.seen.push(up.status);
        res.writeHead(up.status);
        res.end(await up.text());
      } catch {
        p.seen.push(502);
        res.writeHead(502).end();
      }
    });
    await new Promise<void>((r) => p.#server!.listen(p.port, '127.0.0.1', () => r()));
    return p;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  close(): Promise<void> {
    return new Promise((r) => this.#server!.close(() => r()));
  }
}
