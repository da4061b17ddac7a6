/**
 * Fleet health: devices that went silent (missed heartbeats) and per-site coverage,
 * the share of registered devices of each kind online and healthy (target 90 %).
 */
import { getKind, kindNames, severityOf } from '../../devices/index.ts';
import type { DeviceStates } from '../device-state.ts';
import { plannedOffline, type Condition } from './model.ts';

/** Where the devices the box must account for are listed (the gateway's registry). */
export interface DeviceDirectory {
  /** Registered devices that are enabled. */
  enabled(): { site: string; kind: string; deviceId: string }[];
  /** Whether the device is registered at all (enabled or not). */
  has(deviceId: string): boolean;
}

/** A reconnect within this is a blip, not an outage. */
export const RECONNECT_GRACE_MS = 10_000;

export interface FleetHealthSettings {
  coverageTarget: number;
  heartbeatMisses: number;
  startupGraceMs: number;
}

export interface Coverage {
  site: string;
  kind: string;
  registered: number;
  healthy: number;
  ratio: number;
}

export class FleetHealth {
  readonly #states: DeviceStates;
  readonly #directory: DeviceDirectory;
  readonly #s: FleetHealthSettings;
  readonly #now: () => number;
  readonly #startedAt: number;
  readonly #silent = new Set<string>();

  constructor(states: DeviceStates, directory: DeviceDirectory, s: FleetHealthSettings, now: () => number) {
    this.#states = states;
    this.#directory = directory;
    this.#s = s;
    this.#now = now;
    this.#startedAt = now();
  }

  /** Devices to account for: the registry's enabled ones, plus any seen in anonymous dev mode. */
  #fleet() {
    const devices = new Map<string, { site: string; kind: string; deviceId: string }>();
    for (const d of this.#directory.enabled()) devices.set(d.deviceId, d);
    for (const d of this.#states.list()) if (!devices.has(d.deviceId) && !this.#directory.has(d.deviceId)) devices.set(d.deviceId, d);
    return [...devices.values()];
  }

  /** Online and reporting: connected, not self-reported offline, and not silent for heartbeatMisses periods. */
  healthy(deviceId: string, kind: string): boolean {
    const v = this.#states.get(deviceId);
    if (!v?.online) return false;
    const period = (getKind(kind)?.telemetryPeriodS ?? 60) * 1000;
    return this.#now() - v.lastSeen <= period * this.#s.heartbeatMisses;
  }

  check(): { conditions: Condition[]; coverage: Coverage[] } {
    const scan = this.scan(Infinity);
    for (let r = scan.next(); ; r = scan.next()) if (r.done) return r.value;
  }

  /**
   * The same check as a generator that yields after every `slice` devices, so the gateway can spread
   * a fleet of thousands over several event-loop turns instead of stalling every alert for the whole scan.
   */
  *scan(slice: number): Generator<void, { conditions: Condition[]; coverage: Coverage[] }> {
    const now = this.#now();
    const graceOver = now - this.#startedAt >= this.#s.startupGraceMs;
    const conditions: Condition[] = [];
    const bySiteKind = new Map<string, Coverage>();
    let n = 0;
    for (const d of this.#fleet()) {
      if (++n % slice === 0) yield;
      const v = this.#states.get(d.deviceId);
      const ok = this.healthy(d.deviceId, d.kind);
      // Connected but silent (missed heartbeats), or gone without a Last Will and not back within
      // the grace. A Last Will or offline status arrives through the rules; a planned stop is no outage.
      const planned = v?.status?.data['online'] === false && plannedOffline.has(String(v.status.data['reason']));
      const gone = !!v && !v.connected && v.disconnectedAt !== undefined && now - v.disconnectedAt >= RECONNECT_GRACE_MS && !planned;
      // Announced its stop on this connection (a connect sets online again) and disconnects next: not silent either.
      const stopping = planned && !!v?.connected && !v.online;
      const silent = (!!v?.connected && !ok && !stopping) || gone;
      if (silent && !this.#silent.has(d.deviceId)) {
        this.#silent.add(d.deviceId);
        const reason = gone
          ? `disconnected ${Math.round((now - v.disconnectedAt!) / 1000)} s ago`
          : `no message for ${Math.round((now - v!.lastSeen) / 1000)} s (${this.#s.heartbeatMisses} reporting periods)`;
        conditions.push({ ...d, type: 'device_offline', active: true, severity: severityOf('device_offline'), reason, ts: now });
      } else if (!silent && this.#silent.has(d.deviceId)) {
        this.#silent.delete(d.deviceId);
        if (ok) conditions.push({ ...d, type: 'device_offline', active: false, severity: severityOf('device_offline'), reason: 'reporting again', ts: now });
      }
      const k = `${d.site}/${d.kind}`;
      const c = bySiteKind.get(k) ?? { site: d.site, kind: d.kind, registered: 0, healthy: 0, ratio: 1 };
      c.registered++;
      if (ok || (!graceOver && !v)) c.healthy++; // not yet seen during startup grace: not counted against coverage
      bySiteKind.set(k, c);
    }
    const coverage = [...bySiteKind.values()].map((c) => ({ ...c, ratio: c.registered ? c.healthy / c.registered : 1 }));
    for (const c of coverage) {
      const below = c.ratio < this.#s.coverageTarget;
      conditions.push({
        site: c.site,
        deviceId: `coverage-${c.kind}`,
        kind: c.kind,
        type: 'coverage_drop',
        active: below,
        severity: severityOf('coverage_drop'),
        reason: `${c.kind} coverage ${(c.ratio * 100).toFixed(0)} % (${c.healthy} of ${c.registered} online and healthy; target ${(this.#s.coverageTarget * 100).toFixed(0)} %)`,
        evidence: { healthy: c.healthy, registered: c.registered, ratio: Number(c.ratio.toFixed(3)), target: this.#s.coverageTarget },
        ts: now,
      });
    }
    const order = kindNames();
    return {
      conditions,
      coverage: coverage.sort((a, b) => a.site.localeCompare(b.site) || order.indexOf(a.kind) - order.indexOf(b.kind)),
    };
  }
}
