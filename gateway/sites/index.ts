/**
 * The zones of each site: what a zone is called and where it is (WGS 84 coordinates, from which
 * reinforcement is dispatched and arrival judged). Edited by admins over the API and CLI, every
 * change audited and kept as a version (history). A zone named by devices but not registered is
 * listed too, so an installer sees which zones still lack coordinates.
 */
import { z } from 'zod';
import { idSchema } from '../../devices/define.ts';
import { hoursSchema, timeZoneSchema, zoneTypes } from '../../devices/zones.ts';
import type { LatLon } from '../../edge/alerts/dispatch.ts';
import { statementCache, type Db } from '../db.ts';
import { ZoneNotFoundError } from '../errors.ts';
import type { Security } from '../security/index.ts';

export const zoneNameSchema = z.string().min(1).max(64);

/** What an admin sets for a zone (PUT replaces the whole body). */
export const zoneBodySchema = z
  .object({
    name: z.string().min(1).max(120).optional().describe('what people call it ("North concourse, gate 3")'),
    location: z
      .object({ lat: z.number().min(-90).max(90), lon: z.number().min(-180).max(180) })
      .strict()
      .optional()
      .describe('WGS 84 coordinates of the zone (where officers are sent)'),
    arrivalRadiusM: z
      .number()
      .min(5)
      .max(2000)
      .optional()
      .describe('an officer within this many metres has arrived (default dispatch.arrivalRadiusM): a large plaza wants more'),
    type: z
      .enum(zoneTypes)
      .optional()
      .describe('what the zone is: restricted, track and platform_edge are for staff only (an intrusion there is an alert at any hour)'),
    capacity: z.number().int().min(1).max(1_000_000).optional().describe('people the zone holds safely'),
    hours: hoursSchema.optional().describe('opening hours, "HH:MM-HH:MM" local time (past midnight allowed); absent: always open'),
    timezone: timeZoneSchema.optional().describe("IANA time zone of the hours (default: the box's)"),
    minConfidence: z.number().min(0).max(1).optional().describe('camera analytics below this confidence are not acted on here (default 0.5)'),
    loiteringS: z
      .number()
      .int()
      .min(10)
      .max(86_400)
      .optional()
      .describe('loitering longer than this is an alert, minor (major at 3×, or in a staff-only zone); default 60 s staff-only, 600 s elsewhere'),
  })
  .strict();
export type ZoneBody = z.infer<typeof zoneBodySchema>;

export interface Zone extends ZoneBody {
  site: string;
  zone: string;
  version: number;
  updatedAt: number;
  updatedBy: string;
}

export interface ZoneListing extends Partial<Zone> {
  site: string;
  zone: string;
  registered: boolean;
  /** Enabled devices provisioned in the zone. */
  devices: number;
}

type Row = { site: string; zone: string; version: number; data: string; updated_at: number; updated_by: string };
const toZone = (r: Row): Zone => ({
  site: r.site,
  zone: r.zone,
  version: r.version,
  updatedAt: r.updated_at,
  updatedBy: r.updated_by,
  ...(JSON.parse(r.data) as ZoneBody),
});

export class Sites {
  readonly #sql: ReturnType<typeof statementCache>;
  readonly #db: Db;
  readonly #security: Security;
  readonly #now: () => number;
  /** Zones by site/zone, read once and kept (dispatch asks on every GPS fix of an engaged officer). */
  readonly #cache = new Map<string, Zone | null>();

  constructor(db: Db, security: Security, now: () => number = Date.now) {
    this.#db = db;
    this.#sql = statementCache(db);
    this.#security = security;
    this.#now = now;
  }

  zone(site: string, zone: string): Zone | undefined {
    const key = `${site}/${zone}`;
    if (!this.#cache.has(key)) {
      const r = this.#sql('SELECT * FROM zones WHERE site = ? AND zone = ?').get(site, zone) as Row | undefined;
      this.#cache.set(key, r ? toZone(r) : null);
    }
    return this.#cache.get(key) ?? undefined;
  }

  /** Where a zone is, if it has coordinates. */
  locate(site: string, zone: string | null): (LatLon & { arrivalRadiusM?: number }) | undefined {
    const z = zone === null ? undefined : this.zone(site, zone);
    return z?.location ? { ...z.location, ...(z.arrivalRadiusM !== undefined ? { arrivalRadiusM: z.arrivalRadiusM } : {}) } : undefined;
  }

  /** Registered zones and zones devices name, of one site. */
  list(site: string): ZoneListing[] {
    const registered = (this.#sql('SELECT * FROM zones WHERE site = ? ORDER BY zone').all(site) as Row[]).map(toZone);
    const counts = new Map<string, number>();
    for (const d of this.#security.registry.listDevices({ site })) {
      if (d.zone !== null && d.state === 'enabled') counts.set(d.zone, (counts.get(d.zone) ?? 0) + 1);
    }
    const out: ZoneListing[] = registered.map((z) => ({ ...z, registered: true, devices: counts.get(z.zone) ?? 0 }));
    for (const [zone, n] of counts) if (!registered.some((z) => z.zone === zone)) out.push({ site, zone, registered: false, devices: n });
    return out.sort((a, b) => a.zone.localeCompare(b.zone));
  }

  /** Create or replace a zone; a new version each time, audited. */
  put(site: string, zone: string, body: ZoneBody, actor: { id: string; address?: string }): Zone {
    idSchema.parse(site);
    zoneNameSchema.parse(zone);
    const data = zoneBodySchema.parse(body);
    const now = this.#now();
    const z = this.#db.transaction(() => {
      const prev = this.#sql('SELECT version FROM zones WHERE site = ? AND zone = ?').get(site, zone) as { version: number } | undefined;
      const last = this.#sql('SELECT MAX(version) v FROM zone_versions WHERE site = ? AND zone = ?').get(site, zone) as { v: number | null };
      const version = Math.max(prev?.version ?? 0, last.v ?? 0) + 1;
      this.#sql(
        `INSERT INTO zones (site, zone, version, data, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (site, zone) DO UPDATE SET version = excluded.version, data = excluded.data, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
      ).run(site, zone, version, JSON.stringify(data), now, actor.id);
      this.#sql('INSERT INTO zone_versions (site, zone, version, data, actor, ts) VALUES (?, ?, ?, ?, ?, ?)').run(
        site,
        zone,
        version,
        JSON.stringify(data),
        actor.id,
        now,
      );
      return { site, zone, version, updatedAt: now, updatedBy: actor.id, ...data } satisfies Zone;
    })();
    this.#cache.delete(`${site}/${zone}`);
    this.#security.audit.record({
      actor: actor.id,
      action: 'zone.put',
      target: `${site}/${zone}`,
      outcome: 'ok',
      address: actor.address,
      detail: { version: z.version, ...data },
    });
    return z;
  }

  remove(site: string, zone: string, actor: { id: string; address?: string }): void {
    const prev = this.zone(site, zone);
    if (!prev) throw new ZoneNotFoundError(`${site}/${zone}`);
    this.#db.transaction(() => {
      this.#sql('DELETE FROM zones WHERE site = ? AND zone = ?').run(site, zone);
      this.#sql('INSERT INTO zone_versions (site, zone, version, data, actor, ts) VALUES (?, ?, ?, NULL, ?, ?)').run(
        site,
        zone,
        prev.version + 1,
        actor.id,
        this.#now(),
      );
    })();
    this.#cache.delete(`${site}/${zone}`);
    this.#security.audit.record({ actor: actor.id, action: 'zone.delete', target: `${site}/${zone}`, outcome: 'ok', address: actor.address });
  }

  /** Every version of a zone, newest first (`data` null: removed in that version). */
  history(site: string, zone: string): { version: number; data: ZoneBody | null; actor: string; ts: number }[] {
    const rows = this.#sql('SELECT version, data, actor, ts FROM zone_versions WHERE site = ? AND zone = ? ORDER BY version DESC').all(site, zone) as {
      version: number;
      data: string | null;
      actor: string;
      ts: number;
    }[];
    if (!rows.length) throw new ZoneNotFoundError(`${site}/${zone}`);
    return rows.map((r) => ({ ...r, data: r.data === null ? null : (JSON.parse(r.data) as ZoneBody) }));
  }
}
