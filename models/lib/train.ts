/**
 * Training for the small detectors, in TypeScript (there is no Python on the box or in CI):
 * a multilayer perceptron (or a logistic regression, with no hidden layer) fitted by Adam on
 * weighted binary cross-entropy with L2, from a seeded initialisation. Deterministic: the same
 * data and seed give the same weights, so a committed .onnx can be rebuilt byte for byte.
 */
import { Rng } from '../../simulators/random.ts';
import type { Dense } from './onnx-builder.ts';

export interface Dataset {
  x: number[][];
  y: number[];
  /** Per-row weight (class balance, augmentation); 1 when absent. */
  w?: number[];
}

export interface TrainOptions {
  hidden: number[];
  epochs: number;
  lr: number;
  l2: number;
  batch: number;
  seed: number | string;
}

export interface Trained {
  mean: number[];
  std: number[];
  layers: Dense[];
}

export const defaultTrain: TrainOptions = { hidden: [8], epochs: 60, lr: 0.01, l2: 1e-4, batch: 64, seed: 1 };

export function standardisation(x: number[][]): { mean: number[]; std: number[] } {
  const f = x[0]!.length;
  const mean = Array.from({ length: f }, (_, j) => x.reduce((a, r) => a + r[j]!, 0) / x.length);
  const std = mean.map((m, j) => Math.sqrt(x.reduce((a, r) => a + (r[j]! - m) ** 2, 0) / x.length) || 1);
  return { mean: round6(mean), std: round6(std) };
}

const round6 = (v: number[]) => v.map((x) => Math.round(x * 1e6) / 1e6);
const sigmoid = (z: number) => 1 / (1 + Math.exp(-Math.max(-40, Math.min(40, z))));

/** Class-balanced weights: each class carries half of the total weight. */
export function balance(y: number[]): number[] {
  const pos = y.filter((v) => v === 1).length;
  const neg = y.length - pos;
  return y.map((v) => (v === 1 ? y.length / (2 * Math.max(1, pos)) : y.length / (2 * Math.max(1, neg))));
}

export function train(data: Dataset, opts: Partial<TrainOptions> = {}): Trained {
  const o = { ...defaultTrain, ...opts };
  const rng = new Rng(o.seed);
  const { mean, std } = standardisation(data.x);
  const xs = data.x.map((r) => r.map((v, j) => (v - mean[j]!) / std[j]!));
  const w = data.w ?? data.x.map(() => 1);
  const sizes = [mean.length, ...o.hidden, 1];
  // He initialisation; weights[in][out].
  const layers: Dense[] = sizes.slice(1).map((out, i) => ({
    weights: Array.from({ length: sizes[i]! }, () => Array.from({ length: out }, () => rng.gauss(0, Math.sqrt(2 / sizes[i]!)))),
    bias: Array.from({ length: out }, () => 0),
  }));
  // Adam state, same shapes.
  const m = layers.map((l) => ({ w: l.weights.map((r) => r.map(() => 0)), b: l.bias.map(() => 0) }));
  const v = layers.map((l) => ({ w: l.weights.map((r) => r.map(() => 0)), b: l.bias.map(() => 0) }));
  const b1 = 0.9;
  const b2 = 0.999;
  let step = 0;
  const order = xs.map((_, i) => i);
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (let start = 0; start < order.length; start += o.batch) {
      const idx = order.slice(start, start + o.batch);
      const gw = layers.map((l) => l.weights.map((r) => r.map(() => 0)));
      const gb = layers.map((l) => l.bias.map(() => 0));
      let wsum = 0;
      for (const k of idx) {
        // Forward, keeping activations.
        const acts: number[][] = [xs[k]!];
        for (let li = 0; li < layers.length; li++) {
          const l = layers[li]!;
          const a = acts[li]!;
          const z = l.bias.map((bias, out) => a.reduce((s, ai, inp) => s + ai * l.weights[inp]![out]!, bias));
          acts.push(li === layers.length - 1 ? z.map(sigmoid) : z.map((x) => Math.max(0, x)));
        }
        const p = acts.at(-1)![0]!;
        const wk = w[k]!;
        wsum += wk;
        // Backward: dL/dz for sigmoid + BCE is (p - y).
        let delta = [(p - data.y[k]!) * wk];
        for (let li = layers.length - 1; li >= 0; li--) {
          const l = layers[li]!;
          const a = acts[li]!;
          for (let inp = 0; inp < a.length; inp++) for (let out = 0; out < delta.length; out++) gw[li]![inp]![out]! += a[inp]! * delta[out]!;
          for (let out = 0; out < delta.length; out++) gb[li]![out]! += delta[out]!;
          if (li > 0) delta = a.map((ai, inp) => (ai > 0 ? l.weights[inp]!.reduce((s, wij, out) => s + wij * delta[out]!, 0) : 0));
        }
      }
      step++;
      const lrT = (o.lr * Math.sqrt(1 - b2 ** step)) / (1 - b1 ** step);
      layers.forEach((l, li) => {
        l.weights.forEach((row, inp) =>
          row.forEach((wij, out) => {
            const g = gw[li]![inp]![out]! / wsum + o.l2 * wij;
            const mm = (m[li]!.w[inp]![out] = b1 * m[li]!.w[inp]![out]! + (1 - b1) * g);
            const vv = (v[li]!.w[inp]![out] = b2 * v[li]!.w[inp]![out]! + (1 - b2) * g * g);
            row[out] = wij - (lrT * mm) / (Math.sqrt(vv) + 1e-8);
          }),
        );
        l.bias.forEach((bj, out) => {
          const g = gb[li]![out]! / wsum;
          const mm = (m[li]!.b[out] = b1 * m[li]!.b[out]! + (1 - b1) * g);
          const vv = (v[li]!.b[out] = b2 * v[li]!.b[out]! + (1 - b2) * g * g);
          l.bias[out] = bj - (lrT * mm) / (Math.sqrt(vv) + 1e-8);
        });
      });
    }
  }
  // Rounded so the ONNX bytes (and their sha256) do not depend on the last bits of float noise.
  return { mean, std, layers: layers.map((l) => ({ weights: l.weights.map(round6), bias: round6(l.bias) })) };
}

/** The same function the ONNX graph computes, in plain JS: used by evaluation and as a cross-check of the exported graph. */
export function predict(t: Trained, x: number[]): number {
  let a = x.map((v, j) => (v - t.mean[j]!) / t.std[j]!);
  t.layers.forEach((l, li) => {
    const z = l.bias.map((bias, out) => a.reduce((s, ai, inp) => s + ai * l.weights[inp]![out]!, bias));
    a = li === t.layers.length - 1 ? z.map(sigmoid) : z.map((q) => Math.max(0, q));
  });
  return a[0]!;
}
