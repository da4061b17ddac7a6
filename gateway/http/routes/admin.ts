/** Credential management (admin): provision devices one by one or in bulk, rotate, revoke; principals; the audit log. */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { kindSchema } from '../../../devices/index.ts';
import type { Security } from '../../security/index.ts';
import { parseBulk, principalSchema, provisionSchema, roles, type DeviceRecord, type Principal } from '../../security/registry.ts';
import { actorOf, adminOnly, anyRole } from '../auth.ts';
import { errorBody } from '../schemas.ts';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export const registeredDevice = z.object({
  deviceId: z.string(),
  kind: kindSchema,
  site: z.string(),
  zone: z.string().nullable(),
  tags: z.array(z.string()),
  externalId: z.string().nullable().describe("the vendor's name for it (a zigbee2mqtt friendly name)"),
  state: z.enum(['enabled', 'disabled', 'revoked']),
  createdAt: z.string(),
  lastSeen: z.string().nullable(),
  lastAddress: z.string().nullable(),
});
export const deviceOut = (d: DeviceRecord): z.infer<typeof registeredDevice> => ({
  deviceId: d.deviceId,
  kind: d.kind as z.infer<typeof registeredDevice>['kind'],
  site: d.site,
  zone: d.zone,
  tags: d.tags,
  externalId: d.externalId,
  state: d.state,
  createdAt: iso(d.createdAt)!,
  lastSeen: iso(d.lastSeen),
  lastAddress: d.lastAddress,
});

export const credentials = z.object({
  username: z.string(),
  password: z.string().describe('shown this once; store it in the device (or bridge), it cannot be read back'),
});
const principalOut = z.object({
  id: z.string(),
  role: z.enum(roles),
  sites: z.array(z.string()),
  state: z.enum(['enabled', 'revoked']),
  createdAt: z.string(),
});
const pOut = (p: Principal) => ({ ...p, createdAt: iso(p.createdAt)! });
const idParam = z.object({ id: z.string().min(1).max(64) });
const errors = { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody, 409: errorBody };

export const adminRoutes: FastifyPluginAsyncZod<{ security: Security }> = async (app, { security }) => {
  const { registry, audit } = security;
  app.get(
    '/me',
    {
      config: { roles: anyRole },
      schema: {
        tags: ['admin'],
        summary: 'Who the token belongs to: principal id, role and granted sites (the CLI subscribes to those)',
        response: { 200: z.object({ id: z.string(), role: z.enum(roles), sites: z.array(z.string()) }), 401: errorBody },
      },
    },
    async (req) => {
      const p = req.principal!;
      return { id: p.id, role: p.role, sites: p.sites };
    },
  );

  app.addContentTypeParser('text/csv', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  app.post(
    '/devices',
    {
      config: { roles: adminOnly },
      schema: {
        tags: ['provisioning'],
        summary: 'Provision one device; returns its MQTT credentials once',
        body: provisionSchema,
        response: { 201: z.object({ device: registeredDevice, credentials }), ...errors },
      },
    },
    async (req, reply) => {
      const r = await registry.provision(req.body, actorOf(req));
      return reply.code(201).send({ device: deviceOut(r.device), credentials: r.credentials });
    },
  );

  app.post(
    '/devices/bulk',
    {
      config: { roles: adminOnly },
      schema: {
        tags: ['provisioning'],
        summary: 'Provision many devices from a JSON array or CSV (deviceId,kind,site,zone,tags); all or nothing',
        consumes: ['application/json', 'text/csv'],
        body: z.union([
          z.string().describe('text/csv: a header line deviceId,kind,site,zone,tags, then one device per line'),
          z.array(z.unknown()),
          z.object({ devices: z.array(z.unknown()) }),
        ]),
        response: { 201: z.object({ count: z.number(), devices: z.array(z.object({ device: registeredDevice, credentials })) }), ...errors },
      },
    },
    async (req, reply) => {
      const list = typeof req.body === 'string' ? parseBulk(req.body, 'csv') : Array.isArray(req.body) ? req.body : req.body.devices;
      const out = await registry.provisionMany(list, actorOf(req));
      return reply.code(201).send({ count: out.length, devices: out.map((r) => ({ device: deviceOut(r.device), credentials: r.credentials })) });
    },
  );

  app.post(
    '/devices/:id/rotate',
    {
      config: { roles: adminOnly },
      schema: {
        tags: ['provisioning'],
        summary: 'New secret for a device (the old one stops working; a revoked device is reinstated)',
        params: idParam,
        response: { 200: z.object({ credentials }), ...errors },
      },
    },
    async (req) => {
      const c = await registry.rotateDevice(req.params.id, actorOf(req));
      security.enforceRevocations();
      return { credentials: c };
    },
  );

  app.post(
    '/devices/:id/revoke',
    {
      config: { roles: adminOnly },
      schema: {
        tags: ['provisioning'],
        summary: 'Revoke a device: its credentials stop working and its live session is closed',
        params: idParam,
        response: { 200: registeredDevice, ...errors },
      },
    },
    async (req) => {
      const d = registry.revokeDevice(req.params.id, actorOf(req));
      security.enforceRevocations();
      return deviceOut(d);
    },
  );

  app.get(
    '/principals',
    {
      config: { roles: adminOnly },
      schema: {
        tags: ['principals'],
        summary: 'People and services with API/MQTT access',
        response: { 200: z.object({ principals: z.array(principalOut) }), ...errors },
      },
    },
    async () => ({ principals: registry.listPrincipals().map(pOut) }),
  );

  app.post(
    '/principals',
    {
      config: { roles: adminOnly },
      schema: {
        tags: ['principals'],
        summary: 'Add a consumer, engineer or admin; returns its token (API) and MQTT credentials once',
        body: principalSchema,
        response: { 201: z.object({ principal: principalOut, token: z.string(), credentials }), ...errors },
      },
    },
    async (req, reply) => {
      const r = await registry.addPrincipal(req.body, actorOf(req));
      return reply.code(201).send({ principal: pOut(r.principal), token: r.token, credentials: r.credentials });
    },
  );

  app.post(
    '/principals/:id/rotate',
    {
      config: { roles: adminOnly },
      schema: {
        tags: ['principals'],
        summary: 'New token for a principal',
        params: idParam,
        response: { 200: z.object({ token: z.string(), credentials }), ...errors },
      },
    },
    async (req) => registry.rotatePrincipal(req.params.id, actorOf(req)),
  );

  app.post(
    '/principals/:id/revoke',
    {
      config: { roles: adminOnly },
      schema: {
        tags: ['principals'],
        summary: 'Revoke a principal: token and MQTT sessions stop working',
        params: idParam,
        response: { 200: principalOut, ...errors },
      },
    },
    async (req) => {
      const p = registry.revokePrincipal(req.params.id, actorOf(req));
      security.enforceRevocations();
      return pOut(p);
    },
  );

  app.get(
    '/audit',
    {
      config: { roles: adminOnly },
      schema: {
        tags: ['audit'],
        summary: 'The append-only audit log, oldest first; page with afterSeq',
        querystring: z.object({
          since: z.iso.datetime({ offset: true }).optional(),
          until: z.iso.datetime({ offset: true }).optional(),
          action: z.string().optional(),
          actor: z.string().optional(),
          outcome: z.enum(['ok', 'denied', 'failed']).optional(),
          afterSeq: z.coerce.number().int().nonnegative().optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
        }),
        response: {
          200: z.object({
            records: z.array(
              z.object({
                seq: z.number(),
                ts: z.string(),
                actor: z.string(),
                action: z.string(),
                target: z.string().nullable(),
                outcome: z.enum(['ok', 'denied', 'failed']),
                address: z.string().nullable(),
                detail: z.record(z.string(), z.unknown()),
              }),
            ),
            nextAfterSeq: z.number().nullable(),
          }),
          ...errors,
        },
      },
    },
    async (req) => {
      const q = req.query;
      const records = audit.query({
        ...q,
        since: q.since ? Date.parse(q.since) : undefined,
        until: q.until ? Date.parse(q.until) : undefined,
      });
      return {
        records: records.map((r) => ({ ...r, ts: iso(r.ts)! })),
        nextAfterSeq: records.length === q.limit ? records.at(-1)!.seq : null,
      };
    },
  );
};
