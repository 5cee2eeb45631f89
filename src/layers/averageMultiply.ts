/**
 * The element-wise merge layers Average (a proportional split, `norm`, as Add) and Multiply (the
 * uniform rule of AttnLRP: R/n to each input). Both run their own forward, exactly as tfjs-layers'
 * `Merge` does (lower-rank inputs expanded at axis 1, then left to right), so the Bidirectional
 * `ave` and `mul` merges reuse them.
 */
import * as tf from '@tensorflow/tfjs';
import { sumToShape } from '../ops/broadcast.js';
import type { LayerAdapter } from './adapter.js';

/** The inputs at one rank, as tfjs' Merge layers see them (expanded at axis 1). */
function sameRank(xs: readonly tf.Tensor[]): tf.Tensor[] {
  const rank = Math.max(...xs.map((x) => x.rank));
  return xs.map((x) => {
    let t = x;
    while (t.rank < rank) t = tf.expandDims(t, 1);
    return t;
  });
}

/** `mean` of the inputs, as tfjs-layers computes it: `(1/n) · (x_1 + … + x_n)`. */
function average(xs: readonly tf.Tensor[]): tf.Tensor {
  const [first, ...rest] = sameRank(xs);
  const sum = rest.reduce((acc, x) => tf.add(acc, x), first);
  return tf.mul(1 / xs.length, sum);
}

/** The product of the inputs, left to right (tfjs-layers' Multiply). */
function product(xs: readonly tf.Tensor[]): tf.Tensor {
  const [first, ...rest] = sameRank(xs);
  return rest.reduce((acc, x) => tf.mul(acc, x), first);
}

/** Keras `Average`: Norm on the mean, `R_k = (x_k / n) / stab(mean) · R` (as Add). */
export const averageAdapter: LayerAdapter = {
  group: 'add',
  forward: (_layer, inputs) => average(inputs),
  vjp: (_layer, inputs, _output, dy) => {
    const share = tf.div(dy, inputs.length);
    return inputs.map((x) => sumToShape(share, x.shape));
  },
  nonNegative: (_layer, nonNeg) => nonNeg.every(Boolean),
  note: 'norm: split in proportion to the averaged inputs',
};

/** Keras `Multiply`: the uniform rule (each of the n inputs gets R/n); its Jacobian for gradient methods. */
export const multiplyAdapter: LayerAdapter = {
  group: 'multiply',
  forward: (_layer, inputs) => product(inputs),
  vjp: (_layer, inputs, _output, dy) => {
    const full = sameRank(inputs);
    return inputs.map((x, k) => {
      const others = full.filter((_, m) => m !== k);
      return sumToShape(others.reduce((acc, o) => tf.mul(acc, o), dy), x.shape);
    });
  },
  nonNegative: (_layer, nonNeg) => nonNeg.every(Boolean),
  note: 'uniform: each multiplied input gets R/n',
};
