/**
 * Maximum and Minimum: winner-take-all, like max pooling (the gradient): all relevance of an
 * output element goes to the input that produced its value, the first one on ties.
 */
import * as tf from '@tensorflow/tfjs';
import { LrpLayerError } from '../errors.js';
import type { Layer, LayerAdapter } from './adapter.js';

function checkSameShapes(layer: Layer, name: string): void {
  const shapes = (layer as unknown as { inboundNodes: Array<{ inputShapes: unknown }> }).inboundNodes[0]?.inputShapes;
  const list = Array.isArray(shapes) && shapes.every(Array.isArray) ? (shapes as unknown[][]) : [];
  const key = (s: unknown[]): string => JSON.stringify(s.slice(1));
  if (list.length < 2 || list.some((s) => key(s) !== key(list[0]))) {
    throw new LrpLayerError(name, layer.getClassName(), `Layer '${name}' (${layer.getClassName()}) merges inputs of shapes ${list.map((s) => JSON.stringify(s)).join(', ')}; tfjs-lrp explains ${layer.getClassName()} of inputs of one shape. Broadcast them first (e.g. with RepeatVector or Reshape).`);
  }
}

/** `dy` to the first input equal to `output` at each element. */
function firstWinner(inputs: readonly tf.Tensor[], output: tf.Tensor, dy: tf.Tensor): tf.Tensor[] {
  let taken = tf.zerosLike(output);
  return inputs.map((x) => {
    const wins = tf.mul(tf.cast(tf.equal(x, output), 'float32'), tf.sub(1, taken));
    taken = tf.add(taken, wins);
    return tf.mul(dy, wins);
  });
}

function selectAdapter(): LayerAdapter {
  return {
    group: 'maxPool',
    check: checkSameShapes,
    vjp: (_layer, inputs, output, dy) => firstWinner(inputs, output, dy),
    nonNegative: (_layer, nonNeg) => nonNeg.every(Boolean),
    note: 'relevance to the input that gave the value (first on ties)',
  };
}

export const maximumAdapter: LayerAdapter = selectAdapter();
export const minimumAdapter: LayerAdapter = selectAdapter();
