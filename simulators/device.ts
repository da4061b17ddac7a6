/**
 * A simulated device over real MQTT: connects with its id as client id and a
 * retained Last Will on its status topic, reports on its kind's period (scaled
 * by `speed`), reconnects after link loss, and can be told to go offline hard.
 * Kinds subclass it with their readings, events and incidents.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { deviceTopic, getKind, type DeviceAddress, type DeviceChannel, type DeviceDefinition } from '../devices/index.ts';
import { verifyDesired } from '../devices/config-envelope.ts';
import type { IncidentType, LabelLog } from './labels.ts';
import { Rng } from './random.ts';

export interface SimOptions {
  url: string;
  site: string;
  deviceId: string;
  /** Time compression: 10 reports ten times as often as the real device would. */
  speed?: number;
  seed?: number | string;
  labels?: LabelLog;
  /** MQTT credentials (the security issue provisions them). */
  username?: string;
  password?: string;
  firmware?: string;
  now?: () => number;
  /** The site's public key (PEM) that desired configs must be signed with. */
  configKey?: string;
  /** Where the site is (WGS 84): officers patrol around it. Random near Shenzhen when not given. */
  origin?: { lat: number; lon: number };
  /** Make the device refuse to apply configs (for rollout tests): a reason, or a function of the config. */
  failConfig?: string | ((config: Record<string, unknown>) => string | undefined);
}

export interface SimStats {
  published: number;
  byChannel: Partial<Record<DeviceChannel, number>>;
  errors: number;
  reconnects: number;
}

export abstract class SimDevice {
  abstract readonly kind: string;
  readonly site: string;
  readonly id: string;
  readonly speed: number;
  readonly rng: Rng;
  readonly stats: SimStats = { published: 0, byChannel: {}, errors: 0, reconnects: 0 };
  /** Refusals the gateway sent on this device's /error topic. */
  readonly refusals: { code: string; message: string }[] = [];
  protected readonly opts: SimOptions;
  protected readonly now: () => number;
  /**
   * Simulated seconds per second of `now()`: the speed on the real clock (the demo: timestamps are real,
   * the device's life runs faster), 1 on an injected clock that already runs at the simulator's pace.
   */
  protected readonly timeScale: number;
  protected client?: MqttClient;
  #timers: NodeJS.Timeout[] = [];
  #seq = 0;
  #stopped = false;
  #offlineUntil = 0;
  /** The configuration the device runs and its version (0: factory defaults). */
  config: Record<string, unknown> = {};
  configVersion = 0;
  /** Config answers sent, for tests: version, status and reason. */
  readonly configReports: { version: number; status: 'applied' | 'rejected'; reason?: string }[] = [];

  constructor(opts: SimOptions) {
    this.opts = opts;
    this.site = opts.site;
    this.id = opts.deviceId;
    this.speed = opts.speed ?? 1;
    this.rng = new Rng(`${opts.seed ?? 1}:${opts.deviceId}`);
    this.now = opts.now ?? Date.now;
    this.timeScale = opts.now ? 1 : this.speed;
  }

  /** Telemetry period in ms (real time): the configured report interval, compressed by `speed`. */
  get telemetryPeriodMs(): number {
    return Number(this.config['reportIntervalS'] ?? this.def.telemetryPeriodS) * 1000;
  }

  get def(): DeviceDefinition {
    return getKind(this.kind)!;
  }

  get address(): DeviceAddress {
    return { site: this.site, kind: this.kind, deviceId: this.id };
  }

  get connected(): boolean {
    return !!this.client?.connected;
  }

  topic(channel: DeviceChannel | 'error' | 'config/desired' | 'cmd'): string {
    return deviceTopic(this.address, channel);
  }

  /** Connect and start reporting; resolves once connected and announced online. */
  async start(): Promise<void> {
    this.#stopped = false;
    this.config = this.def.schemas.config.parse({}) as Record<string, unknown>;
    await this.#connect();
    this.#every(
      () => this.telemetryPeriodMs,
      () => this.publishTelemetry(),
    );
    this.schedule();
  }

  /** Kinds add their own periodic behaviour (events, snapshots) here. */
  protected schedule(): void {}

  protected abstract telemetry(): Record<string, unknown>;

  /** Run `fn` every `realMs / speed`, with ±10 % jitter so a fleet does not publish in lockstep. */
  protected every(realMs: number, fn: () => unknown): void {
    this.#every(() => realMs, fn);
  }

  /** `realMs` is read for every period, so a new report interval takes effect at the next one. */
  #every(realMs: () => number, fn: () => unknown): void {
    const periodOf = () => Math.max(20, realMs() / this.speed);
    const period = periodOf();
    const loop = () => {
      const t = setTimeout(
        () => {
          this.#timers = this.#timers.filter((x) => x !== t);
          if (this.#stopped) return;
          if (this.connected) Promise.resolve(fn()).catch(() => this.stats.errors++);
          loop();
        },
        periodOf() * this.rng.range(0.9, 1.1),
      );
      this.#timers.push(t);
    };
    // First report soon after start, spread over one period.
    const first = setTimeout(() => {
      this.#timers = this.#timers.filter((x) => x !== first);
      if (!this.#stopped && this.connected) Promise.resolve(fn()).catch(() => this.stats.errors++);
      loop();
    }, period * this.rng.next());
    this.#timers.push(first);
  }

  /** Wait `realMs / speed`. */
  protected sleep(realMs: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(r, Math.max(1, realMs / this.speed));
      this.#timers.push(t);
    });
  }

  async #connect(): Promise<void> {
    const status = this.topic('status');
    const client = mqtt.connect(this.opts.url, {
      clientId: this.id,
      username: this.opts.username,
      password: this.opts.password,
      protocolVersion: 4,
      keepalive: 30,
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      will: { topic: status, payload: Buffer.from(JSON.stringify({ online: false, reason: 'connection lost' })), qos: 1, retain: true },
    });
    this.client = client;
    client.on('reconnect', () => this.stats.reconnects++);
    client.on('error', () => this.stats.errors++);
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
    client.on('connect', () => {
      void client.subscribeAsync([this.topic('error'), this.topic('config/desired'), this.topic('cmd')], { qos: 1 }).catch(() => {});
      void this.publish('status', { online: true, firmware: this.opts.firmware ?? '1.4.2', uptime_s: 0 }, { retain: true }).catch(() => {});
      if (this.configVersion > 0) void this.publish('config/reported', { version: this.configVersion, status: 'applied' }).catch(() => {});
    });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
  }

  /** Verify (site signature, addressed to me, not older than what runs), validate, apply, report. */
  #onDesired(payload: Buffer): void {
    let raw: unknown;
    try {
      raw = JSON.parse(payload.toString());
    } catch {
      return;
    }
    const version = typeof (raw as { version?: unknown })?.version === 'number' ? (raw as { version: number }).version : 0;
    const report = (status: 'applied' | 'rejected', reason?: string) => {
      this.configReports.push({ version, status, ...(reason ? { reason } : {}) });
      void this.publish('config/reported', { version, status, ...(reason ? { reason } : {}) }).catch(() => {});
    };
    if (!this.opts.configKey) return report('rejected', 'no site key installed on this device');
    const v = verifyDesired(raw, this.opts.configKey, { site: this.site, deviceId: this.id });
    if (!v.ok) return report('rejected', v.reason);
    if (version < this.configVersion) return report('rejected', `stale version ${version}: running ${this.configVersion}`);
    if (version === this.configVersion) return report('applied');
    const parsed = this.def.schemas.config.safeParse(v.desired.config);
    if (!parsed.success) return report('rejected', `invalid config: ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}`);
    const fail = typeof this.opts.failConfig === 'function' ? this.opts.failConfig(parsed.data as Record<string, unknown>) : this.opts.failConfig;
    if (fail) return report('rejected', fail);
    this.config = parsed.data as Record<string, unknown>;
    this.configVersion = version;
    report('applied');
  }

  /** Commands this device executed (a repeated id is answered again, not executed again). */
  readonly commandsExecuted: { id: string; name: string; params: Record<string, unknown> }[] = [];
  readonly #answers = new Map<string, Record<string, unknown>>();

  /**
   * Carry out one command of the kind (devices/kinds/<kind>: `commands`); the result is the reply's `data`.
   * Throw to answer `error`. The base device knows none.
   */
  protected async command(name: string, _params: Record<string, unknown>): Promise<Record<string, unknown>> {
    throw new Error(`command "${name}" is not implemented by this device`);
  }

  /** At most once per id: a duplicate (QoS 1 redelivery, a retry) gets the first answer again. */
  async #onCommand(payload: Buffer): Promise<void> {
    let cmd: { id: string; name: string; params?: Record<string, unknown> };
    try {
      cmd = JSON.parse(payload.toString()) as typeof cmd;
      if (typeof cmd.id !== 'string' || typeof cmd.name !== 'string') throw new Error('no id or name');
    } catch {
      return;
    }
    let answer = this.#answers.get(cmd.id);
    if (!answer) {
      const spec = this.def.commands[cmd.name];
      const params = spec?.params.safeParse(cmd.params ?? {});
      if (!spec || !params?.success) {
        answer = {
          id: cmd.id,
          status: 'rejected',
          error: spec ? `invalid parameters: ${params!.error!.issues.map((i) => i.path.join('.')).join(', ')}` : `unknown command "${cmd.name}"`,
        };
      } else {
        this.commandsExecuted.push({ id: cmd.id, name: cmd.name, params: params.data as Record<string, unknown> });
        try {
          answer = { id: cmd.id, status: 'ok', data: await this.command(cmd.name, params.data as Record<string, unknown>) };
        } catch (err) {
          answer = { id: cmd.id, status: 'error', error: (err as Error).message };
        }
      }
      this.#answers.set(cmd.id, answer);
      if (this.#answers.size > 500) this.#answers.delete(this.#answers.keys().next().value!);
    }
    await this.publish('cmd/reply', answer).catch(() => {});
  }

  protected onMessage(topic: string, payload: Buffer): void {
    if (topic === this.topic('config/desired')) return this.#onDesired(payload);
    if (topic === this.topic('cmd')) return void this.#onCommand(payload);
    if (topic === this.topic('error')) {
      try {
        const e = JSON.parse(payload.toString()) as { code: string; message: string };
        this.refusals.push({ code: e.code, message: e.message });
      } catch {
        this.refusals.push({ code: 'unparseable', message: payload.toString() });
      }
    }
  }

  async publish(channel: DeviceChannel, body: Record<string, unknown> | Buffer, opts: { qos?: 0 | 1; retain?: boolean } = {}): Promise<void> {
    if (!this.client || Date.now() < this.#offlineUntil) return;
    const payload = Buffer.isBuffer(body) ? body : JSON.stringify({ ts: this.now(), seq: this.#seq++, ...body });
    await this.client.publishAsync(this.topic(channel), payload, { qos: opts.qos ?? 1, retain: opts.retain ?? false });
    this.stats.published++;
    this.stats.byChannel[channel] = (this.stats.byChannel[channel] ?? 0) + 1;
  }

  /** One telemetry body as this device would send it now (load generators and benchmarks use it without connecting). */
  sample(): Record<string, unknown> {
    return this.telemetry();
  }

  publishTelemetry(): Promise<void> {
    return this.publish('telemetry', this.telemetry(), { qos: 0 });
  }

  protected label(type: IncidentType, durationMs: number, note?: string): void {
    const start = this.now();
    this.opts.labels?.record({ type, site: this.site, kind: this.kind, deviceId: this.id, start, end: start + durationMs, ...(note ? { note } : {}) });
  }

  /** Incidents this kind can stage (the scenario picks from them). */
  abstract readonly incidents: readonly IncidentType[];

  /** Stage one incident; resolves when it is over. */
  async incident(type: IncidentType): Promise<void> {
    if (type !== 'device_offline') throw new Error(`${this.kind} cannot stage ${type}`);
    await this.goOffline(30_000);
  }

  /** Lose power or link without a DISCONNECT: the broker publishes the Last Will. */
  async goOffline(realMs: number): Promise<void> {
    const ms = Math.max(200, realMs / this.speed);
    this.label('device_offline', ms);
    const c = this.client;
    this.client = undefined;
    this.#offlineUntil = Date.now() + ms;
    c?.stream.destroy();
    c?.end(true);
    await new Promise((r) => setTimeout(r, ms));
    if (this.#stopped) return;
    this.stats.reconnects++;
    await this.#connect();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers = [];
    const c = this.client;
    if (!c) return;
    if (c.connected) await this.publish('status', { online: false, reason: 'shutdown' }, { retain: true }).catch(() => {});
    await c.endAsync().catch(() => {});
  }
}
