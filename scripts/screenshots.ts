/**
 * `npm run screenshots`: the console's main views as PNGs for the README (docs/console/), taken from the
 * demo itself: it starts `npm run demo` on free ports in a scratch data directory, waits for its opening
 * incidents, signs in as its admin in Debian's Chromium (playwright-core) and photographs each view at a
 * tablet's size. Exit code 1 with a message when something does not come up.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const out = join(ROOT, 'docs/console');
const data = join(ROOT, 'var/screenshots');

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`screenshots: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

rmSync(data, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const demo = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', '--data-dir', data, '--interval', '60'], {
  cwd: ROOT,
  env: { ...process.env, VIGIL_HTTP_PORT: '0', VIGIL_MQTT_TCP_PORT: '0', VIGIL_MQTT_WS_PORT: '0' },
  stdio: ['ignore', 'ignore', 'inherit'],
});
const stop = () => demo.kill('SIGINT');
process.on('exit', stop);
try {
  const creds = await until(
    'the demo’s credentials',
    () => (existsSync(join(data, 'credentials.json')) ? (JSON.parse(readFileSync(join(data, 'credentials.json'), 'utf8')) as Record<string, any>) : undefined),
    60_000,
  );
  const http = creds['http'].replace('localhost', '127.0.0.1') as string;
  const token = creds['admin'].apiToken as string;
  const api = async (path: string) => (await fetch(`${http}${path}`, { headers: { authorization: `Bearer ${token}` } })).json() as Promise<any>;
  // The opening fire, the crowd surge and the intrusion: a console with something on it.
  await until('three open alerts', async () => ((await api('/api/v1/alerts?state=open')).count >= 3 ? true : undefined), 120_000);
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  const page = await browser.newPage({ viewport: { width: 1180, height: 820 } });
  await page.goto(http);
  await page.getByLabel('Token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('live', { exact: true }).waitFor();
  const shot = async (name: string) => {
    await page.waitForTimeout(1500);
    await page.screenshot({ path: join(out, `${name}.png`) });
    console.log(`docs/console/${name}.png`);
  };
  await page.locator('[data-alert]').first().waitFor();
  await shot('alerts');
  await page.goto(`${http}/#/devices`);
  await page.locator('[data-device]').first().waitFor();
  await shot('devices');
  await page.goto(`${http}/#/devices/hub1-smoke-01`);
  await page.locator('svg.spark').first().waitFor({ timeout: 30_000 });
  await shot('device');
  await page.goto(`${http}/#/configs`);
  await page.getByLabel('Site').selectOption('hub1');
  await page.getByLabel('Kind').selectOption('door');
  await page.getByLabel('heldOpenTimeoutS').fill('900');
  await page.getByRole('button', { name: /Push to door devices/ }).click();
  await page.locator('.field.invalid').waitFor();
  await shot('configs');
  await page.goto(`${http}/#/health`);
  await page.locator('[data-check]').first().waitFor();
  await shot('health');
  await page.goto(`${http}/#/admin`);
  await page.getByRole('heading', { name: 'Audit log' }).waitFor();
  await shot('admin');
  await browser.close();
} catch (err) {
  console.error((err as Error).message);
  process.exitCode = 1;
} finally {
  stop();
}
