import * as tf from '@tensorflow/tfjs';

/**
 * zennit's stabilizer: `d + ε·sign(d)` with sign(0) = +1, so a zero denominator becomes +ε.
 * With ε = 0 the denominator is returned unchanged (LRP-0 divides by zero where z = 0).
 */
export function stabilize(d: tf.Tensor, epsilon: number): tf.Tensor {
  if (epsilon === 0) return d;
  // d − ε·s with s = step(−d, −1) = +1 where d < 0, −1 where d ≥ 0. Unary and scalar ops only:
  // tf.where copies its operands, and comparisons and bool casts are slow on wasm.
  return tf.sub(d, tf.mul(tf.step(tf.neg(d), -1), epsilon));
}

/** `R / stab(d)`. */
export function divideStabilized(R: tf.Tensor, d: tf.Tensor, epsilon: number): tf.Tensor {
  return tf.div(R, stabilize(d, epsilon));
}

/** The `stabilizer` parameter shared by most rules (see `RuleDefinition.params`). */
export const STABILIZER_PARAM = Object.freeze({ name: 'stabilizer', description: 'denominator stabilizer', default: 1e-6, min: 0 } as const);
