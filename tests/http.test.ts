/** The HTTP API over a real socket (fetch), against a gateway fed by a real MQTT device. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceTopic } from '../devices/index.ts';
import { closeAll, connectDevice, getJson, scrape, startTestGateway, type TestGateway } from './helpers/gateway.ts';

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway();
  const cam = { site: 'hub1', kind: 'camera', deviceId: 'api-cam-1' };
  const smoke = { site: 'hub2', kind: 'smoke', deviceId: 'api-smoke-1' };
  const c = await connectDevice(t.mqttUrl, cam);
  const s = await connectDevice(t.mqttUrl, smoke);
  await c.publishAsync(deviceTopic(cam, 'telemetry'), JSON.stringify({ fps: 25, bitrate_kbps: 3000, temperature_c: 39, ts: 1 }), { qos: 1 });
  await c.publishAsync(deviceTopic(cam, 'telemetry'), '{oops', { qos: 1 });
  await s.publishAsync(deviceTopic(smoke, 'telemetry'), JSON.stringify({ temperature_c: 20, humidity_pct: 50, eco2_ppm: 420, obscuration_pct_m: 0 }), {
    qos: 1,
  });
  s.stream.destroy();
});
afterAll(async () => {
  await closeAll();
  await t.stop();
});

describe('HTTP API', () => {
  it('GET /healthz and /readyz', async () => {
    expect(await getJson(`${t.httpUrl}/healthz`)).toMatchObject({ status: 200, body: { status: 'ok' } });
    const ready = await getJson<{ ready: boolean; checks: Record<string, { ok: boolean }> }>(`${t.httpUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.body.ready).toBe(true);
    expect(Object.keys(ready.body.checks)).toEqual(['broker', 'listeners', 'pipeline', 'inference', 'spool']);
  });

  it('GET /api/v1/devices lists devices with counters and filters', async () => {
    const all = await getJson<{ count: number; devices: Record<string, unknown>[] }>(`${t.httpUrl}/api/v1/devices`);
    expect(all.status).toBe(200);
    expect(all.body.devices.map((d) => d['deviceId'])).toEqual(['api-cam-1', 'api-smoke-1']);
    expect(all.body.devices[0]).toMatchObject({ kind: 'camera', site: 'hub1', online: true, messages: 1, refused: 1, refusedByReason: { invalid_json: 1 } });
    expect(all.body.devices[0]!['lastSeen']).toMatch(/^\d{4}-\d\d-\d\dT/);
    const cams = await getJson<{ count: number }>(`${t.httpUrl}/api/v1/devices?kind=camera`);
    expect(cams.body.count).toBe(1);
    const offline = await getJson<{ devices: { deviceId: string }[] }>(`${t.httpUrl}/api/v1/devices?online=false`);
    expect(offline.body.devices.map((d) => d.deviceId)).toEqual(['api-smoke-1']);
  });

  it('GET /api/v1/devices/:id shows the latest telemetry, with the device clock replaced when implausible', async () => {
    const r = await getJson<Record<string, any>>(`${t.httpUrl}/api/v1/devices/api-cam-1`);
    expect(r.status).toBe(200);
    expect(r.body.telemetry.data).toEqual({ fps: 25, bitrate_kbps: 3000, temperature_c: 39 });
    expect(r.body.clockSkewed).toBe(1); // ts: 1 is 1970
    expect(Date.parse(r.body.telemetry.ts)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('errors are JSON with a code and a clear message', async () => {
    expect(await getJson(`${t.httpUrl}/api/v1/devices/nope`)).toEqual({
      status: 404,
      body: { statusCode: 404, code: 'VIGIL_ERR_DEVICE_NOT_FOUND', error: 'Not Found', message: 'device "nope" is not known to this gateway' },
    });
    const bad = await getJson<Record<string, any>>(`${t.httpUrl}/api/v1/devices?kind=toaster`);
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: 'VIGIL_ERR_VALIDATION', message: expect.stringContaining('kind') });
    expect(bad.body.details[0].path).toBe('/kind');
    const missing = await getJson<Record<string, any>>(`${t.httpUrl}/api/v2/whatever`);
    expect(missing).toMatchObject({ status: 404, body: { code: 'VIGIL_ERR_NOT_FOUND' } });
  });

  it('serves OpenAPI at /docs with every route', async () => {
    const spec = await getJson<{ openapi: string; paths: Record<string, Record<string, unknown>> }>(`${t.httpUrl}/docs/json`);
    expect(spec.body.openapi).toMatch(/^3\./);
    expect(Object.keys(spec.body.paths)).toEqual(expect.arrayContaining(['/healthz', '/readyz', '/api/v1/devices', '/api/v1/devices/{id}', '/metrics']));
    // Every route the server answers (but the docs' own and HEAD twins) is in the document, with its method.
    const served = t.gw.httpRoutes.filter((r) => !r.startsWith('head ') && !/ \/docs(\/|$)/.test(r));
    expect(served.length).toBeGreaterThan(25);
    const missing = served.filter((r) => {
      const [method, path] = r.split(' ') as [string, string];
      return !spec.body.paths[path]?.[method];
    });
    expect(missing).toEqual([]);
    const ui = await fetch(`${t.httpUrl}/docs`);
    expect(ui.status).toBe(200);
  });

  it('exports Prometheus metrics', async () => {
    const text = await scrape(`${t.httpUrl}`);
    expect(text).toMatch(/vigil_ingest_accepted_total\{kind="camera",channel="telemetry"\} 1/);
    expect(text).toMatch(/vigil_ingest_refused_total\{reason="invalid_json"\} 1/);
    expect(text).toMatch(/vigil_ingest_clock_skewed_total 1/);
    expect(text).toMatch(/vigil_mqtt_connections_total\{transport="tcp"\} [2-9]/);
  });
});
