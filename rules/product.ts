import * as tf from '@tensorflow/tfjs';
import { divideStabilized, STABILIZER_PARAM } from './stabilize.js';
import type { LayerRule, RuleDefinition } from './types.js';
import { requireNonNegative } from './validate.js';

/**
 * Product (AttnLRP's treatment of a product of non-constant inputs, for `Dot`): the output
 * `z = Σ_i a_i b_i` is split over its product terms in proportion, `R(a_i b_i) = a_i b_i / stab(z) · R`,
 * and each term's relevance goes in equal parts to its n factors:
 * `R_k = (1/n) · x_k ⊙ J_kᵀ(R / stab(z))` — Norm divided by the number of inputs. Conservative up
 * to the stabilizer (each term of a product of n inputs is homogeneous of degree n).
 */
export function productRule(options: { readonly stabilizer?: number } = {}): LayerRule {
  const stabilizer = requireNonNegative('product', 'stabilizer', options.stabilizer ?? 1e-6);
  const rule: LayerRule = {
    kind: 'rule' as const,
    name: 'product',
    params: Object.freeze({ stabilizer }),
    appliesTo: 'any' as const,
    relevance(ctx) {
      const s = divideStabilized(ctx.R, ctx.output, stabilizer);
      const n = ctx.inputs.length;
      return ctx.vjp(s).map((c, k) => tf.mul(tf.mul(ctx.inputs[k], c), 1 / n));
    },
  };
  return Object.freeze(rule);
}

/** The product rule, described (see {@link RuleDefinition}). */
export const productDefinition: RuleDefinition = Object.freeze<RuleDefinition>({
  name: 'product',
  summary: 'product: split over the product terms in proportion, then equally to the factors (Dot)',
  appliesTo: 'any',
  params: [STABILIZER_PARAM],
  firstLayer: false,
  references: { paper: 'Achtibat et al. 2024, ICML (AttnLRP)' },
  make: (p) => productRule({ stabilizer: p.stabilizer }),
});
