/**
 * From scores to decisions, the same way at runtime and in evaluation: a detector raises after
 * `persist` consecutive scores at or above `alert`, and clears after `persist` consecutive scores
 * below `clear` (hysteresis), so one noisy window neither raises nor clears an alarm.
 */
export interface Thresholds {
  alert: number;
  clear: number;
  /** Consecutive windows needed to change state; 1 when absent. */
  persist?: number;
}

export class Decision {
  readonly #t: Required<Thresholds>;
  active = false;
  #run = 0;

  constructor(t: Thresholds) {
    this.#t = { persist: 1, ...t };
  }

  /** Returns 'raise' or 'clear' when the state changes with this score. */
  update(score: number): 'raise' | 'clear' | undefined {
    const toward = this.active ? score < this.#t.clear : score >= this.#t.alert;
    this.#run = toward ? this.#run + 1 : 0;
    if (this.#run < this.#t.persist) return undefined;
    this.#run = 0;
    this.active = !this.active;
    return this.active ? 'raise' : 'clear';
  }
}
