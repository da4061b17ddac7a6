/** Prometheus metrics, one registry per gateway instance (tests run several in one process). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { refusalCodes } from '../edge/message.ts';

export function createMetrics(opts: { defaults?: boolean; gatewayId?: string; version?: string } = {}) {
  const registry = new Registry();
  // Every series says which box it comes from, as the README promises.
  if (opts.gatewayId) registry.setDefaultLabels({ gateway: opts.gatewayId });
  /** Values read when /metrics is scraped, wired by the gateway once their owners exist. */
  const sources: { queued?: () => number } = {};
  // Node's process metrics under their standard names (process_*, nodejs_*), as stock dashboards and alert rules expect.
  if (opts.defaults) {
    collectDefaultMetrics({ register: registry });
    // prom-client also exports three gauges with a counter's "_total" suffix (promtool flags them); their
    // values are the sums of nodejs_active_handles, nodejs_active_requests and nodejs_active_resources by type.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
  }
  new Gauge({
    name: 'vigil_build_info',
    help: 'Always 1; the version of Vigil and of Node.js in labels.',
    labelNames: ['version', 'node'] as const,
    registers: [registry],
  }).set({ version: opts.version ?? 'unknown', node: process.version }, 1);
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
    modelInferences: new Counter({
      name: 'vigil_model_inferences_total',
      help: 'Windows scored, by model.',
      labelNames: ['model', 'version'] as const,
      registers: [registry],
    }),
    modelBatches: new Histogram({
      name: 'vigil_model_batch_size',
      help: 'Windows per model run (micro-batching), by model.',
      labelNames: ['model'] as const,
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers: [registry],
    }),
    modelLatency: new Histogram({
      name: 'vigil_model_run_seconds',
      help: 'Time of one model run (a batch), by model.',
      labelNames: ['model'] as const,
      buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
      registers: [registry],
    }),
    modelScores: new Histogram({
      name: 'vigil_model_score',
      help: 'Distribution of model scores, by model.',
      labelNames: ['model'] as const,
      buckets: [0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99],
      registers: [registry],
    }),
    modelLoadFailures: new Counter({
      name: 'vigil_model_load_failures_total',
      help: 'Models that failed to load or reload (the previous version, if any, keeps serving).',
      labelNames: ['model'] as const,
      registers: [registry],
    }),
    modelDetections: new Counter({
      name: 'vigil_model_detections_total',
      help: 'Detector decisions (raise, clear), by model and alert type.',
      labelNames: ['model', 'type', 'change'] as const,
      registers: [registry],
    }),
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
    alertTimeToAck: new Histogram({
      name: 'vigil_alert_time_to_ack_seconds',
      help: 'From an alert being raised to its acknowledgement (the 1 of 1-3-5), by site, type and base severity.',
      labelNames: ['site', 'type', 'severity'] as const,
      buckets: [10, 30, 60, 120, 180, 300, 600, 1800, 3600],
      registers: [registry],
    }),
    alertTimeToResolve: new Histogram({
      name: 'vigil_alert_time_to_resolve_seconds',
      help: 'From an alert being raised to its resolution (the 3 and 5 of 1-3-5), by site, type, base severity and who resolved it (operator or auto).',
      labelNames: ['site', 'type', 'severity', 'by'] as const,
      buckets: [10, 30, 60, 120, 180, 300, 600, 1800, 3600],
      registers: [registry],
    }),
    alertTimeToAccept: new Histogram({
      name: 'vigil_alert_time_to_dispatch_accept_seconds',
      help: 'From an alert being raised to the first officer accepting the dispatch, by site, type and base severity.',
      labelNames: ['site', 'type', 'severity'] as const,
      buckets: [10, 30, 60, 120, 180, 300, 600, 1800, 3600],
      registers: [registry],
    }),
    alertTimeToArrival: new Histogram({
      name: 'vigil_alert_time_to_arrival_seconds',
      help: 'From an alert being raised to the first dispatched officer arriving on scene (the 5 of 1-3-5), by site, type and base severity.',
      labelNames: ['site', 'type', 'severity'] as const,
      buckets: [30, 60, 120, 180, 300, 420, 600, 1800, 3600],
      registers: [registry],
    }),
    dispatchAnswers: new Counter({
      name: 'vigil_dispatch_answers_total',
      help: "Officers' answers to dispatches by site and outcome (accepted, declined, unanswered, arrived, stood_down).",
      labelNames: ['site', 'outcome'] as const,
      registers: [registry],
    }),
    dispatchIgnored: new Counter({
      name: 'vigil_dispatch_answers_ignored_total',
      help: 'Dispatch answers from a body camera that was not asked (or no longer is) for that alert, by reason.',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    ingestSeconds: new Histogram({
      name: 'vigil_ingest_ack_seconds',
      help: 'From a PUBLISH reaching the gateway to its hand-over to the broker (the PUBACK for QoS 1): validation, pipeline and, for QoS 1, the durable spool commit; by QoS.',
      labelNames: ['qos'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    spoolCommitSeconds: new Histogram({
      name: 'vigil_spool_commit_seconds',
      help: 'Time of one spool commit (a group of appends, fsync included with spool.durability=fsync).',
      buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
      registers: [registry],
    }),
    httpRequests: new Counter({
      name: 'vigil_http_requests_total',
      help: 'HTTP API requests answered, by method, route (the pattern, not the URL) and status code.',
      labelNames: ['method', 'route', 'status'] as const,
      registers: [registry],
    }),
    httpSeconds: new Histogram({
      name: 'vigil_http_request_seconds',
      help: 'HTTP API response time, by method and route.',
      labelNames: ['method', 'route'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
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
