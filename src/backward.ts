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
import { activeNodeProfiler } from './profile.js';
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

function lowerRelevance(p: PlannedNode, record: ForwardRecord, R: tf.Tensor, extraR: ReadonlyArray<tf.Tensor | null>, upperZeroWhereInactive: boolean): tf.Tensor[] {
  const { node, rule } = p;
  const inputs = node.inputs.map((k) => record.tensors.get(k) as tf.Tensor);
  const output = record.tensors.get(node.output) as tf.Tensor;
  const inner = node.adapter.innerLinear;
  if (inner !== undefined && node.op.kind === 'layer') {
    // a layer with inner linear maps (recurrent): it applies the rule to them itself
    const outputs = [output, ...(node.extraOutputs ?? []).map((k) => record.tensors.get(k) as tf.Tensor)];
    const saved = record.saved.get(node.id) ?? [];
    return inner.relevance({ layer: node.layer, name: node.name, rule, inputs, outputs, R: [R, ...extraR], saved });
  }
  if (node.op.kind === 'linear') {
    const params = record.params.get(node.id);
    if (params === undefined) throw new Error(`internal: no parameters recorded for '${node.name}'`);
    const map = node.op.part.map;
    if (rule.appliesTo === 'linear') {
      const saved = record.saved.get(node.id);
      const zRectified = record.rectified.has(node.id);
      if (zRectified && !upperZeroWhereInactive) throw new Error(`internal: '${node.name}' was rectified in the forward pass, but its relevance is not known to vanish where z ≤ 0`);
      return [rule.relevance({ x: inputs[0], z: output, R, map, params, xNonNegative: p.inputNonNegative[0], upperZeroWhereInactive, ...(zRectified ? { zRectified } : {}), ...(saved === undefined ? {} : { saved }) })];
    }
    return rule.relevance({ inputs, output, R, layerName: node.name, className: node.className, vjp: (dy) => [map.vjp !== undefined ? map.vjp(inputs[0], dy, params) : map.transpose(dy, params.kernel, inputs[0].shape)] });
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
export function runBackward(plan: ModelPlan, record: ForwardRecord, outputRelevance: tf.Tensor, layerSums: boolean, taps?: BackwardTaps): BackwardResult {
  const relevance = new Map<string, tf.Tensor>([[taps?.start ?? plan.graph.explained, outputRelevance]]);
  const sums: NodeRelevanceSums[] = [];
  const release = releaser(plan, record, relevance);
  // what the plan knows of where relevance vanishes holds for a pass from the explained output
  // (condition masks and dropped branches keep zeros zero); a pass from another tensor starts
  // with relevance of any sign there, so nothing is assumed then
  const fromExplained = taps?.start === undefined || taps.start === plan.graph.explained;
  const inactiveZero = fromExplained ? plan.inactiveZero : new Set<string>();
  if (!fromExplained && record.rectified.size > 0) throw new Error('internal: a forward record with rectified layers serves relevance passes from the explained output only');
  for (let i = plan.nodes.length - 1; i >= 0; i--) {
    const p = plan.nodes[i];
    const extraKeys = p.node.extraOutputs ?? [];
    const extraR = extraKeys.map((k) => relevance.get(k) ?? null);
    let R = relevance.get(p.node.output);
    if (R === undefined && extraR.some((r) => r !== null)) {
      // only a further output (a returnState state) was used: no relevance at the main output
      R = tf.zerosLike(record.tensors.get(p.node.output) as tf.Tensor);
      relevance.set(p.node.output, R);
    }
    if (taps !== undefined) R = tapRelevance(taps, p.node.output, R, record, relevance, extraKeys, (t) => release.ifUnused(t, extraR.filter((r): r is tf.Tensor => r !== null)));
    if (R === undefined) {
      release.afterNode(i, []);
      continue; // nothing reached this node (another output's branch)
    }
    const upper = R;
    const profiler = activeNodeProfiler();
    profiler?.begin('relevance', p.node.id);
    const lower = tf.tidy(() => lowerRelevance(p, record, upper, extraR, inactiveZero.has(p.node.output)));
    profiler?.end('relevance', p.node.id);
    if (layerSums) {
      sums.push(
        tf.tidy(() => {
          // a tensor of its own even for one input (perSampleSum returns a rank-1 tensor itself)
          const lowerSums = lower.map(perSampleSum);
          const lowerSum = lowerSums.length === 1 ? tf.clone(lowerSums[0]) : addMany(lowerSums);
          const uppers = [upper, ...extraR.filter((r): r is tf.Tensor => r !== null)].map(perSampleSum);
          const upperSum = uppers.length === 1 ? uppers[0] : addMany(uppers);
          return { node: p.node.name, className: p.node.className, rule: p.rule.name, upper: upperSum as tf.Tensor1D, lower: lowerSum as tf.Tensor1D };
        }),
      );
    }
    relevance.delete(p.node.output);
    extraKeys.forEach((k) => relevance.delete(k));
    for (const r of extraR) if (r !== null) release.ifUnused(r, lower);
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
  plan.graph.inputs.forEach((input, k) => {
    if (taps?.capture?.has(input.key) === true) taps.captured.set(input.key, tf.clone(inputs[k]));
  });
  return { inputs, layers: layerSums ? sums.reverse() : null };
}

/**
 * Relevance inside the network (LRP_RULES.md §10): where the pass starts, which tensors' arriving
 * relevance is recorded, and which are conditioned (Concept Relevance Propagation).
 */
export interface BackwardTaps {
  /** Key the pass starts at with `outputRelevance` (default: the explained output). */
  readonly start?: string;
  /** Keys whose arriving relevance (before a condition's mask) is recorded in `captured`. */
  readonly capture?: ReadonlySet<string>;
  /**
   * Per key, a mask (broadcast to the tensor) multiplied onto the relevance arriving there; all
   * other relevance in flight is dropped, so the pass continues from that tensor only.
   */
  readonly conditions?: ReadonlyMap<string, tf.Tensor>;
  /** Filled by the pass: the recorded relevance per key (zeros where none arrived). */
  readonly captured: Map<string, tf.Tensor>;
}

/** Records and conditions the relevance arriving at `key` (see {@link BackwardTaps}). */
function tapRelevance(taps: BackwardTaps, key: string, R: tf.Tensor | undefined, record: ForwardRecord, relevance: Map<string, tf.Tensor>, sameNode: readonly string[], drop: (t: tf.Tensor) => void): tf.Tensor | undefined {
  if (taps.capture?.has(key) === true) taps.captured.set(key, R === undefined ? tf.zerosLike(record.tensors.get(key) as tf.Tensor) : tf.clone(R));
  const mask = taps.conditions?.get(key);
  if (mask === undefined) return R;
  // zennit-crp exclude_parallel: relevance on paths that bypass this tensor is dropped
  for (const [k, r] of [...relevance]) {
    if (k === key || sameNode.includes(k)) continue;
    relevance.delete(k);
    drop(r);
  }
  if (R === undefined) return undefined;
  const masked = tf.mul(R, mask);
  relevance.set(key, masked);
  drop(R);
  return masked;
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
    for (const key of [...node.inputs, node.output, ...(node.extraOutputs ?? [])]) if (!firstUse.has(key)) firstUse.set(key, i);
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
      // what a layer saved for its own backward (recurrent states) is read by that node only
      const node = plan.nodes[i].node;
      for (const t of record.saved.get(node.id) ?? []) done.push(t);
      for (const t of done) if (!t.isDisposed && !held(t, passing)) t.dispose();
    },
  };
}

