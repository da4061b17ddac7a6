/**
 * Vendor pushes (device adapters, gateway/adapters): `POST /adapters/:adapter/:deviceId`, outside the
 * token-authenticated API — the device authenticates with its own credentials (HTTP Basic; use the
 * box's HTTPS). The body is the vendor's document (XML or JSON), or `multipart/form-data` with the
 * document and its JPEG pictures.
 */
import multipart from '@fastify/multipart';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { VendorPush } from '../../../devices/adapters/index.ts';
import type { AdaptedIngest } from '../../adapters/index.ts';
import { errorBody } from '../schemas.ts';

export interface AdapterRouteDeps {
  adapters: AdaptedIngest;
  /** Largest document, and largest picture, bytes (ingest.maxJsonBytes, ingest.maxSnapshotBytes). */
  maxDocumentBytes: number;
  maxPictureBytes: number;
}

const resultSchema = z.object({
  adapter: z.string(),
  deviceId: z.string(),
  accepted: z.array(z.object({ channel: z.string(), type: z.string().optional() })).describe('the canonical messages the push became, in order'),
  note: z.string().optional().describe('why a push became nothing (a heartbeat)'),
});

export const adapterRoutes: FastifyPluginAsync<AdapterRouteDeps> = async (root, deps) => {
  const app = root.withTypeProvider<ZodTypeProvider>();
  await app.register(multipart, { limits: { fileSize: deps.maxPictureBytes, fieldSize: deps.maxDocumentBytes, files: 8, fields: 4, parts: 12 } });
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(['application/json', 'application/xml', 'text/xml'], { parseAs: 'buffer', bodyLimit: deps.maxDocumentBytes }, (_req, body, done) =>
    done(null, body),
  );
  app.post(
    '/adapters/:adapter/:deviceId',
    {
      // Not a principal's route (no bearer token): the device itself, with its provisioned password.
      config: { callers: ['device'] },
      schema: {
        security: [{ deviceBasic: [] }],
        description:
          "The device authenticates as itself: HTTP Basic with its device id and provisioned password (use the box's HTTPS); it must carry the tag `adapter:<adapter>`.",
        summary: "A device's vendor push, through its adapter (Hikvision ISAPI event notification: XML, JSON, or multipart with pictures)",
        tags: ['adapters'],
        params: z.object({ adapter: z.string().max(64), deviceId: z.string().max(64) }),
        response: { 200: resultSchema, 401: errorBody, 403: errorBody, 404: errorBody, 413: errorBody, 422: errorBody, 503: errorBody },
      },
    },
    async (req) => {
      let push: VendorPush;
      if (req.isMultipart()) {
        const pictures: Buffer[] = [];
        let doc: { contentType: string; body: Buffer } | undefined;
        for await (const part of req.parts()) {
          if (part.type === 'file') {
            const buf = await part.toBuffer();
            if (/image\/jpe?g/i.test(part.mimetype)) pictures.push(buf);
            else if (!doc) doc = { contentType: part.mimetype, body: buf };
          } else if (!doc && typeof part.value === 'string') doc = { contentType: part.mimetype, body: Buffer.from(part.value) };
        }
        push = { contentType: doc?.contentType ?? '', body: doc?.body ?? Buffer.alloc(0), pictures };
      } else push = { contentType: req.headers['content-type'] ?? '', body: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0), pictures: [] };
      return deps.adapters.push(req.params.adapter, req.params.deviceId, req.headers.authorization, req.ip, push);
    },
  );
};
