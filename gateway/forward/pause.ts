/** A wait that ends after `ms`, or sooner when woken (new points to send, a connection, a stop). */
export class Pause {
  #wake?: () => void;

  for(ms: number): Promise<void> {
    return new Promise((resolve) => {
      let t: NodeJS.Timeout | undefined = undefined;
      const done = () => {
        clearTimeout(t);
        this.#wake = undefined;
        resolve();
      };
      t = setTimeout(done, ms);
      this.#wake = done;
    });
  }

  /** End the wait in progress, if any. */
  wake(): void {
    this.#wake?.();
  }
}
