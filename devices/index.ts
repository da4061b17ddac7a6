/** The registry of device kinds. A kind not listed here does not exist for the gateway. */
import type { DeviceDefinition } from './define.ts';
import { camera } from './kinds/camera.ts';
import { door } from './kinds/door.ts';
import { smoke } from './kinds/smoke.ts';
import { bodycam } from './kinds/bodycam.ts';

export const deviceKinds = { camera, door, smoke, bodycam } as const;
export type DeviceKind = keyof typeof deviceKinds;
export const kindNames = Object.keys(deviceKinds) as DeviceKind[];

export function getKind(kind: string): DeviceDefinition | undefined {
  return Object.hasOwn(deviceKinds, kind) ? (deviceKinds as Record<string, DeviceDefinition>)[kind] : undefined;
}

export * from './define.ts';
export * from './topics.ts';
export * from './units.ts';
export { camera, door, smoke, bodycam };
