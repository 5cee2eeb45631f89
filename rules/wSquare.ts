import * as tf from '@tensorflow/tfjs';
import { divideStabilized } from './stabilize';
import { mapParams, templateRule } from './template';
import type { LinearRule } from './types';
import type { StabilizerOptions } from './zPlus';
import { requireNonNegative } from './validate';

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
