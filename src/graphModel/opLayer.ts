/**
 * The stand-in for `node.layer` of a graph-model op node: the TF node's name and op, its
 * attributes, its constant operands and a way to run the op through the converter's own
 * executor. The engine reads `name` and `getClassName()`; op adapters read the rest.
 * Nothing here changes the model; the model's constant tensors are never disposed.
 */
import type * as tf from '@tensorflow/tfjs';
import { LrpLayerError } from '../errors.js';
import type { Layer } from '../layers/adapter.js';

/** A constant operand of an op node: a `Const` node, or a constant sub-graph folded by the converter. */
export interface OpConstant {
  /** The TF node (and output) name. */
  readonly name: string;
  /**
   * The value. A `Const` returns the model's own tensor (never dispose it); a folded constant is
   * computed afresh with tf ops on each call (call inside `tf.tidy`: the scope releases it).
   */
  value(): tf.Tensor;
  /** Its numbers read on the host from the model's weight data (small int/float constants), or `null`. */
  readonly values: readonly number[] | null;
  /** Its shape, where known. */
  readonly shape: readonly number[] | null;
}

/** One op node of a `tf.GraphModel` as the engine's `Layer` stand-in. */
export interface OpLayer {
  /** The TF node name (what `layerRules` and `describe()` use). */
  readonly name: string;
  /** The TF op, e.g. `_FusedConv2D`. */
  readonly op: string;
  /** Returns the op: the class name the plan and composites match. */
  getClassName(): string;
  /** The converter's parsed attributes (`strides`, `pad`, `dataFormat`, `fusedOps`, …). */
  readonly attrs: Readonly<Record<string, unknown>>;
  /** Per op input in order: its constant, or `null` for a tensor of the graph (`node.inputs`, in order). */
  readonly operands: ReadonlyArray<OpConstant | null>;
  /** A constant added to the op's output (a `BiasAdd`/`AddV2` folded into a linear op), or `null`. */
  readonly foldedBias: OpConstant | null;
  /** Runs the op alone through the converter's executor (the tensor operands in `node.inputs` order). */
  run(inputs: readonly tf.Tensor[]): tf.Tensor;
}

/** Whether a graph node is an op of a tf.GraphModel (its layer is an {@link OpLayer}). */
export function isOpNode(node: { readonly layer: unknown }): boolean {
  const l = node.layer as Partial<OpLayer> | null;
  return l !== null && typeof l === 'object' && typeof l.op === 'string' && typeof l.run === 'function' && Array.isArray(l.operands);
}

/** The op layer behind an engine `Layer`. */
export function opLayer(layer: Layer): OpLayer {
  return layer as unknown as OpLayer;
}

/** An attribute value (`undefined` when absent). */
export function attr<T>(layer: OpLayer, name: string): T | undefined {
  return layer.attrs[name] as T | undefined;
}

/** The op's full argument list: constants in their places, the graph tensors in between. */
export function operandValues(layer: OpLayer, inputs: readonly tf.Tensor[]): tf.Tensor[] {
  let next = 0;
  return layer.operands.map((c) => (c === null ? inputs[next++] : c.value()));
}

/** The constant at operand `index`; throws an LrpLayerError when that operand is a graph tensor. */
export function requiredConstant(layer: OpLayer, index: number, what: string): OpConstant {
  const c = layer.operands[index];
  if (c === undefined || c === null) {
    throw new LrpLayerError(layer.name, layer.op, `Node '${layer.name}' (${layer.op}): its ${what} (input ${index}) is computed from the model input, not a constant; tfjs-lrp explains ${layer.op} with a constant ${what} only. Map the node in options.layerRules (e.g. { '${layer.name}': 'gradient' }) or pass options.unknownLayers = 'gradient'.`);
  }
  return c;
}

/** The host numbers of a constant operand (shape-like constants: axes, paddings, shapes). */
export function constantNumbers(layer: OpLayer, index: number, what: string): number[] {
  const c = requiredConstant(layer, index, what);
  if (c.values === null) {
    throw new LrpLayerError(layer.name, layer.op, `Node '${layer.name}' (${layer.op}): the values of its ${what} ('${c.name}') are not readable from the model's weight data (quantized, or loaded as a stream). Load the model with tf.loadGraphModel without streaming, or map the node with options.layerRules.`);
  }
  return [...c.values];
}

/** The indices of the operands that are graph tensors. */
export function tensorOperands(layer: OpLayer): number[] {
  return layer.operands.flatMap((c, i) => (c === null ? [i] : []));
}
