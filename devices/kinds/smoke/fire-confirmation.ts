/**
 * Fire the way fire panels decide it: two stages. A signal from the smoke model alone is a
 * pre-alarm (`fire_suspected`, major: somebody should look); `fire` (critical, the 1-3-5 clock)
 * needs a second criterion, as EN 54-2 §7.12 ("dependencies on more than one alarm signal", types
 * B and C) and NFPA 72 alarm verification do:
 * - heat: the same detector's temperature rose by `heatRiseC` within `heatWindowS` (a flaming fire
 *   heats the ceiling by tens of degrees; cooking, a toaster or a vape by a degree or two);
 * - a second detector in the same zone suspects a fire within `dependencyWindowS` (type C);
 * - the obscuration and heat rules and the detector's own alarm (./rules.ts) raise `fire`
 *   directly, as a fire panel does on its smoke and heat thresholds.
 * Cigarette and vape fumes, frying and toast move eCO2 and VOCs, sometimes obscuration, far less
 * often temperature: at most a pre-alarm, never a critical fire on the model alone.
 */
import { z } from 'zod';
import { defineRule, type Observation, type Signal } from '../../rules.ts';

export interface FireConfirmSettings {
  heatRiseC: number;
  heatWindowS: number;
  dependencyWindowS: number;
}

export const defaultFireConfirm: FireConfirmSettings = { heatRiseC: 6, heatWindowS: 300, dependencyWindowS: 300 };

interface Suspect {
  site: string;
  zone: string | null;
  kind: string;
  since: number;
  reason: string;
  confirmed?: string;
}

export class FireConfirmation {
  readonly name = 'fire-confirmation';
  readonly #sink: (c: Signal) => void;
  readonly #zoneOf: (deviceId: string) => string | null;
  readonly #s: FireConfirmSettings;
  /** Recent temperatures per smoke detector (device time), for the heat criterion. */
  readonly #temps = new Map<string, { ts: number; t: number }[]>();
  readonly #suspects = new Map<string, Suspect>();

  constructor(sink: (c: Signal) => void, zoneOf: (deviceId: string) => string | null, settings: Partial<FireConfirmSettings> = {}) {
    this.#sink = sink;
    this.#zoneOf = zoneOf;
    this.#s = { ...defaultFireConfirm, ...settings };
  }

  /** Every `fire_suspected` condition (raise and clear) comes through here. */
  suspicion(c: Signal): void {
    if (c.type !== 'fire_suspected') return;
    const prev = this.#suspects.get(c.deviceId);
    if (!c.active) {
      if (prev?.confirmed) this.#emit(c.deviceId, prev, false, 'the smoke model no longer suspects a fire', c.ts);
      this.#suspects.delete(c.deviceId);
      return;
    }
    if (prev) return;
    const s: Suspect = { site: c.site, zone: this.#zoneOf(c.deviceId), kind: c.kind, since: c.ts, reason: c.reason };
    this.#suspects.set(c.deviceId, s);
    const heat = this.#heat(c.deviceId);
    if (heat) return this.#confirm(c.deviceId, s, heat, c.ts);
    // Type C dependency: another detector of the zone suspects a fire too, recently.
    if (s.zone === null) return;
    for (const [id, o] of this.#suspects) {
      if (id === c.deviceId || o.site !== s.site || o.zone !== s.zone || Math.abs(c.ts - o.since) > this.#s.dependencyWindowS * 1000) continue;
      this.#confirm(c.deviceId, s, `a second detector of zone ${s.zone} (${id}) also suspects a fire`, c.ts);
      if (!o.confirmed) this.#confirm(id, o, `a second detector of zone ${s.zone} (${c.deviceId}) also suspects a fire`, c.ts);
      return;
    }
  }

  accept(m: Observation): void {
    if (m.channel !== 'telemetry' || typeof m.data['temperature_c'] !== 'number') return;
    const list = this.#temps.get(m.deviceId) ?? [];
    this.#temps.set(m.deviceId, list);
    list.push({ ts: m.ts, t: m.data['temperature_c'] });
    while (list.length && m.ts - list[0]!.ts > this.#s.heatWindowS * 1000) list.shift();
    const s = this.#suspects.get(m.deviceId);
    if (!s || s.confirmed) return;
    const heat = this.#heat(m.deviceId);
    if (heat) this.#confirm(m.deviceId, s, heat, m.ts);
  }

  #heat(deviceId: string): string | undefined {
    const list = this.#temps.get(deviceId);
    if (!list?.length) return undefined;
    const now = list.at(-1)!;
    const low = list.reduce((a, b) => (b.t < a.t ? b : a));
    const rise = now.t - low.t;
    return rise >= this.#s.heatRiseC ? `temperature +${rise.toFixed(1)} °C in ${Math.max(1, Math.round((now.ts - low.ts) / 60_000))} min` : undefined;
  }

  #confirm(deviceId: string, s: Suspect, why: string, ts: number): void {
    s.confirmed = why;
    this.#emit(deviceId, s, true, `fire confirmed: ${why}; ${s.reason}`, ts);
  }

  #emit(deviceId: string, s: Suspect, active: boolean, reason: string, ts: number): void {
    this.#sink({
      site: s.site,
      deviceId,
      kind: s.kind,
      type: 'fire',
      active,
      reason,
      evidence: { confirmedBy: s.confirmed, suspectedSince: s.since },
      ts,
      source: 'fire-confirmation',
    });
  }
}

/** The confirmation as a rule of the smoke kind: it reads the kind's temperatures and hears every fire_suspected condition. */
export const fireConfirmationRule = defineRule({
  name: 'fire-confirmation',
  listens: ['fire_suspected'],
  settings: z.object({
    fireConfirmHeatRiseC: z
      .number()
      .min(0.5)
      .default(defaultFireConfirm.heatRiseC)
      .describe(
        "A model-only fire signal (fire_suspected, major) becomes fire (critical) when the same detector's temperature rose this much within fireConfirmWindowS ...",
      ),
    fireConfirmWindowS: z
      .number()
      .min(10)
      .default(defaultFireConfirm.heatWindowS)
      .describe(
        '... seconds: a rate of rise (6 °C in 5 min, 1.2 °C/min), above a room or a sensor warming up (session A of the smoke data: 0.6 °C/min), below any flaming fire.',
      ),
    fireDependencyWindowS: z
      .number()
      .min(1)
      .default(defaultFireConfirm.dependencyWindowS)
      .describe('... or when a second detector of the same zone suspects a fire within this many seconds (EN 54-2 type C dependency).'),
  }),
  create(ctx) {
    const f = new FireConfirmation(ctx.emit, ctx.zoneOf, {
      heatRiseC: ctx.settings.fireConfirmHeatRiseC,
      heatWindowS: ctx.settings.fireConfirmWindowS,
      dependencyWindowS: ctx.settings.fireDependencyWindowS,
    });
    return { accept: (m) => f.accept(m), condition: (c) => f.suspicion(c) };
  },
});
