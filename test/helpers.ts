/** Shared test helpers: backends, seeded random models, tolerances, leak checks. */
import * as tf from '@tensorflow/tfjs';
import { seededRandom } from '../scripts/random';

type WebGPUSupport = typeof import('./support/webgpu-node');

/** test/support/webgpu-node.ts, loaded through a variable: the browser bundle of the conformance page includes this file. */
function webgpuSupport(): WebGPUSupport {
  const file = './support/webgpu-node';
  return require(file) as WebGPUSupport;
}

/**
 * Whether the suites run on WebGPU in Node (Dawn; Mesa's software OpenGL on a machine without a
 * GPU), decided synchronously at load: the packages resolve and a GPU library is installed, or
 * `TFJS_LRP_WEBGPU=1`. When it cannot run, the webgpu runs are skipped with a warning, except
 * under `CI`, where they are included and fail loudly (`TFJS_LRP_WEBGPU=0` excludes them).
 */
function webgpuIncluded(): boolean {
  if (typeof process === 'undefined' || process.versions?.node === undefined) return false;
  const { available, reason } = webgpuSupport().webgpuAvailability();
  if (available) return true;
  if (process.env.TFJS_LRP_WEBGPU === '0') return false;
  if (process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false') return true;
  console.warn(`\n*** WebGPU (Node) test runs SKIPPED: ${reason}. Install it to run them; under CI they run and fail. ***\n`);
  return false;
}

/** Whether the webgpu runs are part of this test run (see {@link BACKENDS}). */
export const WEBGPU_IN_NODE = webgpuIncluded();

/** The backends every numeric test runs on in Node: cpu, wasm, and webgpu where it can run (last). */
export const BACKENDS: readonly string[] = WEBGPU_IN_NODE ? ['cpu', 'wasm', 'webgpu'] : ['cpu', 'wasm'];

/** Backends that read synchronously (dataSync): every backend of {@link BACKENDS} except webgpu. */
export const SYNC_BACKENDS: readonly string[] = ['cpu', 'wasm'];

let webgpuUsed = false;
// Dawn keeps the process alive while its device lives: release it after each test file.
if (typeof afterAll === 'function') {
  afterAll(() => {
    if (webgpuUsed) webgpuSupport().releaseWebGPUForTests();
    webgpuUsed = false;
  });
}

/**
 * Switches the global backend (wasm: SIMD, one thread; webgpu: Dawn via useWebGPU(), released
 * after the test file). Tensors move to the new backend when they are used; leave webgpu for the
 * last: in Node it cannot read synchronously, so tensors do not move back from it.
 */
export async function useBackend(name: string): Promise<void> {
  // Registered only on demand, so that cpu stays the default for models built at load time.
  if (name === 'wasm') require('@tensorflow/tfjs-backend-wasm');
  if (name === 'webgpu' && typeof process !== 'undefined' && process.versions?.node !== undefined) {
    webgpuUsed = true;
    await webgpuSupport().useWebGPUForTests();
  }
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

/** Data of a tensor (or the first tensor of a list) as Float32Array, read asynchronously (every backend); disposes it. */
export async function take(t: tf.Tensor | tf.Tensor[]): Promise<Float32Array> {
  const list = Array.isArray(t) ? t : [t];
  try {
    return Float32Array.from(await list[0].data());
  } finally {
    tf.dispose(list);
  }
}

/**
 * Reads tensors asynchronously so that later synchronous reads of the same tensors (dataSync, as
 * the float64 reference's refGraphFromModel does with the weights) work on webgpu too: the
 * backend keeps what it has read on the host. A no-op in effect on cpu and wasm.
 */
export async function readToHost(tensors: readonly tf.Tensor[]): Promise<void> {
  await Promise.all(tensors.map((t) => t.data()));
}

/** The values of a tensor, read asynchronously (works on every backend, webgpu included). */
export async function values(t: tf.Tensor): Promise<Float32Array> {
  return Float32Array.from(await t.data());
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
