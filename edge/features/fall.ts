/**
 * Man-down features from a worn IMU's accelerometer (g), so the same model runs on any mounting,
 * any rate and devices without a gyroscope:
 * - the largest impact and the deepest free fall in the last 2 minutes,
 * - the posture now: tilt from the wearer's own upright (learned while they walk), and
 *   how much the body moves (sd of |a| over the last second).
 * Samples are first averaged into 50 ms bins, so a 125 Hz tag and an 18 Hz phone see the same peaks.
 */
export const fallFeatureNames = ['impact_g_120s', 'freefall_g_120s', 'tilt_deg', 'activity_sd_g', 'mean_g'] as const;

export interface ImuSample {
  /** ms */
  ts: number;
  a: readonly number[];
}

const BIN_MS = 50;
const LONG_S = 120;
const norm = (v: readonly number[]) => Math.hypot(v[0] ?? 0, v[1] ?? 0, v[2] ?? 0);

interface Bin {
  key: number;
  n: number;
  sum: [number, number, number];
}

export class FallFeatures {
  #bin?: Bin;
  /** Resampled samples of the last second. */
  readonly #recent: { ts: number; a: [number, number, number]; mag: number }[] = [];
  /** Per-second extremes of the last two minutes. */
  readonly #seconds: { s: number; max: number; min: number }[] = [];
  #ref?: [number, number, number];
  #refTs = 0;

  /** Adds samples (in time order) and returns the features at the last of them. */
  push(samples: readonly ImuSample[]): number[] {
    for (const s of samples) this.#add(s);
    return this.features();
  }

  /** Samples of one IMU window ending at `endTs`, spaced by its rate. */
  static windowSamples(endTs: number, rateHz: number, accel: readonly (readonly number[])[]): ImuSample[] {
    return accel.map((a, i) => ({ ts: endTs - ((accel.length - 1 - i) * 1000) / rateHz, a }));
  }

  #add(s: ImuSample): void {
    const key = Math.floor(s.ts / BIN_MS);
    if (this.#bin && key < this.#bin.key) this.reset(); // clock went back
    if (this.#bin && key !== this.#bin.key) this.#close();
    const b = (this.#bin ??= { key, n: 0, sum: [0, 0, 0] });
    b.n++;
    for (let i = 0; i < 3; i++) b.sum[i]! += s.a[i] ?? 0;
  }

  #close(): void {
    const b = this.#bin!;
    this.#bin = undefined;
    const a = b.sum.map((v) => v / b.n) as [number, number, number];
    const ts = b.key * BIN_MS;
    const mag = norm(a);
    this.#recent.push({ ts, a, mag });
    while (this.#recent.length && ts - this.#recent[0]!.ts >= 1000) this.#recent.shift();
    const sec = Math.floor(ts / 1000);
    const last = this.#seconds.at(-1);
    if (last?.s === sec) ((last.max = Math.max(last.max, mag)), (last.min = Math.min(last.min, mag)));
    else this.#seconds.push({ s: sec, max: mag, min: mag });
    while (this.#seconds.length && sec - this.#seconds[0]!.s >= LONG_S) this.#seconds.shift();
  }

  /** The wearer's learned upright and the last two minutes (a restart during a fall keeps the impact in view). */
  snapshot(): FallSnapshot {
    return {
      bin: this.#bin && { ...this.#bin, sum: [...this.#bin.sum] },
      recent: this.#recent.map((x) => ({ ...x })),
      seconds: this.#seconds.map((x) => ({ ...x })),
      ref: this.#ref,
      refTs: this.#refTs,
    };
  }

  static restore(s: FallSnapshot): FallFeatures {
    const f = new FallFeatures();
    f.#bin = s.bin;
    f.#recent.push(...s.recent);
    f.#seconds.push(...s.seconds);
    f.#ref = s.ref;
    f.#refTs = s.refTs;
    return f;
  }

  reset(): void {
    this.#bin = undefined;
    this.#recent.length = 0;
    this.#seconds.length = 0;
  }

  features(): number[] {
    if (this.#bin) this.#close();
    const r = this.#recent;
    if (!r.length) return [1, 1, 0, 0, 1];
    const mean: [number, number, number] = [0, 0, 0];
    for (const x of r) for (let i = 0; i < 3; i++) mean[i]! += x.a[i]! / r.length;
    const mMag = r.reduce((s, x) => s + x.mag, 0) / r.length;
    const sd = Math.sqrt(r.reduce((s, x) => s + (x.mag - mMag) ** 2, 0) / r.length);
    const g = norm(mean) || 1;
    const dir: [number, number, number] = [mean[0] / g, mean[1] / g, mean[2] / g];
    const ts = r.at(-1)!.ts;
    this.#ref ??= dir;
    const ref = this.#ref;
    const tilt = (Math.acos(Math.max(-1, Math.min(1, dir[0] * ref[0] + dir[1] * ref[1] + dir[2] * ref[2]))) * 180) / Math.PI;
    // The wearer's upright follows gravity while they move about near it (walking, standing up):
    // a fallen, still body never becomes the new upright.
    const dt = Math.max(0, Math.min(10, (ts - this.#refTs) / 1000));
    this.#refTs = ts;
    if (tilt < 35 && sd > 0.02 && sd < 0.6) {
      const a = 1 - Math.exp(-dt / 30);
      const next = ref.map((v, i) => v + a * (dir[i]! - v));
      const n = norm(next) || 1;
      this.#ref = next.map((v) => v / n) as [number, number, number];
    }
    let max = 0;
    let min = Infinity;
    for (const s of this.#seconds) ((max = Math.max(max, s.max)), (min = Math.min(min, s.min)));
    return [max, min, tilt, sd, mMag];
  }
}

/** Words for an operator. */
export function explainFall(f: number[], stillS?: number): string {
  const [impact, freefall, tilt, sd] = f as [number, number, number, number];
  const parts = [`impact ${impact.toFixed(1)} g`];
  if (freefall < 0.6) parts.push(`free fall to ${freefall.toFixed(2)} g`);
  parts.push(`body ${Math.round(tilt)}° from upright`, sd < 0.05 ? 'not moving' : `moving (${sd.toFixed(2)} g)`);
  if (stillS !== undefined) parts.push(`for ${Math.round(stillS)} s`);
  return parts.join(', ');
}

export interface FallSnapshot {
  bin?: { key: number; n: number; sum: [number, number, number] };
  recent: { ts: number; a: [number, number, number]; mag: number }[];
  seconds: { s: number; max: number; min: number }[];
  ref?: [number, number, number];
  refTs: number;
}
