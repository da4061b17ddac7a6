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
    this.#proc = spawn('victoria-metrics', [
      `-httpListenAddr=127.0.0.1:${this.port}`,
      `-storageDataPath=${this.dir}`,
      '-retentionPeriod=100y',
      '-search.latencyOffset=0s',
      '-loggerLevel=ERROR',
    ], { stdio: 'ignore' });
    const end = Date.now() + 15_000;
    for (;;) {
      try {
        if ((await fetch(`${this.url}/health`)).ok) return;
      } catch {
        /* not up yet */
      }
      if (Date.now() > end) throw new Error('victoria-metrics did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    const p = this.#proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
  }

  /** Every series matching the selector, after making recent writes searchable. */
  async export(selector: string): Promise<Series[]> {
    await fetch(`${this.url}/internal/force_flush`);
    const res = await fetch(`${this.url}/api/v1/export?match[]=${encodeURIComponent(selector)}`);
    const text = await res.text();
    return text.trim() ? text.trim().split('\n').map((l) => JSON.parse(l) as Series) : [];
  }

  async samples(selector: string): Promise<number> {
    return (await this.export(selector)).reduce((n, s) => n + s.values.length, 0);
  }
}
