/**
 * The on-site console (#17) end to end in a real browser: Debian's Chromium driven by playwright-core,
 * against a real gateway with simulated devices. Sign in with a token (kept in session storage, never in
 * a URL); a simulated fire appears without a reload and acknowledging it is seen over MQTT; a config push
 * with an out-of-range field shows the API's error at the field, and a good one converges by waves; a
 * device provisioned in the page gets its password once and comes online; a consumer sees no admin view;
 * signing out forgets everything; the page is same-origin only (CSP) and logs no error.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SmokeSim } from '../simulators/kinds/smoke.ts';
import { CameraSim } from '../simulators/kinds/camera.ts';
import type { DoorSim } from '../simulators/kinds/door.ts';
import { doorSite } from './helpers/doors.ts';
import { closeAll, collect, connect, startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { ROOT } from './helpers/process.ts';

const site = 'con';
let t: TestGateway;
let browser: Browser;
let admin = '';
let consumer = '';
const sims: (SmokeSim | DoorSim | CameraSim)[] = [];
const pageErrors: string[] = [];

async function page(): Promise<Page> {
  const p = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  p.on('console', (m) => m.type() === 'error' && pageErrors.push(m.text()));
  p.on('pageerror', (e) => pageErrors.push(e.message));
  return p;
}
async function signIn(p: Page, token: string): Promise<void> {
  await p.goto(t.httpUrl);
  await p.getByLabel('Token').fill(token);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.getByRole('button', { name: 'Sign out' }).waitFor();
}

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'console/dist/index.html'))) execFileSync('npm', ['run', '--silent', 'build:console'], { cwd: ROOT, stdio: 'pipe' });
  t = await startTestGateway({ security: { allowAnonymous: false }, alerts: { startupGraceS: 0 } });
  const reg = t.gw.security.registry;
  admin = (await reg.addPrincipal({ id: 'con-admin', role: 'admin', sites: ['*'] }, { id: 'test' })).token;
  consumer = (await reg.addPrincipal({ id: 'con-ops', role: 'consumer', sites: [site] }, { id: 'test' })).token;
  const [smoke, cam] = await reg.provisionMany(
    [
      { deviceId: 'con-smoke-1', kind: 'smoke', site, zone: 'hall' },
      { deviceId: 'con-cam-1', kind: 'camera', site, zone: 'hall' },
    ],
    { id: 'test' },
  );
  const sim = new SmokeSim({ url: t.mqttUrl, site, deviceId: 'con-smoke-1', speed: 60, seed: 1, ...smoke!.credentials });
  // The hall's camera answers the evidence snapshot a fire asks for.
  const camera = new CameraSim({ url: t.mqttUrl, site, deviceId: 'con-cam-1', speed: 1, seed: 1, ...cam!.credentials });
  for (const s of [sim, camera]) await s.start();
  sims.push(sim, camera, ...(await doorSite(t.gw, 'con-doors', 4)));
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await Promise.all(sims.map((s) => s.stop()));
  await closeAll();
  await t?.stop();
});

describe('the console in Chromium', () => {
  it('is served at / with a same-origin CSP; a wrong token is refused; the token stays out of URLs and local storage', async () => {
    const res = await fetch(t.httpUrl);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toContain('upgrade-insecure-requests');
    expect(await res.text()).not.toMatch(/<script>(?!<)/);
    const p = await page();
    await p.goto(t.httpUrl);
    // Keyboard only: the token field takes the first Tab, Enter submits.
    await p.keyboard.press('Tab');
    await p.keyboard.type('con-admin.wrong');
    await p.keyboard.press('Enter');
    await expect(p.getByRole('alert').textContent()).resolves.toMatch(/not valid/);
    await signIn(p, admin);
    expect(p.url()).not.toContain(admin.split('.')[1]!);
    expect(await p.evaluate('[sessionStorage.length, localStorage.length]')).toEqual([1, 0]);
    await p.getByText('live', { exact: true }).waitFor();
    await p.close();
  });

  it('a simulated fire appears without a reload; acknowledging it with a note is seen over MQTT and in its history', async () => {
    const p = await page();
    await signIn(p, admin);
    await p.getByText('live', { exact: true }).waitFor();
    const ops = await connect(t.mqttUrl, { clientId: 'con-admin:watch', username: 'con-admin', password: admin.split('.')[1] });
    const events = await collect(ops, `vigil/v1/${site}/alerts/+/+/+`);
    void (sims[0] as SmokeSim).incident('fire');
    const card = p
      .locator('[data-alert]', { hasText: 'con-smoke-1' })
      .filter({ has: p.locator('strong', { hasText: /^fire$/ }) })
      .first();
    await card.waitFor({ timeout: 25_000 });
    await expect(card.locator('.sev').textContent()).resolves.toBe('critical');
    // Screen readers hear it: an assertive live region says a new critical alert was raised.
    await expect(p.locator('[aria-live="assertive"]').textContent()).resolves.toMatch(/^New (critical|major) alert: fire/);
    await expect(card.locator('.mark').first().textContent()).resolves.toMatch(/respond in 0[01]:\d\d/);
    await card.getByPlaceholder('note (optional)').fill('unit 12 on the way');
    await card.getByRole('button', { name: 'Acknowledge' }).click();
    await card.locator('[data-state="acknowledged"]').waitFor();
    const m = await events.next((x) => JSON.parse(x.payload.toString()).event === 'acknowledged');
    expect(JSON.parse(m.payload.toString())).toMatchObject({ type: 'fire', deviceId: 'con-smoke-1', acknowledgedBy: 'con-admin', state: 'acknowledged' });
    await card.getByRole('button', { name: 'History' }).click();
    await p.getByText('“unit 12 on the way”').waitFor();
    // The hall camera's snapshot, attached as evidence, shown from a blob: URL (the API wants the token).
    const img = p.locator('img[alt^="evidence"]').first();
    await img.waitFor({ timeout: 20_000 });
    expect(await img.getAttribute('src')).toMatch(/^blob:/);
    await p.waitForFunction(`document.querySelector('img[alt^="evidence"]').naturalWidth > 0`, undefined, { timeout: 10_000 });
    await p.close();
  }, 60_000);

  it('a config push with an out-of-range field shows the API error at the field; a good push converges wave by wave', async () => {
    const p = await page();
    await signIn(p, admin);
    await p.goto(`${t.httpUrl}/#/configs`);
    await p.getByLabel('Site').selectOption('con-doors');
    await p.getByLabel('Kind').selectOption('door');
    await p.getByLabel('heldOpenTimeoutS').fill('1000');
    await p.getByRole('button', { name: /Push to door devices of con-doors/ }).click();
    const field = p.locator('.field.invalid', { has: p.getByLabel('heldOpenTimeoutS') });
    await expect(field.getByRole('alert').textContent()).resolves.toMatch(/600/);
    await p.getByLabel('heldOpenTimeoutS').fill('45');
    await p.getByRole('button', { name: /Push to door devices of con-doors/ }).click();
    await p
      .getByRole('status')
      .filter({ hasText: /Rollout \S+ started: 4 devices/ })
      .waitFor();
    await p.locator('[data-rollout][data-state="completed"]').first().waitFor({ timeout: 30_000 });
    await expect(p.locator('[data-rollout]').first().locator('[data-wave="1"]').textContent()).resolves.toMatch(/canary.*1\/1 in sync, 0 failed/);
    expect(t.gw.configs.state('con-doors-door-04')).toMatchObject({ status: 'in_sync' });
    await p.close();
  }, 60_000);

  it('a device provisioned in the page gets its password once and comes online in the device list', async () => {
    const p = await page();
    await signIn(p, admin);
    await p.goto(`${t.httpUrl}/#/admin`);
    await p.getByLabel('Device id').fill('con-smoke-2');
    await p.locator('select[name="kind"]').selectOption('smoke');
    await p.getByLabel('Site', { exact: true }).fill(site);
    await p.getByLabel('Zone', { exact: true }).fill('hall');
    await p.getByRole('button', { name: 'Provision' }).click();
    const password = (await p.locator('[data-password="con-smoke-2"]').textContent())!;
    expect(password.length).toBeGreaterThan(20);
    // A principal added in the page: its token is shown once and works.
    await p.getByLabel('Id', { exact: true }).fill('con-night');
    await p.locator('select[name="principal-role"]').selectOption('engineer');
    await p.locator('input[name="principal-sites"]').fill(site);
    await p.getByRole('button', { name: 'Add principal' }).click();
    const token = (await p.locator('[data-token="con-night"]').textContent())!;
    const me = await fetch(`${t.httpUrl}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(await me.json()).toEqual({ id: 'con-night', role: 'engineer', sites: [site] });
    const sim = new SmokeSim({ url: t.mqttUrl, site, deviceId: 'con-smoke-2', speed: 10, seed: 2, username: 'con-smoke-2', password });
    await sim.start();
    sims.push(sim);
    await p.goto(`${t.httpUrl}/#/devices`);
    await p.locator('[data-device="con-smoke-2"]', { hasText: 'online' }).waitFor({ timeout: 15_000 });
    await p.locator('[data-device="con-smoke-2"] a').click();
    await p.getByRole('heading', { name: /con-smoke-2/ }).waitFor();
    await p.locator('svg.spark').first().waitFor({ timeout: 15_000 });
    await p.close();
  }, 60_000);

  it('a token revoked mid-session signs the page out with the reason', async () => {
    const temp = await t.gw.security.registry.addPrincipal({ id: 'con-temp', role: 'engineer', sites: [site] }, { id: 'test' });
    const p = await page();
    await signIn(p, temp.token);
    t.gw.security.registry.revokePrincipal('con-temp', { id: 'test' });
    await p.goto(`${t.httpUrl}/#/devices`);
    await p.getByText('Your token is no longer valid (revoked or rotated): sign in again.').waitFor();
    expect(await p.evaluate('sessionStorage.length')).toBe(0);
    await p.close();
  });

  it('a consumer sees no admin view and cannot push; signing out forgets the token and what was shown', async () => {
    const p = await page();
    await signIn(p, consumer);
    await expect(p.getByRole('link', { name: 'Admin' }).count()).resolves.toBe(0);
    await p.goto(`${t.httpUrl}/#/configs`);
    await p.getByText('Pushing configurations takes an engineer or admin.').waitFor();
    await p.goto(`${t.httpUrl}/#/health`);
    await p.locator('[data-check="broker"]').waitFor();
    await p.getByRole('button', { name: 'Sign out' }).click();
    await p.getByLabel('Token').waitFor();
    expect(await p.evaluate('sessionStorage.length')).toBe(0);
    await p.reload();
    await p.getByLabel('Token').waitFor();
    await expect(p.locator('[data-alert]').count()).resolves.toBe(0);
    await p.close();
    // Nothing the page did broke its CSP or threw. The failed requests are those these tests provoke:
    // the wrong and the revoked token (401) and the out-of-range push (400).
    expect(
      pageErrors.filter((e) => !/status of (401 \(Unauthorized\)|400 \(Bad Request\))/.test(e)),
      pageErrors.join('\n'),
    ).toEqual([]);
  }, 60_000);
});
