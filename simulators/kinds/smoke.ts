/**
 * Smoke alarm: indoor climate with a daily cycle and occupancy-driven eCO2;
 * a fire raises temperature, eCO2, TVOC and obscuration and dries the air
 * (the shape of the fire sessions in ../shared/datasets/smoke), until the
 * alarm trips and later clears. A smouldering fire builds smoke for many minutes with
 * little heat or gas. Nuisances (labelled, so detectors can be scored on them) are what
 * sets off real detectors without a fire: vape or cigarette fumes (eCO2 ×2–8 within a
 * minute, VOCs, a brief aerosol), frying (a degree or two, steam, eCO2 ×1.5–2 for ten
 * minutes) and burnt toast (a short burst of smoke and gas).
 */
import { SimDevice, type SimOptions } from '../device.ts';
import type { IncidentType } from '../labels.ts';
import { daily, occupancy, round } from '../random.ts';

export class SmokeSim extends SimDevice {
  readonly kind = 'smoke';
  readonly incidents: readonly IncidentType[] = ['fire', 'smoulder', 'vape', 'cooking', 'toaster', 'device_offline'];
  /** What a nuisance or a smoulder adds to the room, on top of the climate. */
  #extra = { temperature: 0, humidity: 0, eco2Factor: 1, tvoc: 0, obscuration: 0 };
  readonly #base: number;
  #battery: number;
  /** 0 = no fire, rising to 1 at full development. */
  #fire = 0;
  #alarm = false;

  constructor(opts: SimOptions) {
    super(opts);
    this.#base = this.rng.range(19.5, 24);
    this.#battery = this.rng.range(55, 100);
  }

  protected telemetry(): Record<string, unknown> {
    const t = this.now();
    const f = this.#fire;
    this.#battery = Math.max(0, this.#battery - 0.0005);
    const x = this.#extra;
    const temperature = this.#base + 1.5 * daily(t, 15) + this.rng.gauss(0, 0.08) + 38 * f ** 1.5 + x.temperature;
    const humidity = 48 - 6 * daily(t, 15) + this.rng.gauss(0, 0.4) - 25 * f + x.humidity;
    const eco2 = (420 + 500 * occupancy(t) + this.rng.gauss(0, 15)) * x.eco2Factor + 18_000 * f ** 2;
    const obscuration = Math.max(0, this.rng.gauss(0.02, 0.01) + 12 * f ** 2 + x.obscuration);
    return {
      temperature_c: round(temperature, 2),
      humidity_pct: round(Math.min(100, Math.max(2, humidity)), 1),
      eco2_ppm: Math.round(Math.max(400, eco2)),
      tvoc_ppb: Math.round(Math.max(0, 60 + 200 * occupancy(t) + this.rng.gauss(0, 10) + 30_000 * f ** 2 + x.tvoc)),
      obscuration_pct_m: round(obscuration, 3),
      battery_pct: round(this.#battery, 1),
    };
  }

  /** Sounder silenced until then (device time); the detector keeps sensing. */
  #hushedUntil = 0;

  protected override async command(name: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (name === 'hush') {
      this.#hushedUntil = this.now() + Number(params['seconds']) * 1000;
      return { hushedUntil: new Date(this.#hushedUntil).toISOString() };
    }
    if (name === 'self_test') {
      await this.publish('event', { type: 'test', result: 'pass' });
      return { result: 'pass' };
    }
    return super.command(name, params);
  }

  protected override schedule(): void {
    // Weekly self-test, compressed like everything else.
    this.every(7 * 24 * 3600_000, () => this.publish('event', { type: 'test', result: 'pass' }));
  }

  /** Play a profile over `minutes` of telemetry periods: `at(p)` gives the room's extra at progress p (0..1). */
  async #profile(type: IncidentType, minutes: number, note: string, at: (p: number) => Partial<SmokeSim['extra']>): Promise<void> {
    const periodMs = this.def.telemetryPeriodS * 1000;
    const steps = Math.max(2, Math.round((minutes * 60_000) / periodMs));
    this.label(type, (steps * periodMs) / this.speed, note);
    for (let i = 1; i <= steps; i++) {
      this.#extra = { temperature: 0, humidity: 0, eco2Factor: 1, tvoc: 0, obscuration: 0, ...at(i / steps) };
      await this.publishTelemetry();
      await this.sleep(periodMs);
    }
    this.#extra = { temperature: 0, humidity: 0, eco2Factor: 1, tvoc: 0, obscuration: 0 };
  }

  get extra() {
    return this.#extra;
  }

  override async incident(type: IncidentType): Promise<void> {
    // Up fast, down slowly: the shape of a puff or a burst in a room.
    const burst = (p: number, peakAt: number) => (p <= peakAt ? p / peakAt : Math.exp(-(p - peakAt) * 4));
    switch (type) {
      case 'vape': {
        const k = this.rng.range(2, 8);
        return this.#profile('vape', 5, `vape/cigarette fumes, eCO2 ×${k.toFixed(1)}`, (p) => ({
          eco2Factor: 1 + (k - 1) * burst(p, 0.2),
          tvoc: 4000 * burst(p, 0.2),
          obscuration: this.rng.range(0.3, 1.2) * burst(p, 0.15),
          humidity: 2 * burst(p, 0.2),
        }));
      }
      case 'cooking': {
        const k = this.rng.range(1.5, 2);
        const dt = this.rng.range(1, 3);
        return this.#profile('cooking', 12, `frying: +${dt.toFixed(1)} °C, eCO2 ×${k.toFixed(1)}, steam`, (p) => ({
          temperature: dt * Math.min(1, p * 3),
          humidity: 8 * Math.min(1, p * 4),
          eco2Factor: 1 + (k - 1) * Math.min(1, p * 2),
          tvoc: 1500 * Math.min(1, p * 2),
          obscuration: 0.4 * Math.min(1, p * 2),
        }));
      }
      case 'toaster':
        return this.#profile('toaster', 3, 'burnt toast', (p) => ({
          temperature: 0.5 * burst(p, 0.3),
          eco2Factor: 1 + 0.6 * burst(p, 0.3),
          tvoc: 2500 * burst(p, 0.3),
          obscuration: 2 * burst(p, 0.3),
        }));
      case 'smoulder':
        // 20 minutes of slowly building smoke, +0–0.5 °C, eCO2 ×1.5–3: what the model alone misses.
        return this.#profile('smoulder', 20, 'smouldering: smoke builds for 20 min with little heat or gas', (p) => ({
          temperature: 0.5 * p,
          eco2Factor: 1 + 1.5 * p,
          tvoc: 3000 * p,
          obscuration: 4.5 * p ** 1.2,
        }));
    }
    if (type !== 'fire') return super.incident(type);
    const steps = 24; // 24 telemetry periods ≈ 4 minutes of real time
    const periodMs = this.def.telemetryPeriodS * 1000;
    this.label('fire', (steps * periodMs * 1.6) / this.speed, 'smouldering then flaming; alarm at ~4 %/m');
    for (let i = 1; i <= steps; i++) {
      this.#fire = Math.min(1, (i / steps) ** 1.3);
      await this.publishTelemetry();
      if (!this.#alarm && 12 * this.#fire ** 2 > 4) {
        this.#alarm = true;
        await this.publish('event', { type: 'alarm', active: true, source: 'smoke' });
      }
      await this.sleep(periodMs);
    }
    // Extinguished: readings fall back, the alarm clears.
    for (let i = steps; i >= 0; i -= 4) {
      this.#fire = (i / steps) ** 1.3 * 0.5;
      await this.sleep(periodMs);
    }
    this.#fire = 0;
    if (this.#alarm) {
      this.#alarm = false;
      await this.publish('event', { type: 'alarm', active: false, source: 'smoke' });
    }
  }
}
