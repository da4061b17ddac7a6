/**
 * From scores to decisions, the same way at runtime and in evaluation: a score at or above
 * `alert` for `persist` consecutive windows turns the detector on, a score below `clear` for
 * `persist` windows turns it off (hysteresis); the alarm is raised once the detector has been on
 * for `forS` seconds (man down: the body must stay down), and cleared when it turns off.
 */
export interface Thresholds {
  alert: number;
  clear: number;
  /** Consecutive windows needed to change state; 1 when absent. */
  persist?: number;
  /** Seconds the detector must stay on before the alarm is raised; 0 when absent. */
  forS?: number;
}

export class Decision {
  readonly #t: Required<Thresholds>;
  /** The alarm is raised. */
  active = false;
  /** The detector is on (it may not have been on for `forS` yet). */
  on = false;
  /** When the detector turned on, ms. */
  since = 0;
  #run = 0;

  constructor(t: Thresholds) {
    this.#t = { persist: 1, forS: 0, ...t };
  }

  snapshot(): DecisionSnapshot {
    return { active: this.active, on: this.on, since: this.since, run: this.#run };
  }

  static restore(t: Thresholds, s: DecisionSnapshot): Decision {
    const d = new Decision(t);
    d.active = s.active;
    d.on = s.on;
    d.since = s.since;
    d.#run = s.run;
    return d;
  }

  /** Returns 'raise' or 'clear' when the alarm changes with this score. */
  update(score: number, ts = 0): 'raise' | 'clear' | undefined {
    const toward = this.on ? score < this.#t.clear : score >= this.#t.alert;
    this.#run = toward ? this.#run + 1 : 0;
    if (this.#run >= this.#t.persist) {
      this.#run = 0;
      this.on = !this.on;
      if (this.on) this.since = ts;
    }
    if (this.on && !this.active && ts - this.since >= this.#t.forS * 1000) {
      this.active = true;
      return 'raise';
    }
    if (!this.on && this.active) {
      this.active = false;
      return 'clear';
    }
    return undefined;
  }
}

export interface DecisionSnapshot {
  active: boolean;
  on: boolean;
  since: number;
  run: number;
}
