/** A simulated fleet: N devices of each kind at each site, over real MQTT. */
import { getKind } from '../devices/index.ts';
import { SimDevice, type SimOptions } from './device.ts';
import { BodycamSim } from './kinds/bodycam.ts';
import { CameraSim } from './kinds/camera.ts';
import { DoorSim } from './kinds/door.ts';
import { SmokeSim } from './kinds/smoke.ts';
import type { LabelLog } from './labels.ts';

export type SimulatorClass = new (o: SimOptions) => SimDevice;

/** Simulators by kind: the shipped kinds' below; a kind registered elsewhere brings its own through registerSimulator(). */
const simulators = new Map<string, SimulatorClass>([
  ['camera', CameraSim],
  ['door', DoorSim],
  ['smoke', SmokeSim],
  ['bodycam', BodycamSim],
]);

export function registerSimulator(kind: string, sim: SimulatorClass): void {
  if (!getKind(kind)) throw new Error(`no device kind "${kind}" is registered (devices/index.ts registerKind)`);
  if (simulators.has(kind)) throw new Error(`kind "${kind}" already has a simulator`);
  simulators.set(kind, sim);
}

export const simulatedKinds = (): string[] => [...simulators.keys()];

export function createSim(kind: string, opts: SimOptions): SimDevice {
  const Sim = simulators.get(kind);
  if (!Sim) throw new Error(`no simulator for kind "${kind}"; simulated kinds: ${simulatedKinds().join(', ')}`);
  return new Sim(opts);
}

export const deviceIdFor = (site: string, kind: string, n: number) => `${site}-${kind}-${String(n).padStart(2, '0')}`;

/** The devices a fleet of this shape has, in order: what to provision before starting it. */
export function fleetPlan(sites: string[], perKind: Record<string, number>): { site: string; kind: string; deviceId: string }[] {
  const out: { site: string; kind: string; deviceId: string }[] = [];
  for (const site of sites) {
    for (const [kind, n] of Object.entries(perKind)) {
      for (let i = 1; i <= n; i++) out.push({ site, kind, deviceId: deviceIdFor(site, kind, i) });
    }
  }
  return out;
}

export interface FleetOptions {
  url: string;
  sites: string[];
  perKind: Record<string, number>;
  speed?: number;
  seed?: number | string;
  labels?: LabelLog;
  /** Connections opened at once while starting (a real fleet does not connect in one burst either). */
  connectConcurrency?: number;
  credentials?: (deviceId: string) => { username: string; password: string } | undefined;
  /** Site public keys (PEM) for verifying desired configs. */
  configKeys?: (site: string) => string | undefined;
  /** Where each site is (WGS 84): body cameras patrol around it; random near Shenzhen when not given. */
  origins?: (site: string) => { lat: number; lon: number } | undefined;
  /** The devices' clock (time stamps, daily patterns such as rush hours); the wall clock by default. */
  now?: () => number;
}

export class Fleet {
  readonly devices: SimDevice[] = [];
  readonly #opts: FleetOptions;

  constructor(opts: FleetOptions) {
    this.#opts = opts;
    for (const { site, kind, deviceId } of fleetPlan(opts.sites, opts.perKind)) {
      this.devices.push(
        createSim(kind, {
          url: opts.url,
          site,
          deviceId,
          speed: opts.speed,
          seed: opts.seed,
          labels: opts.labels,
          configKey: opts.configKeys?.(site),
          now: opts.now,
          origin: opts.origins?.(site),
          ...opts.credentials?.(deviceId),
        }),
      );
    }
  }

  async start(): Promise<void> {
    const queue = [...this.devices];
    const worker = async () => {
      for (let d = queue.shift(); d; d = queue.shift()) await d.start();
    };
    await Promise.all(Array.from({ length: this.#opts.connectConcurrency ?? 20 }, worker));
  }

  async stop(): Promise<void> {
    await Promise.all(this.devices.map((d) => d.stop()));
  }

  ofKind(kind: string): SimDevice[] {
    return this.devices.filter((d) => d.kind === kind);
  }

  get published(): number {
    return this.devices.reduce((n, d) => n + d.stats.published, 0);
  }
}
