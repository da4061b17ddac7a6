/** The disk spool on its own: order, bounds and their policy, dead letters, reopening. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Line, PointClass } from '../gateway/forward/points.ts';
import { Spool } from '../gateway/forward/spool.ts';

let clock = 1_000_000;
const open = (dir: string, over: Partial<ConstructorParameters<typeof Spool>[0]> = {}) => {
  const drops: [PointClass, string, number][] = [];
  const spool = new Spool({
    file: join(dir, 'spool.db'),
    maxBytes: 1e9,
    maxAgeMs: 3_600_000,
    durability: 'fsync',
    deadLetterFile: join(dir, 'dead.jsonl'),
    now: () => clock,
    onDrop: (c, r, n) => drops.push([c, r, n]),
    ...over,
  });
  return { spool, drops };
};
const line = (cls: PointClass, i: number, ts = clock): Line => ({ cls, ts, line: `m,device=d${i} v=${i} ${ts}` });

describe('spool', () => {
  it('keeps one queue per forward target: delivering to one never removes or blocks the other', async () => {
    const { spool } = open(mkdtempSync(join(tmpdir(), 'spool-')));
    for (let i = 0; i < 10; i++) await spool.append([line('alert', i), { ...line('alert', 100 + i), target: 'central' }]);
    expect([spool.depthOf('influx'), spool.depthOf('central'), spool.depth]).toEqual([10, 10, 20]);
    // InfluxDB is down; the central broker takes everything, in order.
    const central = spool.head(100, 1e9, 'central');
    expect(central.map((r) => r.line)).toEqual(Array.from({ length: 10 }, (_, i) => line('alert', 100 + i).line));
    spool.remove(central);
    expect([spool.depthOf('influx'), spool.depthOf('central')]).toEqual([10, 0]);
    expect(spool.head(3, 1e9).map((r) => r.line)).toEqual([0, 1, 2].map((i) => line('alert', i).line));
    spool.close();
  });

  it('opens a spool written before targets were plural: its rows are InfluxDB rows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-'));
    const Database = (await import('better-sqlite3')).default;
    const old = new Database(join(dir, 'spool.db'));
    old.exec('CREATE TABLE spool (seq INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, cls TEXT NOT NULL, bytes INTEGER NOT NULL, line TEXT NOT NULL)');
    old.prepare('INSERT INTO spool (ts, cls, bytes, line) VALUES (?, ?, ?, ?)').run(1, 'alert', 40, 'alerts,device=d1 version=1i 1');
    old.close();
    const { spool } = open(dir);
    expect(spool.head(10, 1e9)).toMatchObject([{ target: 'influx', line: 'alerts,device=d1 version=1i 1' }]);
    expect(spool.depthOf('central')).toBe(0);
    spool.close();
  });

  it('keeps points in order and hands out the head in bounded batches', async () => {
    const { spool } = open(mkdtempSync(join(tmpdir(), 'spool-')));
    await Promise.all(Array.from({ length: 100 }, (_, i) => spool.append([line('telemetry', i)])));
    expect(spool.depth).toBe(100);
    const head = spool.head(30, 1e9);
    expect(head.map((r) => r.line)).toEqual(Array.from({ length: 30 }, (_, i) => line('telemetry', i).line));
    expect(spool.head(1000, head[0]!.bytes * 3)).toHaveLength(3);
    const before = spool.bytes;
    spool.remove(head);
    expect(spool.depth).toBe(70);
    expect(spool.bytes).toBe(before - head.reduce((a, r) => a + r.bytes, 0));
    expect(spool.head(1, 1e9)[0]!.line).toBe(line('telemetry', 30).line);
    spool.close();
  });

  it('survives being abandoned without close (a crash): everything committed is there on reopening', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-'));
    const a = open(dir).spool;
    await a.append([line('alert', 1), line('telemetry', 2)]);
    // no close(): the process "dies" here
    const b = open(dir).spool;
    expect(b.depth).toBe(2);
    expect(b.head(10, 1e9).map((r) => r.cls)).toEqual(['alert', 'telemetry']);
    expect(b.bytes).toBe(a.bytes);
    b.close();
  });

  it('when full: oldest telemetry first, then events and status, alerts last; every drop reported', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-'));
    const one = Buffer.byteLength(line('alert', 0).line) + 24;
    const { spool, drops } = open(dir, { maxBytes: one * 10 });
    await spool.append([line('alert', 0), line('status', 1), line('event', 2)]);
    await spool.append(Array.from({ length: 20 }, (_, i) => line('telemetry', 10 + i)));
    expect(spool.bytes).toBeLessThanOrEqual(one * 10);
    const cls = spool.head(100, 1e9).map((r) => r.cls);
    expect(cls.slice(0, 3)).toEqual(['alert', 'status', 'event']);
    expect(cls.filter((c) => c === 'telemetry').length).toBeLessThan(20);
    expect(spool.head(100, 1e9).at(-1)!.line).toBe(line('telemetry', 29).line); // the newest readings kept
    expect(drops.every(([c, r]) => c === 'telemetry' && r === 'full')).toBe(true);
    // Only alerts left to drop: then they go too, rather than the spool growing without bound.
    const tiny = open(mkdtempSync(join(tmpdir(), 'spool-')), { maxBytes: one * 2 });
    await tiny.spool.append([line('alert', 1), line('alert', 2), line('alert', 3), line('alert', 4)]);
    expect(tiny.spool.bytes).toBeLessThanOrEqual(one * 2);
    expect(tiny.drops[0]![0]).toBe('alert');
    spool.close();
    tiny.spool.close();
  });

  it('drops telemetry, events and status older than maxAge, never alerts', async () => {
    const { spool, drops } = open(mkdtempSync(join(tmpdir(), 'spool-')), { maxAgeMs: 60_000 });
    await spool.append([
      line('alert', 1, clock - 120_000),
      line('telemetry', 2, clock - 120_000),
      line('event', 3, clock - 120_000),
      line('telemetry', 4, clock),
    ]);
    spool.enforceLimits();
    expect(spool.head(10, 1e9).map((r) => r.cls)).toEqual(['alert', 'telemetry']);
    expect(drops).toEqual([
      ['telemetry', 'age', 1],
      ['event', 'age', 1],
    ]);
    spool.close();
  });

  it('sets refused points aside with the reason and takes them off the queue', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-'));
    const { spool } = open(dir);
    await spool.append([line('telemetry', 1), line('telemetry', 2)]);
    spool.deadLetter(spool.head(1, 1e9), 'HTTP 400: bad field');
    expect(spool.depth).toBe(1);
    const dead = JSON.parse(readFileSync(join(dir, 'dead.jsonl'), 'utf8').trim()) as { reason: string; line: string };
    expect(dead).toMatchObject({ reason: 'HTTP 400: bad field', line: line('telemetry', 1).line });
    spool.close();
  });
});
