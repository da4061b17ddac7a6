/** Reinforcement: an operator sends officers now; where the officers of a site are. */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { idSchema } from '../../../devices/define.ts';
import { dispatchSchema, dispatchView } from '../../../edge/alerts/dispatch.ts';
import type { Dispatcher } from '../../dispatch/index.ts';
import { ZoneNotFoundError } from '../../errors.ts';
import { grants } from '../../security/identity.ts';
import { actorOf, anyRole } from '../auth.ts';
import { errorBody } from '../schemas.ts';

export const dispatchRoutes: FastifyPluginAsyncZod<{ dispatcher: Dispatcher }> = async (app, { dispatcher }) => {
  app.post(
    '/alerts/:id/dispatch',
    {
      config: { roles: anyRole },
      schema: {
        tags: ['alerts'],
        summary: 'Send reinforcement now: starts the dispatch to the nearest free officers, or asks the next nearest when one is running',
        params: z.object({ id: z.string() }),
        response: { 200: z.object({ alertId: z.string(), dispatch: dispatchSchema }), 401: errorBody, 404: errorBody, 409: errorBody },
      },
    },
    async (req) => {
      const who = actorOf(req);
      const a = dispatcher.request(req.params.id, { id: who.id, sites: req.principal!.sites, address: who.address });
      return { alertId: a.id, dispatch: dispatchView(a.dispatch) };
    },
  );

  app.get(
    '/sites/:site/officers',
    {
      config: { roles: anyRole },
      schema: {
        tags: ['sites'],
        summary: 'The devices that can be dispatched at a site (body cameras): online, last GPS fix and its age, the open alert each is engaged on',
        params: z.object({ site: idSchema }),
        response: {
          200: z.object({
            officers: z.array(
              z.object({
                deviceId: z.string(),
                officer: z.string().nullable(),
                online: z.boolean(),
                fix: z.object({ lat: z.number(), lon: z.number(), accuracyM: z.number().nullable(), ageS: z.number() }).nullable(),
                engaged: z.object({ alertId: z.string(), state: z.string() }).nullable(),
              }),
            ),
          }),
          401: errorBody,
          404: errorBody,
        },
      },
    },
    async (req) => {
      if (!grants(req.principal!.sites, req.params.site)) throw new ZoneNotFoundError(`${req.params.site}/*`);
      return { officers: dispatcher.officers(req.params.site) };
    },
  );
};
