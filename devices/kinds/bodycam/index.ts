/** 5G body-worn camera: GPS, IMU windows, battery, radio, recording state, SOS button, snapshots. */
import { z } from 'zod';
import { defineDevice } from '../../define.ts';
import { battery, gps, reporting, snapshot, tamper } from '../../capabilities.ts';
import { unit } from '../../units.ts';
import { manDownRule, sosRule } from './rules.ts';
import { imuStats, type ImuWindow } from './imu.ts';

const vec3 = z.tuple([z.number(), z.number(), z.number()]);

/**
 * A short IMU window: `rate_hz` samples per second, accelerometer in g and
 * gyroscope in degrees per second (or declared otherwise in `units`).
 */
export const imuWindow = z
  .object({
    rate_hz: z.number().min(1).max(1000),
    accel_g: z.array(vec3).min(1).max(1000),
    gyro_dps: z.array(vec3).max(1000).optional(),
  })
  .refine((w) => !w.gyro_dps || w.gyro_dps.length === w.accel_g.length, {
    message: 'gyro_dps must have as many samples as accel_g',
    path: ['gyro_dps'],
  });

export const bodycam = defineDevice({
  kind: 'bodycam',
  title: '5G body-worn camera',
  description: 'Officer-worn camera on 5G/LTE with GNSS, IMU, SOS button and recording state.',
  telemetryPeriodS: 2,
  telemetry: {
    imu: imuWindow.optional(),
    recording: z.boolean(),
    signal: z
      .object({
        network: z.enum(['5g', 'lte', 'none']),
        rsrp_dbm: z.number().min(-160).max(-20).optional(),
        sinr_db: z.number().min(-30).max(50).optional(),
      })
      .optional(),
    officer: z.string().min(1).max(64).optional(),
  },
  units: {
    'imu.accel_g': unit('acceleration', 'g'),
    'imu.gyro_dps': unit('angularVelocity', '°/s'),
  },
  events: [
    z.object({ type: z.literal('sos'), pressed: z.boolean().default(true) }),
    z.object({ type: z.literal('recording_started'), trigger: z.enum(['manual', 'sos', 'remote', 'auto']) }),
    z.object({ type: z.literal('recording_stopped') }),
    // The officer's answer to a `dispatch` command (gateway/dispatch).
    z.object({ type: z.literal('dispatch_accepted'), alertId: z.string().min(1).max(64) }),
    z.object({
      type: z.literal('dispatch_declined'),
      alertId: z.string().min(1).max(64),
      reason: z.enum(['busy', 'out_of_range', 'off_duty', 'unsafe', 'other']).default('other'),
    }),
  ],
  config: {
    streaming: z.enum(['off', 'on_sos', 'always']).default('on_sos'),
    uploadWifiOnly: z.boolean().default(false),
    imuRateHz: z.number().int().min(10).max(200).default(50),
  },
  capabilities: [reporting(2), gps(), battery(), snapshot(), tamper(['case_opened'])],
  alerts: {
    sos: { severity: 'critical', title: 'The officer pressed the SOS button (resolved by an operator only).' },
    man_down: { severity: 'critical', title: 'The officer fell and has not moved since (IMU rule or model).' },
  },
  rules: [sosRule, manDownRule],
  // A window of raw samples is no time series: the store gets its summary (the rules read the same, memoised).
  summaries: {
    imu: {
      types: { imu_samples: 'integer', imu_accel_peak_g: 'float', imu_accel_mean_g: 'float', imu_accel_sd_g: 'float', imu_gyro_mean_dps: 'float' },
      summarise(v) {
        const s = imuStats(v as ImuWindow);
        return {
          imu_samples: s.samples,
          imu_accel_peak_g: s.peakG,
          imu_accel_mean_g: s.meanG,
          imu_accel_sd_g: s.sdG,
          ...(s.gyroMeanDps !== undefined ? { imu_gyro_mean_dps: s.gyroMeanDps } : {}),
        };
      },
    },
  },
  detector: 'man-down',
  commands: {
    snapshot: { title: 'Take a snapshot now (published on the snapshot channel)', params: z.object({}), roles: ['consumer', 'engineer', 'admin'] },
    start_recording: { title: 'Start recording', params: z.object({}), roles: ['consumer', 'engineer', 'admin'] },
    start_stream: { title: 'Start a live stream; the reply carries its URL', params: z.object({}), roles: ['consumer', 'engineer', 'admin'] },
    locate: { title: 'Report a GPS fix now', params: z.object({}), roles: ['consumer', 'engineer', 'admin'] },
    // Reinforcement goes through the dispatcher (automatic, or POST /api/v1/alerts/:id/dispatch), which tracks answers and arrival.
    dispatch: {
      title: 'Send the officer to an incident (alert, where, distance, ETA, why); the officer answers with a dispatch_accepted or dispatch_declined event',
      params: z
        .object({
          alertId: z.string().min(1).max(64),
          type: z.string().min(1).max(64),
          severity: z.string().min(1).max(16),
          zone: z.string().max(64).nullable(),
          lat: z.number().min(-90).max(90),
          lon: z.number().min(-180).max(180),
          distanceM: z.number().nonnegative(),
          etaS: z.number().nonnegative(),
          reason: z.string().max(300),
        })
        .strict(),
      roles: ['admin'],
      timeoutS: 15,
    },
    stand_down: {
      title: 'Release the officer from a dispatch (the alert is resolved)',
      params: z.object({ alertId: z.string().min(1).max(64), reason: z.string().max(300) }).strict(),
      roles: ['admin'],
      timeoutS: 15,
    },
  },
  // The officer's own camera records what happens to them.
  onAlert: { man_down: { command: 'start_recording' }, sos: { command: 'start_recording' } },
});
