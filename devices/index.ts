/**
 * The registry of device kinds. A kind not registered here does not exist for the gateway.
 *
 * The four shipped kinds are registered on import; another kind is one folder under
 * `devices/kinds/<kind>/` (its definition, rules and alert types) added to `deviceKinds` below, or,
 * for a plug-in or a test, passed to `registerKind()` before the gateway starts.
 */
import { z } from 'zod';
import type { DeviceDefinition } from './define.ts';
import type { AlertTypeSpec, Severity } from './rules.ts';
import { camera } from './kinds/camera/index.ts';
import { door } from './kinds/door/index.ts';
import { smoke } from './kinds/smoke/index.ts';
import { bodycam } from './kinds/bodycam/index.ts';

/** The shipped kinds, typed (tests and simulators read their schemas directly). */
export const deviceKinds = { camera, door, smoke, bodycam } as const;
export type DeviceKind = keyof typeof deviceKinds;

/** Alert types that belong to no kind: the fleet's own (edge/alerts/fleet-health.ts, the status rule). */
export const coreAlertTypes: Record<string, AlertTypeSpec> = {
  device_offline: { severity: 'minor', title: 'A device went offline without announcing a planned stop, or stopped reporting.' },
  coverage_drop: { severity: 'major', title: "The healthy share of a site's devices of one kind fell below the coverage target." },
};

const kinds = new Map<string, DeviceDefinition>();
const alertTypeSpecs = new Map<string, AlertTypeSpec>(Object.entries(coreAlertTypes));

/** Register a kind (after the shipped ones). Throws when the name is taken or an alert type contradicts another kind's. */
export function registerKind(def: DeviceDefinition): void {
  if (kinds.has(def.kind)) throw new Error(`device kind "${def.kind}" is already registered`);
  for (const [type, a] of Object.entries(def.alerts)) {
    const prev = alertTypeSpecs.get(type);
    if (prev && prev.severity !== a.severity)
      throw new Error(`kind "${def.kind}" declares alert type "${type}" as ${a.severity}; it is already ${prev.severity}`);
  }
  kinds.set(def.kind, def);
  for (const [type, a] of Object.entries(def.alerts)) if (!alertTypeSpecs.has(type)) alertTypeSpecs.set(type, a);
}

for (const def of Object.values(deviceKinds)) registerKind(def);

export function getKind(kind: string): DeviceDefinition | undefined {
  return kinds.get(kind);
}

/** Registered kind names, in registration order. */
export const kindNames = (): string[] => [...kinds.keys()];
export const registeredKinds = (): DeviceDefinition[] => [...kinds.values()];
export const isKind = (k: unknown): k is string => typeof k === 'string' && kinds.has(k);

/** A registered kind (checked when parsed, so a kind registered later is accepted). */
export const kindSchema = z
  .string()
  .refine(isKind, { error: (iss) => `unknown device kind "${String(iss.input)}"; registered: ${kindNames().join(', ')}` })
  .meta({ description: 'a registered device kind (camera, door, smoke, bodycam as shipped)', examples: ['smoke'] });

/** Every alert type: the core ones, then the kinds' in registration order. */
export const alertTypeNames = (): string[] => [...alertTypeSpecs.keys()];
export const alertTypeSpec = (type: string): AlertTypeSpec | undefined => alertTypeSpecs.get(type);
export const isAlertType = (t: unknown): t is string => typeof t === 'string' && alertTypeSpecs.has(t);
/** The declared severity of an alert type ('major' for an undeclared one, which the engine refuses anyway). */
export const severityOf = (type: string): Severity => alertTypeSpecs.get(type)?.severity ?? 'major';

export const alertTypeSchema = z
  .string()
  .refine(isAlertType, { error: (iss) => `unknown alert type "${String(iss.input)}"; known: ${alertTypeNames().join(', ')}` })
  .meta({ description: 'an alert type declared by a device kind or the fleet (see README "Alerts")', examples: ['fire'] });

export * from './define.ts';
export * from './rules.ts';
export * from './topics.ts';
export * from './units.ts';
export * from './zones.ts';
export { camera, door, smoke, bodycam };
