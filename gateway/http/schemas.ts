/** Response schemas of the HTTP API: they validate, type and document (OpenAPI at /docs) at once. */
import { z } from 'zod';
import { kindSchema } from '../../devices/index.ts';
import { refusalCodes } from '../../edge/message.ts';

/** The one error shape of the API (a shared component, `Error`, in the OpenAPI document). */
export const errorBody = z
  .object({
    statusCode: z.number(),
    code: z.string().describe('stable machine-readable code, e.g. VIGIL_ERR_VALIDATION'),
    error: z.string(),
    message: z.string(),
    details: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .describe('one entry per invalid field'),
  })
  .meta({ id: 'Error' });

const isoTime = z.string().describe('ISO 8601 time');

export const reading = z.object({
  ts: isoTime.describe('when the device measured it'),
  receivedAt: isoTime,
  data: z.record(z.string(), z.unknown()),
});

export const deviceSummary = z.object({
  deviceId: z.string(),
  site: z.string(),
  kind: kindSchema,
  zone: z.string().nullable(),
  tags: z.array(z.string()),
  registration: z.enum(['enabled', 'disabled', 'revoked', 'unregistered']).describe('registry state; unregistered = seen in anonymous dev mode only'),
  online: z.boolean().describe('connected and not reporting itself offline'),
  connected: z.boolean(),
  firstSeen: isoTime.nullable().describe('first message since the gateway started'),
  lastSeen: isoTime.nullable(),
  messages: z.number().int().describe('messages accepted since the gateway started'),
  refused: z.number().int().describe('messages refused since the gateway started'),
  refusedByReason: z.partialRecord(z.enum(refusalCodes as [string, ...string[]]), z.number().int()),
});

export const deviceDetail = deviceSummary.extend({
  status: reading.optional(),
  telemetry: reading.optional(),
  lastEvent: reading.optional(),
  lastSnapshot: z.object({ ts: isoTime, bytes: z.number().int(), width: z.number().int(), height: z.number().int() }).optional(),
  configReported: reading.optional(),
  clockSkewed: z.number().int().describe('messages whose device clock was missing or implausible'),
});

export const readiness = z.object({
  ready: z.boolean(),
  checks: z.record(
    z.string(),
    z.object({
      ok: z.boolean(),
      detail: z.string().optional(),
      critical: z.boolean().optional().describe('false: reported, but the gateway stays ready without it (an uplink down is what the spool is for)'),
    }),
  ),
});
