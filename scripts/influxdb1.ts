/**
 * Debian's InfluxDB 1.6 as a strict check of Vigil's line protocol: its `/write` takes the same line
 * protocol as the v2 API and, unlike victoria-metrics, refuses a field whose type changes between
 * points ("field type conflict") and reads back each field's type (`SHOW FIELD KEYS`). Started on
 * free ports with a temporary directory, no reporting, no other listeners.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopChild, waitUp } from './local-server.ts';
import { freePort } from './victoria.ts';

export class InfluxDB1 {
  readonly dir = mkdtempSync(join(tmpdir(), 'vigil-influx1-'));
  port = 0;
  #proc?: ChildProcess;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<InfluxDB1> {
    const db = new InfluxDB1();
    db.port = await freePort();
    const bind = await freePort();
    const conf = join(db.dir, 'influxdb.conf');
    writeFileSync(
      conf,
      `reporting-disabled = true
bind-address = "127.0.0.1:${bind}"
[meta]
  dir = "${db.dir}/meta"
[data]
  dir = "${db.dir}/data"
  wal-dir = "${db.dir}/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:${db.port}"
  log-enabled = false
[monitor]
  store-enabled = false
`,
    );
    db.#proc = spawn('influxd', ['-config', conf], { stdio: 'ignore' });
    await waitUp(async () => (await fetch(`${db.url}/ping`)).status === 204, 'influxd', db.#proc, 20_000);
    await db.query('CREATE DATABASE vigil');
    return db;
  }

  async query(q: string): Promise<{ results: { series?: { name: string; columns: string[]; values: unknown[][] }[]; error?: string }[] }> {
    const res = await fetch(`${this.url}/query?db=vigil&q=${encodeURIComponent(q)}`, { method: 'POST' });
    return (await res.json()) as never;
  }

  /** Write line protocol (ms timestamps); the status and the server's error, if any. */
  async write(lines: string[]): Promise<{ status: number; error?: string }> {
    const res = await fetch(`${this.url}/write?db=vigil&precision=ms`, { method: 'POST', body: lines.join('\n') });
    const body = await res.text();
    return { status: res.status, ...(body ? { error: (JSON.parse(body) as { error?: string }).error } : {}) };
  }

  /** measurement → field → type, as the server stored them. */
  async fieldTypes(): Promise<Record<string, Record<string, string>>> {
    const out: Record<string, Record<string, string>> = {};
    for (const s of (await this.query('SHOW FIELD KEYS')).results[0]?.series ?? [])
      out[s.name] = Object.fromEntries(s.values.map((v) => [String(v[0]), String(v[1])]));
    return out;
  }

  /** measurement → tag keys. */
  async tagKeys(): Promise<Record<string, string[]>> {
    const out: Record<string, string[]> = {};
    for (const s of (await this.query('SHOW TAG KEYS')).results[0]?.series ?? []) out[s.name] = s.values.map((v) => String(v[0]));
    return out;
  }

  async stop(): Promise<void> {
    await stopChild(this.#proc);
  }
}
