import * as tf from '@tensorflow/tfjs';
import { divideStabilized, STABILIZER_PARAM } from './stabilize.js';
import { mapParams, templateRule } from './template.js';
import type { LinearRule, RuleDefinition } from './types.js';
import type { StabilizerOptions } from './zPlus.js';
import { requireNonNegative } from './validate.js';

/**
 * w² (zennit `WSquare`): input replaced by ones, every parameter squared — the squared bias is
 * in the denominator.
 */
export function wSquareRule(options: StabilizerOptions = {}): LinearRule {
  const stabilizer = requireNonNegative('wSquare', 'stabilizer', options.stabilizer ?? 1e-6);
  return templateRule('wSquare', { stabilizer }, {
    forwards: [{ input: 'ones', params: mapParams('square', (t) => tf.square(t)) }],
    gradients: (R, [o]) => [divideStabilized(R, o as tf.Tensor, stabilizer)],
    reducer: 'gradient',
  });
}

/** The w² rule, described (see {@link RuleDefinition}). */
export const wSquareDefinition: RuleDefinition = Object.freeze<RuleDefinition>({
  name: 'wSquare',
  summary: 'w²: relevance in proportion to the squared weights (input as ones)',
  appliesTo: 'linear',
  params: [STABILIZER_PARAM],
  firstLayer: true,
  references: { zennit: 'WSquare', paper: 'Montavon et al. 2017, Pattern Recognition (deep Taylor decomposition)' },
  make: (p) => wSquareRule({ stabilizer: p.stabilizer }),
});
