/** Evidence gathered for alerts: the bytes, to people granted the site (each view recorded), and who viewed them. */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Evidence } from '../../evidence/index.ts';
import type { Security } from '../../security/index.ts';
import { actorOf, adminOnly, anyRole } from '../auth.ts';
import { errorBody } from '../schemas.ts';

export const evidenceRoutes: FastifyPluginAsyncZod<{ evidence: Evidence; security: Security }> = async (app, { evidence, security }) => {
  app.get(
    '/evidence/:id',
    {
      config: { roles: anyRole },
      schema: {
        tags: ['evidence'],
        summary: 'One item of evidence (a JPEG snapshot taken for an alert); its sha256 is in `x-evidence-sha256`; the view is recorded',
        params: z.object({ id: z.string() }),
        response: { 200: z.any().describe('image/jpeg'), 401: errorBody, 404: errorBody },
      },
    },
    async (req, reply) => {
      const who = actorOf(req);
      const item = evidence.view(req.params.id, { id: who.id, sites: req.principal!.sites, address: who.address });
      security.audit.record({
        actor: who.id,
        action: 'evidence.view',
        target: req.params.id,
        outcome: 'ok',
        address: who.address,
        detail: { alert: item.alertId, device: item.device },
      });
      return reply.type('image/jpeg').header('x-evidence-sha256', item.sha256).header('x-evidence-alert', item.alertId).send(item.jpeg);
    },
  );

  app.get(
    '/evidence/:id/views',
    {
      config: { roles: adminOnly },
      schema: {
        tags: ['evidence'],
        summary: 'Chain of custody: who viewed an item, when, from where (oldest first)',
        params: z.object({ id: z.string() }),
        response: {
          200: z.object({ views: z.array(z.object({ actor: z.string(), address: z.string().nullable(), ts: z.string() })) }),
          401: errorBody,
          403: errorBody,
        },
      },
    },
    async (req) => ({ views: evidence.views(req.params.id).map((v) => ({ ...v, ts: new Date(v.ts).toISOString() })) }),
  );
};
