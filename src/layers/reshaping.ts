/** Layers that move values around: relevance moves with them (the gradient). */
import * as tf from '@tensorflow/tfjs';
import { cropSpatial } from '../ops/select.js';
import { applyLayer, configOf, LayerAdapter, requireChannelsLast, tupleOf, vjpByGradient } from './adapter.js';

const passesSign = (_: unknown, nonNeg: readonly boolean[]): boolean => nonNeg.every(Boolean);
const note = 'relevance moves with the values';

export const reshapeAdapter: LayerAdapter = {
  group: 'reshape',
  check: requireChannelsLast,
  // Flatten and Reshape keep the batch axis and reorder nothing (channels-last)
  forward: (layer, [x]) => {
    const target = layer.getClassName() === 'Flatten' ? [-1] : (configOf(layer).targetShape as number[]);
    return tf.reshape(x, [x.shape[0], ...target]);
  },
  vjp: (_layer, [x], _output, dy) => [tf.reshape(dy, x.shape)],
  routesValues: true,
  nonNegative: passesSign,
  note,
};

export const permuteAdapter: LayerAdapter = {
  group: 'reshape',
  vjp: (layer, _inputs, _output, dy) => {
    const dims = configOf(layer).dims as number[];
    const perm = [0, ...dims];
    const inverse = perm.map((_, i) => perm.indexOf(i));
    return [tf.transpose(dy, inverse)];
  },
  routesValues: true,
  nonNegative: passesSign,
  note,
};

function pairs(value: unknown): [[number, number], [number, number]] {
  if (typeof value === 'number') return [[value, value], [value, value]];
  const v = value as Array<number | number[]>;
  const axis = (a: number | number[]): [number, number] => (typeof a === 'number' ? [a, a] : [a[0], a[1]]);
  return [axis(v[0]), axis(v[1])];
}

export const zeroPadding2dAdapter: LayerAdapter = {
  group: 'reshape',
  check: requireChannelsLast,
  vjp: (layer, _inputs, _output, dy) => {
    const [[top, bottom], [left, right]] = pairs(configOf(layer).padding);
    return [cropSpatial(dy as tf.Tensor4D, top, bottom, left, right)];
  },
  routesValues: true,
  nonNegative: passesSign,
  note,
};

export const cropping2dAdapter: LayerAdapter = {
  group: 'reshape',
  check: requireChannelsLast,
  vjp: (layer, _inputs, _output, dy) => {
    const [[top, bottom], [left, right]] = pairs(configOf(layer).cropping);
    return [tf.pad(dy, [[0, 0], [top, bottom], [left, right], [0, 0]])];
  },
  routesValues: true,
  nonNegative: passesSign,
  note,
};

export const upSampling2dAdapter: LayerAdapter = {
  group: 'reshape',
  check: requireChannelsLast,
  vjp: (layer, inputs, _output, dy) => {
    const c = configOf(layer);
    if (c.interpolation !== undefined && c.interpolation !== 'nearest') {
      return vjpByGradient((xs) => applyLayer(layer, xs), inputs, dy);
    }
    // Σ over each sh × sw block of copies: a strided depthwise convolution with a kernel of ones
    // (rank 4 for the GPU backends, and native on wasm, unlike a sum over a rank-6 view)
    const [sh, sw] = tupleOf(c.size, 2, 2);
    const channels = (inputs[0] as tf.Tensor4D).shape[3];
    return [tf.depthwiseConv2d(dy as tf.Tensor4D, tf.ones([sh, sw, channels, 1]) as tf.Tensor4D, [sh, sw], 'valid')];
  },
  nonNegative: passesSign,
  note: 'relevance of the copies summed',
};
