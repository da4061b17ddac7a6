/** A site of simulated doors for the config tests: provisioned, online, verifying the site's signed configs. */
import type { Gateway } from '../../gateway/gateway.ts';
import { DoorSim } from '../../simulators/kinds/door.ts';

export interface DoorSiteOptions {
  zone?: string;
  tags?: string[];
  /** Why a door refuses a configuration (undefined: it applies it). */
  failConfig?: (deviceId: string, config: Record<string, unknown>) => string | undefined;
}

/** `n` doors `<site>-door-NN` of a site of their own; stop them with `stop()` on each. */
export async function doorSite(gw: Gateway, site: string, n: number, o: DoorSiteOptions = {}): Promise<DoorSim[]> {
  const provisioned = await gw.security.registry.provisionMany(
    Array.from({ length: n }, (_, i) => ({
      deviceId: `${site}-door-${String(i + 1).padStart(2, '0')}`,
      kind: 'door',
      site,
      zone: o.zone ?? 'gate',
      tags: o.tags ?? [],
    })),
    { id: 'test' },
  );
  const configKey = gw.configs.keys.get(site).publicPem;
  const out: DoorSim[] = [];
  for (const p of provisioned) {
    const id = p.device.deviceId;
    const sim = new DoorSim({
      url: `mqtt://127.0.0.1:${gw.ports.mqtt}`,
      site,
      deviceId: id,
      speed: 1,
      seed: id,
      ...p.credentials,
      configKey,
      ...(o.failConfig ? { failConfig: (c: Record<string, unknown>) => o.failConfig!(id, c) } : {}),
    });
    await sim.start();
    out.push(sim);
  }
  return out;
}
