/**
 * Live view of every device seen since start: connection, latest status,
 * telemetry and event, and per-device message and refusal counters.
 * A pipeline stage, plus the hooks the broker calls for (dis)connections and refusals.
 */
import type { DeviceAddress } from '../devices/index.ts';
import type { DeviceMessage, RefusalCode } from './message.ts';
import type { PipelineStage } from './pipeline.ts';

export interface Reading {
  ts: number;
  receivedAt: number;
  data: Record<string, unknown>;
}

export interface DeviceView extends DeviceAddress {
  firstSeen: number;
  lastSeen: number;
  /** An MQTT session with this device's client id is open now. */
  connected: boolean;
  /** Connected and its last status did not say offline. */
  online: boolean;
  status?: Reading;
  telemetry?: Reading;
  lastEvent?: Reading;
  lastSnapshot?: { ts: number; bytes: number; width: number; height: number };
  configReported?: Reading;
  messages: number;
  refused: number;
  refusedByReason: Partial<Record<RefusalCode, number>>;
  clockSkewed: number;
  /** When its connection last ended (undefined while connected or never). */
  disconnectedAt?: number;
}

export class DeviceStates implements PipelineStage {
  readonly name = 'device-state';
  readonly #devices = new Map<string, DeviceView>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  #get(a: DeviceAddress, t = this.#now()): DeviceView {
    let d = this.#devices.get(a.deviceId);
    if (!d) {
      d = { ...a, firstSeen: t, lastSeen: t, connected: false, online: false, messages: 0, refused: 0, refusedByReason: {}, clockSkewed: 0 };
      this.#devices.set(a.deviceId, d);
    } else if (d.site !== a.site || d.kind !== a.kind) {
      // Moved or re-provisioned: the newest address wins.
      d.site = a.site;
      d.kind = a.kind;
    }
    return d;
  }

  accept(msg: DeviceMessage): void {
    const d = this.#get(msg, msg.receivedAt);
    d.lastSeen = msg.receivedAt;
    d.messages++;
    if (msg.clockSkewed) d.clockSkewed++;
    const reading = { ts: msg.ts, receivedAt: msg.receivedAt, data: msg.data };
    switch (msg.channel) {
      case 'telemetry':
        d.telemetry = reading;
        break;
      case 'event':
        d.lastEvent = reading;
        break;
      case 'config/reported':
        d.configReported = reading;
        break;
      case 'status':
        d.status = reading;
        d.online = d.connected && msg.data['online'] === true;
        break;
      case 'snapshot':
        if (msg.snapshot) d.lastSnapshot = { ts: msg.ts, bytes: msg.snapshot.jpeg.length, width: msg.snapshot.width, height: msg.snapshot.height };
        break;
    }
    if (msg.channel !== 'status' && d.connected) d.online = true;
  }

  connected(a: DeviceAddress): void {
    const d = this.#get(a);
    d.connected = true;
    d.online = true;
    d.lastSeen = this.#now();
    d.disconnectedAt = undefined;
  }

  disconnected(deviceId: string): void {
    const d = this.#devices.get(deviceId);
    if (!d) return;
    d.connected = false;
    d.online = false;
    d.disconnectedAt = this.#now();
  }

  refused(a: DeviceAddress, code: RefusalCode): void {
    const d = this.#get(a);
    d.refused++;
    d.refusedByReason[code] = (d.refusedByReason[code] ?? 0) + 1;
  }

  get(deviceId: string): DeviceView | undefined {
    return this.#devices.get(deviceId);
  }

  list(): DeviceView[] {
    return [...this.#devices.values()];
  }
}
