/** The device kinds this box knows, as data: what a console needs to draw a config form or a reading. */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { registeredKinds } from '../../../devices/index.ts';
import { anyRole } from '../auth.ts';
import { errorBody } from '../schemas.ts';

export const kindRoutes: FastifyPluginAsyncZod = async (app) => {
  const kinds = registeredKinds().map((k) => ({
    kind: k.kind,
    title: k.title,
    description: k.description,
    telemetryPeriodS: k.telemetryPeriodS,
    units: Object.fromEntries(Object.entries(k.units).map(([f, u]) => [f, u.unit])),
    eventTypes: [...k.eventTypes],
    alerts: Object.fromEntries(Object.entries(k.alerts).map(([t, a]) => [t, { severity: a.severity, title: a.title }])),
    commands: Object.fromEntries(Object.entries(k.commands).map(([n, c]) => [n, { title: c.title, roles: c.roles ? [...c.roles] : null }])),
    config: z.toJSONSchema(k.schemas.config, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>,
  }));
  app.get(
    '/kinds',
    {
      config: { roles: anyRole },
      schema: {
        tags: ['devices'],
        summary: 'Device kinds: readings and their units, events, alerts, commands, and the JSON Schema of their configuration',
        response: {
          200: z.object({
            kinds: z.array(
              z.object({
                kind: z.string(),
                title: z.string(),
                description: z.string(),
                telemetryPeriodS: z.number(),
                units: z.record(z.string(), z.string()),
                eventTypes: z.array(z.string()),
                alerts: z.record(z.string(), z.object({ severity: z.string(), title: z.string() })),
                commands: z.record(z.string(), z.object({ title: z.string(), roles: z.array(z.string()).nullable() })),
                config: z.record(z.string(), z.unknown()).describe('JSON Schema (input) of the kind’s configuration'),
              }),
            ),
          }),
          401: errorBody,
          403: errorBody,
        },
      },
    },
    async () => ({ kinds }),
  );
};
