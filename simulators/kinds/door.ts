/**
 * Door access controller: badge, face and PIN traffic that follows rush hours,
 * door contact and exit button; incidents are forced doors, doors held open and
 * brute-force badge attempts.
 */
import { SimDevice, type SimOptions } from '../device.ts';
import type { IncidentType } from '../labels.ts';
import { occupancy } from '../random.ts';

type Cred = { type: 'card' | 'face' | 'pin'; id: string };

export class DoorSim extends SimDevice {
  readonly kind = 'door';
  readonly incidents: readonly IncidentType[] = ['forced_door', 'door_held_open', 'brute_force', 'device_offline'];
  readonly #staff: Cred[];
  #open = false;
  #busy = false;

  constructor(opts: SimOptions) {
    super(opts);
    this.#staff = Array.from({ length: this.rng.int(15, 40) }, (_, i) => ({
      type: this.rng.pick(['card', 'card', 'card', 'face', 'pin'] as const),
      id: `${this.id}-u${String(i).padStart(3, '0')}`,
    }));
  }

  /** Unlocked by a command until then (device time). */
  #unlockedUntil = 0;

  protected telemetry(): Record<string, unknown> {
    return { door: this.#open ? 'open' : 'closed', locked: !this.#open && this.now() >= this.#unlockedUntil, mains_ok: true };
  }

  protected override async command(name: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    switch (name) {
      case 'lock':
        this.#unlockedUntil = 0;
        break;
      case 'unlock':
        this.#unlockedUntil = this.now() + Number(params['seconds']) * 1000;
        break;
      case 'hold_open_release':
        break;
      default:
        return super.command(name, params);
    }
    await this.publishTelemetry();
    // The lock's own state (engaged: it locks whenever the door is shut), not whether a passer-by has the door open right now.
    const released = this.now() < this.#unlockedUntil;
    return { lock: released ? 'released' : 'engaged', ...(released ? { until: new Date(this.#unlockedUntil).toISOString() } : {}) };
  }

  protected override schedule(): void {
    // Passage attempts: up to one every ~20 s at peak, rare at night.
    this.every(20_000, async () => {
      if (this.#busy || !this.rng.chance(occupancy(this.now()))) return;
      if (this.rng.chance(0.03)) {
        await this.publish('event', {
          type: 'access_denied',
          credential: this.rng.pick(this.#staff),
          reason: this.rng.pick(['expired', 'out_of_schedule', 'wrong_pin'] as const),
        });
        return;
      }
      if (this.rng.chance(0.15)) await this.publish('event', { type: 'exit_request' });
      else await this.publish('event', { type: 'access_granted', credential: this.rng.pick(this.#staff), direction: this.rng.pick(['in', 'out'] as const) });
      await this.#passage(this.rng.range(3000, 8000));
    });
  }

  async #passage(openMs: number): Promise<void> {
    this.#open = true;
    await this.publish('event', { type: 'door_opened' });
    await this.sleep(openMs);
    this.#open = false;
    await this.publish('event', { type: 'door_closed' });
  }

  override async incident(type: IncidentType): Promise<void> {
    this.#busy = true;
    try {
      switch (type) {
        case 'forced_door': {
          this.label('forced_door', 15_000 / this.speed, 'opened without a valid credential');
          this.#open = true;
          await this.publish('event', { type: 'door_opened' });
          await this.publish('event', { type: 'forced_open' });
          await this.sleep(15_000);
          this.#open = false;
          await this.publish('event', { type: 'door_closed' });
          return;
        }
        case 'door_held_open': {
          this.label('door_held_open', 60_000 / this.speed, 'propped open after a valid badge');
          await this.publish('event', { type: 'access_granted', credential: this.rng.pick(this.#staff), direction: 'in' });
          this.#open = true;
          await this.publish('event', { type: 'door_opened' });
          await this.sleep(30_000);
          await this.publish('event', { type: 'held_open', duration_s: 30 });
          await this.sleep(30_000);
          this.#open = false;
          await this.publish('event', { type: 'door_closed' });
          return;
        }
        case 'brute_force': {
          const attempts = this.rng.int(8, 14);
          this.label('brute_force', (attempts * 2500) / this.speed, `${attempts} denied attempts with cloned/guessed credentials`);
          for (let i = 0; i < attempts; i++) {
            const pin = this.rng.chance(0.4);
            await this.publish('event', {
              type: 'access_denied',
              credential: pin ? { type: 'pin', id: `slot-${this.rng.int(0, 9)}` } : { type: 'card', id: `unknown-${this.rng.int(100000, 999999)}` },
              reason: pin ? 'wrong_pin' : 'unknown_credential',
            });
            await this.sleep(2500);
          }
          return;
        }
        default:
          return super.incident(type);
      }
    } finally {
      this.#busy = false;
    }
  }
}
