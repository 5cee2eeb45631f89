/**
 * Canonizers: pure rewrites of a {@link ModelGraph} (never of the model).
 * 1. split each Dense/Conv layer into its linear part(s) and its fused activation;
 * 2. merge a BatchNormalization into the linear layer right before it (zennit
 *    SequentialMergeBatchNorm);
 * 3. strip a final softmax/sigmoid from the explained output (explain the logits);
 * 4. keep only what the explained output depends on.
 */
import type { GraphNode, ModelGraph } from './graph.js';
import { isNonNegativeActivation } from './layers/activations.js';

/** The canonized graph plus what is explained. */
export interface CanonicalGraph extends ModelGraph {
  /** Key of the tensor whose score is explained (the logits). */
  readonly explained: string;
  /** Which model output is explained. */
  readonly outputIndex: number;
  /** The final activation that was stripped, if any, and the node it belonged to. */
  readonly stripped: { readonly activation: string; readonly node: string; readonly className: string } | null;
  /** Per tensor key: whether it is known to be ≥ 0. */
  readonly nonNegative: ReadonlyMap<string, boolean>;
}

function splitLinear(nodes: readonly GraphNode[]): GraphNode[] {
  const out: GraphNode[] = [];
  for (const node of nodes) {
    const spec = node.op.kind === 'layer' && node.adapter.linear !== undefined ? node.adapter.linear(node.layer) : null;
    if (spec === null) {
      out.push(node);
      continue;
    }
    let input = node.inputs;
    spec.parts.forEach((part, i) => {
      const last = i === spec.parts.length - 1;
      const output = last && spec.activation === null ? node.output : `${node.output}~${part.part ?? 'z'}`;
      // (a single part keeps the node's own notes, e.g. a graph op's folded BiasAdd)
      const notes = part.part === null ? [...node.notes] : [`${part.part} part of ${node.className}`];
      out.push({
        ...node,
        id: part.part === null ? node.id : `${node.id}:${part.part}`,
        name: part.part === null ? node.name : `${node.name}:${part.part}`,
        op: { kind: 'linear', part, mergedBatchNorm: null },
        inputs: input,
        output,
        notes,
      });
      input = [output];
    });
    if (spec.activation !== null) {
      out.push({
        ...node,
        id: `${node.id}:activation`,
        name: `${node.name}:${spec.activation.name}`,
        op: { kind: 'activation', activation: spec.activation },
        inputs: input,
        output: node.output,
        notes: [`fused ${spec.activation.name} split from ${node.className}`],
      });
    }
  }
  return out;
}

function consumers(nodes: readonly GraphNode[]): Map<string, GraphNode[]> {
  const map = new Map<string, GraphNode[]>();
  for (const n of nodes) for (const k of n.inputs) map.set(k, [...(map.get(k) ?? []), n]);
  return map;
}

function mergeBatchNorm(nodes: readonly GraphNode[], modelOutputs: readonly string[]): GraphNode[] {
  const users = consumers(nodes);
  const producer = new Map(nodes.map((n) => [n.output, n]));
  const merged = new Map<string, GraphNode>(); // linear node id -> BN node
  for (const bn of nodes) {
    if (bn.op.kind !== 'layer' || bn.adapter.group !== 'batchNorm' || bn.inputs.length !== 1) continue;
    const prev = producer.get(bn.inputs[0]);
    if (prev === undefined || prev.op.kind !== 'linear' || prev.op.mergedBatchNorm !== null) continue;
    if ((users.get(prev.output) ?? []).length !== 1 || modelOutputs.includes(prev.output)) continue;
    merged.set(prev.id, bn);
  }
  const bnIds = new Set([...merged.values()].map((n) => n.id));
  return nodes.map((n) => {
    const bn = merged.get(n.id);
    if (bn !== undefined && n.op.kind === 'linear') {
      return { ...n, op: { ...n.op, mergedBatchNorm: bn.layer }, notes: [...n.notes, `BatchNorm '${bn.name}' merged into this layer`] };
    }
    if (bnIds.has(n.id)) {
      return { ...n, op: { kind: 'merged' as const }, notes: [...n.notes, 'merged into the layer before it; passes relevance unchanged'] };
    }
    if (n.op.kind === 'layer' && n.adapter.group === 'batchNorm') {
      return { ...n, notes: [...n.notes, 'not merged (it does not directly follow a Dense/Conv with linear activation): passes relevance unchanged'] };
    }
    return n;
  });
}

function finalActivationName(node: GraphNode): string | null {
  if (node.op.kind === 'activation') return node.op.activation.name;
  if (node.op.kind === 'layer' && node.adapter.activationName !== undefined) return node.adapter.activationName(node.layer);
  return null;
}

function ancestors(nodes: readonly GraphNode[], key: string): GraphNode[] {
  const producer = new Map(nodes.flatMap((n) => [n.output, ...(n.extraOutputs ?? [])].map((k) => [k, n] as const)));
  const needed = new Set<string>();
  const stack = [key];
  while (stack.length > 0) {
    const k = stack.pop() as string;
    const n = producer.get(k);
    if (n === undefined || needed.has(n.id)) continue;
    needed.add(n.id);
    stack.push(...n.inputs);
  }
  return nodes.filter((n) => needed.has(n.id));
}

function nonNegativity(graph: ModelGraph, nodes: readonly GraphNode[], inputsNonNegative: boolean): Map<string, boolean> {
  const known = new Map<string, boolean>(graph.inputs.map((i) => [i.key, inputsNonNegative]));
  for (const n of nodes) {
    const ins = n.inputs.map((k) => known.get(k) ?? false);
    let value = false;
    if (n.op.kind === 'activation') value = isNonNegativeActivation(n.op.activation.name);
    else if (n.op.kind === 'merged') value = ins[0];
    else if (n.op.kind === 'layer') value = n.adapter.nonNegative?.(n.layer, ins) ?? false;
    known.set(n.output, value);
  }
  return known;
}

/**
 * Canonizes a graph for explaining model output `outputIndex`.
 * @param inputsNonNegative whether the model inputs are declared ≥ 0 (`options.inputNonNegative`)
 */
export function canonize(graph: ModelGraph, outputIndex: number, inputsNonNegative = false): CanonicalGraph {
  let nodes = splitLinear(graph.nodes);
  nodes = mergeBatchNorm(nodes, graph.outputs);
  let explained = graph.outputs[outputIndex];
  let stripped: CanonicalGraph['stripped'] = null;
  const last = nodes.find((n) => n.output === explained);
  const activation = last === undefined ? null : finalActivationName(last);
  if (last !== undefined && (activation === 'softmax' || activation === 'sigmoid') && last.inputs.length === 1) {
    stripped = { activation, node: last.name, className: last.className };
    explained = last.inputs[0];
  }
  const kept = ancestors(nodes, explained);
  return { ...graph, nodes: kept, explained, outputIndex, stripped, nonNegative: nonNegativity(graph, kept, inputsNonNegative) };
}
