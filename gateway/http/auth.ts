/**
 * Bearer-token authentication and role checks for /api routes.
 * `Authorization: Bearer <principalId>.<secret>`; each route names the roles it admits
 * in `config.roles`. Failures are audited and count towards the source address's lockout.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Security } from '../security/index.ts';
import { ForbiddenError, UnauthorizedError } from '../security/errors.ts';
import type { Principal, Role } from '../security/registry.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** Roles admitted; routes without it are public (health, metrics, docs). */
    roles?: readonly Role[];
  }
}

export const anyRole: readonly Role[] = ['consumer', 'engineer', 'admin'];
export const staffRoles: readonly Role[] = ['engineer', 'admin'];
export const adminOnly: readonly Role[] = ['admin'];

const anonymous: Principal = { id: 'anonymous', role: 'admin', sites: ['*'], state: 'enabled', createdAt: 0 };

export function actorOf(req: FastifyRequest) {
  return { id: req.principal?.id ?? 'anonymous', address: req.ip };
}

export function installAuth(app: FastifyInstance, security: Security, allowAnonymous: boolean): void {
  app.addHook('onRequest', async (req, reply) => {
    const roles = req.routeOptions.config?.roles;
    if (!roles) return;
    const header = req.headers.authorization;
    const addrKey = `addr:${req.ip}`;
    if (!header) {
      if (allowAnonymous) {
        req.principal = anonymous;
        return;
      }
      throw new UnauthorizedError('missing "Authorization: Bearer <token>" header');
    }
    const locked = security.lockout.lockedFor([addrKey]);
    if (locked > 0) {
      reply.header('retry-after', Math.ceil(locked / 1000));
      return reply.code(429).send({ statusCode: 429, code: 'VIGIL_ERR_LOCKED_OUT', error: 'Too Many Requests', message: `too many failed logins from ${req.ip}; retry in ${Math.ceil(locked / 1000)} s` });
    }
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    const r = m ? await security.registry.verifyToken(m[1]!) : undefined;
    if (!r?.ok) {
      security.lockout.fail([addrKey]);
      security.audit.recordThrottled({ actor: m?.[1]?.split('.')[0] ?? 'unknown', action: 'api.auth', target: `${req.method} ${req.routeOptions.url}`, outcome: 'denied', address: req.ip, detail: { reason: r ? r.reason : 'malformed Authorization header' } });
      throw new UnauthorizedError('invalid or revoked token');
    }
    req.principal = r.record;
    if (!roles.includes(r.record.role)) {
      security.audit.record({ actor: r.record.id, action: 'api.access', target: `${req.method} ${req.routeOptions.url}`, outcome: 'denied', address: req.ip, detail: { role: r.record.role, needs: roles } });
      throw new ForbiddenError(`role "${r.record.role}" may not ${req.method} ${req.routeOptions.url} (needs ${roles.join(' or ')})`);
    }
  });
}
