/**
 * Crowd features of one zone, from the counts of all the cameras that watch it, learned per zone
 * as it runs. Cameras' views overlap (each sees about the whole crowd) and now and then one is
 * blocked and reports 0, so counts are not added up: a camera's count is the mean of its last two
 * reports (a 0 straight after a crowd is a blocked view until the next report confirms it), and the zone's count is the **upper
 * median** of those of the cameras heard from in the last 45 s (three cameras: the middle one; two:
 * the larger). Each report is scored against:
 * - the zone's capacity (density);
 * - the zone's usual week, in its own time zone, per quarter of an hour (672 slots): the mean count,
 *   and the highest count and fastest one-minute rise of that slot in recent weeks (a decayed mean,
 *   and decayed maxima, so one quiet week such as a holiday does not make the next normal week look
 *   unusual; half-life 3 weeks). A slot is committed when it is over, so "usual" is only ever past weeks; nothing is
 *   learned while the detector is on, for at most 20 minutes (a crowd that stays is the new normal
 *   for next week, and still alerts this week);
 * - how fast the count moved: the rise over the last minute (against capacity and against the count
 *   a minute ago), the share lost from the peak of the
 *   last two minutes, and how many of the zone's cameras saw their own count halve.
 */
import { localTime } from '../../devices/zones.ts';

export const crowdFeatureNames = [
  'density',
  'usual_density',
  'usual_peak_density',
  'over_usual_peak',
  'rise_60s',
  'rise_share',
  'usual_max_rise',
  'peak_density_2min',
  'drop_share',
  'cameras_dropped',
  'profile_weeks',
] as const;

export interface CrowdReport {
  ts: number;
  camera: string;
  count: number;
}

export interface CrowdContext {
  /** People the zone holds (admins set it); absent: 1.25 × the highest usual peak learned, at least 50. */
  capacity?: number | undefined;
  /** The zone's IANA time zone (the box's when absent). */
  timezone?: string | undefined;
}

const FRESH_MS = 45_000;
const SERIES_MS = 150_000;
const HALF_LIFE_DAYS = 21;
const SLOTS = 7 * 96;
const MAX_FREEZE_MS = 20 * 60_000;

interface Point {
  ts: number;
  count: number;
}

/** One quarter of an hour as it is being lived (committed to its slot when it is over). */
interface Pending {
  slot: number;
  sum: number;
  n: number;
  max: number;
  maxRise: number;
  ts: number;
}

const freshPending = (slot: number, ts: number): Pending => ({ slot, sum: 0, n: 0, max: 0, maxRise: 0, ts });

export class CrowdFeatures {
  /** Each camera's reports of the last two and a half minutes. */
  readonly #cameras = new Map<string, Point[]>();
  /** The zone's count at each report, last two and a half minutes. */
  readonly #series: Point[] = [];
  /** Per slot of the week (0 = Sunday 00:00-00:15): decayed visits and sum of mean counts; decayed maxima of the peak and the fastest rise. */
  readonly #visits = new Float64Array(SLOTS);
  readonly #mean = new Float64Array(SLOTS);
  readonly #peak = new Float64Array(SLOTS);
  readonly #rise = new Float64Array(SLOTS);
  readonly #learnedAt = new Float64Array(SLOTS);
  #lastMinute = -1;
  #pending: Pending = freshPending(-1, 0);
  #slotCache = { minute: -1, tz: '', slot: 0 };
  /** Set by the stage while the detector is on: an incident is not learned as normal. */
  frozen = false;
  #frozenSince: number | undefined;

  #slot(ts: number, tz: string | undefined): number {
    const minute = Math.floor(ts / 60_000);
    if (this.#slotCache.minute !== minute || this.#slotCache.tz !== (tz ?? '')) {
      const l = localTime(ts, tz);
      this.#slotCache = { minute, tz: tz ?? '', slot: l.weekday * 96 + Math.floor(l.minutes / 15) };
    }
    return this.#slotCache.slot;
  }

  /** The capacity the features use: the zone's, else an estimate from the highest usual peak. */
  capacity(ctx: CrowdContext): number {
    if (ctx.capacity && ctx.capacity > 0) return ctx.capacity;
    let busiest = 0;
    for (let s = 0; s < SLOTS; s++) busiest = Math.max(busiest, this.#peak[s]!);
    return Math.max(50, Math.round(1.25 * busiest));
  }

  /** What the zone usually holds at `ts` (mean, peak, fastest one-minute rise) and how many weeks of it were learned; undefined before a first week. */
  usual(ts: number, ctx: CrowdContext): { count: number; peak: number; rise: number; weeks: number } | undefined {
    const s = this.#slot(ts, ctx.timezone);
    const v = this.#visits[s]!;
    return v >= 0.5 ? { count: this.#mean[s]! / v, peak: this.#peak[s]!, rise: this.#rise[s]!, weeks: v } : undefined;
  }

  /** The zone's count now: upper median of the fresh cameras' counts (each the mean of its last two reports). */
  count(ts: number): { count: number; cameras: number; dropped: number } {
    const latest: number[] = [];
    let dropped = 0;
    for (const [id, pts] of this.#cameras) {
      const last = pts.at(-1);
      if (!last || ts - last.ts > FRESH_MS) {
        if (last && ts - last.ts > SERIES_MS) this.#cameras.delete(id);
        continue;
      }
      const prev = pts.at(-2);
      // The mean of its last two reports; a 0 straight after a crowd is a blocked view until a second report confirms it.
      const seen = !prev || last.ts - prev.ts > FRESH_MS ? last.count : last.count === 0 && prev.count >= 10 ? prev.count : (prev.count + last.count) / 2;
      latest.push(seen);
      const peak = pts.reduce((a, p) => (ts - p.ts <= 120_000 ? Math.max(a, p.count) : a), 0);
      if (peak >= 10 && seen < 0.5 * peak) dropped++;
    }
    latest.sort((a, b) => a - b);
    return { count: latest.length ? latest[Math.floor(latest.length / 2)]! : 0, cameras: latest.length, dropped };
  }

  /** Features of this report against the zone's recent past and learned week; then the zone learns it. */
  push(r: CrowdReport, ctx: CrowdContext): number[] {
    const ts = Math.max(r.ts, this.#series.at(-1)?.ts ?? -Infinity);
    const pts = this.#cameras.get(r.camera) ?? [];
    this.#cameras.set(r.camera, pts);
    pts.push({ ts, count: r.count });
    while (pts.length && ts - pts[0]!.ts > SERIES_MS) pts.shift();
    const now = this.count(ts);
    this.#series.push({ ts, count: now.count });
    while (this.#series.length && ts - this.#series[0]!.ts > SERIES_MS) this.#series.shift();

    const cap = this.capacity(ctx);
    // The count a minute ago: the median of the zone's counts 45-75 s ago (the oldest known when younger).
    const ago = this.#series.filter((p) => ts - p.ts >= 45_000 && ts - p.ts <= 75_000).map((p) => p.count);
    const before = ago.length ? ago.sort((a, b) => a - b)[Math.floor(ago.length / 2)]! : this.#series[0]!.count;
    const rise = (now.count - before) / cap;
    const peak = this.#series.reduce((a, p) => (ts - p.ts <= 120_000 ? Math.max(a, p.count) : a), 0);
    // Not learned yet: the present stands for the usual (nothing is "above usual"); profile_weeks says so.
    const usual = this.usual(ts, ctx);
    const u = usual ?? { count: now.count, peak: now.count, rise: Math.max(0, now.count - before), weeks: 0 };
    const f = [
      now.count / cap,
      u.count / cap,
      u.peak / cap,
      (now.count - u.peak) / cap,
      rise,
      (now.count - before) / Math.max(before, 0.05 * cap),
      u.rise / cap,
      peak / cap,
      peak > 0 ? (peak - now.count) / peak : 0,
      now.cameras ? now.dropped / now.cameras : 0,
      Math.min(4, u.weeks),
    ];
    this.#learn(ts, now.count, rise * cap, ctx);
    return f;
  }

  #learn(ts: number, count: number, rise: number, ctx: CrowdContext): void {
    if (!this.frozen) this.#frozenSince = undefined;
    else this.#frozenSince ??= ts;
    const minute = Math.floor(ts / 60_000);
    if (minute === this.#lastMinute) return;
    this.#lastMinute = minute;
    const slot = this.#slot(ts, ctx.timezone);
    if (slot !== this.#pending.slot) {
      this.#commit();
      this.#pending = freshPending(slot, ts);
    }
    if (this.#frozenSince !== undefined && ts - this.#frozenSince < MAX_FREEZE_MS) return;
    const p = this.#pending;
    p.sum += count;
    p.n += 1;
    p.max = Math.max(p.max, count);
    p.maxRise = Math.max(p.maxRise, rise);
    p.ts = ts;
  }

  /** A quarter of an hour is over: it joins its slot if at least a third of it was seen (and learned). */
  #commit(): void {
    const { slot: s, sum, n, max, maxRise, ts } = this.#pending;
    if (s < 0 || n < 5) return;
    const last = this.#learnedAt[s]!;
    if (last) {
      const k = Math.pow(0.5, Math.max(0, ts - last) / 86_400_000 / HALF_LIFE_DAYS);
      this.#visits[s]! *= k;
      this.#mean[s]! *= k;
      this.#peak[s]! *= k;
      this.#rise[s]! *= k;
    }
    this.#visits[s]! += 1;
    this.#mean[s]! += sum / n;
    // Peaks and rises are held, decaying, rather than averaged: one quiet week (a holiday) does not make a normal week look unusual.
    this.#peak[s] = Math.max(this.#peak[s]!, max);
    this.#rise[s] = Math.max(this.#rise[s]!, maxRise);
    this.#learnedAt[s] = ts;
  }

  snapshot(): CrowdSnapshot {
    return {
      visits: [...this.#visits],
      mean: [...this.#mean],
      peak: [...this.#peak],
      rise: [...this.#rise],
      learnedAt: [...this.#learnedAt],
      lastMinute: this.#lastMinute,
      pending: { ...this.#pending },
      cameras: [...this.#cameras].map(([id, pts]) => [id, pts.map((p) => ({ ...p }))]),
      series: this.#series.map((p) => ({ ...p })),
    };
  }

  static restore(s: CrowdSnapshot): CrowdFeatures {
    const f = new CrowdFeatures();
    f.#visits.set(s.visits);
    f.#mean.set(s.mean);
    f.#peak.set(s.peak);
    f.#rise.set(s.rise);
    f.#learnedAt.set(s.learnedAt);
    f.#lastMinute = s.lastMinute;
    f.#pending = { ...s.pending };
    for (const [id, pts] of s.cameras) f.#cameras.set(id, pts);
    f.#series.push(...s.series);
    return f;
  }
}

export interface CrowdSnapshot {
  visits: number[];
  mean: number[];
  peak: number[];
  rise: number[];
  learnedAt: number[];
  lastMinute: number;
  pending: Pending;
  cameras: [string, Point[]][];
  series: Point[];
}

/** Whether the finding is people fleeing (a drop) rather than a surge. */
export const isDispersal = (f: number[]) => f[8]! >= 0.4 && f[7]! >= 0.2 && f[8]! * f[7]! > Math.max(0, f[4]!);

const hhmm = (minutes: number) => `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;

/**
 * Words for an operator: "gate-3: 412 people, 94 % of capacity, +180 in 60 s; usual at 08:10 on
 * Mondays: 150", and which alert the finding belongs to.
 */
export function explainCrowd(
  zone: string,
  f: number[],
  capacity: number,
  ts: number,
  timezone: string | undefined,
  capacityKnown: boolean,
): { reason: string; type: 'crowd_surge' | 'crowd_dispersal' } {
  const [density, usualDensity, usualPeak, , rise, , , peakDensity, drop, dropped, weeks] = f as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const people = Math.round(density * capacity);
  const pct = (x: number) => `${Math.round(100 * x)} %`;
  const local = localTime(ts, timezone);
  const day = ['Sundays', 'Mondays', 'Tuesdays', 'Wednesdays', 'Thursdays', 'Fridays', 'Saturdays'][local.weekday];
  const usual =
    weeks > 0
      ? `usual at ${hhmm(local.minutes)} on ${day}: ${Math.round(usualDensity * capacity)} (at most ${Math.round(usualPeak * capacity)})`
      : 'no usual count learned yet for this time of the week';
  const cap = capacityKnown ? `${pct(density)} of capacity` : `${pct(density)} of an estimated capacity of ${capacity} (set the zone's capacity)`;
  if (isDispersal(f)) {
    const from = Math.round(peakDensity * capacity);
    return {
      type: 'crowd_dispersal',
      reason: `${zone}: ${people} people, down from ${from} within 2 min (${pct(drop)} gone, ${pct(dropped)} of its cameras saw it); ${usual}`,
    };
  }
  const delta = Math.round(rise * capacity);
  return { type: 'crowd_surge', reason: `${zone}: ${people} people, ${cap}, ${delta >= 0 ? '+' : ''}${delta} in 60 s; ${usual}` };
}
