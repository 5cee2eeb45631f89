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
}

/** A rule for any layer, written with the layer's own forward output and VJP. */
export interface LayerRule extends RuleDescriptor {
  readonly appliesTo: 'any';
  /** Lower relevance, one tensor per layer input. */
  relevance(ctx: LayerRuleContext): tf.Tensor[];
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
