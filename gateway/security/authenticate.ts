/**
 * MQTT CONNECT policy (aedes authenticate). Identities are typed, and their client ids live in
 * namespaces that cannot meet:
 * - a device logs in with username = its id and its secret, or with a client certificate
 *   (mutual TLS) whose CN is its id; its client id is its id, exactly;
 * - a principal (consumer, engineer, admin) logs in with its id and secret; its client id is
 *   `<principalId>:<suffix>` (`ops-center:wall1`). Device ids cannot contain ":", so no
 *   principal can ever hold, or take over [MQTT-3.1.4-2], a device's client id;
 * - a principal's Last Will must be a topic it may publish (an alert command of a granted site);
 * - a bridge (zigbee2mqtt) logs in with its id and secret, client id = its id; its Last Will must be under its base topic;
 * - an unknown user name that could be a device id is remembered as a pending device (onboarding) and refused.
 * Failures are slowed per (credential, source) and checks shared fairly between sources
 * (limits.ts); the right secret is never refused because of anyone else's failures.
 * CONNACK codes [MQTT-3.2.2.3]: 2 identifier rejected, 3 server unavailable (shed under a login
 * flood; retry), 4 bad user name or password, 5 not authorized.
 */
import { TLSSocket } from 'node:tls';
import type { Client } from 'aedes';
import type { AuditLog } from './audit.ts';
import { mayPublish } from './authorize.ts';
import { Identities, principalClientId, remoteAddress, type Identity } from './identity.ts';
import { ShedError, type FairQueue, type LoginThrottle } from './limits.ts';
import type { Registry } from './registry.ts';

type Done = (err: (Error & { returnCode: number }) | null, ok: boolean | null) => void;

const refusal = (returnCode: 2 | 3 | 4 | 5, message: string) => Object.assign(new Error(message), { returnCode });

export interface AuthDeps {
  registry: Registry;
  audit: AuditLog;
  throttle: LoginThrottle;
  checks: FairQueue;
  identities: Identities;
  allowAnonymous: boolean;
  /** Counts refusals held back and logins shed (metrics). */
  onThrottle?: (what: 'delayed' | 'shed') => void;
  /** An unknown device tried to connect (onboarding's pending list). */
  onUnknown?: (claimedId: string, address: string, willTopic: string | undefined) => void;
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
    const address = remoteAddress(client) ?? 'unknown';
    const credential = username ?? client.id;
    const deny = (code: 2 | 4 | 5, reason: string, actor = credential) => {
      const t = d.throttle.fail(actor, address);
      d.audit.recordThrottled({
        actor,
        action: 'mqtt.connect',
        target: client.id,
        outcome: 'denied',
        address,
        detail: { reason, ...(t.delayMs ? { delayedMs: t.delayMs } : {}), ...(t.flooding ? { flooding: true } : {}) },
      });
      if (!t.delayMs) return done(refusal(code, reason), null);
      // Held back, not refused early: the next try of this pair waits as long, and a right secret is never refused.
      d.onThrottle?.('delayed');
      setTimeout(() => done(refusal(code, reason), null), t.delayMs);
    };
    const accept = (identity: Identity) => {
      d.throttle.succeed(identity.type === 'device' && identity.via === 'certificate' ? identity.id : credential, address);
      d.identities.set(client, identity);
      if (identity.type === 'device') d.registry.touchDevice(identity.id, address);
      d.audit.recordThrottled({
        actor: identity.id,
        action: 'mqtt.connect',
        target: client.id,
        outcome: 'ok',
        address,
        detail: { type: identity.type, ...(identity.type === 'device' ? { via: identity.via } : {}) },
      });
      done(null, true);
    };

    const check = async () => {
      const peer = peerCertificate(client);
      if (peer) {
        // Mutual TLS: the certificate is the credential. An untrusted one never logs in, password or not.
        if (!peer.socket.authorized) return deny(5, `client certificate not trusted: ${String(peer.socket.authorizationError)}`);
        if (!peer.cn) return deny(5, 'client certificate has no CN');
        if (username && username !== peer.cn) return deny(5, `username "${username}" does not match certificate CN "${peer.cn}"`);
        const r = await d.registry.verifyDevice(peer.cn, undefined);
        if (!r.ok) return deny(5, `certificate of ${r.reason} device "${peer.cn}"`, peer.cn);
        if (client.id !== peer.cn) return deny(2, `client id must be the device id "${peer.cn}"`, peer.cn);
        return accept({ type: 'device', id: peer.cn, site: r.record.site, kind: r.record.kind, zone: r.record.zone, via: 'certificate' });
      }
      if (!username) {
        if (d.allowAnonymous) return accept({ type: 'anonymous', id: client.id });
        return deny(5, 'credentials required (anonymous access is disabled)');
      }
      const secret = password?.toString('utf8') ?? '';
      if (d.registry.getDevice(username)) {
        const r = await d.checks.run(address, () => d.registry.verifyDevice(username, secret));
        if (!r.ok) return deny(r.reason === 'bad_secret' ? 4 : 5, r.reason === 'bad_secret' ? 'bad user name or password' : `device is ${r.reason}`);
        if (client.id !== username) return deny(2, `client id must be the device id "${username}"`);
        return accept({ type: 'device', id: username, site: r.record.site, kind: r.record.kind, zone: r.record.zone, via: 'password' });
      }
      if (d.registry.getBridge(username)) {
        const b = await d.checks.run(address, () => d.registry.verifyBridge(username, secret));
        if (!b.ok) return deny(b.reason === 'bad_secret' ? 4 : 5, b.reason === 'bad_secret' ? 'bad user name or password' : `bridge is ${b.reason}`);
        if (client.id !== username) return deny(2, `client id must be the bridge id "${username}" (zigbee2mqtt: mqtt.client_id)`);
        const identity: Identity = { type: 'bridge', id: username, site: b.record.site, adapter: b.record.adapter, baseTopic: b.record.baseTopic };
        const will = (client as unknown as { _will?: { topic: string } })._will;
        if (will && !mayPublish(identity, will.topic))
          return deny(5, `Last Will topic "${will.topic}" is not under the bridge's base topic "${b.record.baseTopic}/"`);
        d.registry.touchBridge(username, address);
        return accept(identity);
      }
      const r = await d.checks.run(address, () => d.registry.verifyPrincipal(username, secret));
      if (!r.ok && r.reason === 'unknown' && client.id === username)
        d.onUnknown?.(username, address, (client as unknown as { _will?: { topic: string } })._will?.topic);
      if (!r.ok) return deny(r.reason === 'revoked' ? 5 : 4, r.reason === 'revoked' ? 'principal is revoked' : 'bad user name or password');
      if (!principalClientId(username).test(client.id))
        return deny(2, `client id of a person or service must be "${username}:<suffix>" (e.g. "${username}:console"); device client ids are the devices' own`);
      const identity: Identity = { type: 'principal', id: username, role: r.record.role, sites: r.record.sites };
      const will = (client as unknown as { _will?: { topic: string } })._will;
      if (will && !mayPublish(identity, will.topic))
        return deny(5, `Last Will topic "${will.topic}" is not one this principal may publish (alert commands of its granted sites)`);
      return accept(identity);
    };
    check().catch((err: Error) => {
      if (err instanceof ShedError) {
        d.onThrottle?.('shed');
        d.audit.recordThrottled({
          actor: credential,
          action: 'mqtt.connect',
          target: client.id,
          outcome: 'denied',
          address,
          detail: { reason: 'shed: too many logins in progress from this address' },
        });
        return done(refusal(3, err.message), null);
      }
      done(refusal(5, `authentication failed: ${err.message}`), null);
    });
  };
}
