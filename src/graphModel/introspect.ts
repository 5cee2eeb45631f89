/**
 * Introspector for graph models: a `tf.GraphModel` (tf.loadGraphModel: converted SavedModels,
 * TF Hub, Keras models converted as graphs) → the same plain {@link ModelGraph} the layers
 * introspector makes, so canonize, plan, forward and backward run unchanged. Each op node gets an
 * {@link OpLayer} standing in for the layer. It reads the converter's graph
 * (`model.executor.graph`) and never changes the model or disposes its tensors.
 */
import * as tf from '@tensorflow/tfjs';
import { LrpLayerError, LrpModelError } from '../errors.js';
import type { GraphInput, GraphNode, ModelGraph } from '../graph.js';
import type { Layer, LayerAdapter } from '../layers/adapter.js';
import { markConstantWeight } from '../ops/derived.js';
import { canFoldBias } from './ops/linear.js';
import { batchNormView } from './ops/normalization.js';
import type { OpConstant, OpLayer } from './opLayer.js';
import { opAdapterFor, refuseOp } from './registry.js';

/** A node of the converter's graph (tfjs-converter internals, duck-typed). */
interface ConverterNode {
  readonly name: string;
  readonly op: string;
  readonly inputNames: readonly string[];
  readonly attrParams: Readonly<Record<string, { readonly value: unknown }>>;
}

interface TensorInfoLike {
  readonly name: string;
  readonly shape?: readonly number[];
  readonly dtype?: tf.DataType;
}

/** A `tf.GraphModel` as far as the introspector reads it (duck-typed: two tfjs copies may exist). */
interface GraphModelLike {
  readonly executor: { readonly graph: { readonly nodes: Readonly<Record<string, ConverterNode>>; readonly placeholders: readonly ConverterNode[] } };
  readonly inputs: readonly TensorInfoLike[];
  readonly outputs: readonly TensorInfoLike[];
  readonly inputNodes: readonly string[];
  readonly outputNodes: readonly string[];
  readonly weights: Readonly<Record<string, readonly tf.Tensor[]>>;
  readonly modelVersion?: string;
  readonly artifacts?: tf.io.ModelArtifacts;
  execute(inputs: tf.NamedTensorMap | tf.Tensor | tf.Tensor[], outputs?: string | string[]): tf.Tensor | tf.Tensor[];
}

/** True for a `tf.GraphModel` (duck-typed: two tfjs copies may exist). */
export function isGraphModel(value: unknown): value is tf.GraphModel {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Partial<GraphModelLike> & { executeAsync?: unknown; layers?: unknown };
  const graph = (v.executor as { graph?: { nodes?: unknown } } | undefined)?.graph;
  return typeof v.execute === 'function' && typeof v.executeAsync === 'function' && graph !== undefined && typeof graph.nodes === 'object' && !Array.isArray(v.layers);
}

/** `'name:k'` → [name, k]. */
function parseName(full: string): [string, number] {
  const at = full.lastIndexOf(':');
  if (at > 0 && /^\d+$/.test(full.slice(at + 1))) return [full.slice(0, at), Number(full.slice(at + 1))];
  return [full, 0];
}

const ALIAS_OPS = new Set(['Identity', 'StopGradient', 'Snapshot', 'IdentityN']);
const BIAS_OPS = new Set(['BiasAdd', 'Add', 'AddV2']);

const BYTES: Readonly<Record<string, number>> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2, complex64: 8 };

/** Small int/float constants read on the host from the model's weight data (no device read). */
function hostValues(model: GraphModelLike): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const art = model.artifacts;
  if (art?.weightSpecs === undefined || art.weightData === undefined) return out;
  const data = new tf.io.CompositeArrayBuffer(art.weightData);
  let offset = 0;
  for (const spec of art.weightSpecs) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const q = spec.quantization;
    const bytesPer = q !== undefined ? BYTES[q.dtype] : BYTES[spec.dtype];
    if (bytesPer === undefined) break; // a string weight: offsets unknown from here on
    const bytes = size * bytesPer;
    if (q === undefined && size <= 64 && (spec.dtype === 'int32' || spec.dtype === 'float32')) {
      const buf = data.slice(offset, offset + bytes);
      out.set(spec.name, Array.from(spec.dtype === 'int32' ? new Int32Array(buf) : new Float32Array(buf)));
    }
    offset += bytes;
  }
  return out;
}

/** Output shapes by one batch-1 run of the op adapters on zeros (cached per model). */
const shapeCache = new WeakMap<object, Array<Array<number | null>>>();

function outputShapes(model: GraphModelLike, nodes: readonly GraphNode[], inputs: readonly GraphInput[], outputs: readonly string[]): Array<Array<number | null>> {
  const hit = shapeCache.get(model);
  if (hit !== undefined) return hit;
  for (const input of inputs) {
    if (input.shape.slice(1).some((d) => d === null)) {
      throw new LrpModelError(`Graph model input '${input.name}' has shape [${input.shape.map((d) => d ?? -1).join(',')}] with a free non-batch axis; tfjs-lrp explains graph models whose inputs have a fixed size. Convert the model with a fixed input size (e.g. a concrete function with a full TensorSpec).`);
    }
  }
  // the adapters' own forward (tf ops, no read from the device), not model.execute: the
  // converter reads shape constants synchronously, which WebGPU does not allow
  let shapes: Array<Array<number | null>> = [];
  tf.tidy(() => {
    const values = new Map<string, tf.Tensor>(inputs.map((input) => [input.key, tf.zeros([1, ...(input.shape.slice(1) as number[])], input.dtype)]));
    for (const node of nodes) {
      const ins = node.inputs.map((k) => values.get(k) as tf.Tensor);
      const spec = node.adapter.linear?.(node.layer);
      let y: tf.Tensor;
      if (spec !== undefined) {
        y = ins[0];
        for (const part of spec.parts) y = part.map.apply(y, part.params());
        if (spec.activation !== null) y = spec.activation.apply(y);
      } else {
        y = node.adapter.forward?.(node.layer, ins) ?? (node.layer as unknown as { apply(x: tf.Tensor[]): tf.Tensor }).apply(ins);
      }
      values.set(node.output, y);
    }
    shapes = outputs.map((k) => [null, ...(values.get(k) as tf.Tensor).shape.slice(1)]);
  });
  shapeCache.set(model, shapes);
  return shapes;
}

/** Where a tensor of the converter's graph comes from. */
type Source = { readonly kind: 'tensor'; readonly key: string } | { readonly kind: 'const'; readonly constant: OpConstant };

interface RawNode {
  readonly node: ConverterNode;
  op: string;
  /** Per operand: its constant, or null (a graph tensor). */
  operands: Array<OpConstant | null>;
  /** The converter names of the graph-tensor operands (what `run` feeds). */
  feeds: string[];
  inputs: string[];
  readonly output: string;
  foldedBias: OpConstant | null;
  notes: string[];
  removed: boolean;
}

/** Reads a graph model into a plain graph. */
export function introspectGraphModel(graphModel: tf.GraphModel): ModelGraph {
  const model = graphModel as unknown as GraphModelLike;
  const nodes = model.executor.graph.nodes;
  const values = hostValues(model);
  const modelName = model.modelVersion !== undefined && model.modelVersion !== 'undefined.undefined' ? `graph model ${model.modelVersion}` : 'graph model';

  // node names (model.inputs/outputs), not inputNodes/outputNodes: those are the signature keys
  // when the model.json has a signature (e.g. 'activation_4' for the node 'Identity')
  const inputs: GraphInput[] = model.inputs.map((t) => t.name).map((full, i) => {
    const [name] = parseName(full);
    const info = model.inputs[i];
    const node = nodes[name];
    const shape = info?.shape ?? (node?.attrParams.shape?.value as number[] | undefined) ?? [];
    const dtype = info?.dtype ?? (node?.attrParams.dtype?.value as tf.DataType | undefined) ?? 'float32';
    return { key: `input:${i}`, name, shape: shape.map((d) => (d === -1 || d === null ? null : d)), dtype };
  });
  const inputKeys = new Map(inputs.map((input) => [input.name, input.key]));

  const raw: RawNode[] = [];
  const resolved = new Map<string, Source>();
  const visiting = new Set<string>();

  const constantOf = (name: string): OpConstant => {
    const t = model.weights[name]?.[0];
    // the model's own weight: a constant that derived() may cache from (flipped kernels, W⁺, …)
    return { name, value: () => markConstantWeight((model.weights[name] as tf.Tensor[])[0]), values: values.get(name) ?? null, shape: t === undefined ? null : t.shape };
  };

  const resolve = (full: string): Source => {
    const [name, index] = parseName(full);
    const node = nodes[name];
    if (node === undefined) throw new LrpModelError(`Graph model: node '${name}' (an input of another node) is not in the graph.`);
    const key = index === 0 ? name : `${name}:${index}`;
    const known = resolved.get(key);
    if (known !== undefined) return known;
    if (visiting.has(key)) throw new LrpModelError(`Graph model: node '${name}' (${node.op}) is part of a cycle; tfjs-lrp explains acyclic graphs only.`);
    visiting.add(key);
    const source = resolveNode(node, index);
    visiting.delete(key);
    resolved.set(key, source);
    return source;
  };

  const resolveNode = (node: ConverterNode, index: number): Source => {
    if (node.op === 'Placeholder') {
      const key = inputKeys.get(node.name);
      if (key === undefined) throw new LrpModelError(`Graph model: placeholder '${node.name}' is not one of the model inputs (${[...inputKeys.keys()].join(', ')}).`);
      return { kind: 'tensor', key };
    }
    if (node.op === 'Const') return { kind: 'const', constant: constantOf(node.name) };
    refuseOp(node.name, node.op);
    if (ALIAS_OPS.has(node.op) && node.inputNames.length >= 1) return resolve(node.inputNames[Math.min(index, node.inputNames.length - 1)]);
    const sources = node.inputNames.map(resolve);
    if (sources.every((s) => s.kind === 'const')) {
      // a constant sub-graph: the converter computes it (tf ops) whenever it is used
      const full = index === 0 ? node.name : `${node.name}:${index}`;
      return {
        kind: 'const',
        constant: { name: full, value: () => model.execute({}, full) as tf.Tensor, values: null, shape: null },
      };
    }
    if (index !== 0) {
      throw new LrpLayerError(node.name, node.op, `Node '${node.name}' (${node.op}): output ${index} is used; tfjs-lrp explains the first output of an op only (multi-output ops such as Split/Unpack are not supported). Export the model with single-output ops.`);
    }
    const operands = sources.map((s) => (s.kind === 'const' ? s.constant : null));
    const tensorInputs = sources.flatMap((s) => (s.kind === 'tensor' ? [s.key] : []));
    const feeds = node.inputNames.filter((_, i) => sources[i].kind === 'tensor');
    raw.push({ node, op: node.op, operands, feeds, inputs: tensorInputs, output: node.name, foldedBias: null, notes: [], removed: false });
    return { kind: 'tensor', key: node.name };
  };

  const outputNames = model.outputs.map((t) => t.name);
  const outputs = outputNames.map((full) => {
    const s = resolve(full);
    if (s.kind === 'const') throw new LrpModelError(`Graph model output '${full}' is a constant: it does not depend on the inputs, so there is nothing to explain.`);
    return s.key;
  });

  rewrite(raw, outputs);
  const graphNodes = raw.filter((r) => !r.removed).map((r) => toGraphNode(model, r));
  return { modelName, nodes: graphNodes, inputs, outputs, outputShapes: outputShapes(model, graphNodes, inputs, outputs) };
}

/** Folds a BiasAdd into the linear op before it; collapses `x * Sigmoid(x)` into one swish node. */
function rewrite(raw: RawNode[], outputs: readonly string[]): void {
  const uses = new Map<string, RawNode[]>();
  for (const r of raw) for (const k of r.inputs) uses.set(k, [...(uses.get(k) ?? []), r]);
  const producer = new Map(raw.map((r) => [r.output, r]));
  const alias = new Map<string, string>();
  for (const r of raw) {
    if (r.removed) continue;
    // linear op → BiasAdd/Add of a per-channel constant: the bias of the linear op
    if (BIAS_OPS.has(r.op) && r.inputs.length === 1 && r.operands.length === 2) {
      const prev = producer.get(r.inputs[0]);
      const bias = r.operands.find((o): o is OpConstant => o !== null) as OpConstant;
      const perChannel = bias.shape !== null && bias.shape.slice(0, -1).every((d) => d === 1);
      if (prev !== undefined && !prev.removed && (uses.get(prev.output) ?? []).length === 1 && !outputs.includes(prev.output) && perChannel && canFoldBias(stub(prev))) {
        prev.foldedBias = bias;
        prev.notes.push(`${r.op} '${r.node.name}' folded into its bias`);
        r.removed = true;
        alias.set(r.output, prev.output);
        continue;
      }
      // Keras Conv1D as converted: conv → Squeeze (a spatial axis) → BiasAdd; the bias still
      // belongs to the conv (it commutes with the Squeeze), so it goes into the rule's denominator
      const linear = prev?.op === 'Squeeze' && prev.inputs.length === 1 ? producer.get(prev.inputs[0]) : undefined;
      const axes = prev === undefined ? [] : ((attrsOf(prev.node).axis as number[] | undefined) ?? []);
      const spatial = axes.length > 0 && axes.every((a) => (a >= 1 && a <= 2) || (a >= -3 && a <= -2));
      const single = (k: string): boolean => (uses.get(k) ?? []).length === 1 && !outputs.includes(k);
      if (prev !== undefined && linear !== undefined && !linear.removed && !prev.removed && spatial && perChannel && single(prev.output) && single(linear.output) && !linear.op.endsWith('MatMul') && canFoldBias(stub(linear))) {
        linear.foldedBias = bias;
        linear.notes.push(`${r.op} '${r.node.name}' (after the Squeeze '${prev.node.name}') folded into its bias`);
        r.removed = true;
        alias.set(r.output, prev.output);
        continue;
      }
    }
    // x * Sigmoid(x): one swish activation
    if (r.op === 'Mul' && r.inputs.length === 2 && r.operands.every((o) => o === null)) {
      const [a, b] = r.inputs;
      const sig = [producer.get(a), producer.get(b)].find((p) => p !== undefined && p.op === 'Sigmoid' && p.inputs.length === 1 && (p.inputs[0] === a || p.inputs[0] === b) && (uses.get(p.output) ?? []).length === 1 && !outputs.includes(p.output));
      if (sig !== undefined) {
        const x = sig.inputs[0];
        sig.removed = true;
        r.op = 'Swish';
        r.operands = [null];
        r.inputs = [x];
        r.feeds = [];
        r.notes.push(`x * Sigmoid(x) (with '${sig.node.name}'): swish`);
      }
    }
  }
  const resolveAlias = (k: string): string => {
    let key = k;
    while (alias.has(key)) key = alias.get(key) as string;
    return key;
  };
  for (const r of raw) r.inputs = r.inputs.map(resolveAlias);
  outputs.forEach((k, i) => ((outputs as string[])[i] = resolveAlias(k)));
}

/** A minimal op layer for `canFoldBias`. */
function stub(r: RawNode): OpLayer {
  return { name: r.node.name, op: r.op, getClassName: () => r.op, attrs: attrsOf(r.node), operands: r.operands, foldedBias: r.foldedBias, run: () => { throw new Error('internal: stub'); } };
}

function attrsOf(node: ConverterNode): Record<string, unknown> {
  return Object.fromEntries(Object.entries(node.attrParams).map(([k, v]) => [k, v.value]));
}

/** An adapter for ops tfjs-lrp does not know: plan assigns a user rule or reports them; it runs through the converter. */
const UNKNOWN_OP: LayerAdapter = Object.freeze({ group: 'other' as const });

function toGraphNode(model: GraphModelLike, r: RawNode): GraphNode {
  const name = r.node.name;
  const op = r.op;
  const run = (inputs: readonly tf.Tensor[]): tf.Tensor => {
    if (op === 'Swish') return tf.mul(inputs[0], tf.sigmoid(inputs[0]));
    const feed: tf.NamedTensorMap = {};
    r.feeds.forEach((f, i) => (feed[parseName(f)[0]] = inputs[i]));
    return model.execute(feed, name) as tf.Tensor;
  };
  const base: OpLayer & { apply(x: tf.Tensor | tf.Tensor[]): tf.Tensor } = {
    name,
    op,
    getClassName: () => op,
    attrs: Object.freeze(attrsOf(r.node)),
    operands: Object.freeze([...r.operands]),
    foldedBias: r.foldedBias,
    run,
    apply: (x: tf.Tensor | tf.Tensor[]) => run(Array.isArray(x) ? x : [x]),
  };
  const layer = op === 'FusedBatchNorm' || op === 'FusedBatchNormV3' ? Object.assign(base, batchNormView(base)) : base;
  const registered = opAdapterFor(op);
  const adapter = registered === undefined ? UNKNOWN_OP : typeof registered === 'function' ? registered(layer) : registered;
  adapter.check?.(layer as unknown as Layer, name);
  return { id: name, name, className: op, layer: layer as unknown as Layer, adapter, op: { kind: 'layer' }, inputs: r.inputs, output: r.output, notes: r.notes };
}
