import * as tf from '@tensorflow/tfjs';
import { divideStabilized } from './stabilize.js';
import { keepParams, proportionalTemplateRule } from './template.js';
import type { LinearRule, RuleDefinition } from './types.js';
import { requireNonNegative } from './validate.js';

/** Options of {@link epsilonRule}. */
export interface EpsilonOptions {
  /** Stabilizer added to the pre-activation, with its sign (sign(0) = +1). Default 1e-6. */
  readonly epsilon?: number;
}

/**
 * LRP-ε: `R_i = x_i Σ_j W_ij R_j / stab_ε(z_j)` with the bias in `z` (zennit `Epsilon`).
 * With ε = 0 this is LRP-0 (see {@link zeroRule}).
 */
export function epsilonRule(options: EpsilonOptions = {}, name = 'epsilon'): LinearRule {
  const epsilon = requireNonNegative(name, 'epsilon', options.epsilon ?? 1e-6);
  const rule = proportionalTemplateRule(name, name === 'zero' ? {} : { epsilon }, {
    forwards: [{ input: 'identity', params: keepParams }],
    gradients: (R, [o]) => [divideStabilized(R, o as NonNullable<typeof o>, epsilon)],
    reducer: 'inputTimesGradient',
  }, (ctx) => {
    // R = 0 wherever z ≤ 0 (known from the plan): where R ≠ 0, z > 0 and stab(z) = z + ε = |z| + ε,
    // and |z| + ε ≥ ε > 0 elsewhere, so R / (|z| + ε) is the rule's R / stab(z) in three fast kernels
    if (ctx.upperZeroWhereInactive !== true || epsilon === 0) return null;
    // (a z the forward pass rectified is |z| already)
    const g = tf.div(ctx.R, tf.add(ctx.zRectified === true ? ctx.z : tf.abs(ctx.z), epsilon));
    return tf.mul(ctx.x, ctx.map.transpose(g, ctx.params.kernel, ctx.x.shape));
  });
  // with R = 0 where z ≤ 0, the fast path reads z where z > 0 only: max(z, 0) + ε ≥ ε > 0 serves
  return epsilon > 0 ? Object.freeze({ ...rule, acceptsRectifiedZ: true }) : rule;
}

/** LRP-0: the epsilon rule with ε = 0 (a zero pre-activation divides by zero, as in zennit). */
export function zeroRule(): LinearRule {
  return epsilonRule({ epsilon: 0 }, 'zero');
}

/** The epsilon rule, described (see {@link RuleDefinition}). */
export const epsilonDefinition: RuleDefinition = Object.freeze<RuleDefinition>({
  name: 'epsilon',
  summary: 'LRP-ε: relevance in proportion to the contributions x·W, ε stabilizes z',
  appliesTo: 'linear',
  params: [{ name: 'epsilon', description: 'ε of the epsilon rule', default: 1e-6, min: 0 }],
  firstLayer: false,
  references: { zennit: 'Epsilon', paper: 'Bach et al. 2015, PLOS ONE' },
  make: (p) => epsilonRule({ epsilon: p.epsilon }),
});

/** LRP-0, described (see {@link RuleDefinition}). */
export const zeroDefinition: RuleDefinition = Object.freeze<RuleDefinition>({
  name: 'zero',
  summary: 'LRP-0: the epsilon rule with ε = 0 (a zero pre-activation divides by zero)',
  appliesTo: 'linear',
  params: [],
  firstLayer: false,
  references: { zennit: 'Epsilon(epsilon=0)', paper: 'Bach et al. 2015, PLOS ONE' },
  make: () => zeroRule(),
});
