/**
 * Rules: deterministic conditions read from device messages (the ONNX detectors of
 * the inference issue add theirs through the same `Condition` sink). Each rule says
 * what it saw in words an operator can act on.
 */
import { imuStats, type ImuWindow } from '../imu.ts';
import type { DeviceMessage } from '../message.ts';
import type { PipelineStage } from '../pipeline.ts';
import type { AlertType, Condition, Severity } from './model.ts';

export interface RuleSettings {
  /** Smoke obscuration at which a fire is declared, %/m (EN 54-7 alarms are set around 2-4 %/m). */
  smokeObscurationPctM: number;
  /** Fixed heat threshold, °C (EN 54-5 class A1 static response 54-65 °C). */
  heatC: number;
  /**
   * Slow smoulder: obscuration at or above this, %/m (a pre-alarm level, a quarter to a half of the
   * alarm level) and rising steadily over `smoulderWindowS` by at least `smoulderRisePctM` ...
   */
  smoulderPctM: number;
  smoulderRisePctM: number;
  smoulderWindowS: number;
  /** Access denials at one door within `bruteForceWindowS` that make a brute-force attempt. */
  bruteForceDenials: number;
  bruteForceWindowS: number;
  /** Man down: an impact of at least this many g ... */
  manDownImpactG: number;
  /** ... followed by this many seconds of IMU stillness (device time, from the IMU windows). */
  manDownStillS: number;
  /** Battery below this raises low_battery; it clears above lowBatteryPct + 5. */
  lowBatteryPct: number;
}

export const defaultRuleSettings: RuleSettings = {
  smokeObscurationPctM: 4,
  heatC: 57,
  smoulderPctM: 1.5,
  smoulderRisePctM: 0.5,
  smoulderWindowS: 600,
  bruteForceDenials: 5,
  bruteForceWindowS: 60,
  manDownImpactG: 2.5,
  manDownStillS: 10,
  lowBatteryPct: 15,
};

export const defaultSeverity: Record<AlertType, Severity> = {
  fire: 'critical',
  fire_suspected: 'major',
  forced_entry: 'critical',
  sos: 'critical',
  man_down: 'critical',
  door_held_open: 'major',
  brute_force: 'major',
  camera_tamper: 'major',
  device_tamper: 'major',
  coverage_drop: 'major',
  access_anomaly: 'major',
  device_offline: 'minor',
  low_battery: 'minor',
  device_fault: 'minor',
};

export const plannedOffline = new Set(['shutdown', 'maintenance', 'reboot']);

interface DeviceMemory {
  smokeAlarm?: boolean;
  /** Obscuration readings of the last smoulderWindowS (device time). */
  obscuration?: { ts: number; v: number }[];
  smoulder?: boolean;
  denials?: { ts: number; credential: string }[];
  impactAt?: number;
  impactG?: number;
  stillS?: number;
  downRaised?: boolean;
  lowBattery?: boolean;
  bruteForce?: { site: string; kind: string; deviceId: string };
}

type Sink = (c: Condition) => void;

export class RuleStage implements PipelineStage {
  readonly name = 'rules';
  readonly #sink: Sink;
  readonly #s: RuleSettings;
  readonly #mem = new Map<string, DeviceMemory>();

  constructor(sink: Sink, settings: Partial<RuleSettings> = {}) {
    this.#sink = sink;
    this.#s = { ...defaultRuleSettings, ...settings };
  }

  #emit(m: DeviceMessage, type: AlertType, active: boolean, reason: string, evidence: Record<string, unknown> = {}): void {
    this.#sink({ site: m.site, deviceId: m.deviceId, kind: m.kind, type, active, severity: defaultSeverity[type], reason, evidence, ts: m.ts });
  }

  accept(m: DeviceMessage): void {
    const mem = this.#mem.get(m.deviceId) ?? {};
    this.#mem.set(m.deviceId, mem);
    const d = m.data;
    if (m.channel === 'status') {
      const online = d['online'] === true;
      // A device announcing a planned stop is not an incident (coverage still counts the gap);
      // a Last Will ("connection lost") or any other offline status is.
      if (!online && plannedOffline.has(String(d['reason']))) return;
      this.#emit(m, 'device_offline', !online, online ? 'back online' : `reported offline${d['reason'] ? ` (${String(d['reason'])})` : ''}`);
      return;
    }
    if (m.channel === 'telemetry' && typeof d['battery_pct'] === 'number') this.#battery(m, mem, d['battery_pct']);
    if (m.channel === 'event') this.#event(m, mem);
    if (m.channel === 'telemetry' && m.kind === 'smoke') this.#smoke(m, mem);
    if (m.channel === 'telemetry' && m.kind === 'bodycam' && d['imu']) this.#manDown(m, mem);
  }

  #battery(m: DeviceMessage, mem: DeviceMemory, pct: number): void {
    // Hysteresis: 5 points between raising and clearing, so a battery hovering at the threshold does not flap.
    if (!mem.lowBattery && pct < this.#s.lowBatteryPct) {
      mem.lowBattery = true;
      this.#emit(m, 'low_battery', true, `battery ${pct} % (below ${this.#s.lowBatteryPct} %)`, { battery_pct: pct });
    } else if (mem.lowBattery && pct > this.#s.lowBatteryPct + 5) {
      mem.lowBattery = false;
      this.#emit(m, 'low_battery', false, `battery ${pct} %`);
    }
  }

  #event(m: DeviceMessage, mem: DeviceMemory): void {
    const d = m.data;
    switch (d['type']) {
      case 'tamper': {
        const type = m.kind === 'camera' ? 'camera_tamper' : 'device_tamper';
        this.#emit(m, type, d['active'] !== false, `${m.kind} reports tamper: ${String(d['reason']).replace(/_/g, ' ')}`, { reason: d['reason'] });
        return;
      }
      case 'low_battery':
        mem.lowBattery = true;
        this.#emit(m, 'low_battery', true, `device reports low battery (${String(d['battery_pct'])} %)`, { battery_pct: d['battery_pct'] });
        return;
      case 'fault':
        this.#emit(m, 'device_fault', d['active'] !== false, `fault: ${String(d['code']).replace(/_/g, ' ')}`, { code: d['code'] });
        return;
      case 'alarm':
        mem.smokeAlarm = d['active'] === true;
        if (mem.smokeAlarm) this.#emit(m, 'fire', true, `${String(d['source'])} alarm from the detector`, { source: d['source'] });
        return;
      case 'forced_open':
        this.#emit(m, 'forced_entry', true, 'door opened without a valid credential (forced open)');
        return;
      case 'held_open':
        this.#emit(m, 'door_held_open', true, `door held open ${String(d['duration_s'])} s`, { duration_s: d['duration_s'] });
        return;
      case 'door_closed':
        this.#emit(m, 'door_held_open', false, 'door closed');
        this.#emit(m, 'forced_entry', false, 'door closed');
        return;
      case 'access_denied': {
        const cred = d['credential'] as { type: string; id: string };
        const w = (mem.denials ??= []);
        w.push({ ts: m.ts, credential: `${cred.type}:${cred.id}` });
        this.#trimDenials(mem, m.ts);
        if (w.length >= this.#s.bruteForceDenials) {
          mem.bruteForce = { site: m.site, kind: m.kind, deviceId: m.deviceId };
          const creds = new Set(w.map((x) => x.credential));
          this.#emit(m, 'brute_force', true, `${w.length} access denials in ${this.#s.bruteForceWindowS} s with ${creds.size} different credentials`, {
            denials: w.length,
            credentials: [...creds].slice(0, 10),
          });
        }
        return;
      }
      case 'sos':
        if (d['pressed'] !== false) this.#emit(m, 'sos', true, 'SOS button pressed', { officer: d['officer'] });
        return;
    }
  }

  #trimDenials(mem: DeviceMemory, now: number): void {
    mem.denials = (mem.denials ?? []).filter((x) => now - x.ts < this.#s.bruteForceWindowS * 1000);
  }

  #smoke(m: DeviceMessage, mem: DeviceMemory): void {
    const d = m.data as { temperature_c: number; obscuration_pct_m: number; eco2_ppm: number };
    const smoke = d.obscuration_pct_m >= this.#s.smokeObscurationPctM;
    const heat = d.temperature_c >= this.#s.heatC;
    if (smoke || heat) {
      const why = [
        smoke && `smoke ${d.obscuration_pct_m.toFixed(1)} %/m (alarm level ${this.#s.smokeObscurationPctM})`,
        heat && `temperature ${d.temperature_c.toFixed(1)} °C`,
        `eCO2 ${Math.round(d.eco2_ppm)} ppm`,
      ]
        .filter(Boolean)
        .join(', ');
      this.#emit(m, 'fire', true, why, { obscuration_pct_m: d.obscuration_pct_m, temperature_c: d.temperature_c, eco2_ppm: d.eco2_ppm });
    } else if (this.#smoulder(m, mem, d.obscuration_pct_m)) {
      this.#emit(
        m,
        'fire',
        true,
        `smoke rising steadily: ${d.obscuration_pct_m.toFixed(1)} %/m after ${Math.round(this.#s.smoulderWindowS / 60)} min of increase (smouldering fire)`,
        { obscuration_pct_m: d.obscuration_pct_m, temperature_c: d.temperature_c, eco2_ppm: d.eco2_ppm },
      );
    } else if (!mem.smokeAlarm && d.obscuration_pct_m < this.#s.smokeObscurationPctM / 4) {
      mem.smoulder = false;
      this.#emit(m, 'fire', false, 'readings back to normal');
    }
  }

  /**
   * A smouldering fire makes little heat or gas but smoke that keeps building for many minutes;
   * a vape, a cigarette or toast makes a spike that falls away. Steady: each third of the window
   * is higher than the one before, and the whole rise is at least smoulderRisePctM.
   */
  #smoulder(m: DeviceMessage, mem: DeviceMemory, v: number): boolean {
    const w = (mem.obscuration ??= []);
    const last = w.at(-1);
    if (last && m.ts < last.ts) w.length = 0; // clock went back
    if (last && m.ts === last.ts)
      last.v = v; // two readings stamped alike (a burst): keep the latest
    else w.push({ ts: m.ts, v });
    const span = this.#s.smoulderWindowS * 1000;
    while (w.length > 1 && m.ts - w[1]!.ts >= span) w.shift();
    if (mem.smoulder) return v >= this.#s.smoulderPctM / 2;
    if (v < this.#s.smoulderPctM || m.ts - w[0]!.ts < span * 0.9 || w.length < 6) return false;
    const third = Math.floor(w.length / 3);
    const mean = (xs: { v: number }[]) => xs.reduce((a, x) => a + x.v, 0) / xs.length;
    const [a, b, c] = [mean(w.slice(0, third)), mean(w.slice(third, 2 * third)), mean(w.slice(2 * third))];
    mem.smoulder = b > a && c > b && v - w[0]!.v >= this.#s.smoulderRisePctM;
    return mem.smoulder;
  }

  /** Fall impact, then stillness: durations come from the IMU windows themselves, so time compression in simulators does not matter. */
  #manDown(m: DeviceMessage, mem: DeviceMemory): void {
    const { peakG: peak, sdG, gyroMeanDps, seconds } = imuStats(m.data['imu'] as ImuWindow);
    const still = sdG < 0.05 && (gyroMeanDps ?? 0) < 5;
    if (peak >= this.#s.manDownImpactG) {
      Object.assign(mem, { impactAt: m.ts, impactG: peak, stillS: 0, downRaised: false });
      return;
    }
    if (mem.impactAt === undefined) return;
    if (still) {
      mem.stillS = (mem.stillS ?? 0) + seconds;
      if (!mem.downRaised && mem.stillS >= this.#s.manDownStillS) {
        mem.downRaised = true;
        this.#emit(m, 'man_down', true, `impact ${mem.impactG!.toFixed(1)} g, then no movement for ${Math.round(mem.stillS)} s`, {
          impact_g: mem.impactG,
          still_s: mem.stillS,
          gps: m.data['gps'],
        });
      }
    } else {
      if (mem.downRaised) this.#emit(m, 'man_down', false, 'moving again');
      Object.assign(mem, { impactAt: undefined, stillS: 0, downRaised: false });
    }
  }

  /** A brute-force attempt ends by silence: no denial for a whole window. Call every second or so. */
  tick(now: number): void {
    for (const mem of this.#mem.values()) {
      if (!mem.bruteForce) continue;
      this.#trimDenials(mem, now);
      if (mem.denials!.length === 0) {
        const a = mem.bruteForce;
        mem.bruteForce = undefined;
        this.#sink({
          ...a,
          type: 'brute_force',
          active: false,
          severity: defaultSeverity.brute_force,
          reason: `no denial for ${this.#s.bruteForceWindowS} s`,
          ts: now,
        });
      }
    }
  }
}
