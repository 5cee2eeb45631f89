/**
 * Relevance inside the network and Concept Relevance Propagation (LRP_RULES.md §10): the
 * relevance arriving at chosen layers, a pass started at a hidden channel, and conditional
 * relevance (only the listed channels of a layer pass relevance on). The same forward and
 * backward pass as `explain`, with taps on the backward pass (src/backward.ts `BackwardTaps`).
 *
 *     const { input, layers } = explainLayers(model, x, 3, ['conv2'], { conditions: { conv2: [5] } });
 */
import type { ExplainableModel } from './explainable.js';
import * as tf from '@tensorflow/tfjs';
import { runBackward, type BackwardTaps } from './backward.js';
import { checkClassIdx, checkInputs, checkOutputRelevance } from './checks.js';
import { LrpArgumentError } from './errors.js';
import { withCachedPlan } from './explainCache.js';
import type { ClassIndex, Relevance } from './explain.js';
import { runForward } from './forward.js';
import type { GraphNode } from './graph.js';
import { attachInputCheck, inputFlags, maskFailedInputs } from './inputCheck.js';
import { DerivedTensors, withDerivedTensors } from './ops/derived.js';
import type { ExplainOptions } from './options.js';
import type { ModelPlan } from './plan.js';

/** A hidden channel to explain instead of a class: its activation at every position starts the pass. */
export interface LayerChannel {
  /** Keras layer name (nested models: `outer/inner`). */
  readonly layer: string;
  /** The channel (last axis): one for all samples, or one per sample. */
  readonly channel: number | readonly number[];
  /**
   * Only this position of the channel (one neuron): a flat row-major index over the axes between
   * the batch and the channel axis, one for all samples or one per sample. Default: every position.
   */
  readonly position?: number | readonly number[];
}

/** What to explain: a class of the explained output ({@link ClassIndex}) or a hidden channel. */
export type ConceptTarget = ClassIndex | LayerChannel;

/** Options of {@link explainLayers} and {@link conceptRelevance}. */
export interface LayerRelevanceOptions {
  /**
   * Concept Relevance Propagation: per layer name, the channels (last axis) whose relevance is
   * passed on; the relevance of every other channel, and of every path that bypasses the layer,
   * is dropped there. Several layers may be conditioned when they lie one after another on the
   * way to the input. Default: none (the plain LRP pass).
   */
  readonly conditions?: Readonly<Record<string, readonly number[]>>;
}

/** The result of {@link explainLayers}; the caller disposes every tensor. */
export interface LayerRelevance {
  /** Input relevance, as `explain` returns it (one tensor, or one per model input). */
  readonly input: Relevance;
  /**
   * Per requested layer: the relevance arriving at the layer's output (its shape), before the
   * layer's own condition is applied. A Dense/Conv with a fused activation: after the activation;
   * the explained layer whose final softmax/sigmoid was stripped: at its logits.
   */
  readonly layers: Record<string, tf.Tensor>;
}

/** The Keras layer name of a canonical node (a split part or activation: its layer's name). */
function layerNameOf(node: GraphNode): string {
  const split = (node.op.kind === 'linear' && node.op.part.part !== null) || node.op.kind === 'activation';
  const cut = node.name.lastIndexOf(':');
  return split && cut > 0 ? node.name.slice(0, cut) : node.name;
}

/** Layer name → key of the layer's output tensor (the last node of the layer in forward order). */
export function layerOutputKeys(plan: ModelPlan): Map<string, string> {
  const keys = new Map<string, string>();
  for (const input of plan.graph.inputs) keys.set(input.name, input.key);
  for (const { node } of plan.nodes) keys.set(layerNameOf(node), node.output);
  return keys;
}

/** The output key of layer `name`, or an LrpArgumentError naming `argument` and listing the layers. */
function keyOf(plan: ModelPlan, keys: ReadonlyMap<string, string>, name: unknown, argument: string): string {
  const key = typeof name === 'string' ? keys.get(name) : undefined;
  if (key === undefined) {
    const names = [...keys.keys()];
    const shown = names.length <= 40 ? names.join(', ') : `${names.slice(0, 40).join(', ')}, … (${names.length} in all)`;
    throw new LrpArgumentError(argument, `no layer ${JSON.stringify(name)} on the way from the explained output of model '${plan.graph.modelName}' to its inputs. Layers: ${shown}.`);
  }
  return key;
}

/** Keys of every tensor `key` depends on (itself included). */
function ancestorKeys(plan: ModelPlan, key: string): Set<string> {
  const producer = new Map(plan.nodes.map(({ node }) => [node.output, node] as const));
  const seen = new Set<string>();
  const stack = [key];
  while (stack.length > 0) {
    const k = stack.pop() as string;
    if (seen.has(k)) continue;
    seen.add(k);
    stack.push(...(producer.get(k)?.inputs ?? []));
  }
  return seen;
}

/** Validated conditions: key → channels, in order from the output towards the input. */
function conditionKeys(plan: ModelPlan, keys: ReadonlyMap<string, string>, conditions: LayerRelevanceOptions['conditions']): Map<string, { name: string; channels: readonly number[] }> {
  const out = new Map<string, { name: string; channels: readonly number[] }>();
  if (conditions === undefined) return out;
  if (conditions === null || typeof conditions !== 'object') throw new LrpArgumentError('options.conditions', `expected { layerName: [channel, …] }, got ${JSON.stringify(conditions)}.`);
  const inputKeys = new Set(plan.graph.inputs.map((i) => i.key));
  for (const [name, channels] of Object.entries(conditions)) {
    const key = keyOf(plan, keys, name, `options.conditions['${name}']`);
    if (inputKeys.has(key)) throw new LrpArgumentError(`options.conditions['${name}']`, `'${name}' is a model input; condition a layer.`);
    if (!Array.isArray(channels) || channels.some((c) => typeof c !== 'number' || !Number.isInteger(c) || c < 0)) {
      throw new LrpArgumentError(`options.conditions['${name}']`, `expected a list of channel numbers (integers ≥ 0), got ${JSON.stringify(channels)}.`);
    }
    out.set(key, { name, channels });
  }
  const list = [...out.keys()];
  for (let a = 0; a < list.length; a++) {
    for (let b = a + 1; b < list.length; b++) {
      if (!ancestorKeys(plan, list[a]).has(list[b]) && !ancestorKeys(plan, list[b]).has(list[a])) {
        const [na, nb] = [out.get(list[a])?.name, out.get(list[b])?.name];
        throw new LrpArgumentError('options.conditions', `layers '${na}' and '${nb}' lie on parallel branches (neither is on the way from the other to the input); condition layers that lie one after another, or explain each branch in its own call.`);
      }
    }
  }
  return out;
}

/** Channel count (last axis) of a recorded tensor, checked against `channels`. */
function checkChannels(t: tf.Tensor, name: string, channels: readonly number[], argument: string): number {
  const C = t.shape[t.rank - 1];
  if (t.rank < 2) throw new LrpArgumentError(argument, `layer '${name}' has output shape [${t.shape.join(', ')}]: no channel axis.`);
  const bad = channels.find((c) => c >= C);
  if (bad !== undefined) throw new LrpArgumentError(argument, `channel ${bad} is out of range: layer '${name}' has ${C} channels (0 … ${C - 1}) in its last axis.`);
  return C;
}

/** A 0/1 mask over the last axis, shaped to broadcast onto `t` (`perSample`: one row per sample). */
function channelMask(t: tf.Tensor, rows: ReadonlyArray<readonly number[]>): tf.Tensor {
  const C = t.shape[t.rank - 1];
  const values = new Float32Array(rows.length * C);
  rows.forEach((cs, n) => cs.forEach((c) => (values[n * C + c] = 1)));
  return tf.tensor(values, [rows.length, ...t.shape.slice(1, -1).map(() => 1), C]);
}

function isLayerChannel(target: unknown): target is LayerChannel {
  return target !== null && typeof target === 'object' && !Array.isArray(target) && 'layer' in target;
}

/** The relevance the pass starts with and where (inside a tidy, after the forward pass). */
function startRelevance(plan: ModelPlan, options: ExplainOptions, keys: ReadonlyMap<string, string>, tensors: ReadonlyMap<string, tf.Tensor>, target: ConceptTarget, batch: number): { start: tf.Tensor; key?: string } {
  if (isLayerChannel(target)) {
    const key = keyOf(plan, keys, target.layer, 'classIdx.layer');
    const act = tensors.get(key) as tf.Tensor;
    const ch = target.channel;
    const perSample = typeof ch === 'number' ? new Array<number>(batch).fill(ch) : Array.isArray(ch) ? (ch as number[]) : null;
    if (perSample === null || perSample.length !== batch || perSample.some((c) => typeof c !== 'number' || !Number.isInteger(c) || c < 0)) {
      throw new LrpArgumentError('classIdx.channel', `expected a channel number (integer ≥ 0) or one per sample (${batch}), got ${JSON.stringify(ch)}.`);
    }
    const C = checkChannels(act, target.layer, perSample, 'classIdx.channel');
    let mask = channelMask(act, perSample.map((c) => [c]));
    if (target.position !== undefined) {
      const positions = act.size / batch / C;
      const pos = target.position;
      const at = typeof pos === 'number' ? new Array<number>(batch).fill(pos) : Array.isArray(pos) ? (pos as number[]) : null;
      if (at === null || at.length !== batch || at.some((p) => typeof p !== 'number' || !Number.isInteger(p) || p < 0 || p >= positions)) {
        throw new LrpArgumentError('classIdx.position', `expected a position in [0, ${positions - 1}] (layer '${target.layer}' has ${positions} positions per channel) or one per sample (${batch}), got ${JSON.stringify(pos)}.`);
      }
      const onePosition = tf.reshape(tf.cast(tf.oneHot(tf.tensor1d(at, 'int32'), Math.max(2, positions)), 'float32').slice([0, 0], [batch, positions]), [batch, ...act.shape.slice(1, -1), 1]);
      mask = tf.mul(mask, onePosition);
    }
    return { start: tf.mul(tf.cast(act, 'float32'), mask), key };
  }
  checkClassIdx(target, plan.outputSize, batch);
  const logits = tensors.get(plan.graph.explained) as tf.Tensor;
  const flat = tf.reshape(logits, [batch, plan.outputSize]) as tf.Tensor2D;
  const cls = target === 'max' ? tf.argMax(flat, 1) : typeof target === 'number' ? tf.fill([batch], target, 'int32') : tf.tensor1d(target as number[], 'int32');
  const oneHot = tf.cast(tf.equal(tf.range(0, plan.outputSize, 1, 'int32').reshape([1, -1]), tf.reshape(cls, [-1, 1])), 'float32');
  const custom = options.outputRelevance;
  let start: tf.Tensor;
  if (custom instanceof tf.Tensor) start = tf.mul(tf.ones([batch, plan.outputSize]), tf.reshape(tf.cast(custom, 'float32'), custom.size === plan.outputSize ? [1, plan.outputSize] : [batch, plan.outputSize]));
  else start = custom === 'one' ? oneHot : tf.mul(oneHot, flat);
  return { start: tf.reshape(start, logits.shape) };
}

/**
 * One forward and backward pass with taps: the input relevance and the relevance at each of
 * `layerNames` (see {@link explainLayers}), and with `withActivations` each layer's output.
 * Nothing is read from the device.
 */
export function runLayerRelevance(plan: ModelPlan, options: ExplainOptions, store: DerivedTensors, input: unknown, target: ConceptTarget, layerNames: readonly string[], extra: LayerRelevanceOptions = {}, withActivations = false): { input: tf.Tensor[]; layers: tf.Tensor[]; activations: tf.Tensor[] } {
  if ((options.method ?? 'lrp') !== 'lrp') throw new LrpArgumentError('options.method', `relevance inside the network is defined for method 'lrp' only, not '${String(options.method)}'.`);
  if (!Array.isArray(layerNames)) throw new LrpArgumentError('layerNames', `expected a list of layer names, got ${JSON.stringify(layerNames)}.`);
  const inputs = checkInputs(plan, input);
  const batch = inputs[0].shape[0];
  if (!isLayerChannel(target)) checkClassIdx(target, plan.outputSize, batch);
  checkOutputRelevance(plan, options.outputRelevance, batch);
  const keys = layerOutputKeys(plan);
  const wanted = layerNames.map((n, i) => keyOf(plan, keys, n, `layerNames[${i}]`));
  const conditions = conditionKeys(plan, keys, extra.conditions);
  let result: { input: tf.Tensor[]; layers: tf.Tensor[]; activations: tf.Tensor[] } = { input: [], layers: [], activations: [] };
  tf.tidy(() => {
    const check = options.checkInput !== false ? inputFlags(inputs, options.inputNonNegative === true) : null;
    const out = withDerivedTensors(store, () => {
      const record = runForward(plan, inputs);
      // (clones: the backward pass releases recorded tensors early)
      const activations = withActivations ? wanted.map((k) => tf.clone(record.tensors.get(k) as tf.Tensor)) : [];
      const { start, key } = startRelevance(plan, options, keys, record.tensors, target, batch);
      const masks = new Map<string, tf.Tensor>();
      for (const [k, { name, channels }] of conditions) {
        const t = record.tensors.get(k) as tf.Tensor;
        checkChannels(t, name, channels, `options.conditions['${name}']`);
        masks.set(k, channelMask(t, [channels]));
      }
      const taps: BackwardTaps = { start: key, capture: new Set(wanted), conditions: masks, captured: new Map() };
      const back = runBackward(plan, record, start, false, taps);
      return { input: back.inputs, layers: wanted.map((k) => tf.clone(taps.captured.get(k) as tf.Tensor)), activations };
    });
    result = check === null ? out : { input: maskFailedInputs(out.input, check), layers: maskFailedInputs(out.layers, check), activations: out.activations };
    if (check !== null) {
      tf.keep(check.flags);
      attachInputCheck(result.input, check);
    }
    for (const t of [...result.input, ...result.layers, ...result.activations]) tf.keep(t);
  });
  return result;
}

/** {@link explainLayers} on a plan and a store of weight-derived tensors (the explainer's). */
export function explainLayersWith(plan: ModelPlan, options: ExplainOptions, store: DerivedTensors, input: unknown, target: ConceptTarget, layerNames: readonly string[], extra: LayerRelevanceOptions = {}): LayerRelevance {
  const raw = runLayerRelevance(plan, options, store, input, target, layerNames, extra);
  const layers: Record<string, tf.Tensor> = {};
  layerNames.forEach((n, i) => {
    if (layers[n] !== undefined) raw.layers[i].dispose();
    else layers[n] = raw.layers[i];
  });
  return { input: plan.graph.inputs.length === 1 ? raw.input[0] : raw.input, layers };
}

/** Σ over all axes but the batch and the channel (last) axis: `[N, C]`. */
export function channelSums(t: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => {
    const C = t.shape[t.rank - 1];
    return (t.rank === 2 ? tf.clone(t) : tf.sum(tf.reshape(t, [t.shape[0], -1, C]), 1)) as tf.Tensor2D;
  });
}

/** {@link conceptRelevance} on a plan and a store of weight-derived tensors (the explainer's). */
export function conceptRelevanceWith(plan: ModelPlan, options: ExplainOptions, store: DerivedTensors, input: unknown, target: ConceptTarget, layerName: string, extra: LayerRelevanceOptions = {}): tf.Tensor2D {
  const raw = runLayerRelevance(plan, options, store, input, target, [layerName], extra);
  try {
    return channelSums(raw.layers[0]);
  } finally {
    tf.dispose([...raw.input, ...raw.layers]);
  }
}

/** Runs `fn` with the plan and store of the one-shot cache (src/explainCache.ts), as `explain` does. */
function once<T>(model: ExplainableModel, options: ExplainOptions, fn: (plan: ModelPlan, store: DerivedTensors) => T): T {
  return withCachedPlan(model, options, fn);
}

/**
 * The input relevance and the relevance at the output of each named layer, from one backward
 * pass, for the whole batch (LRP_RULES.md §10). With `options.conditions`, a conditional
 * (Concept Relevance Propagation) pass. The caller disposes every tensor. Unlike `explain`, the
 * batch is not split by `options.batchSize`: pass batches that fit in memory.
 *
 * @param model a `tf.LayersModel` (never modified)
 * @param input a batch `[N, ...]`, or one tensor per model input
 * @param classIdx a class (number, one per sample, `'max'`), or `{ layer, channel }` to explain a
 *   hidden channel (its activation at every position starts the pass)
 * @param layerNames Keras layer names (nested models: `outer/inner`)
 * @param options explain options plus `conditions`
 * @throws {LrpArgumentError} for an unknown layer (the message lists the layers), a channel out
 *   of range, or conditions on parallel branches
 */
export function explainLayers(model: ExplainableModel, input: tf.Tensor | readonly tf.Tensor[], classIdx: ConceptTarget, layerNames: readonly string[], options: ExplainOptions & LayerRelevanceOptions = {}): LayerRelevance {
  const { conditions, ...rest } = options;
  return once(model, rest, (plan, store) => explainLayersWith(plan, rest, store, input, classIdx, layerNames, { conditions }));
}

/**
 * Concept relevance: per sample, the relevance of every channel of a layer (its relevance summed
 * over all other axes), `[N, C]`, to rank the channels (concepts) a prediction relies on.
 * Arguments as {@link explainLayers}; the caller disposes the tensor.
 */
export function conceptRelevance(model: ExplainableModel, input: tf.Tensor | readonly tf.Tensor[], classIdx: ConceptTarget, layerName: string, options: ExplainOptions & LayerRelevanceOptions = {}): tf.Tensor2D {
  const { conditions, ...rest } = options;
  return once(model, rest, (plan, store) => conceptRelevanceWith(plan, rest, store, input, classIdx, layerName, { conditions }));
}
