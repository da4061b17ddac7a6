/**
 * Fall data: UP-Fall trials (belt and neck accelerometers, labelled before/after the fall's onset)
 * and ASSIST-IoT stairs recordings (belt tag, no falls), as timed accelerometer samples in g.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { Rng } from '../../simulators/random.ts';
import type { ImuSample } from '../../edge/features/fall.ts';

export interface FallTrial {
  round: string;
  activity: string;
  /** The same trial seen by the belt and by the neck sensor (a body camera sits between them). */
  views: { belt: ImuSample[]; neck: ImuSample[] };
  /** Per sample: 0 before the fall, 1 from its onset, null where the source left it blank. */
  labels: (0 | 1 | null)[];
}

/** UP-Fall samples are ~18 per second; the file has no timestamps. */
const UPFALL_MS = 1000 / 18;

export function loadUpFall(path: string): FallTrial[] {
  const records = parse(readFileSync(path), { columns: true, skip_empty_lines: true, trim: true }) as Record<string, string>[];
  const trials: FallTrial[] = [];
  let cur: FallTrial | undefined;
  let prevLabel: 0 | 1 | null = null;
  let t = 0;
  for (const r of records) {
    for (const c of ['BeltACCX', 'NeckACCX', 'LABEL', 'round', 'Activity']) if (!(c in r)) throw new Error(`${path}: missing column ${c}`);
    const label: 0 | 1 | null = r['LABEL'] === '' ? null : Number(r['LABEL']) ? 1 : 0;
    const effective: 0 | 1 | null = label ?? prevLabel;
    const boundary = !cur || cur.round !== r['round'] || cur.activity !== r['Activity'] || (prevLabel === 1 && effective === 0);
    if (boundary) {
      cur = { round: r['round']!, activity: r['Activity']!, views: { belt: [], neck: [] }, labels: [] };
      trials.push(cur);
      t += 600_000; // trials are separate recordings: ten minutes apart on the synthetic clock
    }
    t += UPFALL_MS;
    const v = (p: string) => [Number(r[`${p}ACCX`]), Number(r[`${p}ACCY`]), Number(r[`${p}ACCZ`])];
    cur!.views.belt.push({ ts: t, a: v('Belt') });
    cur!.views.neck.push({ ts: t, a: v('Neck') });
    cur!.labels.push(label);
    prevLabel = effective;
  }
  return trials;
}

export interface Recording {
  name: string;
  samples: ImuSample[];
}

/** ASSIST-IoT `|`-separated file: the belt tag's samples, one recording per participant and gap-free stretch. */
export function loadAssist(path: string): Recording[] {
  const records = parse(readFileSync(path), { columns: true, delimiter: '|', skip_empty_lines: true, trim: true }) as Record<string, string>[];
  const out: Recording[] = [];
  let cur: Recording | undefined;
  let last = -Infinity;
  for (const r of records) {
    if (r['SOURCE'] !== 'TAG') continue;
    const ts = Date.parse(r['TIMESTAMP']!.replace(' ', 'T') + 'Z');
    if (!cur || ts - last > 2000 || ts < last) {
      cur = { name: `${path.split('/').pop()}#${out.length + 1}`, samples: [] };
      out.push(cur);
    }
    cur.samples.push({ ts, a: [Number(r['X']), Number(r['Y']), Number(r['Z'])] });
    last = ts;
  }
  return out;
}

/**
 * Deliberately lying down (or sitting, or bending to tie a shoe): the body tilts with no impact and
 * no free fall. Made from a real standing stretch, rotated; labelled normal, so the model cannot
 * learn "horizontal = fallen".
 */
export function syntheticLieDown(standing: ImuSample[], rng: Rng): ImuSample[] {
  const angle = (rng.pick([20, 45, 70, 85, 90]) * Math.PI) / 180;
  const rampS = rng.range(1.5, 4);
  const out: ImuSample[] = [];
  const t0 = standing[0]!.ts;
  const dt = 50;
  const n = Math.round(40_000 / dt);
  for (let i = 0; i < n; i++) {
    const s = standing[i % standing.length]!;
    const t = (i * dt) / 1000;
    const th = t < 5 ? 0 : Math.min(1, (t - 5) / rampS) * angle;
    const wobble = t >= 5 && t < 5 + rampS ? rng.gauss(0, 0.06) : rng.gauss(0, 0.01);
    const [x, y, z] = s.a as [number, number, number];
    // Rotate about the x axis by th: gravity moves from y/z into the other.
    out.push({ ts: t0 + i * dt, a: [x + wobble, y * Math.cos(th) - z * Math.sin(th), y * Math.sin(th) + z * Math.cos(th) + wobble] });
  }
  return out;
}

/**
 * The trial continued with the wearer staying down for `seconds`: UP-Fall trials end a few seconds
 * after the fall, too soon for the gateway's 10-s rule. The continuation replays the trial's last
 * second (the body already on the floor) with a little sensor noise and no movement — an unconscious
 * officer. Semi-synthetic, and stated so wherever it is scored.
 */
export function staysDown(samples: ImuSample[], seconds: number, rng: Rng): ImuSample[] {
  const last = samples.at(-1)!.ts;
  const tail = samples.filter((s) => s.ts > last - 1000);
  const dt = tail.length > 1 ? (last - tail[0]!.ts) / (tail.length - 1) : 50;
  const out = [...samples];
  const n = Math.round((seconds * 1000) / dt);
  for (let i = 1; i <= n; i++) {
    const [x, y, z] = tail[i % tail.length]!.a as [number, number, number];
    out.push({ ts: last + i * dt, a: [x + rng.gauss(0, 0.01), y + rng.gauss(0, 0.01), z + rng.gauss(0, 0.01)] });
  }
  return out;
}
