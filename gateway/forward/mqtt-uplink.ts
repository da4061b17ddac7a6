/**
 * The uplink to the district's central MQTT broker (Mosquitto, EMQX, VerneMQ: any MQTT 3.1.1
 * broker): the box is one client of it, under its own prefix `<prefix>/<gatewayId>/`.
 *
 * Out (QoS 1, from the durable spool, in order): every alert lifecycle event on
 * `alerts/<site>/<type>`, the retained per-site summary on `summary/<site>`, and, for the kinds
 * listed in `forward.mqtt.telemetry`, telemetry on `telemetry/<site>/<kind>/<device>`. The retained
 * box health (`health`) and presence (`online`, with a Last Will) are published directly: only
 * their latest value matters.
 * In: commands on `cmd/alerts` (`{"id","action":"ack"|"resolve","alertId","operator","note"?}`)
 * from the centre, over the same persistent session (clean: false, so commands sent while the box
 * was away are queued by the central broker), applied once per command id (a redelivered command
 * gets its first reply again), audited as `central:<operator>`, answered on `cmd/reply/<id>`.
 *
 * Delivery is at least once: a row leaves the spool after the broker's PUBACK; a PUBACK lost to a
 * cut link means the same alert event (same alert id and version) may arrive twice, so consumers
 * deduplicate on (id, version), which every payload carries. A broker that is away is tried again
 * after an exponential backoff with full jitter (from `reconnectMs` up to `maxReconnectMs`, reset by
 * a connection), so a district's boxes do not all knock at once when it comes back; the rows wait
 * in the spool, however long.
 */
import { readFileSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { ExponentialBackoff, fullJitterGenerator, type IBackoff } from 'cockatiel';
import mqtt, { type MqttClient } from 'mqtt';
import { z } from 'zod';
import type { Logger } from '../logger.ts';
import { Pause } from './pause.ts';
import type { Circuit } from './forwarder.ts';
import type { Spool, SpoolRow } from './spool.ts';

export interface MqttUplinkOptions {
  url: string;
  gatewayId: string;
  prefix: string;
  username?: string;
  password?: string;
  /** PEM files: the central broker's CA, and the box's client certificate and key (mutual TLS). */
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  reconnectMs: number;
  /** Cap of the reconnect backoff. */
  maxReconnectMs?: number;
  keepaliveS: number;
  batch: number;
}

export const centralCommandSchema = z.object({
  id: z.string().min(1).max(64),
  action: z.enum(['ack', 'resolve']),
  alertId: z.string().min(1).max(64),
  operator: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9_.@-]+$/, 'letters, digits and _ . @ - only'),
  note: z.string().max(500).optional(),
});
export type CentralCommand = z.infer<typeof centralCommandSchema>;
export type CommandResult = { ok: true; state: string; version: number } | { ok: false; error: string };

/** A row for the central target: where it goes and what it says. */
export function centralRow(topic: string, payload: unknown, retain = false): string {
  return JSON.stringify({ topic, payload, retain });
}

export class MqttUplink {
  readonly target = 'central';
  readonly #o: MqttUplinkOptions;
  readonly #spool: Spool;
  readonly #log: Logger;
  readonly #onCommand: (c: CentralCommand) => CommandResult;
  readonly #seen: Database.Statement;
  readonly #remember: Database.Statement;
  #client?: MqttClient;
  #stopped = false;
  /** The wait between attempts: new rows, a connection and stop() end it. */
  readonly #pause = new Pause();
  #loop?: Promise<void>;
  #backoff?: IBackoff<unknown>;
  #retry?: NodeJS.Timeout;
  /** Message ids of the batch waiting for PUBACKs: given up when the link drops (see #abandon). */
  #inflight: number[] = [];
  circuit: Circuit = 'open';
  lastSuccess = 0;
  lastError?: string;
  published = 0;

  constructor(o: MqttUplinkOptions, spool: Spool, log: Logger, onCommand: (c: CentralCommand) => CommandResult) {
    this.#o = o;
    this.#spool = spool;
    this.#log = log;
    this.#onCommand = onCommand;
    spool.db.exec('CREATE TABLE IF NOT EXISTS central_commands (id TEXT PRIMARY KEY, at INTEGER NOT NULL, reply TEXT NOT NULL)');
    this.#seen = spool.db.prepare('SELECT reply FROM central_commands WHERE id = ?');
    this.#remember = spool.db.prepare('INSERT OR IGNORE INTO central_commands (id, at, reply) VALUES (?, ?, ?)');
    spool.onAppend(() => this.#pause.wake());
  }

  /** `<prefix>/<gatewayId>/<rest>`. */
  topic(rest: string): string {
    return `${this.#o.prefix}/${this.#o.gatewayId}/${rest}`;
  }

  get connected(): boolean {
    return !!this.#client?.connected;
  }

  start(): void {
    const o = this.#o;
    const read = (f?: string) => (f ? readFileSync(f) : undefined);
    this.#client = mqtt.connect(o.url, {
      clientId: o.gatewayId,
      clean: false,
      protocolVersion: 4,
      keepalive: o.keepaliveS,
      reconnectPeriod: 0, // reconnects are scheduled below, with a jittered backoff
      connectTimeout: 10_000,
      username: o.username || undefined,
      password: o.password || undefined,
      ca: read(o.caFile),
      cert: read(o.certFile),
      key: read(o.keyFile),
      will: { topic: this.topic('online'), payload: Buffer.from(JSON.stringify({ online: false, box: o.gatewayId })), qos: 1, retain: true },
    });
    const c = this.#client;
    const factory = new ExponentialBackoff({ generator: fullJitterGenerator, initialDelay: o.reconnectMs, maxDelay: o.maxReconnectMs ?? 60_000 });
    c.on('connect', (ack) => {
      this.circuit = 'closed';
      this.#backoff = undefined;
      this.#log.info({ url: o.url, sessionPresent: ack.sessionPresent }, 'central uplink connected');
      c.publish(this.topic('online'), JSON.stringify({ online: true, box: o.gatewayId }), { qos: 1, retain: true });
      // Subscribed each time: a broker that lost its session state (no persistence) still delivers.
      c.subscribe(this.topic('cmd/alerts'), { qos: 1 }, (err, granted) => {
        if (err || granted?.some((g) => g.qos === 128))
          this.#log.error({ err, granted }, 'central uplink: the broker refused the command subscription (check its ACL)');
      });
      this.#pause.wake();
    });
    c.on('close', () => {
      if (this.circuit === 'closed') this.#log.warn({ url: o.url, spooled: this.#spool.depthOf(this.target) }, 'central uplink lost; alerts stay spooled');
      this.circuit = 'open';
      this.#abandon();
      if (this.#stopped || this.#retry) return;
      this.#backoff = (this.#backoff ?? factory).next(undefined);
      this.#retry = setTimeout(
        () => {
          this.#retry = undefined;
          if (this.#stopped || c.connected) return;
          this.circuit = 'half_open';
          c.reconnect();
        },
        Math.max(100, this.#backoff.duration),
      );
    });
    c.on('error', (err) => {
      this.lastError = err.message;
      this.#log.debug({ err }, 'central uplink error');
    });
    c.on('message', (topic, payload) => {
      if (topic === this.topic('cmd/alerts')) this.#command(payload);
    });
    this.#loop = this.#run();
  }

  /** Publish retained state that only matters as its latest value (box health): not spooled. */
  publishState(rest: string, body: unknown): void {
    if (this.connected) this.#client!.publish(this.topic(rest), JSON.stringify(body), { qos: 1, retain: true });
  }

  #command(payload: Buffer): void {
    let cmd: CentralCommand;
    let id: string | undefined;
    try {
      const raw = JSON.parse(String(payload)) as Record<string, unknown>;
      id = typeof raw['id'] === 'string' ? raw['id'] : undefined;
      cmd = centralCommandSchema.parse(raw);
    } catch (err) {
      const error = `invalid command: ${err instanceof z.ZodError ? err.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') : (err as Error).message}`;
      this.#log.warn({ error }, 'central command refused');
      if (id && /^[A-Za-z0-9_.:-]{1,64}$/.test(id)) this.#reply(id, { id, ok: false, error });
      return;
    }
    const before = this.#seen.get(cmd.id) as { reply: string } | undefined;
    if (before) {
      // A redelivery (QoS 1) or a retry by the centre: answered again, applied once.
      this.#client?.publish(this.topic(`cmd/reply/${cmd.id}`), before.reply, { qos: 1 });
      return;
    }
    let result: CommandResult;
    try {
      result = this.#onCommand(cmd);
    } catch (err) {
      result = { ok: false, error: (err as Error).message };
    }
    const reply = { id: cmd.id, action: cmd.action, alertId: cmd.alertId, box: this.#o.gatewayId, ...result };
    this.#remember.run(cmd.id, Date.now(), JSON.stringify(reply));
    this.#reply(cmd.id, reply);
  }

  #reply(id: string, body: unknown): void {
    this.#client?.publish(this.topic(`cmd/reply/${id}`), JSON.stringify(body), { qos: 1 });
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      const c = this.#client!;
      if (!c.connected) {
        await this.#pause.for(1000);
        continue;
      }
      const rows = this.#spool.head(this.#o.batch, 4_000_000, this.target);
      if (!rows.length) {
        await this.#pause.for(1000);
        continue;
      }
      try {
        await this.#send(c, rows);
      } catch (err) {
        // Not delivered (the link went down mid-batch): the rows stay; MQTT.js retries its in-flight
        // messages on reconnect, and whatever is left goes again from the spool.
        this.lastError = (err as Error).message;
        await this.#pause.for(this.#o.reconnectMs);
      }
    }
  }

  /**
   * The link dropped with a batch in flight: its unacknowledged messages are taken out of MQTT.js's
   * store (their publishes fail), so the rows stay in the spool and go again, in order, on the next
   * connection — rather than waiting for a resend a restarted broker may never acknowledge.
   */
  #abandon(): void {
    const c = this.#client;
    const mids = this.#inflight;
    this.#inflight = [];
    for (const mid of mids) c?.removeOutgoingMessage(mid);
  }

  /** In order; a row leaves the spool once the broker acknowledged it (and every row before it). */
  async #send(c: MqttClient, rows: SpoolRow[]): Promise<void> {
    const mids: number[] = [];
    const acks = rows.map((r) => {
      const { topic, payload, retain } = JSON.parse(r.line) as { topic: string; payload: unknown; retain: boolean };
      const ack = new Promise<void>((resolve, reject) =>
        c.publish(this.topic(topic), JSON.stringify(payload), { qos: 1, retain }, (err) => (err ? reject(err) : resolve())),
      );
      mids.push(c.getLastMessageId());
      return ack;
    });
    this.#inflight = mids;
    // A broker that takes the messages but never answers: give the batch up after a while, like a dropped link.
    const stall = setTimeout(() => this.#abandon(), Math.max(30_000, this.#o.keepaliveS * 2000));
    let done = 0;
    try {
      for (const a of acks) {
        await a;
        done++;
      }
    } finally {
      clearTimeout(stall);
      if (this.#inflight === mids) this.#inflight = [];
      if (done) {
        this.#spool.remove(rows.slice(0, done));
        this.published += done;
        this.lastSuccess = Date.now();
      }
      // Rejections after the first failure are handled here, not left unhandled.
      for (const a of acks.slice(done + 1)) a.catch(() => {});
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retry);
    this.#pause.wake();
    // A batch waiting for PUBACKs from a broker that is away does not hold the shutdown: its rows stay spooled.
    const grace = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
    await Promise.race([this.#loop, grace(3000)]);
    const c = this.#client;
    if (!c) return;
    // A clean goodbye: retained presence says offline (the Will is for unclean exits), then disconnect.
    if (c.connected)
      await Promise.race([
        c
          .publishAsync(this.topic('online'), JSON.stringify({ online: false, box: this.#o.gatewayId, reason: 'shutdown' }), { qos: 1, retain: true })
          .catch(() => {}),
        grace(2000),
      ]);
    await Promise.race([c.endAsync(!c.connected).catch(() => {}), grace(2000)]);
  }

  describe(): string {
    return `${this.connected ? 'connected' : `circuit ${this.circuit}${this.lastError ? ` (${this.lastError})` : ''}`}; ${this.#spool.depthOf(this.target)} messages spooled`;
  }
}
