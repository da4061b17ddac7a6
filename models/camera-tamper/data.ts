/**
 * Labelled camera frames: concourse scenes rendered by the simulators' SceneRenderer (sharp), with
 * tampering applied by sharp the way it happens to real cameras, and the nuisances a tamper
 * detector must ignore: crowds coming and going, lights dimmed or brightened, JPEG quality changes.
 * Cameras are split by id: the evaluation only ever sees cameras the model was not trained on.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { CameraFeatures, frameStats } from '../../edge/features/camera.ts';
import { Rng } from '../../simulators/random.ts';
import { SceneRenderer, type Tamper } from '../../simulators/scene.ts';

export const tampers: Exclude<Tamper, 'none'>[] = ['covered', 'defocused', 'moved', 'glare', 'dark'];
/**
 * Milder or different tampering, applied to a normal frame: half the lens taped, a small turn, a slight
 * defocus, and blinding without blur (a torch or a laser pointer: the scene overexposed ×2–3, still sharp —
 * the rendered glare is always blurred, and a model that only sees that learns "bright and blurred").
 */
export const subtle = ['partial_cover', 'slight_turn', 'mild_blur', 'glare_sharp'] as const;
export type FrameKind = Tamper | 'lighting' | 'crowd' | (typeof subtle)[number];

export async function subtleTamper(jpeg: Buffer, kind: (typeof subtle)[number], rng: Rng): Promise<Buffer> {
  const img = sharp(jpeg);
  const { width = 320, height = 240 } = await img.metadata();
  if (kind === 'mild_blur') return img.blur(rng.range(1.5, 3)).jpeg({ quality: 80 }).toBuffer();
  if (kind === 'glare_sharp') return img.linear(rng.range(2, 3), 0).jpeg({ quality: 80 }).toBuffer();
  if (kind === 'slight_turn') {
    const turned = await img.rotate(rng.pick([-1, 1]) * rng.range(4, 8), { background: '#555' }).toBuffer();
    return sharp(turned).resize(width, height, { fit: 'cover' }).jpeg({ quality: 80 }).toBuffer();
  }
  const w = Math.round(width * rng.range(0.4, 0.7));
  const left = rng.chance(0.5) ? 0 : width - w;
  const tape = Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${height}"><rect width="${w}" height="${height}" fill="#1a1816"/></svg>`,
  );
  return img
    .composite([{ input: tape, left, top: 0 }])
    .jpeg({ quality: 80 })
    .toBuffer();
}

export interface LabelledFrame {
  camera: string;
  kind: FrameKind;
  tampered: 0 | 1;
  features: number[];
}

/** How busy a camera's view is when it starts: a camera may well be installed, or restarted, at rush hour. */
const regimes = { quiet: [0, 10], busy: [5, 25], rush: [20, 45] } as const;

/** One camera's stream: warm-up frames, then a mix of normal, nuisance and tampered frames. */
export async function cameraStream(camera: string, frames: number, seed: string, backdrop?: Buffer): Promise<LabelledFrame[]> {
  const rng = new Rng(`${seed}:${camera}`);
  const scene = new SceneRenderer(camera, seed, backdrop);
  const feats = new CameraFeatures();
  const out: LabelledFrame[] = [];
  const [lo, hi] = regimes[rng.pick(['quiet', 'busy', 'rush'] as const)];
  // Warm-up as at runtime (edge/inference/detectors.ts): the reference's first frames are not scored.
  const warmup = CameraFeatures.WARMUP + 3;
  for (let i = 0; i < warmup + frames; i++) {
    const warm = i < warmup;
    const roll = rng.next();
    const kind: FrameKind = warm || roll < 0.35 ? 'none' : roll < 0.45 ? 'lighting' : roll < 0.55 ? 'crowd' : roll < 0.8 ? rng.pick(tampers) : rng.pick(subtle);
    // Mostly the camera's own regime, sometimes the crowd comes or goes.
    const people = kind === 'crowd' ? rng.int(35, 60) : rng.chance(0.75) ? rng.int(lo, hi) : rng.int(0, 45);
    const base: Tamper = (tampers as string[]).includes(kind) ? (kind as Tamper) : 'none';
    let jpeg = await scene.frame(people, base, rng.int(55, 90));
    if ((subtle as readonly string[]).includes(kind)) jpeg = await subtleTamper(jpeg, kind as (typeof subtle)[number], rng);
    if (kind === 'lighting')
      jpeg = await sharp(jpeg)
        .modulate({ brightness: rng.pick([rng.range(0.55, 0.8), rng.range(1.2, 1.5)]) })
        .jpeg({ quality: 80 })
        .toBuffer();
    const stats = await frameStats(jpeg);
    const f = feats.features(stats);
    const tampered = kind === 'none' || kind === 'lighting' || kind === 'crowd' ? 0 : 1;
    if (!tampered) feats.learn(stats);
    if (!warm) out.push({ camera, kind, tampered, features: f });
  }
  return out;
}

export async function cameraSet(prefix: string, cameras: number, frames: number, seed: string): Promise<LabelledFrame[]> {
  const out: LabelledFrame[] = [];
  for (let c = 0; c < cameras; c++) out.push(...(await cameraStream(`${prefix}-${String(c).padStart(2, '0')}`, frames, seed)));
  return out;
}

const PHOTOS = fileURLToPath(new URL('../data/photos/', import.meta.url));

/**
 * Real photographs as camera views (models/data/photos/README.md): `train` are wallpaper photographs
 * from Debian's plasma-workspace-wallpapers; `heldout` are scikit-image's sample photographs, kept
 * aside for independent evaluation — no training script reads them.
 */
export function photos(set: 'train' | 'heldout'): { name: string; backdrop: Buffer }[] {
  return readdirSync(join(PHOTOS, set))
    .filter((f) => f.endsWith('.jpg'))
    .sort()
    .map((f) => ({ name: f.replace(/\.jpg$/, ''), backdrop: readFileSync(join(PHOTOS, set, f)) }));
}

/** `perPhoto` cameras on each photograph of a set (each its own people, noise and starting regime). */
export async function photoSet(set: 'train' | 'heldout', perPhoto: number, frames: number, seed: string): Promise<LabelledFrame[]> {
  const out: LabelledFrame[] = [];
  for (const { name, backdrop } of photos(set))
    for (let c = 0; c < perPhoto; c++) out.push(...(await cameraStream(`photo-${name}-${c}`, frames, seed, backdrop)));
  return out;
}

/**
 * Untouched cameras through a morning rush, as the detector runs them: each camera starts (is
 * installed, or restarted) at a random time between 06:30 and 09:30, so many form their
 * reference in a crowd, then takes a snapshot every `intervalS` for three hours while the crowd
 * follows the hub's occupancy curve. Every frame is normal: whatever is flagged is a false alarm.
 */
export async function rushHourStreams(
  cameras: number | { name: string; backdrop: Buffer }[],
  seed: string,
  intervalS = 60,
): Promise<{ camera: string; features: number[] | undefined; stats: Awaited<ReturnType<typeof frameStats>> }[][]> {
  const { occupancy } = await import('../../simulators/random.ts');
  const out = [];
  const views =
    typeof cameras === 'number'
      ? Array.from({ length: cameras }, (_, c) => ({ name: `rush-cam-${String(c).padStart(2, '0')}`, backdrop: undefined }))
      : cameras.map((p) => ({ name: `rush-photo-${p.name}`, backdrop: p.backdrop }));
  for (const { name: camera, backdrop } of views) {
    const rng = new Rng(`${seed}:${camera}`);
    const scene = new SceneRenderer(camera, seed, backdrop);
    const day = Date.UTC(2026, 0, 5); // occupancy reads local hours: built from local midnight below
    const start = new Date(day);
    start.setHours(6, 30, 0, 0);
    const t0 = start.getTime() + rng.int(0, 180) * 60_000;
    const stream = [];
    for (let i = 0; i < (3 * 3600) / intervalS; i++) {
      const people = Math.round(occupancy(t0 + i * intervalS * 1000) * 40 * rng.range(0.7, 1.3));
      const stats = await frameStats(await scene.frame(people, 'none', rng.int(55, 90)));
      stream.push({ camera, features: undefined, stats });
    }
    out.push(stream);
  }
  return out;
}
