/**
 * Security feature: registry, audit log, login throttles, secrets at rest and the broker hooks
 * built on them, over the box's database (opened by the gateway: `openBoxDb`). Revocations take effect on live sessions too: at once
 * through the API, and within `watchMs` when another process (the admin CLI) changes the database.
 */
import { Listeners } from '../../edge/listeners.ts';
import { join } from 'node:path';
import type { Aedes, Client } from 'aedes';
import type { GatewayConfig } from '../config.ts';
import type { Logger } from '../logger.ts';
import { AuditLog } from './audit.ts';
import { createAuthenticate } from './authenticate.ts';
import { createAuthorizeForward, createAuthorizeSubscribe } from './authorize.ts';
import { Identities, remoteAddress } from './identity.ts';
import type { DeviceAddress } from '../../devices/index.ts';
import { FairQueue, LoginThrottle, ShedError } from './limits.ts';
import { BusyError, UnauthorizedError } from '../errors.ts';
import { InsecureFilesError, insecureModes, loadMasterKey, privateDir } from './at-rest.ts';
import { Registry } from './registry.ts';
import { openStore, type Db } from '../db.ts';
import { connectedClients } from '../broker/aedes-compat.ts';
import type { Feature, FeatureContext } from '../feature.ts';

export const dbFile = (config: GatewayConfig) => join(config.dataDir, 'vigil.db');

/** The box's database, in a private data directory; files readable by others are refused (or warned about, when allowed). */
export function openBoxDb(config: GatewayConfig, log: Logger): Db {
  privateDir(config.dataDir);
  const loose = insecureModes(config.dataDir, ['vigil.db', 'spool.db', 'broker.db', 'master.key']);
  if (loose.length) {
    if (!config.security.allowInsecureFileModes) throw new InsecureFilesError(loose);
    log.warn({ problems: loose }, 'data files readable by others (security.allowInsecureFileModes=true)');
  }
  return openStore(dbFile(config));
}

export class Security implements Feature {
  readonly name = 'security';
  readonly db: Db;
  readonly audit: AuditLog;
  readonly registry: Registry;
  readonly identities = new Identities();
  /** Failed logins over MQTT and over the API are counted apart: one cannot exhaust the other's budget. */
  readonly mqttThrottle: LoginThrottle;
  readonly apiThrottle: LoginThrottle;
  /** Secret checks (scrypt) shared fairly between source addresses, MQTT and API alike. */
  readonly checks: FairQueue;
  /** Seals the site signing keys at rest (never leaves the process). */
  readonly masterKey: Buffer;
  readonly #config: GatewayConfig;
  readonly #log: Logger;
  #broker?: Aedes;
  #timer?: NodeJS.Timeout;
  #dataVersion = 0;

  constructor(config: GatewayConfig, db: Db, log: Logger, now: () => number = Date.now) {
    this.#config = config;
    this.#log = log;
    this.masterKey = loadMasterKey({ ...config.security, dataDir: config.dataDir });
    this.db = db;
    this.audit = new AuditLog(this.db, now);
    this.registry = new Registry(this.db, this.audit, now);
    const t = config.security.loginThrottle;
    const policy = {
      freeFailures: t.freeFailures,
      windowMs: t.windowS * 1000,
      baseDelayMs: t.baseDelayMs,
      maxDelayMs: t.maxDelayMs,
      floodFailures: t.floodFailures,
    };
    this.mqttThrottle = new LoginThrottle(policy, now);
    this.apiThrottle = new LoginThrottle(policy, now);
    this.checks = new FairQueue({ perSourceInFlight: t.perAddressInFlight, perSourceQueued: t.perAddressQueued, maxQueued: t.maxQueued });
  }

  /** Metrics hook: a refusal held back, or a login shed. */
  readonly throttled = new Listeners<[transport: 'mqtt' | 'api', what: 'delayed' | 'shed']>();
  /** An unknown device tried to log in over MQTT (onboarding lists it as pending). */
  readonly unknownDevice = new Listeners<[claimedId: string, address: string, willTopic: string | undefined]>();
  /** A bridge's session ended (the devices it spoke for go offline), or began (they are reachable again). */
  readonly bridgeGone = new Listeners<[bridgeId: string]>();
  readonly bridgeBack = new Listeners<[bridgeId: string]>();

  /**
   * A credential presented over HTTP (a principal's bearer token, a device's Basic password, a provisioning
   * key), the same way everywhere: the check runs as given (its scrypt part in the fair per-address queue;
   * shed → 503), a failure is counted against (`who`, address) on the API's budget, audited (folded when
   * repeated), held back as long as the throttle says and answered 401 with `message`; a success resets the pair.
   */
  async checkHttpCredential<T>(o: {
    who: string;
    address: string;
    action: string;
    target: string;
    /** The audit record's actor, when not `who` (a device claiming with a key). */
    actor?: string;
    message: string;
    check: () => Promise<{ ok: true; record: T } | { ok: false; reason: string }>;
    detail?: Record<string, unknown>;
  }): Promise<T> {
    let r: { ok: true; record: T } | { ok: false; reason: string };
    try {
      r = await o.check();
    } catch (err) {
      if (!(err instanceof ShedError)) throw err;
      this.throttled.emit('api', 'shed');
      throw new BusyError(err.message);
    }
    if (r.ok) {
      this.apiThrottle.succeed(o.who, o.address);
      return r.record;
    }
    const t = this.apiThrottle.fail(o.who, o.address);
    this.audit.recordThrottled({
      actor: o.actor ?? o.who,
      action: o.action,
      target: o.target,
      outcome: 'denied',
      address: o.address,
      detail: { reason: r.reason, ...o.detail, ...(t.delayMs ? { delayedMs: t.delayMs } : {}) },
    });
    if (t.delayMs) {
      this.throttled.emit('api', 'delayed');
      await new Promise((resolve) => setTimeout(resolve, t.delayMs));
    }
    throw new UnauthorizedError(o.message);
  }

  brokerHooks() {
    return {
      authenticate: createAuthenticate({
        registry: this.registry,
        audit: this.audit,
        throttle: this.mqttThrottle,
        checks: this.checks,
        onThrottle: (what: 'delayed' | 'shed') => this.throttled.emit('mqtt', what),
        onUnknown: (id: string, address: string, will: string | undefined) => this.unknownDevice.emit(id, address, will),
        identities: this.identities,
        allowAnonymous: this.#config.security.allowAnonymous,
      }),
      authorizeSubscribe: createAuthorizeSubscribe(this.identities, this.audit),
      authorizeForward: createAuthorizeForward(this.identities),
    };
  }

  start({ broker }: FeatureContext, watchMs = 2000): void {
    this.#broker = broker;
    this.#dataVersion = this.db.pragma('data_version', { simple: true }) as number;
    this.#timer = setInterval(() => {
      // data_version changes only when another connection (the admin CLI) commits.
      const v = this.db.pragma('data_version', { simple: true }) as number;
      if (v !== this.#dataVersion) {
        this.#dataVersion = v;
        this.enforceRevocations();
      }
    }, watchMs);
    this.#timer.unref();
  }

  deviceAddress(client: Client): DeviceAddress | undefined {
    const id = this.identities.get(client);
    return id?.type === 'device' ? { site: id.site, kind: id.kind, deviceId: id.id } : undefined;
  }

  /** Last seen in the registry is when a device connected or went away. */
  clientReady(client: Client): void {
    const id = this.identities.get(client);
    if (id?.type === 'bridge') this.bridgeBack.emit(id.id);
  }

  clientGone(client: Client, replaced = false): void {
    const id = this.identities.get(client);
    if (id?.type === 'device') this.registry.touchDevice(id.id, remoteAddress(client));
    if (id?.type === 'bridge') {
      this.registry.touchBridge(id.id, remoteAddress(client));
      if (!replaced) this.bridgeGone.emit(id.id);
    }
  }

  /** Close live sessions whose device or principal is no longer enabled. */
  enforceRevocations(): number {
    let closed = 0;
    for (const client of connectedClients(this.#broker)) {
      const id = this.identities.get(client);
      if (!id || id.type === 'anonymous') continue;
      const state =
        id.type === 'device'
          ? this.registry.getDevice(id.id)?.state
          : id.type === 'bridge'
            ? this.registry.getBridge(id.id)?.state
            : this.registry.getPrincipal(id.id)?.state;
      if (state !== 'enabled') {
        this.audit.record({
          actor: 'gateway',
          action: 'mqtt.session_closed',
          target: id.id,
          outcome: 'ok',
          detail: { reason: `credentials ${state ?? 'deleted'}` },
        });
        this.#log.info({ id: id.id, state }, 'closing session of revoked identity');
        client.close();
        closed++;
      }
    }
    return closed;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
