import * as tf from '@tensorflow/tfjs';

/**
 * zennit's stabilizer: `d + ε·sign(d)` with sign(0) = +1, so a zero denominator becomes +ε.
 * With ε = 0 the denominator is returned unchanged (LRP-0 divides by zero where z = 0).
 */
export function stabilize(d: tf.Tensor, epsilon: number): tf.Tensor {
  if (epsilon === 0) return d;
  // (d + ε) − 2ε·[d < 0], with [d < 0] = step(−d). Unary and scalar ops only: tf.where copies
  // its operands, and comparisons and bool casts are slow on wasm.
  return tf.sub(tf.add(d, epsilon), tf.mul(tf.step(tf.neg(d)), 2 * epsilon));
}

/** `R / stab(d)`. */
export function divideStabilized(R: tf.Tensor, d: tf.Tensor, epsilon: number): tf.Tensor {
  return tf.div(R, stabilize(d, epsilon));
}
