/**
 * Dot (`z = Σ_i a_i b_i` along the given axes): rule `product` — the output split over its product
 * terms in proportion, half of each term's relevance to each factor (AttnLRP). With
 * `normalize: true` the L2 norms are held constant, like LayerNormalization's σ (a rule of its own
 * for that case; the gradient methods use the layer's true Jacobian).
 */
import * as tf from '@tensorflow/tfjs';
import { productRule } from '../../rules/product.js';
import { divideStabilized } from '../../rules/stabilize.js';
import type { LayerRule, LayerRuleContext } from '../../rules/types.js';
import { LrpLayerError } from '../errors.js';
import { configOf, Layer, LayerAdapter } from './adapter.js';

/** The input shapes of the layer's first call (batch axis included), when known. */
function inputShapesOf(layer: Layer): unknown[][] | undefined {
  const shapes = (layer as unknown as { inboundNodes: Array<{ inputShapes: unknown }> }).inboundNodes[0]?.inputShapes;
  return Array.isArray(shapes) && shapes.every(Array.isArray) ? (shapes as unknown[][]) : undefined;
}

/** The contracted axis of each input (non-negative, batch axis = 0). */
function axesOf(layer: Layer, ranks: readonly number[]): [number, number] {
  const raw = configOf(layer).axes;
  const pick = (k: number): number => {
    const a = Number(Array.isArray(raw) ? raw[k] : raw);
    return a < 0 ? a + ranks[k] : a;
  };
  return [pick(0), pick(1)];
}

function checkDot(layer: Layer, name: string): void {
  const shapes = inputShapesOf(layer);
  const ranks = shapes?.map((s) => s.length) ?? [];
  if (ranks.length !== 2 || ranks[0] !== ranks[1] || (ranks[0] !== 2 && ranks[0] !== 3)) {
    throw new LrpLayerError(name, 'Dot', `Layer '${name}' (Dot) has inputs of ranks [${ranks.join(', ')}]; tfjs-lrp explains Dot of two inputs of the same rank, 2 ([N, D]) or 3 ([N, P, D]). Reshape the inputs to that form.`);
  }
  const [a0, a1] = axesOf(layer, ranks);
  if (a0 < 1 || a1 < 1) throw new LrpLayerError(name, 'Dot', `Layer '${name}' (Dot) contracts the batch axis (axes ${JSON.stringify(configOf(layer).axes)}); use an axis ≥ 1.`);
}

/** `Σ_d a_d b_d` on the contracted axes, as tfjs-layers' batchDot for rank 2 ([N, 1]) and rank 3 ([N, P, Q]). */
export function batchDot(a: tf.Tensor, b: tf.Tensor, axes: readonly [number, number]): tf.Tensor {
  if (a.rank === 2) return tf.sum(tf.mul(a, b), 1, true);
  const last = (x: tf.Tensor, axis: number): tf.Tensor3D => (axis === 2 ? x : tf.transpose(x, [0, 2, 1])) as tf.Tensor3D;
  return tf.matMul(last(a, axes[0]), last(b, axes[1]), false, true);
}

/** `1 / ‖x‖` along `axis` (kept), as tfjs-layers' l2Normalize: rsqrt(max(Σx², 1e-7)). */
function inverseNorm(x: tf.Tensor, axis: number): tf.Tensor {
  return tf.rsqrt(tf.maximum(tf.sum(tf.square(x), axis, true), 1e-7));
}

/**
 * The product rule on a `Dot(normalize: true)` (the cosine): the terms `â_i b̂_i` of the normalised
 * inputs with their norms held constant, half of each term's relevance to each factor. (The layer's
 * true Jacobian, which the gradient methods use, includes the norms; with it the cosine, being
 * scale-invariant, would pass no relevance at all: x·∇ = 0.)
 */
function normalizedProductRule(layer: Layer, stabilizer: number): LayerRule {
  const plain = productRule({ stabilizer });
  return Object.freeze({
    ...plain,
    relevance(ctx: LayerRuleContext) {
      const [a, b] = ctx.inputs;
      const axes = axesOf(layer, [a.rank, b.rank]);
      const [na, nb] = [tf.mul(a, inverseNorm(a, axes[0])), tf.mul(b, inverseNorm(b, axes[1]))];
      const g = divideStabilized(ctx.R, ctx.output, stabilizer);
      const [ga, gb] = tf.grads((u: tf.Tensor, v: tf.Tensor) => batchDot(u, v, axes))([na, nb], g);
      return [tf.mul(tf.mul(na, ga), 0.5), tf.mul(tf.mul(nb, gb), 0.5)];
    },
  });
}

export const dotAdapter: LayerAdapter = {
  group: 'other',
  check: checkDot,
  // the layer's own Jacobian (tfjs' l2Normalize included when normalize: true)
  vjp: (layer, inputs, _output, dy) => {
    const [a, b] = inputs;
    const axes = axesOf(layer, [a.rank, b.rank]);
    const normalize = configOf(layer).normalize === true;
    const f = (u: tf.Tensor, v: tf.Tensor): tf.Tensor => (normalize ? batchDot(tf.mul(u, inverseNorm(u, axes[0])), tf.mul(v, inverseNorm(v, axes[1])), axes) : batchDot(u, v, axes));
    return tf.grads(f)([a, b], dy);
  },
  defaultRule: (params, layer) => {
    const stabilizer = params?.stabilizer ?? 1e-6;
    return layer !== undefined && configOf(layer).normalize === true ? normalizedProductRule(layer, stabilizer) : productRule({ stabilizer });
  },
  note: 'product: split over the product terms, half to each factor',
};
