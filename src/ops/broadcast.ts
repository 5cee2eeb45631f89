/**
 * Undoing Keras's broadcasting of merge-layer inputs (Add, Average, Multiply…): a tensor shaped
 * like the merged output summed back to one input's shape, the adjoint of the broadcast.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * `t` (shaped like the merge output) summed to `shape` (one input's shape), as the gradient of a
 * broadcast: Keras expands a lower-rank input at axis 1 until the ranks agree, then broadcasts
 * every axis of size 1. Returns `t` itself when the shapes already agree.
 */
export function sumToShape(t: tf.Tensor, shape: readonly number[]): tf.Tensor {
  if (t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i])) return t;
  const extra = t.rank - shape.length;
  if (extra < 0) throw new Error(`internal: cannot sum a rank-${t.rank} tensor to rank ${shape.length}`);
  // the input as Keras saw it: [s0, 1 × extra, s1, …]
  const expanded = shape.length === 0 ? new Array<number>(t.rank).fill(1) : [shape[0], ...new Array<number>(extra).fill(1), ...shape.slice(1)];
  const axes = expanded.flatMap((d, i) => (d === 1 && t.shape[i] !== 1 ? [i] : []));
  const summed = axes.length === 0 ? t : tf.sum(t, axes, true);
  return tf.reshape(summed, [...shape]);
}
