/** Commands to devices: send one (optionally waiting for the answer), follow it, list a device's. */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { commandStates, sendSchema, type CommandRecord, type Commands } from '../../commands/index.ts';
import { DeviceNotFoundError } from '../../errors.ts';
import { grants } from '../../security/identity.ts';
import { anyRole } from '../auth.ts';
import { errorBody } from '../schemas.ts';

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
const commandOut = z.object({
  id: z.string(),
  deviceId: z.string(),
  site: z.string(),
  kind: z.string(),
  name: z.string(),
  params: z.record(z.string(), z.unknown()),
  actor: z.string().describe('who sent it'),
  via: z.string(),
  state: z.enum(commandStates).describe('queued → sent → ok | error | rejected, or timeout (no answer in time) / expired (offline past its ttlS)'),
  createdAt: z.string(),
  sentAt: z.string().nullable(),
  deadline: z.string(),
  answeredAt: z.string().nullable(),
  reply: z.object({ data: z.record(z.string(), z.unknown()).optional(), error: z.string().optional() }).nullable(),
});
const out = (c: CommandRecord): z.infer<typeof commandOut> => ({
  ...c,
  createdAt: iso(c.createdAt)!,
  sentAt: iso(c.sentAt),
  deadline: iso(c.deadline)!,
  answeredAt: iso(c.answeredAt),
});

export const commandRoutes: FastifyPluginAsyncZod<{ commands: Commands }> = async (app, { commands }) => {
  app.post(
    '/devices/:id/commands',
    {
      // Who may send which command is the command's own declaration (its kind's), checked in Commands.send.
      config: { roles: anyRole },
      schema: {
        tags: ['commands'],
        summary: "Send a command the device's kind declares; 202 once sent (or queued with ttlS), 200 with the answer when waitS lets it arrive",
        params: z.object({ id: z.string() }),
        body: sendSchema.extend({ waitS: z.number().min(0).max(30).default(0).describe('wait this long for the answer') }),
        response: { 200: commandOut, 202: commandOut, 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody, 409: errorBody },
      },
    },
    async (req, reply) => {
      const p = req.principal!;
      const sent = commands.send(req.params.id, req.body, { id: p.id, role: p.role, sites: p.sites, address: req.ip, via: 'http' });
      const c = await commands.wait(sent.id, req.body.waitS * 1000);
      return reply.code(c.answeredAt !== null || c.state === 'timeout' || c.state === 'expired' ? 200 : 202).send(out(c));
    },
  );

  app.get(
    '/devices/:id/commands',
    {
      config: { roles: anyRole },
      schema: {
        tags: ['commands'],
        summary: 'The commands sent to a device, newest first',
        params: z.object({ id: z.string() }),
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }),
        response: { 200: z.object({ commands: z.array(commandOut) }), 401: errorBody, 404: errorBody },
      },
    },
    async (req) => {
      const list = commands.list(req.params.id, req.query.limit);
      if (list.length && !grants(req.principal!.sites, list[0]!.site)) throw new DeviceNotFoundError(req.params.id);
      return { commands: list.map(out) };
    },
  );

  app.get(
    '/commands/:id',
    {
      config: { roles: anyRole },
      schema: {
        tags: ['commands'],
        summary: 'One command and its answer',
        params: z.object({ id: z.string() }),
        response: { 200: commandOut, 401: errorBody, 404: errorBody },
      },
    },
    async (req) => out(commands.visible(req.params.id, req.principal!)),
  );
};
