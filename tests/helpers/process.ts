/** Run the real gateway / demo processes as a user would (node --import tsx ...). */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Proc {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first stdout line (JSON log or text) matching. */
  line(re: RegExp, timeoutMs?: number): Promise<string>;
}

export function runScript(script: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  child.stdout!.on('data', (d: Buffer) => {
    out += d;
    for (const w of [...waiters]) {
      const hit = out.split('\n').find((l) => w.re.test(l));
      if (hit) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(hit);
      }
    }
  });
  child.stderr!.on('data', (d: Buffer) => (err += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exit,
    line(re, timeoutMs = 20_000) {
      const hit = out.split('\n').find((l) => re.test(l));
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no line matching ${re} within ${timeoutMs} ms\nstdout: ${out}\nstderr: ${err}`)), timeoutMs);
        void exit.then(() => setTimeout(() => reject(new Error(`process exited before printing ${re}\nstdout: ${out}\nstderr: ${err}`)), 50));
        waiters.push({
          re,
          resolve: (l) => {
            clearTimeout(t);
            resolve(l);
          },
        });
      });
    },
  };
}

/** Ports 0: let the OS pick, so parallel test files never collide; a fresh data directory. */
export const freePortsEnv = {
  VIGIL_DATA_DIR: mkdtempSync(join(tmpdir(), 'vigil-proc-')),
  VIGIL_MQTT_TCP_PORT: '0',
  VIGIL_MQTT_TCP_HOST: '127.0.0.1',
  VIGIL_MQTT_WS_PORT: '0',
  VIGIL_MQTT_WS_HOST: '127.0.0.1',
  VIGIL_HTTP_PORT: '0',
  VIGIL_HTTP_HOST: '127.0.0.1',
};
