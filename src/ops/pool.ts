/**
 * Max pooling's transposed Jacobian from basic ops: all of the upper value goes to the first
 * maximum of each window (row-major window order). Written out because wasm's MaxPoolGrad and
 * MaxPoolWithArgmax kernels (tfjs 4.22) return wrong results, and so that ties resolve the same
 * way on every backend.
 *
 * The padded input is viewed as [N, Hb, sh, Wb, sw, C] (blocks of the stride), so the k·k window
 * offsets are plain slices of that view and the scatter back is one pad per offset.
 */
import * as tf from '@tensorflow/tfjs';
import { axisPadding, convOutputSize, PaddingMode } from './conv';

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

/** Pads (with `value`) or crops the two spatial axes of NHWC `t` to `[before, before + size)` windows. */
function fitSpatial(t: tf.Tensor4D, h: AxisPlan, w: AxisPlan, value: number): tf.Tensor4D {
  const [, height, width] = t.shape;
  const padH: [number, number] = [h.before, Math.max(h.viewSize - h.before - height, 0)];
  const padW: [number, number] = [w.before, Math.max(w.viewSize - w.before - width, 0)];
  const padded = tf.pad(t, [[0, 0], padH, padW, [0, 0]], value);
  if (padded.shape[1] === h.viewSize && padded.shape[2] === w.viewSize) return padded;
  return tf.slice(padded, [0, 0, 0, 0], [-1, h.viewSize, w.viewSize, -1]);
}

/** `Jᵀ dy` of `maxPool(x)` for NHWC `x`, window `pool`, `strides`, TensorFlow padding. */
export function maxPoolTranspose(x: tf.Tensor4D, dy: tf.Tensor4D, pool: readonly [number, number], strides: readonly [number, number], padding: PaddingMode): tf.Tensor4D {
  const [n, height, width, c] = x.shape;
  const [sh, sw] = strides;
  const h = planAxis(height, pool[0], sh, padding);
  const w = planAxis(width, pool[1], sw, padding);
  const padded = fitSpatial(x, h, w, -Infinity);
  // Only rank-4 slices and pads: wasm runs those fast, and higher ranks slowly.
  const rows = n * h.out;
  const regions = new Map<string, tf.Tensor4D>();
  const region = (bi: number, bj: number): tf.Tensor4D => {
    const key = `${bi},${bj}`;
    let r = regions.get(key);
    if (r === undefined) {
      const block = tf.slice(padded, [0, bi * sh, bj * sw, 0], [n, h.out * sh, w.out * sw, c]);
      r = tf.reshape(block, [rows, sh, w.out, sw * c]);
      regions.set(key, r);
    }
    return r;
  };
  const offsets: Array<[number, number]> = [];
  for (let i = 0; i < pool[0]; i++) for (let j = 0; j < pool[1]; j++) offsets.push([i, j]);
  const view = ([i, j]: [number, number]) => tf.slice(region(Math.floor(i / sh), Math.floor(j / sw)), [0, i % sh, 0, (j % sw) * c], [rows, 1, w.out, c]);

  // Running maximum over the window offsets; a strictly greater value wins, so ties keep the first.
  let best = view(offsets[0]);
  let index: tf.Tensor = tf.zerosLike(best);
  for (let k = 1; k < offsets.length; k++) {
    const candidate = view(offsets[k]);
    const better = tf.greater(candidate, best);
    best = tf.where(better, candidate, best);
    index = tf.where(better, tf.fill(index.shape, k), index);
  }
  const upper = tf.reshape(dy, [rows, 1, w.out, c]);
  const share = new Map(offsets.map((o, k) => [`${o[0]},${o[1]}`, tf.mul(upper, tf.cast(tf.equal(index, k), 'float32'))]));

  // Scatter back: per block offset, interleave the phases with concat, then place the block.
  const zero = tf.zerosLike(upper);
  const placed: tf.Tensor4D[] = [];
  for (const key of regions.keys()) {
    const [bi, bj] = key.split(',').map(Number);
    const phaseRows = Array.from({ length: sh }, (_, pi) =>
      tf.concat(Array.from({ length: sw }, (_, pj) => share.get(`${bi * sh + pi},${bj * sw + pj}`) ?? zero), 3),
    );
    const block = tf.reshape(tf.concat(phaseRows, 1), [n, h.out * sh, w.out * sw, c]) as tf.Tensor4D;
    const top = bi * sh;
    const left = bj * sw;
    placed.push(tf.pad(block, [[0, 0], [top, h.viewSize - top - h.out * sh], [left, w.viewSize - left - w.out * sw], [0, 0]]));
  }
  const total = placed.length === 1 ? placed[0] : (tf.addN(placed) as tf.Tensor4D);
  // Back to the unpadded input; rows no window covers get zero.
  const grown = tf.pad(total, [[0, 0], [0, Math.max(h.before + height - h.viewSize, 0)], [0, Math.max(w.before + width - w.viewSize, 0)], [0, 0]]);
  return tf.slice(grown, [0, h.before, w.before, 0], [n, height, width, c]);
}
