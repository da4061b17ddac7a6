/**
 * Smoke-alarm features: how the air is changing, never how it is. Absolute levels are left
 * out on purpose: the public data shows normal rooms at 60 °C / 39k ppm eCO2 and labelled
 * fires at −20 °C, so a model that reads levels learns the room, not the fire. Changes over
 * the last minute and departures from a slow per-device baseline (τ = 30 min) carry the
 * physics of a developing fire (heat, combustion gases, drying air) at any reporting rate.
 */
export const smokeFeatureNames = [
  'temp_rise_60s_c',
  'temp_above_base_c',
  'humidity_change_60s',
  'humidity_below_base',
  'eco2_rise_60s_ln',
  'eco2_above_base_ln',
] as const;

export interface SmokeReading {
  /** ms */
  ts: number;
  temperature_c: number;
  humidity_pct: number;
  eco2_ppm: number;
}

const BASE_TAU_S = 1800;
const LOOKBACK_S = 60;
const co2 = (ppm: number) => Math.log(Math.max(ppm, 350));

export class SmokeFeatures {
  readonly #hist: SmokeReading[] = [];
  #base?: { t: number; h: number; c: number; ts: number };

  /** Adds a reading and returns the feature vector for the window ending at it. */
  push(r: SmokeReading): number[] {
    const h = this.#hist;
    if (h.length && r.ts < h.at(-1)!.ts) h.length = 0; // clock went back: start the window again (equal stamps, a burst, are kept)
    h.push(r);
    while (h.length > 2 && r.ts - h[1]!.ts >= LOOKBACK_S * 1000) h.shift();
    const past = h[0]!;
    const b = (this.#base ??= { t: r.temperature_c, h: r.humidity_pct, c: co2(r.eco2_ppm), ts: r.ts });
    const f = [
      r.temperature_c - past.temperature_c,
      r.temperature_c - b.t,
      r.humidity_pct - past.humidity_pct,
      b.h - r.humidity_pct,
      co2(r.eco2_ppm) - co2(past.eco2_ppm),
      co2(r.eco2_ppm) - b.c,
    ];
    // The baseline follows the room slowly, and not at all while the readings look like a fire
    // (otherwise a slow smouldering fire would become its own baseline).
    const dt = Math.max(0, (r.ts - b.ts) / 1000);
    b.ts = r.ts;
    if (!this.frozen) {
      const a = 1 - Math.exp(-dt / BASE_TAU_S);
      b.t += a * (r.temperature_c - b.t);
      b.h += a * (r.humidity_pct - b.h);
      b.c += a * (co2(r.eco2_ppm) - b.c);
    }
    return f;
  }

  /** Set by the detector while its score is above the clear threshold. */
  frozen = false;

  /** What a restart must not forget: the last minute, the slow baseline, and whether it is frozen. */
  snapshot(): SmokeSnapshot {
    return { hist: [...this.#hist], base: this.#base && { ...this.#base }, frozen: this.frozen };
  }

  static restore(s: SmokeSnapshot): SmokeFeatures {
    const f = new SmokeFeatures();
    f.#hist.push(...s.hist);
    f.#base = s.base && { ...s.base };
    f.frozen = s.frozen;
    return f;
  }
}

export interface SmokeSnapshot {
  hist: SmokeReading[];
  base?: { t: number; h: number; c: number; ts: number };
  frozen: boolean;
}

/** Words for an operator, from the same numbers the model saw. */
export function explainSmoke(f: number[]): string {
  const parts: string[] = [];
  const [dT60, dTb, dH60, dHb, dC60, dCb] = f as [number, number, number, number, number, number];
  if (Math.abs(dT60) >= 0.5 || Math.abs(dTb) >= 1) parts.push(`temperature ${sign(dT60)} °C in 60 s (${sign(dTb)} °C over baseline)`);
  if (dC60 >= 0.1 || dCb >= 0.2) parts.push(`eCO2 ${Math.exp(dCb).toFixed(1)}× baseline (${Math.exp(dC60).toFixed(1)}× in 60 s)`);
  if (Math.abs(dH60) >= 2 || Math.abs(dHb) >= 3) parts.push(`humidity ${sign(dH60)} %RH in 60 s`);
  return parts.length ? parts.join(', ') : 'readings near baseline';
}

const sign = (v: number) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(1)}`;
