/** Pooling layers: max pooling moves relevance to the maximum, average pooling is `norm`. */
import * as tf from '@tensorflow/tfjs';
import type { PaddingMode } from '../ops/conv.js';
import { avgPoolTranspose, maxPoolTranspose } from '../ops/pool.js';
import { configOf, Layer, LayerAdapter, requireChannelsLast, tupleOf } from './adapter.js';

const passesSign = (_: Layer, nonNeg: readonly boolean[]): boolean => nonNeg[0];

/** Window geometry of a pooling layer (1-D pools as 2-D of height 1). */
function poolConfig(layer: Layer, x: tf.Tensor): { oneD: boolean; pool: number[]; strides: number[]; padding: PaddingMode } {
  const c = configOf(layer);
  const oneD = x.rank === 3;
  const pool = tupleOf(c.poolSize, oneD ? 1 : 2, 2);
  const strides = tupleOf(c.strides ?? c.poolSize, oneD ? 1 : 2, pool[0]);
  return { oneD, pool, strides, padding: String(c.padding ?? 'valid') as PaddingMode };
}

/** MaxPooling1D/2D: all relevance of a window to its first maximum. */
export const maxPoolingAdapter: LayerAdapter = {
  group: 'maxPool',
  check: requireChannelsLast,
  forward: (layer, [x]) => {
    const { oneD, pool, strides, padding } = poolConfig(layer, x);
    if (!oneD) return tf.maxPool(x as tf.Tensor4D, [pool[0], pool[1]], [strides[0], strides[1]], padding);
    return tf.squeeze(tf.maxPool(tf.expandDims(x, 1) as tf.Tensor4D, [1, pool[0]], [1, strides[0]], padding), [1]);
  },
  vjp: (layer, [x], output, dy) => {
    const { oneD, pool, strides, padding } = poolConfig(layer, x);
    if (oneD) {
      const r = maxPoolTranspose(tf.expandDims(x, 1) as tf.Tensor4D, tf.expandDims(output, 1) as tf.Tensor4D, tf.expandDims(dy, 1) as tf.Tensor4D, [1, pool[0]], [1, strides[0]], padding);
      return [tf.squeeze(r, [1])];
    }
    return [maxPoolTranspose(x as tf.Tensor4D, output as tf.Tensor4D, dy as tf.Tensor4D, [pool[0], pool[1]], [strides[0], strides[1]], padding)];
  },
  routesValues: true,
  nonNegative: passesSign,
  note: 'relevance to the window maximum',
};

/** AveragePooling1D/2D: the layer's own transposed Jacobian, used by `norm`. */
export const averagePoolingAdapter: LayerAdapter = {
  group: 'avgPool',
  check: requireChannelsLast,
  vjp: (layer, [x], _output, dy) => {
    const { oneD, pool, strides, padding } = poolConfig(layer, x);
    if (oneD) {
      const r = avgPoolTranspose(tf.expandDims(x, 1) as tf.Tensor4D, tf.expandDims(dy, 1) as tf.Tensor4D, [1, pool[0]], [1, strides[0]], padding);
      return [tf.squeeze(r, [1])];
    }
    return [avgPoolTranspose(x as tf.Tensor4D, dy as tf.Tensor4D, [pool[0], pool[1]], [strides[0], strides[1]], padding)];
  },
  nonNegative: passesSign,
  note: 'norm: in proportion to the values',
};

/** Spatial axes of a channels-last input [N, ..., C]. */
const spatialAxes = (x: tf.Tensor): number[] => Array.from({ length: x.rank - 2 }, (_, i) => i + 1);

export const globalAveragePoolingAdapter: LayerAdapter = {
  group: 'avgPool',
  check: requireChannelsLast,
  vjp: (_layer, [x], _output, dy) => {
    const size = spatialAxes(x).reduce((n, a) => n * x.shape[a], 1);
    const shape = [x.shape[0], ...spatialAxes(x).map(() => 1), x.shape[x.rank - 1]];
    return [tf.mul(tf.onesLike(x), tf.div(tf.reshape(dy, shape), size))];
  },
  nonNegative: passesSign,
  note: 'norm: in proportion to the values',
};

export const globalMaxPoolingAdapter: LayerAdapter = {
  group: 'maxPool',
  check: requireChannelsLast,
  vjp: (_layer, [x], _output, dy) => {
    // All of dy to the first maximum of each channel (row-major order).
    const [n, c] = [x.shape[0], x.shape[x.rank - 1]];
    const positions = x.size / (n * c);
    const byChannel = tf.transpose(tf.reshape(x, [n, positions, c]), [0, 2, 1]);
    const first = tf.cast(tf.oneHot(tf.argMax(byChannel, 2), positions), 'float32');
    const routed = tf.mul(first, tf.reshape(dy, [n, c, 1]));
    return [tf.reshape(tf.transpose(routed, [0, 2, 1]), x.shape)];
  },
  routesValues: true,
  nonNegative: passesSign,
  note: 'relevance to the maximum',
};
