/**
 * Canonical units and the conversions the gateway accepts.
 *
 * Every numeric field of a device schema is stored in one canonical unit
 * (named in the field, e.g. `temperature_c`). A device whose firmware reports
 * another unit says so in the message's `units` map
 * (`{"units": {"temperature_c": "degF"}}`) and the ingest stage converts the
 * value before anything downstream sees it.
 */

export type Quantity = 'temperature' | 'acceleration' | 'angularVelocity' | 'ratio' | 'none';

interface QuantitySpec {
  canonical: string;
  /** unit name → converter into the canonical unit */
  from: Record<string, (v: number) => number>;
}

const G = 9.80665;

export const quantities: Record<Exclude<Quantity, 'none'>, QuantitySpec> = {
  temperature: {
    canonical: 'degC',
    from: { degC: (v) => v, degF: (v) => ((v - 32) * 5) / 9, K: (v) => v - 273.15 },
  },
  acceleration: {
    canonical: 'g',
    from: { g: (v) => v, 'm/s2': (v) => v / G },
  },
  angularVelocity: {
    canonical: 'dps',
    from: { dps: (v) => v, 'rad/s': (v) => (v * 180) / Math.PI },
  },
  ratio: {
    canonical: 'pct',
    from: { pct: (v) => v, fraction: (v) => v * 100 },
  },
};

/** A field that carries a physical quantity; `unit` is its canonical symbol for humans. */
export interface UnitSpec {
  quantity: Quantity;
  unit: string;
}

export const unit = (quantity: Quantity, symbol: string): UnitSpec => ({ quantity, unit: symbol });

/** Units a message may declare for a field, for documentation and errors. */
export function acceptedUnits(q: Quantity): string[] {
  return q === 'none' ? [] : Object.keys(quantities[q].from);
}

/** Convert a number, or nested arrays of numbers (IMU windows), into the canonical unit. */
export function convert(q: Quantity, fromUnit: string, value: unknown): unknown {
  if (q === 'none') return value;
  const fn = quantities[q].from[fromUnit];
  if (!fn) throw new Error(`unit "${fromUnit}" is not accepted; use one of ${acceptedUnits(q).join(', ')}`);
  const walk = (v: unknown): unknown => (typeof v === 'number' ? fn(v) : Array.isArray(v) ? v.map(walk) : v);
  return walk(value);
}
