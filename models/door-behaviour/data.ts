/**
 * Simulated access-control traffic for a site's doors, with labelled behavioural anomalies.
 * There is no public access-control log to learn from, so this is a generator in the image of
 * the door simulator (rush-hour occupancy, 3 % honest denials, staff joining) with three kinds
 * of doors (office hours, day, round the clock) and injected anomalies:
 *  - off_hours: a valid credential at a day door in the dead of night;
 *  - unusual_pair: a credential that belongs to other doors, used at this one for the first time;
 *  - denial_burst: 3-7 refusals within a minute with several credentials (below the brute-force
 *    rule's 5 when it is 3 or 4).
 * Normal traffic includes new staff (a credential never seen anywhere, first use) and honest denials.
 * Hours are UTC here so the data does not depend on the machine's time zone.
 */
import { DoorFeatures, SiteCredentials } from '../../edge/features/door.ts';
import { Rng } from '../../simulators/random.ts';

export const anomalyKinds = ['off_hours', 'unusual_pair', 'denial_burst'] as const;
export type DoorEventKind = 'normal' | 'new_staff' | 'honest_denial' | (typeof anomalyKinds)[number];

export interface DoorEvent {
  door: string;
  ts: number;
  kind: DoorEventKind;
  /** 1 = anomaly, 0 = normal, null = too early in a burst to be one (left out of scoring). */
  label: 0 | 1 | null;
  features: number[];
}

type Profile = 'office' | 'day' | 'allday';
const utcHour = (ts: number) => new Date(ts).getUTCHours();
const bump = (h: number, c: number, w: number) => Math.exp(-((h - c) ** 2) / (2 * w * w));
function activity(profile: Profile, ts: number): number {
  const d = new Date(ts);
  const h = d.getUTCHours() + d.getUTCMinutes() / 60;
  const rush = 0.9 * bump(h, 8, 1.2) + 0.8 * bump(h, 18, 1.5) + 0.35 * bump(h, 13, 3);
  if (profile === 'allday') return Math.min(1, 0.08 + rush);
  if (profile === 'day') return h >= 6 && h < 23 ? Math.min(1, 0.05 + rush) : 0;
  return h >= 7.5 && h < 19 && d.getUTCDay() % 6 !== 0 ? Math.min(1, 0.1 + rush) : 0;
}

const DAY = 86_400_000;
const START = Date.UTC(2026, 0, 5); // a Monday

/**
 * One site: `doors` doors over `days` days; anomalies start after `warmupDays` so each door has a
 * profile. Returns every access event with its features, computed exactly as the gateway does.
 */
export function siteTraffic(site: string, doors: number, days: number, warmupDays: number, seed: string): DoorEvent[] {
  const rng = new Rng(`${seed}:${site}`);
  const creds = new SiteCredentials();
  const ds = Array.from({ length: doors }, (_, i) => ({
    id: `${site}-door-${i}`,
    profile: rng.pick(['office', 'day', 'day', 'allday'] as const),
    staff: Array.from({ length: rng.int(12, 35) }, (_, k) => `${site}-d${i}-u${k}`),
    feats: undefined as unknown as DoorFeatures,
  }));
  for (const d of ds) d.feats = new DoorFeatures(d.id, creds, utcHour);
  const out: DoorEvent[] = [];
  const emit = (d: (typeof ds)[number], ts: number, granted: boolean, credential: string, kind: DoorEventKind, label: 0 | 1 | null) =>
    out.push({ door: d.id, ts, kind, label, features: d.feats.push({ ts, granted, credential }) });
  let newStaff = 0;
  for (let t = START; t < START + days * DAY; t += 20_000) {
    const late = t >= START + warmupDays * DAY;
    for (const d of ds) {
      if (late) {
        // About 0.3 of each kind per door per day (off-hours only at doors that close at night).
        const h = new Date(t).getUTCHours() + new Date(t).getUTCMinutes() / 60;
        if (d.profile !== 'allday' && h >= 1 && h < 4.5 && rng.chance(0.3 / (3.5 * 180))) {
          emit(d, t, true, rng.pick(d.staff), 'off_hours', 1);
          continue;
        }
        if (activity(d.profile, t) > 0 && rng.chance(0.3 / 4320)) {
          emit(d, t, true, rng.pick(ds.filter((x) => x !== d).flatMap((x) => x.staff)), 'unusual_pair', 1);
          continue;
        }
        if (rng.chance(0.3 / 4320)) {
          const n = rng.int(3, 7);
          for (let k = 0; k < n; k++)
            emit(
              d,
              t + k * rng.range(2000, 3000),
              false,
              rng.chance(0.5) ? `unknown-${rng.int(1e5, 1e6)}` : rng.pick(d.staff),
              'denial_burst',
              k >= 2 ? 1 : null,
            );
          continue;
        }
      }
      if (!rng.chance(activity(d.profile, t) * 0.9)) continue;
      if (rng.chance(0.03)) emit(d, t, false, rng.pick(d.staff), 'honest_denial', 0);
      else if (rng.chance(0.002)) {
        const c = `${site}-new-${newStaff++}`;
        d.staff.push(c);
        emit(d, t, true, c, 'new_staff', 0);
      } else emit(d, t, true, rng.pick(d.staff), 'normal', 0);
    }
  }
  return out.sort((a, b) => a.ts - b.ts);
}

export const afterWarmup = (events: DoorEvent[], warmupDays: number) => events.filter((e) => e.ts >= START + warmupDays * DAY);
