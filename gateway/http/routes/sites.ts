/** The zones of a site: list (with the zones devices name but nobody registered), set, remove, history. */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { idSchema } from '../../../devices/define.ts';
import { ZoneNotFoundError } from '../../errors.ts';
import { grants } from '../../security/identity.ts';
import { zoneBodySchema, zoneNameSchema, type Sites, type Zone } from '../../sites/index.ts';
import { actorOf, adminOnly, anyRole } from '../auth.ts';
import { errorBody } from '../schemas.ts';

const zoneOut = zoneBodySchema.extend({ site: z.string(), zone: z.string(), version: z.number().int(), updatedAt: z.string(), updatedBy: z.string() });
const out = (z: Zone) => ({ ...z, updatedAt: new Date(z.updatedAt).toISOString() });
const params = z.object({ site: idSchema, zone: zoneNameSchema });

export const siteRoutes: FastifyPluginAsyncZod<{ sites: Sites }> = async (app, { sites }) => {
  /** A site the caller is not granted does not exist for them. */
  const visible = (req: { principal?: { sites: string[] } | null }, site: string, zone = '') => {
    if (!grants(req.principal!.sites, site)) throw new ZoneNotFoundError(`${site}/${zone}`);
  };

  app.get(
    '/sites/:site/zones',
    {
      config: { roles: anyRole },
      schema: {
        tags: ['sites'],
        summary: 'The zones of a site: registered ones with their coordinates, and zones devices name that are not registered yet',
        params: z.object({ site: idSchema }),
        response: {
          200: z.object({
            zones: z.array(
              zoneOut.partial().extend({
                site: z.string(),
                zone: z.string(),
                registered: z.boolean().describe('false: devices name this zone but it has no record (no coordinates: no dispatch to it)'),
                devices: z.number().int().describe('enabled devices provisioned in the zone'),
              }),
            ),
          }),
          401: errorBody,
          404: errorBody,
        },
      },
    },
    async (req) => {
      visible(req, req.params.site);
      return {
        zones: sites
          .list(req.params.site)
          .map(({ updatedAt, ...z }) => ({ ...z, ...(updatedAt !== undefined ? { updatedAt: new Date(updatedAt).toISOString() } : {}) })),
      };
    },
  );

  app.get(
    '/sites/:site/zones/:zone',
    {
      config: { roles: anyRole },
      schema: { tags: ['sites'], summary: 'One zone', params, response: { 200: zoneOut, 401: errorBody, 404: errorBody } },
    },
    async (req) => {
      visible(req, req.params.site, req.params.zone);
      const z = sites.zone(req.params.site, req.params.zone);
      if (!z) throw new ZoneNotFoundError(`${req.params.site}/${req.params.zone}`);
      return out(z);
    },
  );

  app.put(
    '/sites/:site/zones/:zone',
    {
      config: { roles: adminOnly },
      schema: {
        tags: ['sites'],
        summary: 'Create or replace a zone (name, coordinates, arrival radius); a new version, audited',
        params,
        body: zoneBodySchema,
        response: { 200: zoneOut, 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody },
      },
    },
    async (req) => {
      visible(req, req.params.site, req.params.zone);
      return out(sites.put(req.params.site, req.params.zone, req.body, actorOf(req)));
    },
  );

  app.delete(
    '/sites/:site/zones/:zone',
    {
      config: { roles: adminOnly },
      schema: {
        tags: ['sites'],
        summary: 'Remove a zone (its history stays)',
        params,
        response: { 204: z.null(), 401: errorBody, 403: errorBody, 404: errorBody },
      },
    },
    async (req, reply) => {
      visible(req, req.params.site, req.params.zone);
      sites.remove(req.params.site, req.params.zone, actorOf(req));
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/sites/:site/zones/:zone/history',
    {
      config: { roles: anyRole },
      schema: {
        tags: ['sites'],
        summary: 'Every version of a zone, newest first (data null: removed in that version)',
        params,
        response: {
          200: z.object({ versions: z.array(z.object({ version: z.number().int(), data: zoneBodySchema.nullable(), actor: z.string(), ts: z.string() })) }),
          401: errorBody,
          404: errorBody,
        },
      },
    },
    async (req) => {
      visible(req, req.params.site, req.params.zone);
      return { versions: sites.history(req.params.site, req.params.zone).map((v) => ({ ...v, ts: new Date(v.ts).toISOString() })) };
    },
  );
};
