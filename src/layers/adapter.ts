/**
 * How the engine sees one Keras layer class: its group, how to run it, its own transposed
 * Jacobian, and for Dense/Conv layers their linear parts. Teaching tfjs-lrp a layer class is one
 * adapter plus one line in `registry.ts` (or `registerLayer` from user code).
 */
import * as tf from '@tensorflow/tfjs';
import type { Rule } from '../../rules/types.js';
import { LrpLayerError } from '../errors.js';
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
  /** Whether the output is known to be ≥ 0 given which inputs are. Default: false. */
  nonNegative?(layer: Layer, inputsNonNegative: readonly boolean[]): boolean;
  /**
   * The rule of this class when no `layerRules`, `firstLayer` or composite entry matches (set by
   * registerLayerRule). Absent (the built-in classes): the group's default of `GROUP_DEFAULTS`
   * (`pass`, `norm` or `gradient`); a group without a default (`dense`, `conv`, `other`) then
   * throws an LrpLayerError naming the layer, unless `options.unknownLayers` is `'gradient'`.
   */
  defaultRule?(): Rule;
  /** A short note for the plan description, e.g. 'relevance split in proportion to the branches'. */
  readonly note?: string;
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
