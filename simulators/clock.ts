/**
 * Clocks for simulators and tests. What a simulated site does depends on the hour (rush-hour
 * crowds, door traffic, day/night temperature), so a run that must mean the same at any hour
 * pins the hour it exercises instead of reading the wall clock.
 */

/** A clock that reads `hour:minute` local time today when created, and then advances with `base`. */
export function clockAt(hour: number, minute = 0, base: () => number = Date.now): () => number {
  const start = new Date(base());
  start.setHours(hour, minute, 0, 0);
  const offset = start.getTime() - base();
  return () => base() + offset;
}

/**
 * A clock that runs `speed` times faster than `base` from `start`: what a time-compressed simulator
 * should stamp its readings with, so that a 20-minute smoulder spans 20 minutes of device time.
 */
export function compressedClock(speed: number, start: number, base: () => number = Date.now): () => number {
  const t0 = base();
  return () => start + (base() - t0) * speed;
}
