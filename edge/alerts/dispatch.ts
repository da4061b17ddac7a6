/**
 * Reinforcement dispatch, the pure part: where an incident is, which officers are nearest, and the
 * roster an alert carries (`dispatch`: who was asked, who accepted, declined or did not answer, who
 * arrived). The gateway (gateway/dispatch) sends the commands, watches the answers and the GPS fixes,
 * and changes the roster through the alert engine, so it is persisted and published with the alert.
 */
import { z } from 'zod';

/** A point on the WGS 84 ellipsoid, in degrees. */
export interface LatLon {
  lat: number;
  lon: number;
}

/** A body camera's latest GPS fix, as the gateway received it (`at`: gateway clock). */
export interface Fix extends LatLon {
  accuracyM: number | null;
  at: number;
}

const EARTH_RADIUS_M = 6_371_008.8;
const rad = (deg: number) => (deg * Math.PI) / 180;

/** Great-circle distance in metres (haversine on the mean Earth radius: within 0.5 % of the ellipsoid, ample for a walk). */
export function distanceM(a: LatLon, b: LatLon): number {
  const dLat = rad(b.lat - a.lat);
  const dLon = rad(b.lon - a.lon);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Metres per degree of latitude on the mean Earth radius (the same sphere as distanceM). */
export const M_PER_DEG = (EARTH_RADIUS_M * Math.PI) / 180;

/** The point `northM` metres north and `eastM` metres east of `from` (flat within a few km): for tests and simulations that place people. */
export function offset(from: LatLon, northM: number, eastM: number): LatLon {
  return { lat: from.lat + northM / M_PER_DEG, lon: from.lon + eastM / (M_PER_DEG * Math.cos(rad(from.lat))) };
}

export interface Candidate {
  deviceId: string;
  officer: string | null;
  fix: Fix;
}

export interface Ranked {
  deviceId: string;
  officer: string | null;
  distanceM: number;
  /** Walking time to the scene at the configured speed, in seconds. */
  etaS: number;
}

/**
 * The `n` candidates nearest to `target` within `maxDistanceM`, nearest first (ties by device id, so
 * the choice is reproducible), with their distance and walking ETA.
 */
export function nearest(target: LatLon, candidates: Candidate[], o: { n: number; maxDistanceM: number; walkingSpeedMps: number }): Ranked[] {
  return (
    candidates
      .map((c) => ({ deviceId: c.deviceId, officer: c.officer, exact: distanceM(c.fix, target) }))
      .filter((c) => c.exact <= o.maxDistanceM)
      // To the metre: below that a GPS fix says nothing, and the id breaks the tie the same way every time.
      .map((c) => ({ deviceId: c.deviceId, officer: c.officer, distanceM: Math.round(c.exact), etaS: Math.round(c.exact / o.walkingSpeedMps) }))
      .sort((a, b) => a.distanceM - b.distanceM || a.deviceId.localeCompare(b.deviceId))
      .slice(0, Math.max(0, o.n))
  );
}

/**
 * One officer's part in a dispatch:
 *   asked → accepted → arrived
 *   asked → declined | unanswered (no answer in time, or the command could not be delivered)
 *   accepted → declined (changed their mind)
 * and any of asked/accepted/arrived → stood_down when the alert is resolved.
 */
export const officerStates = ['asked', 'accepted', 'declined', 'unanswered', 'arrived', 'stood_down'] as const;
export type OfficerState = (typeof officerStates)[number];

/** States in which an officer is taken (not free for another dispatch) while the alert is open. */
export const engagedStates: ReadonlySet<OfficerState> = new Set(['asked', 'accepted', 'arrived']);

export interface DispatchedOfficer extends Ranked {
  round: number;
  state: OfficerState;
  commandId: string | null;
  askedAt: number;
  answeredAt: number | null;
  arrivedAt: number | null;
  /** Why declined, unanswered or stood down. */
  reason: string | null;
}

export const dispatchTriggers = ['critical', 'reinforcement', 'operator'] as const;

/** What an alert carries about its reinforcement (null: none sent). Times in epoch ms as stored. */
export interface Dispatch {
  trigger: (typeof dispatchTriggers)[number];
  startedAt: number;
  /** Where officers are sent: the zone's coordinates, or the fix of the alert's own device (an officer down). */
  target: (LatLon & { source: 'zone' | 'device' }) | null;
  round: number;
  officers: DispatchedOfficer[];
  /** The first acceptance and the first arrival: the "5-minute reinforcement" measured. */
  acceptedAt: number | null;
  arrivedAt: number | null;
  /** When the reinforcement mark passed with nobody on scene (published once on the escalation topic). */
  overdueAt: number | null;
  /** When nobody more could be asked (no free officer in range); cleared when one is asked again. */
  exhaustedAt: number | null;
}

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

/** The roster as consumers get it (times as ISO strings). */
export const dispatchSchema = z
  .object({
    trigger: z.enum(dispatchTriggers),
    startedAt: z.string(),
    target: z.object({ lat: z.number(), lon: z.number(), source: z.enum(['zone', 'device']) }).nullable(),
    round: z.number().int(),
    officers: z.array(
      z.object({
        deviceId: z.string(),
        officer: z.string().nullable(),
        round: z.number().int(),
        state: z.enum(officerStates),
        distanceM: z.number(),
        etaS: z.number(),
        commandId: z.string().nullable(),
        askedAt: z.string(),
        answeredAt: z.string().nullable(),
        arrivedAt: z.string().nullable(),
        reason: z.string().nullable(),
      }),
    ),
    acceptedAt: z.string().nullable(),
    arrivedAt: z.string().nullable(),
    overdueAt: z.string().nullable(),
    exhaustedAt: z.string().nullable(),
  })
  .nullable()
  .describe('reinforcement sent to the nearest officers: who was asked, accepted, declined, arrived (null: none)');

export function dispatchView(d: Dispatch | null | undefined): z.infer<typeof dispatchSchema> {
  if (!d) return null;
  return {
    ...d,
    startedAt: iso(d.startedAt)!,
    officers: d.officers.map((o) => ({ ...o, askedAt: iso(o.askedAt)!, answeredAt: iso(o.answeredAt), arrivedAt: iso(o.arrivedAt) })),
    acceptedAt: iso(d.acceptedAt),
    arrivedAt: iso(d.arrivedAt),
    overdueAt: iso(d.overdueAt),
    exhaustedAt: iso(d.exhaustedAt),
  };
}

/** Officers of the current round still waiting for an answer whose time is up. */
export function unansweredBy(d: Dispatch, now: number, acceptTimeoutMs: number): DispatchedOfficer[] {
  return d.officers.filter((o) => o.state === 'asked' && now - o.askedAt >= acceptTimeoutMs);
}

/** Whether the next nearest should be asked: nobody has accepted (or arrived) and nobody is still being waited for. */
export function needsNextRound(d: Dispatch): boolean {
  return !d.officers.some((o) => o.state === 'accepted' || o.state === 'arrived' || o.state === 'asked');
}
