/**
 * Camera frames rendered with sharp: a station concourse seen from a fixed
 * camera (floor, walls, pillars, gates, lights) with people whose number
 * follows occupancy, plus sensor noise. Tampering is applied to the rendered
 * frame the way it happens to real cameras: covered, defocused, moved, glare, darkness.
 */
import sharp from 'sharp';
import { Rng } from './random.ts';

export type Tamper = 'none' | 'covered' | 'defocused' | 'moved' | 'glare' | 'dark';

export const FRAME = { width: 320, height: 240 } as const;

interface Layout {
  wall: string;
  floor: string;
  pillars: { x: number; w: number }[];
  gates: number[];
  lights: number[];
}

function layoutFor(seed: string): Layout {
  const r = new Rng(seed);
  const grey = (lo: number, hi: number) => {
    const v = r.int(lo, hi);
    return `rgb(${v},${v + r.int(-6, 6)},${v + r.int(0, 12)})`;
  };
  return {
    wall: grey(150, 200),
    floor: grey(90, 130),
    pillars: Array.from({ length: r.int(2, 4) }, () => ({ x: r.int(0, 280), w: r.int(14, 30) })),
    gates: Array.from({ length: r.int(3, 6) }, (_, i) => 40 + i * r.int(40, 50)),
    lights: Array.from({ length: r.int(3, 6) }, () => r.int(10, 310)),
  };
}

/** A wide scene (twice the frame width) so a "moved" camera sees another part of it. */
function sceneSvg(l: Layout, people: number, r: Rng, width: number, backdrop: boolean): string {
  const { height } = FRAME;
  const horizon = 95;
  const parts: string[] = [];
  // Over a photograph only the people are drawn; otherwise the concourse itself.
  if (!backdrop) {
    parts.push(
      `<rect width="${width}" height="${horizon}" fill="${l.wall}"/>`,
      `<rect y="${horizon}" width="${width}" height="${height - horizon}" fill="${l.floor}"/>`,
    );
    for (const x of l.lights)
      parts.push(`<rect x="${x}" y="6" width="26" height="5" fill="#fffbe6"/>`, `<rect x="${x + width / 2}" y="8" width="26" height="5" fill="#fff3c4"/>`);
    for (const p of l.pillars)
      parts.push(
        `<rect x="${p.x}" y="0" width="${p.w}" height="${height}" fill="#6d6a66"/>`,
        `<rect x="${p.x + width / 2}" y="0" width="${p.w}" height="${height}" fill="#75716b"/>`,
      );
    for (const g of l.gates) parts.push(`<rect x="${g}" y="${horizon + 25}" width="8" height="30" fill="#3a4a5a"/>`);
    parts.push(
      `<rect x="${width / 2 + 40}" y="30" width="90" height="40" fill="#1d5e9e"/>`,
      `<rect x="${width - 70}" y="${horizon - 45}" width="40" height="45" fill="#5b4636"/>`,
    );
  }
  for (let i = 0; i < people; i++) {
    const y = r.range(horizon + 10, height - 10);
    const s = 0.4 + ((y - horizon) / (height - horizon)) * 1.1; // nearer is bigger
    const x = r.range(0, width);
    const c = r.pick(['#202833', '#5a2a2a', '#2a4a2a', '#7a6a4a', '#30303a', '#8a8f99']);
    parts.push(
      `<ellipse cx="${x}" cy="${y - 18 * s}" rx="${7 * s}" ry="${18 * s}" fill="${c}"/>`,
      `<circle cx="${x}" cy="${y - 40 * s}" r="${5 * s}" fill="#c9a27e"/>`,
    );
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${parts.join('')}</svg>`;
}

export class SceneRenderer {
  readonly #layout: Layout;
  readonly #rng: Rng;
  #noiseBuf?: Promise<Buffer>;
  readonly #noiseSeed: string;
  readonly #backdrop?: Buffer;

  /**
   * `backdrop`: an image of the camera's wide view (twice the frame width, the frame's height) to draw
   * the people over instead of the rendered concourse, e.g. a real photograph.
   */
  constructor(cameraId: string, seed: number | string = 1, backdrop?: Buffer) {
    this.#backdrop = backdrop;
    this.#layout = layoutFor(`${seed}:${cameraId}`);
    this.#rng = new Rng(`${seed}:${cameraId}:frames`);
    this.#noiseSeed = `${seed}:${cameraId}:noise`;
  }

  /**
   * Sensor noise from the seeded generator (libvips' own noise is not reproducible), so a frame is
   * a function of (seed, camera, people, tamper): training data and tests are repeatable. Made on first use.
   */
  get #noise(): Promise<Buffer> {
    if (!this.#noiseBuf) {
      const { width, height } = FRAME;
      const rng = new Rng(this.#noiseSeed);
      const px = Buffer.alloc(width * height * 3);
      for (let i = 0; i < px.length; i++) px[i] = Math.max(0, Math.min(255, Math.round(rng.gauss(128, 18))));
      this.#noiseBuf = sharp(px, { raw: { width, height, channels: 3 } })
        .png()
        .toBuffer();
    }
    return this.#noiseBuf;
  }

  /** One JPEG frame with `people` in view and the given tamper applied. */
  async frame(people: number, tamper: Tamper = 'none', quality = 80): Promise<Buffer> {
    const { width, height } = FRAME;
    if (tamper === 'covered') {
      // A hand, tape or bag over the lens: almost uniform, a little light leaking at one edge.
      const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><defs><linearGradient id="g"><stop offset="0" stop-color="#2a2622"/><stop offset="1" stop-color="#0c0b0a"/></linearGradient></defs><rect width="${width}" height="${height}" fill="url(#g)"/></svg>`;
      return sharp(Buffer.from(svg))
        .composite([{ input: await this.#noise, blend: 'soft-light' }])
        .blur(3)
        .jpeg({ quality })
        .toBuffer();
    }
    const wide = Buffer.from(sceneSvg(this.#layout, people, this.#rng, width * 2, !!this.#backdrop));
    const scene = this.#backdrop
      ? sharp(this.#backdrop)
          .resize(width * 2, height, { fit: 'cover' })
          .composite([{ input: wide }])
      : sharp(wide);
    const left = tamper === 'moved' ? Math.round(width * (0.55 + this.#rng.next() * 0.4)) : 0;
    let img = sharp(
      await sharp(await scene.png().toBuffer())
        .extract({ left, top: 0, width, height })
        .toBuffer(),
    ).composite([{ input: await this.#noise, blend: 'soft-light' }]);
    if (tamper === 'moved')
      img = sharp(await img.png().toBuffer())
        .rotate(this.#rng.range(8, 20), { background: '#444' })
        .resize(width, height, { fit: 'cover' });
    if (tamper === 'defocused') img = sharp(await img.png().toBuffer()).blur(6);
    if (tamper === 'glare')
      img = sharp(await img.png().toBuffer())
        .modulate({ brightness: 2.6 })
        .blur(2);
    if (tamper === 'dark') img = sharp(await img.png().toBuffer()).modulate({ brightness: 0.08 });
    return img.jpeg({ quality }).toBuffer();
  }
}
