/** Prometheus metrics, one registry per gateway instance (tests run several in one process). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { refusalCodes } from '../edge/message.ts';

export function createMetrics(opts: { defaults?: boolean } = {}) {
  const registry = new Registry();
  /** Values read when /metrics is scraped, wired by the gateway once their owners exist. */
  const sources: { queued?: () => number } = {};
  if (opts.defaults) collectDefaultMetrics({ register: registry, prefix: 'vigil_process_' });
  const m = {
    registry,
    sources,
    accepted: new Counter({
      name: 'vigil_ingest_accepted_total',
      help: 'Device messages validated and handed to the pipeline, by kind and channel.',
      labelNames: ['kind', 'channel'] as const,
      registers: [registry],
    }),
    refused: new Counter({
      name: 'vigil_ingest_refused_total',
      help: 'Device messages refused by the gateway, by reason code (see README, "Refusal codes").',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    clockSkewed: new Counter({
      name: 'vigil_ingest_clock_skewed_total',
      help: 'Accepted messages whose device timestamp was missing-or-implausible and replaced by the receive time.',
      registers: [registry],
    }),
    stageErrors: new Counter({
      name: 'vigil_pipeline_stage_errors_total',
      help: 'Exceptions thrown by pipeline stages, by stage.',
      labelNames: ['stage'] as const,
      registers: [registry],
    }),
    clients: new Gauge({
      name: 'vigil_mqtt_connected_clients',
      help: 'MQTT clients connected now.',
      registers: [registry],
    }),
    securityEvents: new Counter({
      name: 'vigil_security_events_total',
      help: 'Audited security events by action and outcome: logins (mqtt.connect), denied subscriptions and publishes, API authentication and access, provisioning, config pushes, alert acknowledgements.',
      labelNames: ['action', 'outcome'] as const,
      registers: [registry],
    }),
    modelInferences: new Counter({ name: 'vigil_model_inferences_total', help: 'Windows scored, by model.', labelNames: ['model', 'version'] as const, registers: [registry] }),
    modelBatches: new Histogram({ name: 'vigil_model_batch_size', help: 'Windows per model run (micro-batching), by model.', labelNames: ['model'] as const, buckets: [1, 2, 4, 8, 16, 32, 64, 128], registers: [registry] }),
    modelLatency: new Histogram({ name: 'vigil_model_run_seconds', help: 'Time of one model run (a batch), by model.', labelNames: ['model'] as const, buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1], registers: [registry] }),
    modelScores: new Histogram({ name: 'vigil_model_score', help: 'Distribution of model scores, by model.', labelNames: ['model'] as const, buckets: [0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99], registers: [registry] }),
    modelLoadFailures: new Counter({ name: 'vigil_model_load_failures_total', help: 'Models that failed to load or reload (the previous version, if any, keeps serving).', labelNames: ['model'] as const, registers: [registry] }),
    modelDetections: new Counter({ name: 'vigil_model_detections_total', help: 'Detector decisions (raise, clear), by model and alert type.', labelNames: ['model', 'type', 'change'] as const, registers: [registry] }),
    modelsLoaded: new Gauge({ name: 'vigil_models_loaded', help: 'Models loaded now; 0 means the gateway runs on its rules alone.', registers: [registry] }),
    oversizedPackets: new Counter({
      name: 'vigil_mqtt_oversized_packets_total',
      help: 'Connections closed because a packet announced more than mqtt.maxPacketBytes, by transport.',
      labelNames: ['transport'] as const,
      registers: [registry],
    }),
    connections: new Counter({
      name: 'vigil_mqtt_connections_total',
      help: 'MQTT connections accepted, by transport.',
      labelNames: ['transport'] as const,
      registers: [registry],
    }),
    loginThrottle: new Counter({
      name: 'vigil_login_throttled_total',
      help: 'Logins slowed or shed: "delayed" refusals held back after repeated failures of a credential from an address, "shed" checks refused at once under a login flood (CONNACK 3 / HTTP 503), by transport.',
      labelNames: ['transport', 'what'] as const,
      registers: [registry],
    }),
    queueDropped: new Counter({
      name: 'vigil_mqtt_queue_dropped_total',
      help: 'Messages dropped from persistent sessions\' queues: "queue_full" (oldest non-alert first), "session_expired".',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    queuedMessages: new Gauge({
      name: 'vigil_mqtt_queued_messages',
      help: 'QoS 1/2 messages queued for persistent sessions now (offline or in flight).',
      registers: [registry],
      collect() {
        this.set(sources.queued?.() ?? 0);
      },
    }),
    connectionsRefused: new Counter({
      name: 'vigil_connections_refused_total',
      help: 'Connections closed at once because a connection limit was reached, by listener and limit.',
      labelNames: ['listener', 'reason'] as const,
      registers: [registry],
    }),
  };
  // Every refusal reason is exported from the start, at 0, so dashboards and alerts see the series.
  for (const code of refusalCodes) m.refused.inc({ reason: code }, 0);
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
