/**
 * A model's manifest (`models/<id>/manifest.json`): what it is, the exact file it must be
 * (sha256, checked at load), what it reads and what its output means.
 */
import { z } from 'zod';
import { alertTypeSchema, getKind, kindSchema } from '../../devices/index.ts';

export const manifestSchema = z
  .object({
    id: z.string().regex(/^[a-z][a-z0-9-]{1,40}$/),
    version: z.string().regex(/^\d+\.\d+\.\d+$/, 'semantic version, e.g. 1.2.0'),
    kind: kindSchema.describe('the device kind it runs for'),
    detector: z
      .string()
      .regex(/^[a-z][a-z0-9-]{1,40}$/)
      .optional()
      .describe("the feature extractor it reads (edge/inference/detectors.ts); several models may serve one kind. Default: the kind's"),
    file: z.string().regex(/^[\w.-]+\.onnx$/),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    input: z.object({
      name: z.string(),
      features: z.array(z.string()).min(1).describe('feature names, in input order'),
      window: z.object({ seconds: z.number().positive() }).describe('how much history each inference looks at'),
    }),
    /** Standardisation is inside the graph; recorded here so an auditor can see it without opening the model. */
    normalisation: z.object({ mean: z.array(z.number()), std: z.array(z.number()) }),
    output: z.object({ name: z.string(), meaning: z.string() }),
    thresholds: z
      .object({
        alert: z.number().min(0).max(1),
        clear: z.number().min(0).max(1),
        persist: z.number().int().min(1).max(100).optional().describe('consecutive windows needed to raise or clear (default 1)'),
        forS: z.number().min(0).max(3600).optional().describe('seconds the detector must stay on before the alarm is raised (default 0)'),
      })
      .refine((t) => t.clear <= t.alert, 'clear must not exceed alert'),
    alertType: alertTypeSchema.describe('the alert type it raises: one its kind declares'),
    training: z.record(z.string(), z.unknown()).optional().describe('data, split and figures of the training run'),
  })
  .refine((m) => !getKind(m.kind) || m.alertType in getKind(m.kind)!.alerts, {
    message: 'the kind does not declare this alert type (devices/kinds/<kind>: alerts)',
    path: ['alertType'],
  })
  .refine((m) => m.normalisation.mean.length === m.input.features.length && m.normalisation.std.length === m.input.features.length, {
    message: 'normalisation must have one mean and one std per feature',
    path: ['normalisation'],
  });
export type Manifest = z.infer<typeof manifestSchema>;
