/** buildApp(deps): the HTTP API as a fastify instance, separate from listen() so tests can inject(). */
import { STATUS_CODES } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError } from 'fastify';
import type { TlsOptions } from 'node:tls';
import helmet from '@fastify/helmet';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Registry } from 'prom-client';
import type { Metrics } from '../metrics.ts';
import type { DeviceStates } from '../../edge/device-state.ts';
import type { GatewayConfig } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Security } from '../security/index.ts';
import { authPlugin } from './auth.ts';
import { NotFoundError, statusOf } from '../errors.ts';
import { adminRoutes } from './routes/admin.ts';
import { alertRoutes } from './routes/alerts.ts';
import type { Alerts } from '../alerts/index.ts';
import type { Forwarding } from '../forward/index.ts';
import type { Configs } from '../configs/index.ts';
import type { Rollouts } from '../configs/rollouts.ts';
import { configRoutes } from './routes/configs.ts';
import { modelRoutes, sessionRoutes } from './routes/models.ts';
import { cameraRoutes } from './routes/cameras.ts';
import type { Inference } from '../inference/index.ts';
import type { Commands } from '../commands/index.ts';
import { commandRoutes } from './routes/commands.ts';
import type { Evidence } from '../evidence/index.ts';
import { evidenceRoutes } from './routes/evidence.ts';
import { dispatchRoutes } from './routes/dispatch.ts';
import { siteRoutes } from './routes/sites.ts';
import type { Sites } from '../sites/index.ts';
import type { Dispatcher } from '../dispatch/index.ts';
import type { SqlitePersistence } from '../broker/persistence.ts';
import { deviceRoutes } from './routes/devices.ts';
import { adapterRoutes } from './routes/adapters.ts';
import type { AdaptedIngest } from '../adapters/index.ts';
import type { Onboarding } from '../adapters/onboarding.ts';
import { claimRoutes, onboardingRoutes } from './routes/onboarding.ts';
import { CONSOLE_DIR, consoleRoutes } from './console.ts';
import { kindRoutes } from './routes/kinds.ts';
import type { Aedes } from 'aedes';
import type { ListenerContext } from '../broker/listeners.ts';
import { healthRoutes, type HealthDeps } from './routes/health.ts';

export interface AppDeps extends HealthDeps {
  states: DeviceStates;
  security: Security;
  alerts: Alerts;
  forwarding: Forwarding;
  configs: Configs;
  rollouts: Rollouts;
  inference: Inference;
  commands: Commands;
  evidence: Evidence;
  sites: Sites;
  dispatcher: Dispatcher;
  /** Vendor pushes through device adapters (POST /adapters/:adapter/:deviceId). */
  adapters: AdaptedIngest;
  /** Pending devices, bridges, provisioning keys. */
  onboarding: Onboarding;
  /** Document and picture size limits of vendor pushes (the ingest limits). */
  ingestLimits: { maxJsonBytes: number; maxSnapshotBytes: number };
  /** Durable broker state, when the broker keeps it (GET /api/v1/broker/sessions). */
  persistence?: SqlitePersistence;
  /** The gateway's clock. */
  now: () => number;
  allowAnonymous: boolean;
  /** Timeouts and connection cap. */
  http: Pick<GatewayConfig['http'], 'requestTimeoutMs' | 'idleTimeoutMs' | 'maxConnections'>;
  /** Serve HTTPS with this certificate (http.tls). */
  tls?: TlsOptions;
  registry: Registry;
  /** Request counts and latency, when given. */
  metrics?: Pick<Metrics, 'httpRequests' | 'httpSeconds'>;
  log: Logger;
  version: string;
  /** The broker, for MQTT over WebSocket on this server at /mqtt (the console's live data, same origin), and the MQTT listeners' limits. */
  broker?: Aedes;
  mqtt?: ListenerContext;
  /** The built console (default console/dist). */
  consoleDir?: string;
}

export async function buildApp(deps: AppDeps) {
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // Slow senders (slowloris) are cut off: the whole request must arrive within requestTimeout,
    // and idle keep-alive connections close after keepAliveTimeout.
    requestTimeout: deps.http.requestTimeoutMs,
    connectionTimeout: deps.http.requestTimeoutMs * 2,
    keepAliveTimeout: deps.http.idleTimeoutMs,
    ...(deps.tls ? { https: { cert: deps.tls.cert, key: deps.tls.key, minVersion: 'TLSv1.2' as const } } : {}),
  }).withTypeProvider<ZodTypeProvider>();
  app.server.maxConnections = deps.http.maxConnections;
  app.server.headersTimeout = Math.min(deps.http.requestTimeoutMs, 60_000);
  // Security headers on every response (HSTS only means something over HTTPS, where browsers honour it).
  // The console (console/) is same-origin only: its scripts, styles, API calls and MQTT over WebSocket (/mqtt) all
  // come from this server; evidence pictures are shown from blob: URLs. Over plain HTTP (a laptop on the box's
  // loopback or LAN) requests are not upgraded to HTTPS, which the box would not answer.
  await app.register(helmet, {
    hsts: !!deps.tls,
    contentSecurityPolicy: {
      directives: {
        'img-src': ["'self'", 'data:', 'blob:'],
        'connect-src': ["'self'"],
        'style-src': ["'self'"],
        'upgrade-insecure-requests': deps.tls ? [] : null,
      },
    },
  });
  // API responses carry device lists, audit records and, once, secrets: no cache may keep them.
  app.addHook('onSend', async (req, reply) => {
    if (req.url.startsWith('/api/')) reply.header('cache-control', 'no-store');
  });
  if (deps.metrics) {
    const m = deps.metrics;
    app.addHook('onResponse', async (req, reply) => {
      const route = req.routeOptions.url ?? 'unmatched';
      m.httpRequests.inc({ method: req.method, route, status: String(reply.statusCode) });
      m.httpSeconds.observe({ method: req.method, route }, reply.elapsedTime / 1000);
    });
  }
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (hasZodFastifySchemaValidationErrors(err)) {
      return reply.code(400).send({
        statusCode: 400,
        code: 'VIGIL_ERR_VALIDATION',
        error: 'Bad Request',
        message: `invalid ${err.validationContext ?? 'request'}: ${err.validation.map((v) => `${v.instancePath || '/'} ${v.message}`).join('; ')}`,
        details: err.validation.map((v) => ({ path: v.instancePath, message: v.message ?? '' })),
      });
    }
    // Catalogue errors carry their status; a domain error (edge/) only its code, whose status the catalogue gives.
    const status = statusOf(err);
    if (status >= 500) req.log.error({ err }, 'request failed');
    // Shed under a flood of secret checks: come back in a second.
    if (err.code === 'VIGIL_ERR_BUSY') reply.header('retry-after', 1);
    const details = (err as { details?: unknown }).details;
    return reply.code(status).send({
      statusCode: status,
      code: err.code ?? 'VIGIL_ERR_INTERNAL',
      error: STATUS_CODES[status] ?? 'Error',
      message: status >= 500 ? 'internal error; see the gateway log' : err.message,
      ...(status < 500 && Array.isArray(details) ? { details } : {}),
    });
  });
  app.setNotFoundHandler((req) => {
    throw new NotFoundError(`no route ${req.method} ${req.url}; see /docs`);
  });

  // Roles of each route, by "METHOD url", for the OpenAPI document (routes are registered before it is generated).
  const routeRoles = new Map<string, { roles: readonly string[]; consumes?: string[] }>();
  app.addHook('onRoute', (r) => {
    // The console's static files (hidden from the document) are not API routes.
    if ((r.config as { console?: boolean } | undefined)?.console || (r.schema as { hide?: boolean } | undefined)?.hide) return;
    for (const m of [r.method].flat()) {
      routeRoles.set(`${m.toLowerCase()} ${r.url.replace(/:(\w+)/g, '{$1}')}`, {
        roles:
          (r.config as { roles?: readonly string[]; callers?: readonly string[] } | undefined)?.roles ??
          (r.config as { callers?: readonly string[] } | undefined)?.callers ??
          [],
        consumes: (r.schema as { consumes?: string[] } | undefined)?.consumes,
      });
    }
  });
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Vigil edge gateway API',
        version: deps.version,
        description:
          'Devices, provisioning, configs, alerts, audit, health and metrics of one Vigil edge box. /api routes need `Authorization: Bearer <principalId>.<secret>`; each operation names the roles it admits.',
        license: { name: 'Proprietary' },
      },
      servers: [{ url: '/', description: 'this gateway (the API is served by the box itself)' }],
      tags: [
        { name: 'health', description: 'Liveness, readiness and Prometheus metrics (public)' },
        { name: 'devices', description: 'Devices, their state and telemetry' },
        { name: 'provisioning', description: 'Device credentials: provision, rotate, revoke' },
        { name: 'principals', description: 'People and services and their tokens' },
        { name: 'audit', description: 'The audit log' },
        { name: 'admin', description: 'Who a token belongs to' },
        { name: 'alerts', description: 'Alerts and their lifecycle' },
        { name: 'config', description: 'Signed device configurations and rollouts' },
        { name: 'models', description: 'Local detectors' },
        { name: 'commands', description: 'Commands to devices (declared per kind), their answers' },
        { name: 'evidence', description: 'Snapshots gathered for alerts, and who viewed them' },
        { name: 'broker', description: 'MQTT sessions kept by the broker' },
        { name: 'adapters', description: "Devices' vendor pushes through device adapters (the device's own credentials)" },
      ],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, deviceBasic: { type: 'http', scheme: 'basic' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: (doc) => polishOpenApi(jsonSchemaTransformObject(doc) as OpenApiDoc, routeRoles),
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  await app.register(healthRoutes, { readiness: deps.readiness, startedAt: deps.startedAt, version: deps.version });
  await app.register(consoleRoutes, { dir: deps.consoleDir ?? CONSOLE_DIR, broker: deps.broker, mqtt: deps.mqtt });
  await app.register(adapterRoutes, {
    adapters: deps.adapters,
    maxDocumentBytes: deps.ingestLimits.maxJsonBytes,
    maxPictureBytes: deps.ingestLimits.maxSnapshotBytes,
  });
  await app.register(claimRoutes, { onboarding: deps.onboarding });
  // The API: authenticated as a whole (the auth plugin's hooks cover this scope and nothing else).
  await app.register(
    async (api) => {
      await api.register(authPlugin, { security: deps.security, allowAnonymous: deps.allowAnonymous });
      await api.register(deviceRoutes, { states: deps.states, security: deps.security, forwarding: deps.forwarding });
      await api.register(adminRoutes, { security: deps.security });
      await api.register(alertRoutes, { alerts: deps.alerts });
      await api.register(modelRoutes, { inference: deps.inference, audit: deps.security.audit });
      await api.register(sessionRoutes, { persistence: deps.persistence });
      await api.register(cameraRoutes, { security: deps.security, detectors: deps.inference.detectors, now: deps.now });
      await api.register(configRoutes, { configs: deps.configs, rollouts: deps.rollouts, registry: deps.security.registry });
      await api.register(commandRoutes, { commands: deps.commands });
      await api.register(evidenceRoutes, { evidence: deps.evidence, security: deps.security });
      await api.register(siteRoutes, { sites: deps.sites });
      await api.register(dispatchRoutes, { dispatcher: deps.dispatcher });
      await api.register(kindRoutes);
      await api.register(onboardingRoutes, { onboarding: deps.onboarding, security: deps.security, adapters: deps.adapters });
    },
    { prefix: '/api/v1' },
  );
  app.get('/metrics', { schema: { tags: ['health'], summary: 'Prometheus metrics', hide: false } }, async (_req, reply) =>
    reply.type(deps.registry.contentType).send(await deps.registry.metrics()),
  );
  /** Every route served, as "method /openapi/{path}" (tests check the OpenAPI document has each). */
  return Object.assign(app, { routeList: () => [...routeRoles.keys()] });
}
export type VigilApp = Awaited<ReturnType<typeof buildApp>>;

type OpenApiOperation = {
  operationId?: string;
  description?: string;
  security?: unknown[];
  responses?: Record<string, { description?: string }>;
  parameters?: unknown[];
  requestBody?: { content?: Record<string, unknown> };
  'x-roles'?: readonly string[];
};
type OpenApiDoc = { paths?: Record<string, Record<string, OpenApiOperation>> } & Record<string, unknown>;

const statusText: Record<string, string> = {
  '200': 'OK',
  '201': 'Created',
  '202': 'Accepted: the change is on its way',
  '204': 'Done, no content',
  '400': 'Invalid request: the body, query or path failed validation (details per field)',
  '401': 'Missing or invalid bearer token',
  '403': "The token's role or sites do not admit this",
  '404': "Not found (or not among the caller's sites)",
  '409': 'Conflicts with the current state',
  '413': 'Body too large',
  '429': 'Too many attempts; retry after Retry-After',
  '503': 'Not ready, or shedding load; retry later',
};

/** operationId from method and path: GET /api/v1/devices/{id}/config → getDevicesByIdConfig. */
function operationId(method: string, path: string): string {
  const words = path
    .replace(/^\/api\/v1/, '')
    .split('/')
    .filter(Boolean)
    .map((w) => (w.startsWith('{') ? `By${w.slice(1, -1)}` : w));
  return (
    method +
    words
      .map((w) =>
        w
          .split(/[-_.]/)
          .map((p) => p.charAt(0).toUpperCase() + p.slice(1))
          .join(''),
      )
      .join('')
  );
}

/**
 * What the generated document lacks for a client generator and a linter (Redocly's recommended rules):
 * an operationId each, `security: []` on public routes, the roles of each operation, the 401/403 an
 * authenticated route can answer (400 where it takes input), and a description for every response.
 */
function polishOpenApi(doc: OpenApiDoc, routes: Map<string, { roles: readonly string[]; consumes?: string[] }>): OpenApiDoc {
  for (const [path, ops] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(ops)) {
      op.operationId ??= operationId(method, path);
      const route = routes.get(`${method} ${path}`);
      const r = route?.roles ?? [];
      // Bodies the route also takes as text (CSV), beside JSON.
      for (const type of route?.consumes ?? [])
        if (op.requestBody?.content && !op.requestBody.content[type]) op.requestBody.content[type] = { schema: { type: 'string' } };
      op.responses ??= {};
      if (!r.length) op.security = [];
      else {
        op['x-roles'] = r;
        op.description = `${op.description ? `${op.description}\n\n` : ''}Roles: ${r.join(', ')}.`;
        for (const code of ['401', '403', ...(op.parameters?.length || op.requestBody ? ['400'] : [])]) {
          op.responses[code] ??= {
            description: statusText[code]!,
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
          } as never;
        }
      }
      for (const [code, resp] of Object.entries(op.responses))
        if (!resp.description || resp.description === 'Default Response') resp.description = statusText[code] ?? 'Response';
    }
  }
  // Shared schemas nothing refers to (the input twin of the Error component) are left out.
  const schemas = (doc['components'] as { schemas?: Record<string, unknown> } | undefined)?.schemas ?? {};
  for (const name of Object.keys(schemas)) {
    const { [name]: _self, ...rest } = schemas;
    if (!JSON.stringify({ ...doc, components: { ...(doc['components'] as object), schemas: rest } }).includes(`#/components/schemas/${name}"`))
      delete schemas[name];
  }
  return doc;
}
