/**
 * The crowd in one zone of a simulated hub, minute by minute: weekday rush hours (08:10 and 18:00),
 * a quieter midday, near-empty nights, weekends and holidays with a broad afternoon, trains pulsing
 * people through gates, and recurring events (a concert every Friday evening at the plaza: large,
 * and normal for that evening). Labelled incidents on top:
 * - `crowd_surge`: a late train unloads into a gate: the count climbs to ~95 % of capacity within one
 *   to two minutes, holds, then eases;
 * - `crowd_dispersal`: people flee a dense zone: the count falls to a tenth within half a minute, on
 *   every camera of the zone.
 * Cameras watching the zone report what they see of it (overlapping views: each sees about the whole
 * crowd, ±10 %, and now and then one is blocked and reports 0). Times are read in the zone's own time
 * zone, so a run means the same on any machine.
 */
import { localTime } from '../devices/zones.ts';
import { Rng } from './random.ts';

export interface CrowdEvent {
  /** 0 Sunday … 6 Saturday, in the zone's time zone. */
  weekday: number;
  /** Local minutes since midnight: doors open, the crowd is largest, it has gone. */
  from: number;
  peak: number;
  to: number;
  /** Extra people at the peak, as a share of capacity. */
  extra: number;
}

export interface CrowdZoneSpec {
  site: string;
  zone: string;
  type: 'gate' | 'concourse' | 'plaza' | 'platform_edge';
  capacity: number;
  timezone: string;
  /** Local dates ("2026-10-01") run as a Sunday. */
  holidays?: string[];
  events?: CrowdEvent[];
}

export type CrowdIncident = 'crowd_surge' | 'crowd_dispersal';

/** Share of capacity at a local time of an ordinary weekday, weekend day, by zone type. */
function baseline(type: CrowdZoneSpec['type'], minutes: number, weekend: boolean): number {
  const h = minutes / 60;
  const bump = (c: number, w: number) => Math.exp(-((h - c) ** 2) / (2 * w * w));
  const night = 0.01;
  if (weekend) return night + 0.3 * bump(14, 3) + 0.08 * bump(20, 2);
  const rush = 0.42 * bump(8 + 10 / 60, 0.9) + 0.36 * bump(18, 1.1);
  const midday = 0.15 * bump(13, 2.5);
  const scale = type === 'gate' ? 1.1 : type === 'plaza' ? 0.6 : type === 'platform_edge' ? 0.5 : 1;
  return night + scale * (rush + midday);
}

/** How long each incident shapes the counts, seconds (a surge: rise, hold, easing; a dispersal: flight and return). */
export const incidentS: Record<CrowdIncident, number> = { crowd_surge: 990, crowd_dispersal: 1230 };

export class CrowdZone {
  readonly spec: CrowdZoneSpec;
  readonly #seed: string;
  /** Incidents in progress: kind, start (ms) and the count when it started. */
  readonly #incidents: { type: CrowdIncident; start: number; from: number; scale: number }[] = [];

  constructor(spec: CrowdZoneSpec, seed: number | string = 1) {
    this.spec = spec;
    this.#seed = `${seed}:${spec.site}/${spec.zone}`;
  }

  /** The zone's normal count by minute: it is the same all minute long, and asked for by every camera. */
  readonly #normal = new Map<number, number>();

  /** Noise that is the same for the same minute whoever asks (several cameras, a replay). */
  #noise(ts: number, salt: string, sd: number): number {
    return new Rng(`${this.#seed}:${salt}:${Math.floor(ts / 60_000)}`).gauss(0, sd);
  }

  /**
   * The crowd's own drift: a smooth wander (knots every 10 minutes, joined by straight lines) and a
   * little minute-to-minute jitter. Real counts are correlated from one minute to the next; white
   * noise of the same size would move hundreds of people in a minute in a full plaza.
   */
  #drift(ts: number): number {
    const knot = (k: number) => new Rng(`${this.#seed}:d:${k}`).gauss(0, 0.06);
    const x = ts / 600_000;
    const k = Math.floor(x);
    return knot(k) + (knot(k + 1) - knot(k)) * (x - k) + this.#noise(ts, 'n', 0.015);
  }

  /** The people actually in the zone at `ts` (without incidents): what its profile says, with noise. */
  normal(ts: number): number {
    const minute = Math.floor(ts / 60_000);
    let n = this.#normal.get(minute);
    if (n === undefined) {
      if (this.#normal.size > 4096) this.#normal.clear();
      this.#normal.set(minute, (n = this.#normalAt(minute * 60_000)));
    }
    return n;
  }

  #normalAt(ts: number): number {
    const { minutes, weekday, date } = localTime(ts, this.spec.timezone);
    const holiday = this.spec.holidays?.includes(date) ?? false;
    const weekend = holiday || weekday === 0 || weekday === 6;
    let share = baseline(this.spec.type, minutes, weekend);
    if (this.spec.type === 'gate' && !weekend) {
      // A train every 5 minutes: a two-minute pulse through the gate.
      const inCycle = minutes % 5;
      share *= inCycle < 2 ? 1.25 : 0.9;
    }
    for (const e of this.spec.events ?? []) {
      if (e.weekday !== weekday || minutes < e.from || minutes >= e.to) continue;
      share += e.extra * (minutes <= e.peak ? (minutes - e.from) / Math.max(1, e.peak - e.from) : 1 - (minutes - e.peak) / Math.max(1, e.to - e.peak));
    }
    return Math.max(0, Math.round(this.spec.capacity * share * (1 + this.#drift(ts))));
  }

  /** The people in the zone at `ts`, incidents included. */
  count(ts: number): number {
    let n = this.normal(ts);
    for (const i of this.#incidents) {
      const t = ((ts - i.start) / 1000) * i.scale;
      if (t < 0 || t >= incidentS[i.type]) continue;
      if (i.type === 'crowd_surge') {
        // Up to 95 % of capacity over 90 s, held 5 min, eased over 10 min.
        const top = 0.95 * this.spec.capacity;
        const w = t < 90 ? t / 90 : t < 390 ? 1 : Math.max(0, 1 - (t - 390) / 600);
        n = Math.max(n, Math.round(i.from + (top - i.from) * w));
      } else {
        // Down to a tenth within 30 s, coming back over 20 minutes.
        const low = 0.1 * i.from;
        const w = t < 30 ? t / 30 : Math.max(0, 1 - (t - 30) / 1200);
        n = Math.min(n, Math.round(i.from + (low - i.from) * w));
      }
    }
    return n;
  }

  /**
   * Start an incident at `ts`; it shapes the counts from then on (lasting ~16 min for a surge, ~20 for a
   * dispersal), `scale` times faster than `ts` runs (a demo on the real clock at ×20).
   */
  start(type: CrowdIncident, ts: number, scale = 1): void {
    const from = this.count(ts);
    // Incidents long over shape nothing any more (kept a day, for a replay of the recent past).
    for (let k = this.#incidents.length - 1; k >= 0; k--) if (ts - this.#incidents[k]!.start > 86_400_000) this.#incidents.splice(k, 1);
    this.#incidents.push({ type, start: ts, from, scale });
  }

  /** What camera `i` of the zone reports at `ts`: the crowd ±10 %, or 0 when something blocks its view (1 report in 200). */
  reported(ts: number, camera: number): number {
    const r = new Rng(`${this.#seed}:cam${camera}:${Math.floor(ts / 15_000)}`);
    if (r.chance(0.005)) return 0;
    return Math.max(0, Math.round(this.count(ts) * (1 + r.gauss(0, 0.05)) * r.range(0.92, 1.08)));
  }
}

/** The zones of simulated sites, shared by their cameras. */
const zones = new Map<string, CrowdZone>();
export function crowdZone(spec: CrowdZoneSpec, seed: number | string = 1): CrowdZone {
  const key = `${seed}:${spec.site}/${spec.zone}`;
  let z = zones.get(key);
  if (!z) zones.set(key, (z = new CrowdZone(spec, seed)));
  return z;
}
