/** Prometheus metrics, one registry per gateway instance (tests run several in one process). */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { refusalCodes } from '../edge/message.ts';

export function createMetrics(opts: { defaults?: boolean } = {}) {
  const registry = new Registry();
  if (opts.defaults) collectDefaultMetrics({ register: registry, prefix: 'vigil_process_' });
  const m = {
    registry,
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
    connections: new Counter({
      name: 'vigil_mqtt_connections_total',
      help: 'MQTT connections accepted, by transport.',
      labelNames: ['transport'] as const,
      registers: [registry],
    }),
  };
  // Every refusal reason is exported from the start, at 0, so dashboards and alerts see the series.
  for (const code of refusalCodes) m.refused.inc({ reason: code }, 0);
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
