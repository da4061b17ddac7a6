/**
 * Simulated crowds of whole sites, with labelled incidents, for the crowd-zone detector. There is no
 * public per-zone crowd-count series of a transport hub with labelled crushes or panics, so the
 * crowds come from the same simulator the demo and the tests run (simulators/crowd.ts): weekday
 * rushes, nights, weekends and a weekday holiday, trains pulsing through gates, a large weekly event
 * at the plaza (normal for that evening). Each site has a gate (3 cameras), a concourse (2) and a
 * plaza (3), in its own time zone; cameras report every 15 s, a third of a period apart, and every
 * report is turned into features exactly as the gateway does (edge/features/crowd.ts), the zone
 * learning its week as it goes.
 *
 * Incidents, from day 2 on (so some fall in the weeks a zone is still learning):
 * - `crowd_surge` (about one every two days per zone, 06:00-23:00 local, into a zone at most 55 %
 *   full: a late train into a full gate adds little a count can tell): labelled 1 from 45 s
 *   after it starts until the end of its 5-minute hold; the first 45 s and the easing are left out;
 * - `crowd_dispersal` (about one every two and a half days, only from a zone at least a quarter
 *   full): labelled 1 from 10 s to 2 min after it starts; the recovery is left out.
 * While an incident runs the zone does not learn it as normal (at runtime: while the detector is on).
 */
import { localTime } from '../../devices/zones.ts';
import { CrowdFeatures, crowdFeatureNames } from '../../edge/features/crowd.ts';
import { CrowdZone, type CrowdEvent, type CrowdIncident, type CrowdZoneSpec } from '../../simulators/crowd.ts';
import { Rng } from '../../simulators/random.ts';

export const FEATURES = crowdFeatureNames.length;
export const DAY = 86_400_000;
/** Monday 7 September 2026, 00:00 UTC: five weeks cross the end of summer time in Europe and America. */
export const START = Date.UTC(2026, 8, 7);

export interface SiteSpec {
  site: string;
  timezone: string;
  /** A weekday holiday, local date. */
  holiday: string;
  /** The plaza's weekly event. */
  event: CrowdEvent;
}

export const periods = ['rush', 'event', 'other'] as const;
export type Period = (typeof periods)[number];

export interface Incident {
  type: CrowdIncident;
  start: number;
}

/** One zone's reports over the whole run, features stored flat. */
export interface ZoneRun {
  site: string;
  zone: string;
  spec: CrowdZoneSpec;
  cameras: number;
  ts: Float64Array;
  features: Float32Array;
  /** 1 incident, 0 normal, 255 left out (the first seconds and the end of an incident). */
  label: Uint8Array;
  /** Index into `periods` of each report (local rush hour, the event evening, other). */
  period: Uint8Array;
  incidents: Incident[];
  days: number;
}

export const row = (z: ZoneRun, i: number) => Array.from(z.features.subarray(i * FEATURES, (i + 1) * FEATURES));

const SURGE = { skip: 45_000, until: 390_000, ignore: 990_000 };
const DISPERSAL = { skip: 10_000, until: 120_000, ignore: 1_230_000 };
/** The windows in which a raise counts as a detection of each incident type. */
export const detectWithin: Record<CrowdIncident, number> = { crowd_surge: SURGE.until, crowd_dispersal: DISPERSAL.until };

function zoneSpecs(s: SiteSpec, rng: Rng): { spec: CrowdZoneSpec; cameras: number }[] {
  const base = { site: s.site, timezone: s.timezone, holidays: [s.holiday] };
  return [
    { spec: { ...base, zone: 'gate', type: 'gate', capacity: rng.int(300, 600) }, cameras: 3 },
    { spec: { ...base, zone: 'concourse', type: 'concourse', capacity: rng.int(800, 1500) }, cameras: 2 },
    { spec: { ...base, zone: 'plaza', type: 'plaza', capacity: rng.int(2000, 4000), events: [s.event] }, cameras: 3 },
  ];
}

/** Local rush hours of working days, the event's evening, or other. */
function periodOf(spec: CrowdZoneSpec, ts: number): number {
  const l = localTime(ts, spec.timezone);
  for (const e of spec.events ?? []) if (l.weekday === e.weekday && l.minutes >= e.from && l.minutes < e.to) return 1;
  const working = l.weekday >= 1 && l.weekday <= 5 && !spec.holidays?.includes(l.date);
  const h = l.minutes / 60;
  return working && ((h >= 7 && h < 10) || (h >= 16.5 && h < 19.5)) ? 0 : 2;
}

function schedule(zone: CrowdZone, days: number, rng: Rng): Incident[] {
  const out: Incident[] = [];
  const free = (t: number) => out.every((i) => Math.abs(i.start - t) > 45 * 60_000);
  for (let d = 2; d < days; d++) {
    const day = START + d * DAY;
    if (rng.chance(0.5))
      for (let k = 0; k < 30; k++) {
        const t = day + Math.floor(rng.range(0, DAY / 5000)) * 5000;
        const h = localTime(t, zone.spec.timezone).minutes / 60;
        if (h >= 6 && h < 23 && zone.normal(t) <= 0.55 * zone.spec.capacity && free(t)) {
          out.push({ type: 'crowd_surge', start: t });
          break;
        }
      }
    if (rng.chance(0.4))
      for (let k = 0; k < 60; k++) {
        const t = day + Math.floor(rng.range(0, DAY / 5000)) * 5000;
        if (zone.normal(t) >= 0.25 * zone.spec.capacity && free(t)) {
          out.push({ type: 'crowd_dispersal', start: t });
          break;
        }
      }
  }
  return out.sort((a, b) => a.start - b.start);
}

/** One zone, `days` days from START: every camera report with its features and label. */
export function zoneRun(spec: CrowdZoneSpec, cameras: number, days: number, seed: string): ZoneRun {
  const rng = new Rng(`${seed}:${spec.site}/${spec.zone}:incidents`);
  const zone = new CrowdZone(spec, seed);
  // Scheduling reads only the zone's normal counts; the incidents start as the run reaches them.
  const incidents = schedule(zone, days, rng);
  const n = (days * DAY) / 15_000;
  const ts = new Float64Array(n * cameras);
  const features = new Float32Array(n * cameras * FEATURES);
  const label = new Uint8Array(n * cameras);
  const period = new Uint8Array(n * cameras);
  const f = new CrowdFeatures();
  const ctx = { capacity: spec.capacity, timezone: spec.timezone };
  let next = 0;
  let i = 0;
  let minute = -1;
  let p = 2;
  for (let t = START; t < START + days * DAY; t += 5000) {
    const camera = ((t - START) / 5000) % 3;
    if (camera >= cameras) continue;
    while (next < incidents.length && incidents[next]!.start <= t) zone.start(incidents[next++]!.type, incidents[next - 1]!.start);
    // The incident in progress, if any, and where in it this report falls.
    let l = 0;
    for (let k = Math.max(0, next - 2); k < next; k++) {
      const inc = incidents[k]!;
      const w = inc.type === 'crowd_surge' ? SURGE : DISPERSAL;
      const age = t - inc.start;
      if (age < w.ignore) l = age < w.skip || age >= w.until ? 255 : 1;
    }
    f.frozen = l !== 0;
    const x = f.push({ ts: t, camera: `cam${camera}`, count: zone.reported(t, camera) }, ctx);
    if (Math.floor(t / 60_000) !== minute) {
      minute = Math.floor(t / 60_000);
      p = periodOf(spec, t);
    }
    ts[i] = t;
    features.set(x, i * FEATURES);
    label[i] = l;
    period[i] = p;
    i++;
  }
  return { site: spec.site, zone: spec.zone, spec, cameras, ts, features, label, period, incidents, days };
}

/** Every zone of a site. */
export function siteRuns(s: SiteSpec, days: number, seed: string): ZoneRun[] {
  const rng = new Rng(`${seed}:${s.site}:zones`);
  return zoneSpecs(s, rng).map((z) => zoneRun(z.spec, z.cameras, days, seed));
}
