import * as tf from '@tensorflow/tfjs';
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
  });
}
