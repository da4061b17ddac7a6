/**
 * A real time-series server for the forwarding tests and benchmark: Debian's victoria-metrics, which accepts
 * the InfluxDB v2 write API (/api/v2/write, line protocol) and is read back with /api/v1/export.
 * Started on a free port with a temporary data directory; can be stopped and restarted on the same data.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopChild, waitUp } from './local-server.ts';

export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

export interface Series {
  metric: Record<string, string>;
  values: number[];
  timestamps: number[];
}

export class Victoria {
  readonly dir = mkdtempSync(join(tmpdir(), 'vigil-vm-'));
  port = 0;
  #proc?: ChildProcess;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<Victoria> {
    const v = new Victoria();
    v.port = await freePort();
    await v.restart();
    return v;
  }

  async restart(): Promise<void> {
    this.#proc = spawn(
      'victoria-metrics',
      [`-httpListenAddr=127.0.0.1:${this.port}`, `-storageDataPath=${this.dir}`, '-retentionPeriod=100y', '-search.latencyOffset=0s', '-loggerLevel=ERROR'],
      { stdio: 'ignore' },
    );
    await waitUp(async () => (await fetch(`${this.url}/health`)).ok, 'victoria-metrics', this.#proc);
  }

  async stop(): Promise<void> {
    await stopChild(this.#proc);
  }

  /** Every series matching the selector, after making recent writes searchable. */
  async export(selector: string): Promise<Series[]> {
    await fetch(`${this.url}/internal/force_flush`);
    const res = await fetch(`${this.url}/api/v1/export?match[]=${encodeURIComponent(selector)}`);
    const text = await res.text();
    return text.trim()
      ? text
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Series)
      : [];
  }

  async samples(selector: string): Promise<number> {
    return (await this.export(selector)).reduce((n, s) => n + s.values.length, 0);
  }
}
