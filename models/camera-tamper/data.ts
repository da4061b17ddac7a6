/**
 * Labelled camera frames: concourse scenes rendered by the simulators' SceneRenderer (sharp), with
 * tampering applied by sharp the way it happens to real cameras, and the nuisances a tamper
 * detector must ignore: crowds coming and going, lights dimmed or brightened, JPEG quality changes.
 * Cameras are split by id: the evaluation only ever sees cameras the model was not trained on.
 */
import sharp from 'sharp';
import { CameraFeatures, frameStats } from '../../edge/features/camera.ts';
import { Rng } from '../../simulators/random.ts';
import { SceneRenderer, type Tamper } from '../../simulators/scene.ts';

export const tampers: Exclude<Tamper, 'none'>[] = ['covered', 'defocused', 'moved', 'glare', 'dark'];
/** Milder tampering, applied to a normal frame: half the lens taped, a small turn, a slight defocus. */
export const subtle = ['partial_cover', 'slight_turn', 'mild_blur'] as const;
export type FrameKind = Tamper | 'lighting' | 'crowd' | (typeof subtle)[number];

async function subtleTamper(jpeg: Buffer, kind: (typeof subtle)[number], rng: Rng): Promise<Buffer> {
  const img = sharp(jpeg);
  const { width = 320, height = 240 } = await img.metadata();
  if (kind === 'mild_blur') return img.blur(rng.range(1.5, 3)).jpeg({ quality: 80 }).toBuffer();
  if (kind === 'slight_turn') {
    const turned = await img.rotate(rng.pick([-1, 1]) * rng.range(4, 8), { background: '#555' }).toBuffer();
    return sharp(turned).resize(width, height, { fit: 'cover' }).jpeg({ quality: 80 }).toBuffer();
  }
  const w = Math.round(width * rng.range(0.4, 0.7));
  const left = rng.chance(0.5) ? 0 : width - w;
  const tape = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${height}"><rect width="${w}" height="${height}" fill="#1a1816"/></svg>`);
  return img.composite([{ input: tape, left, top: 0 }]).jpeg({ quality: 80 }).toBuffer();
}

export interface LabelledFrame {
  camera: string;
  kind: FrameKind;
  tampered: 0 | 1;
  features: number[];
}

/** One camera's stream: warm-up frames, then a mix of normal, nuisance and tampered frames. */
export async function cameraStream(camera: string, frames: number, seed: string): Promise<LabelledFrame[]> {
  const rng = new Rng(`${seed}:${camera}`);
  const scene = new SceneRenderer(camera, seed);
  const feats = new CameraFeatures();
  const out: LabelledFrame[] = [];
  for (let i = 0; i < 6 + frames; i++) {
    const warm = i < 6;
    const roll = rng.next();
    const kind: FrameKind = warm || roll < 0.35 ? 'none' : roll < 0.45 ? 'lighting' : roll < 0.55 ? 'crowd' : roll < 0.8 ? rng.pick(tampers) : rng.pick(subtle);
    const people = kind === 'crowd' ? rng.int(35, 60) : rng.int(0, 25);
    const base: Tamper = (tampers as string[]).includes(kind) ? (kind as Tamper) : 'none';
    let jpeg = await scene.frame(people, base, rng.int(55, 90));
    if ((subtle as readonly string[]).includes(kind)) jpeg = await subtleTamper(jpeg, kind as (typeof subtle)[number], rng);
    if (kind === 'lighting') jpeg = await sharp(jpeg).modulate({ brightness: rng.pick([rng.range(0.55, 0.8), rng.range(1.2, 1.5)]) }).jpeg({ quality: 80 }).toBuffer();
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
