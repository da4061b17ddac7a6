/**
 * Devices through adapters (devices/adapters.ts), two ways in:
 * - **HTTP push** (Hikvision ISAPI): the push is authenticated as the device it claims to be (its own
 *   registry credentials, HTTP Basic, with the same login throttle, shedding and audit as the API);
 * - **a bridge** (zigbee2mqtt): one MQTT identity of a site speaks for the devices of its network under its
 *   base topic; what it says counts only for devices of its own site.
 * Either way the device must be one an admin tagged `adapter:<name>`, of a kind the adapter carries. The
 * adapter translates; each canonical message goes through the same ingest as a native device's MQTT
 * publish (topic → kind → size → parse → units → schema → time), then the pipeline, and is published on
 * the device's canonical topic (`vigil/v1/{site}/{kind}/{id}/...`) for consumers, like a native device's.
 * The answer (HTTP 200, PUBACK) waits for the pipeline's critical stages (the spool's commit). Refusals
 * are counted (`vigil_ingest_refused_total`), kept per device, and told to the sender with the reason.
 * A device nobody registered is remembered as pending for an admin (onboarding.ts).
 */
import { deviceTopic, type DeviceAddress } from '../../devices/index.ts';
import {
  adapterNames,
  adapterTag,
  getAdapter,
  type AdaptedMessage,
  type AdapterDefinition,
  type AdapterMemory,
  type VendorPush,
} from '../../devices/adapters/index.ts';
import type { Aedes } from 'aedes';
import type { Bridge, DeviceRecord } from '../security/registry.ts';
import type { Onboarding } from './onboarding.ts';
import { ingest, type IngestLimits } from '../../edge/ingest.ts';
import type { DeviceStates } from '../../edge/device-state.ts';
import type { DeviceMessage, Refusal } from '../../edge/message.ts';
import type { Pipeline } from '../../edge/pipeline.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Security } from '../security/index.ts';
import { ForbiddenError, NotFoundError, VendorRefusedError } from '../errors.ts';
import { handOver, type BridgedResult } from '../broker/publish-policy.ts';

export interface AdaptedIngestDeps {
  security: Security;
  pipeline: Pipeline;
  states: DeviceStates;
  metrics: Metrics;
  limits: IngestLimits;
  log: Logger;
  now: () => number;
  onboarding: Onboarding;
  /** Adapters of this gateway's configuration (generic JSON profiles), besides the shipped ones. */
  local?: AdapterDefinition[];
}

export interface PushResult {
  adapter: string;
  deviceId: string;
  accepted: { channel: string; type?: string }[];
  note?: string;
}

export class AdaptedIngest {
  readonly #d: AdaptedIngestDeps;
  /** Per device, what its adapter remembers between messages (zigbee2mqtt's last state). */
  readonly #memory = new Map<string, AdapterMemory>();
  /** Bridge id → the devices it spoke for in this run (they go offline with it, and are reachable again when it is back). */
  readonly #behind = new Map<string, Map<string, DeviceAddress>>();
  /** Device id → the bridge it was last heard through, and the name the bridge knows it by (commands go back that way). */
  readonly #via = new Map<string, { bridge: Pick<Bridge, 'id' | 'baseTopic'>; name: string }>();
  /** Bridges read from a site's own broker: how to publish to them (direct bridges are reached through the box's broker). */
  readonly #senders = new Map<string, (topic: string, payload: Buffer) => void>();
  #broker?: Aedes;

  readonly #local: Map<string, AdapterDefinition>;

  constructor(deps: AdaptedIngestDeps) {
    this.#d = deps;
    this.#local = new Map((deps.local ?? []).map((a) => [a.name, a]));
  }

  /** Every adapter this gateway serves: the shipped ones and its configuration's profiles. */
  list(): AdapterDefinition[] {
    return [...adapterNames().map((n) => getAdapter(n)!), ...this.#local.values()];
  }

  /** An adapter by name: this gateway's profiles, then the shipped ones. */
  adapter(name: string): AdapterDefinition | undefined {
    return this.#local.get(name) ?? getAdapter(name);
  }

  /** Accepted messages are published on the devices' canonical topics through this broker. */
  attach(broker: Aedes): void {
    this.#broker = broker;
  }

  #memoryOf(deviceId: string): AdapterMemory {
    let m = this.#memory.get(deviceId);
    if (!m) this.#memory.set(deviceId, (m = {}));
    return m;
  }

  /** The devices a bridge spoke for go offline when it does (its session ended)... */
  bridgeGone(bridgeId: string): void {
    for (const id of this.#behind.get(bridgeId)?.keys() ?? []) if (this.#via.get(id)?.bridge.id === bridgeId) this.#d.states.disconnected(id);
  }

  /** ...and are reachable again when it is back (zigbee2mqtt's retained availability then says which are alive). */
  bridgeBack(bridgeId: string): void {
    for (const [id, a] of this.#behind.get(bridgeId) ?? []) if (this.#via.get(id)?.bridge.id === bridgeId) this.#d.states.connected(a);
  }

  /** Why `device` may not use `adapter`, or undefined when it may. */
  static #mismatch(adapter: AdapterDefinition, device: DeviceRecord, who: string): string | undefined {
    if (!adapter.kinds.includes(device.kind)) return `adapter "${adapter.name}" carries ${adapter.kinds.join(', ')} devices; "${who}" is a ${device.kind}`;
    if (!device.tags.includes(adapterTag(adapter.name)))
      return `device "${device.deviceId}" is not provisioned for adapter "${adapter.name}": an admin adds the tag "${adapterTag(adapter.name)}"`;
    if (device.state !== 'enabled') return `device "${device.deviceId}" is ${device.state}`;
    return undefined;
  }

  /**
   * One message a bridge published on `<baseTopic>/<subtopic>` (directly, or relayed from the site's own
   * broker). Topics that are not a device's report (the bridge's own, commands) are left alone.
   */
  async bridged(bridge: Pick<Bridge, 'id' | 'site' | 'adapter' | 'baseTopic'>, topic: string, payload: Buffer, address?: string): Promise<BridgedResult> {
    const { states, security, log } = this.#d;
    const adapter = this.adapter(bridge.adapter);
    if (!adapter?.bridge)
      return {
        ok: false,
        refusal: { code: 'not_permitted', message: `bridge "${bridge.id}" names adapter "${bridge.adapter}", which is not a bridge adapter` },
      };
    if (topic !== bridge.baseTopic && !topic.startsWith(`${bridge.baseTopic}/`))
      return { ok: false, refusal: { code: 'not_permitted', message: `bridge "${bridge.id}" publishes under ${bridge.baseTopic}/ only` } };
    const route = adapter.bridge.route(topic.slice(bridge.baseTopic.length + 1));
    if ('ignore' in route) return { ok: true, accepted: 0, note: route.ignore };
    const push: VendorPush = { contentType: 'application/json', body: payload, pictures: [], part: route.part };
    const device = security.registry.findExternal(bridge.site, route.device) ?? this.#sameSite(bridge.site, route.device);
    if (!device) {
      this.#d.onboarding.seen({
        source: `bridge:${bridge.id}`,
        claimedId: route.device,
        adapter: adapter.name,
        site: bridge.site,
        kind: adapter.guessKind?.(push),
        address,
        topic,
      });
      return {
        ok: false,
        refusal: {
          code: 'unknown_device',
          message: `"${route.device}" is not a registered device of site "${bridge.site}"; it is listed as pending for an admin`,
        },
      };
    }
    const a = { site: device.site, kind: device.kind, deviceId: device.deviceId };
    const refused = (r: Refusal): BridgedResult => {
      states.refused(a, r.code);
      return { ok: false, refusal: r };
    };
    const mismatch = AdaptedIngest.#mismatch(adapter, device, route.device);
    if (mismatch) return refused({ code: 'not_permitted', message: mismatch });
    const t = adapter.fromDevice(push, device.kind, this.#memoryOf(device.deviceId));
    if (!t.ok) return refused({ code: 'schema_violation', message: `${adapter.name} "${route.device}": ${t.message}` });
    let behind = this.#behind.get(bridge.id);
    if (!behind) this.#behind.set(bridge.id, (behind = new Map()));
    behind.set(device.deviceId, a);
    this.#via.set(device.deviceId, { bridge: { id: bridge.id, baseTopic: bridge.baseTopic }, name: route.device });
    for (const m of t.messages) {
      const r = await this.#ingestOne(a, m);
      if (!r.ok) {
        log.warn({ bridge: bridge.id, device: device.deviceId, code: r.refusal.code }, `refused: ${r.refusal.message}`);
        return refused(r.refusal);
      }
      await handOver(this.#d, r.message, true);
      this.#echo(a, m, r.payload);
    }
    return { ok: true, accepted: t.messages.length, ...(t.note ? { note: t.note } : {}) };
  }

  /** An upstream bridge (a site's broker) publishes commands through its own client. */
  setSender(bridgeId: string, send: ((topic: string, payload: Buffer) => void) | undefined): void {
    if (send) this.#senders.set(bridgeId, send);
    else this.#senders.delete(bridgeId);
  }

  /**
   * A command for a device that speaks through a bridge adapter: translated (`toDevice`) and published on
   * the device's vendor topic through the bridge it was last heard through. Undefined for native devices.
   */
  deliver(c: { deviceId: string; name: string; params: Record<string, unknown> }): { ok: true; note: string } | { ok: false; message: string } | undefined {
    const device = this.#d.security.registry.getDevice(c.deviceId);
    const adapter = device?.tags
      .filter((t) => t.startsWith('adapter:'))
      .map((t) => this.adapter(t.slice('adapter:'.length)))
      .find((a) => a?.transport === 'mqtt-bridge');
    if (!device || !adapter) return undefined;
    if (!adapter.toDevice) return { ok: false, message: `adapter "${adapter.name}" sends no commands to devices` };
    const t = adapter.toDevice({ name: c.name, params: c.params }, device.kind);
    if (!t.ok) return t;
    const via = this.#via.get(device.deviceId);
    if (!via) return { ok: false, message: `no bridge has spoken for "${device.deviceId}" since the gateway started` };
    const topic = `${via.bridge.baseTopic}/${via.name}${t.part}`;
    const payload = Buffer.from(JSON.stringify(t.payload));
    const send = this.#senders.get(via.bridge.id);
    if (send) send(topic, payload);
    else this.#broker?.publish({ cmd: 'publish', topic, payload, qos: 1, retain: false, dup: false }, () => {});
    return { ok: true, note: `${t.note}; sent on ${topic} through bridge ${via.bridge.id}` };
  }

  /** A bridge may name a device by its Vigil id when it has no external id: only in the bridge's own site. */
  #sameSite(site: string, id: string): DeviceRecord | undefined {
    const d = this.#d.security.registry.getDevice(id);
    return d && d.site === site && d.externalId === null ? d : undefined;
  }

  /** An accepted message on the device's canonical topic, as consumers see a native device's (status retained). */
  #echo(a: { site: string; kind: string; deviceId: string }, m: AdaptedMessage, payload: Buffer): void {
    this.#broker?.publish({ cmd: 'publish', topic: deviceTopic(a, m.channel), payload, qos: 1, retain: m.channel === 'status', dup: false }, () => {});
  }

  /** Who is pushing: the device's own credentials, throttled and audited like a login. */
  async #authenticate(adapter: string, deviceId: string, authorization: string | undefined, address: string) {
    const { security } = this.#d;
    const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(authorization ?? '');
    const decoded = m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    const [user, password] = colon > 0 ? [decoded.slice(0, colon), decoded.slice(colon + 1)] : ['', ''];
    return security.checkHttpCredential({
      who: deviceId,
      actor: user || deviceId,
      address,
      action: 'adapter.auth',
      target: `${adapter}/${deviceId}`,
      message: `HTTP Basic credentials of device "${deviceId}" (its provisioned password) are required`,
      check: async () => {
        if (!m) return { ok: false, reason: 'no HTTP Basic credentials' };
        if (user !== deviceId) return { ok: false, reason: `user "${user}" is not the device of the URL` };
        const r = await security.checks.run(address, () => security.registry.verifyDevice(deviceId, password));
        // A device nobody registered, pushing with credentials of its own: an admin may want it.
        if (!r.ok && r.reason === 'unknown')
          this.#d.onboarding.seen({
            source: `http:${adapter}`,
            claimedId: deviceId,
            adapter,
            kind: this.adapter(adapter)?.guessKind?.({ contentType: '', body: Buffer.alloc(0), pictures: [] }),
            address,
            topic: `/adapters/${adapter}/${deviceId}`,
          });
        return r;
      },
    });
  }

  /** One vendor push from `deviceId` through adapter `name`. */
  async push(name: string, deviceId: string, authorization: string | undefined, address: string, push: VendorPush): Promise<PushResult> {
    const adapter = this.adapter(name);
    if (!adapter || adapter.transport !== 'http-push') throw new NotFoundError(`no adapter "${name}" takes HTTP pushes`);
    const device = await this.#authenticate(name, deviceId, authorization, address);
    const { security, metrics, states, log } = this.#d;
    const address_ = { site: device.site, kind: device.kind, deviceId };
    const refuse = (r: Refusal): never => {
      metrics.refused.inc({ reason: r.code });
      states.refused(address_, r.code);
      log.warn({ adapter: name, device: deviceId, code: r.code, issues: r.issues }, `refused: ${r.message}`);
      throw new VendorRefusedError(`${r.message}${r.issues?.length ? `: ${r.issues.map((i) => `${i.path || '(payload)'} ${i.message}`).join('; ')}` : ''}`);
    };
    const mismatch = AdaptedIngest.#mismatch(adapter, device, deviceId);
    if (mismatch) {
      security.audit.record({
        actor: deviceId,
        action: 'adapter.push',
        target: name,
        outcome: 'denied',
        address,
        detail: { kind: device.kind, tags: device.tags },
      });
      throw new ForbiddenError(mismatch);
    }
    const t = adapter.fromDevice(push, device.kind, this.#memoryOf(deviceId));
    if (!t.ok) return refuse({ code: 'schema_violation', message: `${name}: ${t.message}` });
    const accepted: PushResult['accepted'] = [];
    for (const m of t.messages) {
      const r = await this.#ingestOne(address_, m);
      if (!r.ok) refuse(r.refusal);
      else {
        await handOver(this.#d, r.message, true);
        this.#echo(address_, m, r.payload);
      }
      accepted.push({ channel: m.channel, ...(typeof m.data?.['type'] === 'string' ? { type: m.data['type'] } : {}) });
    }
    return { adapter: name, deviceId, accepted, ...(t.note ? { note: t.note } : {}) };
  }

  /** The same ingest as an MQTT publish on the device's own topic. */
  async #ingestOne(
    a: { site: string; kind: string; deviceId: string },
    m: AdaptedMessage,
  ): Promise<{ ok: true; message: DeviceMessage; payload: Buffer } | { ok: false; refusal: Refusal }> {
    const payload =
      m.channel === 'snapshot' ? (m.jpeg ?? Buffer.alloc(0)) : Buffer.from(JSON.stringify({ ...m.data, ...(m.ts !== undefined ? { ts: m.ts } : {}) }));
    const r = await ingest(
      { topic: deviceTopic(a, m.channel), payload, clientId: a.deviceId, qos: 1, receivedAt: this.#d.now(), registered: { site: a.site, kind: a.kind } },
      this.#d.limits,
    );
    return r.ok
      ? { ok: true, message: r.message, payload }
      : {
          ok: false,
          refusal: { ...r.refusal, message: `mapped ${m.channel}${m.data?.['type'] ? ` "${String(m.data['type'])}"` : ''} refused: ${r.refusal.message}` },
        };
  }
}
