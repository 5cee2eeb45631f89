import * as tf from '@tensorflow/tfjs';
import { divideStabilized } from './stabilize.js';
import { mapParams, templateRule } from './template.js';
import type { LinearRule } from './types.js';
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
