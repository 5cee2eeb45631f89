/**
 * Forward pass: runs the planned nodes in topological order on concrete tensors and records
 * what the rules need (every node's inputs and output; for linear nodes the pre-activation and
 * the parameters with BatchNorm merged). Call inside `tf.tidy`.
 */
import * as tf from '@tensorflow/tfjs';
import type { GraphNode } from './graph.js';
import { applyLayer } from './layers/adapter.js';
import { batchNormAffine } from './layers/normalization.js';
import { derived } from './ops/derived.js';
import type { LinearParams } from './ops/linear.js';
import type { ModelPlan } from './plan.js';

/** What the forward pass recorded. */
export interface ForwardRecord {
  /** Every tensor by key. */
  readonly tensors: ReadonlyMap<string, tf.Tensor>;
  /** Parameters (BatchNorm merged) of each linear node, by node id. */
  readonly params: ReadonlyMap<string, LinearParams>;
}

/** The parameters a linear node computes with: its own, with a following BatchNorm merged. */
export function linearParamsOf(node: GraphNode): LinearParams {
  if (node.op.kind !== 'linear') throw new Error(`internal: '${node.name}' is not linear`);
  const own = node.op.part.params();
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

function runNode(node: GraphNode, inputs: tf.Tensor[], params: Map<string, LinearParams>): tf.Tensor {
  switch (node.op.kind) {
    case 'linear': {
      const p = linearParamsOf(node);
      params.set(node.id, p);
      return node.op.part.map.apply(inputs[0], p);
    }
    case 'activation':
      return node.op.activation.apply(inputs[0]);
    case 'merged':
      return inputs[0];
    default:
      return node.adapter.forward?.(node.layer, inputs) ?? applyLayer(node.layer, inputs);
  }
}

/**
 * Runs the forward pass on the model inputs (in graph input order). Each node runs in its own
 * `tf.tidy`, so only what the backward pass reads survives it: node outputs and parameters.
 */
export function runForward(plan: ModelPlan, inputs: readonly tf.Tensor[]): ForwardRecord {
  const tensors = new Map<string, tf.Tensor>();
  plan.graph.inputs.forEach((input, i) => tensors.set(input.key, inputs[i]));
  const params = new Map<string, LinearParams>();
  for (const { node } of plan.nodes) {
    const ins = node.inputs.map((k) => tensors.get(k) as tf.Tensor);
    const [output, kernel, bias] = tf.tidy(() => {
      const own = new Map<string, LinearParams>();
      const out = runNode(node, ins, own);
      const p = own.get(node.id);
      return p === undefined ? [out] : p.bias === null ? [out, p.kernel] : [out, p.kernel, p.bias];
    });
    if (kernel !== undefined) params.set(node.id, { kernel, bias: bias ?? null });
    tensors.set(node.output, output);
  }
  return { tensors, params };
}
