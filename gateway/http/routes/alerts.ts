/** Alerts over HTTP: list with paging, one with its history, acknowledge and resolve (recording who). */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { alertEvents, alertSchema, alertStates, alertTypeSchema } from '../../../edge/alerts/model.ts';
import { toAlert } from '../../../edge/alerts/store.ts';
import { AlertError } from '../../../edge/alerts/engine.ts';
import type { Alerts } from '../../alerts/index.ts';
import { grants } from '../../security/identity.ts';
import { anyRole } from '../auth.ts';
import { errorBody } from '../schemas.ts';

const cursor = {
  encode: (a: { raisedAt: number; id: string }) => Buffer.from(`${a.raisedAt}:${a.id}`).toString('base64url'),
  decode: (c: string) => {
    const [t, id] = Buffer.from(c, 'base64url').toString().split(':');
    return { raisedAt: Number(t), id: id ?? '' };
  },
};
const errors = { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody, 409: errorBody };
const note = z.object({ note: z.string().max(500).optional() }).nullish(); // an empty POST body arrives as null

export const alertRoutes: FastifyPluginAsyncZod<{ alerts: Alerts }> = async (app, { alerts }) => {
  app.get(
    '/alerts',
    {
      config: { roles: anyRole },
      schema: {
        tags: ['alerts'],
        summary: "Alerts of the caller's sites, newest first; page with `cursor`",
        querystring: z.object({
          state: z
            .enum([...alertStates, 'open'])
            .optional()
            .describe('open = raised or acknowledged'),
          site: z.string().optional(),
          type: alertTypeSchema.optional(),
          since: z.iso.datetime({ offset: true }).optional().describe('raised at or after'),
          limit: z.coerce.number().int().min(1).max(500).default(50),
          cursor: z.string().optional().describe('nextCursor of the previous page'),
        }),
        response: { 200: z.object({ count: z.number(), alerts: z.array(alertSchema), nextCursor: z.string().nullable() }), ...errors },
      },
    },
    async (req) => {
      const q = req.query;
      const rows = alerts.store.query({
        state: q.state,
        site: q.site,
        sites: req.principal!.sites,
        type: q.type,
        since: q.since ? Date.parse(q.since) : undefined,
        before: q.cursor ? cursor.decode(q.cursor) : undefined,
        limit: q.limit,
      });
      return { count: rows.length, alerts: rows.map(toAlert), nextCursor: rows.length === q.limit ? cursor.encode(rows.at(-1)!) : null };
    },
  );

  app.get(
    '/alerts/:id',
    {
      config: { roles: anyRole },
      schema: {
        tags: ['alerts'],
        summary: 'One alert with its full history (every transition, who and when)',
        params: z.object({ id: z.string() }),
        response: {
          200: alertSchema.extend({
            history: z.array(
              z.object({ ts: z.string(), event: z.enum(alertEvents), actor: z.string(), version: z.number(), detail: z.record(z.string(), z.unknown()) }),
            ),
          }),
          ...errors,
        },
      },
    },
    async (req, reply) => {
      const a = alerts.store.get(req.params.id);
      if (!a || !grants(req.principal!.sites, a.site)) throw new AlertError(`alert ${req.params.id} does not exist`, 'VIGIL_ERR_ALERT_NOT_FOUND');
      return { ...toAlert(a), history: alerts.store.history(a.id).map((h) => ({ ...h, ts: new Date(h.ts).toISOString() })) };
    },
  );

  for (const action of ['ack', 'resolve'] as const) {
    app.post(
      `/alerts/:id/${action}`,
      {
        config: { roles: anyRole },
        schema: {
          tags: ['alerts'],
          summary: action === 'ack' ? 'Acknowledge: someone is responding (stops the first escalation)' : 'Resolve: handled',
          params: z.object({ id: z.string() }),
          body: note,
          response: { 200: alertSchema, ...errors },
        },
      },
      async (req) => {
        const p = req.principal!;
        return toAlert(alerts.act(action, req.params.id, { id: p.id, sites: p.sites, address: req.ip, via: 'http' }, req.body?.note));
      },
    );
  }

  app.get(
    '/sla',
    {
      config: { roles: anyRole },
      schema: {
        tags: ['alerts'],
        summary:
          'The 1-3-5 rule measured per site and alert type over alerts raised since `since` (default 7 days): shares in time, time to acknowledge, resolve, first dispatch acceptance and arrival',
        querystring: z.object({
          site: z.string().optional(),
          since: z.iso.datetime({ offset: true }).optional().describe('raised at or after (default: 7 days ago)'),
        }),
        response: {
          200: z.object({
            since: z.string(),
            marks: z
              .object({ respondS: z.number(), handleS: z.number(), reinforceS: z.number() })
              .describe('acknowledged within respondS, resolved within handleS / reinforceS'),
            rows: z.array(
              z.object({
                site: z.string(),
                type: z.string(),
                alerts: z.number(),
                acknowledged: z.number(),
                resolved: z.number(),
                respondedInTime: z
                  .number()
                  .nullable()
                  .describe('share (0..1) acknowledged within respondS; an alert still open past the mark counts as missed; null: none judged yet'),
                handledInTime: z.number().nullable(),
                handledByReinforcementMark: z.number().nullable(),
                toAckP50S: z.number().nullable(),
                toAckP90S: z.number().nullable(),
                toResolveP50S: z.number().nullable(),
                toResolveP90S: z.number().nullable(),
                dispatched: z.number().describe('alerts officers were sent to'),
                arrivedByReinforcementMark: z.number().nullable().describe('share (0..1) of those with an officer on scene within reinforceS'),
                toAcceptP50S: z.number().nullable().describe('to the first officer accepting'),
                toAcceptP90S: z.number().nullable(),
                toArriveP50S: z.number().nullable().describe('to the first officer on scene'),
                toArriveP90S: z.number().nullable(),
              }),
            ),
          }),
          ...errors,
        },
      },
    },
    async (req) => {
      const r = alerts.sla({ sites: req.principal!.sites, site: req.query.site, ...(req.query.since ? { since: Date.parse(req.query.since) } : {}) });
      return { ...r, since: new Date(r.since).toISOString() };
    },
  );
};
