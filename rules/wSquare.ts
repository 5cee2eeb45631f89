import * as tf from '@tensorflow/tfjs';
import { divideStabilized } from './stabilize.js';
import { mapParams, templateRule } from './template.js';
import type { LinearRule } from './types.js';
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
