import * as tf from '@tensorflow/tfjs';
import { derived } from '../src/ops/derived.js';
import { signSplitRelevance } from './signSplit.js';
import { divideStabilized, STABILIZER_PARAM } from './stabilize.js';
import { mapParams, negativePart, positivePart, sumDefined, proportionalTemplateRule } from './template.js';
import type { LinearRule, RuleDefinition } from './types.js';
import { requireNonNegative } from './validate.js';

/** Options of {@link zPlusRule}. */
export interface StabilizerOptions {
  /** Denominator stabilizer (sign(0) = +1). Default 1e-6. */
  readonly stabilizer?: number;
}

/**
 * z⁺ (zennit `ZPlus`): the positive contributions `x⁺W⁺ + x⁻W⁻`, with the positive part of
 * the bias in the denominator.
 */
export function zPlusRule(options: StabilizerOptions = {}): LinearRule {
  const stabilizer = requireNonNegative('zPlus', 'stabilizer', options.stabilizer ?? 1e-6);
  const rule = proportionalTemplateRule('zPlus', { stabilizer }, {
    forwards: [
      { input: 'positive', params: mapParams('positive', positivePart) },
      { input: 'negative', params: mapParams('negative', negativePart, true) },
    ],
    gradients: (R, outputs) => {
      const g = divideStabilized(R, sumDefined(outputs) ?? tf.zerosLike(R), stabilizer);
      return [g, g];
    },
    reducer: 'inputTimesGradient',
  }, (ctx) => {
    // Dense, Conv1D, Conv2D: z⁺ is αβ with α = 1, β = 0 (LRP_RULES.md): one forward, one transposed map
    const joined = signSplitRelevance(ctx, 1, 0, stabilizer);
    if (joined !== null || !ctx.xNonNegative) return joined;
    // other maps with x ≥ 0 (after ReLU): x⁻ = 0, so only x·W⁺ + b⁺ and one transposed map are needed
    const { kernel, bias } = ctx.params;
    const positiveKernel = derived('positive', [kernel], () => tf.relu(kernel));
    // x·W⁺ + b⁺ ≥ 0, where the stabilizer adds ε: fold b⁺ + ε into the map's bias, one division
    const shiftedBias = bias === null ? null : derived(`positive + ${stabilizer}`, [bias], () => tf.add(tf.relu(bias), stabilizer));
    const out = ctx.map.apply(ctx.x, { kernel: positiveKernel, bias: shiftedBias });
    const g = tf.div(ctx.R, shiftedBias === null ? tf.add(out, stabilizer) : out);
    return tf.mul(ctx.x, ctx.map.transpose(g, positiveKernel, ctx.x.shape));
  });
  // z⁺ never reads z: its denominators come from its own forwards
  return Object.freeze({ ...rule, acceptsRectifiedZ: true });
}

/** The z⁺ rule, described (see {@link RuleDefinition}). */
export const zPlusDefinition: RuleDefinition = Object.freeze<RuleDefinition>({
  name: 'zPlus',
  summary: 'z⁺: only the positive contributions, positive bias in the denominator',
  appliesTo: 'linear',
  params: [STABILIZER_PARAM],
  firstLayer: false,
  references: { zennit: 'ZPlus', paper: 'Montavon et al. 2017, Pattern Recognition (deep Taylor decomposition)' },
  make: (p) => zPlusRule({ stabilizer: p.stabilizer }),
});
