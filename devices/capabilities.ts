/** Reusable pieces of device kinds: each contributes fields, events, config and units. */
import { z } from 'zod';
import type { Capability } from './define.ts';
import { unit } from './units.ts';

export const pct = z.number().min(0).max(100);

/** Battery-powered device: state of charge in telemetry, low-battery event from the device. */
export const battery = (): Capability => ({
  name: 'battery',
  telemetry: { battery_pct: pct.optional(), charging: z.boolean().optional() },
  events: [z.object({ type: z.literal('low_battery'), battery_pct: pct })],
  units: { battery_pct: unit('ratio', '%') },
});

/** Enclosure tamper switch or on-device tamper analytics. */
export const tamper = (reasons: readonly [string, ...string[]] = ['enclosure_opened']): Capability => ({
  name: 'tamper',
  events: [z.object({ type: z.literal('tamper'), reason: z.enum(reasons), active: z.boolean().default(true) })],
});

export const gpsFix = z.object({
  lat: z.number().min(-90).max(90),
  lon: z.number().min(-180).max(180),
  accuracy_m: z.number().nonnegative().max(100_000),
  alt_m: z.number().min(-500).max(10_000).optional(),
  speed_mps: z.number().nonnegative().max(100).optional(),
  heading_deg: z.number().min(0).max(360).optional(),
});

/** GNSS receiver. */
export const gps = (): Capability => ({
  name: 'gps',
  telemetry: { gps: gpsFix.optional() },
  config: { gpsIntervalS: z.number().int().min(1).max(3600).default(5) },
});

/** Publishes binary JPEG frames on its `snapshot` topic. */
export const snapshot = (): Capability => ({
  name: 'snapshot',
  config: { snapshotIntervalS: z.number().int().min(5).max(86_400).default(60) },
  snapshot: true,
});

/** Every kind reports on a configurable interval (issue 7 changes it remotely). */
export const reporting = (defaultS: number): Capability => ({
  name: 'reporting',
  config: { reportIntervalS: z.number().int().min(1).max(3600).default(defaultS) },
});
