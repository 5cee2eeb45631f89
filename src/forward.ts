/**
 * Forward pass: runs the planned nodes in topological order on concrete tensors and records
 * what the rules need (every node's inputs and output; for linear nodes the pre-activation and
 * the parameters with BatchNorm merged). Call inside `tf.tidy`.
 */
import * as tf from '@tensorflow/tfjs';
import type { GraphNode } from './graph.js';
import { applyLayer, type Layer } from './layers/adapter.js';
import { activeNodeProfiler } from './profile.js';
import { batchNormAffine } from './layers/normalization.js';
import { derived } from './ops/derived.js';
import type { LinearParams } from './ops/linear.js';
import type { ModelPlan, PlannedNode } from './plan.js';

/** What the forward pass recorded. */
export interface ForwardRecord {
  /** Every tensor by key. */
  readonly tensors: ReadonlyMap<string, tf.Tensor>;
  /** Parameters (BatchNorm merged) of each linear node, by node id. */
  readonly params: ReadonlyMap<string, LinearParams>;
  /** What layers with inner linear maps (recurrent layers) saved for their backward, by node id. */
  readonly saved: ReadonlyMap<string, readonly tf.Tensor[]>;
  /**
   * Ids of the Dense/Conv nodes whose recorded output is `max(z, 0)` (their ReLU applied in their
   * own kernel; see {@link ForwardOptions.rectify}). Empty unless the pass asked for it.
   */
  readonly rectified: ReadonlySet<string>;
}

/** Options of {@link runForward}. */
export interface ForwardOptions {
  /**
   * Apply the ReLU of the nodes of `plan.rectifiedLinear` (those whose output is in
   * `plan.inactiveZero`) inside their convolution or matMul, as `model.predict` does: one kernel
   * less per layer, and the record holds `max(z, 0)` for those nodes. Only for a relevance pass
   * from the explained output (runBackward refuses other passes on such a record). Default false.
   */
  readonly rectify?: boolean;
}

/**
 * The parameters a linear node computes with: its own, with a following BatchNorm merged. `x` is
 * the node's input, for parts whose parameters depend on it (`LinearPart.paramsFor`).
 */
export function linearParamsOf(node: GraphNode, x?: tf.Tensor): LinearParams {
  if (node.op.kind !== 'linear') throw new Error(`internal: '${node.name}' is not linear`);
  const part = node.op.part;
  const own = x !== undefined && part.paramsFor !== undefined ? part.paramsFor(x) : part.params();
  const bn = node.op.mergedBatchNorm;
  if (bn === null) return own;
  const map = node.op.part.map;
  const sources = [own.kernel, ...(own.bias === null ? [] : [own.bias]), ...bn.weights.map((w) => w.read())];
  const kernel = derived(`merged:${node.id}`, sources, () => map.scaleKernel(own.kernel, batchNormAffine(bn).scale));
  const bias = derived(`mergedBias:${node.id}`, sources, () => {
    const { scale, shift } = batchNormAffine(bn);
    return own.bias === null ? shift : tf.add(tf.mul(own.bias, scale), shift);
  });
  return { kernel, bias };
}

function runNode(planned: PlannedNode, inputs: tf.Tensor[], params: Map<string, LinearParams>, mask: tf.Tensor | null, extra: tf.Tensor[][], rectified: ReadonlySet<string>, rectifiedKeys: ReadonlySet<string>): tf.Tensor {
  const { node, rule } = planned;
  switch (node.op.kind) {
    case 'linear': {
      const p = linearParamsOf(node, inputs[0]);
      params.set(node.id, p);
      // a rule may compute z together with what its relevance step reads back (LinearRule.forward)
      const own = rule.appliesTo === 'linear' ? (rule.forward?.({ x: inputs[0], map: node.op.part.map, params: p, xNonNegative: planned.inputNonNegative[0] }) ?? null) : null;
      if (own !== null) {
        extra.push([], [...own.saved]);
        return own.z;
      }
      const map = node.op.part.map;
      if (rectified.has(node.id)) return (map.applyRectified as NonNullable<typeof map.applyRectified>)(inputs[0], p);
      return map.apply(inputs[0], p);
    }
    case 'activation':
      // the ReLU of a rectified node: its input is max(z, 0) already
      if (rectifiedKeys.has(node.inputs[0])) return inputs[0];
      return node.op.activation.apply(inputs[0]);
    case 'merged':
      return inputs[0];
    default: {
      const inner = node.adapter.innerLinear;
      if (inner !== undefined) {
        const { outputs, saved } = inner.forward(node.layer, inputs, mask);
        extra.push(outputs.slice(1), saved);
        return outputs[0];
      }
      return node.adapter.forward?.(node.layer, inputs) ?? applyLayer(node.layer, inputs);
    }
  }
}

/**
 * The mask of a node's output as tfjs-layers' executor computes it (Keras masking): only layers
 * that support masking carry a mask on (Embedding with maskZero and Masking make one; an RNN
 * keeps it with returnSequences). A split Dense part or activation carries its layer's mask on.
 */
function outputMask(node: GraphNode, inputs: tf.Tensor[], masks: ReadonlyArray<tf.Tensor | null>): tf.Tensor | null {
  const layer = node.layer as Layer & { supportsMasking?: boolean };
  if (layer.supportsMasking !== true) return null;
  if (node.op.kind !== 'layer') return masks[0];
  if (masks.every((m) => m === null) && node.className !== 'Embedding' && node.className !== 'Masking') return null;
  const m = layer.computeMask(inputs, masks.map((k) => k ?? undefined) as tf.Tensor[]) as tf.Tensor | tf.Tensor[] | null | undefined;
  const first = Array.isArray(m) ? m[0] : m;
  return first ?? null;
}

/**
 * Runs the forward pass on the model inputs (in graph input order). Each node runs in its own
 * `tf.tidy`, so only what the backward pass reads survives it: node outputs and parameters.
 */
export function runForward(plan: ModelPlan, inputs: readonly tf.Tensor[], options: ForwardOptions = {}): ForwardRecord {
  const rectified = new Set<string>();
  const rectifiedKeys = new Set<string>();
  if (options.rectify === true) {
    for (const { node } of plan.nodes) {
      if (plan.rectifiedLinear.has(node.id) && plan.inactiveZero.has(node.output) && node.op.kind === 'linear' && node.op.part.map.applyRectified !== undefined) {
        rectified.add(node.id);
        rectifiedKeys.add(node.output);
      }
    }
  }
  const tensors = new Map<string, tf.Tensor>();
  plan.graph.inputs.forEach((input, i) => tensors.set(input.key, inputs[i]));
  const params = new Map<string, LinearParams>();
  const saved = new Map<string, tf.Tensor[]>();
  // Keras masks (Embedding maskZero, Masking) by tensor key: a recurrent layer skips masked steps
  const masks = new Map<string, tf.Tensor | null>();
  for (const planned of plan.nodes) {
    const { node } = planned;
    const ins = node.inputs.map((k) => tensors.get(k) as tf.Tensor);
    const inMasks = node.inputs.map((k) => masks.get(k) ?? null);
    // what survives the node's tidy, in one list: output, [kernel, bias], further outputs, saved, mask
    let counts = { params: 0, extra: 0, saved: 0, ownMask: false };
    let passedMask: tf.Tensor | null = null;
    const profiler = activeNodeProfiler();
    profiler?.begin('forward', node.id);
    const kept = tf.tidy(() => {
      const own = new Map<string, LinearParams>();
      const extra: tf.Tensor[][] = [];
      const out = runNode(planned, ins, own, inMasks.find((m) => m !== null) ?? null, extra, rectified, rectifiedKeys);
      const m = outputMask(node, ins, inMasks);
      const ownMask = m !== null && !inMasks.includes(m);
      passedMask = ownMask ? null : m;
      const p = own.get(node.id);
      const ps = p === undefined ? [] : p.bias === null ? [p.kernel] : [p.kernel, p.bias];
      const [extraOutputs, savedHere] = extra.length > 0 ? extra : [[], []];
      counts = { params: ps.length, extra: extraOutputs.length, saved: savedHere.length, ownMask };
      return [out, ...ps, ...extraOutputs, ...savedHere, ...(ownMask ? [m as tf.Tensor] : [])];
    });
    profiler?.end('forward', node.id);
    const [output, kernel, bias] = kept;
    if (counts.params > 0) params.set(node.id, { kernel, bias: counts.params > 1 ? bias : null });
    tensors.set(node.output, output);
    let at = 1 + counts.params;
    (node.extraOutputs ?? []).forEach((key, i) => tensors.set(key, kept[at + i]));
    at += counts.extra;
    if (counts.saved > 0) saved.set(node.id, kept.slice(at, at + counts.saved));
    at += counts.saved;
    masks.set(node.output, counts.ownMask ? kept[at] : passedMask);
  }
  tf.dispose([...new Set([...masks.values()].filter((m): m is tf.Tensor => m !== null))]);
  return { tensors, params, saved, rectified };
}
