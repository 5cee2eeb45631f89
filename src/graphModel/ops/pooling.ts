/**
 * Pooling ops: `MaxPool` (relevance to the window maximum), `AvgPool` (norm), `Mean` over axes
 * (norm; over the spatial axes it is global average pooling) and `Max` over axes (to the first
 * maximum; over the spatial axes global max pooling). The transposes are src/ops/pool.ts's.
 */
import * as tf from '@tensorflow/tfjs';
import { LrpLayerError } from '../../errors.js';
import type { Layer, LayerAdapter } from '../../layers/adapter.js';
import type { PaddingMode } from '../../ops/conv.js';
import { avgPoolTranspose, maxPoolTranspose } from '../../ops/pool.js';
import { attr, constantNumbers, OpLayer, opLayer } from '../opLayer.js';

const passesSign = (_: Layer, nonNeg: readonly boolean[]): boolean => nonNeg[0];

function window(layer: OpLayer): { pool: [number, number]; strides: [number, number]; padding: PaddingMode } {
  const k = attr<number[]>(layer, 'kernelSize') ?? [1, 1, 1, 1];
  const s = attr<number[]>(layer, 'strides') ?? [1, 1, 1, 1];
  return { pool: [k[1], k[2]], strides: [s[1], s[2]], padding: String(attr<string>(layer, 'pad') ?? 'valid').toLowerCase() as PaddingMode };
}

function checkPool(layer: Layer): void {
  const op = opLayer(layer);
  const format = String(attr<string>(op, 'dataFormat') ?? 'nhwc').toLowerCase();
  const pad = String(attr<string>(op, 'pad') ?? 'valid').toLowerCase();
  const k = attr<number[]>(op, 'kernelSize') ?? [1, 1, 1, 1];
  const s = attr<number[]>(op, 'strides') ?? [1, 1, 1, 1];
  if (format !== 'nhwc') throw new LrpLayerError(op.name, op.op, `Node '${op.name}' (${op.op}) uses data format ${format.toUpperCase()}; tfjs-lrp explains NHWC (channels-last) graphs only.`);
  if (pad !== 'same' && pad !== 'valid') throw new LrpLayerError(op.name, op.op, `Node '${op.name}' (${op.op}) uses padding '${pad}'; supported: SAME, VALID.`);
  if (k[0] !== 1 || k[3] !== 1 || s[0] !== 1 || s[3] !== 1) throw new LrpLayerError(op.name, op.op, `Node '${op.name}' (${op.op}) pools over the batch or channel axis (ksize [${k.join(',')}], strides [${s.join(',')}]); tfjs-lrp explains spatial pooling only.`);
}

/** `MaxPool` (NHWC, 2-D windows). */
export const maxPoolOp: LayerAdapter = {
  group: 'maxPool',
  check: checkPool,
  forward: (layer, [x]) => {
    const { pool, strides, padding } = window(opLayer(layer));
    return tf.maxPool(x as tf.Tensor4D, pool, strides, padding);
  },
  vjp: (layer, [x], output, dy) => {
    const { pool, strides, padding } = window(opLayer(layer));
    return [maxPoolTranspose(x as tf.Tensor4D, output as tf.Tensor4D, dy as tf.Tensor4D, pool, strides, padding)];
  },
  routesValues: true,
  nonNegative: passesSign,
  note: 'relevance to the window maximum',
};

/** `AvgPool` (NHWC, 2-D windows). */
export const avgPoolOp: LayerAdapter = {
  group: 'avgPool',
  check: checkPool,
  forward: (layer, [x]) => {
    const { pool, strides, padding } = window(opLayer(layer));
    return tf.avgPool(x as tf.Tensor4D, pool, strides, padding);
  },
  vjp: (layer, [x], _output, dy) => {
    const { pool, strides, padding } = window(opLayer(layer));
    return [avgPoolTranspose(x as tf.Tensor4D, dy as tf.Tensor4D, pool, strides, padding)];
  },
  nonNegative: passesSign,
  note: 'norm: in proportion to the values',
};

/** The reduced axes of `Mean`/`Max` (normalised, sorted), refusing the batch axis. */
function reducedAxes(layer: OpLayer, rank: number): number[] {
  const raw = constantNumbers(layer, 1, 'reduction axes');
  const axes = [...new Set(raw.map((a) => (a < 0 ? a + rank : a)))].sort((a, b) => a - b);
  if (axes.includes(0)) throw new LrpLayerError(layer.name, layer.op, `Node '${layer.name}' (${layer.op}) reduces over the batch axis (axes [${raw.join(',')}]); tfjs-lrp explains each sample on its own.`);
  return axes;
}

function checkReduction(layer: Layer): void {
  const op = opLayer(layer);
  constantNumbers(op, 1, 'reduction axes');
}

/** `dy` of the reduced shape, reshaped to broadcast over `x` (the reduced axes kept as 1). */
function keptShape(x: tf.Tensor, axes: readonly number[]): number[] {
  return x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

/** `Mean` over axes (keep_dims or not): norm, in proportion to the averaged values. */
export const meanOp: LayerAdapter = {
  group: 'avgPool',
  check: checkReduction,
  forward: (layer, [x]) => {
    const op = opLayer(layer);
    return tf.mean(x, reducedAxes(op, x.rank), attr<boolean>(op, 'keepDims') === true);
  },
  vjp: (layer, [x], _output, dy) => {
    const axes = reducedAxes(opLayer(layer), x.rank);
    const size = axes.reduce((n, a) => n * x.shape[a], 1);
    return [tf.mul(tf.onesLike(x), tf.div(tf.reshape(dy, keptShape(x, axes)), size))];
  },
  nonNegative: passesSign,
  note: 'norm: in proportion to the averaged values (global average pooling over the spatial axes)',
};

/** `Max` over axes: all relevance to the first maximum (row-major) of each reduced group. */
export const maxOp: LayerAdapter = {
  group: 'maxPool',
  check: checkReduction,
  forward: (layer, [x]) => {
    const op = opLayer(layer);
    return tf.max(x, reducedAxes(op, x.rank), attr<boolean>(op, 'keepDims') === true);
  },
  vjp: (layer, [x], _output, dy) => {
    const axes = reducedAxes(opLayer(layer), x.rank);
    const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
    const perm = [...kept, ...axes];
    const inverse = perm.map((_, i) => perm.indexOf(i));
    const keptDims = kept.map((i) => x.shape[i]);
    const positions = axes.reduce((n, a) => n * x.shape[a], 1);
    const grouped = tf.reshape(tf.transpose(x, perm), [...keptDims, positions]);
    const first = tf.cast(tf.oneHot(tf.argMax(grouped, -1), positions), 'float32');
    const routed = tf.mul(first, tf.reshape(dy, [...keptDims, 1]));
    return [tf.transpose(tf.reshape(routed, perm.map((i) => x.shape[i])), inverse)];
  },
  nonNegative: passesSign,
  note: 'relevance to the maximum (global max pooling over the spatial axes)',
};
