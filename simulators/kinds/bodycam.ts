/**
 * 5G body-worn camera on a patrolling officer: IMU windows of walking
 * (a ~1.8 Hz gait on top of gravity), a GPS track around the site (a beat within
 * ~300 m of its origin), battery and radio; incidents are a fall (impact, then
 * lying still) and the SOS button. A dispatch is shown to the officer, who
 * answers after a few seconds (most accept; some decline; a few never answer)
 * and, having accepted, hurries to the scene until stood down.
 */
import { SimDevice, type SimOptions } from '../device.ts';
import type { IncidentType } from '../labels.ts';
import { occupancy, round } from '../random.ts';
import { SceneRenderer } from '../scene.ts';

const SITE_ORIGINS: Record<string, [number, number]> = {};
const originFor = (site: string, rng: { range(a: number, b: number): number }): [number, number] =>
  (SITE_ORIGINS[site] ??= [round(22.53 + rng.range(0, 0.05), 5), round(114.05 + rng.range(0, 0.05), 5)]);

type Posture = 'walking' | 'impact' | 'lying' | 'standing';

/** How the officer answers a dispatch: `auto` draws from the device's seeded random (80 % accept, 12 % decline, 8 % no answer). */
export type DispatchAnswer = 'auto' | 'accept' | 'decline' | 'ignore';

/** Metres per degree of latitude on the mean Earth radius (and of longitude at the equator). */
const M_PER_DEG = (6_371_008.8 * Math.PI) / 180;

export class BodycamSim extends SimDevice {
  readonly kind = 'bodycam';
  readonly incidents: readonly IncidentType[] = ['man_down', 'sos', 'device_offline'];
  readonly #origin: [number, number];
  #pos: [number, number];
  #heading: number;
  #battery: number;
  #posture: Posture = 'walking';
  #recording = false;
  #phase = 0;
  readonly rateHz = 25;
  #scene?: SceneRenderer;
  /** Where the officer is heading after accepting a dispatch. */
  #target?: { alertId: string; lat: number; lon: number };
  /** Walking the beat (true) or standing where placed. */
  patrol = true;
  dispatchAnswer: DispatchAnswer = 'auto';
  /** Hurrying to a scene, m/s. */
  respondSpeedMps = 2;
  /** Dispatches shown to this officer and what was answered, for tests and the demo. */
  readonly dispatches: { alertId: string; answer: 'accepted' | 'declined' | 'none' }[] = [];
  /** Alerts the officer was released from: a dispatch still on the screen for one of them is not answered. */
  readonly #released = new Set<string>();

  constructor(opts: SimOptions) {
    super(opts);
    this.#origin = opts.origin ? [opts.origin.lat, opts.origin.lon] : originFor(opts.site, this.rng);
    this.#pos = [this.#origin[0] + this.rng.range(-0.001, 0.001), this.#origin[1] + this.rng.range(-0.001, 0.001)];
    this.#heading = this.rng.range(0, 360);
    this.#battery = this.rng.range(60, 100);
  }

  /** Put the officer at a place (they stay there unless `patrol` or a dispatch moves them). */
  placeAt(lat: number, lon: number): void {
    this.#pos = [lat, lon];
  }

  get position(): { lat: number; lon: number } {
    return { lat: this.#pos[0], lon: this.#pos[1] };
  }

  /** The alert the officer is heading to, if any. */
  get heading(): string | undefined {
    return this.#target?.alertId;
  }

  /** One second of IMU samples for the current posture: accel in g, gyro in °/s, device frame (z up when upright). */
  imuWindow(posture: Posture = this.#posture): { rate_hz: number; accel_g: number[][]; gyro_dps: number[][] } {
    const n = this.rateHz;
    const accel: number[][] = [];
    const gyro: number[][] = [];
    for (let i = 0; i < n; i++) {
      const t = this.#phase + i / n;
      const g = (sd: number) => this.rng.gauss(0, sd);
      if (posture === 'walking') {
        const step = Math.sin(2 * Math.PI * 1.8 * t);
        accel.push([0.08 * Math.sin(2 * Math.PI * 0.9 * t) + g(0.03), 0.12 * step + g(0.03), 1 + 0.22 * step + g(0.04)]);
        gyro.push([12 * step + g(3), 6 * Math.cos(2 * Math.PI * 0.9 * t) + g(3), g(4)]);
      } else if (posture === 'impact') {
        // Free fall (~0.3 g) for ~0.3 s, a 3-6 g impact, then settling on the side.
        const f = i / n;
        if (f < 0.3) {
          accel.push([g(0.1), g(0.1), 0.3 + g(0.1)]);
          gyro.push([g(80) + 150, g(80), g(40)]);
        } else if (f < 0.42) {
          const peak = this.rng.range(3, 6);
          accel.push([peak * 0.8 + g(0.3), g(0.8), peak * 0.5 + g(0.3)]);
          gyro.push([g(200), g(200), g(150)]);
        } else {
          accel.push([0.95 + g(0.08), g(0.05), 0.2 + g(0.08)]);
          gyro.push([g(10), g(10), g(10)]);
        }
      } else if (posture === 'lying') {
        accel.push([0.97 + g(0.01), 0.05 + g(0.01), 0.2 + g(0.01)]);
        gyro.push([g(0.6), g(0.6), g(0.6)]);
      } else {
        accel.push([g(0.02), g(0.02), 1 + g(0.02)]);
        gyro.push([g(1.5), g(1.5), g(1.5)]);
      }
    }
    this.#phase += 1;
    const r3 = (v: number[]) => v.map((x) => round(x, 3));
    return { rate_hz: n, accel_g: accel.map(r3), gyro_dps: gyro.map(r3) };
  }

  protected override async command(name: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    switch (name) {
      case 'start_recording':
        if (!this.#recording) {
          this.#recording = true;
          await this.publish('event', { type: 'recording_started', trigger: 'remote' });
        }
        return { recording: true };
      case 'snapshot': {
        await this.sendSnapshot();
        return { snapshot: 'published' };
      }
      case 'start_stream':
        return { url: `rtsp://${this.id}.cams.example.invalid:8554/live` };
      case 'dispatch': {
        // Shown on the camera's screen at once; the officer's answer follows as an event.
        void this.#answerDispatch(params as { alertId: string; lat: number; lon: number; distanceM: number });
        return { shown: true };
      }
      case 'stand_down':
        this.#released.add(String(params['alertId']));
        if (this.#target?.alertId === params['alertId']) this.#target = undefined;
        return { released: true };
      case 'locate': {
        const t = this.telemetry();
        await this.publish('telemetry', t, { qos: 0 });
        return { gps: t['gps'] };
      }
      default:
        return super.command(name, params);
    }
  }

  async #answerDispatch(p: { alertId: string; lat: number; lon: number; distanceM: number }): Promise<void> {
    const draw = this.rng.next();
    const answer = this.dispatchAnswer === 'auto' ? (draw < 0.8 ? 'accept' : draw < 0.92 ? 'decline' : 'ignore') : this.dispatchAnswer;
    if (answer === 'ignore') {
      this.dispatches.push({ alertId: p.alertId, answer: 'none' });
      return;
    }
    await this.sleep(this.rng.range(2_000, 8_000)); // reading the screen, looking around
    if (this.#released.has(p.alertId)) return;
    if (answer === 'decline' || this.#target) {
      this.dispatches.push({ alertId: p.alertId, answer: 'declined' });
      await this.publish('event', {
        type: 'dispatch_declined',
        alertId: p.alertId,
        reason: this.#target ? 'busy' : p.distanceM > 1500 ? 'out_of_range' : 'busy',
      });
      return;
    }
    this.dispatches.push({ alertId: p.alertId, answer: 'accepted' });
    this.#target = { alertId: p.alertId, lat: p.lat, lon: p.lon };
    this.#posture = 'walking';
    await this.publish('event', { type: 'dispatch_accepted', alertId: p.alertId });
  }

  /** Towards the scene at `respondSpeedMps` for one report period; true once there. */
  #approach(): boolean {
    const t = this.#target!;
    const cos = Math.cos((this.#pos[0] * Math.PI) / 180);
    const north = (t.lat - this.#pos[0]) * M_PER_DEG;
    const east = (t.lon - this.#pos[1]) * M_PER_DEG * cos;
    const left = Math.hypot(north, east);
    const step = this.respondSpeedMps * (this.telemetryPeriodMs / 1000);
    if (left <= step) {
      this.#pos = [t.lat, t.lon];
      return true;
    }
    this.#heading = ((Math.atan2(east, north) * 180) / Math.PI + 360) % 360;
    this.#pos = [this.#pos[0] + (north / left) * (step / M_PER_DEG), this.#pos[1] + (east / left) * (step / (M_PER_DEG * cos))];
    return false;
  }

  protected telemetry(): Record<string, unknown> {
    let speed = this.#posture === 'walking' && this.patrol ? 1.3 : 0;
    if (this.#target && this.#posture !== 'lying' && this.#posture !== 'impact') {
      const there = this.#approach();
      this.#posture = there ? 'standing' : 'walking';
      speed = there ? 0 : this.respondSpeedMps;
    } else if (this.#posture === 'walking' && this.patrol) {
      this.#heading = (this.#heading + this.rng.gauss(0, 15) + 360) % 360;
      const step = 1.3 * this.def.telemetryPeriodS; // metres walked
      const rad = (this.#heading * Math.PI) / 180;
      this.#pos = [
        this.#pos[0] + (step * Math.cos(rad)) / 111_320,
        this.#pos[1] + (step * Math.sin(rad)) / (111_320 * Math.cos((this.#pos[0] * Math.PI) / 180)),
      ];
      // Stay within ~300 m of the site.
      if (Math.hypot(this.#pos[0] - this.#origin[0], this.#pos[1] - this.#origin[1]) > 0.003) this.#heading = (this.#heading + 180) % 360;
    } else if (this.#posture === 'standing' && !this.#target && this.patrol) {
      this.#posture = 'walking'; // stood down: back to the beat
    }
    this.#battery = Math.max(0, this.#battery - 0.002);
    const imu = this.imuWindow();
    if (this.#posture === 'impact') this.#posture = 'lying';
    return {
      imu,
      recording: this.#recording,
      gps: {
        lat: round(this.#pos[0], 6),
        lon: round(this.#pos[1], 6),
        accuracy_m: round(this.rng.range(3, 8), 1),
        speed_mps: speed,
        heading_deg: round(this.#heading, 1),
      },
      battery_pct: round(this.#battery, 1),
      signal: { network: '5g', rsrp_dbm: Math.round(this.rng.gauss(-92, 5)), sinr_db: round(this.rng.gauss(14, 3), 1) },
      officer: `officer-${this.id}`,
    };
  }

  protected override schedule(): void {
    // Evidence stills every 5 minutes (the video itself goes over the 5G uplink, not MQTT).
    this.every(300_000, () => this.sendSnapshot());
  }

  async sendSnapshot(): Promise<void> {
    this.#scene ??= new SceneRenderer(this.id, this.opts.seed);
    await this.publish('snapshot', await this.#scene.frame(Math.round(occupancy(this.now()) * 20)), { qos: 1 });
  }

  override async incident(type: IncidentType): Promise<void> {
    const period = this.def.telemetryPeriodS * 1000;
    if (type === 'man_down') {
      const stillMs = 60_000;
      this.label('man_down', (period + stillMs) / this.speed, 'fall impact then no movement for 60 s');
      this.#posture = 'impact';
      await this.publishTelemetry();
      this.#posture = 'lying';
      // The still period is sent window by window (not left to the periodic timer), so however
      // loaded the machine running a compressed simulation is, the body lies still for 60 s of IMU time.
      for (let t = 0; t < stillMs; t += period) {
        await this.publishTelemetry();
        await this.sleep(period);
      }
      this.#posture = 'walking';
      return;
    }
    if (type === 'sos') {
      this.label('sos', 30_000 / this.speed, 'SOS button pressed');
      await this.publish('event', { type: 'sos', pressed: true });
      this.#recording = true;
      await this.publish('event', { type: 'recording_started', trigger: 'sos' });
      await this.sendSnapshot();
      await this.sleep(30_000);
      this.#recording = false;
      await this.publish('event', { type: 'recording_stopped' });
      return;
    }
    return super.incident(type);
  }
}
