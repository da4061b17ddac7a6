/**
 * Evidence feature: when an alert of a configured type is raised, the box asks the cameras of the
 * same site and zone (and the alert's own device, when it takes snapshots: the officer's body camera
 * on man_down or sos) for a snapshot, with the `snapshot` command. The next snapshot each one sends
 * within `evidence.collectS` is kept on the box with its sha256 and listed in the alert
 * (`evidence.items`: id, device, time, sha256, size), which the alert's publication, the API and the
 * central uplink carry by reference. `GET /api/v1/evidence/:id` serves the bytes to people granted
 * the site, and every view is recorded (chain of custody). Retention by age and a size cap.
 */
import { createHash, randomBytes } from 'node:crypto';
import { getKind } from '../../devices/index.ts';
import type { AlertRecord } from '../../edge/alerts/store.ts';
import type { DeviceMessage } from '../../edge/message.ts';
import type { PipelineStage } from '../../edge/pipeline.ts';
import type { Commands } from '../commands/index.ts';
import type { GatewayConfig } from '../config.ts';
import { statementCache, type Db } from '../db.ts';
import { NotFoundError } from '../errors.ts';
import type { Feature } from '../feature.ts';
import type { Logger } from '../logger.ts';
import type { Security } from '../security/index.ts';
import { grants } from '../security/identity.ts';

export interface EvidenceItem {
  id: string;
  device: string;
  ts: string;
  sha256: string;
  bytes: number;
}

export interface EvidenceDeps {
  config: GatewayConfig['evidence'];
  db: Db;
  security: Security;
  commands: Commands;
  /** Attach an item to the alert (the alert engine publishes the change). */
  attach: (alertId: string, item: EvidenceItem) => void;
  log: Logger;
  now?: () => number;
}

interface Pending {
  alertId: string;
  until: number;
}

export class Evidence implements Feature {
  readonly name = 'evidence';
  /** The pipeline stage that takes the snapshots asked for. */
  readonly collector: PipelineStage = { name: 'evidence-collector', accept: (m) => this.#collect(m) };
  readonly #d: EvidenceDeps;
  readonly #sql: ReturnType<typeof statementCache>;
  readonly #now: () => number;
  /** Device → the alerts waiting for its next snapshot. */
  readonly #pending = new Map<string, Pending[]>();
  #timer?: NodeJS.Timeout;

  constructor(deps: EvidenceDeps) {
    this.#d = deps;
    this.#sql = statementCache(deps.db);
    this.#now = deps.now ?? Date.now;
  }

  start(): void {
    // Snapshots asked for just before a restart are still awaited: the requests are the persisted `snapshot` commands.
    const since = this.#now() - this.#d.config.collectS * 1000;
    const asked = this.#sql(
      `SELECT device_id, via, created_at FROM device_commands c WHERE name = 'snapshot' AND via LIKE 'evidence:%' AND created_at >= ?
         AND NOT EXISTS (SELECT 1 FROM evidence e WHERE e.alert_id = substr(c.via, 10) AND e.device_id = c.device_id) ORDER BY created_at`,
    ).all(since) as { device_id: string; via: string; created_at: number }[];
    for (const r of asked) {
      const list = this.#pending.get(r.device_id) ?? [];
      list.push({ alertId: r.via.slice('evidence:'.length), until: r.created_at + this.#d.config.collectS * 1000 });
      this.#pending.set(r.device_id, list);
    }
    this.#timer = setInterval(() => this.retain(), 3_600_000);
    this.#timer.unref();
  }

  drain(): void {
    clearInterval(this.#timer);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /**
   * Where to ask: the zone's fixed devices that take snapshots on command (its cameras), and the alert's
   * own device if it does. A device that moves (it reports GPS: a body camera) is not where its zone is.
   */
  sources(a: Pick<AlertRecord, 'site' | 'zone' | 'deviceId'>): string[] {
    const canSnap = (kind: string) => !!getKind(kind)?.commands['snapshot'];
    const moves = (kind: string) => !!getKind(kind)?.capabilities.includes('gps');
    const ids = new Set<string>();
    const own = this.#d.security.registry.getDevice(a.deviceId);
    if (own && canSnap(own.kind)) ids.add(own.deviceId);
    if (a.zone !== null) {
      for (const d of this.#d.security.registry.listDevices({ site: a.site })) {
        if (d.zone === a.zone && d.state === 'enabled' && canSnap(d.kind) && !moves(d.kind)) ids.add(d.deviceId);
      }
    }
    return [...ids].slice(0, this.#d.config.maxItemsPerAlert);
  }

  /** An alert was raised (or reopened): ask for snapshots when its type is one evidence is gathered for. */
  alertRaised(a: AlertRecord): string[] {
    if (!this.#d.config.alertTypes.includes(a.type)) return [];
    const asked: string[] = [];
    for (const deviceId of this.sources(a)) {
      try {
        this.#d.commands.send(deviceId, { name: 'snapshot' }, { id: 'gateway', role: 'admin', sites: ['*'], via: `evidence:${a.id}` });
      } catch (err) {
        this.#d.log.info({ alert: a.id, device: deviceId, err: (err as Error).message }, 'no evidence asked from this device');
        continue;
      }
      const list = this.#pending.get(deviceId) ?? [];
      list.push({ alertId: a.id, until: this.#now() + this.#d.config.collectS * 1000 });
      this.#pending.set(deviceId, list);
      asked.push(deviceId);
    }
    return asked;
  }

  #collect(m: DeviceMessage): void {
    if (m.channel !== 'snapshot' || !m.snapshot) return;
    const waiting = this.#pending.get(m.deviceId);
    if (!waiting) return;
    this.#pending.delete(m.deviceId);
    const now = this.#now();
    for (const p of waiting.filter((w) => w.until >= now)) {
      const jpeg = m.snapshot.jpeg;
      const item: EvidenceItem = {
        id: `ev-${now.toString(36)}-${randomBytes(4).toString('hex')}`,
        device: m.deviceId,
        ts: new Date(m.ts).toISOString(),
        sha256: createHash('sha256').update(jpeg).digest('hex'),
        bytes: jpeg.length,
      };
      this.#sql('INSERT INTO evidence (id, alert_id, site, zone, device_id, ts, sha256, bytes, jpeg, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').run(
        item.id,
        p.alertId,
        m.site,
        this.#d.security.registry.getDevice(m.deviceId)?.zone ?? null,
        m.deviceId,
        m.ts,
        item.sha256,
        item.bytes,
        jpeg,
        now,
      );
      this.#d.attach(p.alertId, item);
      this.#d.log.info({ alert: p.alertId, evidence: item.id, device: m.deviceId, bytes: item.bytes }, 'evidence attached');
    }
  }

  /** The bytes of an item for a person granted its site; the view is recorded. Another site's item does not exist. */
  view(id: string, who: { id: string; sites: string[]; address?: string }): { jpeg: Buffer; sha256: string; alertId: string; device: string } {
    const r = this.#sql('SELECT alert_id, site, device_id, sha256, jpeg FROM evidence WHERE id = ?').get(id) as
      { alert_id: string; site: string; device_id: string; sha256: string; jpeg: Buffer } | undefined;
    if (!r || !grants(who.sites, r.site)) throw new NotFoundError(`evidence ${id} does not exist`);
    this.#sql('INSERT INTO evidence_views (evidence_id, actor, address, ts) VALUES (?, ?, ?, ?)').run(id, who.id, who.address ?? null, this.#now());
    return { jpeg: r.jpeg, sha256: r.sha256, alertId: r.alert_id, device: r.device_id };
  }

  /** Who viewed an item, oldest first. */
  views(id: string): { actor: string; address: string | null; ts: number }[] {
    return this.#sql('SELECT actor, address, ts FROM evidence_views WHERE evidence_id = ? ORDER BY seq').all(id) as {
      actor: string;
      address: string | null;
      ts: number;
    }[];
  }

  /** Remove items past `retentionDays`, then the oldest beyond `maxBytes`. Returns how many went. */
  retain(): number {
    const c = this.#d.config;
    let removed = 0;
    if (c.retentionDays > 0) removed += this.#sql('DELETE FROM evidence WHERE created_at < ?').run(this.#now() - c.retentionDays * 86_400_000).changes;
    let total = (this.#sql('SELECT COALESCE(SUM(bytes), 0) n FROM evidence').get() as { n: number }).n;
    while (total > c.maxBytes) {
      const oldest = this.#sql('SELECT id, bytes FROM evidence ORDER BY created_at, id LIMIT 1').get() as { id: string; bytes: number } | undefined;
      if (!oldest) break;
      this.#sql('DELETE FROM evidence WHERE id = ?').run(oldest.id);
      total -= oldest.bytes;
      removed++;
    }
    if (removed) this.#d.log.info({ removed }, 'evidence retention');
    return removed;
  }
}
