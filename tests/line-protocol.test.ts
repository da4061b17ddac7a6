/**
 * The line-protocol encoder writes lines directly (no Point per message); the official client's
 * Point is the oracle: same bytes for awkward names, values and types.
 */
import { Point } from '@influxdata/influxdb-client';
import { describe, expect, it } from 'vitest';
import { lineOf, type Fields, type FieldType } from '../gateway/forward/points.ts';

function oracle(measurement: string, tags: Record<string, string | null | undefined>, fields: Fields, ts: number, types: Record<string, FieldType>) {
  const p = new Point(measurement).timestamp(ts);
  for (const [k, v] of Object.entries(tags)) if (v) p.tag(k, v);
  for (const [k, v] of Object.entries(fields)) {
    if (typeof v === 'number') {
      if (types[k] === 'integer' && Number.isInteger(v)) p.intField(k, v);
      else p.floatField(k, v);
    } else if (typeof v === 'boolean') p.booleanField(k, v);
    else p.stringField(k, v);
  }
  return p.toLineProtocol();
}

const cases: [string, Record<string, string | null | undefined>, Fields, number, Record<string, FieldType>][] = [
  [
    'smoke',
    { gateway: 'gw-1', site: 'hub1', zone: 'hall', kind: 'smoke', device: 'hub1-smoke-1' },
    { obscuration: 1.25, battery_pct: 88, alarm: false },
    1_700_000_000_123,
    { battery_pct: 'integer' },
  ],
  ['m e,a', { 'z k': 'v=1,2', a: 'b c', empty: '', none: null, gone: undefined }, { s: 'he said "x\\y"\n\ttab\r', 'f k=1': 1.5 }, 1.9, {}],
  [
    'events',
    { type: 'forced_open', site: 'ü-site' },
    { event_count: 1, credential_id: 'ab12', big: 1e21, tiny: -0.000001, neg: -3 },
    5,
    { event_count: 'integer', neg: 'integer' },
  ],
  ['alerts', { state: 'raised' }, { version: 3, age_s: 12, reason: '${injection} "quoted"', ok: true }, 0, { version: 'integer', age_s: 'float' }],
  ['no fields', { site: 's' }, {}, 1, {}],
];

describe('line protocol', () => {
  it.each(cases)('%s: byte for byte what the client Point writes', (m, tags, fields, ts, types) => {
    expect(lineOf(m, tags, fields, ts, types)).toBe(oracle(m, tags, fields, ts, types));
  });

  it('refuses what InfluxDB cannot store instead of writing a broken line', () => {
    expect(() => lineOf('m', {}, { x: Number.NaN }, 1, {})).toThrow(/invalid float value for field 'x'/);
    expect(() => lineOf('m', {}, { x: Number.POSITIVE_INFINITY }, 1, {})).toThrow(/invalid float/);
  });
});
