/**
 * Several sources may speak about the same condition (the obscuration rule and the smoke model
 * both about `fire`, the man-down rule and model, a camera's own tamper event and the camera
 * model): the condition is active while any source says so, and clears only when all have cleared.
 * Active signals pass straight through (the engine dedupes them into one alert).
 */
import { conditionKey, type Condition } from './model.ts';

export class ConditionSources {
  readonly #active = new Map<string, Set<string>>();
  readonly #sink: (c: Condition) => void;

  constructor(sink: (c: Condition) => void) {
    this.#sink = sink;
  }

  signal(c: Condition): void {
    const key = conditionKey(c);
    const source = c.source ?? 'rules';
    let set = this.#active.get(key);
    if (c.active) {
      if (!set) this.#active.set(key, (set = new Set()));
      set.add(source);
      this.#sink(c);
      return;
    }
    if (set) {
      set.delete(source);
      if (set.size) return; // another source still sees it
      this.#active.delete(key);
    }
    this.#sink(c);
  }

  /** Sources currently holding a condition active (for tests and diagnostics). */
  sourcesOf(c: { site: string; deviceId: string; type: string }): string[] {
    return [...(this.#active.get(conditionKey(c)) ?? [])];
  }
}
