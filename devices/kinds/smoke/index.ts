/**
 * IoT smoke alarm: multi-sensor readings (the columns of the public smoke
 * detection dataset, see ../shared/datasets/README.md) plus optical
 * obscuration, battery, and alarm/test/fault/tamper events.
 */
import { z } from 'zod';
import { defineDevice } from '../../define.ts';
import { battery, reporting, tamper } from '../../capabilities.ts';
import { unit } from '../../units.ts';
import { faultRule, fireRule } from './rules.ts';
import { fireConfirmationRule } from './fire-confirmation.ts';

export const smoke = defineDevice({
  kind: 'smoke',
  title: 'Smoke alarm',
  description: 'Multi-sensor smoke/fire alarm: temperature, humidity, eCO2, TVOC and optical smoke obscuration.',
  telemetryPeriodS: 10,
  telemetry: {
    temperature_c: z.number().min(-40).max(150),
    humidity_pct: z.number().min(0).max(100),
    eco2_ppm: z.number().min(0).max(100_000),
    tvoc_ppb: z.number().min(0).max(100_000).optional(),
    /** Optical smoke obscuration in percent per metre (EN 54-7 scale; ~0 in clean air). */
    obscuration_pct_m: z.number().min(0).max(100),
  },
  units: {
    temperature_c: unit('temperature', '°C'),
    humidity_pct: unit('ratio', '%RH'),
    eco2_ppm: unit('none', 'ppm'),
    tvoc_ppb: unit('none', 'ppb'),
    obscuration_pct_m: unit('none', '%/m'),
  },
  events: [
    z.object({ type: z.literal('alarm'), active: z.boolean(), source: z.enum(['smoke', 'heat', 'co', 'manual']) }),
    z.object({ type: z.literal('test'), result: z.enum(['pass', 'fail']) }),
    z.object({ type: z.literal('fault'), code: z.enum(['sensor_fault', 'chamber_dirty', 'end_of_life', 'comm']), active: z.boolean() }),
  ],
  config: {
    sensitivity: z.enum(['low', 'normal', 'high']).default('normal'),
    hushDurationS: z.number().int().min(0).max(900).default(300),
  },
  capabilities: [reporting(10), battery(), tamper(['enclosure_opened', 'removed_from_base'])],
  alerts: {
    fire: { severity: 'critical', title: "Fire: the detector's alarm, smoke or heat over the alarm level, a smoulder, or a confirmed model suspicion." },
    fire_suspected: { severity: 'major', title: 'Pre-alarm: the smoke model alone suspects a fire; somebody should look.' },
    device_fault: { severity: 'minor', title: 'The detector reports a fault (sensor, dirty chamber, end of life).' },
  },
  rules: [fireRule, fireConfirmationRule, faultRule],
  detector: 'smoke',
  commands: {
    hush: {
      title: 'Silence the sounder for a while (the detector keeps sensing)',
      params: z.object({ seconds: z.number().int().min(10).max(900).default(300) }),
    },
    self_test: { title: 'Run the self-test (answered on the event channel too)', params: z.object({}) },
  },
});
