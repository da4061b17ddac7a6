/**
 * Adapters: real devices as they come. A device kind keeps its canonical schema; an adapter declares
 * how a family of real devices maps onto it, the way zigbee-herdsman-converters declare a device:
 * which transport it arrives on, how a vendor payload is parsed, and how it becomes the kind's
 * canonical messages (`fromDevice`). What comes out goes through the same ingest as a native device
 * (units, schema, refusals, pipeline, alerts): an adapter only translates. The default "adapter" is
 * Vigil's own `vigil/v1` JSON, which needs none.
 */

/** One canonical message of the device's kind, as the adapter read it from the vendor's payload. */
export interface AdaptedMessage {
  channel: 'event' | 'telemetry' | 'status' | 'snapshot';
  /** The channel's JSON body (events: with `type`); absent for a snapshot. */
  data?: Record<string, unknown>;
  /** A snapshot's JPEG. */
  jpeg?: Buffer;
  /** When the device says it happened, epoch ms (the gateway checks it against its clock like any other). */
  ts?: number;
}

/** A part of a vendor's push: the document (XML or JSON) and the pictures that came with it. */
export interface VendorPush {
  contentType: string;
  body: Buffer;
  pictures: Buffer[];
  /** For a bridged device, the part of the topic after the device's own (`''` for its state, `/availability`). */
  part?: string;
}

/**
 * What an adapter may remember of one device between its messages (zigbee2mqtt sends the device's whole
 * state each time; an event is a change of it). Kept in memory: after a restart the first state counts as new.
 */
export type AdapterMemory = Record<string, unknown>;

/** Which device a bridge's topic is about (its vendor name) and which part, or why the topic is not a device's. */
export type BridgeRoute = { device: string; part: string } | { ignore: string };

export type Translation = { ok: true; messages: AdaptedMessage[]; note?: string } | { ok: false; message: string };

export interface AdapterDefinition {
  /** Its name in the API and in a device's tag `adapter:<name>`. */
  name: string;
  title: string;
  /** The vendor documentation its mapping and fixtures come from. */
  docs: readonly string[];
  /**
   * How the devices reach the box: each pushing over HTTP with its own credentials, or through a bridge
   * (one MQTT identity speaking for a network of devices under its base topic).
   */
  transport: 'http-push' | 'mqtt-bridge';
  /** The kinds it carries. */
  kinds: readonly string[];
  /** mqtt-bridge: the base topic a bridge uses unless told otherwise, and how a topic under it names a device. */
  bridge?: { defaultBaseTopic: string; route(subtopic: string): BridgeRoute };
  /**
   * A vendor push as the device's kind's canonical messages; an empty list is a push that means nothing
   * for Vigil (counted, answered OK); `ok: false` is refused, saying why in words an installer can act on.
   */
  fromDevice(push: VendorPush, kind: string, memory: AdapterMemory): Translation;
  /** The kind an unknown device's first message looks like (for the pending list an admin approves from). */
  guessKind?(push: VendorPush): string | undefined;
  /**
   * A command of the device's kind as the vendor's message (mqtt-bridge: published on `<device topic><part>`),
   * or why this family of devices cannot do it (the command is then `rejected` with that reason).
   */
  toDevice?(command: { name: string; params: Record<string, unknown> }, kind: string): ToDevice;
}

/** What a command becomes for a bridged device: a message on one of its topics, and what it means for the answer. */
export type ToDevice = { ok: true; part: string; payload: Record<string, unknown>; note: string } | { ok: false; message: string };

const adapters = new Map<string, AdapterDefinition>();

export const defineAdapter = (a: AdapterDefinition): AdapterDefinition => a;

export function registerAdapter(a: AdapterDefinition): void {
  if (adapters.has(a.name)) throw new Error(`adapter "${a.name}" is already registered`);
  adapters.set(a.name, a);
}
export const getAdapter = (name: string): AdapterDefinition | undefined => adapters.get(name);
export const adapterNames = (): string[] => [...adapters.keys()];

/** The tag that lets a provisioned device use an adapter (an admin's decision, like its kind and site). */
export const adapterTag = (name: string) => `adapter:${name}`;
