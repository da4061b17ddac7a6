/**
 * Scripted incidents on a running fleet, each labelled (labels.ts) so detectors
 * and alerts can be scored against the truth.
 */
import type { Fleet } from './fleet.ts';
import type { SimDevice } from './device.ts';
import type { IncidentType } from './labels.ts';
import { Rng } from './random.ts';

export interface ScenarioStep {
  /** Wall-clock seconds after the previous step. */
  afterS: number;
  incident: IncidentType;
  /** A specific device; otherwise a random idle device that can stage the incident. */
  deviceId?: string;
}

/** One of everything, a few seconds apart: what `npm run demo` loops over. */
export const tour: ScenarioStep[] = [
  { afterS: 4, incident: 'fire' },
  { afterS: 5, incident: 'forced_door' },
  { afterS: 5, incident: 'brute_force' },
  { afterS: 5, incident: 'camera_covered' },
  { afterS: 5, incident: 'man_down' },
  { afterS: 5, incident: 'sos' },
  { afterS: 5, incident: 'door_held_open' },
  { afterS: 5, incident: 'camera_defocused' },
  { afterS: 5, incident: 'device_offline' },
  { afterS: 5, incident: 'camera_moved' },
  { afterS: 5, incident: 'camera_glare' },
];

export class Scenario {
  readonly #fleet: Fleet;
  readonly #rng: Rng;
  readonly #busy = new Set<SimDevice>();
  readonly #running = new Set<Promise<void>>();
  #stopped = false;
  #timer?: NodeJS.Timeout;
  onIncident?: (type: IncidentType, device: SimDevice) => void;

  constructor(fleet: Fleet, seed: number | string = 1) {
    this.#fleet = fleet;
    this.#rng = new Rng(`scenario:${seed}`);
  }

  /** Start one incident now; resolves when it is over. */
  stage(incident: IncidentType, deviceId?: string): Promise<void> {
    const candidates = this.#fleet.devices.filter((d) => (deviceId ? d.id === deviceId : d.incidents.includes(incident)) && !this.#busy.has(d) && d.connected);
    if (!candidates.length) return Promise.resolve();
    const device = this.#rng.pick(candidates);
    this.#busy.add(device);
    this.onIncident?.(incident, device);
    const p = device
      .incident(incident)
      .catch(() => {})
      .finally(() => {
        this.#busy.delete(device);
        this.#running.delete(p);
      });
    this.#running.add(p);
    return p;
  }

  /** Play the steps, forever if `loop`. */
  play(steps: ScenarioStep[], loop = true): void {
    let i = 0;
    const next = () => {
      if (this.#stopped || (!loop && i >= steps.length)) return;
      const step = steps[i++ % steps.length]!;
      this.#timer = setTimeout(() => {
        void this.stage(step.incident, step.deviceId);
        next();
      }, step.afterS * 1000);
    };
    next();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  /** Wait for incidents already started to finish. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.#running]);
  }
}
