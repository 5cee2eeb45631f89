/**
 * The shared template of LRP rules for linear layers (zennit's BasicHook): K modified forwards
 * `o_k = f(in_k(x); param_k(W, b))`, a gradient mapper `g_k = mapper(R, o_1..o_K, z)`, the
 * transposes `c_k = W_kᵀ g_k`, and a reducer (`Σ_k x_k ⊙ c_k`, or `Σ_k c_k`). A rule is a few
 * lines on top of this; the evaluation below is shared: it reuses the recorded pre-activation,
 * skips forwards known to be zero (`x⁻` when `x ≥ 0`), and multiplies each distinct modified
 * input once.
 */
import * as tf from '@tensorflow/tfjs';
import { LrpRuleError } from '../src/errors.js';
import { derived } from '../src/ops/derived.js';
import { addMany } from '../src/ops/gpu.js';
import type { LinearParams } from '../src/ops/linear.js';
import type { LinearRule, LinearRuleContext, RuleParam } from './types.js';

/** A rule-defined input, e.g. the z-box bounds broadcast to the input. */
export interface CustomInput {
  /** Name, shown in rule descriptions. */
  readonly name: string;
  /** The modified layer input, shaped like `x`. */
  apply(x: tf.Tensor): tf.Tensor;
}

/** How a modified forward changes the layer input. */
export type InputModifier = 'identity' | 'positive' | 'negative' | 'ones' | CustomInput;

/** How a modified forward changes the parameters (named, so identical ones are recognised). */
export interface ParamModifier {
  /** Name; `'identity'` means the parameters are unchanged. */
  readonly name: string;
  /** True when the modified bias is zero (lets the engine skip `x⁻` forwards when `x ≥ 0`). */
  readonly zeroBias: boolean;
  /** The modified parameters (new tensors; the originals are never changed). */
  apply(params: LinearParams): LinearParams;
}

/** One modified forward of the template. */
export interface ModifiedForward {
  readonly input: InputModifier;
  readonly params: ParamModifier;
}

/** The four slots of a template rule. */
export interface TemplateSpec {
  readonly forwards: readonly ModifiedForward[];
  /**
   * Maps upper relevance to one gradient per forward. `outputs[k]` is `null` when forward k is
   * known to be zero; return `null` for a forward that contributes nothing.
   */
  gradients(R: tf.Tensor, outputs: ReadonlyArray<tf.Tensor | null>, z: tf.Tensor): Array<tf.Tensor | null>;
  /** `'inputTimesGradient'`: `Σ x_k ⊙ c_k`; `'gradient'`: `Σ c_k` (flat, w²). */
  readonly reducer: 'inputTimesGradient' | 'gradient';
}

// ---- parameter modifiers -------------------------------------------------------------------

/** Parameters unchanged. */
export const keepParams: ParamModifier = { name: 'identity', zeroBias: false, apply: (p) => p };

/**
 * Elementwise map of kernel and bias (`zennit ParamMod`), optionally zeroing the bias
 * (`zero_params=['bias']`).
 */
export function mapParams(name: string, fn: (t: tf.Tensor) => tf.Tensor, zeroBias = false): ParamModifier {
  return {
    name: zeroBias ? `${name}|bias=0` : name,
    zeroBias,
    // derived(): computed once per explainer while the weights stay the same
    apply: ({ kernel, bias }) => ({
      kernel: derived(name, [kernel], () => fn(kernel)),
      bias: zeroBias || bias === null ? null : derived(name, [bias], () => fn(bias)),
    }),
  };
}

/** `max(p, 0)`. */
export const positivePart = (t: tf.Tensor): tf.Tensor => tf.relu(t);
/** The lowest finite float32. */
const LOWEST_FLOAT32 = -3.4028234663852886e38;

/**
 * `min(p, 0)`, as a clip: on wasm (tfjs 4.22) Minimum takes ~12 ms on 1M elements, ClipByValue
 * 0.1 ms. The same value for every finite `p`. Rank > 4 (Conv3D) through a 1-D view (the GPU
 * policy of src/ops/gpu.ts; the views are free).
 */
export const negativePart = (t: tf.Tensor): tf.Tensor =>
  t.rank > 4 ? tf.reshape(tf.clipByValue(tf.reshape(t, [-1]), LOWEST_FLOAT32, 0), t.shape) : tf.clipByValue(t, LOWEST_FLOAT32, 0);

/** Sum of the defined tensors (null counts as zero); null if none is defined. GPU-safe AddN. */
export function sumDefined(tensors: ReadonlyArray<tf.Tensor | null>): tf.Tensor | null {
  const defined = tensors.filter((t): t is tf.Tensor => t !== null);
  return defined.length === 0 ? null : addMany(defined);
}

// ---- evaluation ----------------------------------------------------------------------------

function modifiedInput(ctx: LinearRuleContext, mod: InputModifier): tf.Tensor | null {
  switch (mod) {
    case 'identity':
      return ctx.x;
    case 'positive':
      return ctx.xNonNegative ? ctx.x : tf.relu(ctx.x);
    case 'negative':
      return ctx.xNonNegative ? null : negativePart(ctx.x);
    case 'ones':
      return tf.onesLike(ctx.x);
    default:
      return mod.apply(ctx.x);
  }
}

/** Evaluates a template rule on one layer. */
export function evaluateTemplate(spec: TemplateSpec, ctx: LinearRuleContext): tf.Tensor {
  const { map } = ctx;
  const inputs = new Map<InputModifier, tf.Tensor | null>();
  const inputOf = (mod: InputModifier): tf.Tensor | null => {
    if (!inputs.has(mod)) inputs.set(mod, modifiedInput(ctx, mod));
    return inputs.get(mod) ?? null;
  };
  const params = spec.forwards.map((f) => (f.params === keepParams ? ctx.params : f.params.apply(ctx.params)));

  // Forwards: reuse the recorded z, skip those known to be zero (x⁻ = 0 without bias).
  // (Running forwards with kernels joined along the output channels is no faster: the split
  // afterwards costs more on wasm than the second convolution.)
  const outputs = spec.forwards.map((f, k): tf.Tensor | null => {
    const xk = inputOf(f.input);
    if (xk === null) return f.params.zeroBias || params[k].bias === null ? null : map.apply(tf.zerosLike(ctx.x), params[k]);
    if (f.input === 'identity' && f.params === keepParams) return ctx.z;
    return map.apply(xk, params[k]);
  });

  const grads = spec.gradients(ctx.R, outputs, ctx.z);

  // Transposes: Σ_k x_k ⊙ W_kᵀ g_k, summing the transposes that share an input first.
  const byInput = new Map<InputModifier, tf.Tensor[]>();
  grads.forEach((g, k) => {
    if (g === null) return;
    const mod = spec.forwards[k].input;
    if (spec.reducer === 'inputTimesGradient' && inputOf(mod) === null) return; // x⁻ = 0
    byInput.set(mod, [...(byInput.get(mod) ?? []), map.transpose(g, params[k].kernel, ctx.x.shape)]);
  });
  const terms: tf.Tensor[] = [];
  for (const [mod, cs] of byInput) {
    const c = sumDefined(cs) as tf.Tensor;
    terms.push(spec.reducer === 'inputTimesGradient' ? tf.mul(inputOf(mod) as tf.Tensor, c) : c);
  }
  return sumDefined(terms) ?? tf.zerosLike(ctx.x);
}

/**
 * Builds a linear rule from a template. `fastPath`, when given, may compute the same numbers
 * with fewer operations for some layers (it returns null to use the template); `forward`, when
 * given, is the rule's own forward (see `LinearRule.forward`).
 */
export function templateRule(name: string, params: Readonly<Record<string, RuleParam>>, spec: TemplateSpec, fastPath?: (ctx: LinearRuleContext) => tf.Tensor | null, forward?: LinearRule['forward']): LinearRule {
  return Object.freeze({
    kind: 'rule' as const,
    name,
    params: Object.freeze({ ...params }),
    appliesTo: 'linear' as const,
    relevance: (ctx: LinearRuleContext) => fastPath?.(ctx) ?? evaluateTemplate(spec, ctx),
    // (a fast path may compute anything: its rule says so itself, see proportionalTemplateRule)
    proportionalToInput: fastPath === undefined && isProportionalSpec(spec),
    ...(forward === undefined ? {} : { forward }),
  });
}

/** Whether the template's relevance is `Σ x_k ⊙ c_k` with `x_k` one of x, x⁺, x⁻ (zero where x is). */
function isProportionalSpec(spec: TemplateSpec): boolean {
  return spec.reducer === 'inputTimesGradient' && spec.forwards.every((f) => f.input === 'identity' || f.input === 'positive' || f.input === 'negative');
}

/**
 * {@link templateRule} for a template of the form `Σ x_k ⊙ c_k` (`x_k` one of x, x⁺, x⁻) whose
 * fast path is of that form too (the built-in ε, z⁺, γ and αβ): the rule is then
 * `proportionalToInput`, which lets the plan know where relevance vanishes.
 */
export function proportionalTemplateRule(name: string, params: Readonly<Record<string, RuleParam>>, spec: TemplateSpec, fastPath?: (ctx: LinearRuleContext) => tf.Tensor | null, forward?: LinearRule['forward']): LinearRule {
  if (!isProportionalSpec(spec)) {
    throw new LrpRuleError(name, `Rule '${name}': proportionalTemplateRule needs the reducer 'inputTimesGradient' and inputs 'identity', 'positive' or 'negative' only (relevance Σ x_k ⊙ c_k); use templateRule for other templates.`);
  }
  return Object.freeze({ ...templateRule(name, params, spec, fastPath, forward), proportionalToInput: true });
}
