/**
 * The composition root's one seam: a feature is started with what the gateway made for it (the
 * broker, before any listener accepts a connection). At shutdown, `drain()` (reverse order) as the
 * listeners stop accepting: timers and background work end, so nothing new starts while ingest
 * drains; then `stop()` (reverse order) once ingest and the pipeline have stopped. Security, inference, alerts, configs and retention are features; the forwarder is
 * a pipeline stage (edge/pipeline.ts), started and stopped by the pipeline.
 */
import type { Aedes } from 'aedes';

export interface FeatureContext {
  broker: Aedes;
  /** The broker keeps sessions and queues across restarts (mqtt.persistence.durable). */
  durableBroker: boolean;
}

export interface Feature {
  readonly name: string;
  start(ctx: FeatureContext): void | Promise<void>;
  /** Stop starting work (timers, rollouts); called as the gateway stops accepting connections. */
  drain?(): void | Promise<void>;
  /** Release what start took; called once, in reverse start order, after ingest and the pipeline have stopped. */
  stop(): void | Promise<void>;
}
