/**
 * Smoke data: the public sessions (models/data/smoke, 1 reading per second) and fire
 * signatures laid over real normal-operation backgrounds.
 *
 * Why synthetic fires on real backgrounds: in the development sessions the rows labelled
 * `fire_alarm = 1` (session A) carry no physical fire signature (temperature falling from 20 to
 * −22 °C, eCO2 at the sensor's 400 ppm floor), while the normal session D swings to 60 °C and
 * 39k ppm. Trained on those labels a model learns "cold = fire". So the negatives are the real
 * normal readings (including D's trap) and the positives are fire developments of the shape
 * the standard test fires have (t² growth; flaming: heat + combustion gases + drying;
 * smouldering: gases first, little heat) added to real backgrounds. The dataset labels are still
 * scored, and reported as what they are.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { Rng } from '../../simulators/random.ts';
import type { SmokeReading } from '../../edge/features/smoke.ts';

export interface SmokeRow extends SmokeReading {
  fire: 0 | 1;
  session: string;
}

/** Reads a CSV with columns temperature_c, humidity_pct, eco2_ppm, fire_alarm and optionally row, session. */
export function loadSmokeCsv(path: string): Map<string, SmokeRow[]> {
  const records = parse(readFileSync(path), { columns: true, skip_empty_lines: true, trim: true }) as Record<string, string>[];
  const sessions = new Map<string, SmokeRow[]>();
  records.forEach((r, i) => {
    for (const c of ['temperature_c', 'humidity_pct', 'eco2_ppm', 'fire_alarm']) if (!(c in r)) throw new Error(`${path}: missing column ${c}`);
    const session = r['session'] || 'all';
    const row = r['row'] !== undefined && r['row'] !== '' ? Number(r['row']) : i;
    const list = sessions.get(session) ?? [];
    sessions.set(session, list);
    list.push({
      ts: row * 1000,
      temperature_c: Number(r['temperature_c']),
      humidity_pct: Number(r['humidity_pct']),
      eco2_ppm: Number(r['eco2_ppm']),
      fire: Number(r['fire_alarm']) ? 1 : 0,
      session,
    });
  });
  return sessions;
}

export type FireKind = 'flaming' | 'smouldering';

export interface SyntheticFire {
  /** Index from which the fire is above sensor noise: rows between onset and here are left out of training. */
  detectable: number;
  rows: SmokeRow[];
  /** Index of the first fire row (onset) in `rows`. */
  onset: number;
  kind: FireKind;
}

/**
 * A fire laid over a stretch of real normal readings: `lead` seconds of the background as is,
 * then t² growth to full development over `growth` seconds, held for two minutes.
 */
export function syntheticFire(background: SmokeRow[], rng: Rng): SyntheticFire | undefined {
  const kind: FireKind = rng.chance(0.6) ? 'flaming' : 'smouldering';
  const growth = kind === 'flaming' ? rng.range(60, 300) : rng.range(300, 900);
  const lead = Math.round(rng.range(120, 600));
  const len = lead + Math.round(growth) + 120;
  if (background.length < len + 1) return undefined;
  const start = rng.int(0, background.length - len - 1);
  const dT = kind === 'flaming' ? rng.range(8, 60) : rng.range(0.5, 6);
  const co2x = kind === 'flaming' ? rng.range(3, 40) : rng.range(1.8, 10);
  const dH = kind === 'flaming' ? -rng.range(3, 25) : rng.range(-4, 4);
  const rows = background.slice(start, start + len).map((r, i) => {
    const t = i - lead;
    const f = t < 0 ? 0 : Math.min(1, (t / growth) ** 2);
    return {
      ...r,
      temperature_c: r.temperature_c + dT * f,
      humidity_pct: Math.min(100, Math.max(0, r.humidity_pct + dH * f)),
      eco2_ppm: r.eco2_ppm * (1 + (co2x - 1) * f),
      fire: (t >= 0 ? 1 : 0) as 0 | 1,
    };
  });
  return { rows, onset: lead, detectable: lead + Math.round(0.25 * growth), kind };
}

/**
 * Nuisances a fire detector must tolerate (the EN 54 / UL 268 nuisance tests: heating, steam,
 * people breathing, cooking fumes), laid over real backgrounds and labelled normal: heat without
 * combustion gases, gases without heat, humidity without either.
 */
export function syntheticNuisance(background: SmokeRow[], rng: Rng): SmokeRow[] | undefined {
  const kind = rng.pick(['heating', 'occupancy', 'steam'] as const);
  const ramp = kind === 'steam' ? rng.range(60, 300) : rng.range(300, 1800);
  const len = Math.round(ramp) + 600;
  if (background.length < len + 1) return undefined;
  const start = rng.int(0, background.length - len - 1);
  const dT = kind === 'heating' ? rng.range(5, 35) : kind === 'steam' ? rng.range(0, 5) : rng.range(0, 2);
  const co2x = kind === 'occupancy' ? rng.range(1.5, 4) : 1;
  const dH = kind === 'heating' ? -dT * rng.range(1, 2.5) : kind === 'steam' ? rng.range(10, 40) : rng.range(0, 5);
  return background.slice(start, start + len).map((r, i) => {
    const f = Math.min(1, i / ramp);
    return {
      ...r,
      temperature_c: r.temperature_c + dT * f,
      humidity_pct: Math.min(100, Math.max(0, r.humidity_pct + dH * f)),
      eco2_ppm: r.eco2_ppm * (1 + (co2x - 1) * f),
    };
  });
}

/** Normal stretches of a session (rows labelled 0), split where the label changes. */
export function normalStretches(rows: SmokeRow[]): SmokeRow[][] {
  const out: SmokeRow[][] = [];
  let cur: SmokeRow[] = [];
  for (const r of rows) {
    if (r.fire) {
      if (cur.length) out.push(cur);
      cur = [];
    } else cur.push(r);
  }
  if (cur.length) out.push(cur);
  return out;
}

export function syntheticNuisances(sessionRows: SmokeRow[], n: number, seed: string): SmokeRow[][] {
  const rng = new Rng(seed);
  const stretches = normalStretches(sessionRows).filter((s) => s.length > 1000);
  const out: SmokeRow[][] = [];
  for (let i = 0; i < n * 3 && out.length < n && stretches.length; i++) {
    const x = syntheticNuisance(rng.pick(stretches), rng);
    if (x) out.push(x);
  }
  return out;
}

export function syntheticFires(sessionRows: SmokeRow[], n: number, seed: string): SyntheticFire[] {
  const rng = new Rng(seed);
  const stretches = normalStretches(sessionRows).filter((s) => s.length > 1000);
  const out: SyntheticFire[] = [];
  for (let i = 0; i < n * 3 && out.length < n && stretches.length; i++) {
    const f = syntheticFire(rng.pick(stretches), rng);
    if (f) out.push(f);
  }
  return out;
}
