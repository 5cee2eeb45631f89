/**
 * LayerNormalization as a linear map with its statistic held constant (AttnLRP; Ali et al. 2022):
 * on the last axis, `y_i = Σ_k W_ik x_k + β_i` with `W_ik = γ_i (δ_ik − 1/n) / σ` and σ the
 * standard deviation the forward pass computed (layer epsilon included), one σ per sample and
 * position.
 *
 * The matrix W has the same value on every off-diagonal entry of a row, so it is carried as a
 * compact, per-position "kernel" of shape [M, 2, n] (M = samples × positions): `[:, 0, i]` the
 * diagonal `W_ii`, `[:, 1, i]` the off-diagonal value of row i. Every parameter modifier of the
 * rules (W⁺, W⁻, W + γW⁺, W², ones) is elementwise, so applied to this compact form it gives the
 * compact form of the modified matrix exactly: every linear rule (epsilon, zPlus, alphaBeta,
 * gamma, flat, wSquare, zBox) is exact on it, at 2× the input's memory instead of n× it.
 */
import * as tf from '@tensorflow/tfjs';
import type { LinearMap, LinearParams } from './linear.js';

/**
 * `Σ_{k≠i} v_k` along the last axis of [M, n], as an exclusive prefix plus an exclusive suffix sum:
 * never `Σ_k v_k − v_i`, whose cancellation loses a row's own term against the others in float32
 * (e.g. a huge `R_i / stab(0)` of a row whose modified denominator is 0 leaking into its diagonal).
 */
function othersSum(v: tf.Tensor2D): tf.Tensor2D {
  // the suffix sum as a prefix sum of the reversed rows: tfjs 4.22's WebGPU Cumsum with
  // `reverse: true` returns wrong values
  const suffix = tf.reverse(tf.cumsum(tf.reverse(v, 1), 1, true), 1);
  return tf.add(tf.cumsum(v, 1, true), suffix);
}

/** `[M, n]` views of the diagonal and the off-diagonal values of a compact kernel. */
function parts(kernel: tf.Tensor): { diag: tf.Tensor2D; off: tf.Tensor2D } {
  const [m, , n] = kernel.shape;
  const [diag, off] = tf.split(kernel as tf.Tensor3D, 2, 1);
  return { diag: tf.reshape(diag, [m, n]) as tf.Tensor2D, off: tf.reshape(off, [m, n]) as tf.Tensor2D };
}

/**
 * The compact kernel of a LayerNormalization on the last axis for input `x` [..., n]:
 * `γ / σ · (1 − 1/n)` on the diagonal and `−γ / (nσ)` off it, σ = sqrt(var(x) + epsilon).
 */
export function layerNormKernel(x: tf.Tensor, gamma: tf.Tensor | null, epsilon: number): tf.Tensor3D {
  const n = x.shape[x.rank - 1];
  const flat = tf.reshape(x, [-1, n]) as tf.Tensor2D;
  const { variance } = tf.moments(flat, 1, true);
  const inv = tf.rsqrt(tf.add(variance, epsilon)); // [M, 1]
  const scaled = gamma === null ? tf.tile(inv, [1, n]) : tf.mul(inv, gamma); // γ_i / σ, [M, n]
  const diag = tf.mul(scaled, 1 - 1 / n);
  const off = tf.mul(scaled, -1 / n);
  return tf.stack([diag, off], 1) as tf.Tensor3D;
}

/**
 * The LayerNormalization map on the last axis of an input of any rank ≥ 2 (see the module
 * comment); `epsilon` is the layer's, for its true Jacobian (`vjp`, where σ depends on x).
 */
export function layerNormMap(epsilon: number): LinearMap {
  return {
    kind: 'layerNormalization',
    group: 'dense',
    apply(x, { kernel, bias }: LinearParams) {
      const n = x.shape[x.rank - 1];
      const flat = tf.reshape(x, [-1, n]) as tf.Tensor2D;
      const { diag, off } = parts(kernel);
      // y_i = W_ii x_i + o_i Σ_{k≠i} x_k
      const y = tf.add(tf.mul(diag, flat), tf.mul(off, othersSum(flat)));
      return tf.reshape(bias === null ? y : tf.add(y, bias), x.shape);
    },
    transpose(g, kernel, inputShape) {
      const n = inputShape[inputShape.length - 1];
      const flat = tf.reshape(g, [-1, n]);
      const { diag, off } = parts(kernel);
      // (Wᵀg)_k = W_kk g_k + Σ_{i≠k} o_i g_i
      const c = tf.add(tf.mul(diag, flat), othersSum(tf.mul(off, flat) as tf.Tensor2D));
      return tf.reshape(c, [...inputShape]);
    },
    scaleKernel(kernel, scale) {
      // row i (output i) times scale_i: both its diagonal and its off-diagonal value
      return tf.mul(kernel, scale);
    },
    vjp(x, g, { kernel }) {
      // y_i = c_i u_i + β_i with u = (x − μ)/σ and c_i/σ = W_ii − o_i (γ, times a merged BatchNorm's
      // scale): Jᵀg = h − mean(h) − u · mean(h ⊙ u), h = (c/σ) ⊙ g
      const n = x.shape[x.rank - 1];
      const flat = tf.reshape(x, [-1, n]) as tf.Tensor2D;
      const { mean, variance } = tf.moments(flat, 1, true);
      const u = tf.mul(tf.sub(flat, mean), tf.rsqrt(tf.add(variance, epsilon)));
      const { diag, off } = parts(kernel);
      const h = tf.mul(tf.sub(diag, off), tf.reshape(g, [-1, n]));
      const c = tf.sub(tf.sub(h, tf.mean(h, 1, true)), tf.mul(u, tf.mean(tf.mul(h, u), 1, true)));
      return tf.reshape(c, x.shape);
    },
  };
}
