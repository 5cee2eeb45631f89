import * as tf from '@tensorflow/tfjs';
import { divideStabilized, STABILIZER_PARAM } from './stabilize.js';
import type { LayerRule, RuleDefinition } from './types.js';
import { requireNonNegative } from './validate.js';

/**
 * Norm (zennit `Norm`): the epsilon rule without parameters, `R_k = x_k ⊙ Jᵀ(R / stab(f(x)))`,
 * for average pooling and for the proportional split of Add.
 */
export function normRule(options: { readonly stabilizer?: number } = {}): LayerRule {
  const stabilizer = requireNonNegative('norm', 'stabilizer', options.stabilizer ?? 1e-6);
  const rule: LayerRule = {
    kind: 'rule' as const,
    name: 'norm',
    params: Object.freeze({ stabilizer }),
    appliesTo: 'any' as const,
    relevance(ctx) {
      const s = divideStabilized(ctx.R, ctx.output, stabilizer);
      return ctx.vjp(s).map((c, k) => tf.mul(ctx.inputs[k], c));
    },
  };
  return Object.freeze(rule);
}

/** The norm rule, described (see {@link RuleDefinition}). */
export const normDefinition: RuleDefinition = Object.freeze<RuleDefinition>({
  name: 'norm',
  summary: 'norm: relevance split in proportion to the values (average pooling, Add)',
  appliesTo: 'any',
  params: [STABILIZER_PARAM],
  firstLayer: false,
  references: { zennit: 'Norm' },
  make: (p) => normRule({ stabilizer: p.stabilizer }),
});
