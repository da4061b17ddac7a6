/**
 * Forwarding against a real server that speaks the InfluxDB v2 write API (victoria-metrics),
 * through outages, errors, a kill -9 and a full spool.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceTopic } from '../devices/index.ts';
import type { DeviceMessage } from '../edge/message.ts';
import type { PipelineStage } from '../edge/pipeline.ts';
import type { GatewayConfigInput } from '../gateway/config.ts';
import { Aggregator } from '../gateway/forward/aggregate.ts';
import { retryAfterMs } from '../gateway/forward/forwarder.ts';
import { Fleet } from '../simulators/fleet.ts';
import { FaultProxy } from './helpers/fault-proxy.ts';
import { closeAll, connect, scrape, startTestGateway, until } from './helpers/gateway.ts';
import { freePortsEnv, runScript } from './helpers/process.ts';
import { Victoria } from './helpers/victoria.ts';

class Recorder implements PipelineStage {
  readonly name = 'recorder';
  readonly messages: DeviceMessage[] = [];
  accept(m: DeviceMessage) {
    this.messages.push(m);
  }
}

async function gateway(over: GatewayConfigInput, stages: PipelineStage[] = []) {
  const t = await startTestGateway(
    {
      ...over,
      security: { messagesPerSecond: 100_000, messageBurst: 100_000 },
      forward: { minRetryMs: 50, maxRetryMs: 500, batchLines: 500, ...over.forward },
    },
    stages,
  );
  return t.gw;
}

const smoke = (i: number) => ({ temperature_c: 20 + (i % 10) / 10, humidity_pct: 40, eco2_ppm: 420 + i, obscuration_pct_m: 0.01 });

let vm: Victoria;
beforeAll(async () => {
  vm = await Victoria.start();
});
afterAll(async () => {
  await closeAll();
  await vm.stop();
});

describe('forwarding to the InfluxDB v2 write API', () => {
  it('points arrive with the documented tags, fields and timestamps; alerts as their own measurement', async () => {
    const gw = await gateway({ forward: { url: vm.url, org: 'vigil', bucket: 'edge', token: 'test-token' } });
    try {
      await gw.security.registry.provision({ deviceId: 'f-smoke-1', kind: 'smoke', site: 'hub1', zone: 'hall-b' }, { id: 'test' });
      const a = { site: 'hub1', kind: 'smoke', deviceId: 'f-smoke-1' };
      const dev = await connect(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { clientId: a.deviceId });
      const ts = Date.now() - 5000;
      await dev.publishAsync(deviceTopic(a, 'telemetry'), JSON.stringify({ ...smoke(0), temperature_c: 21.25, battery_pct: 88, ts }), { qos: 1 });
      const d = { site: 'hub1', kind: 'door', deviceId: 'f-door-1' };
      const door = await connect(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { clientId: d.deviceId });
      await door.publishAsync(deviceTopic(d, 'event'), JSON.stringify({ type: 'forced_open' }), { qos: 1 });
      const [t] = await until(
        async () => {
          const s = await vm.export('smoke_temperature_c{device="f-smoke-1"}');
          return s.length ? s : undefined;
        },
        'telemetry in the server',
        10_000,
      );
      expect(t!.metric).toEqual({ __name__: 'smoke_temperature_c', gateway: 'vigil-edge', site: 'hub1', zone: 'hall-b', kind: 'smoke', device: 'f-smoke-1' });
      expect(t!.values).toEqual([21.25]);
      expect(t!.timestamps).toEqual([ts]);
      expect(await vm.samples('smoke_battery_pct{device="f-smoke-1"}')).toBe(1);
      const alert = await until(async () => (await vm.export('alerts_version{device="f-door-1"}'))[0], 'alert in the server', 10_000);
      expect(alert.metric).toMatchObject({ type: 'forced_entry', severity: 'critical', event: 'raised', state: 'raised', site: 'hub1', kind: 'door' });
      expect(await vm.samples('events_event_count{device="f-door-1",type="forced_open"}')).toBe(1);
      const metrics = await scrape(`http://127.0.0.1:${gw.ports.http}`);
      expect(metrics).toMatch(/vigil_forward_points_written_total [1-9]/);
      expect(metrics).toMatch(/vigil_forward_last_success_timestamp_seconds \d{10}/);
    } finally {
      await gw.stop();
    }
  });

  it('a server outage under fleet load: everything spooled arrives after restart, nothing lost, nothing twice', async () => {
    const rec = new Recorder();
    const gw = await gateway({ forward: { url: vm.url } }, [rec]);
    const fleet = new Fleet({ url: `mqtt://127.0.0.1:${gw.ports.mqtt}`, sites: ['out'], perKind: { smoke: 5, bodycam: 2 }, speed: 100, seed: 9 });
    try {
      await fleet.start();
      await until(() => rec.messages.length > 50, 'traffic flowing');
      await vm.stop();
      const spooledBefore = gw.forwarding.spool.depth;
      await until(() => gw.forwarding.spool.depth > spooledBefore + 200, 'points spooling during the outage', 15_000);
      await vm.restart();
      await until(() => rec.messages.length > 0 && gw.forwarding.spool.depth < 50, 'catching up', 30_000);
      await fleet.stop();
      await until(() => gw.forwarding.spool.depth === 0, 'spool drained', 30_000);
      const perDevice = new Map<string, number>();
      for (const m of rec.messages) if (m.kind === 'smoke' && m.channel === 'telemetry') perDevice.set(m.deviceId, (perDevice.get(m.deviceId) ?? 0) + 1);
      for (const [device, n] of perDevice) {
        const series = await until(
          async () => {
            const s = await vm.export(`smoke_eco2_ppm{device="${device}"}`);
            const got = s.reduce((a, x) => a + x.values.length, 0);
            return got >= n ? s : undefined;
          },
          `all ${n} points of ${device}`,
          15_000,
        );
        const timestamps = series.flatMap((s) => s.timestamps);
        expect(timestamps.length, device).toBe(n);
        expect(new Set(timestamps).size, device).toBe(n);
      }
    } finally {
      await fleet.stop();
      await gw.stop();
    }
  });

  it('the server answering errors: 503 and 429 + Retry-After are retried; a malformed point is dead-lettered and does not stall the rest', async () => {
    const proxy = await FaultProxy.start(() => vm.url);
    const gw = await gateway({ forward: { url: proxy.url, batchLines: 50 } });
    try {
      proxy.plan = [{ status: 503 }, { status: 503 }, { status: 429, retryAfterS: 1 }];
      proxy.poison = 'poison-dev';
      const good = { site: 'err', kind: 'smoke', deviceId: 'good-dev' };
      const bad = { site: 'err', kind: 'smoke', deviceId: 'poison-dev' };
      const g = await connect(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { clientId: good.deviceId });
      const b = await connect(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { clientId: bad.deviceId });
      const base = Date.now() - 60_000;
      for (let i = 0; i < 40; i++) {
        await g.publishAsync(deviceTopic(good, 'telemetry'), JSON.stringify({ ...smoke(i), ts: base + i * 100 }), { qos: 1 });
        if (i % 10 === 5) await b.publishAsync(deviceTopic(bad, 'telemetry'), JSON.stringify({ ...smoke(i), ts: base + i * 100 + 1 }), { qos: 1 });
      }
      await until(() => gw.forwarding.spool.depth === 0, 'spool drained past the faults', 20_000);
      expect(await until(async () => ((await vm.samples('smoke_eco2_ppm{device="good-dev"}')) === 40 ? 40 : undefined), 'good points', 10_000)).toBe(40);
      expect(await vm.samples('smoke_eco2_ppm{device="poison-dev"}')).toBe(0);
      expect(proxy.seen.slice(0, 3)).toEqual([503, 503, 429]);
      const dead = readFileSync(join(gw.config.dataDir, 'spool-dead-letter.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { reason: string; line: string });
      expect(dead).toHaveLength(4); // one line per refused reading, isolated by bisection
      for (const d of dead) {
        expect(d.reason).toMatch(/^HTTP 400: .*unable to parse/);
        expect(d.line).toMatch(/^smoke,.*device=poison-dev/);
      }
      const metrics = await scrape(`http://127.0.0.1:${gw.ports.http}`);
      expect(metrics).toMatch(/vigil_forward_failures_total\{reason="http_503"\} 2/);
      expect(metrics).toMatch(/vigil_forward_failures_total\{reason="http_429"\} 1/);
      expect(metrics).toMatch(/vigil_forward_dead_lettered_total 4/);
    } finally {
      await gw.stop();
      await proxy.close();
    }
  });

  it.each([
    ['503 on every write', { status: 503 }, 14],
    ['429 with Retry-After: 2 (seconds)', { status: 429, retryAfterS: 2 }, 3],
  ])('a server answering %s is not hammered while devices keep sending: backoff with jitter, never woken early by new points', async (_name, fault, most) => {
    const proxy = await FaultProxy.start(() => vm.url);
    proxy.always = fault;
    const gw = await gateway({ forward: { url: proxy.url, minRetryMs: 300, maxRetryMs: 2000 } });
    try {
      const c = await connect(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { clientId: 'storm-dev' });
      const dev = { site: 'storm', kind: 'smoke', deviceId: 'storm-dev' };
      // Readings keep arriving for 3 s: each append used to wake the retry sleep.
      const start = Date.now();
      for (let i = 0; Date.now() - start < 3000; i++) {
        await c.publishAsync(deviceTopic(dev, 'telemetry'), JSON.stringify({ ...smoke(i), ts: start + i }), { qos: 1 });
        await new Promise((r) => setTimeout(r, 20));
      }
      // The bound holds however slow the machine: retries never come sooner than minRetryMs (or Retry-After), so 3 s allow at most this many.
      expect(proxy.seen.length).toBeGreaterThan(0);
      expect(proxy.seen.length).toBeLessThanOrEqual(most);
      expect(gw.forwarding.spool.depth).toBeGreaterThan(100);
      const ready = (await (await fetch(`http://127.0.0.1:${gw.ports.http}/readyz`)).json()) as { checks: Record<string, { ok: boolean; detail?: string }> };
      expect(ready.checks['uplink:influx']).toMatchObject({ ok: false, detail: expect.stringMatching(/circuit (open|half_open)/) });
      const metrics = await scrape(`http://127.0.0.1:${gw.ports.http}`);
      expect(metrics).toMatch(/vigil_uplink_circuit_state\{target="influx"\} (1|2)/);
      // The server recovers: the spool drains and the circuit closes.
      proxy.always = undefined;
      await until(() => gw.forwarding.spool.depth === 0, 'spool drained after recovery', 20_000);
      expect(await scrape(`http://127.0.0.1:${gw.ports.http}`)).toMatch(/vigil_uplink_circuit_state\{target="influx"\} 0/);
      await c.endAsync();
    } finally {
      await gw.stop();
      await proxy.close();
    }
  });

  it('kill -9 of the gateway during an outage loses nothing it had acknowledged', async () => {
    const port = (await import('./helpers/victoria.ts')).freePort;
    const down = `http://127.0.0.1:${await port()}`; // nothing listens here yet
    const env = {
      ...freePortsEnv,
      VIGIL_DATA_DIR: mkdtempSync(join(tmpdir(), 'vigil-kill9-')),
      VIGIL_SECURITY_ALLOW_ANONYMOUS: 'true',
      VIGIL_FORWARD_URL: down,
      VIGIL_FORWARD_MIN_RETRY_MS: '50',
      VIGIL_FORWARD_MAX_RETRY_MS: '300',
    };
    const p1 = runScript('gateway/main.ts', [], env);
    const r1 = JSON.parse(await p1.line(/vigil gateway running/)) as { ports: { mqtt: number } };
    const a = { site: 'k9', kind: 'smoke', deviceId: 'k9-smoke-1' };
    const dev = await mqtt.connectAsync(`mqtt://127.0.0.1:${r1.ports.mqtt}`, { clientId: a.deviceId, reconnectPeriod: 0 });
    const base = Date.now() - 10_000;
    for (let i = 0; i < 100; i++) await dev.publishAsync(deviceTopic(a, 'telemetry'), JSON.stringify({ ...smoke(i), ts: base + i }), { qos: 1 });
    p1.child.kill('SIGKILL'); // every one of the 100 was PUBACKed, so each must be on disk
    await p1.exit;
    dev.end(true);
    // The server comes up where the gateway expects it, and the gateway restarts on the same spool.
    const server = await Victoria.start();
    try {
      const p2 = runScript('gateway/main.ts', [], { ...env, VIGIL_FORWARD_URL: server.url });
      await p2.line(/vigil gateway running/);
      expect(
        await until(async () => ((await server.samples('smoke_eco2_ppm{device="k9-smoke-1"}')) === 100 ? 100 : undefined), 'all 100 after kill -9', 20_000),
      ).toBe(100);
      p2.child.kill('SIGTERM');
      expect((await p2.exit).code).toBe(0);
    } finally {
      await server.stop();
    }
  });

  it('a full spool drops the oldest telemetry first and keeps alerts, observably', async () => {
    const gw = await gateway({ forward: { url: 'http://127.0.0.1:9' }, spool: { maxBytes: 16_384 } });
    try {
      const a = { site: 'full', kind: 'door', deviceId: 'full-door-1' };
      const dev = await connect(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { clientId: a.deviceId });
      await dev.publishAsync(deviceTopic(a, 'event'), JSON.stringify({ type: 'forced_open' }), { qos: 1 });
      const base = Date.now() - 100_000;
      for (let i = 0; i < 300; i++)
        await dev.publishAsync(deviceTopic(a, 'telemetry'), JSON.stringify({ door: 'closed', locked: true, ts: base + i }), { qos: 1 });
      const spool = gw.forwarding.spool;
      expect(spool.bytes).toBeLessThanOrEqual(16_384);
      const classes = spool.db.prepare('SELECT cls, COUNT(*) n, MIN(ts) oldest FROM spool GROUP BY cls').all() as { cls: string; n: number; oldest: number }[];
      expect(classes.find((c) => c.cls === 'alert')?.n).toBe(1); // raised before any telemetry, still there
      const tel = classes.find((c) => c.cls === 'telemetry')!;
      expect(tel.n).toBeLessThan(300);
      expect(tel.oldest).toBeGreaterThan(base); // the oldest readings went first
      const metrics = await scrape(`http://127.0.0.1:${gw.ports.http}`);
      expect(metrics).toMatch(/vigil_spool_dropped_total\{class="telemetry",reason="full"\} [1-9]/);
      expect(metrics).toMatch(/vigil_spool_depth_points [1-9]/);
      expect(metrics).toMatch(/vigil_spool_oldest_age_seconds [1-9]/);
    } finally {
      await gw.stop();
    }
  });
});

describe('Retry-After', () => {
  it('is read as seconds or as an HTTP date, never as milliseconds', () => {
    const now = Date.parse('2026-11-29T10:00:00Z');
    expect(retryAfterMs('30', now)).toBe(30_000);
    expect(retryAfterMs(['5'], now)).toBe(5_000);
    expect(retryAfterMs('Sun, 29 Nov 2026 10:02:00 GMT', now)).toBe(120_000);
    expect(retryAfterMs('Sun, 29 Nov 2026 09:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(undefined, now)).toBeUndefined();
  });
});

describe('standalone: no uplink configured', () => {
  it('keeps telemetry on the box and serves it by device and time range; nothing is spooled', async () => {
    const gw = await gateway({});
    try {
      const a = { site: 'solo', kind: 'smoke', deviceId: 'solo-smoke-1' };
      const dev = await connect(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { clientId: a.deviceId });
      const t0 = Date.now() - 30_000;
      for (let i = 0; i < 3; i++) await dev.publishAsync(deviceTopic(a, 'telemetry'), JSON.stringify({ ...smoke(i), ts: t0 + i * 1000 }), { qos: 1 });
      const from = new Date(t0 - 1).toISOString();
      const res = (await (await fetch(`http://127.0.0.1:${gw.ports.http}/api/v1/devices/solo-smoke-1/telemetry?from=${from}`)).json()) as {
        count: number;
        readings: { ts: string; fields: Record<string, number> }[];
      };
      expect(res.count).toBe(3);
      expect(res.readings.map((r) => r.fields['eco2_ppm'])).toEqual([420, 421, 422]);
      expect(res.readings[0]!.ts).toBe(new Date(t0).toISOString());
      const narrow = (await (
        await fetch(
          `http://127.0.0.1:${gw.ports.http}/api/v1/devices/solo-smoke-1/telemetry?from=${new Date(t0 + 500).toISOString()}&to=${new Date(t0 + 1500).toISOString()}`,
        )
      ).json()) as { count: number };
      expect(narrow.count).toBe(1);
      expect(gw.forwarding.spool.depth).toBe(0);
      expect(existsSync(join(gw.config.dataDir, 'spool-dead-letter.jsonl'))).toBe(false);
    } finally {
      await gw.stop();
    }
  });
});

describe('edge aggregation', () => {
  it('forwards per-minute min/max/mean, in their own measurement <kind>_agg, instead of every reading for a kind configured so', async () => {
    const gw = await gateway({ forward: { url: vm.url }, kinds: { smoke: { aggregateS: 60 } } });
    try {
      const a = { site: 'agg', kind: 'smoke', deviceId: 'agg-smoke-1' };
      const dev = await connect(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { clientId: a.deviceId });
      const minute = Math.floor(Date.now() / 60_000) * 60_000 - 2 * 60_000; // within ingest.maxClockSkewMs of now
      for (const [dt, t] of [
        [1000, 20],
        [20_000, 22],
        [40_000, 24],
        [61_000, 30],
      ] as const) {
        await dev.publishAsync(deviceTopic(a, 'telemetry'), JSON.stringify({ ...smoke(0), temperature_c: t, ts: minute + dt }), { qos: 1 });
      }
      const mean = await until(async () => (await vm.export('smoke_agg_temperature_c_mean{device="agg-smoke-1"}'))[0], 'aggregate in the server', 10_000);
      expect(mean.values).toEqual([22]);
      expect(mean.timestamps).toEqual([minute]);
      expect(await vm.samples('smoke_agg_temperature_c_max{device="agg-smoke-1"}')).toBe(1);
      expect((await vm.export('smoke_agg_samples{device="agg-smoke-1"}'))[0]!.values).toEqual([3]);
      expect(await vm.samples('smoke_temperature_c{device="agg-smoke-1"}')).toBe(0); // no raw readings uplinked
      // The raw readings are still kept on the box.
      expect(gw.forwarding.spool.localTelemetry('agg-smoke-1', minute, minute + 120_000, 10)).toHaveLength(4);
    } finally {
      await gw.stop();
    }
  });

  it('summarises chatty telemetry per device and window: min, max, mean and count', () => {
    const agg = new Aggregator(60);
    const m = (ts: number, t: number) =>
      ({
        site: 's',
        kind: 'smoke',
        deviceId: 'd',
        channel: 'telemetry',
        ts,
        receivedAt: ts,
        clockSkewed: false,
        data: { temperature_c: t },
        qos: 0,
        clientId: 'd',
      }) as DeviceMessage;
    const t0 = Date.UTC(2026, 0, 1, 12, 0, 0);
    expect(agg.add(m(t0 + 1000, 20))).toBeUndefined();
    expect(agg.add(m(t0 + 2000, 22))).toBeUndefined();
    expect(agg.add(m(t0 + 3000, 24))).toBeUndefined();
    const closed = agg.add(m(t0 + 61_000, 30))!;
    expect(closed.msg.ts).toBe(t0);
    expect(closed.fields).toEqual({ samples: 3, temperature_c_min: 20, temperature_c_max: 24, temperature_c_mean: 22 });
    expect(agg.flushIdle(t0 + 120_000)[0]!.fields).toMatchObject({ samples: 1, temperature_c_mean: 30 });
  });
});
