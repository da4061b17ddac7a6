/** Reusable pieces of device kinds: each contributes fields, events, config and units. */
import { z } from 'zod';
import type { Capability } from './define.ts';
import { defineRule, perDevice } from './rules.ts';
import { unit } from './units.ts';

export const pct = z.number().min(0).max(100);

/** Battery below lowBatteryPct raises low_battery; it clears above lowBatteryPct + 5 (hysteresis, so a battery hovering at the threshold does not flap). */
const lowBattery = defineRule({
  name: 'low-battery',
  settings: z.object({ lowBatteryPct: z.number().min(1).max(90).default(15).describe('Battery below this raises low_battery; it clears 5 points above.') }),
  create: perDevice<{ low?: boolean }, { lowBatteryPct: number }>(
    (m, mem, emit, s) => {
      const d = m.data;
      if (m.channel === 'event' && d['type'] === 'low_battery') {
        mem.low = true;
        const level = typeof d['battery_pct'] === 'number' ? ` (${d['battery_pct']} %)` : '';
        emit('low_battery', true, `device reports low battery${level}`, typeof d['battery_pct'] === 'number' ? { battery_pct: d['battery_pct'] } : {});
        return;
      }
      const pct = d['battery_pct'];
      if (m.channel !== 'telemetry' || typeof pct !== 'number') return;
      if (!mem.low && pct < s.lowBatteryPct) {
        mem.low = true;
        emit('low_battery', true, `battery ${pct} % (below ${s.lowBatteryPct} %)`, { battery_pct: pct });
      } else if (mem.low && pct > s.lowBatteryPct + 5) {
        mem.low = false;
        emit('low_battery', false, `battery ${pct} %`);
      }
    },
    () => ({}),
  ),
});

/** Battery-powered device: state of charge in telemetry, low-battery event from the device. */
export const battery = (): Capability => ({
  name: 'battery',
  telemetry: { battery_pct: pct.optional(), charging: z.boolean().optional() },
  // The level is optional: some devices only say "low" (a zigbee2mqtt battery_low).
  events: [z.object({ type: z.literal('low_battery'), battery_pct: pct.optional() })],
  units: { battery_pct: unit('ratio', '%') },
  alerts: { low_battery: { severity: 'minor', title: 'Battery low: replace or charge it before the device goes silent.' } },
  rules: [lowBattery],
});

/**
 * Enclosure tamper switch or on-device tamper analytics; the device's `tamper` event raises `alertType`
 * (a camera's is `camera_tamper`, which its scene model raises too).
 */
export const tamper = (reasons: readonly [string, ...string[]] = ['enclosure_opened'], alertType = 'device_tamper'): Capability => ({
  name: 'tamper',
  events: [z.object({ type: z.literal('tamper'), reason: z.enum(reasons), active: z.boolean().default(true) })],
  alerts: { [alertType]: { severity: 'major', title: 'The device reports tampering (opened, removed, covered, moved ...).' } },
  rules: [
    defineRule({
      name: 'tamper',
      create: perDevice(
        (m, _mem, emit) => {
          if (m.channel !== 'event' || m.data['type'] !== 'tamper') return;
          emit(alertType, m.data['active'] !== false, `${m.kind} reports tamper: ${String(m.data['reason']).replace(/_/g, ' ')}`, { reason: m.data['reason'] });
        },
        () => ({}),
      ),
    }),
  ],
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

/** Every kind reports on a configurable interval (a pushed configuration changes it remotely). */
export const reporting = (defaultS: number): Capability => ({
  name: 'reporting',
  config: { reportIntervalS: z.number().int().min(1).max(3600).default(defaultS) },
});
