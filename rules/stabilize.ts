import * as tf from '@tensorflow/tfjs';

/**
 * zennit's stabilizer: `d + ε·sign(d)` with sign(0) = +1, so a zero denominator becomes +ε.
 * With ε = 0 the denominator is returned unchanged (LRP-0 divides by zero where z = 0).
 */
export function stabilize(d: tf.Tensor, epsilon: number): tf.Tensor {
  if (epsilon === 0) return d;
  return tf.where(tf.greaterEqual(d, 0), tf.add(d, epsilon), tf.sub(d, epsilon));
}

/** `R / stab(d)`. */
export function divideStabilized(R: tf.Tensor, d: tf.Tensor, epsilon: number): tf.Tensor {
  return tf.div(R, stabilize(d, epsilon));
}
