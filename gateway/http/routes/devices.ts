/** Devices seen by this gateway: what an engineer on site checks first. */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { kindNames } from '../../../devices/index.ts';
import type { DeviceStates, DeviceView, Reading } from '../../../edge/device-state.ts';
import { DeviceNotFoundError } from '../errors.ts';
import { deviceDetail, deviceSummary, errorBody } from '../schemas.ts';

const iso = (ms: number) => new Date(ms).toISOString();
const readingOut = (r?: Reading) => r && { ts: iso(r.ts), receivedAt: iso(r.receivedAt), data: r.data };

function summary(d: DeviceView): z.infer<typeof deviceSummary> {
  return {
    deviceId: d.deviceId,
    site: d.site,
    kind: d.kind as z.infer<typeof deviceSummary>['kind'],
    online: d.online,
    connected: d.connected,
    firstSeen: iso(d.firstSeen),
    lastSeen: iso(d.lastSeen),
    messages: d.messages,
    refused: d.refused,
    refusedByReason: d.refusedByReason,
  };
}

export const deviceRoutes: FastifyPluginAsyncZod<{ states: DeviceStates }> = async (app, { states }) => {
  app.get('/api/v1/devices', {
    schema: {
      tags: ['devices'],
      summary: 'List devices with kind, site, last seen, online state and counters',
      querystring: z.object({
        kind: z.enum(kindNames).optional(),
        site: z.string().optional(),
        online: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
      }),
      response: { 200: z.object({ count: z.number().int(), devices: z.array(deviceSummary) }) },
    },
  }, async (req) => {
    const { kind, site, online } = req.query;
    const devices = states
      .list()
      .filter((d) => (!kind || d.kind === kind) && (!site || d.site === site) && (online === undefined || d.online === online))
      .sort((a, b) => a.site.localeCompare(b.site) || a.kind.localeCompare(b.kind) || a.deviceId.localeCompare(b.deviceId))
      .map(summary);
    return { count: devices.length, devices };
  });

  app.get('/api/v1/devices/:id', {
    schema: {
      tags: ['devices'],
      summary: 'One device: latest status, telemetry, event, snapshot and config report',
      params: z.object({ id: z.string().min(1).max(64) }),
      response: { 200: deviceDetail, 404: errorBody },
    },
  }, async (req) => {
    const d = states.get(req.params.id);
    if (!d) throw new DeviceNotFoundError(req.params.id);
    return {
      ...summary(d),
      status: readingOut(d.status),
      telemetry: readingOut(d.telemetry),
      lastEvent: readingOut(d.lastEvent),
      lastSnapshot: d.lastSnapshot && { ...d.lastSnapshot, ts: iso(d.lastSnapshot.ts) },
      configReported: readingOut(d.configReported),
      clockSkewed: d.clockSkewed,
    };
  });
};
