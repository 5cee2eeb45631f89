/**
 * Convolution helpers built from forward convolutions only.
 *
 * The transposed convolution (Conv2DBackpropInput) is missing or slow on some backends (a plain
 * loop on wasm), so it is computed here as a correlation of the zero-inserted, padded upper
 * tensor with the spatially flipped kernel: the same numbers, with the fast conv2d kernel.
 *
 * GPU-safe op policy (src/ops/gpu.ts): rank ≤ 4 for every kernel except Reshape, and ≤ 7 tensor
 * inputs per kernel (Concat and Pack exempt), so that WebGL 2 and WebGPU run every op here.
 */
import * as tf from '@tensorflow/tfjs';
import { derived } from './derived.js';
import { cropSpatial } from './select.js';

/** Padding of a spatial axis: zeros before and after. */
export type AxisPad = readonly [number, number];

/** How a convolution pads its input (Keras `padding`). */
export type PaddingMode = 'same' | 'valid';

/**
 * The zeros TensorFlow adds on one spatial axis for a convolution with the given geometry
 * (`same`: total = max((ceil(in/s) - 1)·s + k_eff - in, 0), the smaller half before).
 */
export function axisPadding(inSize: number, kernel: number, stride: number, dilation: number, mode: PaddingMode): AxisPad {
  const effective = (kernel - 1) * dilation + 1;
  if (mode === 'valid') return [0, 0];
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + effective - inSize, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/** Output length of one spatial axis of a convolution. */
export function convOutputSize(inSize: number, kernel: number, stride: number, dilation: number, pad: AxisPad): number {
  const effective = (kernel - 1) * dilation + 1;
  return Math.floor((inSize + pad[0] + pad[1] - effective) / stride) + 1;
}

/**
 * Inserts `stride - 1` zeros after every element of the two spatial axes of an NHWC tensor
 * ([n, h, w, c] → [n, h·sh, w·sw, c]; the last `stride - 1` rows and columns are zeros too).
 */
export function insertZeros(g: tf.Tensor4D, strides: readonly [number, number]): tf.Tensor4D {
  const [sh, sw] = strides;
  if (sh === 1 && sw === 1) return g;
  const [n, h, w, c] = g.shape;
  // Two rank-4 pads (GPU-safe; one pad of a rank-6 view fails on WebGL and WebGPU):
  // columns [n·h, w, 1, c] → [n·h, w, sw, c], then rows [n, h, 1, w·sw·c] → [n, h, sh, w·sw·c].
  const cols = sw === 1 ? g : tf.pad(tf.reshape(g, [n * h, w, 1, c]), [[0, 0], [0, 0], [0, sw - 1], [0, 0]]);
  const rows = sh === 1 ? cols : tf.pad(tf.reshape(cols, [n, h, 1, w * sw * c]), [[0, 0], [0, 0], [0, sh - 1], [0, 0]]);
  return tf.reshape(rows, [n, h * sh, w * sw, c]);
}

/** Geometry of a 2-D convolution on NHWC tensors. */
export interface Conv2DGeometry {
  readonly kernelSize: readonly [number, number];
  readonly strides: readonly [number, number];
  readonly dilation: readonly [number, number];
  readonly pads: readonly [AxisPad, AxisPad];
}

/**
 * Pads an upper tensor so that a stride-1 'valid' correlation with the flipped kernel gives the
 * transposed convolution on the (unpadded) input of spatial size `inH x inW`.
 */
export function padForTranspose(g: tf.Tensor4D, inH: number, inW: number, geo: Conv2DGeometry): tf.Tensor4D {
  const spread = insertZeros(g, geo.strides);
  const sizes = [inH, inW];
  const pads: Array<[number, number]> = [];
  for (let a = 0; a < 2; a++) {
    const effective = (geo.kernelSize[a] - 1) * geo.dilation[a] + 1;
    // zero-inserted length (outLen − 1)·s + 1; `spread` carries s − 1 trailing zeros beyond it
    const outLen = g.shape[a + 1];
    const inserted = (outLen - 1) * geo.strides[a] + 1;
    const before = effective - 1 - geo.pads[a][0];
    const after = sizes[a] - inserted + geo.pads[a][0] - (geo.strides[a] - 1);
    pads.push([before, after]);
  }
  const padded = tf.pad(spread, [[0, 0], [Math.max(pads[0][0], 0), Math.max(pads[0][1], 0)], [Math.max(pads[1][0], 0), Math.max(pads[1][1], 0)], [0, 0]]) as tf.Tensor4D;
  // a negative amount (trailing zeros not needed, or geometries TensorFlow rejects) is a crop
  return cropSpatial(padded, Math.max(-pads[0][0], 0), Math.max(-pads[0][1], 0), Math.max(-pads[1][0], 0), Math.max(-pads[1][1], 0));
}

/**
 * Backends whose Conv2DBackpropInput kernel computes the transposed convolution directly (a shader
 * or TensorFlow's op): there it is used as it is, except for the stride-1 'same' geometry (see
 * {@link FEW_CHANNEL_NATIVE}). The correlation with the zero-inserted upper
 * tensor is for the others: wasm's kernel is a slow loop; and on WebGPU (tfjs 4.22, Dawn on
 * Mesa) the kernel gave a 5% error on ml5 CREPE's first layer (kernel 512×1, stride 4), which the
 * correlation does not (the cause: sums of 65,536 terms or more, see {@link NATIVE_SUM_LIMIT}). On WebGL the correlation costs an im2col matrix of the zero-inserted size
 * (CREPE: 537 MB at batch 2), the kernel none. Dilated convolutions (which tf.conv2dTranspose does
 * not take) always use the correlation.
 */
const NATIVE_TRANSPOSE: ReadonlySet<string> = new Set(['webgl', 'tensorflow']);

/**
 * GPU backends whose Conv2DBackpropInput is used for a transposed convolution onto a number of
 * channels that is not a multiple of 4 (onto an RGB or grey image, or `[x⁺, x⁻]`'s 6), whatever
 * the stride: their conv2d shaders are vectorised over 4 output channels and fall back to a scalar
 * shader otherwise, and with strides the correlation also multiplies the inserted zeros. Other
 * transposes with stride 1 and 'same' padding are correlations everywhere. ms:
 *
 * | case | backend | correlation | Conv2DBackpropInput |
 * | --- | --- | ---: | ---: |
 * | bench-cnn's first layer, batch 8 (32 → 3 channels, 32×32, stride 1) | WebGL (Chromium, SwiftShader) | 71 | 30 |
 * | | WebGPU (Chromium, SwiftShader) | 196 | 72 |
 * | | WebGPU in Node (Dawn, Mesa llvmpipe) | 60 | 18 |
 * | the same onto `[x⁺, x⁻]`'s 6 channels | WebGL / WebGPU Chromium / Node | 68 / 795 / 137 | 49 / 146 / 36 |
 * | 32 → 32 channels, stride 1 | WebGL / WebGPU Chromium / Node | 122 / 264 / 28 | 164 / 154 / 45 |
 * | MobileNet's first layer, batch 4 (32 → 3, 224×224, stride 2) | WebGPU in Node | 1562 | 203 |
 *
 * For 32 → 32 the two WebGPU devices disagree; WebGPU keeps the correlation there.
 */
const FEW_CHANNEL_NATIVE: ReadonlySet<string> = new Set(['webgl', 'webgpu']);

/**
 * The largest sum per output (`kh · kw · Cout` terms) for which {@link FEW_CHANNEL_NATIVE} uses
 * Conv2DBackpropInput on WebGPU (WebGL's has no such limit). WebGPU's (tfjs 4.22, Dawn in Node) is wrong from 65,536 terms on (relative
 * error 2e-3 at exactly 65,536, 0.16–0.93 above; right at 64,512 and below: a 512×1 kernel with
 * 1024 channels, ml5 CREPE's first layer, gave the 5% error of {@link NATIVE_TRANSPOSE}); a
 * quarter of that keeps a margin, and transposes onto an image sum far fewer (3·3·512 = 4,608).
 */
const NATIVE_SUM_LIMIT = 16384;

/** Flips a kernel [kh, kw, ...] along its two spatial axes (one axis of a 2-D view: faster). */
export function flipSpatial(kernel: tf.Tensor4D): tf.Tensor4D {
  const [kh, kw] = kernel.shape;
  return tf.reshape(tf.reverse(tf.reshape(kernel, [kh * kw, -1]), 0), kernel.shape);
}

/**
 * The transposed 2-D convolution (vector-Jacobian product of conv2d with respect to its input):
 * `g` [N, Ho, Wo, Cout], `kernel` [kh, kw, Cin, Cout], result [N, inH, inW, Cin]. A correlation
 * with the flipped kernel, or tf.conv2dTranspose where the backend computes it directly and faster
 * (see NATIVE_TRANSPOSE and FEW_CHANNEL_NATIVE).
 */
export function conv2dTransposeByCorrelation(g: tf.Tensor4D, kernel: tf.Tensor4D, inH: number, inW: number, geo: Conv2DGeometry): tf.Tensor4D {
  const selfTransposed = isSelfTransposedSame(g, inH, inW, geo);
  const backend = tf.getBackend();
  const [kh, kw, cin, cout] = kernel.shape;
  const fewChannels = cin % 4 !== 0 && FEW_CHANNEL_NATIVE.has(backend) && (backend !== 'webgpu' || kh * kw * cout <= NATIVE_SUM_LIMIT);
  const native = fewChannels || (!selfTransposed && NATIVE_TRANSPOSE.has(backend));
  if (native && geo.dilation[0] === 1 && geo.dilation[1] === 1 && geo.pads.every(([a, b]) => a >= 0 && b >= 0)) {
    const [n] = g.shape;
    const pads: Parameters<typeof tf.conv2dTranspose>[4] = [[0, 0], [geo.pads[0][0], geo.pads[0][1]], [geo.pads[1][0], geo.pads[1][1]], [0, 0]];
    return tf.conv2dTranspose(g, kernel, [n, inH, inW, kernel.shape[2]], [geo.strides[0], geo.strides[1]], pads);
  }
  const flipped = derived('flipped', [kernel], () => tf.transpose(flipSpatial(kernel), [0, 1, 3, 2])) as tf.Tensor4D;
  const dilations: [number, number] = [geo.dilation[0], geo.dilation[1]];
  // Stride 1 with TensorFlow's 'same' padding of an odd kernel is its own transpose geometry.
  if (selfTransposed) return tf.conv2d(g, flipped, 1, 'same', 'NHWC', dilations);
  return tf.conv2d(padForTranspose(g, inH, inW, geo), flipped, 1, 'valid', 'NHWC', dilations);
}

/** Stride 1, output the input's size, pads (e−1)/2 on each side of every axis (odd effective kernel). */
function isSelfTransposedSame(g: tf.Tensor4D, inH: number, inW: number, geo: Conv2DGeometry): boolean {
  return [0, 1].every((a) => {
    const effective = (geo.kernelSize[a] - 1) * geo.dilation[a] + 1;
    return geo.strides[a] === 1 && g.shape[a + 1] === (a === 0 ? inH : inW) && effective % 2 === 1 && geo.pads[a][0] === (effective - 1) / 2 && geo.pads[a][1] === (effective - 1) / 2;
  });
}

/**
 * The transposed depthwise convolution: `g` [N, Ho, Wo, Cin·mult], `kernel` [kh, kw, Cin, mult],
 * result [N, inH, inW, Cin].
 */
export function depthwiseTransposeByCorrelation(g: tf.Tensor4D, kernel: tf.Tensor4D, inH: number, inW: number, geo: Conv2DGeometry): tf.Tensor4D {
  const [kh, kw, cin, mult] = kernel.shape;
  const padded = padForTranspose(g, inH, inW, geo);
  const perChannel = derived('flippedDepthwise', [kernel], () => tf.reshape(flipSpatial(kernel), [kh, kw, cin * mult, 1])) as tf.Tensor4D;
  const spread = tf.depthwiseConv2d(padded, perChannel, 1, 'valid', 'NHWC', [geo.dilation[0], geo.dilation[1]]);
  if (mult === 1) return spread;
  // Σ over the multiplier (the innermost axis) on a 2-D view: rank ≤ 4 for the GPU backends
  const [n, h, w] = spread.shape;
  return tf.reshape(tf.sum(tf.reshape(spread, [n * h * w * cin, mult]), 1), [n, h, w, cin]);
}
