/** Models on the box: what runs, and hot reload with automatic rollback on failure. */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Inference } from '../../inference/index.ts';
import type { LoadedModel } from '../../inference/models.ts';
import type { SqlitePersistence } from '../../broker/persistence.ts';
import type { AuditLog } from '../../security/audit.ts';
import { actorOf, adminOnly, anyRole } from '../auth.ts';
import { errorBody } from '../schemas.ts';
import { ModelLoadError } from '../../errors.ts';

const modelOut = z.object({
  id: z.string(),
  version: z.string(),
  kind: z.string(),
  alertType: z.string(),
  features: z.array(z.string()),
  sha256: z.string(),
  loadedAt: z.string(),
  inferences: z.number(),
  runs: z.number(),
});

/** Persistent MQTT sessions and what is queued for them (durable broker state). */
export const sessionRoutes: FastifyPluginAsyncZod<{ persistence?: SqlitePersistence }> = async (app, { persistence }) => {
  app.get(
    '/broker/sessions',
    {
      config: { roles: adminOnly },
      schema: {
        tags: ['broker'],
        summary:
          'Persistent sessions (clean = false) with messages queued for them, and how many queued messages were dropped since start (full queues drop the oldest non-alert first; abandoned sessions expire)',
        response: {
          200: z.object({
            durable: z.boolean(),
            sessions: z.array(z.object({ clientId: z.string(), messages: z.number(), bytes: z.number() })),
            dropped: z.number(),
          }),
          401: errorBody,
          403: errorBody,
        },
      },
    },
    async () => ({ durable: !!persistence, sessions: persistence?.queued() ?? [], dropped: persistence?.dropped ?? 0 }),
  );
};

export const modelRoutes: FastifyPluginAsyncZod<{ inference: Inference; audit: AuditLog }> = async (app, { inference, audit }) => {
  const out = (m: LoadedModel) => ({
    id: m.manifest.id,
    version: m.manifest.version,
    kind: m.manifest.kind,
    alertType: m.manifest.alertType,
    features: m.manifest.input.features,
    sha256: m.manifest.sha256,
    loadedAt: new Date(m.loadedAt).toISOString(),
    inferences: m.batcher.stats.inferences,
    runs: m.batcher.stats.runs,
  });

  app.get(
    '/models',
    {
      config: { roles: anyRole },
      schema: {
        tags: ['models'],
        summary: 'Loaded models and recent load problems (none loaded: rules only)',
        response: { 200: z.object({ models: z.array(modelOut), problems: z.array(z.object({ id: z.string(), at: z.string(), error: z.string() })) }) },
      },
    },
    async () => ({
      models: inference.models.models.map(out),
      problems: inference.models.problems.map((p) => ({ ...p, at: new Date(p.at).toISOString() })),
    }),
  );

  app.post(
    '/models/:id/reload',
    {
      config: { roles: adminOnly },
      schema: {
        tags: ['models'],
        summary: 'Load the version now in models/<id>/; if it fails, the running version keeps serving (409)',
        params: z.object({ id: z.string().regex(/^[a-z][a-z0-9-]{1,40}$/) }),
        response: { 200: modelOut, 401: errorBody, 403: errorBody, 409: errorBody },
      },
    },
    async (req) => {
      try {
        const m = await inference.reload(req.params.id);
        audit.record({
          actor: actorOf(req).id,
          address: req.ip,
          action: 'model.reload',
          target: req.params.id,
          outcome: 'ok',
          detail: { version: m.manifest.version, sha256: m.manifest.sha256 },
        });
        return out(m);
      } catch (err) {
        audit.record({
          actor: actorOf(req).id,
          address: req.ip,
          action: 'model.reload',
          target: req.params.id,
          outcome: 'failed',
          detail: { error: (err as Error).message },
        });
        throw new ModelLoadError((err as Error).message);
      }
    },
  );
};
