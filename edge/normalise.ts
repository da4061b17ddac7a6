/** Timestamp and unit normalisation, applied before schema validation so ranges hold in canonical units. */
import { convert, type DeviceDefinition } from '../devices/index.ts';
import type { Issue } from './message.ts';

/** Epoch values below this are taken as seconds (10^11 ms is 1973; 10^11 s is year 5138). */
const SECONDS_CUTOFF = 1e11;

export function toEpochMs(ts: number | string): number {
  if (typeof ts === 'string') return Date.parse(ts);
  return ts < SECONDS_CUTOFF ? ts * 1000 : ts;
}

export interface ResolvedTime {
  ts: number;
  deviceTs?: number;
  clockSkewed: boolean;
}

/** Trust the device clock unless it is missing or off by more than `maxSkewMs` (unset RTCs report 1970). */
export function resolveTime(deviceTs: number | string | undefined, receivedAt: number, maxSkewMs: number): ResolvedTime {
  if (deviceTs === undefined) return { ts: receivedAt, clockSkewed: false };
  const ms = toEpochMs(deviceTs);
  if (!Number.isFinite(ms) || Math.abs(ms - receivedAt) > maxSkewMs) {
    return { ts: receivedAt, deviceTs: Number.isFinite(ms) ? ms : undefined, clockSkewed: true };
  }
  return { ts: ms, deviceTs: ms, clockSkewed: false };
}

/**
 * Convert fields named in `body.units` into their canonical unit, in place.
 * Returns the problems found (unknown field, unit not accepted); the caller refuses the message if any.
 */
export function applyUnits(def: DeviceDefinition, body: Record<string, unknown>): Issue[] {
  const declared = body['units'];
  if (declared === undefined || declared === null || typeof declared !== 'object') return [];
  const issues: Issue[] = [];
  for (const [field, fromUnit] of Object.entries(declared as Record<string, unknown>)) {
    const spec = def.units[field];
    if (!spec || spec.quantity === 'none') {
      const convertible = Object.entries(def.units)
        .filter(([, s]) => s.quantity !== 'none')
        .map(([f]) => f);
      issues.push({
        path: `units.${field}`,
        message: `field "${field}" has no convertible unit; convertible fields: ${convertible.join(', ') || 'none'}`,
      });
      continue;
    }
    const path = field.split('.');
    const parent = path.slice(0, -1).reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), body);
    const leaf = path[path.length - 1]!;
    if (!parent || typeof parent !== 'object' || !(leaf in parent)) continue;
    try {
      (parent as Record<string, unknown>)[leaf] = convert(spec.quantity, String(fromUnit), (parent as Record<string, unknown>)[leaf]);
    } catch (err) {
      issues.push({ path: `units.${field}`, message: (err as Error).message });
    }
  }
  delete body['units'];
  return issues;
}
