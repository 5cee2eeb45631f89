/**
 * Shared algebra for rules that split the weights by sign, when the layer input is known to be
 * non-negative (after ReLU, pooling of ReLU outputs, …). Then x⁻ = 0, and since W = W⁺ + W⁻,
 *
 *     x·W⁻ = (z − b) − x·W⁺,
 *
 * so one extra forward (x·W⁺) gives every modified forward the rules need, instead of one per
 * modified weight: the same numbers as the template with one convolution fewer.
 */
import * as tf from '@tensorflow/tfjs';
import { derived } from '../src/ops/derived.js';
import type { LinearRuleContext } from './types.js';

/** The pieces of a sign-split layer with non-negative input. */
export interface PositiveInputSplit {
  /** W⁺ = max(W, 0). */
  readonly positiveKernel: tf.Tensor;
  /** x·W⁺ (no bias). */
  readonly positive: tf.Tensor;
  /** x·W⁻ (no bias) = z − b − x·W⁺. */
  readonly negative: tf.Tensor;
  /** b⁺ and b⁻ (null without bias). */
  readonly biasPositive: tf.Tensor | null;
  readonly biasNegative: tf.Tensor | null;
}

/** The split, or null when the input is not known to be ≥ 0. */
export function splitForPositiveInput(ctx: LinearRuleContext): PositiveInputSplit | null {
  if (!ctx.xNonNegative) return null;
  const { kernel, bias } = ctx.params;
  const positiveKernel = derived('positive', [kernel], () => tf.relu(kernel));
  const positive = ctx.map.apply(ctx.x, { kernel: positiveKernel, bias: null });
  const linear = bias === null ? ctx.z : channelBias(tf.sub, ctx.z, bias);
  return {
    positiveKernel,
    positive,
    negative: tf.sub(linear, positive),
    biasPositive: bias === null ? null : derived('positive', [bias], () => tf.relu(bias)),
    biasNegative: bias === null ? null : derived('negative', [bias], () => tf.minimum(bias, 0)),
  };
}

/** `t + b` (t when b is null). */
export function plusBias(t: tf.Tensor, b: tf.Tensor | null): tf.Tensor {
  return b === null ? t : channelBias(tf.add, t, b);
}

/**
 * `op(t, b)` for a bias `b` on the last axis; on rank > 4 (Conv3D's NDHWC) through a 2-D view:
 * a broadcast binary op of rank 5 does not compile on tfjs 4.22's WebGPU ("cannot index type
 * 'vec5'", the GPU policy of src/ops/gpu.ts). The same numbers on every backend.
 */
function channelBias(op: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, t: tf.Tensor, b: tf.Tensor): tf.Tensor {
  if (t.rank <= 4) return op(t, b);
  return tf.reshape(op(tf.reshape(t, [-1, b.size]), b), t.shape);
}
