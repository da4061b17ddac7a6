/**
 * Camera tamper features: each JPEG snapshot (decoded and scaled by sharp to 160×120 grey) is
 * compared with the camera's own reference, the per-cell median of its last accepted snapshots
 * (a median, so people passing through — a rush-hour crowd included — are not the reference, the
 * background is). The reference is formed from several snapshots before the first score (warm-up),
 * follows the scene (daylight, a lasting change of crowd) and stops following while the detector
 * says "tampered":
 * - brightness and contrast against the reference (log ratios): darkness, glare, a cover;
 * - sharpness (mean |Laplacian|) against the reference: defocus, a cover, fog or spray;
 * - structure: correlation of the coarse image and of its edge map with the reference's:
 *   a camera turned away sees another scene even when it is as bright and sharp;
 * - the share of saturated and of black pixels.
 * The scene-anomaly score is 1 − structure correlation.
 */
import sharp from 'sharp';
import { imageSlots } from '../jpeg.ts';

export const cameraFeatureNames = ['brightness_ln', 'contrast_ln', 'sharpness_ln', 'structure_corr', 'edge_corr', 'saturated_frac', 'dark_frac'] as const;

const W = 160;
const H = 120;
const CW = 40;
const CH = 30;

export interface FrameStats {
  mean: number;
  std: number;
  sharpness: number;
  saturated: number;
  dark: number;
  coarse: Float32Array;
  edges: Float32Array;
}

export async function frameStats(jpeg: Buffer): Promise<FrameStats> {
  const px = await imageSlots(() => sharp(jpeg, { failOn: 'error' }).greyscale().resize(W, H, { fit: 'fill' }).raw().toBuffer());
  let sum = 0;
  let sum2 = 0;
  let sat = 0;
  let dark = 0;
  for (let i = 0; i < px.length; i++) {
    const v = px[i]!;
    sum += v;
    sum2 += v * v;
    if (v >= 250) sat++;
    if (v <= 15) dark++;
  }
  const n = W * H;
  const mean = sum / n;
  let lap = 0;
  const grad = new Float32Array(n);
  for (let y = 1; y < H - 1; y++) {
    for (let x = 1; x < W - 1; x++) {
      const i = y * W + x;
      lap += Math.abs(4 * px[i]! - px[i - 1]! - px[i + 1]! - px[i - W]! - px[i + W]!);
      grad[i] = Math.abs(px[i + 1]! - px[i - 1]!) + Math.abs(px[i + W]! - px[i - W]!);
    }
  }
  const coarse = new Float32Array(CW * CH);
  const edges = new Float32Array(CW * CH);
  const bx = W / CW;
  const by = H / CH;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const c = Math.floor(y / by) * CW + Math.floor(x / bx);
      coarse[c]! += px[y * W + x]! / (bx * by);
      edges[c]! += grad[y * W + x]! / (bx * by);
    }
  }
  return { mean, std: Math.sqrt(Math.max(0, sum2 / n - mean * mean)), sharpness: lap / ((W - 2) * (H - 2)), saturated: sat / n, dark: dark / n, coarse, edges };
}

function corr(a: Float32Array, b: Float32Array): number {
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < a.length; i++) ((ma += a[i]!), (mb += b[i]!));
  ma /= a.length;
  mb /= b.length;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < a.length; i++) {
    const da = a[i]! - ma;
    const db = b[i]! - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa > 1e-6 && sbb > 1e-6 ? sab / Math.sqrt(saa * sbb) : 0;
}

const ln = (a: number, b: number) => Math.log((a + 1) / (b + 1));

type RefFrame = { mean: number; std: number; sharpness: number; coarse: Float32Array; edges: Float32Array };

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Per-camera reference and features. */
export class CameraFeatures {
  /** Snapshots the reference is the median of. */
  static readonly KEEP = 5;
  /** Snapshots accepted before the first score: the reference is never one frame. */
  static readonly WARMUP = 3;
  readonly #recent: RefFrame[] = [];
  #ref?: RefFrame;
  /** Set by the detector while the frame looks tampered: the reference must not learn a cover. */
  frozen = false;

  /** Still forming the reference: features are computed but must not be scored. */
  get warming(): boolean {
    return this.#recent.length < CameraFeatures.WARMUP;
  }

  features(s: FrameStats): number[] {
    const r = this.#ref ?? s;
    return [ln(s.mean, r.mean), ln(s.std, r.std), ln(s.sharpness, r.sharpness), corr(s.coarse, r.coarse), corr(s.edges, r.edges), s.saturated, s.dark];
  }

  /** Takes an accepted frame into the reference (skipped while frozen). */
  learn(s: FrameStats): void {
    if (this.frozen) return;
    this.#remember(s);
  }

  #remember(s: FrameStats): void {
    this.#recent.push({ mean: s.mean, std: s.std, sharpness: s.sharpness, coarse: s.coarse.slice(), edges: s.edges.slice() });
    while (this.#recent.length > CameraFeatures.KEEP) this.#recent.shift();
    this.#ref = medianFrame(this.#recent);
  }

  async push(jpeg: Buffer): Promise<{ features: number[]; stats: FrameStats }> {
    const stats = await frameStats(jpeg);
    return { features: this.features(stats), stats };
  }

  /** Forget the reference: the next snapshots form a new one (an engineer accepted a new view). */
  rebaseline(): void {
    this.#recent.length = 0;
    this.#ref = undefined;
    this.frozen = false;
  }

  /** The reference frames and whether it is frozen: a restart must not take a taped lens as the new normal. */
  snapshot(): CameraSnapshot {
    return {
      frozen: this.frozen,
      recent: this.#recent.map((r) => ({ mean: r.mean, std: r.std, sharpness: r.sharpness, coarse: [...r.coarse], edges: [...r.edges] })),
    };
  }

  static restore(s: CameraSnapshot): CameraFeatures {
    const f = new CameraFeatures();
    f.frozen = s.frozen;
    for (const r of s.recent) f.#recent.push({ ...r, coarse: Float32Array.from(r.coarse), edges: Float32Array.from(r.edges) });
    if (f.#recent.length) f.#ref = medianFrame(f.#recent);
    return f;
  }
}

function medianFrame(frames: RefFrame[]): RefFrame {
  const n = frames[0]!.coarse.length;
  const coarse = new Float32Array(n);
  const edges = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    coarse[i] = median(frames.map((f) => f.coarse[i]!));
    edges[i] = median(frames.map((f) => f.edges[i]!));
  }
  return { mean: median(frames.map((f) => f.mean)), std: median(frames.map((f) => f.std)), sharpness: median(frames.map((f) => f.sharpness)), coarse, edges };
}

export interface CameraSnapshot {
  frozen: boolean;
  recent: { mean: number; std: number; sharpness: number; coarse: number[]; edges: number[] }[];
}

export function explainCamera(f: number[]): string {
  const [b, c, s, corrS, corrE, sat, dark] = f as [number, number, number, number, number, number, number];
  const parts: string[] = [];
  if (Math.abs(b) > 0.4) parts.push(`brightness ${Math.exp(b).toFixed(2)}× reference`);
  if (s < -0.4) parts.push(`sharpness ${Math.round(100 * Math.exp(s))} % of reference`);
  if (c < -0.6) parts.push(`contrast ${Math.round(100 * Math.exp(c))} % of reference`);
  if (Math.min(corrS, corrE) < 0.6) parts.push(`scene matches reference ${Math.max(0, Math.min(corrS, corrE)).toFixed(2)} (view changed)`);
  if (sat > 0.2) parts.push(`${Math.round(100 * sat)} % of pixels saturated`);
  if (dark > 0.3) parts.push(`${Math.round(100 * dark)} % of pixels black`);
  return parts.length ? parts.join(', ') : 'frame close to reference';
}

export const sceneAnomaly = (f: number[]) => Math.max(0, Math.min(1, 1 - Math.min(f[3]!, f[4]!)));
