/**
 * The seam between ingest and everything on the box that consumes device data
 * (state, inference, alerts, forwarding). Later issues add stages; ingest does not change.
 *
 * Stages see every accepted message synchronously and in arrival order. A stage
 * that must finish before the message is acknowledged (the disk spool) returns a
 * promise and declares itself `critical`: if it fails, the publish is not
 * acknowledged and the device retransmits (QoS 1). A non-critical stage that
 * throws is logged and counted; it cannot lose the message for the others.
 */
import type { DeviceMessage } from './message.ts';

export interface PipelineStage {
  readonly name: string;
  /** A failure of a critical stage refuses the message instead of only being logged. */
  readonly critical?: boolean;
  accept(msg: DeviceMessage): void | Promise<void>;
  start?(): Promise<void> | void;
  /** Flush and release; called once on shutdown, after ingest has stopped. */
  stop?(): Promise<void> | void;
}

export type StageErrorHandler = (stage: string, err: unknown, msg: DeviceMessage) => void;

export class Pipeline {
  readonly #stages: PipelineStage[] = [];
  readonly #onError: StageErrorHandler;

  constructor(onError: StageErrorHandler) {
    this.#onError = onError;
  }

  use(stage: PipelineStage): this {
    if (this.#stages.some((s) => s.name === stage.name)) throw new Error(`pipeline stage "${stage.name}" registered twice`);
    this.#stages.push(stage);
    return this;
  }

  get stages(): readonly string[] {
    return this.#stages.map((s) => s.name);
  }

  /** Returns a promise only when some stage needs to be awaited before acknowledging. */
  accept(msg: DeviceMessage): void | Promise<void> {
    let pending: Promise<void>[] | undefined;
    for (const stage of this.#stages) {
      let r: void | Promise<void>;
      try {
        r = stage.accept(msg);
      } catch (err) {
        this.#onError(stage.name, err, msg);
        if (stage.critical) return Promise.reject(err);
        continue;
      }
      if (r) {
        const guarded = stage.critical ? r : r.catch((err: unknown) => this.#onError(stage.name, err, msg));
        (pending ??= []).push(guarded);
      }
    }
    if (pending) return Promise.all(pending).then(() => undefined);
  }

  async start(): Promise<void> {
    for (const s of this.#stages) await s.start?.();
  }

  async stop(): Promise<void> {
    for (const s of [...this.#stages].reverse()) {
      try {
        await s.stop?.();
      } catch (err) {
        this.#onError(s.name, err, undefined as unknown as DeviceMessage);
      }
    }
  }
}
