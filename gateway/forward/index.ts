/**
 * Forwarding feature: a critical pipeline stage that makes every accepted reading durable
 * (spool + local telemetry store) before the device's message is acknowledged, and a
 * forwarder that drains the spool to InfluxDB. Alerts join the spool as they change.
 *
 * Delivery guarantee (README "Forwarding"): a QoS 1 message is on disk before its PUBACK;
 * a QoS 0 message before it is routed. From the spool each point is written at least once,
 * in order; it is deleted only after the server accepted it. A retry after a lost response
 * rewrites the same point (same series, same timestamp), which InfluxDB stores once.
 */
import { join } from 'node:path';
import { Counter, Gauge } from 'prom-client';
import type { DeviceMessage } from '../../edge/message.ts';
import type { PipelineStage } from '../../edge/pipeline.ts';
import type { AlertEvent } from '../../edge/alerts/model.ts';
import type { AlertRecord } from '../../edge/alerts/store.ts';
import type { GatewayConfig } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { Aggregator } from './aggregate.ts';
import { circuitValue, Forwarder } from './forwarder.ts';
import { centralRow, MqttUplink, type CentralCommand, type CommandResult } from './mqtt-uplink.ts';
import { toAlert } from '../../edge/alerts/store.ts';
import { hkdfSync } from 'node:crypto';
import { loadMasterKey } from '../security/at-rest.ts';
import { flatten, LineEncoder, type BoxHealth, type Line } from './points.ts';
import { Spool, type LocalRow } from './spool.ts';

export interface ForwardingDeps {
  config: GatewayConfig;
  log: Logger;
  metrics: Metrics;
  zoneOf: (deviceId: string) => string | null;
  now?: () => number;
}

export class Forwarding implements PipelineStage {
  readonly name = 'forward';
  readonly critical = true;
  readonly spool: Spool;
  readonly forwarder?: Forwarder;
  /** The uplink to the district's central MQTT broker (forward.mqtt.url). */
  readonly central?: MqttUplink;
  /** Set by the gateway: how central commands are applied, the site summary, the box health. */
  bind: { command: (c: CentralCommand) => CommandResult; summary: (site: string) => unknown; health: () => unknown } = {
    command: () => ({ ok: false, error: 'not ready' }),
    summary: () => ({}),
    health: () => ({}),
  };
  readonly #deps: ForwardingDeps;
  readonly #now: () => number;
  readonly #aggregators = new Map<string, Aggregator>();
  readonly #written: Counter;
  readonly encoder: LineEncoder;
  #timers: NodeJS.Timeout[] = [];

  constructor(deps: ForwardingDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    const { config, metrics, log } = deps;
    const reg = [metrics.registry];
    const privacy = config.forward.privacy;
    const hashing = privacy.officerId === 'hash' || privacy.credentialId === 'hash';
    this.encoder = new LineEncoder({ gatewayId: config.gatewayId, privacy, pseudonymKey: hashing ? pseudonymKey(config) : undefined });
    const dropped = new Counter({
      name: 'vigil_spool_dropped_total',
      help: 'Points dropped from the spool by the size or age policy, by class and reason.',
      labelNames: ['class', 'reason'] as const,
      registers: reg,
    });
    this.spool = new Spool({
      file: join(config.dataDir, 'spool.db'),
      maxBytes: config.spool.maxBytes,
      maxAgeMs: config.spool.maxAgeH * 3_600_000,
      durability: config.spool.durability,
      commitIntervalMs: config.spool.commitIntervalMs,
      deadLetterFile: join(config.dataDir, 'spool-dead-letter.jsonl'),
      now: this.#now,
      onCommit: (s) => metrics.spoolCommitSeconds.observe(s),
      onDrop: (cls, reason, n) => {
        dropped.inc({ class: cls, reason }, n);
        log.warn({ class: cls, reason, points: n, spoolBytes: this.spool.bytes }, 'spool policy dropped points');
      },
    });
    for (const [kind, k] of Object.entries(config.kinds)) if (k.aggregateS > 0) this.#aggregators.set(kind, new Aggregator(k.aggregateS));
    const spool = this.spool;
    new Gauge({
      name: 'vigil_spool_depth_points',
      help: 'Points waiting in the spool.',
      registers: reg,
      collect() {
        this.set(spool.depth);
      },
    });
    new Gauge({
      name: 'vigil_spool_bytes',
      help: 'Bytes used by spooled points.',
      registers: reg,
      collect() {
        this.set(spool.bytes);
      },
    });
    const now = this.#now;
    new Gauge({
      name: 'vigil_spool_oldest_age_seconds',
      help: 'Age of the oldest spooled point (0 when empty).',
      registers: reg,
      collect() {
        const t = spool.oldestTs();
        this.set(t === undefined ? 0 : Math.max(0, (now() - t) / 1000));
      },
    });
    this.#written = new Counter({ name: 'vigil_forward_points_written_total', help: 'Points accepted by the time-series server.', registers: reg });
    const failures = new Counter({
      name: 'vigil_forward_failures_total',
      help: 'Failed write attempts, by reason (network, http_503, http_429, ...).',
      labelNames: ['reason'] as const,
      registers: reg,
    });
    const dead = new Counter({
      name: 'vigil_forward_dead_lettered_total',
      help: 'Points the server refused as malformed, set aside in the dead-letter file.',
      registers: reg,
    });
    if (config.forward.url) {
      const f = config.forward;
      this.forwarder = new Forwarder(
        {
          url: f.url,
          org: f.org,
          bucket: f.bucket,
          token: f.token,
          timeoutMs: f.timeoutMs,
          batchLines: f.batchLines,
          batchBytes: f.batchBytes,
          gzipThreshold: f.gzipThreshold,
          minRetryMs: f.minRetryMs,
          maxRetryMs: f.maxRetryMs,
          now: this.#now,
        },
        this.spool,
        log,
        { written: (n) => this.#written.inc(n), failed: (r) => failures.inc({ reason: r }), deadLettered: (n) => dead.inc(n) },
      );
      const fw = this.forwarder;
      new Gauge({
        name: 'vigil_forward_last_success_timestamp_seconds',
        help: 'When the server last accepted a write (0: never since start).',
        registers: reg,
        collect() {
          this.set(fw.lastSuccess / 1000);
        },
      });
    }
    const m = config.forward.mqtt;
    if (m.url) {
      this.central = new MqttUplink(
        {
          url: m.url,
          gatewayId: config.gatewayId,
          prefix: m.prefix,
          username: m.username,
          password: m.password,
          caFile: m.caFile,
          certFile: m.certFile,
          keyFile: m.keyFile,
          reconnectMs: m.reconnectMs,
          maxReconnectMs: config.forward.maxRetryMs,
          keepaliveS: m.keepaliveS,
          batch: 500,
        },
        this.spool,
        log.child({ target: 'central' }),
        (c) => this.bind.command(c),
      );
    }
    const targets = () => this.targets;
    new Gauge({
      name: 'vigil_uplink_circuit_state',
      help: 'Circuit of each forward target: 0 closed (writing/connected), 1 half-open (trying again), 2 open (waiting out a backoff, Retry-After or a broker that is away).',
      labelNames: ['target'] as const,
      registers: reg,
      collect() {
        for (const t of targets()) this.set({ target: t.target }, circuitValue[t.circuit]);
      },
    });
    new Gauge({
      name: 'vigil_uplink_spooled',
      help: 'Points or messages waiting in the spool, per forward target.',
      labelNames: ['target'] as const,
      registers: reg,
      collect() {
        for (const t of targets()) this.set({ target: t.target }, spool.depthOf(t.target));
      },
    });
  }

  get forwarding(): boolean {
    return !!this.forwarder;
  }

  /** Forward targets and their circuit, for /readyz and metrics. */
  get targets(): { target: string; circuit: 'closed' | 'open' | 'half_open'; describe(): string }[] {
    return [this.forwarder, this.central].filter((t) => !!t);
  }

  #centralRows(m: DeviceMessage): Line[] {
    if (!this.central || m.channel !== 'telemetry' || !this.#deps.config.forward.mqtt.telemetry.includes(m.kind)) return [];
    return [{ cls: 'telemetry', ts: m.ts, target: 'central', line: centralRow(`telemetry/${m.site}/${m.kind}/${m.deviceId}`, { ts: m.ts, ...m.data }) }];
  }

  accept(m: DeviceMessage): Promise<void> | void {
    const zone = this.#deps.zoneOf(m.deviceId);
    const lines: Line[] = [];
    const local: LocalRow[] = [];
    const retain = this.#deps.config.localTelemetry.retentionH > 0;
    if (m.channel === 'telemetry') {
      const fields = flatten(m.data, m.kind);
      if (retain) local.push({ device: m.deviceId, ts: m.ts, fields: JSON.stringify(fields) });
      const agg = this.#aggregators.get(m.kind);
      if (agg) {
        const closed = agg.add(m);
        if (closed) pushLine(lines, this.encoder.aggregate(closed.msg, zone, closed.fields));
      } else pushLine(lines, this.encoder.message(m, zone, fields));
    } else {
      pushLine(lines, this.encoder.message(m, zone));
    }
    return this.spool.append([...(this.forwarding ? lines : []), ...this.#centralRows(m)], local);
  }

  /** Alert changes join the spool (they are already durable in the alert store): a point for InfluxDB, the event and the site summary for the central broker. */
  alertChanged(a: AlertRecord, event: AlertEvent, actor = ''): void {
    const now = this.#now();
    const lines: Line[] = this.forwarding ? [this.encoder.alert(a, event, now)] : [];
    if (this.central) {
      lines.push(
        {
          cls: 'alert',
          ts: now,
          target: 'central',
          line: centralRow(`alerts/${a.site}/${a.type}`, { event, actor, box: this.#deps.config.gatewayId, ...toAlert(a) }),
        },
        { cls: 'alert', ts: now, target: 'central', line: centralRow(`summary/${a.site}`, this.bind.summary(a.site), true) },
      );
    }
    if (lines.length) void this.spool.append(lines).catch((err: unknown) => this.#deps.log.error({ err }, 'could not spool an alert change'));
  }

  start(): void {
    this.forwarder?.start();
    this.central?.start();
    if (this.central || this.forwarder) this.#timers.push(setInterval(() => this.#health(), this.#deps.config.forward.healthIntervalS * 1000));
    this.#timers.push(
      setInterval(() => this.#flushAggregates(), 5000),
      setInterval(() => {
        this.spool.enforceLimits();
        const h = this.#deps.config.localTelemetry.retentionH;
        if (h > 0) this.spool.purgeLocal(this.#now() - h * 3_600_000);
      }, 60_000),
    );
    for (const t of this.#timers) t.unref();
  }

  /** Box health: retained on the central broker, and as `box` and `coverage` points for InfluxDB. */
  #health(): void {
    const h = this.bind.health() as BoxHealth;
    this.central?.publishState('health', h);
    if (this.forwarder && h.box)
      void this.spool.append(this.encoder.health(h, this.#now())).catch((err: unknown) => this.#deps.log.error({ err }, 'could not spool box health'));
  }

  #flushAggregates(): Promise<void> {
    const lines: Line[] = [];
    for (const agg of this.#aggregators.values()) {
      for (const c of agg.flushIdle(this.#now())) pushLine(lines, this.encoder.aggregate(c.msg, this.#deps.zoneOf(c.msg.deviceId), c.fields));
    }
    return this.spool.append(this.forwarding ? lines : []);
  }

  async stop(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    await this.#flushAggregates().catch(() => {});
    await this.forwarder?.stop();
    await this.central?.stop();
    this.spool.close();
  }
}

/** The pseudonym key: configured (shared by a district's boxes), or derived from the master key (HKDF). */
function pseudonymKey(config: GatewayConfig): Buffer {
  const given = config.forward.privacy.pseudonymKey;
  if (given) {
    const k = Buffer.from(given, 'base64');
    if (k.length < 16) throw new Error('forward.privacy.pseudonymKey must be at least 16 bytes in base64');
    return k;
  }
  const master = loadMasterKey({ masterKey: config.security.masterKey, masterKeyFile: config.security.masterKeyFile, dataDir: config.dataDir });
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), 'vigil forward pseudonyms v1', 32));
}

function pushLine(lines: Line[], l: Line | undefined): void {
  if (l) lines.push(l);
}
