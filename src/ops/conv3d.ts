/**
 * Linear maps of the 3-D convolutions (Conv3D, Conv3DTranspose) on NDHWC inputs: the §1 rules in
 * three dimensions. Dilation is not supported (the adapters refuse it).
 *
 * The transposed 3-D convolution is computed here as a correlation of the zero-inserted, padded
 * tensor with the spatially flipped kernel (tf.conv3d, stride 1, 'valid'), never with tfjs'
 * Conv3DBackpropInputV2 (`tf.conv3dTranspose`): on tfjs-backend-wasm 4.22 that kernel returns wrong
 * values for every geometry tried (even a 1×1×1 kernel with stride 2), while its Conv3D is right.
 * The zero insertion, padding and cropping run on rank-3 views (GPU-safe policy, src/ops/gpu.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { LrpBackendError } from '../errors.js';
import { axisPadding, PaddingMode } from './conv.js';
import { derived } from './derived.js';
import type { LinearMap } from './linear.js';

/** Geometry of a 3-D convolution as configured in the layer. */
export interface Conv3DConfig {
  readonly kernelSize: readonly [number, number, number];
  readonly strides: readonly [number, number, number];
  readonly padding: PaddingMode;
}

/**
 * `z + bias` on the channel axis, on a 2-D view: a broadcast binary op of rank 5 does not compile
 * on tfjs 4.22's WebGPU ("cannot index type 'vec5'").
 */
function withBias(z: tf.Tensor, bias: tf.Tensor | null): tf.Tensor {
  if (bias === null) return z;
  return tf.reshape(tf.add(tf.reshape(z, [-1, bias.size]), bias), z.shape);
}

/** `x` seen as [before, axis, after] around spatial axis `a` (1..3) of an NDHWC tensor. */
function around(shape: readonly number[], a: number): [number, number, number] {
  const before = shape.slice(0, a).reduce((p, v) => p * v, 1);
  const after = shape.slice(a + 1).reduce((p, v) => p * v, 1);
  return [before, shape[a], after];
}

/** Inserts `s − 1` zeros after every element of spatial axis `a` (length n → n·s). */
function spreadAxis(x: tf.Tensor, a: number, s: number): tf.Tensor {
  if (s === 1) return x;
  const [before, n, after] = around(x.shape, a);
  const padded = tf.pad(tf.reshape(x, [before * n, 1, after]), [[0, 0], [0, s - 1], [0, 0]]);
  const shape = x.shape.slice();
  shape[a] = n * s;
  return tf.reshape(padded, shape);
}

/** Pads (positive) or crops (negative) spatial axis `a` by `lo` before and `hi` after. */
function padAxis(x: tf.Tensor, a: number, lo: number, hi: number): tf.Tensor {
  if (lo === 0 && hi === 0) return x;
  const [before, n, after] = around(x.shape, a);
  let v = tf.reshape(x, [before, n, after]) as tf.Tensor3D;
  if (lo > 0 || hi > 0) v = tf.pad(v, [[0, 0], [Math.max(lo, 0), Math.max(hi, 0)], [0, 0]]);
  const start = Math.max(-lo, 0);
  const size = v.shape[1] - start - Math.max(-hi, 0);
  if (start > 0 || size < v.shape[1]) v = tf.slice(v, [0, start, 0], [before, size, after]);
  const shape = x.shape.slice();
  shape[a] = size;
  return tf.reshape(v, shape);
}

/**
 * The transposed 3-D convolution (vector-Jacobian product of conv3d with respect to its input):
 * `g` [N, Do, Ho, Wo, Cout], `kernel` [kd, kh, kw, Cin, Cout], result [N, ...inSize, Cin].
 */
export function conv3dTransposeByCorrelation(g: tf.Tensor, kernel: tf.Tensor, inSize: readonly number[], config: Conv3DConfig): tf.Tensor5D {
  let t = g;
  for (let a = 0; a < 3; a++) {
    const k = config.kernelSize[a];
    const s = config.strides[a];
    const padBefore = axisPadding(inSize[a], k, s, 1, config.padding)[0];
    const outLen = g.shape[a + 1];
    const inserted = (outLen - 1) * s + 1;
    t = spreadAxis(t, a + 1, s);
    // the spread axis carries s − 1 trailing zeros beyond `inserted`
    t = padAxis(t, a + 1, k - 1 - padBefore, inSize[a] - inserted + padBefore - (s - 1));
  }
  const [kd, kh, kw, cin, cout] = kernel.shape;
  const flipped = derived('flipped3d', [kernel], () => tf.reshape(tf.transpose(tf.reverse(tf.reshape(kernel, [kd * kh * kw, cin, cout]), 0), [0, 2, 1]), [kd, kh, kw, cout, cin]));
  return tf.conv3d(t as tf.Tensor5D, flipped as tf.Tensor5D, 1, 'valid', 'NDHWC');
}

/** Conv3D on NDHWC inputs; Keras kernel [kd, kh, kw, Cin, Cout]. */
export function conv3dMap(config: Conv3DConfig): LinearMap {
  const strides: [number, number, number] = [config.strides[0], config.strides[1], config.strides[2]];
  return {
    kind: 'conv3d',
    group: 'conv',
    apply(x, { kernel, bias }) {
      return withBias(tf.conv3d(x as tf.Tensor5D, kernel as tf.Tensor5D, strides, config.padding, 'NDHWC'), bias);
    },
    transpose(g, kernel, inputShape) {
      return conv3dTransposeByCorrelation(g, kernel, inputShape.slice(1, 4), config);
    },
    scaleKernel(kernel, scale) {
      return tf.reshape(tf.mul(tf.reshape(kernel, [-1, scale.size]), scale), kernel.shape);
    },
  };
}

/**
 * Conv3DTranspose on NDHWC inputs; Keras kernel [kd, kh, kw, filters, Cin]. Its forward is the
 * transpose of the Conv3D (same kernel, strides, padding) from the output volume to the input
 * volume, its transpose that Conv3D. `outputSize` gives the spatial output size for an input size
 * (tfjs-layers' deconvLength). On wasm it throws (see {@link checkConv3dTransposeBackend}).
 */
export function conv3dTransposeMap(config: Conv3DConfig, outputSize: (inSize: readonly number[]) => [number, number, number], layerName = 'conv3d_transpose'): LinearMap {
  const strides: [number, number, number] = [config.strides[0], config.strides[1], config.strides[2]];
  return {
    kind: 'conv3dTranspose',
    group: 'conv',
    apply(x, { kernel, bias }) {
      checkConv3dTransposeBackend(layerName);
      return withBias(conv3dTransposeByCorrelation(x, kernel, outputSize(x.shape.slice(1, 4)), config), bias);
    },
    transpose(g, kernel) {
      return tf.conv3d(g as tf.Tensor5D, kernel as tf.Tensor5D, strides, config.padding, 'NDHWC');
    },
    scaleKernel(kernel, scale) {
      const cin = kernel.shape[4] as number;
      return tf.reshape(tf.mul(tf.reshape(kernel, [-1, scale.size, cin]), tf.reshape(scale, [-1, 1])), kernel.shape);
    },
  };
}

/**
 * Throws on backends whose own Conv3DTranspose (Conv3DBackpropInputV2) is known to compute wrong
 * values, so that model.predict is wrong there too: tfjs-backend-wasm 4.22.
 */
export function checkConv3dTransposeBackend(layerName: string): void {
  const backend = tf.getBackend();
  if (backend === 'wasm') {
    throw new LrpBackendError(
      backend,
      `Conv3DBackpropInputV2 (tf.conv3dTranspose) returns wrong values on tfjs-backend-wasm 4.22, so layer '${layerName}' (Conv3DTranspose) and model.predict compute wrong outputs on it`,
      "Explain this model on another backend: tf.setBackend('cpu'), 'webgl', 'webgpu' or 'tensorflow' (@tensorflow/tfjs-node).",
      `Layer '${layerName}' (Conv3DTranspose) cannot be explained on the '${backend}' backend`,
    );
  }
}
