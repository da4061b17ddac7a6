/**
 * Edge aggregation for chatty kinds: per device and window, min/max/mean of each numeric
 * field (and the sample count) instead of every reading, to save uplink bandwidth.
 * A window is closed by the first reading past it, or by `flushIdle` for devices gone quiet.
 */
import type { DeviceMessage } from '../../edge/message.ts';
import { flatten, type Fields } from './points.ts';

interface Window {
  start: number;
  msg: DeviceMessage;
  n: number;
  stats: Record<string, { min: number; max: number; sum: number }>;
}

export class Aggregator {
  readonly #windowMs: number;
  readonly #open = new Map<string, Window>();

  constructor(windowS: number) {
    this.#windowMs = windowS * 1000;
  }

  /** Add a reading; returns the closed window's message and fields when this reading starts a new one. */
  add(m: DeviceMessage): { msg: DeviceMessage; fields: Fields } | undefined {
    const start = Math.floor(m.ts / this.#windowMs) * this.#windowMs;
    const w = this.#open.get(m.deviceId);
    let closed: { msg: DeviceMessage; fields: Fields } | undefined;
    if (w && w.start !== start) {
      closed = this.#close(w);
      this.#open.delete(m.deviceId);
    }
    const cur = this.#open.get(m.deviceId) ?? { start, msg: m, n: 0, stats: {} };
    cur.n++;
    for (const [k, v] of Object.entries(flatten(m.data, m.kind))) {
      if (typeof v !== 'number') continue;
      const s = (cur.stats[k] ??= { min: v, max: v, sum: 0 });
      s.min = Math.min(s.min, v);
      s.max = Math.max(s.max, v);
      s.sum += v;
    }
    this.#open.set(m.deviceId, cur);
    return closed;
  }

  #close(w: Window): { msg: DeviceMessage; fields: Fields } {
    const fields: Fields = { samples: w.n };
    for (const [k, s] of Object.entries(w.stats)) Object.assign(fields, { [`${k}_min`]: s.min, [`${k}_max`]: s.max, [`${k}_mean`]: s.sum / w.n });
    return { msg: { ...w.msg, ts: w.start }, fields };
  }

  /** Close windows that ended before `now` (devices that went quiet). */
  flushIdle(now: number): { msg: DeviceMessage; fields: Fields }[] {
    const out: { msg: DeviceMessage; fields: Fields }[] = [];
    for (const [id, w] of this.#open) {
      if (w.start + this.#windowMs <= now) {
        out.push(this.#close(w));
        this.#open.delete(id);
      }
    }
    return out;
  }
}
