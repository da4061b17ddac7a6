/**
 * Smoke alarm: indoor climate with a daily cycle and occupancy-driven eCO2;
 * a fire raises temperature, eCO2, TVOC and obscuration and dries the air
 * (the shape of the fire sessions in ../shared/datasets/smoke), until the
 * alarm trips and later clears.
 */
import { SimDevice, type SimOptions } from '../device.ts';
import type { IncidentType } from '../labels.ts';
import { daily, occupancy, round } from '../random.ts';

export class SmokeSim extends SimDevice {
  readonly kind = 'smoke';
  readonly incidents: readonly IncidentType[] = ['fire', 'device_offline'];
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
    const temperature = this.#base + 1.5 * daily(t, 15) + this.rng.gauss(0, 0.08) + 38 * f ** 1.5;
    const humidity = 48 - 6 * daily(t, 15) + this.rng.gauss(0, 0.4) - 25 * f;
    const eco2 = 420 + 500 * occupancy(t) + this.rng.gauss(0, 15) + 18_000 * f ** 2;
    const obscuration = Math.max(0, this.rng.gauss(0.02, 0.01) + 12 * f ** 2);
    return {
      temperature_c: round(temperature, 2),
      humidity_pct: round(Math.min(100, Math.max(2, humidity)), 1),
      eco2_ppm: Math.round(Math.max(400, eco2)),
      tvoc_ppb: Math.round(Math.max(0, 60 + 200 * occupancy(t) + this.rng.gauss(0, 10) + 30_000 * f ** 2)),
      obscuration_pct_m: round(obscuration, 3),
      battery_pct: round(this.#battery, 1),
    };
  }

  protected override schedule(): void {
    // Weekly self-test, compressed like everything else.
    this.every(7 * 24 * 3600_000, () => this.publish('event', { type: 'test', result: 'pass' }));
  }

  override async incident(type: IncidentType): Promise<void> {
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
