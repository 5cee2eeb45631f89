/**
 * Where relevance is known to vanish, from the plan alone (no tensor is read).
 *
 * A tensor `t` is *inactive-zero* when the relevance arriving at it is exactly zero wherever
 * `t ≤ 0`. That holds when every node that reads `t` passes it relevance that is zero there:
 *
 * - a Dense/Conv node whose rule is `proportionalToInput` (relevance `Σ x_k ⊙ c_k`), with `t ≥ 0`
 *   known from the graph: zero where `t = 0`, i.e. where `t ≤ 0`;
 * - a ReLU or ReLU6 (pass or gradient rule) whose output is inactive-zero: `t ≤ 0` exactly where
 *   the output is 0;
 * - a layer that moves values (`LayerAdapter.routesValues`: max pooling, Flatten, Reshape,
 *   padding, identity; a BatchNorm merged into the layer before it) under the pass or gradient
 *   rule whose output is inactive-zero: each input element receives only the relevance of output
 *   elements equal to it.
 *
 * The explained output (or any tensor a pass starts at) is never inactive-zero: its relevance is
 * the explained score, of any sign. Rules of Dense/Conv layers whose output is inactive-zero get
 * `upperZeroWhereInactive` and may skip the terms of units with `z ≤ 0` (they carry nothing).
 */
import type { CanonicalGraph } from './canonize.js';
import type { GraphNode } from './graph.js';
import type { Rule } from '../rules/types.js';

/** Activations whose output is 0 exactly where their input is ≤ 0. */
const ZERO_BELOW = new Set(['relu', 'relu6']);

/** The node and its rule (the part of a planned node this analysis reads). */
export interface RuledNode {
  readonly node: GraphNode;
  readonly rule: Rule;
}

/** Whether `node` passes its (single) input relevance that vanishes where the input is ≤ 0, given its output's. */
function keepsInactiveZero(node: GraphNode, rule: Rule): boolean {
  if (rule.appliesTo !== 'any' || rule.followsLayerMap !== true) return false;
  if (node.inputs.length !== 1 || (node.extraOutputs ?? []).length > 0) return false;
  if (node.op.kind === 'activation') return ZERO_BELOW.has(node.op.activation.name);
  // a BatchNorm merged into the linear layer before it: its output is its input
  if (node.op.kind === 'merged') return true;
  if (node.op.kind !== 'layer') return false;
  const name = node.adapter.activationName?.(node.layer);
  if (name !== undefined) return ZERO_BELOW.has(name);
  return node.adapter.routesValues === true;
}

/**
 * The keys of the inactive-zero tensors (see the module comment) when relevance starts at
 * `start`. `nodes` in forward (topological) order.
 */
export function inactiveZeroKeys(graph: CanonicalGraph, nodes: readonly RuledNode[], start: string): Set<string> {
  const consumers = new Map<string, RuledNode[]>();
  for (const n of nodes) for (const k of n.node.inputs) consumers.set(k, [...(consumers.get(k) ?? []), n]);
  const known = new Set<string>();
  const check = (key: string): boolean => {
    if (key === start) return false;
    const readers = consumers.get(key) ?? [];
    if (readers.length === 0) return false;
    return readers.every(({ node, rule }) => {
      if (node.inputs.filter((k) => k === key).length !== 1) return false;
      if (node.op.kind === 'linear') return rule.appliesTo === 'linear' && rule.proportionalToInput === true && graph.nonNegative.get(key) === true;
      return keepsInactiveZero(node, rule) && known.has(node.output);
    });
  };
  // reverse topological order: every reader of a key comes after its producer
  for (let i = nodes.length - 1; i >= 0; i--) {
    const key = nodes[i].node.output;
    if (check(key)) known.add(key);
  }
  return known;
}

/**
 * The Dense/Conv nodes whose forward may apply their ReLU inside the map's own kernel (a fused
 * convolution or matMul, as `model.predict` does), recording `max(z, 0)` in place of z: those
 * whose output is inactive-zero, read by one ReLU alone (pass or gradient rule: both read only
 * where the ReLU's input is > 0, where the two agree), whose rule `acceptsRectifiedZ` and has no
 * forward of its own, and whose map has `applyRectified`. The ReLU then passes its input on.
 */
export function rectifiedLinearNodes(nodes: readonly RuledNode[], inactiveZero: ReadonlySet<string>): Set<string> {
  const readers = new Map<string, RuledNode[]>();
  for (const n of nodes) for (const k of n.node.inputs) readers.set(k, [...(readers.get(k) ?? []), n]);
  const rectified = new Set<string>();
  for (const { node, rule } of nodes) {
    if (node.op.kind !== 'linear' || rule.appliesTo !== 'linear' || rule.acceptsRectifiedZ !== true || rule.forward !== undefined) continue;
    if (node.op.part.map.applyRectified === undefined || !inactiveZero.has(node.output) || (node.extraOutputs ?? []).length > 0) continue;
    const only = readers.get(node.output) ?? [];
    if (only.length !== 1) continue;
    const { node: reader, rule: readerRule } = only[0];
    if (reader.op.kind === 'activation' && reader.op.activation.name === 'relu' && reader.inputs.length === 1 && readerRule.appliesTo === 'any' && readerRule.followsLayerMap === true) rectified.add(node.id);
  }
  return rectified;
}
