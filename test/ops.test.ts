/**
 * The engine's own transposed maps against tfjs's gradients on the cpu backend, for many
 * geometries, on every backend of BACKENDS (webgpu included, so every read is asynchronous):
 * convolutions (strides, padding, dilation), depthwise, max pooling (including ties: the first
 * maximum in row-major window order gets everything) and average pooling (same padding divides
 * by the in-bounds count).
 */
import * as tf from '@tensorflow/tfjs';
import { axisPadding, insertZeros } from '../src/ops/conv';
import { addMany } from '../src/ops/gpu';
import { conv2dMap, depthwiseConv2dMap } from '../src/ops/linear';
import { MAX_POOL_RELEVANCE_KERNEL, MAX_UNROLLED_WINDOW } from '../src/ops/maxPoolShader';
import { avgPoolTranspose, maxPoolTranspose } from '../src/ops/pool';
import { BACKENDS, expectClose, uniform, useBackend } from './helpers';

type Geo = [kernel: number, stride: number, padding: 'same' | 'valid', size: number, dilation: number];
const CONV: Geo[] = [[3, 1, 'same', 7, 1], [3, 2, 'same', 7, 1], [3, 2, 'valid', 8, 1], [2, 2, 'same', 7, 1], [4, 3, 'valid', 10, 1], [3, 1, 'same', 9, 2], [1, 1, 'valid', 5, 1], [5, 2, 'same', 6, 1]];
const POOL: Array<[number, number, 'same' | 'valid', number]> = [[2, 2, 'valid', 8], [2, 2, 'valid', 7], [3, 1, 'same', 7], [3, 2, 'same', 7], [3, 2, 'valid', 7], [2, 3, 'valid', 8], [3, 3, 'same', 8], [2, 1, 'same', 5]];

/**
 * tf.grad on the cpu backend, as the independent reference. Every tensor `f` uses besides x (a
 * kernel) is passed in `consts`: read asynchronously and copied to cpu, since a tensor of the
 * webgpu backend cannot move to cpu (that is a synchronous read). The backend is restored even
 * when the reference fails, so later tests still run on the backend of their describe block.
 */
async function cpuGrad(f: (x: tf.Tensor, ...consts: tf.Tensor[]) => tf.Tensor, x: tf.Tensor, dy: tf.Tensor, consts: readonly tf.Tensor[] = []): Promise<Float32Array> {
  const backend = tf.getBackend();
  const [xv, dv, ...cv] = await Promise.all([x, dy, ...consts].map((t) => t.data())); // webgpu reads asynchronously only
  await useBackend('cpu');
  try {
    const xc = tf.tensor(xv, x.shape);
    const dc = tf.tensor(dv, dy.shape);
    const cc = consts.map((t, i) => tf.tensor(cv[i], t.shape, t.dtype));
    const g = tf.grad((v: tf.Tensor) => f(v, ...cc))(xc, dc);
    const out = Float32Array.from(await g.data());
    tf.dispose([xc, dc, ...cc, g]);
    return out;
  } finally {
    await useBackend(backend);
  }
}

/** <f(x), dy> = <x, fᵀ(dy)>: the defining property of the transposed map (in float64). */
async function expectAdjoint(x: tf.Tensor, fx: tf.Tensor, dy: tf.Tensor, fTdy: tf.Tensor): Promise<void> {
  const dot = async (a: tf.Tensor, b: tf.Tensor) => {
    const [u, v] = [await a.data(), await b.data()];
    let sum = 0;
    let scale = 0;
    for (let i = 0; i < u.length; i++) {
      sum += u[i] * v[i];
      scale += Math.abs(u[i] * v[i]);
    }
    return [sum, scale];
  };
  const [left, scale] = await dot(fx, dy);
  const [right] = await dot(x, fTdy);
  expect(Math.abs(left - right)).toBeLessThanOrEqual(1e-5 * scale);
}

for (const backend of BACKENDS) {
  describe(`transposed maps on ${backend}`, () => {
    beforeAll(async () => {
      await useBackend(backend);
    });
    beforeEach(() => {
      // a reference that failed half-way must not leave the following tests on another backend
      expect(tf.getBackend()).toBe(backend);
    });

    test.each(CONV)('conv2d k=%i s=%i %s size %i dilation %i', async (k, s, padding, size, d) => {
      const x = uniform([2, size, size, 3], 1);
      const w = uniform([k, k, 3, 4], 2);
      const map = conv2dMap({ kernelSize: [k, k], strides: [s, s], dilation: [d, d], padding });
      const z = map.apply(x, { kernel: w, bias: null });
      expect(z.shape).toEqual(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, s, padding, 'NHWC', d).shape);
      const dy = uniform(z.shape, 3);
      const got = map.transpose(dy, w, x.shape);
      if (d === 1) expectClose(await got.data(), await cpuGrad((v, wc) => tf.conv2d(v as tf.Tensor4D, wc as tf.Tensor4D, s, padding, 'NHWC', d), x, dy, [w]), 1e-5, 'conv2d');
      else await expectAdjoint(x, z, dy, got); // tfjs has no gradient for dilated convolutions
      tf.dispose([x, w, z, dy]);
    });

    test.each([1, 3, 4, 6, 8])('conv2d stride 1, same, onto %i channels: exact, and the kernel chosen for this backend', async (channels) => {
      const x = uniform([2, 6, 6, channels], 21);
      const w = uniform([3, 3, channels, 8], 22);
      const map = conv2dMap({ kernelSize: [3, 3], strides: [1, 1], dilation: [1, 1], padding: 'same' });
      const dy = uniform([2, 6, 6, 8], 23);
      let got: tf.Tensor | null = null;
      const { kernels } = await tf.profile(() => {
        got = tf.tidy(() => map.transpose(dy, w, x.shape));
      });
      expectClose(await (got as unknown as tf.Tensor).data(), await cpuGrad((v, wc) => tf.conv2d(v as tf.Tensor4D, wc as tf.Tensor4D, 1, 'same'), x, dy, [w]), 1e-5, 'conv2d');
      // WebGL and WebGPU vectorise conv2d over 4 output channels: onto an image's 1–3 channels
      // (or [x⁺, x⁻]'s 6) their Conv2DBackpropInput is 2–4× faster (src/ops/conv.ts)
      const native = (backend === 'webgpu' || backend === 'webgl') && channels % 4 !== 0;
      const names = kernels.map((k) => k.name);
      expect(names).toContain(native ? 'Conv2DBackpropInput' : 'Conv2D');
      expect(names).not.toContain(native ? 'Conv2D' : 'Conv2DBackpropInput');
      tf.dispose([x, w, dy, got as unknown as tf.Tensor]);
    });

    test.each([
      [2, 'same', 64, 7],
      [2, 'valid', 64, 7],
      [2, 'same', 64, 8],
      [2, 'valid', 64, 8],
      [1, 'same', 2048, 7],
    ] as const)('conv2d stride %i, %s, %i channels onto 3, input %i: exact, and Conv2DBackpropInput on WebGL, on WebGPU while a sum has ≤ 16384 terms', async (stride, padding, units, size) => {
      // size 8: 'same' pads [0, 1] (MobileNet's first layer), 'valid' leaves a row and a column uncovered
      const x = uniform([1, size, size, 3], 24);
      const w = uniform([3, 3, 3, units], 25);
      const map = conv2dMap({ kernelSize: [3, 3], strides: [stride, stride], dilation: [1, 1], padding });
      const z = map.apply(x, { kernel: w, bias: null });
      const dy = uniform(z.shape, 26);
      let got: tf.Tensor | null = null;
      const { kernels } = await tf.profile(() => {
        got = tf.tidy(() => map.transpose(dy, w, x.shape));
      });
      expectClose(await (got as unknown as tf.Tensor).data(), await cpuGrad((v, wc) => tf.conv2d(v as tf.Tensor4D, wc as tf.Tensor4D, stride, padding), x, dy, [w]), 1e-5, 'conv2d');
      // 3·3·2048 = 18432 terms: WebGPU's Conv2DBackpropInput is wrong from 65536 (src/ops/conv.ts)
      const native = backend === 'webgl' || (backend === 'webgpu' && 9 * units <= 16384);
      const names = kernels.map((k) => k.name);
      expect(names).toContain(native ? 'Conv2DBackpropInput' : 'Conv2D');
      expect(names).not.toContain(native ? 'Conv2D' : 'Conv2DBackpropInput');
      tf.dispose([x, w, z, dy, got as unknown as tf.Tensor]);
    });

    test.each(CONV.filter(([, s, , , d]) => s === 1 || d === 1))('depthwise k=%i s=%i %s size %i dilation %i', async (k, s, padding, size, d) => {
      const x = uniform([2, size, size, 3], 4);
      const w = uniform([k, k, 3, 2], 5);
      const map = depthwiseConv2dMap({ kernelSize: [k, k], strides: [s, s], dilation: [d, d], padding });
      const z = map.apply(x, { kernel: w, bias: null });
      const dy = uniform(z.shape, 6);
      const got = map.transpose(dy, w, x.shape);
      if (d === 1) expectClose(await got.data(), await cpuGrad((v, wc) => tf.depthwiseConv2d(v as tf.Tensor4D, wc as tf.Tensor4D, s, padding, 'NHWC', d), x, dy, [w]), 1e-5, 'depthwise');
      else await expectAdjoint(x, z, dy, got);
      tf.dispose([x, w, z, dy]);
    });

    test.each(POOL)('maxPool k=%i s=%i %s size %i', async (k, s, padding, size) => {
      const x = uniform([2, size, size, 3], 7) as tf.Tensor4D;
      const pooled = tf.maxPool(x, k, s, padding);
      const dy = uniform(pooled.shape, 8) as tf.Tensor4D;
      const got = await maxPoolTranspose(x, pooled, dy, [k, k], [s, s], padding).data();
      expectClose(got, await cpuGrad((v) => tf.maxPool(v as tf.Tensor4D, k, s, padding), x, dy), 1e-6, 'maxPool');
      tf.dispose([x, pooled, dy]);
    });

    test('maxPool ties: the first maximum in row-major window order takes all', async () => {
      // windows of 2x2: [[5,5],[5,1]] → (0,0); [[0,2],[2,2]] → (0,1); [[0,0],[0,0]] → (0,0)
      const x = tf.tensor4d([5, 5, 0, 2, 0, 0, 5, 1, 2, 2, 0, 0], [1, 2, 6, 1]);
      const pooled = tf.maxPool(x, 2, 2, 'valid');
      const dy = tf.tensor4d([1, 2, 3], [1, 1, 3, 1]);
      const got = Array.from(await maxPoolTranspose(x, pooled, dy, [2, 2], [2, 2], 'valid').data());
      expect(got).toEqual([1, 0, 0, 2, 3, 0, 0, 0, 0, 0, 0, 0]);
      tf.dispose([x, pooled, dy]);
    });

    // ties everywhere (small integers, all-zero windows) in windows that tile the input (one
    // shader on WebGPU and WebGL, rank-5 views on wasm) and in windows that overlap, skip rows or
    // reach into the padding: a plain-loop reference, first maximum in row-major window order
    // (WebGL and WebGPU in Chromium: the browser conformance suite, test/browser-backends.test.ts)
    test('maxPool of 2×2 windows that tile the input: the path of this backend (one shader on WebGPU, rank-5 views on wasm, strided views elsewhere)', async () => {
      const x = uniform([2, 8, 8, 3], 13) as tf.Tensor4D;
      const pooled = tf.maxPool(x, 2, 2, 'valid');
      const dy = uniform(pooled.shape, 14) as tf.Tensor4D;
      let got: tf.Tensor | null = null;
      const { kernels } = await tf.profile(() => {
        got = tf.tidy(() => maxPoolTranspose(x, pooled, dy, [2, 2], [2, 2], 'valid'));
      });
      expectClose(await (got as unknown as tf.Tensor).data(), await cpuGrad((v) => tf.maxPool(v as tf.Tensor4D, 2, 2, 'valid'), x, dy), 1e-6, 'maxPool');
      const names = kernels.map((k) => k.name);
      const rank5 = kernels.some((k) => k.inputShapes.some((sh) => sh !== null && sh.length === 5));
      const path = names.includes(MAX_POOL_RELEVANCE_KERNEL) ? `shader (${names.length} kernel)` : rank5 ? 'rank 5' : names.includes('DepthwiseConv2dNative') ? 'strided' : 'unknown';
      expect(path).toBe(backend === 'wasm' ? 'rank 5' : backend === 'webgpu' ? 'shader (1 kernel)' : 'strided');
      tf.dispose([x, pooled, dy, got as unknown as tf.Tensor]);
    });

    test(`maxPool windows of more than ${MAX_UNROLLED_WINDOW} positions keep the basic-op route on every backend (no huge unrolled shader), exactly`, async () => {
      const x = tf.tidy(() => tf.floor(tf.mul(uniform([2, 18, 18, 2], 15), 3))) as tf.Tensor4D;
      const pooled = tf.maxPool(x, 9, 9, 'valid');
      const dy = uniform(pooled.shape, 16) as tf.Tensor4D;
      let got: tf.Tensor | null = null;
      const { kernels } = await tf.profile(() => {
        got = tf.tidy(() => maxPoolTranspose(x, pooled, dy, [9, 9], [9, 9], 'valid'));
      });
      expect(kernels.map((k) => k.name)).not.toContain(MAX_POOL_RELEVANCE_KERNEL);
      expectClose(await (got as unknown as tf.Tensor).data(), await cpuGrad((v) => tf.maxPool(v as tf.Tensor4D, 9, 9, 'valid'), x, dy), 1e-6, 'maxPool 9×9');
      tf.dispose([x, pooled, dy, got as unknown as tf.Tensor]);
    });

    test.each([
      [2, 2, 2, 2, 8, 8, 'valid'], [2, 2, 2, 2, 8, 6, 'same'], [3, 3, 3, 3, 9, 6, 'valid'], [1, 2, 1, 2, 4, 6, 'valid'], [2, 1, 2, 1, 6, 3, 'same'], [2, 2, 2, 2, 7, 7, 'valid'], [3, 2, 3, 2, 7, 7, 'valid'],
      [3, 3, 2, 2, 9, 11, 'same'], [3, 3, 1, 1, 7, 7, 'same'], [2, 2, 1, 1, 6, 5, 'valid'], [3, 3, 2, 2, 9, 9, 'valid'], [2, 2, 3, 3, 8, 8, 'valid'], [3, 2, 2, 1, 8, 7, 'same'],
    ] as const)('maxPool ties, window %ix%i, strides %ix%i, input %ix%i, %s: all of dy to the first maximum of each window', async (kh, kw, sh, sw, h, w, padding) => {
      const x = tf.tidy(() => tf.floor(tf.mul(uniform([2, h, w, 3], 11), 3))) as tf.Tensor4D;
      const pooled = tf.maxPool(x, [kh, kw], [sh, sw], padding);
      const dy = uniform(pooled.shape, 12) as tf.Tensor4D;
      const got = await maxPoolTranspose(x, pooled, dy, [kh, kw], [sh, sw], padding).data();
      const [xv, dv] = [await x.data(), await dy.data()];
      const [n, , , c] = x.shape;
      // TensorFlow's padding, written out: 'same' gives ⌈size/stride⌉ windows, the odd row below
      const axis = (size: number, k: number, s: number): [out: number, before: number] => {
        if (padding === 'valid') return [Math.floor((size - k) / s) + 1, 0];
        const out = Math.ceil(size / s);
        return [out, Math.floor(Math.max((out - 1) * s + k - size, 0) / 2)];
      };
      const [ho, top] = axis(h, kh, sh);
      const [wo, left] = axis(w, kw, sw);
      expect([pooled.shape[1], pooled.shape[2]]).toEqual([ho, wo]);
      const ref = new Float64Array(x.size);
      let ties = 0;
      for (let b = 0; b < n; b++) for (let i = 0; i < ho; i++) for (let j = 0; j < wo; j++) for (let ch = 0; ch < c; ch++) {
        let best = -Infinity;
        let first = -1;
        let count = 0;
        for (let a = 0; a < kh; a++) for (let e = 0; e < kw; e++) {
          const [r, q] = [i * sh - top + a, j * sw - left + e];
          if (r < 0 || r >= h || q < 0 || q >= w) continue;
          const at = ((b * h + r) * w + q) * c + ch;
          const v = xv[at];
          if (v > best) [best, first, count] = [v, at, 1];
          else if (v === best) count++;
        }
        if (count > 1) ties++;
        ref[first] += dv[((b * ho + i) * wo + j) * c + ch];
      }
      expect(ties).toBeGreaterThan(10);
      expectClose(got, ref, 1e-6, 'maxPool ties');
      tf.dispose([x, pooled, dy]);
    });

    test.each(POOL)('avgPool k=%i s=%i %s size %i: the true transpose of the forward', async (k, s, padding, size) => {
      const x = uniform([2, size, size, 2], 9) as tf.Tensor4D;
      const y = tf.avgPool(x, k, s, padding);
      const dy = uniform(y.shape, 10) as tf.Tensor4D;
      const got = await avgPoolTranspose(x, dy, [k, k], [s, s], padding).data();
      // independent: the transposed map of a linear f satisfies <f(x), dy> = <x, fᵀ(dy)>, and
      // fᵀ(dy) at one position is the sum over its windows of dy / (in-bounds count)
      const [n, h, w, c] = x.shape;
      const [ho, wo] = [y.shape[1], y.shape[2]];
      const [pt, pl] = [axisPadding(h, k, s, 1, padding)[0], axisPadding(w, k, s, 1, padding)[0]];
      const d = await dy.data();
      const ref = new Float64Array(x.size);
      for (let b = 0; b < n; b++) for (let i = 0; i < ho; i++) for (let j = 0; j < wo; j++) {
        const cells: number[] = [];
        for (let a = 0; a < k; a++) for (let e = 0; e < k; e++) {
          const r = i * s + a - pt;
          const q = j * s + e - pl;
          if (r >= 0 && r < h && q >= 0 && q < w) cells.push(r * w + q);
        }
        for (const cell of cells) for (let ch = 0; ch < c; ch++) ref[(b * h * w + cell) * c + ch] += d[((b * ho + i) * wo + j) * c + ch] / cells.length;
      }
      expectClose(got, ref, 1e-5, 'avgPool');
      tf.dispose([x, y, dy]);
    });

    test.each([[2, 2], [3, 2], [1, 3], [2, 1]])('insertZeros strides [%i, %i]: exact, rank ≤ 4 kernels only', async (sh, sw) => {
      const g = uniform([2, 3, 4, 5], 11) as tf.Tensor4D;
      const profile = await tf.profile(() => insertZeros(g, [sh, sw]));
      const got = profile.result as tf.Tensor4D;
      expect(got.shape).toEqual([2, 3 * sh, 4 * sw, 5]);
      const [n, h, w, c] = g.shape;
      const src = await g.data();
      const ref = new Float32Array(got.size);
      for (let b = 0; b < n; b++) for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) for (let ch = 0; ch < c; ch++) {
        ref[((b * h * sh + i * sh) * w * sw + j * sw) * c + ch] = src[((b * h + i) * w + j) * c + ch];
      }
      expect(Array.from(await got.data())).toEqual(Array.from(ref));
      expect(profile.kernels.filter((k) => k.name !== 'Reshape' && [...k.inputShapes, ...k.outputShapes].some((shape) => (shape ?? []).length > 4))).toEqual([]);
      tf.dispose([g, got]);
    });

    test.each([[3, 2, 'valid', 10], [2, 3, 'same', 9]] as const)('conv2d strides [%i, %i] %s size %i (anisotropic)', async (sh, sw, padding, size) => {
      const x = uniform([2, size, size - 1, 2], 12);
      const w = uniform([3, 4, 2, 3], 13);
      const map = conv2dMap({ kernelSize: [3, 4], strides: [sh, sw], dilation: [1, 1], padding });
      const z = map.apply(x, { kernel: w, bias: null });
      const dy = uniform(z.shape, 14);
      const got = map.transpose(dy, w, x.shape);
      expectClose(await got.data(), await cpuGrad((v, wc) => tf.conv2d(v as tf.Tensor4D, wc as tf.Tensor4D, [sh, sw], padding), x, dy, [w]), 1e-5, 'conv2d anisotropic');
      tf.dispose([x, w, z, dy, got]);
    });

    test.each([1, 2, 7, 8, 15, 50])('addMany of %i tensors: the sum, AddN of ≤ 7 inputs, no leak', async (count) => {
      const parts = Array.from({ length: count }, (_, i) => uniform([3, 2], 20 + i));
      const before = tf.memory().numTensors;
      const profile = await tf.profile(() => addMany(parts));
      const got = profile.result as tf.Tensor;
      const ref = new Float64Array(6);
      for (const p of parts) (await p.data()).forEach((v, i) => (ref[i] += v));
      expectClose(await got.data(), ref, 1e-6, 'addMany');
      expect(Math.max(0, ...profile.kernels.filter((k) => k.name === 'AddN').map((k) => k.inputShapes.length))).toBeLessThanOrEqual(7);
      if (count > 1) got.dispose();
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose(parts);
    });
  });
}
