/** Helpers of the local server runners (victoria-metrics, InfluxDB 1.6, Mosquitto) used by the tests and benchmarks. */
import type { ChildProcess } from 'node:child_process';

/** Poll `up` every 50 ms until it says yes; fail with `what` after `timeoutMs` or once the process has exited. */
export async function waitUp(up: () => Promise<boolean>, what: string, proc: ChildProcess, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await up()) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > end || proc.exitCode !== null) throw new Error(`${what} did not start`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** SIGTERM and wait for the exit (servers save their state on the way out). */
export async function stopChild(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await exited;
}
