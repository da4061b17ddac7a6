/** Who is on the other end of an MQTT connection, established once at CONNECT. */
import type { Client } from 'aedes';
import type { Role } from './registry.ts';

export type Identity =
  | { type: 'device'; id: string; site: string; kind: string; zone: string | null; via: 'password' | 'certificate' }
  | { type: 'principal'; id: string; role: Role; sites: string[] }
  /** A bridge (zigbee2mqtt) of one site, speaking for the devices of its network under its base topic. */
  | { type: 'bridge'; id: string; site: string; adapter: string; baseTopic: string }
  | { type: 'anonymous'; id: string };

/** Connection → identity; keyed by the connection so a takeover attempt cannot alter the live session's. */
export class Identities {
  readonly #m = new WeakMap<Client, Identity>();
  set(c: Client, i: Identity): void {
    this.#m.set(c, i);
  }
  get(c: Client | null | undefined): Identity | undefined {
    return c ? this.#m.get(c) : undefined;
  }
}

export function remoteAddress(client: Client): string | undefined {
  const conn = client.conn as { remoteAddress?: string; socket?: { remoteAddress?: string } };
  return conn.remoteAddress ?? client.req?.socket?.remoteAddress ?? conn.socket?.remoteAddress;
}

/**
 * The client ids a principal may use: `<principalId>:<suffix>`. ":" is outside the device id
 * alphabet (devices/define.ts idSchema), so these never collide with a device's client id.
 */
export const principalClientId = (principalId: string) => new RegExp(`^${principalId.replace(/[.]/g, '\\.')}:[A-Za-z0-9_.-]{1,64}$`);

/**
 * Where a client that is not a device hears why a publish was refused; it may subscribe to its own.
 * Principals' client ids (`id:suffix`) are used as they are, so two of them can never share one.
 */
export const clientErrorTopic = (clientId: string) =>
  `vigil/v1/_clients/${/^[A-Za-z0-9_.:-]{1,160}$/.test(clientId) ? clientId : clientId.replace(/[^A-Za-z0-9_.-]/g, '_')}/error`;

export const grants = (sites: string[], site: string) => sites.includes('*') || sites.includes(site);
