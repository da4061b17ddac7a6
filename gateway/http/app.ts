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
import { installAuth } from './auth.ts';
import { adminRoutes } from './routes/admin.ts';
import { alertRoutes } from './routes/alerts.ts';
import type { Alerts } from '../alerts/index.ts';
import type { Forwarding } from '../forward/index.ts';
import type { Configs } from '../configs/index.ts';
import type { Rollouts } from '../configs/rollouts.ts';
import { configRoutes } from './routes/configs.ts';
import { modelRoutes, sessionRoutes } from './routes/models.ts';
import { cameraRoutes } from './routes/cameras.ts';
import type { Gateway } from '../gateway.ts';
import { deviceRoutes } from './routes/devices.ts';
import { healthRoutes, type HealthDeps } from './routes/health.ts';

export interface AppDeps extends HealthDeps {
  states: DeviceStates;
  security: Security;
  alerts: Alerts;
  forwarding: Forwarding;
  configs: Configs;
  rollouts: Rollouts;
  gateway: Gateway;
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
  await app.register(helmet, { hsts: !!deps.tls, contentSecurityPolicy: { directives: { 'img-src': ["'self'", 'data:'] } } });
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
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    if (status >= 500) req.log.error({ err }, 'request failed');
    const details = (err as { details?: unknown }).details;
    return reply.code(status).send({
      statusCode: status,
      code: err.code ?? 'VIGIL_ERR_INTERNAL',
      error: STATUS_CODES[status] ?? 'Error',
      message: status >= 500 ? 'internal error; see the gateway log' : err.message,
      ...(status < 500 && Array.isArray(details) ? { details } : {}),
    });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ statusCode: 404, code: 'VIGIL_ERR_NOT_FOUND', error: 'Not Found', message: `no route ${req.method} ${req.url}; see /docs` }),
  );

  await app.register(swagger, {
    openapi: {
      info: { title: 'Vigil edge gateway API', version: deps.version, description: 'Devices, provisioning, audit, health and metrics of one Vigil edge box. /api routes need `Authorization: Bearer <principalId>.<secret>`.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  installAuth(app, deps.security, deps.allowAnonymous);
  await app.register(healthRoutes, { readiness: deps.readiness, startedAt: deps.startedAt });
  await app.register(deviceRoutes, { states: deps.states, security: deps.security, forwarding: deps.forwarding });
  await app.register(adminRoutes, { security: deps.security });
  await app.register(alertRoutes, { alerts: deps.alerts });
  await app.register(modelRoutes, { gateway: deps.gateway });
  await app.register(sessionRoutes, { gateway: deps.gateway });
  await app.register(cameraRoutes, { gateway: deps.gateway });
  await app.register(configRoutes, { configs: deps.configs, rollouts: deps.rollouts, registry: deps.security.registry });
  app.get('/metrics', { schema: { tags: ['health'], summary: 'Prometheus metrics', hide: false } }, async (_req, reply) =>
    reply.type(deps.registry.contentType).send(await deps.registry.metrics()),
  );
  return app;
}
export type VigilApp = Awaited<ReturnType<typeof buildApp>>;
