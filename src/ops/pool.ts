/**
 * Max pooling's transposed Jacobian from basic ops: all of the upper value goes to the first
 * maximum of each window (row-major window order). Written out because wasm's MaxPoolGrad and
 * MaxPoolWithArgmax kernels (tfjs 4.22) return wrong results, and so that ties resolve the same
 * way on every backend.
 *
 * On WebGPU and WebGL one shader does it (src/ops/maxPoolShader.ts). Elsewhere the window
 * offsets are read with strided one-hot depthwise convolutions (src/ops/select.ts) and scattered
 * back by interleaving them with concat; windows that tile the input (the usual 2×2 pool of
 * stride 2) take a shorter path on wasm, on a rank-5 view ({@link maxPoolTransposeTiled}).
 */
import * as tf from '@tensorflow/tfjs';
import { axisPadding, convOutputSize, PaddingMode } from './conv.js';
import { addMany } from './gpu.js';
import { maxPoolTransposeByShader, tilesExactly } from './maxPoolShader.js';
import { cropSpatial, LOWEST, stridedView } from './select.js';

interface AxisPlan {
  readonly before: number;
  /** Rows of the padded, blocked view (`blocks · stride`). */
  readonly viewSize: number;
  readonly blocks: number;
  readonly out: number;
}

function planAxis(size: number, pool: number, stride: number, padding: PaddingMode): AxisPlan {
  const [before, after] = axisPadding(size, pool, stride, 1, padding);
  const out = convOutputSize(size, pool, stride, 1, [before, after]);
  const blocks = Math.floor((pool - 1) / stride) + out;
  return { before, viewSize: blocks * stride, blocks, out };
}

/**
 * `Jᵀ dy` of max pooling for NHWC `x` whose pooled output is `pooled` (the forward's own
 * result), window `pool`, `strides`, TensorFlow padding.
 */
export function maxPoolTranspose(x: tf.Tensor4D, pooled: tf.Tensor4D, dy: tf.Tensor4D, pool: readonly [number, number], strides: readonly [number, number], padding: PaddingMode): tf.Tensor4D {
  const [n, height, width, c] = x.shape;
  const [sh, sw] = strides;
  const [padTop, padBottom] = axisPadding(height, pool[0], sh, 1, padding);
  const [padLeft, padRight] = axisPadding(width, pool[1], sw, 1, padding);
  const byShader = maxPoolTransposeByShader(x, pooled, dy, { pool, strides, before: [padTop, padLeft] });
  if (byShader !== null) return byShader;
  if (tilesExactly(x.shape, pool, strides) && BROADCASTS_AT_RANK_5.has(tf.getBackend())) return maxPoolTransposeTiled(x, pooled, dy, pool);
  const h = planAxis(height, pool[0], sh, padding);
  const w = planAxis(width, pool[1], sw, padding);
  const padded = padTop + padBottom + padLeft + padRight === 0 ? x : tf.pad(x, [[0, 0], [padTop, padBottom], [padLeft, padRight], [0, 0]], LOWEST);
  const rows = n * h.out;
  const offsets: Array<[number, number]> = [];
  for (let i = 0; i < pool[0]; i++) for (let j = 0; j < pool[1]; j++) offsets.push([i, j]);

  // Window offsets in row-major order: the first one equal to the maximum takes what is left
  // of dy, so ties go to the first maximum.
  const best = tf.reshape(pooled, [rows, 1, w.out, c]);
  let remaining = tf.reshape(dy, [rows, 1, w.out, c]);
  const share = new Map<string, tf.Tensor>();
  offsets.forEach(([i, j], k) => {
    if (k === offsets.length - 1) {
      // no earlier offset holds the maximum, so the last one does: it takes what is left
      share.set(`${i},${j}`, remaining);
      return;
    }
    const view = tf.reshape(stridedView(padded, i, j, pool[0], pool[1], sh, sw, h.out, w.out), [rows, 1, w.out, c]);
    // view ≤ best, so [view = best] = 1 − step(best − view) (fast unary ops)
    const kept = tf.mul(remaining, tf.step(tf.sub(best, view)));
    share.set(`${i},${j}`, tf.sub(remaining, kept));
    remaining = kept;
  });

  // Scatter back into the padded frame viewed as [rows, sh, Wo, sw·C] blocks of the stride:
  // per block offset, interleave the phases with concat, then place the block.
  const placed: tf.Tensor4D[] = [];
  const blocks = new Set(offsets.map(([i, j]) => `${Math.floor(i / sh)},${Math.floor(j / sw)}`));
  for (const key of blocks) {
    const [bi, bj] = key.split(',').map(Number);
    const phaseRows = Array.from({ length: sh }, (_, pi) => interleaveColumns(Array.from({ length: sw }, (_, pj) => share.get(`${bi * sh + pi},${bj * sw + pj}`) ?? null), best.shape));
    const joined = phaseRows.length === 1 ? phaseRows[0] : tf.concat(phaseRows, 1);
    const block = tf.reshape(joined, [n, h.out * sh, w.out * sw, c]) as tf.Tensor4D;
    const top = bi * sh;
    const left = bj * sw;
    const pads: Array<[number, number]> = [[0, 0], [top, h.viewSize - top - h.out * sh], [left, w.viewSize - left - w.out * sw], [0, 0]];
    placed.push(pads.every(([a, b]) => a === 0 && b === 0) ? block : tf.pad(block, pads));
  }
  // up to ⌈pool/stride⌉² blocks (9 for a 3×3 pool of stride 1): AddN in chunks of ≤ 7 inputs
  const total = addMany(placed) as tf.Tensor4D;
  // Back to the unpadded input; rows no window covers get zero.
  const extraH = Math.max(h.before + height - h.viewSize, 0);
  const extraW = Math.max(w.before + width - w.viewSize, 0);
  const grown = extraH + extraW === 0 ? total : tf.pad(total, [[0, 0], [0, extraH], [0, extraW], [0, 0]]);
  return cropSpatial(grown, h.before, grown.shape[1] - h.before - height, w.before, grown.shape[2] - w.before - width);
}

/**
 * Backends whose broadcasting binary kernels run on rank-5 views at the speed of rank 4: wasm
 * (tfjs 4.22; measured). Not cpu (generic index arithmetic in JavaScript), not WebGL/WebGPU (the
 * GPU policy of src/ops/gpu.ts: rank-5 broadcasts do not compile on WebGPU), and not native
 * TensorFlow, which could but is not tested here.
 */
const BROADCASTS_AT_RANK_5: ReadonlySet<string> = new Set(['wasm']);

/**
 * {@link maxPoolTranspose} for windows that tile the input (the common 2×2 pool of stride 2),
 * on a rank-5 view `[n·Ho, ph, Wo, pw, C]` in which every window is the axes 1 and 3 and the
 * pooled values broadcast over them, in six full-size kernels and one max pool instead of strided
 * views and a scatter (wasm, bench-cnn's three pools in an ε call: 10.3 → 6.1–6.6 ms):
 *
 * - `s = step(best − x, −1) · q` with `q_k = −(K − k)` for the k-th offset in row-major order
 *   (K offsets): `K − k ≥ 1` where x equals the window maximum, `−(K − k) ≤ −1` elsewhere;
 * - `m = maxPool(s) = K − k₁`, k₁ the first maximum;
 * - `relu(s − (m − 1))` is 1 at k₁ and 0 at every other offset (integers, exact), times dy.
 *
 * Windows tile the input, so no padding value enters and dy is placed exactly once per window.
 */
function maxPoolTransposeTiled(x: tf.Tensor4D, pooled: tf.Tensor4D, dy: tf.Tensor4D, pool: readonly [number, number]): tf.Tensor4D {
  const [n, height, width, c] = x.shape;
  const [ph, pw] = pool;
  const [ho, wo] = [height / ph, width / pw];
  const windows = [n * ho, 1, wo, 1, c];
  const x5 = tf.reshape(x, [n * ho, ph, wo, pw, c]);
  const offsets = ph * pw;
  const priority = tf.tensor5d(Float32Array.from({ length: offsets }, (_, k) => -(offsets - k)), [1, ph, 1, pw, 1]);
  // step(v, −1) is 1 for v > 0 (x below the maximum) and −1 for v = 0 (x equal to it)
  const scores = tf.mul(tf.step(tf.sub(tf.reshape(pooled, windows), x5), -1), priority);
  const first = tf.maxPool(tf.reshape(scores, x.shape) as tf.Tensor4D, [ph, pw], [ph, pw], 'valid');
  const winner = tf.relu(tf.sub(scores, tf.reshape(tf.sub(first, 1), windows)));
  return tf.reshape(tf.mul(winner, tf.reshape(dy, windows)), x.shape) as tf.Tensor4D;
}

/**
 * `concat(parts, 3)` of `[rows, 1, Wo, C]` tensors of shape `shape` (null: zeros), i.e. the columns of
 * the parts interleaved, as a sum of rank-4 pads: on wasm (tfjs 4.22) a Concat on the innermost
 * axis copies element by element in JavaScript (5 ms for two [32, 32, 32, 32] tensors), Pad and
 * Add run in the module (~1 ms together). Adding zeros changes no value.
 */
function interleaveColumns(parts: ReadonlyArray<tf.Tensor | null>, shape: readonly number[]): tf.Tensor {
  if (parts.length === 1) return parts[0] ?? tf.zeros([...shape]);
  const [rows, , wo, c] = shape;
  const k = parts.length;
  const spread: tf.Tensor[] = [];
  parts.forEach((p, j) => {
    if (p !== null) spread.push(tf.pad(tf.reshape(p, [rows, wo, 1, c]), [[0, 0], [0, 0], [j, k - 1 - j], [0, 0]]));
  });
  if (spread.length === 0) return tf.zeros([rows, 1, wo, k * c]);
  return tf.reshape(addMany(spread), [rows, 1, wo, k * c]);
}

/**
 * `Jᵀ dy` of average pooling for NHWC `x`. With 'same' padding the forward divides each window by
 * its in-bounds count n_j, while tfjs's AvgPoolGrad divides by the full window size K, so dy is
 * rescaled by K / n_j first.
 */
export function avgPoolTranspose(x: tf.Tensor4D, dy: tf.Tensor4D, pool: readonly [number, number], strides: readonly [number, number], padding: PaddingMode): tf.Tensor4D {
  const [, height, width] = x.shape;
  let scaled = dy;
  if (padding === 'same') {
    const pads = [axisPadding(height, pool[0], strides[0], 1, 'same'), axisPadding(width, pool[1], strides[1], 1, 'same')];
    const inside = tf.pad(tf.ones([1, height, width, 1]), [[0, 0], [pads[0][0], pads[0][1]], [pads[1][0], pads[1][1]], [0, 0]]) as tf.Tensor4D;
    // avgPool of the in-bounds mask over the padded frame = n_j / K
    const countOverFull = tf.avgPool(inside, [pool[0], pool[1]], [strides[0], strides[1]], 'valid');
    scaled = tf.div(dy, countOverFull) as tf.Tensor4D;
  }
  const forward = (v: tf.Tensor) => tf.avgPool(v as tf.Tensor4D, [pool[0], pool[1]], [strides[0], strides[1]], padding);
  return tf.grad(forward)(x, scaled) as tf.Tensor4D;
}
