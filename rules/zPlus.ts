import * as tf from '@tensorflow/tfjs';
import { derived } from '../src/ops/derived';
import { divideStabilized } from './stabilize';
import { mapParams, negativePart, positivePart, sumDefined, templateRule } from './template';
import type { LinearRule } from './types';
import { requireNonNegative } from './validate';

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
  return templateRule('zPlus', { stabilizer }, {
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
    // x ≥ 0 (after ReLU): x⁻ = 0, so only x·W⁺ + b⁺ and one transposed map are needed
    if (!ctx.xNonNegative) return null;
    const { kernel, bias } = ctx.params;
    const positiveKernel = derived('positive', [kernel], () => tf.relu(kernel));
    const positiveBias = bias === null ? null : derived('positive', [bias], () => tf.relu(bias));
    const out = ctx.map.apply(ctx.x, { kernel: positiveKernel, bias: positiveBias });
    const g = divideStabilized(ctx.R, out, stabilizer);
    return tf.mul(ctx.x, ctx.map.transpose(g, positiveKernel, ctx.x.shape));
  });
}
