/**
 * Detector state across restarts: every `inference.checkpointS` and at shutdown, each device's
 * learned state (smoke baselines, camera reference views, a wearer's upright, door profiles) and
 * its decision (an alarm in progress) go to `detector_state` in the box's database; at start they
 * are restored before traffic. So a restart during a slow fire does not take the fire as the new
 * baseline, and a camera does not re-learn its view from a taped lens. What a model version or
 * state format change does with old state: DetectorStage.restore.
 */
import type { Db } from '../db.ts';
import type { Logger } from '../logger.ts';
import type { DetectorStage, SavedRun } from '../../edge/inference/stage.ts';

type Row = {
  model: string;
  device_id: string;
  site: string;
  kind: string;
  zone: string | null;
  version: string;
  format: number;
  state: string;
  decision: string;
  raised_type: string | null;
};

export class DetectorCheckpoints {
  readonly #db: Db;
  readonly #stage: DetectorStage;
  readonly #log: Logger;
  readonly #now: () => number;
  #timer?: NodeJS.Timeout;

  constructor(db: Db, stage: DetectorStage, log: Logger, now: () => number = Date.now) {
    this.#db = db;
    this.#stage = stage;
    this.#log = log;
    this.#now = now;
  }

  /** Restore what the last run saved; returns what came back. */
  load(): ReturnType<DetectorStage['restore']> {
    const rows = this.#db.prepare('SELECT * FROM detector_state').all() as Row[];
    const saved: SavedRun[] = rows.map((r) => ({
      model: r.model,
      deviceId: r.device_id,
      site: r.site,
      kind: r.kind,
      ...(r.zone !== null ? { zone: r.zone } : {}),
      version: r.version,
      format: r.format,
      state: JSON.parse(r.state),
      decision: JSON.parse(r.decision),
      ...(r.raised_type ? { raisedType: r.raised_type as SavedRun['raisedType'] } : {}),
    }));
    const out = this.#stage.restore(saved);
    if (rows.length) this.#log.info({ restored: out.restored, alarmsKept: out.decisions, discarded: out.discarded.length }, 'detector state restored');
    for (const d of out.discarded) this.#log.warn(d, 'saved detector state not used: the device learns anew');
    return out;
  }

  save(): number {
    const runs = this.#stage.snapshot();
    const put = this.#db.prepare(
      `INSERT INTO detector_state (model, device_id, site, kind, zone, version, format, state, decision, raised_type, saved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (model, site, device_id) DO UPDATE SET kind = excluded.kind, zone = excluded.zone, version = excluded.version, format = excluded.format,
         state = excluded.state, decision = excluded.decision, raised_type = excluded.raised_type, saved_at = excluded.saved_at`,
    );
    const now = this.#now();
    this.#db.transaction(() => {
      for (const r of runs)
        put.run(
          r.model,
          r.deviceId,
          r.site,
          r.kind,
          r.zone ?? null,
          r.version,
          r.format,
          JSON.stringify(r.state),
          JSON.stringify(r.decision),
          r.raisedType ?? null,
          now,
        );
    })();
    return runs.length;
  }

  start(everyS: number): void {
    this.#timer = setInterval(() => {
      try {
        this.save();
      } catch (err) {
        this.#log.error({ err }, 'detector checkpoint failed');
      }
    }, everyS * 1000);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
