/**
 * MQTT CONNECT policy (aedes preConnect + authenticate):
 * - devices log in with username = device id and their secret, or with a client
 *   certificate (mutual TLS) whose CN is the device id; the client id must be the device id;
 * - principals (consumers, engineers, admins) log in with their id and secret; their
 *   client id is their id or starts with `<id>-`;
 * - so a client id can only ever be taken over by the identity that owns it [MQTT-3.1.4-2];
 * - failures count towards a lockout per client id and per source address.
 * CONNACK codes [MQTT-3.2.2.3]: 2 identifier rejected, 4 bad user name or password, 5 not authorized.
 */
import { TLSSocket } from 'node:tls';
import type { Client } from 'aedes';
import type { AuditLog } from './audit.ts';
import { Identities, remoteAddress, type Identity } from './identity.ts';
import type { Lockout } from './limits.ts';
import type { Registry } from './registry.ts';

type Done = (err: (Error & { returnCode: number }) | null, ok: boolean | null) => void;

const refusal = (returnCode: 2 | 4 | 5, message: string) => Object.assign(new Error(message), { returnCode });

export interface AuthDeps {
  registry: Registry;
  audit: AuditLog;
  lockout: Lockout;
  identities: Identities;
  allowAnonymous: boolean;
}

function peerCertificate(client: Client): { socket: TLSSocket; cn?: string } | undefined {
  // TCP/TLS connections arrive wrapped in the FrameGuard (its .socket); WSS ones through the HTTP request.
  const socket = [client.conn, (client.conn as { socket?: unknown }).socket, client.req?.socket].find((s): s is TLSSocket => s instanceof TLSSocket);
  if (!socket) return undefined;
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return undefined;
  const cn = cert.subject?.CN;
  return { socket, cn: Array.isArray(cn) ? cn[0] : cn };
}

export function createAuthenticate(d: AuthDeps) {
  return function authenticate(client: Client, username: string | undefined, password: Buffer | undefined, done: Done): void {
    const address = remoteAddress(client);
    const keys = [`client:${client.id}`, `addr:${address}`];
    const deny = (code: 2 | 4 | 5, reason: string, countsAsFailure = true, actor = username ?? client.id) => {
      const locked = countsAsFailure ? d.lockout.fail(keys) : 0;
      d.audit.record({ actor, action: 'mqtt.connect', target: client.id, outcome: 'denied', address, detail: { reason, ...(locked ? { lockedForS: Math.round(locked / 1000) } : {}) } });
      done(refusal(code, reason), null);
    };
    const accept = (identity: Identity) => {
      d.lockout.succeed(keys[0]!);
      d.identities.set(client, identity);
      if (identity.type === 'device') d.registry.touchDevice(identity.id, address);
      d.audit.recordThrottled({ actor: identity.id, action: 'mqtt.connect', target: client.id, outcome: 'ok', address, detail: { type: identity.type, ...(identity.type === 'device' ? { via: identity.via } : {}) } });
      done(null, true);
    };

    const lockedMs = d.lockout.lockedFor(keys);
    if (lockedMs > 0) {
      d.audit.recordThrottled({ actor: username ?? client.id, action: 'mqtt.connect', target: client.id, outcome: 'denied', address, detail: { reason: 'locked_out', retryInS: Math.ceil(lockedMs / 1000) } });
      return done(refusal(5, `locked out for ${Math.ceil(lockedMs / 1000)} s after repeated failures`), null);
    }

    const run = async () => {
      const peer = peerCertificate(client);
      if (peer) {
        // Mutual TLS: the certificate is the credential. An untrusted one never logs in, password or not.
        if (!peer.socket.authorized) return deny(5, `client certificate not trusted: ${String(peer.socket.authorizationError)}`);
        if (!peer.cn) return deny(5, 'client certificate has no CN');
        if (username && username !== peer.cn) return deny(5, `username "${username}" does not match certificate CN "${peer.cn}"`);
        const r = await d.registry.verifyDevice(peer.cn, undefined);
        if (!r.ok) return deny(5, `certificate of ${r.reason} device "${peer.cn}"`, true, peer.cn);
        if (client.id !== peer.cn) return deny(2, `client id must be the device id "${peer.cn}"`, true, peer.cn);
        return accept({ type: 'device', id: peer.cn, site: r.record.site, kind: r.record.kind, zone: r.record.zone, via: 'certificate' });
      }
      if (!username) {
        if (d.allowAnonymous) return accept({ type: 'anonymous', id: client.id });
        return deny(5, 'credentials required (anonymous access is disabled)');
      }
      const secret = password?.toString('utf8') ?? '';
      const device = d.registry.getDevice(username);
      if (device) {
        const r = await d.registry.verifyDevice(username, secret);
        if (!r.ok) return deny(r.reason === 'bad_secret' ? 4 : 5, r.reason === 'bad_secret' ? 'bad user name or password' : `device is ${r.reason}`);
        if (client.id !== username) return deny(2, `client id must be the device id "${username}"`);
        return accept({ type: 'device', id: username, site: r.record.site, kind: r.record.kind, zone: r.record.zone, via: 'password' });
      }
      const r = await d.registry.verifyPrincipal(username, secret);
      if (!r.ok) return deny(r.reason === 'revoked' ? 5 : 4, r.reason === 'revoked' ? 'principal is revoked' : 'bad user name or password');
      if (client.id !== username && !client.id.startsWith(`${username}-`)) return deny(2, `client id must be "${username}" or start with "${username}-"`);
      return accept({ type: 'principal', id: username, role: r.record.role, sites: r.record.sites });
    };
    run().catch((err: Error) => done(refusal(5, `authentication failed: ${err.message}`), null));
  };
}
