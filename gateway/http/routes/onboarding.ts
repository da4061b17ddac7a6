/**
 * Onboarding (gateway/adapters/onboarding.ts): devices waiting for an admin, approval one by one or from a
 * CSV, rejection; bridges (a zigbee2mqtt instance of a site) and their credentials; provisioning keys for
 * zero-touch claiming. `POST /claim` is outside the token-authenticated API: the device presents the key.
 */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Onboarding, PendingDevice, ClaimKey } from '../../adapters/onboarding.ts';
import { approveSchema, claimKeySchema, claimSchema } from '../../adapters/onboarding.ts';
import type { Security } from '../../security/index.ts';
import type { AdaptedIngest } from '../../adapters/index.ts';
import { adapterTag } from '../../../devices/adapters/index.ts';
import { bridgeSchema, type Bridge } from '../../security/registry.ts';
import { actorOf, adminOnly, staffRoles } from '../auth.ts';
import { errorBody } from '../schemas.ts';
import { credentials, deviceOut, registeredDevice } from './admin.ts';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const errors = { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody, 409: errorBody };

const pendingOut = z.object({
  id: z.number().int(),
  source: z.string().describe('where it turned up: mqtt, http:<adapter> or bridge:<bridgeId>'),
  claimedId: z.string().describe('what it called itself: its MQTT user name, the device id of its push URL, its friendly name behind a bridge'),
  adapter: z.string().nullable(),
  kind: z.string().nullable().describe('the kind it looks like'),
  site: z.string().nullable().describe("the bridge's site; null for a device that came on its own"),
  address: z.string().nullable(),
  topic: z.string().nullable(),
  attempts: z.number().int(),
  firstSeen: z.string(),
  lastSeen: z.string(),
  state: z.enum(['pending', 'approved', 'rejected']),
  decidedBy: z.string().nullable(),
  decidedAt: z.string().nullable(),
  deviceId: z.string().nullable(),
});
const pOut = (p: PendingDevice): z.infer<typeof pendingOut> => ({
  id: p.id,
  source: p.source,
  claimedId: p.claimedId,
  adapter: p.adapter,
  kind: p.kind,
  site: p.site,
  address: p.address,
  topic: p.topic,
  attempts: p.attempts,
  firstSeen: iso(p.firstSeen)!,
  lastSeen: iso(p.lastSeen)!,
  state: p.state,
  decidedBy: p.decidedBy,
  decidedAt: iso(p.decidedAt),
  deviceId: p.deviceId,
});

const bridgeOut = z.object({
  id: z.string(),
  site: z.string(),
  adapter: z.string(),
  baseTopic: z.string(),
  state: z.enum(['enabled', 'revoked']),
  createdAt: z.string(),
  lastSeen: z.string().nullable(),
  lastAddress: z.string().nullable(),
});
const bOut = (b: Bridge): z.infer<typeof bridgeOut> => ({ ...b, createdAt: iso(b.createdAt)!, lastSeen: iso(b.lastSeen) });

const keyOut = z.object({
  id: z.string(),
  site: z.string(),
  zone: z.string().nullable(),
  kinds: z.array(z.string()),
  maxUses: z.number().int(),
  uses: z.number().int(),
  expiresAt: z.string(),
  state: z.enum(['enabled', 'revoked']),
  createdBy: z.string(),
  createdAt: z.string(),
});
const kOut = (k: ClaimKey): z.infer<typeof keyOut> => ({ ...k, expiresAt: iso(k.expiresAt)!, createdAt: iso(k.createdAt)! });

export const onboardingRoutes: FastifyPluginAsyncZod<{ onboarding: Onboarding; security: Security; adapters: AdaptedIngest }> = async (
  app,
  { onboarding, security, adapters },
) => {
  const { registry } = security;

  app.get(
    '/adapters',
    {
      config: { roles: staffRoles },
      schema: {
        tags: ['provisioning'],
        summary:
          'The adapters this box serves (shipped, and the generic JSON profiles of its configuration): the tag a device needs, its transport, kinds and sources',
        response: {
          200: z.object({
            adapters: z.array(
              z.object({
                name: z.string(),
                tag: z.string().describe('the tag a device needs to use it'),
                title: z.string(),
                transport: z.enum(['http-push', 'mqtt-bridge']),
                kinds: z.array(z.string()),
                docs: z.array(z.string()),
                commands: z.boolean().describe('whether commands go back to the devices through it'),
              }),
            ),
          }),
          401: errorBody,
          403: errorBody,
        },
      },
    },
    async () => ({
      adapters: adapters.list().map((a) => ({
        name: a.name,
        tag: adapterTag(a.name),
        title: a.title,
        transport: a.transport,
        kinds: [...a.kinds],
        docs: [...a.docs],
        commands: !!a.toDevice,
      })),
    }),
  );
  app.addContentTypeParser('text/csv', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  app.get(
    '/pending',
    {
      config: { roles: staffRoles },
      schema: {
        tags: ['provisioning'],
        summary: 'Devices that turned up unregistered (connected, pushed, or spoken for by a bridge); those of your sites and of no site yet',
        querystring: z.object({ state: z.enum(['pending', 'approved', 'rejected', 'all']).default('pending') }),
        response: { 200: z.object({ pending: z.array(pendingOut) }), 401: errorBody, 403: errorBody },
      },
    },
    async (req) => ({ pending: onboarding.list({ state: req.query.state, sites: req.principal!.sites }).map(pOut) }),
  );

  app.post(
    '/pending/:id/approve',
    {
      config: { roles: adminOnly },
      schema: {
        tags: ['provisioning'],
        summary: "Approve a waiting device into a site, zone and kind: provisioned, its adapter's tag set, credentials returned once",
        params: z.object({ id: z.coerce.number().int().positive() }),
        body: approveSchema.optional(),
        response: { 201: z.object({ device: registeredDevice, credentials, pending: pendingOut }), ...errors },
      },
    },
    async (req, reply) => {
      const r = await onboarding.approve(req.params.id, req.body ?? {}, actorOf(req));
      return reply.code(201).send({ device: deviceOut(r.device), credentials: r.credentials, pending: pOut(r.pending) });
    },
  );

  app.post(
    '/pending/:id/reject',
    {
      config: { roles: adminOnly },
      schema: {
        tags: ['provisioning'],
        summary: 'Reject a waiting device: it stays refused and leaves the list (its further attempts are still counted)',
        params: z.object({ id: z.coerce.number().int().positive() }),
        body: z.object({ reason: z.string().max(200).optional() }).optional(),
        response: { 200: pendingOut, ...errors },
      },
    },
    async (req) => pOut(onboarding.reject(req.params.id, actorOf(req), req.body?.reason)),
  );

  app.post(
    '/pending/approve',
    {
      config: { roles: adminOnly },
      schema: {
        tags: ['provisioning'],
        summary: 'Approve waiting devices from a CSV (claimedId,deviceId,kind,site,zone,tags); all or nothing',
        consumes: ['text/csv'],
        body: z.string().describe('text/csv: a header line claimedId,deviceId,kind,site,zone,tags, then one waiting device per line'),
        response: { 201: z.object({ count: z.number(), devices: z.array(z.object({ device: registeredDevice, credentials })) }), ...errors },
      },
    },
    async (req, reply) => {
      const out = await onboarding.approveCsv(req.body, actorOf(req));
      return reply.code(201).send({ count: out.length, devices: out.map((r) => ({ device: deviceOut(r.device), credentials: r.credentials })) });
    },
  );

  app.get(
    '/bridges',
    {
      config: { roles: staffRoles },
      schema: {
        tags: ['provisioning'],
        summary: 'Bridges (zigbee2mqtt instances) of your sites',
        response: { 200: z.object({ bridges: z.array(bridgeOut) }), 401: errorBody, 403: errorBody },
      },
    },
    async (req) => ({ bridges: registry.listBridges({ sites: req.principal!.sites }).map(bOut) }),
  );

  app.post(
    '/bridges',
    {
      config: { roles: adminOnly },
      schema: {
        tags: ['provisioning'],
        summary: 'Register a bridge of a site (a zigbee2mqtt instance); returns its MQTT credentials once (its client id is its id)',
        body: bridgeSchema,
        response: { 201: z.object({ bridge: bridgeOut, credentials }), ...errors },
      },
    },
    async (req, reply) => {
      const r = await registry.addBridge(req.body, actorOf(req));
      return reply.code(201).send({ bridge: bOut(r.bridge), credentials: r.credentials });
    },
  );

  app.post(
    '/bridges/:id/rotate',
    {
      config: { roles: adminOnly },
      schema: {
        tags: ['provisioning'],
        summary: 'New secret for a bridge (the old one stops working)',
        params: z.object({ id: z.string().min(1).max(64) }),
        response: { 200: z.object({ credentials }), ...errors },
      },
    },
    async (req) => ({ credentials: await registry.rotateBridge(req.params.id, actorOf(req)) }),
  );

  app.post(
    '/bridges/:id/revoke',
    {
      config: { roles: adminOnly },
      schema: {
        tags: ['provisioning'],
        summary: 'Revoke a bridge: its session is closed and its devices go offline',
        params: z.object({ id: z.string().min(1).max(64) }),
        response: { 200: bridgeOut, ...errors },
      },
    },
    async (req) => {
      const b = registry.revokeBridge(req.params.id, actorOf(req));
      security.enforceRevocations();
      return bOut(b);
    },
  );

  app.get(
    '/claim-keys',
    {
      config: { roles: adminOnly },
      schema: {
        tags: ['provisioning'],
        summary: 'Provisioning keys for zero-touch claiming (never their secrets)',
        response: { 200: z.object({ keys: z.array(keyOut) }), 401: errorBody, 403: errorBody },
      },
    },
    async (req) => ({ keys: onboarding.listKeys({ sites: req.principal!.sites }).map(kOut) }),
  );

  app.post(
    '/claim-keys',
    {
      config: { roles: adminOnly },
      schema: {
        tags: ['provisioning'],
        summary: 'Make a provisioning key for a site (zone, kinds, uses, lifetime); returns the key once',
        body: claimKeySchema,
        response: { 201: z.object({ key: keyOut, secret: z.string().describe('`<keyId>.<secret>`, shown this once') }), ...errors },
      },
    },
    async (req, reply) => {
      const r = await onboarding.createKey(req.body, actorOf(req));
      return reply.code(201).send({ key: kOut(r.key), secret: r.secret });
    },
  );

  app.post(
    '/claim-keys/:id/revoke',
    {
      config: { roles: adminOnly },
      schema: {
        tags: ['provisioning'],
        summary: 'Revoke a provisioning key (devices it provisioned keep their credentials)',
        params: z.object({ id: z.string().min(1).max(64) }),
        response: { 200: keyOut, ...errors },
      },
    },
    async (req) => kOut(onboarding.revokeKey(req.params.id, actorOf(req))),
  );
};

/** Zero-touch: a device claims itself with a provisioning key (outside the token-authenticated API). */
export const claimRoutes: FastifyPluginAsyncZod<{ onboarding: Onboarding }> = async (app, { onboarding }) => {
  app.post(
    '/claim',
    {
      config: { callers: ['device'] },
      schema: {
        security: [],
        tags: ['provisioning'],
        summary: "A new device claims itself with its site's provisioning key; it gets its own credentials once",
        description:
          'No token: the provisioning key in the body is the credential. Wrong keys are throttled per key and address like a failed login, and audited as `device.claim`.',
        body: claimSchema,
        response: { 201: z.object({ device: registeredDevice, credentials }), 400: errorBody, 401: errorBody, 403: errorBody, 409: errorBody, 503: errorBody },
      },
    },
    async (req, reply) => {
      const r = await onboarding.claim(req.body, req.ip);
      return reply.code(201).send({ device: deviceOut(r.device), credentials: r.credentials });
    },
  );
};
