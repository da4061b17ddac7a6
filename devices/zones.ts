/**
 * What a zone of a site means for the rules: its type (a track is not a concourse), its opening
 * hours in its own time zone, how many people it holds, and the per-zone thresholds of the camera
 * analytics (minimum confidence, loitering time). Admins set them (gateway/sites); rules read them
 * through `RuleContext.zone`.
 */
import { z } from 'zod';

export const zoneTypes = ['concourse', 'restricted', 'track', 'platform_edge', 'gate', 'plaza', 'other'] as const;
export type ZoneType = (typeof zoneTypes)[number];

/** Zones nobody but staff should be in, at any hour. */
export const restrictedTypes: ReadonlySet<ZoneType> = new Set(['restricted', 'track', 'platform_edge']);

/** "HH:MM-HH:MM" local time; a close before the open runs past midnight ("18:00-02:00"). */
export const hoursSchema = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$/, 'must be "HH:MM-HH:MM" (24-hour local time, e.g. "05:30-23:30")')
  .refine((h) => h.slice(0, 5) !== h.slice(6), 'opening and closing times are the same: leave hours out for a zone open all day');

export const timeZoneSchema = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'is not an IANA time zone (e.g. "Asia/Shanghai")');

/** The meaning of a zone, as the rules see it (absent fields: the defaults below). */
export interface ZoneProfile {
  type?: ZoneType;
  capacity?: number;
  hours?: string;
  timezone?: string;
  /** Camera analytics below this confidence are not acted on in this zone. */
  minConfidence?: number;
  /** Loitering longer than this is an alert (minor; three times as long, or in a restricted zone: major). */
  loiteringS?: number;
}

export const defaultMinConfidence = 0.5;
export const defaultLoiteringS = (type: ZoneType | undefined): number => (type && restrictedTypes.has(type) ? 60 : 600);

const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

const formats = new Map<string, Intl.DateTimeFormat>();
/** One formatter per time zone (building one costs far more than using it). */
function formatter(timeZone: string | undefined): Intl.DateTimeFormat {
  const key = timeZone ?? '';
  let f = formats.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      weekday: 'short',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formats.set(key, f);
  }
  return f;
}

/** Local time at `ts` in `timeZone` (the box's own zone when absent): weekday (0 Sunday), minutes since midnight, date "YYYY-MM-DD". */
export function localTime(ts: number, timeZone?: string): { weekday: number; minutes: number; date: string } {
  const parts = formatter(timeZone).formatToParts(new Date(ts));
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  return {
    weekday: ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(get('weekday')),
    minutes: Number(get('hour')) * 60 + Number(get('minute')),
    date: `${get('year')}-${get('month')}-${get('day')}`,
  };
}

/** Minutes since local midnight at `ts` in `timeZone` (the box's own zone when absent). */
export function localMinutes(ts: number, timeZone?: string): number {
  return localTime(ts, timeZone).minutes;
}

/** Whether the zone is open at `ts` (a zone without hours always is). */
export function isOpen(z: Pick<ZoneProfile, 'hours' | 'timezone'> | undefined, ts: number): boolean {
  if (!z?.hours) return true;
  const open = minutesOf(z.hours.slice(0, 5));
  const close = minutesOf(z.hours.slice(6));
  const m = localMinutes(ts, z.timezone);
  return open < close ? m >= open && m < close : m >= open || m < close;
}
