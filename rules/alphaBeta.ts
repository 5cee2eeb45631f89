import * as tf from '@tensorflow/tfjs';
import { LrpRuleError } from '../src/errors.js';
import { signSplitForward, signSplitRelevance } from './signSplit.js';
import { divideStabilized, STABILIZER_PARAM } from './stabilize.js';
import { mapParams, negativePart, positivePart, sumDefined, proportionalTemplateRule } from './template.js';
import type { LinearRule, RuleDefinition } from './types.js';
import { requireNonNegative } from './validate.js';

/** Options of {@link alphaBetaRule}. */
export interface AlphaBetaOptions {
  /** Weight of positive contributions. Default 2. */
  readonly alpha?: number;
  /** Weight of negative contributions; α − β must be 1. Default 1. */
  readonly beta?: number;
  /** Denominator stabilizer. Default 1e-6. */
  readonly stabilizer?: number;
}

/**
 * αβ (zennit `AlphaBeta`): `R_i = Σ_j (α z⁺_ij / stab(Σz⁺_j + b⁺_j) − β z⁻_ij / stab(Σz⁻_j + b⁻_j)) R_j`.
 */
export function alphaBetaRule(options: AlphaBetaOptions = {}): LinearRule {
  const alpha = requireNonNegative('alphaBeta', 'alpha', options.alpha ?? 2);
  const beta = requireNonNegative('alphaBeta', 'beta', options.beta ?? 1);
  if (alpha - beta !== 1) {
    throw new LrpRuleError('alphaBeta', `Rule 'alphaBeta': alpha - beta must be 1, got alpha=${alpha}, beta=${beta}. Use e.g. { alpha: 2, beta: 1 } or { alpha: 1, beta: 0 }.`);
  }
  const stabilizer = requireNonNegative('alphaBeta', 'stabilizer', options.stabilizer ?? 1e-6);
  return proportionalTemplateRule('alphaBeta', { alpha, beta, stabilizer }, {
    forwards: [
      { input: 'positive', params: mapParams('positive', positivePart) },
      { input: 'negative', params: mapParams('negative', negativePart, true) },
      { input: 'positive', params: mapParams('negative', negativePart) },
      { input: 'negative', params: mapParams('positive', positivePart, true) },
    ],
    gradients: (R, [o1, o2, o3, o4]) => {
      const gPos = tf.mul(divideStabilized(R, sumDefined([o1, o2]) ?? tf.zerosLike(R), stabilizer), alpha);
      const gNeg = beta === 0 ? null : tf.mul(divideStabilized(R, sumDefined([o3, o4]) ?? tf.zerosLike(R), stabilizer), -beta);
      return [gPos, gPos, gNeg, gNeg];
    },
    reducer: 'inputTimesGradient',
    // Dense, Conv1D, Conv2D: one forward and one transposed map (rules/signSplit.ts)
  }, (ctx) => signSplitRelevance(ctx, alpha, beta, stabilizer), (ctx) => signSplitForward(ctx, alpha, beta, stabilizer));
}

/** The αβ rule, described (see {@link RuleDefinition}). */
export const alphaBetaDefinition: RuleDefinition = Object.freeze<RuleDefinition>({
  name: 'alphaBeta',
  summary: 'αβ: positive contributions weighted α, negative ones β (α − β = 1)',
  appliesTo: 'linear',
  params: [
    { name: 'alpha', description: 'α of the alphaBeta rule', default: 2, min: 0 },
    { name: 'beta', description: 'β of the alphaBeta rule (α − β = 1)', default: 1, min: 0 },
    STABILIZER_PARAM,
  ],
  firstLayer: false,
  references: { zennit: 'AlphaBeta', paper: 'Bach et al. 2015, PLOS ONE' },
  make: (p) => alphaBetaRule({ alpha: p.alpha, beta: p.beta, stabilizer: p.stabilizer }),
});
