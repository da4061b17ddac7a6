/**
 * The aedes internals Vigil relies on, in one place (aedes 1.x): the map of connected clients by
 * id, and the Last Will a client object carries. Neither is in aedes' typed API; if an upgrade
 * moves them, tests/aedes-compat.test.ts fails here instead of a takeover, a revocation or a
 * will silently misbehaving elsewhere.
 */
import type { Aedes, Client, PublishPacket } from 'aedes';

type WithClients = { clients?: Record<string, Client> };

/** The client connected now under this id (after a takeover, the new one), if any. */
export function connectedClient(broker: Aedes | { id: string } | undefined, id: string): Client | undefined {
  return (broker as WithClients | undefined)?.clients?.[id];
}

/** Every client connected now. */
export function connectedClients(broker: Aedes | undefined): Client[] {
  return Object.values((broker as WithClients | undefined)?.clients ?? {});
}

/** Whether `packet` is the client's Last Will being published (aedes hands the will object itself to authorizePublish). */
export function isWillOf(client: Client, packet: PublishPacket): boolean {
  return (client as unknown as { will?: unknown }).will === packet;
}
