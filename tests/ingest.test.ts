/** The ingest stage on its own: pure apart from the JPEG decode, so no broker needed. */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { availableParallelism } from 'node:os';
import { ingest, type IngestInput } from '../edge/ingest.ts';
import { imageSlots } from '../edge/jpeg.ts';
import type { IngestResult } from '../edge/message.ts';
import { resolveTime, toEpochMs } from '../edge/normalise.ts';
import { SceneRenderer } from '../simulators/scene.ts';

const limits = { maxJsonBytes: 16_384, maxSnapshotBytes: 1_048_576, maxClockSkewMs: 300_000 };
const NOW = Date.UTC(2026, 10, 29, 12, 0, 0);
const input = (topic: string, body: unknown, clientId = topic.split('/')[4]!): IngestInput => ({
  topic,
  payload: Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
  clientId,
  qos: 1,
  receivedAt: NOW,
});
const run = async (i: IngestInput) => (await ingest(i, limits)) as IngestResult;
const smokeT = 'vigil/v1/hub1/smoke/s1/telemetry';
const reading = { temperature_c: 21.5, humidity_pct: 45, eco2_ppm: 430, obscuration_pct_m: 0.02 };

describe('ingest', () => {
  it('accepts a valid reading and normalises its timestamp', async () => {
    const r = await run(input(smokeT, { ...reading, ts: NOW - 2000 }));
    expect(r).toMatchObject({ ok: true, message: { site: 'hub1', kind: 'smoke', deviceId: 's1', channel: 'telemetry', ts: NOW - 2000, clockSkewed: false } });
    if (r.ok) expect(r.message.data).toEqual(reading);
  });

  it('takes ISO times and epoch seconds, and replaces an implausible device clock', () => {
    expect(toEpochMs('2026-11-29T12:00:00Z')).toBe(NOW);
    expect(toEpochMs(NOW / 1000)).toBe(NOW);
    expect(resolveTime(0, NOW, 300_000)).toEqual({ ts: NOW, deviceTs: 0, clockSkewed: true });
    expect(resolveTime(undefined, NOW, 300_000)).toEqual({ ts: NOW, clockSkewed: false });
  });

  it('converts declared units before range checks', async () => {
    const r = await run(input(smokeT, { ...reading, temperature_c: 212, units: { temperature_c: 'degF' } }));
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.message.data['temperature_c']).toBeCloseTo(100);
      expect(r.message.data['units']).toBeUndefined();
    }
    const imu = await run(
      input('vigil/v1/hub1/bodycam/b1/telemetry', {
        recording: false,
        imu: {
          rate_hz: 2,
          accel_g: [
            [0, 0, 9.80665],
            [0, 0, 19.6133],
          ],
          gyro_dps: [
            [0, 0, Math.PI],
            [0, 0, 0],
          ],
        },
        units: { 'imu.accel_g': 'm/s2', 'imu.gyro_dps': 'rad/s' },
      }),
    );
    expect(imu.ok).toBe(true);
    if (imu.ok) {
      const w = imu.message.data['imu'] as { accel_g: number[][]; gyro_dps: number[][] };
      expect(w.accel_g[1]![2]).toBeCloseTo(2);
      expect(w.gyro_dps[0]![2]).toBeCloseTo(180);
    }
  });

  const refusals: [string, IngestInput, string, RegExp][] = [
    ['malformed JSON', input(smokeT, '{"temperature_c": 21,'), 'invalid_json', /not valid JSON/],
    ['a JSON array', input(smokeT, '[1,2]'), 'schema_violation', /must be a JSON object, got array/],
    ['a wrong type', input(smokeT, { ...reading, humidity_pct: 'damp' }), 'schema_violation', /humidity_pct: Invalid input: expected number, received string/],
    ['a missing field', input(smokeT, { temperature_c: 20, humidity_pct: 40, eco2_ppm: 400 }), 'schema_violation', /obscuration_pct_m/],
    ['an out-of-range value', input(smokeT, { ...reading, humidity_pct: 140 }), 'schema_violation', /humidity_pct: Too big/],
    ['an unknown unit', input(smokeT, { ...reading, units: { temperature_c: 'rankine' } }), 'invalid_unit', /"rankine" is not accepted/],
    ['units on a unitless field', input(smokeT, { ...reading, units: { eco2_ppm: 'ppb' } }), 'invalid_unit', /has no convertible unit/],
    ['an oversized payload', input(smokeT, { ...reading, pad: 'x'.repeat(20_000) }), 'payload_too_large', /limit is 16384/],
    ['an unknown kind', input('vigil/v1/hub1/toaster/t1/telemetry', {}), 'unknown_kind', /toaster/],
    ['a topic outside the namespace', input('sensors/s1/telemetry', {}, 's1'), 'outside_namespace', /must start with "vigil\/v1\/"/],
    ['an unknown channel', input('vigil/v1/hub1/smoke/s1/debug', {}), 'unknown_channel', /unknown channel "debug"/],
    [
      'a snapshot from a kind without a camera',
      input('vigil/v1/hub1/smoke/s1/snapshot', Buffer.from([0xff, 0xd8, 0xff])),
      'unknown_channel',
      /does not publish snapshots/,
    ],
    ["another device's topic", input(smokeT, reading, 's2'), 'device_mismatch', /client "s2" may only publish on its own topics/],
    ['a gateway → device topic', input('vigil/v1/hub1/smoke/s1/config/desired', {}), 'reserved_topic', /published by the gateway only/],
    [
      'a door event with a bad credential',
      input('vigil/v1/hub1/door/d1/event', { type: 'access_granted', credential: { type: 'retina', id: 'x' } }),
      'schema_violation',
      /credential\.type/,
    ],
  ];
  it.each(refusals)('refuses %s with a specific reason', async (_name, i, code, msg) => {
    const r = await run(i);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.refusal.code).toBe(code);
      expect(r.refusal.message).toMatch(msg);
    }
  });

  it('lists every schema issue with its field path', async () => {
    const r = await run(input(smokeT, { temperature_c: 'hot', humidity_pct: -1 }));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.refusal.issues!.map((i) => i.path).sort()).toEqual(['eco2_ppm', 'humidity_pct', 'obscuration_pct_m', 'temperature_c']);
  });

  describe('snapshots', () => {
    const camT = 'vigil/v1/hub1/camera/c1/snapshot';
    it('accepts a real JPEG and reports its size', async () => {
      const jpeg = await new SceneRenderer('c1').frame(5);
      const r = await run(input(camT, jpeg));
      expect(r).toMatchObject({ ok: true, message: { channel: 'snapshot', snapshot: { width: 320, height: 240 } } });
    });
    it('refuses text, PNGs and truncated JPEGs', async () => {
      const jpeg = await new SceneRenderer('c1').frame(5);
      const png = await sharp(jpeg).png().toBuffer();
      for (const [payload, msg] of [
        [Buffer.from('hello'), /missing SOI/],
        [png, /missing SOI/],
        [jpeg.subarray(0, Math.floor(jpeg.length / 2)), /does not decode/],
      ] as const) {
        const r = await run(input(camT, payload));
        expect(r).toMatchObject({ ok: false, refusal: { code: 'invalid_jpeg', message: expect.stringMatching(msg) } });
      }
    });
    it('a burst of snapshots decodes at most cores − 1 at a time (the thread pool keeps room for disk syncs); all are decoded', async () => {
      const jpeg = await new SceneRenderer('c1').frame(5);
      const slots = Math.max(1, availableParallelism() - 1);
      let most = 0;
      const burst = Array.from({ length: 12 }, () => run(input(camT, jpeg)));
      const watch = setInterval(() => (most = Math.max(most, imageSlots.activeCount)), 0);
      expect(imageSlots.pendingCount).toBeGreaterThan(0);
      const results = await Promise.all(burst);
      clearInterval(watch);
      expect(results.every((r) => r.ok)).toBe(true);
      expect(most).toBeGreaterThan(0);
      expect(most).toBeLessThanOrEqual(slots);
    });
    it('applies the snapshot size limit, not the JSON one', async () => {
      const jpeg = await new SceneRenderer('c1').frame(5);
      expect(jpeg.length).toBeGreaterThan(limits.maxJsonBytes / 4);
      const r = await ingest(input(camT, jpeg), { ...limits, maxSnapshotBytes: 1024 });
      expect(r).toMatchObject({ ok: false, refusal: { code: 'payload_too_large' } });
    });
  });
});
