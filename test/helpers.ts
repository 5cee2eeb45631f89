/** Shared test helpers: backends, seeded random models, tolerances, leak checks. */
import * as tf from '@tensorflow/tfjs';
import { seededRandom } from '../scripts/random';

/** The backends every numeric test runs on in Node. */
export const BACKENDS = ['cpu', 'wasm'] as const;

/** Switches the global backend (wasm: SIMD, one thread). */
export async function useBackend(name: string): Promise<void> {
  // Registered only on demand, so that cpu stays the default for models built at load time.
  if (name === 'wasm') require('@tensorflow/tfjs-backend-wasm');
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) throw new Error(`backend ${name} did not initialise`);
}

/** A small seeded PRNG (mulberry32), shared with the scripts. */
export const rng = seededRandom;

/** Uniform values in [lo, hi) as a float32 tensor. */
export function uniform(shape: number[], seed: number, lo = -1, hi = 1): tf.Tensor {
  const r = rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(size);
  for (let i = 0; i < size; i++) data[i] = lo + (hi - lo) * r();
  return tf.tensor(data, shape);
}

/**
 * Gives every weight of the model seeded random values: kernels ~ U(-s, s) with s = sqrt(3/fan_in)
 * (pre-activations of both signs), biases and BN shifts non-zero, BN variances positive,
 * optionally zero biases (for conservation tests).
 */
export function randomizeWeights(model: tf.LayersModel, seed: number, opts: { biasFree?: boolean } = {}): void {
  let s = seed;
  for (const layer of model.layers) {
    const inner = layer as unknown as tf.LayersModel;
    if (Array.isArray((inner as { layers?: unknown }).layers) && inner.layers.length > 0 && layer.getClassName() !== 'InputLayer' && 'outputs' in inner) {
      randomizeWeights(inner, s++ * 7919, opts);
      continue;
    }
    const values = layer.weights.map((w) => {
      const shape = w.shape as number[];
      const name = w.originalName ?? w.name;
      s += 1;
      if (/moving_variance/.test(name)) return uniform(shape, s, 0.5, 2);
      if (/gamma/.test(name)) return uniform(shape, s, -1.5, 1.5);
      if (/moving_mean|beta/.test(name)) return opts.biasFree ? tf.zeros(shape) : uniform(shape, s, -0.5, 0.5);
      if (/bias/.test(name)) return opts.biasFree ? tf.zeros(shape) : uniform(shape, s, -0.3, 0.3);
      if (/alpha/.test(name)) return uniform(shape, s, 0, 0.3);
      if (/embeddings/.test(name)) return uniform(shape, s, -1, 1);
      // depthwise kernels [kh, kw, cin, mult]: each output sees kh·kw inputs
      const fanIn = /depthwise/.test(name) ? shape[0] * shape[1] : shape.length <= 1 ? 1 : shape.slice(0, -1).reduce((a, b) => a * b, 1);
      const lim = Math.sqrt(3 / Math.max(1, fanIn));
      return uniform(shape, s, -lim, lim);
    });
    if (values.length > 0) layer.setWeights(values);
    tf.dispose(values);
  }
}

/** max |a − b| over all elements. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** max |a|. */
export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Asserts max|actual − expected| ≤ rel · max|expected| (and both finite). */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel = 1e-4, label = ''): void {
  for (let i = 0; i < actual.length; i++) {
    if (!Number.isFinite(actual[i])) throw new Error(`${label}: non-finite value ${actual[i]} at ${i}`);
  }
  const scale = maxAbs(expected);
  const diff = maxAbsDiff(actual, expected);
  if (!(diff <= rel * scale)) {
    throw new Error(`${label}: max|R - R_ref| = ${diff.toExponential(3)} > ${rel} x max|R_ref| = ${(rel * scale).toExponential(3)}`);
  }
}

/** Runs `fn` (sync or async) and asserts tf.memory().numTensors is unchanged afterwards. */
export async function expectNoLeak(fn: () => unknown): Promise<void> {
  await Promise.resolve(fn()); // first run creates lazily cached constants
  const before = tf.memory().numTensors;
  await Promise.resolve(fn());
  expect(tf.memory().numTensors).toBe(before);
}

/** Data of a tensor (or the first tensor of a list) as Float32Array; disposes it. */
export function take(t: tf.Tensor | tf.Tensor[]): Float32Array {
  const list = Array.isArray(t) ? t : [t];
  const data = list[0].dataSync() as Float32Array;
  const copy = Float32Array.from(data);
  tf.dispose(list);
  return copy;
}

/** Asserts `fn` throws `type` with a message matching every pattern, and leaks nothing. */
export async function expectError(fn: () => unknown, type: new (...a: never[]) => Error, ...patterns: RegExp[]): Promise<Error> {
  const before = tf.memory().numTensors;
  let caught: unknown = null;
  try {
    await Promise.resolve(fn());
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(type);
  const err = caught as Error;
  for (const p of patterns) expect(err.message).toMatch(p);
  expect(tf.memory().numTensors).toBe(before);
  return err;
}
