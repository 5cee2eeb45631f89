/**
 * Layers around recurrent models (LRP_RULES.md §8): `TimeDistributed(layer)` (the inner layer's
 * own node, time folded into the batch), `Bidirectional(rnn)` (expanded into its forward and
 * backward layers, a time reversal and a merge node) and `RepeatVector` (copies: the gradient).
 * The wrappers expand in the introspector ({@link LayerAdapter.expand}), so the nodes they stand
 * for get their rules, first-layer rules and canonization as if they were in the model themselves.
 */
import * as tf from '@tensorflow/tfjs';
import { LrpLayerError } from '../errors.js';
import type { GraphNode } from '../graph.js';
import type { LinearMap } from '../ops/linear.js';
import { applyLayer, ExpandedLayer, InnerLinearCapability, Layer, LayerAdapter, LayerCall, LinearLayerSpec, vjpByGradient } from './adapter.js';
import { averageAdapter, multiplyAdapter } from './averageMultiply.js';
import { addAdapter } from './merging.js';
import { foldedTimeDistributed } from './timeFold.js';

/** The registry's lookup (passed in: the registry imports this file). */
export type AdapterLookup = (className: string) => LayerAdapter | undefined;

/** For classes the registry does not know (the plan maps them, or reports them). */
const UNKNOWN: LayerAdapter = Object.freeze({ group: 'other' as const });

const passesSign = (_: unknown, nonNeg: readonly boolean[]): boolean => nonNeg.every(Boolean);

/** True for a nested model (duck-typed, as the introspector does). */
function isModel(layer: Layer): boolean {
  return Array.isArray((layer as unknown as { layers?: unknown }).layers);
}

/** The nodes of one call of `layer`: its adapter's expansion, or one node of the layer. */
function callNodes(layer: Layer, adapter: LayerAdapter, call: LayerCall, notes: readonly string[]): ExpandedLayer {
  if (adapter.expand !== undefined) return adapter.expand(layer, call);
  adapter.check?.(layer, call.name);
  const node: GraphNode = { id: call.id, name: call.name, className: layer.getClassName(), layer, adapter, op: { kind: 'layer' }, inputs: call.inputs, output: call.id, notes };
  return { nodes: [node], outputs: [call.id] };
}

// ---- RepeatVector ----------------------------------------------------------------------------

/** `RepeatVector(n)`: [B, F] → [B, n, F]; the relevance of the n copies is summed. */
export const repeatVectorAdapter: LayerAdapter = {
  group: 'reshape',
  vjp: (_layer, _inputs, _output, dy) => [tf.sum(dy, 1)],
  nonNegative: passesSign,
  note: 'relevance of the copies summed',
};

// ---- TimeDistributed -------------------------------------------------------------------------

/** [B, T, …] → [B·T, …]. */
function fold(x: tf.Tensor): tf.Tensor {
  const [b, t, ...rest] = x.shape as number[];
  return tf.reshape(x, [b * t, ...rest]);
}

/** [B·T, …] → [B, T, …], with B and T those of `like`. */
function unfold(y: tf.Tensor, like: readonly number[]): tf.Tensor {
  return tf.reshape(y, [like[0], like[1], ...y.shape.slice(1)]);
}

/** A linear map applied at every time step: time folded into the batch. */
function timeDistributedMap(inner: LinearMap): LinearMap {
  return {
    kind: `timeDistributed(${inner.kind})`,
    group: inner.group,
    apply: (x, params) => unfold(inner.apply(fold(x), params), x.shape),
    transpose: (g, kernel, inputShape) => tf.reshape(inner.transpose(fold(g), kernel, [inputShape[0] * inputShape[1], ...inputShape.slice(2)]), [...inputShape]),
    scaleKernel: (kernel, scale) => inner.scaleKernel(kernel, scale),
  };
}

/** A recurrent layer's own LRP (innerLinear) at every step of an outer time axis. */
function timeDistributedInnerLinear(inner: InnerLinearCapability): InnerLinearCapability {
  return {
    // (a mask over the outer time axis says nothing about the inner sequence's steps: none inside)
    forward(layer, inputs) {
      const { outputs, saved } = inner.forward(layer, inputs.map(fold), null);
      return { outputs: outputs.map((o) => unfold(o, inputs[0].shape)), saved };
    },
    relevance(ctx) {
      const R = ctx.R.map((r) => (r === null ? null : fold(r)));
      const lower = inner.relevance({ ...ctx, inputs: ctx.inputs.map(fold), outputs: ctx.outputs.map(fold), R });
      return lower.map((r, k) => tf.reshape(r, ctx.inputs[k].shape));
    },
    describe: (layer) => `${inner.describe(layer)}, at every step of the outer time axis (TimeDistributed)`,
  };
}

/**
 * The adapter of `inner` wrapped in TimeDistributed: the same group and rule, every tensor with
 * time folded into the batch (so a Dense inside is a Dense node, first-layer rules included).
 */
function timeDistributedOf(inner: LayerAdapter): LayerAdapter {
  const forward = inner.forward ?? applyLayer;
  const linear = inner.linear;
  const innerLinear = inner.innerLinear;
  return {
    group: inner.group,
    check: inner.check,
    activationName: inner.activationName,
    nonNegative: inner.nonNegative,
    defaultRule: inner.defaultRule,
    note: inner.note,
    ...(linear === undefined
      ? {}
      : {
          linear: (layer: Layer): LinearLayerSpec => {
            const spec = linear(layer);
            return { ...spec, parts: spec.parts.map((p) => ({ ...p, map: timeDistributedMap(p.map), params: () => p.params() })) };
          },
        }),
    ...(innerLinear === undefined ? {} : { innerLinear: timeDistributedInnerLinear(innerLinear) }),
    forward: (layer, inputs) => unfold(forward(layer, inputs.map(fold)), inputs[0].shape),
    vjp: (layer, inputs, output, dy) => {
      const xs = inputs.map(fold);
      const lower = inner.vjp !== undefined ? inner.vjp(layer, xs, fold(output), fold(dy)) : vjpByGradient((ys) => forward(layer, ys), xs, fold(dy));
      return lower.map((r, k) => tf.reshape(r, inputs[k].shape));
    },
  };
}

/** `TimeDistributed(layer)`: the inner layer's node, run on every time step (LRP_RULES.md §8). */
export function timeDistributedAdapter(lookup: AdapterLookup): LayerAdapter {
  return {
    group: 'other',
    note: "the inner layer's node and rule (a Dense stays a Dense), applied at every time step",
    expand(layer, call) {
      // nested TimeDistributed: fold one time axis per level
      let inner = (layer as unknown as { layer: Layer }).layer;
      let levels = 1;
      while (inner.getClassName() === 'TimeDistributed') {
        inner = (inner as unknown as { layer: Layer }).layer;
        levels++;
      }
      const innerClass = inner.getClassName();
      if (isModel(inner) || lookup(innerClass)?.expand !== undefined) {
        throw new LrpLayerError(call.name, 'TimeDistributed', `Layer '${call.name}' (TimeDistributed) wraps a ${innerClass}; tfjs-lrp explains TimeDistributed around a single layer (Dense, Conv…, or another TimeDistributed). Apply the wrapped model's layers one by one inside TimeDistributed.`);
      }
      let adapter = lookup(innerClass) ?? UNKNOWN;
      for (let k = 0; k < levels; k++) adapter = timeDistributedOf(adapter);
      const what = levels === 1 ? 'TimeDistributed' : `${levels} nested TimeDistributed`;
      adapter.check?.(inner, call.name);
      // rank > 4 (e.g. Conv2D over [B, T, H, W, C]): fold, the inner layer's own node, unfold (GPU policy)
      const folded = foldedTimeDistributed(layer, call, inner, lookup(innerClass) ?? UNKNOWN, levels, what);
      if (folded !== null) return folded;
      const node: GraphNode = { id: call.id, name: call.name, className: innerClass, layer: inner, adapter, op: { kind: 'layer' }, inputs: call.inputs, output: call.id, notes: [`${what}: the ${innerClass} at every time step (time folded into the batch)`] };
      return { nodes: [node], outputs: [call.id] };
    },
  };
}

// ---- Bidirectional ---------------------------------------------------------------------------

/** Reverses the time axis (the backward layer's sequence, as Keras does before merging). */
const reverseTimeAdapter: LayerAdapter = {
  group: 'reshape',
  forward: (_layer, [x]) => tf.reverse(x, 1),
  vjp: (_layer, _inputs, _output, dy) => [tf.reverse(dy, 1)],
  nonNegative: passesSign,
  note: 'the backward direction put back in time order',
};

/** The Bidirectional merges (tfjs-layers' `Bidirectional.call`), each as the layer it equals. */
const MERGES: Readonly<Record<string, LayerAdapter>> = {
  concat: {
    group: 'concatenate',
    forward: (_layer, xs) => tf.concat(xs, -1),
    vjp: (_layer, xs, _output, dy) => tf.split(dy, xs.map((x) => x.shape[x.rank - 1]), -1),
    nonNegative: passesSign,
    note: "each half of the output is its direction's",
  },
  sum: { ...addAdapter, forward: (_layer, [a, b]) => tf.add(a, b) },
  ave: averageAdapter,
  mul: multiplyAdapter,
};

interface BidirectionalLike {
  readonly forwardLayer: Layer;
  readonly backwardLayer: Layer;
  readonly mergeMode: string | null | undefined;
  readonly returnSequences: boolean;
  readonly returnState: boolean;
}

/**
 * `Bidirectional(rnn)`: the forward and the backward recurrent layer as two nodes on the same
 * input (the fan-out sums their relevance at the input), the backward output reversed in time
 * when it is a sequence, and the merge (`concat` split back, `sum`/`ave` Norm as Add, `mul`
 * uniform). `mergeMode: null` gives the two directions as two outputs.
 */
export function bidirectionalAdapter(lookup: AdapterLookup): LayerAdapter {
  return {
    group: 'other',
    note: 'the forward and the backward layer (their own rule), the backward sequence reversed, then the merge: concat split back, sum/ave as Add (norm), mul uniform',
    expand(layer, call) {
      const b = layer as unknown as BidirectionalLike;
      const fail = (why: string): never => {
        throw new LrpLayerError(call.name, 'Bidirectional', `Layer '${call.name}' (Bidirectional) ${why}`);
      };
      if (b.returnState) fail('has returnState: true; tfjs-lrp explains a Bidirectional layer without its states. Rebuild the layer with returnState: false.');
      if (call.inputs.length !== 1) fail(`is called with ${call.inputs.length} inputs (initial states); tfjs-lrp explains a Bidirectional layer on its sequence input only.`);
      const mode = b.mergeMode ?? null;
      const merge = mode === null ? null : MERGES[mode];
      if (merge === undefined) fail(`has mergeMode '${String(mode)}'; tfjs-lrp knows concat, sum, ave, mul and null.`);
      const innerClass = b.forwardLayer.getClassName();
      const inner = lookup(innerClass) ?? UNKNOWN;
      const fwd = callNodes(b.forwardLayer, inner, { id: `${call.id}:forward`, name: `${call.name}:forward`, inputs: call.inputs }, [`forward direction of Bidirectional '${call.name}'`]);
      const bwd = callNodes(b.backwardLayer, inner, { id: `${call.id}:backward`, name: `${call.name}:backward`, inputs: call.inputs }, [`backward direction of Bidirectional '${call.name}' (goBackwards)`]);
      const nodes: GraphNode[] = [...fwd.nodes, ...bwd.nodes];
      const part = (id: string, name: string, adapter: LayerAdapter, inputs: readonly string[], note: string): string => {
        nodes.push({ id, name, className: 'Bidirectional', layer, adapter, op: { kind: 'layer' }, inputs, output: id, notes: [note] });
        return id;
      };
      let backward = bwd.outputs[0];
      if (b.returnSequences) backward = part(`${call.id}:reverse`, `${call.name}:reverse`, reverseTimeAdapter, [backward], 'backward sequence reversed into time order');
      if (merge === null) return { nodes, outputs: [fwd.outputs[0], backward] };
      part(call.id, call.name, merge, [fwd.outputs[0], backward], `merge '${String(mode)}' of the two directions`);
      return { nodes, outputs: [call.id] };
    },
  };
}
