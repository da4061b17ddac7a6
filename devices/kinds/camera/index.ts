/** Smart camera: on-board analytics events (intrusion and loitering become alerts where the zone says so), periodic health, JPEG snapshots. */
import { z } from 'zod';
import { defineDevice } from '../../define.ts';
import { reporting, snapshot, tamper } from '../../capabilities.ts';
import { unit } from '../../units.ts';
import { analyticsRule } from './rules.ts';

const zone = z.string().min(1).max(64);
const confidence = z.number().min(0).max(1);
/** Normalised bounding box [x, y, w, h] in 0..1 of the frame. */
const bbox = z.tuple([z.number().min(0).max(1), z.number().min(0).max(1), z.number().min(0).max(1), z.number().min(0).max(1)]);

export const camera = defineDevice({
  kind: 'camera',
  title: 'Smart camera',
  description: 'Fixed camera with on-board analytics (motion, intrusion, loitering, crowd counting) and JPEG snapshots.',
  telemetryPeriodS: 30,
  telemetry: {
    fps: z.number().min(0).max(240),
    bitrate_kbps: z.number().min(0).max(100_000),
    temperature_c: z.number().min(-40).max(125),
    storage_free_pct: z.number().min(0).max(100).optional(),
    stream_ok: z.boolean().optional(),
  },
  units: {
    fps: unit('none', 'frame/s'),
    bitrate_kbps: unit('none', 'kbit/s'),
    temperature_c: unit('temperature', '°C'),
  },
  events: [
    z.object({ type: z.literal('motion'), zone, confidence }),
    z.object({ type: z.literal('intrusion'), zone, confidence, object: z.enum(['person', 'vehicle', 'other']), bbox: bbox.optional() }),
    z.object({ type: z.literal('loitering'), zone, confidence, duration_s: z.number().nonnegative() }),
    z.object({ type: z.literal('crowd_count'), zone, count: z.number().int().nonnegative() }),
  ],
  config: {
    sensitivity: z.number().min(0).max(1).default(0.5),
    analytics: z
      .object({
        motion: z.boolean().default(true),
        intrusion: z.boolean().default(true),
        loitering: z.boolean().default(true),
        crowd: z.boolean().default(false),
      })
      .prefault({}),
    loiteringThresholdS: z.number().int().min(5).max(3600).default(60),
  },
  capabilities: [reporting(30), snapshot(), tamper(['covered', 'defocused', 'moved', 'glare', 'dark', 'enclosure_opened'], 'camera_tamper')],
  alerts: {
    intrusion: { severity: 'critical', title: 'A person or vehicle in a staff-only zone, or in any zone outside its opening hours (camera analytics).' },
    loitering: { severity: 'minor', title: "Someone stayed longer than the zone's loitering threshold (camera analytics)." },
    crowd_surge: {
      severity: 'major',
      title:
        "A zone's crowd rising towards its capacity faster than its usual day allows, the precursor of a crush (crowd-zone model, all the zone's cameras).",
    },
    crowd_dispersal: { severity: 'critical', title: 'A dense crowd suddenly gone from a zone on several of its cameras: people fleeing (crowd-zone model).' },
  },
  rules: [analyticsRule],
  detector: 'camera-scene',
  commands: {
    snapshot: { title: 'Take a snapshot now (published on the snapshot channel)', params: z.object({}) },
    ptz_preset: { title: 'Move to a pan-tilt-zoom preset', params: z.object({ preset: z.number().int().min(1).max(255) }) },
  },
});
