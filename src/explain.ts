/**
 * The public entry points: options → plan → forward → backward.
 *
 *     const relevance = explain(model, x, 'max', { composite: 'epsilonPlusFlat' });
 */
import type { ExplainableModel } from './explainable.js';
import * as tf from '@tensorflow/tfjs';
import { perSampleSum, runBackward } from './backward.js';
import { conceptRelevanceWith, explainLayersWith, type ConceptTarget, type LayerRelevance, type LayerRelevanceOptions } from './concepts.js';
import { checkClassIdx, checkInputs, checkMethodCall, checkNotDisposed, checkOutputRelevance } from './checks.js';
import { LrpArgumentError, LrpError } from './errors.js';
import { runForward } from './forward.js';
import { attachInputCheck, inputFlags, InputFlags, maskFailedInputs, readInputCheck } from './inputCheck.js';
import { attributeWithGradients } from './methods.js';
import { DerivedTensors, withDerivedTensors } from './ops/derived.js';
import { addMany } from './ops/gpu.js';
import type { ExplainOptions } from './options.js';
import { cachedPlan, withCachedPlan, withCachedPlanAsync } from './explainCache.js';
import { DEFAULT_BATCH_SIZE, ModelPlan, planModel } from './plan.js';
import { describePlan, type PlanRow } from './planFormat.js';

export { describePlan, formatPlan } from './planFormat.js';
export type { PlanRow } from './planFormat.js';

/** Which class to explain: one for all samples, one per sample, or each sample's top score. */
export type ClassIndex = number | readonly number[] | 'max';

/** Relevance for a single-input model is one tensor; for a multi-input model one per input. */
export type Relevance = tf.Tensor | tf.Tensor[];

/** Per-layer relevance sums, as plain numbers per sample. */
export interface LayerConservation {
  /** Node name (nested: `outer/inner`; split parts `name:part`). */
  readonly layer: string;
  readonly className: string;
  readonly rule: string;
  /** Σ relevance arriving at the layer's output, per sample. */
  readonly upper: number[];
  /** Σ relevance the layer passes to its inputs, per sample. */
  readonly lower: number[];
  /** `upper − lower` per sample: what this layer absorbed (> 0) or created (< 0). */
  readonly absorbed: number[];
}

/** Conservation, per sample, as plain numbers. */
export interface ConservationReport {
  /** The explained class per sample. */
  readonly classIdx: number[];
  /** The explained score (pre-softmax logit) per sample. */
  readonly score: number[];
  /** Σ of the relevance the backward pass started with (= score for `outputRelevance: 'logit'`). */
  readonly outputSum: number[];
  /** Σ of the input relevance (all inputs) per sample. */
  readonly inputSum: number[];
  /** `outputSum − inputSum`: relevance absorbed by biases, ε, masks, pooling borders. */
  readonly absorbed: number[];
  /** `|absorbed| / |outputSum|` (0 when both are 0). */
  readonly relativeError: number[];
  /** Per layer, in forward order, when `perLayer` was requested. */
  readonly layers?: LayerConservation[];
}

/** A model explained once and explained again cheaply. */
export interface Explainer {
  /** The plan: the canonized graph and each node's rule. */
  readonly plan: ModelPlan;
  /**
   * Relevance with each input's shape, float32, for the whole batch. The caller disposes it.
   * Nothing is read from the device; with `checkInput` (default) a sample whose input holds
   * NaN/Infinity gets NaN relevance, and reading the result (`data()`, `dataSync()`, …) throws
   * the LrpArgumentError naming the sample (see {@link ExplainOptions.checkInput}).
   */
  explain(input: tf.Tensor | readonly tf.Tensor[], classIdx: ClassIndex): Relevance;
  /** Relevance plus conservation numbers (per sample, and per layer on request). */
  explainWithConservation(input: tf.Tensor | readonly tf.Tensor[], classIdx: ClassIndex, options?: { readonly perLayer?: boolean }): Promise<{ relevance: Relevance; conservation: ConservationReport }>;
  /** The plan as rows (one per node, forward order). */
  describe(): PlanRow[];
  /** {@link explainLayers} with this explainer's plan: input relevance and relevance at the named layers. */
  explainLayers(input: tf.Tensor | readonly tf.Tensor[], classIdx: ConceptTarget, layerNames: readonly string[], options?: LayerRelevanceOptions): LayerRelevance;
  /** {@link conceptRelevance} with this explainer's plan: `[N, C]` relevance per channel of a layer. */
  conceptRelevance(input: tf.Tensor | readonly tf.Tensor[], classIdx: ConceptTarget, layerName: string, options?: LayerRelevanceOptions): tf.Tensor2D;
  /**
   * Releases the weight-derived tensors the explainer keeps between calls (flipped and sign-split
   * kernels, merged BatchNorm): call it when done, as with a model. The one-shot functions
   * (`explain()`, `explainWithConservation()`, …) keep theirs in a small cache instead, released
   * by `releaseExplainCache()` (see {@link explain}).
   */
  dispose(): void;
  /** Whether `dispose()` was called. */
  readonly isDisposed: boolean;
}

/** The explained class per sample for a number or a list (inside tidy). */
function classTensor(classIdx: number | readonly number[], batch: number): tf.Tensor1D {
  if (typeof classIdx === 'number') return tf.fill([batch], classIdx, 'int32') as tf.Tensor1D;
  return tf.tensor1d(classIdx as number[], 'int32');
}

interface RawExplanation {
  relevance: tf.Tensor[];
  classIdx: tf.Tensor1D;
  score: tf.Tensor1D;
  outputSum: tf.Tensor1D;
  layers: Array<{ node: string; className: string; rule: string; upper: tf.Tensor1D; lower: tf.Tensor1D }> | null;
  /** Per-sample flags of the input check (`options.checkInput`, `inputNonNegative`); null when not checked. */
  inputCheck: InputFlags | null;
}

function run(plan: ModelPlan, options: ExplainOptions, store: DerivedTensors, input: unknown, classIdx: unknown, layerSums: boolean): RawExplanation {
  const inputs = checkInputs(plan, input);
  const batch = inputs[0].shape[0];
  checkClassIdx(classIdx, plan.outputSize, batch);
  const custom = options.outputRelevance;
  checkOutputRelevance(plan, custom, batch);
  const method = options.method ?? 'lrp';
  if (method !== 'lrp') checkMethodCall(plan, method, options, inputs, layerSums);
  const size = options.batchSize ?? DEFAULT_BATCH_SIZE;
  // SmoothGrad draws its noise for the whole batch at once: chunks would draw other numbers
  if (batch <= size || method === 'smoothGrad') return runOnce(plan, options, store, inputs, classIdx as ClassIndex, layerSums);
  return runChunked(plan, options, store, inputs, classIdx as ClassIndex, layerSums, size);
}

/** The tensors of a raw explanation (those `tidyKeep` keeps). */
function rawTensors(r: RawExplanation): tf.Tensor[] {
  return [...r.relevance, r.classIdx, r.score, r.outputSum, ...(r.layers ?? []).flatMap((l) => [l.upper, l.lower]), ...(r.inputCheck === null ? [] : [r.inputCheck.flags])];
}

/** One pass over validated inputs (one batch, or one chunk of it). */
function runOnce(plan: ModelPlan, options: ExplainOptions, store: DerivedTensors, inputs: tf.Tensor[], classIdx: ClassIndex, layerSums: boolean): RawExplanation {
  const batch = inputs[0].shape[0];
  const custom = options.outputRelevance;
  const method = options.method ?? 'lrp';
  return tidyKeep(() => {
    // the NaN/Inf check stays on the device: flags now, NaN relevance for bad samples, the error
    // when the result is read (see inputCheck.ts)
    const inputCheck = options.checkInput !== false ? inputFlags(inputs, options.inputNonNegative === true) : null;
    const raw = withDerivedTensors(store, (): RawExplanation => {
      if (method === 'lrp') return pass(plan, inputs, classIdx, custom, layerSums);
      // gradient methods: the class is chosen on the input itself ('max'), then every evaluation
      // point is explained for that class, starting from the one-hot output
      const cls = classIdx === 'max' ? classOfInputs(plan, inputs) : classTensor(classIdx, batch);
      const gradientOf = (xs: tf.Tensor[], c: tf.Tensor1D) => pass(plan, xs, c, 'one', false).relevance;
      const relevance = attributeWithGradients(method, inputs, cls, options, gradientOf);
      const score = tf.zeros([batch]) as tf.Tensor1D;
      return { relevance, classIdx: cls, score, outputSum: score, layers: null, inputCheck: null };
    });
    return inputCheck === null ? raw : { ...raw, relevance: maskFailedInputs(raw.relevance, inputCheck), inputCheck };
  }, rawTensors);
}

/** Rows `[first, first + n)` of a tensor whose first axis is the batch. */
function rows(x: tf.Tensor, first: number, n: number): tf.Tensor {
  // (on a 2-D view: contiguous rows, any rank on every backend)
  return tf.tidy(() => tf.reshape(tf.slice(tf.reshape(x, [x.shape[0], x.size / x.shape[0]]), [first, 0], [n, -1]), [n, ...x.shape.slice(1)]));
}

/** The tensors concatenated along the batch axis (as 2-D views: any rank on every backend). */
function concatRows(parts: readonly tf.Tensor[]): tf.Tensor {
  if (parts.length === 1) return tf.clone(parts[0]);
  return tf.tidy(() => {
    const total = parts.reduce((n, p) => n + p.shape[0], 0);
    const flat = parts.map((p) => tf.reshape(p, [p.shape[0], p.size / Math.max(1, p.shape[0])]));
    return tf.reshape(tf.concat(flat, 0), [total, ...parts[0].shape.slice(1)]);
  });
}

/**
 * The options of one chunk: the per-sample tensors of the options (a batch-shaped
 * `outputRelevance`, Integrated Gradients' batch-shaped baselines) cut to its rows. The cut
 * tensors are pushed to `made` (the caller disposes them).
 */
function chunkOptions(plan: ModelPlan, options: ExplainOptions, inputs: readonly tf.Tensor[], first: number, n: number, made: tf.Tensor[]): ExplainOptions {
  const batch = inputs[0].shape[0];
  const cut = (t: tf.Tensor): tf.Tensor => {
    const r = rows(tf.reshape(t, [batch, t.size / batch]), first, n);
    made.push(r);
    return r;
  };
  let chunk: ExplainOptions = options;
  const custom = options.outputRelevance;
  // a tensor with the batch axis (checkOutputRelevance: batch × outputSize): its rows follow the samples
  if (custom instanceof tf.Tensor && custom.size === batch * plan.outputSize) chunk = { ...chunk, outputRelevance: cut(custom) };
  if ((options.method ?? 'lrp') === 'integratedGradients') {
    const base = options.baseline;
    if (base !== undefined && base !== 'zero' && base !== 'blur') {
      const list: readonly tf.Tensor[] = Array.isArray(base) ? base : [base as tf.Tensor];
      chunk = { ...chunk, baseline: list.map((t, i) => (t.size === inputs[i].size ? cut(t) : t)) };
    }
    // the steps are summed in groups of ⌊maxBatch / batch⌋: the same groups per chunk, so that the
    // float sums (and the number of passes per sample) are those of one pass
    const steps = Math.max(1, Math.floor((options.maxBatch ?? 256) / batch));
    chunk = { ...chunk, maxBatch: steps * n };
  }
  return chunk;
}

/**
 * The batch in chunks of `size` samples (`options.batchSize`), each one pass, the results
 * concatenated: the same numbers as one pass, with the memory of `size` samples (plus the
 * results). Only tf ops: nothing is read from the device.
 */
function runChunked(plan: ModelPlan, options: ExplainOptions, store: DerivedTensors, inputs: tf.Tensor[], classIdx: ClassIndex, layerSums: boolean, size: number): RawExplanation {
  const batch = inputs[0].shape[0];
  const parts: RawExplanation[] = [];
  try {
    for (let first = 0; first < batch; first += size) {
      const n = Math.min(size, batch - first);
      const made: tf.Tensor[] = [];
      try {
        const xs = inputs.map((x) => rows(x, first, n));
        made.push(...xs);
        const cls: ClassIndex = typeof classIdx === 'number' || classIdx === 'max' ? classIdx : classIdx.slice(first, first + n);
        const part = runOnce(plan, chunkOptions(plan, options, inputs, first, n, made), store, xs, cls, layerSums);
        parts.push(part);
        const kept = new Set(rawTensors(part));
        tf.dispose(made.filter((t) => !kept.has(t)));
      } catch (e) {
        tf.dispose(made);
        throw e;
      }
    }
    const join = (pick: (r: RawExplanation) => tf.Tensor): tf.Tensor => concatRows(parts.map(pick));
    const first = parts[0];
    // (kept, as one pass's results are: a caller's tf.tidy does not free them)
    return tidyKeep((): RawExplanation => ({
      relevance: first.relevance.map((_, i) => join((r) => r.relevance[i])),
      classIdx: join((r) => r.classIdx) as tf.Tensor1D,
      score: join((r) => r.score) as tf.Tensor1D,
      outputSum: join((r) => r.outputSum) as tf.Tensor1D,
      layers: first.layers === null ? null : first.layers.map((l, i) => ({ ...l, upper: join((r) => (r.layers ?? [])[i].upper) as tf.Tensor1D, lower: join((r) => (r.layers ?? [])[i].lower) as tf.Tensor1D })),
      inputCheck: first.inputCheck === null ? null : { labels: first.inputCheck.labels, kinds: first.inputCheck.kinds, flags: join((r) => (r.inputCheck as InputFlags).flags) as tf.Tensor2D },
    }), rawTensors);
  } finally {
    for (const part of parts) tf.dispose([...new Set(rawTensors(part))]);
  }
}

/** The top class of each sample (a forward pass). */
function classOfInputs(plan: ModelPlan, inputs: tf.Tensor[]): tf.Tensor1D {
  const logits = runForward(plan, inputs).tensors.get(plan.graph.explained) as tf.Tensor;
  return tf.argMax(tf.reshape(logits, [inputs[0].shape[0], plan.outputSize]), 1) as tf.Tensor1D;
}

/** One forward and backward pass (inside a tidy, inputs validated). */
function pass(plan: ModelPlan, inputs: tf.Tensor[], classIdx: ClassIndex | tf.Tensor1D, custom: ExplainOptions['outputRelevance'], layerSums: boolean): RawExplanation {
  {
    const batch = inputs[0].shape[0];
    // (the pass starts at the explained output: ReLUs may run inside their layers' kernels)
    const record = runForward(plan, inputs, { rectify: true });
    const logits = record.tensors.get(plan.graph.explained) as tf.Tensor;
    const flat = tf.reshape(logits, [batch, plan.outputSize]) as tf.Tensor2D;
    const cls = classIdx instanceof tf.Tensor ? classIdx : classIdx === 'max' ? (tf.argMax(flat, 1) as tf.Tensor1D) : classTensor(classIdx, batch);
    // (not tf.oneHot: it rejects depth 1, and wasm's ignores dtype float32)
    const oneHot = tf.cast(tf.equal(tf.range(0, plan.outputSize, 1, 'int32').reshape([1, -1]), cls.reshape([-1, 1])), 'float32') as tf.Tensor2D;
    const score = tf.sum(tf.mul(oneHot, flat), 1) as tf.Tensor1D;
    let start: tf.Tensor;
    if (custom instanceof tf.Tensor) start = tf.mul(tf.ones([batch, plan.outputSize]), tf.reshape(tf.cast(custom, 'float32'), custom.size === plan.outputSize ? [1, plan.outputSize] : [batch, plan.outputSize]));
    else start = custom === 'one' ? oneHot : tf.mul(oneHot, flat);
    const outputSum = perSampleSum(start);
    const result = runBackward(plan, record, tf.reshape(start, logits.shape), layerSums);
    return { relevance: result.inputs, classIdx: cls, score, outputSum, layers: result.layers, inputCheck: null };
  }
}

/** `tf.tidy` for a result that is not a plain tensor container: keeps what `kept` lists. */
function tidyKeep<T>(fn: () => T, kept: (result: T) => tf.Tensor[]): T {
  let result: T | undefined;
  tf.tidy(() => {
    result = fn();
    for (const t of kept(result)) tf.keep(t);
  });
  return result as T;
}

/** Disposes what the caller does not get: everything but the relevance, and the input flags unless `keepCheck`. */
function disposeRaw(raw: RawExplanation, keepCheck: boolean): void {
  tf.dispose([raw.classIdx, raw.score, raw.outputSum]);
  for (const l of raw.layers ?? []) tf.dispose([l.upper, l.lower]);
  if (!keepCheck && raw.inputCheck !== null) raw.inputCheck.flags.dispose();
}

const toRelevance = (plan: ModelPlan, list: tf.Tensor[]): Relevance => (plan.graph.inputs.length === 1 ? list[0] : list);

/** One explanation with a plan and a store (an explainer's, or the one-shot cache's). */
function explainWith(plan: ModelPlan, opts: ExplainOptions, store: DerivedTensors, input: unknown, classIdx: unknown): Relevance {
  const raw = run(plan, opts, store, input, classIdx, false);
  disposeRaw(raw, true);
  // the relevance's reads check the flags, and its dispose() releases them
  if (raw.inputCheck !== null) attachInputCheck(raw.relevance, raw.inputCheck);
  return toRelevance(plan, raw.relevance);
}

/** Relevance and conservation with a plan and a store (an explainer's, or the one-shot cache's). */
async function conservationWith(plan: ModelPlan, opts: ExplainOptions, store: DerivedTensors, input: unknown, classIdx: unknown, perLayer: boolean): Promise<{ relevance: Relevance; conservation: ConservationReport }> {
  if ((opts.method ?? 'lrp') !== 'lrp') {
    throw new LrpArgumentError('options.method', `conservation applies to method 'lrp' only, not '${String(opts.method)}'; use explain() for the gradient methods (for Integrated Gradients, Σ IG ≈ logit(x) − logit(baseline)).`);
  }
  const raw = run(plan, opts, store, input, classIdx, perLayer);
  try {
    // (a clone: for rank-1 relevance the sum would be the relevance tensor itself)
    const inputSum = tf.tidy(() => tf.clone(addMany(raw.relevance.map(perSampleSum)))) as tf.Tensor1D;
    const check = raw.inputCheck;
    let read: [number[], number[], number[], number[], void];
    try {
      // the input check (options.checkInput) is read here, with the numbers: it throws
      read = await Promise.all([raw.classIdx.array(), raw.score.array(), raw.outputSum.array(), inputSum.array(), check === null ? undefined : readInputCheck(check)]);
    } finally {
      inputSum.dispose();
    }
    const [cls, score, outputSum, inSum] = read;
    const absorbed = outputSum.map((o, i) => o - inSum[i]);
    const report: ConservationReport = {
      classIdx: cls,
      score,
      outputSum,
      inputSum: inSum,
      absorbed,
      relativeError: absorbed.map((a, i) => (a === 0 ? 0 : Math.abs(a) / Math.abs(outputSum[i]))),
    };
    if (raw.layers !== null) {
      const layers: LayerConservation[] = [];
      for (const l of raw.layers) {
        const [upper, lower] = await Promise.all([l.upper.array(), l.lower.array()]);
        layers.push({ layer: l.node, className: l.className, rule: l.rule, upper, lower, absorbed: upper.map((u, i) => u - lower[i]) });
      }
      return { relevance: toRelevance(plan, raw.relevance), conservation: { ...report, layers } };
    }
    return { relevance: toRelevance(plan, raw.relevance), conservation: report };
  } catch (e) {
    tf.dispose(raw.relevance);
    throw e;
  } finally {
    disposeRaw(raw, false);
  }
}

/**
 * Introspects the model, canonizes it and assigns rules once; the explainer then explains any
 * number of batches. It keeps only weight-derived tensors between calls, keyed by the weights (a
 * model trained further is explained with its current weights); release them with `dispose()`.
 * It never changes the model.
 */
export function createExplainer(model: ExplainableModel, options: ExplainOptions = {}): Explainer {
  const plan = planModel(model, options);
  const opts = { ...options };
  const store = new DerivedTensors();
  let disposed = false;
  const live = () => {
    if (disposed) throw new LrpError('This explainer was disposed; create a new one with createExplainer(model, options).');
    checkNotDisposed(model);
    return store;
  };
  return {
    plan,
    get isDisposed() {
      return disposed;
    },
    dispose() {
      store.dispose();
      disposed = true;
    },
    explain(input, classIdx) {
      return explainWith(plan, opts, live(), input, classIdx);
    },
    async explainWithConservation(input, classIdx, extra = {}) {
      return conservationWith(plan, opts, live(), input, classIdx, extra.perLayer === true);
    },
    describe() {
      return describePlan(plan);
    },
    explainLayers(input, classIdx, layerNames, extra = {}) {
      return explainLayersWith(plan, opts, live(), input, classIdx, layerNames, extra);
    },
    conceptRelevance(input, classIdx, layerName, extra = {}) {
      return conceptRelevanceWith(plan, opts, live(), input, classIdx, layerName, extra);
    },
  };
}

/**
 * Explains `classIdx` of `model` for a batch: relevance with the input's shape (one tensor per
 * input for multi-input models), computed with tf ops on the active backend.
 *
 * @param model a Sequential or functional `tf.LayersModel` (never modified)
 * @param input a batch `[N, ...]`, or one tensor per model input
 * @param classIdx a class for all samples, one per sample, or `'max'`
 * @param options rule or composite and their parameters (see {@link ExplainOptions})
 * @returns the relevance, computed without any read from the device. With `checkInput` (the
 *   default), a sample whose input holds NaN/Infinity gets NaN relevance everywhere, and reading
 *   the result (`await r.data()`, `r.dataSync()`, `array`, `bytes`, …) throws LrpArgumentError
 *   naming the input and the samples; `r.dispose()` releases the check too.
 *
 * Repeated calls on the same model with the same planning options reuse the plan and the
 * weight-derived tensors (flipped kernels, W⁺/W⁻, merged BatchNorm) from a small cache, so they
 * cost what a reused {@link createExplainer} costs. Those tensors stay allocated between calls
 * (counted by `explainCacheInfo().tensors`) until the weights change, the model is disposed, the
 * entry is evicted (4 entries by default, `setExplainCacheSize`) or `releaseExplainCache()`.
 */
export function explain(model: ExplainableModel, input: tf.Tensor | readonly tf.Tensor[], classIdx: ClassIndex, options: ExplainOptions = {}): Relevance {
  return withCachedPlan(model, options, (plan, store) => explainWith(plan, options, store, input, classIdx));
}

/**
 * Like {@link explain}, plus conservation: per sample the explained score, the relevance the
 * pass started with, the input relevance sum and what was absorbed; per layer with `perLayer`.
 * Rejects with LrpArgumentError (after disposing everything) when `checkInput` finds NaN/Infinity
 * in the input (read asynchronously with the numbers). Uses the one-shot cache of {@link explain}.
 */
export async function explainWithConservation(model: ExplainableModel, input: tf.Tensor | readonly tf.Tensor[], classIdx: ClassIndex, options: ExplainOptions & { readonly perLayer?: boolean } = {}): Promise<{ relevance: Relevance; conservation: ConservationReport }> {
  const { perLayer, ...rest } = options;
  return withCachedPlanAsync(model, rest, (plan, store) => conservationWith(plan, rest, store, input, classIdx, perLayer === true));
}

/** {@link describePlan} for a model and options. */
export function describe(model: ExplainableModel, options: ExplainOptions = {}): PlanRow[] {
  return describePlan(cachedPlan(model, options));
}
