import * as tf from '@tensorflow/tfjs';
import { divideStabilized, STABILIZER_PARAM } from './stabilize.js';
import { mapParams, templateRule } from './template.js';
import type { LinearRule, RuleDefinition } from './types.js';
import type { StabilizerOptions } from './zPlus.js';
import { requireNonNegative } from './validate.js';

/**
 * Flat (zennit `Flat`): input and weights replaced by ones, bias zero; relevance is spread
 * evenly over each receptive field (padding positions do not count).
 */
export function flatRule(options: StabilizerOptions = {}): LinearRule {
  const stabilizer = requireNonNegative('flat', 'stabilizer', options.stabilizer ?? 1e-6);
  return templateRule('flat', { stabilizer }, {
    forwards: [{ input: 'ones', params: mapParams('ones', (t) => tf.onesLike(t), true) }],
    gradients: (R, [o]) => [divideStabilized(R, o as tf.Tensor, stabilizer)],
    reducer: 'gradient',
  });
}

/** The flat rule, described (see {@link RuleDefinition}). */
export const flatDefinition: RuleDefinition = Object.freeze<RuleDefinition>({
  name: 'flat',
  summary: 'flat: relevance spread evenly over each receptive field (input and weights as ones)',
  appliesTo: 'linear',
  params: [STABILIZER_PARAM],
  firstLayer: true,
  references: { zennit: 'Flat', paper: 'Lapuschkin et al. 2019, Nature Communications' },
  make: (p) => flatRule({ stabilizer: p.stabilizer }),
});
