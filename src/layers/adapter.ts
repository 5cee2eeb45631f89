/**
 * How the engine sees one Keras layer class: its group, how to run it, its own transposed
 * Jacobian, and for Dense/Conv layers their linear parts. Teaching tfjs-lrp a layer class is one
 * adapter plus one line in `registry.ts` (or `registerLayer` from user code).
 */
import * as tf from '@tensorflow/tfjs';
import type { Rule, RuleParameters } from '../../rules/types.js';
import { LrpLayerError } from '../errors.js';
import type { GraphNode } from '../graph.js';
import type { LinearMap, LinearParams } from '../ops/linear.js';
import type { LayerGroup } from './group.js';

/** A Keras layer as tfjs-layers builds it. */
export type Layer = tf.layers.Layer;

/** One linear part of a layer (SeparableConv2D has two: depthwise, then pointwise). */
export interface LinearPart {
  /** `null` for single-part layers, else e.g. `'depthwise'`, `'pointwise'`. */
  readonly part: string | null;
  readonly map: LinearMap;
  /** The layer's current parameters (the variables' own tensors: never dispose them). */
  params(): LinearParams;
  /**
   * Parameters that depend on the layer's input (LayerNormalization: its σ per sample, held
   * constant). When present, the forward pass calls it with the recorded input instead of
   * `params()`; the tensors it returns are new (the forward pass keeps and releases them).
   */
  paramsFor?(x: tf.Tensor): LinearParams;
}

/** A fused activation, split from its Dense/Conv layer. */
export interface ActivationFn {
  /** Keras name of the activation, e.g. `'relu'`. */
  readonly name: string;
  /** The activation applied elementwise. */
  apply(x: tf.Tensor): tf.Tensor;
}

/** The linear view of a Dense/Conv layer. */
export interface LinearLayerSpec {
  readonly parts: readonly LinearPart[];
  /** The fused activation, `null` when it is `linear`. */
  readonly activation: ActivationFn | null;
}

/** Everything the engine needs to know about one layer class. */
export interface LayerAdapter {
  readonly group: LayerGroup;
  /** Throws an {@link LrpLayerError} when this layer's configuration cannot be explained. */
  check?(layer: Layer, name: string): void;
  /** Dense/Conv layers: the linear parts and fused activation. */
  linear?(layer: Layer): LinearLayerSpec;
  /** The activation function of an activation layer (for stripping a final softmax/sigmoid). */
  activationName?(layer: Layer): string;
  /** Forward on concrete tensors (inference mode). Default: `layer.apply`. */
  forward?(layer: Layer, inputs: tf.Tensor[]): tf.Tensor;
  /** `Jᵀ dy` of the layer's own map, one tensor per input. Default: tf.grads through forward. */
  vjp?(layer: Layer, inputs: tf.Tensor[], output: tf.Tensor, dy: tf.Tensor): tf.Tensor[];
  /**
   * True when every output element is a copy of one input element or a padding constant, and
   * the layer's `Jᵀ dy` moves each output element's `dy` to that input element only (reshaping,
   * cropping, padding, identity, max pooling: the first maximum). With the pass or gradient rule,
   * relevance that vanishes where the output is ≤ 0 then vanishes where the input is ≤ 0 (the
   * plan's `upperZeroWhereInactive`). Default: false.
   */
  readonly routesValues?: boolean;
  /** Whether the output is known to be ≥ 0 given which inputs are. Default: false. */
  nonNegative?(layer: Layer, inputsNonNegative: readonly boolean[]): boolean;
  /**
   * The rule of this class when no `layerRules`, `firstLayer` or composite entry matches (set by
   * registerLayerRule, or by a built-in class with a rule of its own, e.g. Dot's `product`, which
   * reads the rule parameters of the call such as `stabilizer`, and the layer, when the plan has
   * it, for its configuration). Absent (most built-in classes):
   * the group's default of `GROUP_DEFAULTS` (`pass`, `norm` or `gradient`); a group without a
   * default (`dense`, `conv`, `other`) then throws an LrpLayerError naming the layer, unless
   * `options.unknownLayers` is `'gradient'`.
   */
  defaultRule?(params?: RuleParameters, layer?: Layer): Rule;
  /** A short note for the plan description, e.g. 'relevance split in proportion to the branches'. */
  readonly note?: string;
  /**
   * A layer with linear maps inside (recurrent layers): it runs its own forward with the input
   * mask, records per-node tensors, and applies the planned rule (any Dense rule) to its inner
   * linear maps itself. The plan lets a Dense/Conv rule through to such a layer.
   */
  readonly innerLinear?: InnerLinearCapability;
  /**
   * Wrapper classes (TimeDistributed, Bidirectional): the graph nodes one call of the layer stands
   * for. The introspector then adds these nodes instead of one node of the layer itself.
   */
  expand?(layer: Layer, call: LayerCall): ExpandedLayer;
}

/** One call of a layer in the model, as the introspector sees it (for {@link LayerAdapter.expand}). */
export interface LayerCall {
  /** The node id the call would get (unique in the graph); expanded nodes use it as a prefix. */
  readonly id: string;
  /** The layer's name in the graph (`outer/inner` in nested models). */
  readonly name: string;
  /** Keys of the call's input tensors. */
  readonly inputs: readonly string[];
}

/** What a wrapper's call expands into (see {@link LayerAdapter.expand}). */
export interface ExpandedLayer {
  /** The nodes, in forward (topological) order. */
  readonly nodes: readonly GraphNode[];
  /** Keys of the call's output tensors, in the layer's output order. */
  readonly outputs: readonly string[];
}

/** What {@link InnerLinearCapability.forward} returns. */
export interface InnerLinearForward {
  /** The layer's outputs: the main output first, then the others (e.g. `returnState` states). */
  readonly outputs: tf.Tensor[];
  /** What the backward pass needs (per-step states, gates…), in the adapter's own layout. */
  readonly saved: tf.Tensor[];
}

/** What {@link InnerLinearCapability.relevance} receives. */
export interface InnerLinearContext {
  readonly layer: Layer;
  /** Layer name, for errors. */
  readonly name: string;
  /** The planned rule (a Dense rule, or a rule for any layer such as `gradient`). */
  readonly rule: Rule;
  readonly inputs: readonly tf.Tensor[];
  /** The outputs recorded by the forward (main first). */
  readonly outputs: readonly tf.Tensor[];
  /** Relevance of each output (`null`: none reached it). */
  readonly R: ReadonlyArray<tf.Tensor | null>;
  /** The tensors the forward saved. */
  readonly saved: readonly tf.Tensor[];
}

/** A layer that applies LRP rules to linear maps inside itself (recurrent layers). */
export interface InnerLinearCapability {
  /** Forward on concrete tensors (inference mode) with the input mask (`null`: none). */
  forward(layer: Layer, inputs: tf.Tensor[], mask: tf.Tensor | null): InnerLinearForward;
  /** Lower relevance, one tensor per input. */
  relevance(ctx: InnerLinearContext): tf.Tensor[];
  /** One line for `describe()`: what happens inside this layer. */
  describe(layer: Layer): string;
}

// ---- helpers shared by adapters ------------------------------------------------------------

/** The layer's Keras config. */
export function configOf(layer: Layer): Readonly<Record<string, unknown>> {
  // A layer's config does not change after construction; getConfig() rebuilds it on every
  // call (initializers, regularizers…), so it is read once per layer.
  let config = configs.get(layer);
  if (config === undefined) {
    config = Object.freeze(layer.getConfig() as Record<string, unknown>);
    configs.set(layer, config);
  }
  return config;
}

const configs = new WeakMap<Layer, Readonly<Record<string, unknown>>>();

/** A config field as a list of `n` numbers (Keras accepts a number for all axes). */
export function tupleOf(value: unknown, n: number, fallback: number): number[] {
  if (value === undefined || value === null) return new Array<number>(n).fill(fallback);
  if (typeof value === 'number') return new Array<number>(n).fill(value);
  if (Array.isArray(value) && value.length === n && value.every((v) => typeof v === 'number')) return value as number[];
  if (Array.isArray(value) && value.length === 1 && typeof value[0] === 'number') return new Array<number>(n).fill(value[0] as number);
  throw new Error(`expected ${n} numbers, got ${JSON.stringify(value)}`);
}

/** Throws unless the layer uses channels-last data (the only layout tfjs-lrp explains). */
export function requireChannelsLast(layer: Layer, name: string): void {
  const format = configOf(layer).dataFormat;
  if (format !== undefined && format !== 'channelsLast') {
    throw new LrpLayerError(name, layer.getClassName(), `Layer '${name}' (${layer.getClassName()}) uses dataFormat '${String(format)}'; tfjs-lrp explains channelsLast layers only. Rebuild the model with dataFormat: 'channelsLast'.`);
  }
}

interface NamedVariable {
  readonly name: string;
  readonly originalName?: string;
  read(): tf.Tensor;
}

/** The current value of a layer weight by its Keras name (`kernel`, `bias`, `moving_mean`, …). */
export function weightOf(layer: Layer, weightName: string): tf.Tensor | null {
  const pattern = new RegExp(`(^|/)${weightName}(_\\d+)?(:\\d+)?$`);
  const vars = layer.weights as unknown as NamedVariable[];
  const found = vars.find((v) => pattern.test(v.originalName ?? v.name)) ?? vars.find((v) => pattern.test(v.name));
  return found === undefined ? null : found.read();
}

/** Like {@link weightOf}, but the weight must exist. */
export function requiredWeight(layer: Layer, weightName: string): tf.Tensor {
  const w = weightOf(layer, weightName);
  if (w === null) {
    const names = (layer.weights as unknown as NamedVariable[]).map((v) => v.name).join(', ');
    throw new LrpLayerError(layer.name, layer.getClassName(), `Layer '${layer.name}' (${layer.getClassName()}) has no weight '${weightName}' (it has: ${names || 'none'}). Was the model built and its weights loaded?`);
  }
  return w;
}

/** Runs the layer on concrete tensors in inference mode. */
export function applyLayer(layer: Layer, inputs: tf.Tensor[]): tf.Tensor {
  const out = layer.apply(inputs.length === 1 ? inputs[0] : inputs, { training: false });
  if (Array.isArray(out)) {
    if (out.length !== 1) throw new LrpLayerError(layer.name, layer.getClassName(), `Layer '${layer.name}' (${layer.getClassName()}) returns ${out.length} tensors; tfjs-lrp explains single-output layers only.`);
    return out[0] as tf.Tensor;
  }
  return out as tf.Tensor;
}

/** `Jᵀ dy` by automatic differentiation of `forward` (needs the backend's gradient kernels). */
export function vjpByGradient(forward: (xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], dy: tf.Tensor): tf.Tensor[] {
  const f = (...xs: tf.Tensor[]) => forward(xs);
  return tf.grads(f)(inputs, dy);
}
