/**
 * Backward pass: relevance from the explained output down to the inputs, node by node in
 * reverse topological order. A tensor used by several nodes receives the sum of their
 * relevances (fan-out). The engine only calls `rule.relevance`; it never names a rule.
 * Call inside `tf.tidy`.
 */
import * as tf from '@tensorflow/tfjs';
import type { PlannedNode } from './plan';
import type { ForwardRecord } from './forward';
import type { ModelPlan } from './plan';
import { applyLayer, vjpByGradient } from './layers/adapter';

/** Relevance sums of one node, per sample. */
export interface NodeRelevanceSums {
  readonly node: string;
  readonly className: string;
  readonly rule: string;
  /** Σ relevance arriving at the node's output. */
  readonly upper: tf.Tensor1D;
  /** Σ relevance the node passes to its inputs. */
  readonly lower: tf.Tensor1D;
}

/** Result of the backward pass. */
export interface BackwardResult {
  /** Relevance of every graph input (zeros for inputs the output does not depend on). */
  readonly inputs: tf.Tensor[];
  /** Per-node sums when requested. */
  readonly layers: NodeRelevanceSums[] | null;
}

/** Σ over all but the batch axis. */
export function perSampleSum(t: tf.Tensor): tf.Tensor1D {
  return (t.rank <= 1 ? t : tf.sum(tf.reshape(t, [t.shape[0], -1]), 1)) as tf.Tensor1D;
}

function lowerRelevance(p: PlannedNode, record: ForwardRecord, R: tf.Tensor): tf.Tensor[] {
  const { node, rule } = p;
  const inputs = node.inputs.map((k) => record.tensors.get(k) as tf.Tensor);
  const output = record.tensors.get(node.output) as tf.Tensor;
  if (node.op.kind === 'linear') {
    const params = record.params.get(node.id);
    if (params === undefined) throw new Error(`internal: no parameters recorded for '${node.name}'`);
    const map = node.op.part.map;
    if (rule.appliesTo === 'linear') {
      return [rule.relevance({ x: inputs[0], z: output, R, map, params, xNonNegative: p.inputNonNegative[0] })];
    }
    return rule.relevance({ inputs, output, R, layerName: node.name, className: node.className, vjp: (dy) => [map.transpose(dy, params.kernel, inputs[0].shape)] });
  }
  if (rule.appliesTo === 'linear') throw new Error(`internal: linear rule on '${node.name}'`);
  const op = node.op;
  const vjp = (dy: tf.Tensor): tf.Tensor[] => {
    if (op.kind === 'activation') return vjpByGradient(([x]) => op.activation.apply(x), inputs, dy);
    if (op.kind === 'merged') return [dy];
    if (node.adapter.vjp !== undefined) return node.adapter.vjp(node.layer, inputs, output, dy);
    const forward = node.adapter.forward ?? applyLayer;
    return vjpByGradient((xs) => forward(node.layer, xs), inputs, dy);
  };
  return rule.relevance({ inputs, output, R, layerName: node.name, className: node.className, vjp });
}

/** Runs the relevance pass from `outputRelevance` (shaped like the explained tensor). */
export function runBackward(plan: ModelPlan, record: ForwardRecord, outputRelevance: tf.Tensor, layerSums: boolean): BackwardResult {
  const relevance = new Map<string, tf.Tensor>([[plan.graph.explained, outputRelevance]]);
  const sums: NodeRelevanceSums[] = [];
  for (let i = plan.nodes.length - 1; i >= 0; i--) {
    const p = plan.nodes[i];
    const R = relevance.get(p.node.output);
    if (R === undefined) continue; // nothing reached this node (another output's branch)
    const lower = lowerRelevance(p, record, R);
    if (layerSums) {
      sums.push({ node: p.node.name, className: p.node.className, rule: p.rule.name, upper: perSampleSum(R), lower: tf.addN(lower.map(perSampleSum)) as tf.Tensor1D });
    }
    p.node.inputs.forEach((key, k) => {
      const r = lower[k];
      const existing = relevance.get(key);
      relevance.set(key, existing === undefined ? r : tf.add(existing, r));
    });
  }
  const inputs = plan.graph.inputs.map((input) => {
    const x = record.tensors.get(input.key) as tf.Tensor;
    const r = relevance.get(input.key);
    if (r === undefined) return tf.zeros(x.shape);
    return r.dtype === 'float32' ? r : tf.cast(r, 'float32');
  });
  return { inputs, layers: layerSums ? sums.reverse() : null };
}
