/**
 * Door behaviour features, learned per door as it runs: when the door is used (an hour-of-day
 * profile), who uses it (credential counts), and how often it refuses (denials in the last minute
 * and ten minutes, and by how many credentials). Each access event (granted or denied) is scored
 * against what the door has seen before it; then the door learns it. Deterministic rules (forced
 * open, held open, tamper) stay in the kind's rules (devices/kinds/door/rules.ts).
 */
export const doorFeatureNames = [
  'hour_rarity',
  'pair_seen_ln',
  'credential_new',
  'credential_elsewhere',
  'denied',
  'denials_60s',
  'denials_10min',
  'denied_credentials_10min',
  'history_ln',
] as const;

export interface AccessEvent {
  ts: number;
  granted: boolean;
  credential: string;
}

const HALF_LIFE_DAYS = 14;

/** Which doors of a site each credential has opened: shared by the site's doors. */
export class SiteCredentials {
  readonly #doors = new Map<string, Set<string>>();
  usedElsewhere(credential: string, door: string): boolean {
    const d = this.#doors.get(credential);
    return !!d && (d.size > 1 || !d.has(door));
  }
  record(credential: string, door: string): void {
    const d = this.#doors.get(credential) ?? new Set<string>();
    this.#doors.set(credential, d);
    d.add(door);
    if (this.#doors.size > 100_000) this.#doors.delete(this.#doors.keys().next().value!);
  }
}

export class DoorFeatures {
  /** Decayed counts of events per hour of day. */
  readonly #hours = new Float64Array(24);
  #total = 0;
  #lastTs = 0;
  readonly #pairs = new Map<string, number>();
  readonly #denials: { ts: number; credential: string }[] = [];
  readonly #hourOf: (ts: number) => number;

  readonly #site: SiteCredentials;
  readonly #door: string;

  /** `hourOf` gives the site's local hour (0-23) of a timestamp. */
  constructor(door: string, site: SiteCredentials, hourOf: (ts: number) => number = (ts) => new Date(ts).getHours()) {
    this.#door = door;
    this.#site = site;
    this.#hourOf = hourOf;
  }

  /** Features of this event against the door's past, then learns it. */
  push(e: AccessEvent): number[] {
    const h = this.#hourOf(e.ts);
    // Laplace-smoothed probability of this hour vs a uniform day: 0 = as usual as any hour, > 0 = rarer.
    const p = (this.#hours[h]! + 0.5) / (this.#total + 12);
    const hourRarity = Math.max(0, -Math.log(p * 24));
    const seen = this.#pairs.get(e.credential) ?? 0;
    while (this.#denials.length && e.ts - this.#denials[0]!.ts > 600_000) this.#denials.shift();
    const d60 = this.#denials.filter((d) => e.ts - d.ts <= 60_000).length + (e.granted ? 0 : 1);
    const d10 = this.#denials.length + (e.granted ? 0 : 1);
    const creds = new Set(this.#denials.map((d) => d.credential));
    if (!e.granted) creds.add(e.credential);
    const elsewhere = seen === 0 && this.#site.usedElsewhere(e.credential, this.#door) ? 1 : 0;
    const f = [hourRarity, Math.log1p(seen), seen === 0 ? 1 : 0, elsewhere, e.granted ? 0 : 1, d60, d10, creds.size, Math.log1p(this.#total)];
    this.#learn(e, h);
    return f;
  }

  #learn(e: AccessEvent, h: number): void {
    const days = Math.max(0, (e.ts - this.#lastTs) / 86_400_000);
    if (this.#lastTs && days > 0) {
      const k = Math.pow(0.5, days / HALF_LIFE_DAYS);
      for (let i = 0; i < 24; i++) this.#hours[i]! *= k;
      this.#total *= k;
    }
    this.#lastTs = Math.max(this.#lastTs, e.ts);
    if (e.granted) {
      this.#hours[h]! += 1;
      this.#total += 1;
      this.#pairs.set(e.credential, (this.#pairs.get(e.credential) ?? 0) + 1);
      this.#site.record(e.credential, this.#door);
      if (this.#pairs.size > 5000) this.#pairs.delete(this.#pairs.keys().next().value!); // bounded memory per door
    } else this.#denials.push({ ts: e.ts, credential: e.credential });
  }

  /** The door's learned profile. The site's credential map is rebuilt from every door's pairs. */
  snapshot(): DoorSnapshot {
    return { hours: [...this.#hours], total: this.#total, lastTs: this.#lastTs, pairs: [...this.#pairs], denials: this.#denials.map((d) => ({ ...d })) };
  }

  static restore(s: DoorSnapshot, door: string, site: SiteCredentials, hourOf?: (ts: number) => number): DoorFeatures {
    const f = new DoorFeatures(door, site, hourOf);
    f.#hours.set(s.hours);
    f.#total = s.total;
    f.#lastTs = s.lastTs;
    for (const [credential, n] of s.pairs) {
      f.#pairs.set(credential, n);
      site.record(credential, door);
    }
    f.#denials.push(...s.denials);
    return f;
  }
}

export interface DoorSnapshot {
  hours: number[];
  total: number;
  lastTs: number;
  pairs: [string, number][];
  denials: { ts: number; credential: string }[];
}

/** Words for an operator, and which alert the finding belongs to: a burst of refusals is a brute-force attempt. */
export function explainDoor(f: number[], hour?: number): { reason: string; type: 'brute_force' | 'access_anomaly' } {
  const [hourRarity, , isNew, elsewhere, denied, d60, d10, creds] = f as [number, number, number, number, number, number, number, number];
  const parts: string[] = [];
  if (d60 >= 3 || d10 >= 5) parts.push(`${d60} denials in 60 s, ${d10} in 10 min, ${creds} credential${creds === 1 ? '' : 's'}`);
  if (hourRarity >= 2)
    parts.push(`${denied ? 'attempt' : 'use'} at an hour this door is rarely used${hour !== undefined ? ` (${String(hour).padStart(2, '0')}:00)` : ''}`);
  if (isNew && !denied) parts.push(elsewhere ? 'credential of other doors, never used at this one' : 'credential never used at this door before');
  const type = d60 >= 3 || d10 >= 5 ? 'brute_force' : 'access_anomaly';
  return { reason: parts.length ? parts.join('; ') : 'unusual access pattern', type };
}
