/**
 * Ground truth of injected incidents, so detectors and alerts
 * can be scored against what really happened. One JSON object per line.
 */
import { appendFileSync } from 'node:fs';

/** The shipped simulators' incidents; a kind registered elsewhere brings its own names. */
export type IncidentType =
  | (string & {})
  | 'fire'
  | 'smoulder'
  | 'vape'
  | 'cooking'
  | 'toaster'
  | 'forced_door'
  | 'door_held_open'
  | 'brute_force'
  | 'intrusion'
  | 'loitering'
  | 'crowd_surge'
  | 'crowd_dispersal'
  | 'camera_covered'
  | 'camera_defocused'
  | 'camera_moved'
  | 'camera_glare'
  | 'camera_dark'
  | 'man_down'
  | 'sos'
  | 'device_offline';

export interface IncidentLabel {
  id: string;
  type: IncidentType;
  site: string;
  kind: string;
  deviceId: string;
  /** epoch ms */
  start: number;
  end: number;
  note?: string;
}

export class LabelLog {
  readonly labels: IncidentLabel[] = [];
  readonly #file?: string;
  #n = 0;
  readonly #listeners: ((l: IncidentLabel) => void)[] = [];

  constructor(file?: string) {
    this.#file = file;
  }

  record(l: Omit<IncidentLabel, 'id'>): IncidentLabel {
    const label = { id: `inc-${++this.#n}`, ...l };
    this.labels.push(label);
    if (this.#file) appendFileSync(this.#file, JSON.stringify(label) + '\n');
    for (const fn of this.#listeners) fn(label);
    return label;
  }

  onLabel(fn: (l: IncidentLabel) => void): void {
    this.#listeners.push(fn);
  }
}
