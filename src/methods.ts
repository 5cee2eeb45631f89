/**
 * Gradient-based attribution methods under the same call as LRP (for cross-checks), computed by
 * the same engine: every layer gets the `gradient` rule (Jᵀ R) and the pass starts from the
 * one-hot output, so the result is ∂logit_c/∂x (LRP_RULES.md §6). Integrated Gradients and
 * SmoothGrad evaluate many inputs per sample; those run as large batches, in chunks of at most
 * `maxBatch` inputs, never one forward per step.
 */
import * as tf from '@tensorflow/tfjs';
import { composite, Composite } from '../rules/composites.js';
import { gradientRule } from '../rules/gradient.js';
import { LrpArgumentError } from './errors.js';
import { LAYER_GROUPS } from './layers/group.js';

/** Attribution methods. */
export type AttributionMethod = 'lrp' | 'gradient' | 'gradientXInput' | 'integratedGradients' | 'smoothGrad';

/** The method names. */
export const METHODS: readonly AttributionMethod[] = ['lrp', 'gradient', 'gradientXInput', 'integratedGradients', 'smoothGrad'];

/** Options of the gradient methods (fields of `ExplainOptions`). */
export interface GradientMethodOptions {
  /** Integrated Gradients: number of steps (right Riemann sum). Default 64. */
  readonly steps?: number;
  /** Integrated Gradients: `'zero'` (default), `'blur'` (Gaussian blur of the input, images), or tensors (one per input). */
  readonly baseline?: 'zero' | 'blur' | tf.Tensor | readonly tf.Tensor[];
  /** Integrated Gradients with `baseline: 'blur'`: the blur's standard deviation in pixels. Default 5. */
  readonly blurSigma?: number;
  /** SmoothGrad: noise standard deviation as a fraction of each sample's value range. Default 0.1. */
  readonly noiseLevel?: number;
  /** SmoothGrad: number of noisy copies per sample. Default 32. */
  readonly samples?: number;
  /** SmoothGrad: seed of the noise. Default 0. */
  readonly seed?: number;
  /** Integrated Gradients, SmoothGrad: at most this many inputs per pass (memory bound). Default 256. */
  readonly maxBatch?: number;
}

/** Every layer (every group of `GROUP_DEFAULTS`) passes Jᵀ R: the backward pass computes the gradient. */
export function gradientComposite(): Composite {
  const rule = gradientRule();
  return composite('gradient', LAYER_GROUPS.map((group) => ({ match: { group }, rule })));
}

/** Computes ∂logit_cls/∂inputs for a batch (inside a tidy). */
export type GradientOf = (inputs: tf.Tensor[], cls: tf.Tensor1D) => tf.Tensor[];

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1) throw new LrpArgumentError(`options.${name}`, `must be a positive integer, got ${String(value)}.`);
  return v;
}

/** Validates the method options before any tensor is made. */
export function checkMethodOptions(method: AttributionMethod, options: GradientMethodOptions, inputs: readonly tf.Tensor[]): void {
  positiveInteger('steps', options.steps, 64);
  positiveInteger('samples', options.samples, 32);
  positiveInteger('maxBatch', options.maxBatch, 256);
  const noise = options.noiseLevel ?? 0.1;
  if (typeof noise !== 'number' || !Number.isFinite(noise) || noise < 0) throw new LrpArgumentError('options.noiseLevel', `must be a finite number ≥ 0, got ${String(options.noiseLevel)}.`);
  if (method === 'integratedGradients' || method === 'smoothGrad') {
    inputs.forEach((x, i) => {
      if (x.dtype !== 'float32') throw new LrpArgumentError(inputs.length === 1 ? 'input' : `input[${i}]`, `method '${method}' moves the input continuously; a ${x.dtype} input (token ids?) cannot be interpolated or perturbed. Use 'gradient' or LRP there.`);
    });
  }
  const b = options.baseline;
  if (method === 'integratedGradients' && b !== undefined && b !== 'zero' && b !== 'blur') {
    const list = Array.isArray(b) ? b : [b];
    if (list.length !== inputs.length || list.some((t, i) => !(t instanceof tf.Tensor) || (t.size !== inputs[i].size && t.size !== inputs[i].size / inputs[i].shape[0]))) {
      throw new LrpArgumentError('options.baseline', `expected 'zero', 'blur', or one tensor per input with the input's shape (or without the batch axis), got ${list.map((t) => (t instanceof tf.Tensor ? `[${t.shape.join(',')}]` : typeof t)).join(', ')}.`);
    }
  }
  if (method === 'integratedGradients' && b === 'blur') {
    inputs.forEach((x, i) => {
      if (x.rank !== 4) throw new LrpArgumentError('options.baseline', `'blur' needs image inputs [N, H, W, C]; input ${i} has shape [${x.shape.join(', ')}].`);
    });
  }
}

/** Gaussian blur of NHWC images ('same' size; zero padding at the borders). */
function blur(x: tf.Tensor4D, sigma: number): tf.Tensor4D {
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const weights = Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)));
  const total = weights.reduce((a, b) => a + b, 0);
  const c = x.shape[3];
  const w = tf.tensor1d(weights.map((v) => v / total));
  const vertical = tf.tile(tf.reshape(w, [2 * radius + 1, 1, 1, 1]), [1, 1, c, 1]) as tf.Tensor4D;
  const horizontal = tf.tile(tf.reshape(w, [1, 2 * radius + 1, 1, 1]), [1, 1, c, 1]) as tf.Tensor4D;
  return tf.depthwiseConv2d(tf.depthwiseConv2d(x, vertical, 1, 'same'), horizontal, 1, 'same');
}

function baselines(options: GradientMethodOptions, inputs: readonly tf.Tensor[]): tf.Tensor[] {
  const b = options.baseline;
  if (b === undefined || b === 'zero') return inputs.map((x) => tf.zerosLike(x));
  if (b === 'blur') return inputs.map((x) => blur(x as tf.Tensor4D, options.blurSigma ?? 5));
  const list = Array.isArray(b) ? b : [b];
  return list.map((t, i) => tf.add(tf.zerosLike(inputs[i]), tf.reshape(t, t.size === inputs[i].size ? inputs[i].shape : inputs[i].shape.slice(1))));
}

/** Runs `gradientOf` on `count` input sets per sample, `perChunk` at a time, and returns the mean gradient. */
function meanGradient(inputs: readonly tf.Tensor[], cls: tf.Tensor1D, count: number, maxBatch: number, pointsOf: (first: number, m: number) => tf.Tensor[], gradientOf: GradientOf): tf.Tensor[] {
  const n = inputs[0].shape[0];
  const perChunk = Math.max(1, Math.floor(maxBatch / n));
  let sums: tf.Tensor[] = inputs.map((x) => tf.zerosLike(x));
  for (let first = 0; first < count; first += perChunk) {
    const m = Math.min(perChunk, count - first);
    const next = tf.tidy(() => {
      const points = pointsOf(first, m); // each [m·n, ...]
      const grads = gradientOf(points, tf.tile(cls, [m]) as tf.Tensor1D);
      // Σ over the m copies on a 2-D view [m, n·…] (rank ≤ 4 for the GPU backends)
      return grads.map((g, i) => tf.add(sums[i], tf.reshape(tf.sum(tf.reshape(g, [m, inputs[i].size]), 0), inputs[i].shape)));
    });
    tf.dispose(sums);
    sums = next;
  }
  const mean = sums.map((s) => tf.div(s, count));
  tf.dispose(sums);
  return mean;
}

/**
 * The attribution of `method` (not `'lrp'`) for a validated batch; call inside a tidy.
 * `gradientOf` runs the engine's gradient pass.
 */
export function attributeWithGradients(method: Exclude<AttributionMethod, 'lrp'>, inputs: tf.Tensor[], cls: tf.Tensor1D, options: GradientMethodOptions, gradientOf: GradientOf): tf.Tensor[] {
  const maxBatch = options.maxBatch ?? 256;
  switch (method) {
    case 'gradient':
      return gradientOf(inputs, cls);
    case 'gradientXInput':
      return gradientOf(inputs, cls).map((g, i) => (inputs[i].dtype === 'float32' ? tf.mul(g, inputs[i]) : g));
    case 'integratedGradients': {
      // IG = (x − b) ⊙ (1/n) Σ_{k=1..n} ∇f(b + (k/n)(x − b))
      const steps = options.steps ?? 64;
      const base = baselines(options, inputs);
      const diff = inputs.map((x, i) => tf.sub(x, base[i]));
      // inputs as rows [1, n·…], so the m points of a chunk are a 2-D [m, n·…] (rank ≤ 4)
      const baseRows = base.map((b) => tf.reshape(b, [1, b.size]));
      const diffRows = diff.map((d) => tf.reshape(d, [1, d.size]));
      const pointsOf = (first: number, m: number) =>
        inputs.map((x, i) => {
          const alphas = tf.reshape(tf.div(tf.range(first + 1, first + m + 1), steps), [m, 1]);
          const points = tf.add(baseRows[i], tf.mul(alphas, diffRows[i]));
          return tf.reshape(points, [m * x.shape[0], ...x.shape.slice(1)]);
        });
      const mean = meanGradient(inputs, cls, steps, maxBatch, pointsOf, gradientOf);
      return mean.map((g, i) => tf.mul(diff[i], g));
    }
    case 'smoothGrad': {
      // mean gradient at x + N(0, σ²), σ = noiseLevel · (max − min) of each sample
      const samples = options.samples ?? 32;
      const level = options.noiseLevel ?? 0.1;
      const seed = options.seed ?? 0;
      // each sample as a row [n, D]: the m noisy copies are a rank-3 [m, n, D] (rank ≤ 4)
      const rowShapes = inputs.map((x): [number, number] => [x.shape[0], x.size / x.shape[0]]);
      const rows = inputs.map((x, i) => tf.reshape(x, [1, ...rowShapes[i]]));
      const sigma = rows.map((r, i) => tf.reshape(tf.mul(tf.sub(tf.max(r, 2), tf.min(r, 2)), level), [1, rowShapes[i][0], 1]));
      const pointsOf = (first: number, m: number) =>
        inputs.map((x, i) => {
          // one seed per noisy copy, so the result does not depend on the chunking (the values
          // are those of randomNormal(x.shape): the same seed, the same number of draws); + 1
          // because tfjs takes seed 0 as 'no seed' (Math.random), which would not reproduce
          const noise = tf.stack(Array.from({ length: m }, (_, k) => tf.randomNormal(rowShapes[i], 0, 1, 'float32', seed + 7919 * i + first + k + 1)));
          return tf.reshape(tf.add(rows[i], tf.mul(noise, sigma[i])), [m * x.shape[0], ...x.shape.slice(1)]);
        });
      return meanGradient(inputs, cls, samples, maxBatch, pointsOf, gradientOf);
    }
  }
}
