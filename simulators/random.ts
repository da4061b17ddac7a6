/** Seeded randomness so a fleet, its incidents and its frames are reproducible from one seed. */
export class Rng {
  #s: number;
  constructor(seed: number | string) {
    let h = 2166136261;
    for (const c of String(seed)) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
    this.#s = h >>> 0;
  }
  /** mulberry32 */
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  int(lo: number, hi: number): number {
    return Math.floor(this.range(lo, hi + 1));
  }
  /** Standard normal (Box-Muller). */
  gauss(mean = 0, sd = 1): number {
    const u = Math.max(this.next(), 1e-12);
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** Hour of day as a fraction 0..24 in local time. */
export const hourOf = (ms: number) => {
  const d = new Date(ms);
  return d.getHours() + d.getMinutes() / 60;
};

/** Daily cycle in -1..1 peaking at `peakHour`. */
export const daily = (ms: number, peakHour: number) => Math.cos(((hourOf(ms) - peakHour) / 24) * 2 * Math.PI);

/** Rush-hour occupancy 0..1 of a transport hub: peaks at 08:00 and 18:00, quiet at night. */
export const occupancy = (ms: number) => {
  const h = hourOf(ms);
  const bump = (c: number, w: number) => Math.exp(-((h - c) ** 2) / (2 * w * w));
  return Math.min(1, 0.05 + 0.9 * bump(8, 1.2) + 0.8 * bump(18, 1.5) + 0.35 * bump(13, 3));
};

export const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;
