/** Liveness and readiness for the supervisor (systemd, Kubernetes, a watchdog). */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { readiness } from '../schemas.ts';

export interface HealthDeps {
  readiness: () => z.infer<typeof readiness>;
  startedAt: number;
  version?: string;
}

export const healthRoutes: FastifyPluginAsyncZod<HealthDeps> = async (app, deps) => {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['health'],
        summary: 'Liveness: the process is up and serving HTTP',
        response: { 200: z.object({ status: z.literal('ok'), uptimeS: z.number(), version: z.string().optional() }) },
      },
    },
    async () => ({ status: 'ok' as const, uptimeS: Math.round((Date.now() - deps.startedAt) / 1000), ...(deps.version ? { version: deps.version } : {}) }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        summary: 'Readiness: every part the gateway needs is running (503 otherwise)',
        response: { 200: readiness, 503: readiness },
      },
    },
    async (_req, reply) => {
      const r = deps.readiness();
      return reply.code(r.ready ? 200 : 503).send(r);
    },
  );
};
