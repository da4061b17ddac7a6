/**
 * Cameras: an engineer accepts a camera's present view as its new normal (it was re-aimed on
 * purpose, or maintenance changed the scene), so the tamper detector re-learns its reference instead
 * of staying in alarm. Audited, and only for cameras of the caller's sites.
 */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { DetectorStage } from '../../../edge/inference/stage.ts';
import type { Security } from '../../security/index.ts';
import { grants } from '../../security/identity.ts';
import { actorOf, staffRoles } from '../auth.ts';
import { DeviceNotFoundError, NotACameraError } from '../../errors.ts';
import { errorBody } from '../schemas.ts';

export interface CameraRouteDeps {
  security: Security;
  detectors: DetectorStage;
  now: () => number;
}

export const cameraRoutes: FastifyPluginAsyncZod<CameraRouteDeps> = async (app, { security, detectors, now }) => {
  app.post(
    '/devices/:id/accept-view',
    {
      config: { roles: staffRoles },
      schema: {
        tags: ['devices'],
        summary:
          "Accept a camera's present view as its new normal: the tamper detector re-learns its reference (after its warm-up) and an alarm in progress clears",
        params: z.object({ id: z.string() }),
        body: z.object({ note: z.string().max(500).optional() }).optional(),
        response: {
          200: z.object({ deviceId: z.string(), models: z.array(z.string()), alarmCleared: z.boolean() }),
          400: errorBody,
          401: errorBody,
          403: errorBody,
          404: errorBody,
        },
      },
    },
    async (req) => {
      const d = security.registry.getDevice(req.params.id);
      if (!d || !grants(req.principal!.sites, d.site)) throw new DeviceNotFoundError(req.params.id);
      if (d.kind !== 'camera') throw new NotACameraError(`device "${d.deviceId}" is a ${d.kind}, not a camera`);
      const who = actorOf(req);
      const r = await detectors.rebaseline(
        d.deviceId,
        `new view accepted by ${who.id}${req.body?.note ? ` (${req.body.note})` : ''}; reference re-learned`,
        now(),
      );
      security.audit.record({
        actor: who.id,
        address: who.address,
        action: 'camera.accept_view',
        target: d.deviceId,
        outcome: 'ok',
        detail: { models: r.models, alarmCleared: r.cleared, ...(req.body?.note ? { note: req.body.note } : {}) },
      });
      return { deviceId: d.deviceId, models: r.models, alarmCleared: r.cleared };
    },
  );
};
