/** Devices seen by this gateway: what an engineer on site checks first. */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { kindSchema } from '../../../devices/index.ts';
import type { DeviceStates, DeviceView, Reading } from '../../../edge/device-state.ts';
import type { Security } from '../../security/index.ts';
import type { Forwarding } from '../../forward/index.ts';
import { grants } from '../../security/identity.ts';
import type { DeviceRecord } from '../../security/registry.ts';
import { anyRole } from '../auth.ts';
import { DeviceNotFoundError } from '../../errors.ts';
import { deviceDetail, deviceSummary, errorBody } from '../schemas.ts';

const iso = (ms: number) => new Date(ms).toISOString();
const readingOut = (r?: Reading) => r && { ts: iso(r.ts), receivedAt: iso(r.receivedAt), data: r.data };

/** Registry entry and live state together: a provisioned device that never connected is listed too. */
function summary(d: DeviceView | undefined, r: DeviceRecord | undefined): z.infer<typeof deviceSummary> {
  const a = (r ?? d)!;
  const seen = d?.lastSeen ?? r?.lastSeen ?? null;
  return {
    deviceId: a.deviceId,
    site: a.site,
    kind: a.kind as z.infer<typeof deviceSummary>['kind'],
    zone: r?.zone ?? null,
    tags: r?.tags ?? [],
    registration: r?.state ?? 'unregistered',
    online: d?.online ?? false,
    connected: d?.connected ?? false,
    firstSeen: d ? iso(d.firstSeen) : null,
    lastSeen: seen === null ? null : iso(seen),
    messages: d?.messages ?? 0,
    refused: d?.refused ?? 0,
    refusedByReason: d?.refusedByReason ?? {},
  };
}

export const deviceRoutes: FastifyPluginAsyncZod<{ states: DeviceStates; security: Security; forwarding: Forwarding }> = async (
  app,
  { states, security, forwarding },
) => {
  const { registry } = security;
  /** A device the caller may see: outside its sites looks the same as unknown (no probing for ids). */
  const visible = (id: string, sites: string[]) => {
    const d = states.get(id);
    const r = registry.getDevice(id);
    if ((!d && !r) || !grants(sites, (r ?? d)!.site)) throw new DeviceNotFoundError(id);
    return { d, r };
  };
  app.get(
    '/devices',
    {
      config: { roles: anyRole },
      schema: {
        tags: ['devices'],
        summary: 'List devices with kind, site, last seen, online state and counters',
        querystring: z.object({
          kind: kindSchema.optional(),
          site: z.string().optional(),
          online: z
            .enum(['true', 'false'])
            .transform((v) => v === 'true')
            .optional(),
        }),
        response: { 200: z.object({ count: z.number().int(), devices: z.array(deviceSummary) }) },
      },
    },
    async (req) => {
      const { kind, site, online } = req.query;
      const sites = req.principal!.sites;
      const registered = new Map(registry.listDevices().map((r) => [r.deviceId, r]));
      const ids = new Set([...registered.keys(), ...states.list().map((d) => d.deviceId)]);
      const devices = [...ids]
        .map((id) => summary(states.get(id), registered.get(id)))
        .filter((d) => grants(sites, d.site) && (!kind || d.kind === kind) && (!site || d.site === site) && (online === undefined || d.online === online))
        .sort((a, b) => a.site.localeCompare(b.site) || a.kind.localeCompare(b.kind) || a.deviceId.localeCompare(b.deviceId));
      return { count: devices.length, devices };
    },
  );

  app.get(
    '/devices/:id',
    {
      config: { roles: anyRole },
      schema: {
        tags: ['devices'],
        summary: 'One device: latest status, telemetry, event, snapshot and config report',
        params: z.object({ id: z.string().min(1).max(64) }),
        response: { 200: deviceDetail, 404: errorBody },
      },
    },
    async (req) => {
      const { d, r } = visible(req.params.id, req.principal!.sites);
      return {
        ...summary(d, r),
        status: readingOut(d?.status),
        telemetry: readingOut(d?.telemetry),
        lastEvent: readingOut(d?.lastEvent),
        lastSnapshot: d?.lastSnapshot && { ...d.lastSnapshot, ts: iso(d.lastSnapshot.ts) },
        configReported: readingOut(d?.configReported),
        clockSkewed: d?.clockSkewed ?? 0,
      };
    },
  );

  app.get(
    '/devices/:id/telemetry',
    {
      config: { roles: anyRole },
      schema: {
        tags: ['devices'],
        summary: 'Telemetry kept on the box (localTelemetry.retentionH), oldest first: useful with no uplink',
        params: z.object({ id: z.string().min(1).max(64) }),
        querystring: z.object({
          from: z.iso.datetime({ offset: true }).optional().describe('default: one hour ago'),
          to: z.iso.datetime({ offset: true }).optional().describe('default: now'),
          limit: z.coerce.number().int().min(1).max(10_000).default(1000),
        }),
        response: {
          200: z.object({
            deviceId: z.string(),
            count: z.number(),
            readings: z.array(z.object({ ts: z.string(), fields: z.record(z.string(), z.unknown()) })),
          }),
          404: errorBody,
        },
      },
    },
    async (req) => {
      const id = req.params.id;
      visible(id, req.principal!.sites);
      const to = req.query.to ? Date.parse(req.query.to) : Date.now();
      const from = req.query.from ? Date.parse(req.query.from) : to - 3_600_000;
      const rows = forwarding.spool.localTelemetry(id, from, to, req.query.limit);
      return { deviceId: id, count: rows.length, readings: rows.map((x) => ({ ts: new Date(x.ts).toISOString(), fields: x.fields })) };
    },
  );
};
