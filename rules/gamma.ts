import * as tf from '@tensorflow/tfjs';
import { derived } from '../src/ops/derived.js';
import { divideStabilized, STABILIZER_PARAM } from './stabilize.js';
import { evaluateTemplate, mapParams, negativePart, proportionalTemplateRule, sumDefined, type TemplateSpec } from './template.js';
import type { LinearRule, LinearRuleContext, RuleDefinition } from './types.js';
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
  const plusPos = (t: tf.Tensor) => plusPositive(t, gamma);
  const plusNeg = (t: tf.Tensor) => tf.add(t, tf.mul(negativePart(t), gamma));
  const forwards = [
    { input: 'positive', params: mapParams('gammaPositive', plusPos) },
    { input: 'negative', params: mapParams('gammaNegative', plusNeg, true) },
    { input: 'positive', params: mapParams('gammaNegative', plusNeg) },
    { input: 'negative', params: mapParams('gammaPositive', plusPos, true) },
  ] as const;
  // R = 0 wherever z ≤ 0 (LinearRuleContext.upperZeroWhereInactive): only the units with z > 0
  // and their parameters p + γ·p⁺ (the first two forwards) carry relevance
  const activeOnly: TemplateSpec = {
    forwards: forwards.slice(0, 2),
    gradients: (R, [o1, o2]) => {
      const g = divideStabilized(R, sumDefined([o1, o2]) ?? tf.zerosLike(R), stabilizer);
      return [g, g];
    },
    reducer: 'inputTimesGradient',
  };
  const rule = proportionalTemplateRule('gamma', { gamma, stabilizer }, {
    forwards,
    gradients: (R, [o1, o2, o3, o4], z) => {
      // masks [z > 0] = step(z), [z < 0] = step(−z), applied after the division
      const gPos = tf.mul(divideStabilized(R, sumDefined([o1, o2]) ?? tf.zerosLike(R), stabilizer), tf.step(z));
      const gNeg = tf.mul(divideStabilized(R, sumDefined([o3, o4]) ?? tf.zerosLike(R), stabilizer), tf.step(tf.neg(z)));
      return [gPos, gPos, gNeg, gNeg];
    },
    reducer: 'inputTimesGradient',
  }, (ctx) => gammaPositiveInput(ctx, gamma, stabilizer) ?? (ctx.upperZeroWhereInactive === true && stabilizer > 0 ? evaluateTemplate(activeOnly, ctx) : null));
  // with R = 0 where z ≤ 0 and a stabilizer: z is read where z > 0 only (x ≥ 0), or not at all
  return stabilizer > 0 ? Object.freeze({ ...rule, acceptsRectifiedZ: true }) : rule;
}

/** `p + γ·p⁺`. */
function plusPositive(t: tf.Tensor, gamma: number): tf.Tensor {
  return tf.add(t, tf.mul(tf.relu(t), gamma));
}

/**
 * γ when `x ≥ 0` (after ReLU), with one extra forward and few elementwise kernels. With
 * P = x·W⁺ + b⁺ ≥ 0: o₁ = z + γP, o₃ = z + γ(x·W⁻ + b⁻) = (1+γ)z − γP, o₂ = o₄ = 0. Only o₁
 * counts where z > 0 (and then o₁ > 0), only o₃ where z < 0 (then o₃ < 0), so one denominator
 *
 *     D = z + γ·min(z, 0) + s·(γP + ε),  s = +1 where z > 0, −1 elsewhere,
 *
 * is stab(o₁) where z > 0 and stab(o₃) where z < 0 (γP + ε comes from one forward with the
 * cached kernel γW⁺ and bias γb⁺ + ε), and is non-zero where z = 0. With g = R / D masked by
 * [z ≠ 0]: (W+γW⁺)ᵀg₁ + (W+γW⁻)ᵀg₃ = ((1+γ/2)W)ᵀg + ((γ/2)|W|)ᵀ(s·g), since
 * (1+γ/2)W ± (γ/2)(W⁺ − W⁻) is W + γW⁺ (s = +1) or W + γW⁻ (s = −1): two transposed maps with
 * cached kernels. Only fast kernels: on wasm (tfjs 4.22) Minimum, Maximum, Sign and LeakyRelu
 * take 30–60× as long as Step, Abs or ClipByValue.
 */
function gammaPositiveInput(ctx: LinearRuleContext, gamma: number, stabilizer: number): tf.Tensor | null {
  if (!ctx.xNonNegative) return null;
  const { x, z, R, map } = ctx;
  const { kernel, bias } = ctx.params;
  const positiveKernel = derived('positive', [kernel], () => tf.relu(kernel));
  const forwardKernel = gamma === 1 ? positiveKernel : derived(`positive * ${gamma}`, [positiveKernel], () => tf.mul(positiveKernel, gamma));
  const shiftedBias = bias === null ? null : derived(`positive * ${gamma} + ${stabilizer}`, [bias], () => tf.add(tf.mul(tf.relu(bias), gamma), stabilizer));
  const forward = map.apply(x, { kernel: forwardKernel, bias: shiftedBias });
  const shifted = shiftedBias === null ? tf.add(forward, stabilizer) : forward; // γP + ε
  if (ctx.upperZeroWhereInactive === true && stabilizer > 0) {
    // R = 0 wherever z ≤ 0 (known from the plan): only units with z > 0 carry relevance, with
    // denominator z + γP + ε = |z| + γP + ε (≥ ε > 0 everywhere), and parameters W + γW⁺: one
    // transposed map instead of two
    const g = tf.div(R, tf.add(ctx.zRectified === true ? z : tf.abs(z), shifted));
    // (the kernel of the template's first forward: the same cached tensor)
    const positiveGammaKernel = derived('gammaPositive', [kernel], () => plusPositive(kernel, gamma));
    return tf.mul(x, map.transpose(g, positiveGammaKernel, x.shape));
  }
  const s = tf.step(z, -1);
  const denominator = tf.add(tf.add(z, tf.mul(negativePart(z), gamma)), tf.mul(s, shifted));
  const g = tf.mul(tf.div(R, denominator), tf.step(tf.abs(z)));
  const sumKernel = derived(`* ${1 + gamma / 2}`, [kernel], () => tf.mul(kernel, 1 + gamma / 2));
  const differenceKernel = derived(`abs * ${gamma / 2}`, [kernel], () => tf.mul(tf.abs(kernel), gamma / 2));
  const c = tf.add(map.transpose(g, sumKernel, x.shape), map.transpose(tf.mul(g, s), differenceKernel, x.shape));
  return tf.mul(x, c);
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
