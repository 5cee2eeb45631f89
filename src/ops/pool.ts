/**
 * Max pooling's transposed Jacobian from basic ops: all of the upper value goes to the first
 * maximum of each window (row-major window order). Written out because wasm's MaxPoolGrad kernel
 * (tfjs 4.22) drops gradients, and so that ties resolve the same way on every backend.
 */
import * as tf from '@tensorflow/tfjs';
import { axisPadding, convOutputSize, insertZeros, PaddingMode } from './conv';

/** `Jᵀ dy` of `maxPool(x)` for NHWC `x`, window `pool`, `strides`, TensorFlow padding. */
export function maxPoolTranspose(x: tf.Tensor4D, dy: tf.Tensor4D, pool: readonly [number, number], strides: readonly [number, number], padding: PaddingMode): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const pads = [axisPadding(h, pool[0], strides[0], 1, padding), axisPadding(w, pool[1], strides[1], 1, padding)];
  const ho = convOutputSize(h, pool[0], strides[0], 1, pads[0]);
  const wo = convOutputSize(w, pool[1], strides[1], 1, pads[1]);
  const padded = tf.pad(x, [[0, 0], [pads[0][0], pads[0][1]], [pads[1][0], pads[1][1]], [0, 0]], -Infinity);
  const hp = h + pads[0][0] + pads[0][1];
  const wp = w + pads[1][0] + pads[1][1];
  // One strided view per window offset: candidates [N, Ho, Wo, C, k] in row-major window order.
  const offsets: Array<[number, number]> = [];
  for (let i = 0; i < pool[0]; i++) for (let j = 0; j < pool[1]; j++) offsets.push([i, j]);
  const views = offsets.map(([i, j]) =>
    tf.stridedSlice(padded, [0, i, j, 0], [n, i + (ho - 1) * strides[0] + 1, j + (wo - 1) * strides[1] + 1, c], [1, strides[0], strides[1], 1]) as tf.Tensor4D,
  );
  const first = tf.argMax(tf.stack(views, 4), 4);
  const routed = offsets.map((_, k) => tf.mul(dy, tf.cast(tf.equal(first, k), 'float32')) as tf.Tensor4D);
  // Scatter each offset's share back to the padded input, then drop the padding.
  const spread = routed.map((r, k) => {
    const [i, j] = offsets[k];
    const z = insertZeros(r, strides);
    return tf.pad(z, [[0, 0], [i, hp - i - z.shape[1]], [j, wp - j - z.shape[2]], [0, 0]]);
  });
  const total = tf.addN(spread) as tf.Tensor4D;
  return tf.slice(total, [0, pads[0][0], pads[1][0], 0], [n, h, w, c]);
}
