/**
 * The one listener mechanism of the box: `on(fn)` subscribes (and returns the unsubscribe), `emit`
 * calls every listener in subscription order. A listener that throws does not keep the others from
 * hearing the event: they all run, then the first error is rethrown to the emitter, which reports
 * it where its other failures go.
 */
export class Listeners<A extends unknown[]> {
  readonly #fns = new Set<(...args: A) => void>();

  on(fn: (...args: A) => void): () => void {
    this.#fns.add(fn);
    return () => this.#fns.delete(fn);
  }

  get size(): number {
    return this.#fns.size;
  }

  emit(...args: A): void {
    let failed: { err: unknown } | undefined;
    for (const fn of this.#fns) {
      try {
        fn(...args);
      } catch (err) {
        failed ??= { err };
      }
    }
    if (failed) throw failed.err;
  }
}
