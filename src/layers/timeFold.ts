/**
 * TimeDistributed on rank > 4 tensors (e.g. TimeDistributed(Conv2D) on [B, T, H, W, C]): the time
 * axes are folded into the batch by a node of their own, the inner layer runs as its own node on
 * the rank-4 [B·T, H, W, C], and a last node unfolds its output. Every kernel of the inner node's
 * forward pass and rule (the stabilizer, the ratios, the input products) then sees rank ≤ 4, as the
 * GPU policy of src/ops/gpu.ts asks; only Reshape sees the rank-5 tensors.
 */
import * as tf from '@tensorflow/tfjs';
import type { GraphNode } from '../graph.js';
import type { ExpandedLayer, Layer, LayerAdapter, LayerCall } from './adapter.js';

const passesSign = (_: unknown, nonNeg: readonly boolean[]): boolean => nonNeg.every(Boolean);

/** Merges the batch axis and the `levels` time axes that follow it: [B, T…, rest] → [B·T…, rest]. */
function foldAdapter(levels: number): LayerAdapter {
  return {
    group: 'reshape',
    forward: (_layer, [x]) => {
      const shape = x.shape as number[];
      const merged = shape.slice(0, levels + 1).reduce((a, b) => a * b, 1);
      return tf.reshape(x, [merged, ...shape.slice(levels + 1)]);
    },
    vjp: (_layer, [x], _output, dy) => [tf.reshape(dy, x.shape)],
    nonNegative: passesSign,
    note: 'time folded into the batch (TimeDistributed on rank > 4)',
  };
}

/** Splits the time axes off the batch again: [B·T…, rest] → [B, T…, rest]. */
function unfoldAdapter(steps: readonly number[]): LayerAdapter {
  const perSample = steps.reduce((a, b) => a * b, 1);
  return {
    group: 'reshape',
    forward: (_layer, [y]) => tf.reshape(y, [y.shape[0] / perSample, ...steps, ...y.shape.slice(1)]),
    vjp: (_layer, [y], _output, dy) => [tf.reshape(dy, y.shape)],
    nonNegative: passesSign,
    note: 'time split off the batch again (TimeDistributed on rank > 4)',
  };
}

interface SymbolicLike {
  readonly shape: ReadonlyArray<number | null>;
}
interface InboundLike {
  readonly inputTensors: readonly SymbolicLike[];
  readonly outputTensors: readonly SymbolicLike[];
}

/**
 * The time lengths (after the batch axis, `levels` of them) and the largest rank of a
 * TimeDistributed layer's calls; null when its calls differ in them or one is unknown (null).
 */
function timeGeometry(layer: Layer, levels: number): { steps: number[]; rank: number } | null {
  const inbound = (layer as unknown as { inboundNodes?: readonly InboundLike[] }).inboundNodes ?? [];
  let steps: number[] | null = null;
  let rank = 0;
  for (const node of inbound) {
    const x = node.inputTensors[0];
    const y = node.outputTensors[0];
    if (x === undefined || y === undefined) return null;
    const s = x.shape.slice(1, levels + 1);
    if (s.some((v) => v === null)) return null;
    if (steps !== null && steps.join(',') !== s.join(',')) return null;
    steps = s as number[];
    rank = Math.max(rank, x.shape.length, y.shape.length);
  }
  return steps === null ? null : { steps, rank };
}

/**
 * The nodes of a TimeDistributed call whose tensors have rank > 4 (a fold node, the inner layer's
 * own node with its own adapter and rule, an unfold node), or null when its tensors have rank ≤ 4
 * or its time lengths are not fixed (then the single folded node of src/layers/wrappers.ts).
 */
export function foldedTimeDistributed(layer: Layer, call: LayerCall, inner: Layer, innerAdapter: LayerAdapter, levels: number, what: string): ExpandedLayer | null {
  const geometry = timeGeometry(layer, levels);
  if (geometry === null || geometry.rank <= 4) return null;
  const innerClass = inner.getClassName();
  const foldId = `${call.id}:fold`;
  const stepId = `${call.id}:step`;
  const nodes: GraphNode[] = [
    { id: foldId, name: `${call.name}:fold`, className: 'TimeDistributed', layer, adapter: foldAdapter(levels), op: { kind: 'layer' }, inputs: call.inputs, output: foldId, notes: [`${what}: time folded into the batch`] },
    { id: stepId, name: call.name, className: innerClass, layer: inner, adapter: innerAdapter, op: { kind: 'layer' }, inputs: [foldId], output: stepId, notes: [`${what}: the ${innerClass} at every time step (time folded into the batch, rank ≤ 4)`] },
    { id: call.id, name: `${call.name}:unfold`, className: 'TimeDistributed', layer, adapter: unfoldAdapter(geometry.steps), op: { kind: 'layer' }, inputs: [stepId], output: call.id, notes: [`${what}: time split off the batch again`] },
  ];
  return { nodes, outputs: [call.id] };
}
