/** Config flashing over HTTP: per device (push, history, rollback), status, staged rollouts. */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { idSchema, kindSchema } from '../../../devices/index.ts';
import { configInput, type Configs } from '../../configs/index.ts';
import { rolloutInput, type Rollouts } from '../../configs/rollouts.ts';
import { ForbiddenError, NotFoundError } from '../../errors.ts';
import { grants } from '../../security/identity.ts';
import type { Registry } from '../../security/registry.ts';
import { actorOf, anyRole, staffRoles } from '../auth.ts';
import { errorBody } from '../schemas.ts';

const errors = { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody, 409: errorBody };
const iso = (t: number) => new Date(t).toISOString();
const statusOut = z.object({
  deviceId: z.string(),
  site: z.string(),
  kind: z.string(),
  status: z.enum(['pending', 'in_sync', 'failed', 'drifted', 'never_configured']),
  desiredVersion: z.number().nullable(),
  reportedVersion: z.number().nullable(),
  reason: z.string().nullable(),
  updatedAt: z.string().nullable(),
});

export const configRoutes: FastifyPluginAsyncZod<{ configs: Configs; rollouts: Rollouts; registry: Registry }> = async (
  app,
  { configs, rollouts, registry },
) => {
  const device = (id: string, sites: string[]) => {
    const d = registry.getDevice(id);
    if (!d || !grants(sites, d.site)) throw new NotFoundError(`device "${id}" is not provisioned`);
    return d;
  };
  const status = (id: string) => {
    const d = registry.getDevice(id)!;
    const s = configs.state(id);
    return {
      deviceId: id,
      site: d.site,
      kind: d.kind,
      status: s?.status ?? 'never_configured',
      desiredVersion: s?.desiredVersion ?? null,
      reportedVersion: s?.reportedVersion ?? null,
      reason: s?.reason ?? null,
      updatedAt: s ? iso(s.updatedAt) : null,
    } as const;
  };

  app.get(
    '/sites/:site/config-key',
    {
      config: { roles: anyRole },
      schema: {
        tags: ['config'],
        summary: 'The site public key (Ed25519, PEM) that devices use to verify desired configs',
        params: z.object({ site: idSchema }),
        response: { 200: z.object({ site: z.string(), keyId: z.string(), publicKey: z.string() }), ...errors },
      },
    },
    async (req) => {
      if (!grants(req.principal!.sites, req.params.site)) throw new NotFoundError(`site "${req.params.site}" is not yours`);
      const k = configs.keys.get(req.params.site);
      return { site: req.params.site, keyId: k.keyId, publicKey: k.publicPem };
    },
  );

  app.get(
    '/devices/:id/config',
    {
      config: { roles: anyRole },
      schema: {
        tags: ['config'],
        summary: 'Desired and reported config of a device, its sync status and version history (newest first)',
        params: z.object({ id: z.string() }),
        response: {
          200: statusOut.extend({
            desired: z.record(z.string(), z.unknown()).nullable(),
            history: z.array(
              z.object({
                version: z.number(),
                author: z.string(),
                createdAt: z.string(),
                rolloutId: z.string().nullable(),
                note: z.string().nullable(),
                config: z.record(z.string(), z.unknown()),
              }),
            ),
          }),
          ...errors,
        },
      },
    },
    async (req) => {
      device(req.params.id, req.principal!.sites);
      const hist = configs.history(req.params.id);
      return { ...status(req.params.id), desired: hist[0]?.config ?? null, history: hist.map((h) => ({ ...h, createdAt: iso(h.createdAt) })) };
    },
  );

  app.post(
    '/devices/:id/config',
    {
      config: { roles: staffRoles },
      schema: {
        tags: ['config'],
        summary: 'Push a full config or a JSON merge patch to one device (engineer of its site)',
        description:
          '202: a new version is on its way to the device. 200 with `unchanged: true`: the device is already meant to run exactly this configuration; no version is made.',
        params: z.object({ id: z.string() }),
        body: configInput,
        response: { 202: statusOut, 200: statusOut.extend({ unchanged: z.literal(true) }), ...errors },
      },
    },
    async (req, reply) => {
      const d = device(req.params.id, req.principal!.sites);
      const config = configs.resolve(d, req.body);
      if (configs.unchanged(d.deviceId, config)) return reply.code(200).send({ ...status(d.deviceId), unchanged: true as const });
      configs.push(d, config, actorOf(req), { note: req.body.note });
      return reply.code(202).send(status(d.deviceId));
    },
  );

  app.post(
    '/devices/:id/config/rollback',
    {
      config: { roles: staffRoles },
      schema: {
        tags: ['config'],
        summary: 'Roll a device back to an earlier version (default: the previous one; 0 = defaults)',
        params: z.object({ id: z.string() }),
        body: z.object({ toVersion: z.number().int().min(0).optional() }).nullish(),
        response: { 202: statusOut, ...errors },
      },
    },
    async (req, reply) => {
      const d = device(req.params.id, req.principal!.sites);
      configs.rollback(d, actorOf(req), req.body?.toVersion);
      return reply.code(202).send(status(d.deviceId));
    },
  );

  app.get(
    '/config/status',
    {
      config: { roles: anyRole },
      schema: {
        tags: ['config'],
        summary: 'Which device runs which config version',
        querystring: z.object({ site: z.string().optional(), kind: kindSchema.optional() }),
        response: { 200: z.object({ devices: z.array(statusOut) }), ...errors },
      },
    },
    async (req) => ({
      devices: registry.listDevices({ site: req.query.site, kind: req.query.kind, sites: req.principal!.sites }).map((d) => status(d.deviceId)),
    }),
  );

  const rolloutOut = z.object({
    id: z.string(),
    createdBy: z.string(),
    createdAt: z.number(),
    state: z.enum(['running', 'completed', 'rolled_back', 'unchanged']),
    selector: z.record(z.string(), z.unknown()),
    total: z.number(),
    reason: z.string().nullable(),
    note: z.string().nullable(),
    waves: z.array(
      z.object({
        devices: z.array(z.string()),
        versions: z.record(z.string(), z.number()),
        status: z.record(z.string(), z.string()),
        failed: z.number(),
        done: z.boolean(),
      }),
    ),
  });

  app.post(
    '/config/rollouts',
    {
      config: { roles: staffRoles },
      schema: {
        tags: ['config'],
        summary: 'Push to every device matching a selector in waves: canary first, stop and roll back on failures',
        description:
          'Only devices whose configuration changes are in the waves. 200 with state `unchanged` (no rollout, no version): every matching device already has it.',
        body: rolloutInput,
        response: { 202: rolloutOut, 200: rolloutOut, ...errors },
      },
    },
    async (req, reply) => {
      if (!grants(req.principal!.sites, req.body.selector.site))
        throw new ForbiddenError(`"${req.principal!.id}" is not granted site "${req.body.selector.site}"`);
      const r = rollouts.start(req.body, actorOf(req));
      return reply.code(r.state === 'unchanged' ? 200 : 202).send(r);
    },
  );

  app.get(
    '/config/rollouts',
    {
      config: { roles: anyRole },
      schema: { tags: ['config'], summary: 'Recent rollouts, newest first', response: { 200: z.object({ rollouts: z.array(rolloutOut) }), ...errors } },
    },
    async (req) => ({ rollouts: rollouts.list().filter((r) => grants(req.principal!.sites, r.selector.site)) }),
  );

  app.get(
    '/config/rollouts/:id',
    {
      config: { roles: anyRole },
      schema: {
        tags: ['config'],
        summary: 'One rollout with per-wave, per-device progress',
        params: z.object({ id: z.string() }),
        response: { 200: rolloutOut, ...errors },
      },
    },
    async (req) => {
      const r = rollouts.get(req.params.id);
      if (!r || !grants(req.principal!.sites, r.selector.site)) throw new NotFoundError(`rollout ${req.params.id} does not exist`);
      return r;
    },
  );

  app.post(
    '/config/rollouts/:id/rollback',
    {
      config: { roles: staffRoles },
      schema: {
        tags: ['config'],
        summary: 'Roll every device of a rollout back to what it ran before',
        params: z.object({ id: z.string() }),
        response: { 202: rolloutOut, ...errors },
      },
    },
    async (req, reply) => {
      const r = rollouts.get(req.params.id);
      if (!r || !grants(req.principal!.sites, r.selector.site)) throw new NotFoundError(`rollout ${req.params.id} does not exist`);
      return reply.code(202).send(rollouts.rollback(r.id, actorOf(req)));
    },
  );
};
