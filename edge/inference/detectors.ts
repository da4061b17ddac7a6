/**
 * What each model reads, declared per device kind: which messages feed it, how a message becomes
 * its feature vector (edge/features), what to say when it fires. The feature names must match
 * the manifest's, in order, or the model is not used for that kind (the detector stage says why).
 */
import type { AlertType } from '../alerts/model.ts';
import type { DeviceMessage } from '../message.ts';
import { CameraFeatures, cameraFeatureNames, explainCamera, sceneAnomaly, type CameraSnapshot } from '../features/camera.ts';
import { DoorFeatures, doorFeatureNames, explainDoor, SiteCredentials, type DoorSnapshot } from '../features/door.ts';
import { explainFall, fallFeatureNames, FallFeatures, type FallSnapshot } from '../features/fall.ts';
import { explainSmoke, SmokeFeatures, smokeFeatureNames, type SmokeSnapshot } from '../features/smoke.ts';
import { CrowdFeatures, crowdFeatureNames, explainCrowd, type CrowdSnapshot } from '../features/crowd.ts';
import type { ZoneProfile } from '../../devices/zones.ts';

export interface Explanation {
  reason: string;
  /** Overrides the manifest's alert type (a door's burst of refusals is a brute-force attempt). */
  type?: AlertType;
  evidence?: Record<string, unknown>;
}

export interface Extracted {
  features: number[];
  /** Called with the score once it is known (e.g. to let a reference frame learn a normal one). */
  scored?: (score: number, clear: number) => void;
  /** The time the features describe, when it is not the message's (an IMU window's own timeline). */
  ts?: number;
}

/** Where a device's state belongs (a restore has no message to take it from). */
export interface DeviceRef {
  site: string;
  deviceId: string;
}

/** The zones of the sites, for detectors of places (a port: gateway/sites is one). */
export interface Places {
  /** What a zone of a site means, when an admin registered it. */
  zone(site: string, zone: string): ZoneProfile | undefined;
  /** The zone a device is provisioned in (null: none). */
  zoneOf(deviceId: string): string | null;
}

/**
 * What a detector of a place scores instead of one device: all the messages of a zone's cameras go
 * to one run, with one learned state, one decision and one alert (`crowd-gate-3`, in zone gate-3).
 */
export interface Subject {
  /** Stands for the device in the run, its checkpoint and its alert; topic-safe. */
  id: string;
  zone: string;
  /** The zone as registered now (capacity, time zone), if it is. */
  profile?: ZoneProfile | undefined;
}

export interface Detector<S = unknown> {
  kind: string;
  features: readonly string[];
  /** Format of `snapshot()`; a saved state of another format is discarded at restore (the device learns anew). */
  stateFormat: number;
  init(m: DeviceRef, shared: Map<string, unknown>): S;
  /** The learned per-device state as JSON-safe data, for checkpoints across restarts. */
  snapshot(state: S): unknown;
  restore(saved: unknown, m: DeviceRef, shared: Map<string, unknown>): S;
  /** Forget what was learned about the device's normal (an engineer accepted a new normal); absent: nothing to forget. */
  rebaseline?(state: S): void;
  /**
   * A detector of a place: the subject a message is about (undefined: the message does not feed
   * the model). Absent: the subject is the device.
   */
  subject?(m: DeviceMessage, places: Places): Subject | undefined;
  /** undefined: this message does not feed the model. */
  extract(state: S, m: DeviceMessage, subject?: Subject): Extracted | undefined | Promise<Extracted | undefined>;
  explain(f: number[], score: number, m: DeviceMessage, state: S, subject?: Subject): Explanation;
}

const named = (names: readonly string[], f: number[]) => Object.fromEntries(names.map((n, i) => [n, Math.round(f[i]! * 1000) / 1000]));

const smoke: Detector<SmokeFeatures> = {
  kind: 'smoke',
  features: smokeFeatureNames,
  stateFormat: 1,
  init: () => new SmokeFeatures(),
  snapshot: (s) => s.snapshot(),
  restore: (saved) => SmokeFeatures.restore(saved as SmokeSnapshot),
  extract(s, m) {
    if (m.channel !== 'telemetry') return undefined;
    const d = m.data as { temperature_c: number; humidity_pct: number; eco2_ppm: number };
    return {
      features: s.push({ ts: m.ts, temperature_c: d.temperature_c, humidity_pct: d.humidity_pct, eco2_ppm: d.eco2_ppm }),
      scored: (score, clear) => (s.frozen = score >= clear),
    };
  },
  explain: (f, _s, m) => ({
    reason: explainSmoke(f),
    evidence: {
      features: named(smokeFeatureNames, f),
      temperature_c: m.data['temperature_c'],
      eco2_ppm: m.data['eco2_ppm'],
      humidity_pct: m.data['humidity_pct'],
    },
  }),
};

interface FallState {
  f: FallFeatures;
  /** End of the last window on the IMU's own timeline. */
  end?: number;
}
const manDown: Detector<FallState> = {
  kind: 'bodycam',
  features: fallFeatureNames,
  stateFormat: 1,
  init: () => ({ f: new FallFeatures() }),
  snapshot: (s) => ({ f: s.f.snapshot(), end: s.end }),
  restore: (saved) => {
    const x = saved as { f: FallSnapshot; end?: number };
    return { f: FallFeatures.restore(x.f), end: x.end };
  },
  extract(s, m) {
    const imu = m.data['imu'] as { rate_hz: number; accel_g: number[][] } | undefined;
    if (m.channel !== 'telemetry' || !imu) return undefined;
    // Windows are laid end to end on the IMU's timeline: a real body camera sends 1 s of samples
    // every 2 s, so this is its clock; a time-compressed simulator's windows would otherwise overlap.
    const durMs = (imu.accel_g.length * 1000) / imu.rate_hz;
    const end = Math.max(m.ts, (s.end ?? -Infinity) + durMs);
    s.end = end;
    return { features: s.f.push(FallFeatures.windowSamples(end, imu.rate_hz, imu.accel_g)), ts: end };
  },
  explain: (f, _s, m) => ({ reason: explainFall(f), evidence: { features: named(fallFeatureNames, f), gps: m.data['gps'], officer: m.data['officer'] } }),
};

interface CameraState {
  f: CameraFeatures;
  last?: number[];
}
const camera: Detector<CameraState> = {
  kind: 'camera',
  features: cameraFeatureNames,
  stateFormat: 2,
  init: () => ({ f: new CameraFeatures() }),
  snapshot: (s) => ({ f: s.f.snapshot(), last: s.last }),
  rebaseline: (s) => s.f.rebaseline(),
  restore: (saved) => {
    const x = saved as { f: CameraSnapshot; last?: number[] };
    return { f: CameraFeatures.restore(x.f), last: x.last };
  },
  async extract(s, m) {
    if (m.channel !== 'snapshot' || !m.snapshot) return undefined;
    const warming = s.f.warming;
    const { features, stats } = await s.f.push(m.snapshot.jpeg);
    // Warm-up: the first snapshots form the reference and are not scored (the first alert can come
    // with the WARMUP-th snapshot after a start or an accepted new view).
    if (warming) {
      s.f.learn(stats);
      return undefined;
    }
    return {
      features,
      scored: (score: number, clear: number) => {
        s.f.frozen = score >= clear;
        s.f.learn(stats);
      },
    };
  },
  explain: (f) => ({
    reason: explainCamera(f),
    evidence: { features: named(cameraFeatureNames, f), scene_anomaly: Math.round(sceneAnomaly(f) * 1000) / 1000 },
  }),
};

const siteCredentials = (site: string, shared: Map<string, unknown>) => {
  const key = `door-credentials:${site}`;
  const s = (shared.get(key) as SiteCredentials | undefined) ?? new SiteCredentials();
  shared.set(key, s);
  return s;
};
const door: Detector<DoorFeatures> = {
  kind: 'door',
  features: doorFeatureNames,
  stateFormat: 1,
  init: (m, shared) => new DoorFeatures(m.deviceId, siteCredentials(m.site, shared)),
  snapshot: (s) => s.snapshot(),
  restore: (saved, m, shared) => DoorFeatures.restore(saved as DoorSnapshot, m.deviceId, siteCredentials(m.site, shared)),
  extract(s, m) {
    const type = m.data['type'];
    if (m.channel !== 'event' || (type !== 'access_granted' && type !== 'access_denied')) return undefined;
    const c = m.data['credential'] as { type: string; id: string };
    return { features: s.push({ ts: m.ts, granted: type === 'access_granted', credential: `${c.type}:${c.id}` }) };
  },
  explain: (f, _s, m) => {
    const e = explainDoor(f, new Date(m.ts).getHours());
    return { reason: e.reason, type: e.type, evidence: { features: named(doorFeatureNames, f), credential: m.data['credential'] } };
  },
};

/**
 * A zone's crowd, from the `crowd_count` events of every camera that watches it (edge/features/crowd.ts).
 * The zone is the event's analytics region when the site registered a zone of that name or it is the
 * zone the camera is provisioned in; a count of any other region (a camera's private view) is not the
 * zone's crowd and is not scored. One run per zone: its alert is `crowd-{zone}` in that zone.
 */
const crowd: Detector<CrowdFeatures> = {
  kind: 'camera',
  features: crowdFeatureNames,
  stateFormat: 1,
  init: () => new CrowdFeatures(),
  snapshot: (s) => s.snapshot(),
  restore: (saved) => CrowdFeatures.restore(saved as CrowdSnapshot),
  subject(m, places) {
    if (m.channel !== 'event' || m.data['type'] !== 'crowd_count') return undefined;
    const region = String(m.data['zone']);
    const registered = places.zone(m.site, region);
    // A count of a region the site registered, or of the camera's own zone; a camera's private region is not the zone's crowd.
    if (!registered && region !== places.zoneOf(m.deviceId)) return undefined;
    return { id: `crowd-${region.replace(/[^A-Za-z0-9_.-]/g, '_')}`, zone: region, profile: registered };
  },
  extract(s, m, subject) {
    const ctx = { capacity: subject?.profile?.capacity, timezone: subject?.profile?.timezone };
    return {
      features: s.push({ ts: m.ts, camera: m.deviceId, count: Number(m.data['count']) }, ctx),
      scored: (score, clear) => (s.frozen = score >= clear),
    };
  },
  explain(f, _score, m, s, subject) {
    const p = subject?.profile;
    const capacity = s.capacity({ capacity: p?.capacity });
    const e = explainCrowd(subject?.zone ?? '?', f, capacity, m.ts, p?.timezone, !!p?.capacity);
    return {
      reason: e.reason,
      type: e.type,
      evidence: {
        features: named(crowdFeatureNames, f),
        zone: subject?.zone,
        people: Math.round(f[0]! * capacity),
        capacity,
        capacityKnown: !!p?.capacity,
        camera: m.deviceId,
      },
    };
  },
};

/**
 * Detectors by name: a model's manifest names the one whose features it reads (`detector`), so
 * several models may serve one kind. A manifest without the field gets its kind's (devices/kinds/<kind>: `detector`).
 */
export const detectors: Record<string, Detector<any>> = { smoke, 'man-down': manDown, 'camera-scene': camera, 'door-access': door, 'crowd-zone': crowd };
