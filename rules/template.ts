/**
 * The shared template of LRP rules for linear layers (zennit's BasicHook): K modified forwards
 * `o_k = f(in_k(x); param_k(W, b))`, a gradient mapper `g_k = mapper(R, o_1..o_K, z)`, the
 * transposes `c_k = W_kᵀ g_k`, and a reducer (`Σ_k x_k ⊙ c_k`, or `Σ_k c_k`). A rule is a few
 * lines on top of this; the evaluation below is shared, and runs forwards (and transposes) that
 * share an input modifier as one op with concatenated kernels.
 */
import * as tf from '@tensorflow/tfjs';
import type { LinearParams } from '../src/ops/linear';
import type { LinearRule, LinearRuleContext, RuleParam } from './types';

/** A rule-defined input, e.g. the z-box bounds broadcast to the input. */
export interface CustomInput {
  readonly name: string;
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
    apply: ({ kernel, bias }) => ({ kernel: fn(kernel), bias: zeroBias || bias === null ? null : fn(bias) }),
  };
}

/** `max(p, 0)`. */
export const positivePart = (t: tf.Tensor): tf.Tensor => tf.relu(t);
/** `min(p, 0)`. */
export const negativePart = (t: tf.Tensor): tf.Tensor => tf.minimum(t, 0);

/** Sum of the defined tensors (null counts as zero); null if none is defined. */
export function sumDefined(tensors: ReadonlyArray<tf.Tensor | null>): tf.Tensor | null {
  const defined = tensors.filter((t): t is tf.Tensor => t !== null);
  if (defined.length === 0) return null;
  return defined.length === 1 ? defined[0] : tf.addN(defined);
}

// ---- evaluation ----------------------------------------------------------------------------

function modifiedInput(ctx: LinearRuleContext, mod: InputModifier): tf.Tensor | null {
  switch (mod) {
    case 'identity':
      return ctx.x;
    case 'positive':
      return ctx.xNonNegative ? ctx.x : tf.relu(ctx.x);
    case 'negative':
      return ctx.xNonNegative ? null : tf.minimum(ctx.x, 0);
    case 'ones':
      return tf.onesLike(ctx.x);
    default:
      return mod.apply(ctx.x);
  }
}

function concatParams(list: LinearParams[], axis: number): LinearParams {
  const kernel = tf.concat(list.map((p) => p.kernel), axis);
  if (list.every((p) => p.bias === null)) return { kernel, bias: null };
  const bias = tf.concat(list.map((p) => p.bias ?? tf.zeros([p.kernel.shape[axis]])), 0);
  return { kernel, bias };
}

function splitLast(t: tf.Tensor, sizes: number[]): tf.Tensor[] {
  return sizes.length === 1 ? [t] : tf.split(t, sizes, t.rank - 1);
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
  const outChannels = (p: LinearParams): number => (map.kernelOutAxis === null ? 0 : p.kernel.shape[map.kernelOutAxis]);

  // Forwards: reuse the recorded z, skip known zeros, and batch those sharing an input.
  const outputs: Array<tf.Tensor | null> = spec.forwards.map(() => null);
  const pending = new Map<InputModifier, number[]>();
  spec.forwards.forEach((f, k) => {
    const xk = inputOf(f.input);
    if (xk === null && f.params.zeroBias) return; // x⁻ = 0 and no bias: o_k = 0
    if (f.input === 'identity' && f.params === keepParams) {
      outputs[k] = ctx.z;
      return;
    }
    const group = pending.get(f.input) ?? [];
    group.push(k);
    pending.set(f.input, group);
  });
  for (const [mod, ks] of pending) {
    const xk = inputOf(mod) ?? tf.zerosLike(ctx.x);
    if (ks.length > 1 && map.kernelOutAxis !== null) {
      const joint = map.apply(xk, concatParams(ks.map((k) => params[k]), map.kernelOutAxis));
      splitLast(joint, ks.map((k) => outChannels(params[k]))).forEach((o, i) => (outputs[ks[i]] = o));
    } else {
      for (const k of ks) outputs[k] = map.apply(xk, params[k]);
    }
  }

  const grads = spec.gradients(ctx.R, outputs, ctx.z);

  // Transposes: one per input modifier, with the gradients and kernels concatenated.
  const byInput = new Map<InputModifier, number[]>();
  grads.forEach((g, k) => {
    if (g === null) return;
    const mod = spec.forwards[k].input;
    if (spec.reducer === 'inputTimesGradient' && inputOf(mod) === null) return; // x⁻ = 0
    const group = byInput.get(mod) ?? [];
    group.push(k);
    byInput.set(mod, group);
  });
  const terms: tf.Tensor[] = [];
  for (const [mod, ks] of byInput) {
    let c: tf.Tensor;
    if (ks.length > 1 && map.kernelOutAxis !== null) {
      const g = tf.concat(ks.map((k) => grads[k] as tf.Tensor), -1);
      const kernel = tf.concat(ks.map((k) => params[k].kernel), map.kernelOutAxis);
      c = map.transpose(g, kernel, ctx.x.shape);
    } else {
      c = sumDefined(ks.map((k) => map.transpose(grads[k] as tf.Tensor, params[k].kernel, ctx.x.shape))) as tf.Tensor;
    }
    terms.push(spec.reducer === 'inputTimesGradient' ? tf.mul(inputOf(mod) as tf.Tensor, c) : c);
  }
  return sumDefined(terms) ?? tf.zerosLike(ctx.x);
}

/** Builds a linear rule from a template. */
export function templateRule(name: string, params: Readonly<Record<string, RuleParam>>, spec: TemplateSpec): LinearRule {
  return Object.freeze({
    kind: 'rule' as const,
    name,
    params: Object.freeze({ ...params }),
    appliesTo: 'linear' as const,
    relevance: (ctx: LinearRuleContext) => evaluateTemplate(spec, ctx),
  });
}
