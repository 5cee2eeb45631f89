/**
 * Backward pass: relevance from the explained output down to the inputs, node by node in
 * reverse topological order. A tensor used by several nodes receives the sum of their
 * relevances (fan-out). The engine only calls `rule.relevance`; it never names a rule.
 * Call inside `tf.tidy`.
 */
import * as tf from '@tensorflow/tfjs';
import type { PlannedNode } from './plan.js';
import type { ForwardRecord } from './forward.js';
import type { ModelPlan } from './plan.js';
import { applyLayer, vjpByGradient } from './layers/adapter.js';
import { addMany } from './ops/gpu.js';

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

/**
 * Runs the relevance pass from `outputRelevance` (shaped like the explained tensor).
 *
 * Memory: each node's step runs in its own `tf.tidy` (a rule's intermediates live only during its
 * step), the relevance arriving at a node is released once the node has passed it on, and a
 * forward tensor is released as soon as the last node that reads it is done (the nodes come in
 * reverse order, so that is the node that produced it). What is released is never a model input,
 * and never a tensor still held under another key (a node that returns its input).
 */
export function runBackward(plan: ModelPlan, record: ForwardRecord, outputRelevance: tf.Tensor, layerSums: boolean): BackwardResult {
  const relevance = new Map<string, tf.Tensor>([[plan.graph.explained, outputRelevance]]);
  const sums: NodeRelevanceSums[] = [];
  const release = releaser(plan, record, relevance);
  for (let i = plan.nodes.length - 1; i >= 0; i--) {
    const p = plan.nodes[i];
    const R = relevance.get(p.node.output);
    if (R === undefined) {
      release.afterNode(i, []);
      continue; // nothing reached this node (another output's branch)
    }
    const lower = tf.tidy(() => lowerRelevance(p, record, R));
    if (layerSums) {
      sums.push(
        tf.tidy(() => {
          // a tensor of its own even for one input (perSampleSum returns a rank-1 tensor itself)
          const lowerSums = lower.map(perSampleSum);
          const lowerSum = lowerSums.length === 1 ? tf.clone(lowerSums[0]) : addMany(lowerSums);
          return { node: p.node.name, className: p.node.className, rule: p.rule.name, upper: perSampleSum(R), lower: lowerSum as tf.Tensor1D };
        }),
      );
    }
    relevance.delete(p.node.output);
    p.node.inputs.forEach((key, k) => {
      const r = lower[k];
      const existing = relevance.get(key);
      if (existing === undefined) {
        relevance.set(key, r);
        return;
      }
      relevance.set(key, tf.add(existing, r));
      release.ifUnused(existing, lower);
      release.ifUnused(r, lower.slice(k + 1));
    });
    release.ifUnused(R, lower);
    release.afterNode(i, lower);
  }
  const inputs = plan.graph.inputs.map((input) => {
    const x = record.tensors.get(input.key) as tf.Tensor;
    const r = relevance.get(input.key);
    if (r === undefined) return tf.zeros(x.shape);
    return r.dtype === 'float32' ? r : tf.cast(r, 'float32');
  });
  return { inputs, layers: layerSums ? sums.reverse() : null };
}

/**
 * Early release of tensors during the backward pass (see {@link runBackward}): a tensor is disposed
 * only when no model input, no recorded tensor still to be read, no relevance in flight and no
 * tensor being passed on is the same tensor.
 */
function releaser(plan: ModelPlan, record: ForwardRecord, relevance: ReadonlyMap<string, tf.Tensor>) {
  const inputs = new Set(plan.graph.inputs.map((input) => record.tensors.get(input.key)));
  // the first node (forward order) that reads or writes each key: once the backward pass is done
  // with that node, the key's tensor is not read again
  const firstUse = new Map<string, number>();
  plan.nodes.forEach(({ node }, i) => {
    for (const key of [...node.inputs, node.output]) if (!firstUse.has(key)) firstUse.set(key, i);
  });
  const live = new Map<string, tf.Tensor>(record.tensors);
  const held = (t: tf.Tensor, passing: readonly tf.Tensor[]): boolean => {
    if (inputs.has(t) || passing.includes(t)) return true;
    for (const v of live.values()) if (v === t) return true;
    for (const v of relevance.values()) if (v === t) return true;
    return false;
  };
  return {
    /** Disposes `t` unless something still holds it. */
    ifUnused(t: tf.Tensor, passing: readonly tf.Tensor[]): void {
      if (!t.isDisposed && !held(t, passing)) t.dispose();
    },
    /** Releases the recorded tensors whose last reader was node `i`. */
    afterNode(i: number, passing: readonly tf.Tensor[]): void {
      const done: tf.Tensor[] = [];
      for (const [key, t] of live) {
        if ((firstUse.get(key) ?? -1) >= i) {
          live.delete(key);
          done.push(t);
        }
      }
      for (const t of done) if (!t.isDisposed && !held(t, passing)) t.dispose();
    },
  };
}

