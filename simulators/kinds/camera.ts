/**
 * Smart camera: health telemetry, analytics events driven by occupancy, and
 * real JPEG snapshots; tamper incidents change the frames (and the on-board
 * analytics notice some of them, as real cameras do).
 */
import { SimDevice, type SimOptions } from '../device.ts';
import type { IncidentType } from '../labels.ts';
import { daily, occupancy, round } from '../random.ts';
import { SceneRenderer, type Tamper } from '../scene.ts';
import type { CrowdIncident, CrowdZone } from '../crowd.ts';

const tamperOf: Partial<Record<IncidentType, Tamper>> = {
  camera_covered: 'covered',
  camera_defocused: 'defocused',
  camera_moved: 'moved',
  camera_glare: 'glare',
  camera_dark: 'dark',
};

export class CameraSim extends SimDevice {
  readonly kind = 'camera';
  get incidents(): readonly IncidentType[] {
    return [
      'camera_covered',
      'camera_defocused',
      'camera_moved',
      'camera_glare',
      'camera_dark',
      'intrusion',
      'loitering',
      'device_offline',
      ...(this.crowd ? (['crowd_surge', 'crowd_dispersal'] as const) : []),
    ];
  }
  /** The crowd of the zone this camera watches (simulators/crowd.ts) and which of its cameras this is: it then counts it every 15 s. */
  crowd?: { zone: CrowdZone; camera: number };
  readonly #scene: SceneRenderer;
  /** The analytics region its events name (a zone of the site, when it has that name). */
  zone: string;
  #tamper: Tamper = 'none';

  constructor(opts: SimOptions) {
    super(opts);
    this.#scene = new SceneRenderer(opts.deviceId, opts.seed);
    this.zone = `concourse-${this.rng.int(1, 3)}`;
  }

  get people(): number {
    return Math.round(occupancy(this.now()) * 30 * this.rng.range(0.7, 1.3));
  }

  protected telemetry(): Record<string, unknown> {
    const busy = occupancy(this.now());
    return {
      fps: round(this.#tamper === 'none' ? this.rng.gauss(25, 0.2) : this.rng.gauss(24.8, 0.3), 1),
      bitrate_kbps: Math.round(2500 + 2500 * busy + this.rng.gauss(0, 150)),
      temperature_c: round(38 + 4 * daily(this.now(), 15) + this.rng.gauss(0, 0.3), 1),
      storage_free_pct: 63,
      stream_ok: true,
    };
  }

  protected override schedule(): void {
    this.every(60_000, () => this.sendSnapshot());
    this.every(15_000, async () => {
      if (this.#tamper !== 'none') return;
      const people = this.people;
      if (people > 0 && this.rng.chance(0.6)) await this.publish('event', { type: 'motion', zone: this.zone, confidence: round(this.rng.range(0.6, 0.99)) });
      if (this.crowd)
        await this.publish('event', { type: 'crowd_count', zone: this.crowd.zone.spec.zone, count: this.crowd.zone.reported(this.now(), this.crowd.camera) });
      else if (this.rng.chance(0.25)) await this.publish('event', { type: 'crowd_count', zone: this.zone, count: people });
      if (this.rng.chance(0.01))
        await this.publish('event', { type: 'loitering', zone: this.zone, confidence: round(this.rng.range(0.5, 0.9)), duration_s: this.rng.int(60, 300) });
    });
  }

  #preset = 1;

  protected override async command(name: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (name === 'snapshot') {
      await this.sendSnapshot();
      return { snapshot: 'published' };
    }
    if (name === 'ptz_preset') {
      this.#preset = Number(params['preset']);
      return { preset: this.#preset };
    }
    return super.command(name, params);
  }

  async sendSnapshot(): Promise<void> {
    const jpeg = await this.#scene.frame(this.people, this.#tamper);
    await this.publish('snapshot', jpeg, { qos: 1 });
  }

  override async incident(type: IncidentType): Promise<void> {
    if ((type === 'crowd_surge' || type === 'crowd_dispersal') && this.crowd) {
      const z = this.crowd.zone;
      const minutes = type === 'crowd_surge' ? 16 : 20;
      this.label(
        type,
        (minutes * 60_000) / this.speed,
        `${z.spec.zone}: ${type === 'crowd_surge' ? 'a late train unloads' : 'people flee'} (${z.count(this.now())} people)`,
      );
      z.start(type as CrowdIncident, this.now(), this.timeScale);
      await this.sleep(minutes * 60_000);
      return;
    }
    if (type === 'intrusion') {
      // Someone walks into the watched region and stays a minute: a detection every 5 s.
      this.label('intrusion', 60_000 / this.speed, `person in ${this.zone}`);
      for (let t = 0; t < 60_000; t += 5_000) {
        const x = round(this.rng.range(0.1, 0.7), 2);
        await this.publish('event', {
          type: 'intrusion',
          zone: this.zone,
          confidence: round(this.rng.range(0.75, 0.95)),
          object: 'person',
          bbox: [x, 0.3, 0.12, 0.4],
        });
        await this.sleep(5_000);
      }
      return;
    }
    if (type === 'loitering') {
      // Someone lingers for 15 minutes; the camera reports the time so far every minute.
      this.label('loitering', 900_000 / this.speed, `loitering in ${this.zone}`);
      for (let s = 60; s <= 900; s += 60) {
        await this.publish('event', { type: 'loitering', zone: this.zone, confidence: round(this.rng.range(0.7, 0.9)), duration_s: s });
        await this.sleep(60_000);
      }
      return;
    }
    const tamper = tamperOf[type];
    if (!tamper) return super.incident(type);
    const durationMs = 120_000;
    this.label(type, durationMs / this.speed);
    this.#tamper = tamper;
    await this.sendSnapshot();
    // Covered and defocused lenses are what on-board tamper analytics notice; a moved camera is not.
    if (tamper === 'covered' || tamper === 'defocused') {
      await this.publish('event', { type: 'tamper', reason: tamper, active: true });
    }
    await this.sleep(durationMs / 2);
    await this.sendSnapshot();
    await this.sleep(durationMs / 2);
    this.#tamper = 'none';
    if (tamper === 'covered' || tamper === 'defocused') {
      await this.publish('event', { type: 'tamper', reason: tamper, active: false });
    }
    await this.sendSnapshot();
  }
}
