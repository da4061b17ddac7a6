/**
 * Devices through adapters (devices/adapters.ts): a vendor push is authenticated as the device it
 * claims to be (its own registry credentials, HTTP Basic, with the same login throttle, shedding and
 * audit as the API), allowed only when an admin tagged the device `adapter:<name>`, translated by the
 * adapter, and each canonical message it becomes goes through the same ingest as a native device's
 * MQTT publish (topic → kind → size → parse → units → schema → time), then the pipeline. The answer
 * waits for the pipeline's critical stages (the spool's commit), as a PUBACK does. Refusals are
 * counted (`vigil_ingest_refused_total`), kept per device, and returned to the sender with the reason.
 */
import { deviceTopic } from '../../devices/index.ts';
import { adapterTag, getAdapter, type AdaptedMessage, type VendorPush } from '../../devices/adapters/index.ts';
import { ingest, type IngestLimits } from '../../edge/ingest.ts';
import type { DeviceStates } from '../../edge/device-state.ts';
import type { Refusal } from '../../edge/message.ts';
import type { Pipeline } from '../../edge/pipeline.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Security } from '../security/index.ts';
import { BusyError, ForbiddenError, NotFoundError, UnauthorizedError, VendorRefusedError } from '../errors.ts';
import { ShedError } from '../security/limits.ts';
import { handOver } from '../broker/publish-policy.ts';

export interface AdaptedIngestDeps {
  security: Security;
  pipeline: Pipeline;
  states: DeviceStates;
  metrics: Metrics;
  limits: IngestLimits;
  log: Logger;
  now: () => number;
}

export interface PushResult {
  adapter: string;
  deviceId: string;
  accepted: { channel: string; type?: string }[];
  note?: string;
}

export class AdaptedIngest {
  readonly #d: AdaptedIngestDeps;
  constructor(deps: AdaptedIngestDeps) {
    this.#d = deps;
  }

  /** Who is pushing: the device's own credentials, throttled and audited like a login. */
  async #authenticate(adapter: string, deviceId: string, authorization: string | undefined, address: string) {
    const { security } = this.#d;
    const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(authorization ?? '');
    const decoded = m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    const [user, password] = colon > 0 ? [decoded.slice(0, colon), decoded.slice(colon + 1)] : ['', ''];
    let r;
    try {
      r = user === deviceId ? await security.checks.run(address, () => security.registry.verifyDevice(deviceId, password)) : undefined;
    } catch (err) {
      if (!(err instanceof ShedError)) throw err;
      security.throttled.emit('api', 'shed');
      throw new BusyError(err.message);
    }
    if (!r?.ok) {
      const t = security.apiThrottle.fail(deviceId, address);
      security.audit.recordThrottled({
        actor: user || deviceId,
        action: 'adapter.auth',
        target: `${adapter}/${deviceId}`,
        outcome: 'denied',
        address,
        detail: {
          reason: !m ? 'no HTTP Basic credentials' : user !== deviceId ? `user "${user}" is not the device of the URL` : r ? r.reason : 'bad credentials',
        },
      });
      if (t.delayMs) await new Promise((resolve) => setTimeout(resolve, t.delayMs));
      throw new UnauthorizedError(`HTTP Basic credentials of device "${deviceId}" (its provisioned password) are required`);
    }
    security.apiThrottle.succeed(deviceId, address);
    return r.record;
  }

  /** One vendor push from `deviceId` through adapter `name`. */
  async push(name: string, deviceId: string, authorization: string | undefined, address: string, push: VendorPush): Promise<PushResult> {
    const adapter = getAdapter(name);
    if (!adapter) throw new NotFoundError(`no adapter "${name}"`);
    const device = await this.#authenticate(name, deviceId, authorization, address);
    const { security, metrics, states, log } = this.#d;
    const address_ = { site: device.site, kind: device.kind, deviceId };
    const refuse = (r: Refusal): never => {
      metrics.refused.inc({ reason: r.code });
      states.refused(address_, r.code);
      log.warn({ adapter: name, device: deviceId, code: r.code, issues: r.issues }, `refused: ${r.message}`);
      throw new VendorRefusedError(`${r.message}${r.issues?.length ? `: ${r.issues.map((i) => `${i.path || '(payload)'} ${i.message}`).join('; ')}` : ''}`);
    };
    if (!device.tags.includes(adapterTag(name)) || !adapter.kinds.includes(device.kind)) {
      security.audit.record({
        actor: deviceId,
        action: 'adapter.push',
        target: name,
        outcome: 'denied',
        address,
        detail: { kind: device.kind, tags: device.tags },
      });
      throw new ForbiddenError(
        !adapter.kinds.includes(device.kind)
          ? `adapter "${name}" carries ${adapter.kinds.join(', ')} devices; "${deviceId}" is a ${device.kind}`
          : `device "${deviceId}" is not provisioned for adapter "${name}": an admin adds the tag "${adapterTag(name)}"`,
      );
    }
    const t = adapter.fromDevice(push, device.kind);
    if (!t.ok) return refuse({ code: 'schema_violation', message: `${name}: ${t.message}` });
    const accepted: PushResult['accepted'] = [];
    for (const m of t.messages) {
      await handOver(this.#d, await this.#ingest(address_, m, refuse), true);
      accepted.push({ channel: m.channel, ...(typeof m.data?.['type'] === 'string' ? { type: m.data['type'] } : {}) });
    }
    return { adapter: name, deviceId, accepted, ...(t.note ? { note: t.note } : {}) };
  }

  /** The same ingest as an MQTT publish on the device's own topic. */
  async #ingest(a: { site: string; kind: string; deviceId: string }, m: AdaptedMessage, refuse: (r: Refusal) => never) {
    const payload =
      m.channel === 'snapshot' ? (m.jpeg ?? Buffer.alloc(0)) : Buffer.from(JSON.stringify({ ...m.data, ...(m.ts !== undefined ? { ts: m.ts } : {}) }));
    const r = await ingest(
      { topic: deviceTopic(a, m.channel), payload, clientId: a.deviceId, qos: 1, receivedAt: this.#d.now(), registered: { site: a.site, kind: a.kind } },
      this.#d.limits,
    );
    return r.ok
      ? r.message
      : refuse({ ...r.refusal, message: `mapped ${m.channel}${m.data?.['type'] ? ` "${String(m.data['type'])}"` : ''} refused: ${r.refusal.message}` });
  }
}
