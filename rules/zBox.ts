import * as tf from '@tensorflow/tfjs';
import { LrpRuleError } from '../src/errors.js';
import { derived } from '../src/ops/derived.js';
import { divideStabilized, STABILIZER_PARAM } from './stabilize.js';
import { CustomInput, keepParams, mapParams, negativePart, positivePart, templateRule } from './template.js';
import type { LinearRule, LinearRuleContext, RuleDefinition } from './types.js';
import { requireNonNegative } from './validate.js';

/** Options of {@link zBoxRule}. */
export interface ZBoxOptions {
  /** Lowest input value: a number, or a tensor broadcastable to the layer input. */
  readonly low: number | tf.Tensor;
  /** Highest input value: a number, or a tensor broadcastable to the layer input. */
  readonly high: number | tf.Tensor;
  /** Denominator stabilizer. Default 1e-6. */
  readonly stabilizer?: number;
}

function bound(name: 'low' | 'high', value: number | tf.Tensor): CustomInput {
  return {
    name,
    apply(x) {
      if (typeof value !== 'number') {
        const s = value.shape;
        const fits = s.length <= x.rank && s.every((d, i) => d === 1 || d === x.shape[x.rank - s.length + i]);
        if (!fits) {
          throw new LrpRuleError('zBox', `Rule 'zBox': '${name}' of shape [${s.join(',')}] does not broadcast to the layer input [${x.shape.join(',')}]. Pass a number or a tensor of the input's shape without the batch axis, e.g. [${x.shape.slice(1).join(',')}].`);
        }
      }
      return tf.mul(tf.onesLike(x), value);
    },
  };
}

/**
 * z^B (zennit `ZBox`): `R_i = Σ_j (x_iW_ij − l_iW⁺_ij − h_iW⁻_ij) / stab(Σ_i' …) R_j`, for inputs
 * bounded by `low ≤ x ≤ high` (usually the first layer).
 */
export function zBoxRule(options: ZBoxOptions): LinearRule {
  if (options === undefined || options.low === undefined || options.high === undefined) {
    throw new LrpRuleError('zBox', "Rule 'zBox' needs the input bounds: pass { low, high } (numbers or tensors broadcastable to the input), e.g. { low: 0, high: 1 } for images scaled to [0, 1].");
  }
  const { low, high } = options;
  for (const [k, v] of [['low', low], ['high', high]] as const) {
    if (typeof v === 'number' ? !Number.isFinite(v) : typeof v !== 'object' || v === null || typeof v.shape !== 'object') {
      throw new LrpRuleError('zBox', `Rule 'zBox': '${k}' must be a finite number or a tf.Tensor, got ${String(v)}.`);
    }
  }
  if (typeof low === 'number' && typeof high === 'number' && !(low <= high)) {
    throw new LrpRuleError('zBox', `Rule 'zBox': low must be ≤ high, got low=${low}, high=${high}.`);
  }
  const stabilizer = requireNonNegative('zBox', 'stabilizer', options.stabilizer ?? 1e-6);
  return templateRule('zBox', { low, high, stabilizer }, {
    forwards: [
      { input: 'identity', params: keepParams },
      { input: bound('low', low), params: mapParams('positive', positivePart) },
      { input: bound('high', high), params: mapParams('negative', negativePart) },
    ],
    gradients: (R, [o1, o2, o3]) => {
      const g = divideStabilized(R, tf.sub(tf.sub(o1 as tf.Tensor, o2 as tf.Tensor), o3 as tf.Tensor), stabilizer);
      const minusG = tf.neg(g);
      return [g, minusG, minusG];
    },
    reducer: 'inputTimesGradient',
  }, typeof low === 'number' && typeof high === 'number' ? (ctx) => zBoxScalarBounds(ctx, low, high, stabilizer) : undefined);
}

/** Map kinds whose forward is linear in the input (so a constant input can be mapped once). */
const LINEAR_IN_X: ReadonlySet<string> = new Set(['dense', 'conv1d', 'conv2d', 'depthwiseConv2d', 'conv2dTranspose']);

/**
 * z-box with number bounds: l·W⁺ and h·W⁻ applied to constant inputs do not depend on the batch,
 * so the denominator is `z − K` with `K = b + l·(1·W⁺) + h·(1·W⁻)` of one sample (cached per
 * weights and input shape), and `x ⊙ Wᵀg − l·W⁺ᵀg − h·W⁻ᵀg = x ⊙ Wᵀg − (l·W⁺ + h·W⁻)ᵀg`: no
 * batch-sized forward and two transposed maps instead of three. (`1·W⁺` is the layer map on ones,
 * so a convolution's padding counts as zeros, as in the template.)
 */
function zBoxScalarBounds(ctx: LinearRuleContext, low: number, high: number, stabilizer: number): tf.Tensor | null {
  const { x, z, R, map } = ctx;
  // maps linear in x only (a LayerNormalization map normalizes its input: ones would not do);
  // and z − K broadcasts: not at rank 5 on WebGPU (src/ops/gpu.ts)
  if (!LINEAR_IN_X.has(map.kind) || z.rank > 4) return null;
  const { kernel, bias } = ctx.params;
  const sample = [1, ...x.shape.slice(1)];
  const sources = bias === null ? [kernel] : [kernel, bias];
  const offset = derived(`zBox ${low} ${high} [${sample.join(',')}]`, sources, () => {
    const ones = tf.ones(sample);
    const bounded = tf.add(tf.mul(map.apply(ones, { kernel: tf.relu(kernel), bias: null }), low), tf.mul(map.apply(ones, { kernel: negativePart(kernel), bias: null }), high));
    return bias === null ? bounded : tf.add(bounded, bias);
  });
  const boundKernel = derived(`zBox ${low} ${high}`, [kernel], () => tf.add(tf.mul(tf.relu(kernel), low), tf.mul(negativePart(kernel), high)));
  const g = divideStabilized(R, tf.sub(z, offset), stabilizer);
  return tf.sub(tf.mul(x, map.transpose(g, kernel, x.shape)), map.transpose(g, boundKernel, x.shape));
}

/** The z-box rule, described (see {@link RuleDefinition}). */
export const zBoxDefinition: RuleDefinition = Object.freeze<RuleDefinition>({
  name: 'zBox',
  summary: 'z-box: for inputs bounded by low ≤ x ≤ high (the first layer)',
  appliesTo: 'linear',
  params: [
    { name: 'low', description: 'lowest input value (z-box, epsilonGammaBox)', required: true, tensor: true, example: 0 },
    { name: 'high', description: 'highest input value (z-box, epsilonGammaBox)', required: true, tensor: true, example: 1 },
    STABILIZER_PARAM,
  ],
  firstLayer: true,
  requirement: { what: 'the input bounds', exampleFor: 'images scaled to [0, 1]' },
  references: { zennit: 'ZBox', paper: 'Montavon et al. 2017, Pattern Recognition (deep Taylor decomposition)' },
  make: (p) => zBoxRule({ low: p.low as number | tf.Tensor, high: p.high as number | tf.Tensor, stabilizer: p.stabilizer }),
});
