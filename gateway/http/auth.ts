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
import { ForbiddenError, UnauthorizedError } from '../errors.ts';
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
  app.addHook('onRequest', async (req) => {
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
    const principal = await security.checkHttpCredential({
      who: m?.[1]?.split('.')[0] ?? 'unknown',
      address: req.ip,
      action: 'api.auth',
      target: `${req.method} ${req.routeOptions.url}`,
      message: 'invalid or revoked token',
      check: async () =>
        m ? await security.registry.verifyToken(m[1]!, (check) => security.checks.run(req.ip, check)) : { ok: false, reason: 'malformed Authorization header' },
    });
    req.principal = principal;
    if (!roles.includes(principal.role)) {
      security.audit.record({
        actor: principal.id,
        action: 'api.access',
        target: `${req.method} ${req.routeOptions.url}`,
        outcome: 'denied',
        address: req.ip,
        detail: { role: principal.role, needs: roles },
      });
      throw new ForbiddenError(`role "${principal.role}" may not ${req.method} ${req.routeOptions.url} (needs ${roles.join(' or ')})`);
    }
  });
};

/** Not encapsulated (fastify-plugin): its hooks apply to the scope that registers it, `/api/v1`. */
export const authPlugin = fp(auth, { name: 'vigil-auth', fastify: '5.x' });
