/**
 * The composition root: one edge box. The gateway opens the database, makes the features
 * (gateway/feature.ts: security, inference, retention, alerts, configs, rollouts) and the
 * pipeline stages, and starts them as a unit:
 *   pipeline → broker → features (reverse on stop) → MQTT listeners → HTTP.
 * Stop is the reverse of what accepts work: stop accepting and drain the features' timers,
 * drain in-flight ingest, close clients, flush the pipeline, stop the features, close HTTP and the database.
 */
import { Counter, Gauge } from 'prom-client';
import { readFileSync } from 'node:fs';
import type { Aedes } from 'aedes';
import { DeviceStates } from '../edge/device-state.ts';
import { Pipeline, type PipelineStage } from '../edge/pipeline.ts';
import { isLoopback, plaintextListeners, type GatewayConfig } from './config.ts';
import { ConnectionLimiter } from './security/limits.ts';
import { SqlitePersistence } from './broker/persistence.ts';
import { Retention } from './retention.ts';
import { join } from 'node:path';
import { createBroker } from './broker/index.ts';
import { startTcp, startTls, startWebSocket, tlsOptions, type Listener } from './broker/listeners.ts';
import { PublishPolicy } from './broker/publish-policy.ts';
import { AdaptedIngest } from './adapters/index.ts';
import { Onboarding } from './adapters/onboarding.ts';
import { UpstreamBridge } from './adapters/upstream.ts';
import { profileAdapter } from '../devices/adapters/json-mapping.ts';
import { parseTopic } from '../devices/index.ts';
import { buildApp, type VigilApp } from './http/app.ts';
import { createLogger, type Logger } from './logger.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { openBoxDb, Security } from './security/index.ts';
import type { Db } from './db.ts';
import type { Feature, FeatureContext } from './feature.ts';
import { Inference } from './inference/index.ts';
import { Commands } from './commands/index.ts';
import { Evidence } from './evidence/index.ts';
import { Dispatcher } from './dispatch/index.ts';
import { Sites } from './sites/index.ts';
import { conditionKey } from '../edge/alerts/model.ts';
import { alertTimes } from '../edge/alerts/sla.ts';
import { Alerts, escalationPolicy } from './alerts/index.ts';
import { Forwarding } from './forward/index.ts';
import { Configs } from './configs/index.ts';
import { Rollouts } from './configs/rollouts.ts';

export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface GatewayOptions {
  config: GatewayConfig;
  log?: Logger;
  /** Extra pipeline stages after device state (inference, alerts, forwarding plug in here). */
  stages?: PipelineStage[];
  /** Collect process metrics (CPU, memory, event loop) too; off in tests that run many gateways. */
  processMetrics?: boolean;
  /** The clock of alerts, escalation and the audit log (tests drive it). */
  now?: () => number;
}

export interface Ports {
  mqtt?: number;
  ws?: number;
  tls?: number;
  wss?: number;
  http?: number;
}

export class Gateway {
  readonly config: GatewayConfig;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly states: DeviceStates;
  readonly pipeline: Pipeline;
  readonly policy: PublishPolicy;
  /** Devices that push through vendor adapters (Hikvision ISAPI). */
  readonly adapters: AdaptedIngest;
  readonly onboarding: Onboarding;
  /** Bridges read from the sites' own brokers (adapters.upstream). */
  upstream: UpstreamBridge[] = [];
  readonly security: Security;
  readonly alerts: Alerts;
  readonly forwarding: Forwarding;
  readonly configs: Configs;
  readonly rollouts: Rollouts;
  readonly inference: Inference;
  readonly commands: Commands;
  readonly evidence: Evidence;
  /** Zones of each site: names and coordinates. */
  readonly sites: Sites;
  readonly dispatcher: Dispatcher;
  /** The box's database (vigil.db), opened here and handed to the features. */
  readonly db: Db;
  /** In start order; drained and stopped in reverse. */
  readonly features: Feature[];
  readonly ports: Ports = {};
  /** The gateway's clock (injected in tests): alerts, audit, ingest, rollouts, retention, checkpoints. */
  readonly now: () => number;
  readonly startedAt = Date.now();
  broker?: Aedes;
  /** Durable broker state (mqtt.persistence.durable). */
  readonly persistence?: SqlitePersistence;
  readonly retention: Retention;
  #expiryTimer?: NodeJS.Timeout;
  #listeners: Listener[] = [];
  #app?: VigilApp;
  #state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  #started: Feature[] = [];

  constructor(opts: GatewayOptions) {
    this.config = opts.config;
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? createLogger(opts.config.log, { gateway: opts.config.gatewayId });
    this.metrics = createMetrics({ defaults: opts.processMetrics ?? false, gatewayId: this.config.gatewayId, version: VERSION });
    this.states = new DeviceStates(opts.now);
    this.pipeline = new Pipeline((stage, err) => {
      this.metrics.stageErrors.inc({ stage });
      this.log.error({ stage, err }, 'pipeline stage failed');
    });
    this.db = openBoxDb(this.config, this.log);
    this.security = new Security(this.config, this.db, this.log.child({ module: 'security' }), opts.now);
    this.security.audit.onEvent((e) => this.metrics.securityEvents.inc({ action: e.action, outcome: e.outcome }));
    this.security.throttled.on((transport, what) => this.metrics.loginThrottle.inc({ transport, what }));
    this.sites = new Sites(this.db, this.security, opts.now);
    this.alerts = new Alerts({
      config: this.config,
      db: this.db,
      states: this.states,
      security: this.security,
      zoneInfo: (site, zone) => this.sites.zone(site, zone),
      log: this.log.child({ module: 'alerts' }),
      now: opts.now,
    });
    const zoneOf = (id: string) => this.security.registry.getDevice(id)?.zone ?? null;
    this.forwarding = new Forwarding({ config: this.config, log: this.log.child({ module: 'forward' }), metrics: this.metrics, zoneOf, now: opts.now });
    this.alerts.onChange(({ alert, event, actor }) => this.forwarding.alertChanged(alert, event, actor));
    this.forwarding.bind = {
      // The central broker authenticated the publisher (its ACL lets only the centre's operators write commands); the operator's name is as the centre states it.
      command: (c) => {
        const a = this.alerts.act(c.action, c.alertId, { id: `central:${c.operator}`, sites: ['*'], via: 'central' }, c.note);
        return { ok: true, state: a.state, version: a.version };
      },
      summary: (site) => this.alerts.summary(site),
      health: () => this.boxHealth(),
    };
    this.configs = new Configs(this.db, this.security, this.log.child({ module: 'configs' }), opts.now);
    this.rollouts = new Rollouts(this.db, this.configs, this.security.registry, this.log.child({ module: 'rollouts' }), opts.now);
    this.inference = new Inference({
      config: this.config.inference,
      db: this.db,
      log: this.log.child({ module: 'inference' }),
      metrics: this.metrics,
      signal: (c) => this.alerts.signal(c),
      places: { zone: (site, zone) => this.sites.zone(site, zone), zoneOf },
      now: opts.now,
    });
    this.pipeline.use(this.states);
    this.pipeline.use(this.alerts.pipeline.rules);
    this.pipeline.use(this.inference.detectors);
    this.pipeline.use(this.configs.tracker);
    this.commands = new Commands({
      db: this.db,
      security: this.security,
      states: this.states,
      alertOpen: (deviceId, type) => {
        const site = this.security.registry.getDevice(deviceId)?.site;
        return !!site && !!this.alerts.store.findOpen(conditionKey({ site, deviceId, type }));
      },
      adapted: (c) => this.adapters?.deliver(c),
      log: this.log.child({ module: 'commands' }),
      now: opts.now,
    });
    this.pipeline.use(this.commands.tracker);
    this.evidence = new Evidence({
      config: this.config.evidence,
      db: this.db,
      security: this.security,
      commands: this.commands,
      attach: (alertId, item) => {
        try {
          this.alerts.pipeline.engine.attachEvidence(alertId, { ...item });
        } catch (err) {
          this.log.warn({ alertId, evidence: item.id, err: (err as Error).message }, 'evidence not attached');
        }
      },
      log: this.log.child({ module: 'evidence' }),
      now: opts.now,
    });
    this.pipeline.use(this.evidence.collector);
    this.dispatcher = new Dispatcher({
      config: this.config.dispatch,
      escalation: escalationPolicy(this.config.alerts),
      alerts: this.alerts,
      sites: this.sites,
      security: this.security,
      states: this.states,
      commands: this.commands,
      metrics: this.metrics,
      log: this.log.child({ module: 'dispatch' }),
      now: opts.now,
    });
    this.pipeline.use(this.dispatcher.tracker);
    // The 1-3-5 rule measured as it happens (GET /api/v1/sla reports it over a window).
    this.alerts.onChange(({ alert, event }) => {
      const { toAckS, toResolveS } = alertTimes(alert);
      const labels = { site: alert.site, type: alert.type, severity: alert.baseSeverity };
      if (event === 'acknowledged' && toAckS !== null) this.metrics.alertTimeToAck.observe(labels, toAckS);
      if ((event === 'resolved' || event === 'auto_resolved') && toResolveS !== null)
        this.metrics.alertTimeToResolve.observe({ ...labels, by: event === 'resolved' ? 'operator' : 'auto' }, toResolveS);
    });
    this.alerts.onChange(({ alert, event }) => {
      if (event !== 'raised' && event !== 'reopened') return;
      this.commands.alertRaised(alert);
      this.evidence.alertRaised(alert);
    });
    this.pipeline.use(this.forwarding);
    this.onboarding = new Onboarding(this.db, this.security, this.config.adapters, opts.now);
    this.#operatorMetrics();
    for (const s of opts.stages ?? []) this.pipeline.use(s);
    this.adapters = new AdaptedIngest({
      security: this.security,
      pipeline: this.pipeline,
      states: this.states,
      metrics: this.metrics,
      limits: this.config.ingest,
      log: this.log.child({ module: 'adapters' }),
      now: this.now,
      onboarding: this.onboarding,
      local: Object.entries(this.config.adapters.profiles).map(([name, p]) => profileAdapter(name, p)),
    });
    this.security.unknownDevice.on((claimedId, address, will) => {
      const t = will ? parseTopic(will) : undefined;
      const a = t?.ok && t.address.deviceId === claimedId ? t.address : undefined;
      this.onboarding.seen({ source: 'mqtt', claimedId, address, ...(will ? { topic: will } : {}), ...(a ? { kind: a.kind, site: a.site } : {}) });
    });
    this.security.bridgeGone.on((id) => this.adapters.bridgeGone(id));
    this.security.bridgeBack.on((id) => this.adapters.bridgeBack(id));
    this.policy = new PublishPolicy({
      limits: this.config.ingest,
      pipeline: this.pipeline,
      states: this.states,
      metrics: this.metrics,
      log: this.log.child({ module: 'ingest' }),
      identities: this.security.identities,
      audit: this.security.audit,
      now: opts.now,
      rate: {
        perSecond: this.config.security.messagesPerSecond,
        burst: this.config.security.messageBurst,
        bridge: { perSecond: this.config.security.bridgeMessagesPerSecond, burst: this.config.security.bridgeMessageBurst },
      },
      bridged: (b, topic, payload, address) => this.adapters.bridged(b, topic, payload, address),
    });
    this.policy.addCommand(this.alerts.commandHandler());
    this.retention = new Retention({
      db: this.db,
      audit: this.security.audit,
      config: this.config.retention,
      trimLocalTelemetry: (max, batch) => this.forwarding.spool.trimLocal(max, batch),
      log: this.log.child({ module: 'retention' }),
      now: opts.now,
    });
    const bp = this.config.mqtt.persistence;
    if (bp.durable) {
      this.persistence = new SqlitePersistence({
        file: join(this.config.dataDir, 'broker.db'),
        durability: bp.durability,
        maxQueued: bp.maxQueued,
        maxQueuedBytes: bp.maxQueuedBytes,
        sessionExpiryMs: bp.sessionExpiryH * 3_600_000,
        // Alerts are the last thing an operator's queue loses.
        isPriority: (topic) => /^vigil\/v1\/[^/]+\/alerts\//.test(topic),
        onDrop: (clientId, topic, reason) => {
          this.metrics.queueDropped.inc({ reason });
          this.log.warn({ clientId, topic, reason }, 'queued message dropped');
        },
        now: opts.now,
      });
      this.metrics.sources.queued = () => this.persistence!.queued().reduce((n, q) => n + q.messages, 0);
    }
    const rollouts = this.rollouts;
    this.features = [
      this.security,
      this.inference,
      this.retention,
      this.alerts,
      this.configs,
      this.commands,
      this.evidence,
      this.dispatcher,
      { name: 'rollouts', start: () => {}, drain: () => rollouts.stop(), stop: () => rollouts.stop() },
    ];
  }

  get models() {
    return this.inference.models;
  }

  get detectors() {
    return this.inference.detectors;
  }

  /** Load or hot-reload one model; a failure leaves the running version serving, and is counted. */
  reloadModel(id: string) {
    return this.inference.reload(id);
  }

  /** The HTTP routes served, as "method /path/{param}" (empty without HTTP). */
  get httpRoutes(): string[] {
    return this.#app?.routeList() ?? [];
  }

  get running(): boolean {
    return this.#state === 'running';
  }

  async start(): Promise<this> {
    if (this.#state !== 'new') throw new Error(`gateway cannot start from state ${this.#state}`);
    this.#state = 'starting';
    try {
      await this.pipeline.start();
      this.broker = await createBroker({
        config: this.config,
        policy: this.policy,
        states: this.states,
        metrics: this.metrics,
        log: this.log.child({ module: 'broker' }),
        hooks: this.security.brokerHooks(),
        onClientGone: (client, replaced) => this.security.clientGone(client, replaced),
        onClientReady: (client) => this.security.clientReady(client),
        addressOf: (client) => this.security.deviceAddress(client),
        persistence: this.persistence,
      });
      if (this.persistence) {
        this.#expiryTimer = setInterval(() => this.persistence!.expireSessions(), 60_000);
        this.#expiryTimer.unref();
      }
      this.adapters.attach(this.broker);
      // Features start before any listener accepts a connection: learned state, alarms in progress and desired configs come back first.
      const featureCtx: FeatureContext = { broker: this.broker, durableBroker: !!this.persistence };
      for (const f of this.features) {
        await f.start(featureCtx);
        this.#started.push(f);
      }
      const { tcp, ws, tls, wss } = this.config.mqtt;
      const tlsOpts = tls.enabled || wss.enabled || this.config.http.tls ? tlsOptions(tls) : undefined;
      const ctx = {
        metrics: this.metrics,
        maxPacketBytes: this.config.mqtt.maxPacketBytes,
        limiter: new ConnectionLimiter(this.config.mqtt.maxConnections, this.config.mqtt.maxConnectionsPerAddress),
      };
      if (this.config.security.allowPlaintext) {
        for (const [path, on, host] of plaintextListeners(this.config)) {
          if (on && !isLoopback(host))
            this.log.warn(
              { listener: path.join('.'), host },
              'plaintext listener on a non-loopback address (security.allowPlaintext=true): credentials and data cross the network unencrypted',
            );
        }
      }
      if (tcp.enabled) {
        const l = await startTcp(this.broker, tcp, ctx);
        this.#listeners.push(l);
        this.ports.mqtt = l.port;
      }
      if (ws.enabled) {
        const l = await startWebSocket(this.broker, ws, ctx);
        this.#listeners.push(l);
        this.ports.ws = l.port;
      }
      if (tls.enabled) {
        const l = await startTls(this.broker, tls, tlsOpts!, ctx);
        this.#listeners.push(l);
        this.ports.tls = l.port;
      }
      if (wss.enabled) {
        const l = await startWebSocket(this.broker, wss, ctx, tlsOpts);
        this.#listeners.push(l);
        this.ports.wss = l.port;
      }
      if (this.config.http.enabled) {
        this.#app = await buildApp({
          states: this.states,
          security: this.security,
          alerts: this.alerts,
          forwarding: this.forwarding,
          configs: this.configs,
          rollouts: this.rollouts,
          inference: this.inference,
          commands: this.commands,
          evidence: this.evidence,
          sites: this.sites,
          dispatcher: this.dispatcher,
          adapters: this.adapters,
          onboarding: this.onboarding,
          ingestLimits: this.config.ingest,
          persistence: this.persistence,
          now: this.now,
          allowAnonymous: this.config.security.allowAnonymous,
          http: this.config.http,
          tls: this.config.http.tls ? tlsOpts : undefined,
          registry: this.metrics.registry,
          metrics: this.metrics,
          log: this.log.child({ module: 'http' }),
          version: VERSION,
          broker: this.broker,
          mqtt: ctx,
          startedAt: this.startedAt,
          readiness: () => this.readiness(),
        });
        await this.#app.listen({ host: this.config.http.host, port: this.config.http.port });
        const addr = this.#app.server.address();
        this.ports.http = typeof addr === 'object' && addr ? addr.port : this.config.http.port;
      }
      for (const u of this.config.adapters.upstream) {
        const b = new UpstreamBridge(
          { url: u.url, username: u.username, password: u.password, caFile: u.caFile, clientId: u.clientId || `vigil-${this.config.gatewayId}-${u.id}` },
          { id: u.id, site: u.site, adapter: u.adapter, baseTopic: u.baseTopic },
          this.adapters,
          this.log.child({ module: 'upstream', bridge: u.id }),
        );
        b.start();
        this.upstream.push(b);
      }
    } catch (err) {
      this.log.error({ err }, 'gateway failed to start');
      await this.stop();
      throw err;
    }
    this.#state = 'running';
    this.log.info({ ports: this.ports, version: VERSION, stages: this.pipeline.stages }, 'vigil gateway running');
    return this;
  }

  /** Gauges read at scrape time: open alerts, devices and coverage per site and kind, config sync, skipped windows. */
  #operatorMetrics(): void {
    const reg = [this.metrics.registry];
    const alerts = this.alerts;
    const configs = this.configs;
    const detectors = this.inference.detectors;
    new Gauge({
      name: 'vigil_alerts_open',
      help: 'Open alerts (raised or acknowledged), by site, severity and state.',
      labelNames: ['site', 'severity', 'state'] as const,
      registers: reg,
      collect() {
        this.reset();
        for (const a of alerts.store.query({ state: 'open', limit: 100_000 })) this.inc({ site: a.site, severity: a.severity, state: a.state });
      },
    });
    const onboarding = this.onboarding;
    new Gauge({
      name: 'vigil_devices_pending',
      help: 'Unregistered devices waiting for an admin (onboarding), by where they turned up (mqtt, http, bridge).',
      labelNames: ['source'] as const,
      registers: reg,
      collect() {
        this.reset();
        for (const p of onboarding.list()) this.inc({ source: p.source.split(':')[0]! });
      },
    });
    new Counter({
      name: 'vigil_pending_dropped_total',
      help: 'Sightings of unknown devices not stored because the pending list was full (adapters.maxPending, maxPendingPerAddress).',
      registers: reg,
      collect() {
        this.reset();
        this.inc(onboarding.dropped);
      },
    });
    const coverage = (name: string, help: string, value: (c: (typeof alerts.coverage)[number]) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['site', 'kind'] as const,
        registers: reg,
        collect() {
          this.reset();
          for (const c of alerts.coverage) this.set({ site: c.site, kind: c.kind }, value(c));
        },
      });
    coverage('vigil_devices_registered', 'Devices accounted for, by site and kind.', (c) => c.registered);
    coverage('vigil_devices_healthy', 'Devices online and reporting, by site and kind.', (c) => c.healthy);
    coverage('vigil_coverage_ratio', 'Healthy share of the devices, by site and kind (alerts.coverageTarget: 0.9).', (c) => c.ratio);
    new Gauge({
      name: 'vigil_config_devices',
      help: 'Devices per configuration sync status.',
      labelNames: ['status'] as const,
      registers: reg,
      collect() {
        this.reset();
        for (const [status, n] of Object.entries(configs.statusCounts())) this.set({ status }, n);
      },
    });
    new Counter({
      name: 'vigil_inference_windows_skipped_total',
      help: "Windows not scored because a device's detector queue was full (inference.maxQueuePerDevice).",
      registers: reg,
      collect() {
        this.reset();
        this.inc(detectors.skipped);
      },
    });
  }

  /** What the centre sees of this box (retained on the central broker): spool and uplinks, devices and coverage, models. */
  boxHealth() {
    const spool = this.forwarding.spool;
    const now = this.now();
    return {
      box: this.config.gatewayId,
      version: VERSION,
      ts: new Date(now).toISOString(),
      uptimeS: Math.round((Date.now() - this.startedAt) / 1000),
      uplinks: Object.fromEntries(
        this.forwarding.targets.map((t) => {
          const oldest = spool.oldestTs(t.target);
          return [
            t.target,
            { circuit: t.circuit, spooled: spool.depthOf(t.target), oldestAgeS: oldest === undefined ? 0 : Math.max(0, Math.round((now - oldest) / 1000)) },
          ];
        }),
      ),
      coverage: this.alerts.coverage.map((c) => ({
        site: c.site,
        kind: c.kind,
        healthy: c.healthy,
        registered: c.registered,
        ratio: Number(c.ratio.toFixed(3)),
      })),
      openAlerts: this.alerts.store.query({ state: 'open', limit: 1000 }).length,
      models: this.models.models.map((m) => `${m.manifest.id}@${m.manifest.version}`),
    };
  }

  readiness() {
    const checks: Record<string, { ok: boolean; detail?: string; critical?: boolean }> = {
      broker: { ok: !!this.broker && !this.broker.closed, detail: this.broker ? `${this.broker.connectedClients} clients` : 'not started' },
      listeners: { ok: this.#listeners.length > 0, detail: this.#listeners.map((l) => `${l.name}:${l.port}`).join(', ') || 'none' },
      pipeline: { ok: this.pipeline.stages.length > 0, detail: this.pipeline.stages.join(' → ') },
      // No model is not a readiness failure either: the rules still raise alerts. It is said plainly.
      inference: { ok: true, detail: this.inference.describe() },
      // The uplink being down is not a readiness failure: the spool is there for exactly that. It is reported, not failed.
      // A failed sync to disk is not: nothing more can be acknowledged as durable (WalSync).
      spool: this.forwarding.spool.walSync?.failed
        ? { ok: false, detail: this.forwarding.spool.walSync.failed.message }
        : { ok: true, detail: `${this.forwarding.spool.depth} points spooled${this.forwarding.forwarding ? '' : ' (standalone: no uplink configured)'}` },
      ...(this.persistence?.syncFailed ? { 'broker-store': { ok: false, detail: this.persistence.syncFailed.message } } : {}),
    };
    // The uplink is reported (ok: false while its circuit is not closed) but not critical: the spool holds the points.
    for (const t of this.forwarding.targets) checks[`uplink:${t.target}`] = { ok: t.circuit === 'closed', critical: false, detail: t.describe() };
    for (const u of this.upstream)
      checks[`bridge:${u.id}`] = {
        ok: u.connected,
        critical: false,
        detail: `${u.connected ? 'reading' : 'not connected to'} the site broker; ${u.received} messages, ${u.refused} refused${u.lastError ? `; last error: ${u.lastError}` : ''}`,
      };
    return { ready: this.#state === 'running' && Object.values(checks).every((c) => c.ok || c.critical === false), checks };
  }

  async stop(): Promise<void> {
    if (this.#state === 'stopping' || this.#state === 'stopped') return;
    this.#state = 'stopping';
    const t0 = Date.now();
    // net.Server.close() stops listening now but calls back only when every connection is gone.
    const listenersClosed = Promise.all(this.#listeners.map((l) => l.stopAccepting()));
    const grace = new Promise<'timeout'>((r) => setTimeout(r, this.config.shutdownGraceMs, 'timeout').unref());
    for (const f of [...this.#started].reverse()) await f.drain?.();
    await Promise.all(this.upstream.map((u) => u.stop()));
    this.upstream = [];
    if ((await Promise.race([this.policy.drain(), grace])) === 'timeout') {
      this.log.warn({ graceMs: this.config.shutdownGraceMs }, 'shutdown grace elapsed with messages still in validation');
    }
    this.policy.close();
    if (this.broker) await new Promise<void>((r) => this.broker!.close(() => r()));
    clearInterval(this.#expiryTimer);
    await this.persistence?.destroy().catch((err: Error) => this.log.error({ err }, 'closing broker persistence failed'));
    await listenersClosed;
    await this.pipeline.stop();
    for (const f of this.#started.reverse()) {
      try {
        await f.stop();
      } catch (err) {
        this.log.error({ err, feature: f.name }, 'feature failed to stop');
      }
    }
    this.#started = [];
    await this.#app?.close();
    this.db.close();
    this.#listeners = [];
    this.#state = 'stopped';
    this.log.info({ ms: Date.now() - t0 }, 'vigil gateway stopped');
  }
}

export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  return new Gateway(opts).start();
}
