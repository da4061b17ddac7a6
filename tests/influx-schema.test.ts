/**
 * The forwarded schema checked by a strict engine: Debian's InfluxDB 1.6 refuses a field whose type
 * changes between points and reports each field's type, which victoria-metrics cannot (it exports
 * strings as 0). Every point a gateway spools under a fleet of all four kinds — plus the events that
 * carry personal data or collide with tags — is written there and read back.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceTopic, kindNames } from '../devices/index.ts';
import { fieldTypes, TAG_KEYS } from '../gateway/forward/points.ts';
import { InfluxDB1 } from '../scripts/influxdb1.ts';
import { Fleet } from '../simulators/fleet.ts';
import { closeAll, connect, startTestGateway, until } from './helpers/gateway.ts';

let db: InfluxDB1;
beforeAll(async () => {
  db = await InfluxDB1.start();
});
afterAll(async () => {
  await closeAll();
  await db.stop();
});

describe('the InfluxDB schema, on a strict engine', () => {
  it('a fleet of every kind writes without a single type conflict; integers, booleans, a gateway tag, no tag/field collision, personal data pseudonymised', async () => {
    // The fleet runs on the wall clock: the gateway replaces device times further off than its skew
    // limit, and nothing asserted here depends on the hour. An uplink that never answers: every point stays in the spool, where the test reads it.
    const t = await startTestGateway({
      gatewayId: 'box-7',
      security: { messagesPerSecond: 100_000, messageBurst: 100_000 },
      kinds: { camera: { aggregateS: 1 } },
      forward: {
        url: 'http://127.0.0.1:9',
        minRetryMs: 60_000,
        maxRetryMs: 60_000,
        healthIntervalS: 1,
        mqtt: { url: 'mqtt://127.0.0.1:9', reconnectMs: 60_000 },
      },
    });
    const fleet = new Fleet({ url: t.mqttUrl, sites: ['hub1'], perKind: { camera: 2, door: 2, smoke: 2, bodycam: 2 }, speed: 100, seed: 3 });
    try {
      // A registered device, so coverage is reported too.
      await t.gw.security.registry.provision({ deviceId: 'cov-smoke-1', kind: 'smoke', site: 'hub1', zone: 'hall' }, { id: 'test' });
      await fleet.start();
      const ts = Date.now();
      const pub = async (a: { site: string; kind: string; deviceId: string }, ch: 'event' | 'telemetry', body: object) => {
        const c = await connect(t.mqttUrl, { clientId: a.deviceId });
        await c.publishAsync(deviceTopic(a, ch), JSON.stringify({ ts, ...body }), { qos: 1 });
        await c.endAsync();
      };
      await pub({ site: 'hub1', kind: 'camera', deviceId: 'cam-x' }, 'event', { type: 'crowd_count', zone: 'gate-3', count: 412 });
      await pub({ site: 'hub1', kind: 'door', deviceId: 'door-x' }, 'event', {
        type: 'access_denied',
        credential: { type: 'card', id: 'CARD-0042' },
        reason: 'expired',
      });
      await pub({ site: 'hub1', kind: 'bodycam', deviceId: 'cam-body-x' }, 'telemetry', {
        recording: true,
        officer: 'PC Jane Doe',
        gps: { lat: 51.501234, lon: -0.141234, accuracy_m: 4 },
        battery_pct: 77,
      });
      // An alert acknowledged and resolved: its points carry the 1-3-5 figures.
      await pub({ site: 'hub1', kind: 'door', deviceId: 'door-x' }, 'event', { type: 'forced_open' });
      const forced = await until(() => t.gw.alerts.store.query({ type: 'forced_entry' }).find((a) => a.deviceId === 'door-x'), 'forced_entry');
      t.gw.alerts.act('ack', forced.id, { id: 'test', sites: ['*'], via: 'http' });
      t.gw.alerts.act('resolve', forced.id, { id: 'test', sites: ['*'], via: 'http' });
      // And as if officers had been sent: the point of an arrival carries the times to acceptance and arrival.
      const sent = t.gw.alerts.store.get(forced.id)!;
      t.gw.forwarding.alertChanged(
        {
          ...sent,
          dispatch: {
            trigger: 'critical',
            startedAt: sent.raisedAt,
            target: { lat: 51.5, lon: -0.14, source: 'zone' },
            round: 1,
            officers: [],
            acceptedAt: sent.raisedAt + 20_000,
            arrivedAt: sent.raisedAt + 200_000,
            overdueAt: null,
            exhaustedAt: null,
          },
        },
        'dispatch_arrived',
        'gateway',
      );
      await until(() => t.gw.forwarding.spool.depth > 300, 'fleet points spooled', 20_000);
      // Cameras aggregated over 1-s windows: the first closes within a second or two.
      await until(() => t.gw.forwarding.spool.head(100_000, 1e9).some((r) => r.line.startsWith('camera_agg,')), 'a camera aggregate', 20_000);
      await until(() => t.gw.forwarding.spool.head(100_000, 1e9).some((r) => r.line.startsWith('box,')), 'a box-health point', 10_000);
      await until(() => t.gw.forwarding.spool.head(100_000, 1e9).some((r) => r.line.startsWith('coverage,')), 'a coverage point', 10_000);
      await fleet.stop();
      const lines = t.gw.forwarding.spool.head(100_000, 1e9).map((r) => r.line);
      const res = await db.write(lines);
      expect(res, res.error).toEqual({ status: 204 });

      const types = await db.fieldTypes();
      const tags = await db.tagKeys();
      expect(Object.keys(types)).toEqual(expect.arrayContaining(['camera_agg', 'door', 'smoke', 'bodycam', 'events', 'status']));
      expect(types['camera']).toBeUndefined(); // aggregated kinds send only their aggregates, in their own measurement
      for (const [m, fields] of Object.entries(types)) {
        expect(tags[m], m).toContain('gateway');
        for (const f of Object.keys(fields)) expect(tags[m], `${m}.${f} is also a tag`).not.toContain(f);
      }
      expect(types['door']).toMatchObject({ door_open: 'boolean', locked: 'boolean' });
      expect(types['door']!['door']).toBeUndefined();
      expect(types['events']).toMatchObject({ event_count: 'integer', count: 'integer', data_zone: 'string', credential_id: 'string' });
      expect(types['camera_agg']).toMatchObject({ samples: 'integer' });
      expect(Object.keys(types['camera_agg']!).some((f) => f.endsWith('_mean'))).toBe(true);
      expect(types['status']).toMatchObject({ online: 'boolean' });

      // Every panel of the provisioned Grafana dashboard reads a measurement and field that exist, with the box/site/device variables.
      expect(types['box']).toMatchObject({
        spooled_influx: 'integer',
        spooled_central: 'integer',
        circuit_central: 'integer',
        uptime_s: 'integer',
        open_alerts: 'integer',
      });
      expect(types['alerts']).toMatchObject({
        age_s: 'float',
        version: 'integer',
        time_to_ack_s: 'float',
        time_to_resolve_s: 'float',
        time_to_accept_s: 'float',
        time_to_arrive_s: 'float',
      });
      expect(types['coverage']).toMatchObject({ healthy: 'integer', registered: 'integer', ratio: 'float' });
      for (const file of ['vigil-edge.json', 'vigil-box-health.json']) {
        const dash = JSON.parse(readFileSync(new URL(`../deploy/grafana/dashboards/${file}`, import.meta.url), 'utf8')) as {
          panels: { title: string; targets: { query: string }[] }[];
          templating: { list: { name: string }[] };
        };
        expect(dash.templating.list.map((v) => v.name)).toEqual(['gateway', 'site', 'device']);
        for (const p of dash.panels) {
          for (const { query } of p.targets) {
            const m = /r\._measurement == "(\w+)"/.exec(query)?.[1];
            const f = /r\._field == "(\w+)"/.exec(query)?.[1];
            expect(m && f, `${p.title}: a measurement and a _field filter`).toBeTruthy();
            expect(types[m!]?.[f!], `${p.title}: ${m}.${f}`).toBeDefined();
            expect(query, p.title).toContain('${gateway:regex}');
          }
        }
      }

      const row = async (q: string) => (await db.query(q)).results[0]!.series![0]!;
      const body = await row(`SELECT officer, gps_lat, gps_lon FROM bodycam WHERE device = 'cam-body-x'`);
      const [, officer, lat, lon] = body.values[0] as [string, string, number, number];
      expect(officer).toMatch(/^[0-9a-f]{16}$/);
      expect(lines.join('\n')).not.toContain('Jane Doe');
      expect([lat, lon]).toEqual([51.5, -0.14]);
      const denied = await row(`SELECT credential_id FROM events WHERE device = 'door-x'`);
      expect(denied.values[0]![1]).toMatch(/^[0-9a-f]{16}$/);
      expect(lines.join('\n')).not.toContain('CARD-0042');
      expect((await row(`SELECT gateway, count FROM events WHERE device = 'cam-x'`)).values[0]!.slice(1)).toEqual(['box-7', 412]);
    } finally {
      await fleet.stop();
      await t.stop();
    }
  });

  it('every measurement has one type per field across all kinds (events of four kinds share one measurement)', () => {
    const seen = new Map<string, string>();
    for (const kind of kindNames()) {
      for (const [f, type] of Object.entries(fieldTypes(kind, 'event'))) {
        const key = (TAG_KEYS as readonly string[]).includes(f) ? `data_${f}` : f;
        if (f === 'type') continue;
        const prev = seen.get(key);
        expect(prev === undefined || prev === type, `events.${key}: ${prev} in one kind, ${type} in ${kind}`).toBe(true);
        seen.set(key, type);
      }
    }
    expect(seen.size).toBeGreaterThan(5);
  });
});
