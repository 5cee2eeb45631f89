/**
 * What a rule is. A rule is a plain, readonly descriptor (`kind`, `name`, `params`) with one
 * method that maps upper relevance to lower relevance for one layer. Rules never walk the graph:
 * the engine hands them the tensors of one layer.
 */
import type * as tf from '@tensorflow/tfjs';
import type { LinearMap, LinearParams } from '../src/ops/linear.js';

/** A rule parameter as shown in descriptions. */
export type RuleParam = number | string | boolean | tf.Tensor;

/** What a rule for a Dense/Conv layer receives. */
export interface LinearRuleContext {
  /** The layer's input from the forward pass (unpadded for convolutions). */
  readonly x: tf.Tensor;
  /** The layer's pre-activation `z = f(x; W, b)` from the forward pass (BatchNorm merged). */
  readonly z: tf.Tensor;
  /** Upper relevance, shaped like `z`. */
  readonly R: tf.Tensor;
  /** The layer map, to run with modified inputs and parameters. */
  readonly map: LinearMap;
  /** The layer's parameters (BatchNorm merged). Never dispose them. */
  readonly params: LinearParams;
  /** True when `x ≥ 0` is known from the graph (after ReLU, sigmoid, pooling of those…). */
  readonly xNonNegative: boolean;
  /** What the rule's own {@link LinearRule.forward} saved for this layer (absent: it had none). */
  readonly saved?: readonly tf.Tensor[];
  /**
   * True when `R` is known from the plan to be exactly zero wherever `z ≤ 0`: the layer's output
   * goes through a ReLU (and only through layers that move values, such as max pooling or
   * Flatten) into layers whose rules are {@link LinearRule.proportionalToInput}. Rules may then
   * skip the terms of units with `z ≤ 0` (they carry no relevance), e.g. the γ rule's `W + γW⁻`
   * transpose. Absent or false: nothing is known.
   */
  readonly upperZeroWhereInactive?: boolean;
  /**
   * True when `z` holds `max(z, 0)`: the forward pass applied the layer's ReLU in its convolution
   * (only for rules with {@link LinearRule.acceptsRectifiedZ}, and only together with
   * `upperZeroWhereInactive`). Absent or false: `z` is the pre-activation.
   */
  readonly zRectified?: boolean;
}

/** What a linear rule's own forward receives (see {@link LinearRule.forward}). */
export interface LinearForwardContext {
  /** The layer's input. */
  readonly x: tf.Tensor;
  /** The layer map. */
  readonly map: LinearMap;
  /** The layer's parameters (BatchNorm merged). Never dispose them. */
  readonly params: LinearParams;
  /** True when `x ≥ 0` is known from the graph. */
  readonly xNonNegative: boolean;
}

/** The result of a linear rule's own forward. */
export interface LinearForward {
  /** The pre-activation `z = f(x; W, b)`. */
  readonly z: tf.Tensor;
  /** Tensors the rule's relevance step reads back as `ctx.saved` (released after that step). */
  readonly saved: readonly tf.Tensor[];
}

/** What a rule for any layer (activation, pooling, Add, …) receives. */
export interface LayerRuleContext {
  /** The layer's inputs from the forward pass. */
  readonly inputs: readonly tf.Tensor[];
  /** The layer's output from the forward pass. */
  readonly output: tf.Tensor;
  /** Upper relevance, shaped like `output`. */
  readonly R: tf.Tensor;
  /** The layer's own vector-Jacobian product: `Jᵀ dy` for each input. */
  vjp(dy: tf.Tensor): tf.Tensor[];
  /** Layer name and class, for error messages. */
  readonly layerName: string;
  readonly className: string;
}

interface RuleDescriptor {
  readonly kind: 'rule';
  /** Registry name, e.g. `'epsilon'`. */
  readonly name: string;
  /** The rule's parameters, e.g. `{ epsilon: 1e-6 }`. */
  readonly params: Readonly<Record<string, RuleParam>>;
}

/** A rule for Dense/Conv layers (the LRP rules proper). */
export interface LinearRule extends RuleDescriptor {
  readonly appliesTo: 'linear';
  /** Lower relevance, shaped like `ctx.x`. */
  relevance(ctx: LinearRuleContext): tf.Tensor;
  /**
   * Optional: the forward pass's pre-activation computed together with what `relevance` needs,
   * when that is cheaper than `z` alone plus the rule's own forwards (αβ: `z` is the sum of its two
   * sign parts). Null: the layer map computes `z`.
   */
  forward?(ctx: LinearForwardContext): LinearForward | null;
  /**
   * True when the relevance is `Σ_k x_k ⊙ c_k` with `x_k` one of `x`, `x⁺`, `x⁻` (ε, z⁺, γ, αβ):
   * zero wherever the input is zero. The plan uses it to know where relevance vanishes (see
   * {@link LinearRuleContext.upperZeroWhereInactive}). Absent: false.
   */
  readonly proportionalToInput?: boolean;
  /**
   * True when, with `upperZeroWhereInactive`, the relevance is the same if `ctx.z` holds
   * `max(z, 0)` (the rule reads z only where z > 0, where the two agree, and divides by nothing
   * that could then be 0): the forward pass may then apply the layer's ReLU inside its
   * convolution, as `model.predict` does, and the rule gets {@link LinearRuleContext.zRectified}.
   * ε (ε > 0), z⁺ and γ (stabilizer > 0) set it. Absent: false.
   */
  readonly acceptsRectifiedZ?: boolean;
}

/** A rule for any layer, written with the layer's own forward output and VJP. */
export interface LayerRule extends RuleDescriptor {
  readonly appliesTo: 'any';
  /** Lower relevance, one tensor per layer input. */
  relevance(ctx: LayerRuleContext): tf.Tensor[];
  /**
   * True when the relevance is `R` itself or the layer's own `Jᵀ R` (pass, gradient): relevance
   * then moves with the values (see `LayerAdapter.routesValues`). Absent: false.
   */
  readonly followsLayerMap?: boolean;
}

/** Any rule. */
export type Rule = LinearRule | LayerRule;

/** Formats a rule as `name(param=value, …)` for descriptions. */
export function ruleLabel(rule: Rule): string {
  const params = Object.entries(rule.params)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? `tensor[${v.shape.join(',')}]` : String(v)}`)
    .join(', ');
  return params ? `${rule.name}(${params})` : rule.name;
}

/** Parameters a rule factory may read (each rule documents its defaults). */
export interface RuleParameters {
  readonly epsilon?: number;
  readonly alpha?: number;
  readonly beta?: number;
  readonly gamma?: number;
  readonly stabilizer?: number;
  readonly low?: number | tf.Tensor;
  readonly high?: number | tf.Tensor;
}

/** The name of a rule parameter (also the name of the explain option that sets it). */
export type RuleParameterName = keyof RuleParameters;

/** One parameter of a rule, as plain data (for checks, CLI flags and docs). */
export interface RuleParameterSpec {
  /** The parameter, e.g. `'epsilon'`: also the explain option and the CLI flag `--epsilon`. */
  readonly name: RuleParameterName;
  /** One line, e.g. `'ε of the epsilon rule'`. */
  readonly description: string;
  /** The value used when the option is not given (absent for required parameters). */
  readonly default?: number;
  /** Smallest allowed value (numbers are also checked to be finite). */
  readonly min?: number;
  /** The rule cannot be made without it (e.g. z-box's `low` and `high`). */
  readonly required?: boolean;
  /** Accepts a tensor broadcastable to the layer input as well as a number. */
  readonly tensor?: boolean;
  /** A typical value for messages, e.g. `0` for `low`. */
  readonly example?: number;
}

/** Where a rule comes from. */
export interface RuleReferences {
  /** The zennit class it matches, e.g. `'Epsilon'`. */
  readonly zennit?: string;
  /** The paper that introduced it. */
  readonly paper?: string;
}

/**
 * A rule described as data, with its factory: what the registry holds, what the plan checks
 * options against, what the CLI builds its flags from and what the docs tables list. A new
 * built-in rule is its file (factory + definition) and one line in `rules/registry.ts`.
 */
export interface RuleDefinition {
  /** Registry name, e.g. `'epsilon'`. */
  readonly name: string;
  /** One line for tables and help. */
  readonly summary: string;
  /**
   * `'linear'`: Dense/Conv layers only; `'any'`: any layer (it uses the layer's own Jacobian);
   * `'unknown'`: registered with a bare factory (`registerRule(name, factory)`), not described.
   */
  readonly appliesTo: 'linear' | 'any' | 'unknown';
  /** The parameters it reads, in the order they are documented. */
  readonly params: readonly RuleParameterSpec[];
  /** Whether it may be chosen as `options.firstLayer` (`--first-layer`). */
  readonly firstLayer: boolean;
  /** What the required parameters are, for messages: e.g. `{ what: 'the input bounds', exampleFor: 'images scaled to [0, 1]' }`. */
  readonly requirement?: { readonly what: string; readonly exampleFor: string };
  readonly references: RuleReferences;
  /** Makes the rule; parameters not given take the defaults above. */
  make(params: RuleParameters): Rule;
}
