/**
 * Bearer-token authentication and role checks: the `vigil-auth` plugin, registered in the
 * `/api/v1` scope only (health, metrics and docs stay public by where they live, not by a flag).
 * `Authorization: Bearer <principalId>.<secret>`; each route names the roles it admits
 * in `config.roles`. Failures are audited and slowed per (principal, address), on a budget of
 * their own (MQTT failures never cost the API anything); the right token is never refused
 * because of anyone else's failures. Under a flood of checks from one address, its extra
 * requests get 503 + Retry-After at once.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Security } from '../security/index.ts';
import { BusyError, ForbiddenError, UnauthorizedError } from '../errors.ts';
import { ShedError } from '../security/limits.ts';
import type { Principal, Role } from '../security/registry.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** Roles admitted; routes without it are public (health, metrics, docs). */
    roles?: readonly Role[];
    /** Who may call a route outside the token-authenticated API, for the OpenAPI document ("device": a device with its own credentials). */
    callers?: readonly 'device'[];
  }
}

export const anyRole: readonly Role[] = ['consumer', 'engineer', 'admin'];
export const staffRoles: readonly Role[] = ['engineer', 'admin'];
export const adminOnly: readonly Role[] = ['admin'];

const anonymous: Principal = { id: 'anonymous', role: 'admin', sites: ['*'], state: 'enabled', createdAt: 0 };

export function actorOf(req: FastifyRequest) {
  return { id: req.principal?.id ?? 'anonymous', address: req.ip };
}

export interface AuthOptions {
  security: Security;
  /** Development mode (security.allowAnonymous): a request without a token is an admin. */
  allowAnonymous: boolean;
}

const auth: FastifyPluginAsync<AuthOptions> = async (app, { security, allowAnonymous }) => {
  app.decorateRequest('principal', undefined);
  // Every route of the scope names its roles: one that forgot would otherwise be open to anyone.
  app.addHook('onRoute', (r) => {
    if (!(r.config as { roles?: unknown } | undefined)?.roles) throw new Error(`route ${String(r.method)} ${r.url} has no config.roles`);
  });
  app.addHook('onRequest', async (req, reply) => {
    const roles = req.routeOptions.config?.roles;
    if (!roles) throw new ForbiddenError(`${req.method} ${req.url} admits nobody`);
    const header = req.headers.authorization;
    if (!header) {
      if (allowAnonymous) {
        req.principal = anonymous;
        return;
      }
      throw new UnauthorizedError('missing "Authorization: Bearer <token>" header');
    }
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    let r;
    try {
      r = m ? await security.registry.verifyToken(m[1]!, (check) => security.checks.run(req.ip, check)) : undefined;
    } catch (err) {
      if (!(err instanceof ShedError)) throw err;
      security.throttled.emit('api', 'shed');
      reply.header('retry-after', 1);
      throw new BusyError(err.message);
    }
    if (!r?.ok) {
      const who = m?.[1]?.split('.')[0] ?? 'unknown';
      const t = security.apiThrottle.fail(who, req.ip);
      security.audit.recordThrottled({
        actor: who,
        action: 'api.auth',
        target: `${req.method} ${req.routeOptions.url}`,
        outcome: 'denied',
        address: req.ip,
        detail: { reason: r ? r.reason : 'malformed Authorization header', ...(t.delayMs ? { delayedMs: t.delayMs } : {}) },
      });
      if (t.delayMs) {
        security.throttled.emit('api', 'delayed');
        await new Promise((resolve) => setTimeout(resolve, t.delayMs));
      }
      throw new UnauthorizedError('invalid or revoked token');
    }
    security.apiThrottle.succeed(r.record.id, req.ip);
    req.principal = r.record;
    if (!roles.includes(r.record.role)) {
      security.audit.record({
        actor: r.record.id,
        action: 'api.access',
        target: `${req.method} ${req.routeOptions.url}`,
        outcome: 'denied',
        address: req.ip,
        detail: { role: r.record.role, needs: roles },
      });
      throw new ForbiddenError(`role "${r.record.role}" may not ${req.method} ${req.routeOptions.url} (needs ${roles.join(' or ')})`);
    }
  });
};

/** Not encapsulated (fastify-plugin): its hooks apply to the scope that registers it, `/api/v1`. */
export const authPlugin = fp(auth, { name: 'vigil-auth', fastify: '5.x' });
