import * as tf from '@tensorflow/tfjs';
import { divideStabilized, STABILIZER_PARAM } from './stabilize.js';
import { plusBias, splitForPositiveInput } from './positiveInput.js';
import { mapParams, sumDefined, templateRule } from './template.js';
import type { LinearRule, RuleDefinition } from './types.js';
import { requireNonNegative } from './validate.js';

/** Options of {@link gammaRule}. */
export interface GammaOptions {
  /** Weight of the positive (or negative) part added to the parameters. Default 0.25. */
  readonly gamma?: number;
  /** Denominator stabilizer. Default 1e-6. */
  readonly stabilizer?: number;
}

/**
 * Generalised γ rule (zennit `Gamma`): parameters `p + γ·p⁺` for units with z > 0 and
 * `p + γ·p⁻` for units with z < 0; units with z = 0 pass nothing.
 */
export function gammaRule(options: GammaOptions = {}): LinearRule {
  const gamma = requireNonNegative('gamma', 'gamma', options.gamma ?? 0.25);
  const stabilizer = requireNonNegative('gamma', 'stabilizer', options.stabilizer ?? 1e-6);
  const plusPos = (t: tf.Tensor) => tf.add(t, tf.mul(tf.relu(t), gamma));
  const plusNeg = (t: tf.Tensor) => tf.add(t, tf.mul(tf.minimum(t, 0), gamma));
  return templateRule('gamma', { gamma, stabilizer }, {
    forwards: [
      { input: 'positive', params: mapParams('gammaPositive', plusPos) },
      { input: 'negative', params: mapParams('gammaNegative', plusNeg, true) },
      { input: 'positive', params: mapParams('gammaNegative', plusNeg) },
      { input: 'negative', params: mapParams('gammaPositive', plusPos, true) },
    ],
    gradients: (R, [o1, o2, o3, o4], z) => {
      // masks [z > 0] = step(z), [z < 0] = step(−z), applied after the division
      const gPos = tf.mul(divideStabilized(R, sumDefined([o1, o2]) ?? tf.zerosLike(R), stabilizer), tf.step(z));
      const gNeg = tf.mul(divideStabilized(R, sumDefined([o3, o4]) ?? tf.zerosLike(R), stabilizer), tf.step(tf.neg(z)));
      return [gPos, gPos, gNeg, gNeg];
    },
    reducer: 'inputTimesGradient',
  }, (ctx) => {
    // x ≥ 0: o₁ = z + γ(x·W⁺ + b⁺), o₃ = z + γ(x·W⁻ + b⁻), and
    // (W+γW⁺)ᵀg₁ + (W+γW⁻)ᵀg₃ = Wᵀ(g₁ + (1+γ)g₃) + γ·W⁺ᵀ(g₁ − g₃).
    const split = splitForPositiveInput(ctx);
    if (split === null) return null;
    const { z, R, map, x } = ctx;
    const o1 = tf.add(z, tf.mul(plusBias(split.positive, split.biasPositive), gamma));
    const o3 = tf.add(z, tf.mul(plusBias(split.negative, split.biasNegative), gamma));
    const g1 = tf.mul(divideStabilized(R, o1, stabilizer), tf.step(z));
    const g3 = tf.mul(divideStabilized(R, o3, stabilizer), tf.step(tf.neg(z)));
    const c = tf.add(
      map.transpose(tf.add(g1, tf.mul(g3, 1 + gamma)), ctx.params.kernel, x.shape),
      map.transpose(tf.mul(tf.sub(g1, g3), gamma), split.positiveKernel, x.shape),
    );
    return tf.mul(x, c);
  });
}

/** The generalised γ rule, described (see {@link RuleDefinition}). */
export const gammaDefinition: RuleDefinition = Object.freeze<RuleDefinition>({
  name: 'gamma',
  summary: 'γ: parameters p + γ·p⁺ (z > 0) or p + γ·p⁻ (z < 0), favouring the dominant sign',
  appliesTo: 'linear',
  params: [{ name: 'gamma', description: 'γ of the gamma rule', default: 0.25, min: 0 }, STABILIZER_PARAM],
  firstLayer: false,
  references: { zennit: 'Gamma', paper: 'Montavon et al. 2019, LRP: an overview' },
  make: (p) => gammaRule({ gamma: p.gamma, stabilizer: p.stabilizer }),
});
