/**
 * `explainDataset`: explains a whole data set batch by batch, as an async iterator of explained
 * batches, with bounded prefetch (constant memory), optional worker threads, deterministic
 * sharding and skipping of batches (resume).
 *
 * Batches are fixed blocks of the data set's item indices (batch b holds items b·B … b·B+B−1,
 * minus the items that fail to load), whatever the sharding, worker count or resumption, so every
 * item is always explained in the same company and results are reproducible bit for bit.
 */
import * as tf from '@tensorflow/tfjs';
import { createExplainer, type Explainer } from '../../explain.js';
import { LrpArgumentError } from '../../errors.js';
import type { ExplainOptions } from '../../options.js';
import type { LoadedModel } from '../loadModel.js';
import type { BackendChoice } from './backend.js';
import { computeBatch, type BatchJob, type BatchNumbers, type PortableOptions } from './compute.js';
import { checkItem, ItemError, refsFromSource, type DatasetSource, type ItemKind, type ItemRef } from './items.js';
import { parseShard, type Shard } from './shard.js';
import { modelArtifacts, WorkerPool } from './workers.js';

/** Options of {@link explainDataset}: the explain options plus how to run. */
export interface ExplainDatasetOptions extends ExplainOptions {
  /** Items per batch (default 32). Batches are fixed blocks of item indices. */
  readonly batchSize?: number;
  /** The class for items that do not name one: a class index or `'max'` (default `'max'`). */
  readonly classIdx?: number | 'max';
  /**
   * Worker threads (default 1: explain in this thread). Each worker has its own tf engine and a
   * copy of the model; use the number of cores with a single-threaded backend (wasm, cpu).
   * Workers need options made of names and numbers (no rule objects, no tensors).
   */
  readonly workers?: number;
  /**
   * Explain in worker threads even with `workers: 1` (default: only when workers > 1), so this
   * thread stays free for other work on the results, e.g. drawing and writing files while the
   * worker explains the next batch.
   */
  readonly workerThreads?: boolean;
  /** The workers' backend (default: this thread's current backend). */
  readonly backend?: BackendChoice | string;
  /** Batches read ahead of those being explained (default: 1 in this thread, 2 per worker with workers: each worker holds its next batch while it explains one). */
  readonly prefetch?: number;
  /** Include each batch's inputs in the result (default false). */
  readonly keepInputs?: boolean;
  /** Explain only batches b with b mod count = index: `{ index, count }` or `'i/n'`. */
  readonly shard?: Shard | string;
  /** Batches to leave out (e.g. done in an earlier run); they are not read. */
  readonly skip?: (batchIndex: number) => boolean;
  /** The item shape, for models whose input shape has unknown dimensions. */
  readonly inputShape?: readonly number[];
}

/** An item that could not be explained, and why. */
export interface ItemFailure {
  readonly index: number;
  readonly id: string;
  readonly reason: string;
  /** sha1 (hex) of the bytes the item was read from, when it was read from a file (see `contentHashes`). */
  readonly contentHash?: string;
}

/** Conservation numbers per item of a batch. */
export interface BatchConservation {
  /** Σ of the relevance the pass started with (the explained logit). */
  readonly outputSum: number[];
  /** Σ of the input relevance. */
  readonly inputSum: number[];
  /** outputSum − inputSum. */
  readonly absorbed: number[];
  /** |absorbed| / |outputSum| (0 when both are 0). */
  readonly relativeError: number[];
}

/** One explained batch: the items that were explained, and those that failed. */
export interface ExplainedBatch {
  /** The block of item indices this batch covers: [batchIndex·batchSize, (batchIndex+1)·batchSize). */
  readonly batchIndex: number;
  /** Global indices of the explained items (ascending). */
  readonly indices: number[];
  readonly ids: string[];
  /** Per item: 'image' (from an image file) or 'array'. */
  readonly kinds: ItemKind[];
  /**
   * Per item: sha1 (hex) of the bytes it was read from (an image file, an `.npy` row, a JSON
   * line), or undefined for items of a user source. Present for batches of files (the CLI).
   */
  readonly contentHashes?: Array<string | undefined>;
  /** The item shape (without the batch axis). */
  readonly shape: number[];
  /** The inputs, `n × size` float32, with `keepInputs`. */
  readonly inputs?: Float32Array;
  /** The explained class per item. */
  readonly classIdx: number[];
  /** The explained (pre-softmax) score per item. */
  readonly scores: number[];
  /** Relevance, `n × size` float32 (item k at offset k·size). */
  readonly relevance: Float32Array;
  readonly conservation: BatchConservation;
  /** Items of this block that could not be explained. */
  readonly errors: ItemFailure[];
}

/** Everything the pipeline needs after checking the options. */
interface Prepared {
  readonly explainer: Explainer;
  readonly shape: number[];
  readonly size: number;
  readonly classes: number;
  readonly batchSize: number;
  readonly workers: number;
  readonly prefetch: number;
  readonly shard: Shard | null;
  readonly defaultClass: number | 'max';
  /** `options.inputNonNegative`: items with a negative value fail (checked on the host). */
  readonly nonNegative: boolean;
}

function positiveInt(v: unknown, argument: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new LrpArgumentError(argument, `must be a positive integer, got ${JSON.stringify(v)}.`);
  return v;
}

/** The options without the batch-run fields: what createExplainer gets. */
function explainOptionsOf(options: ExplainDatasetOptions): ExplainOptions {
  const { batchSize: _b, classIdx: _c, workers: _w, workerThreads: _wt, backend: _be, prefetch: _p, keepInputs: _k, shard: _s, skip: _sk, inputShape: _i, ...rest } = options;
  // items are checked for NaN/Infinity (and a declared sign) one by one before batching (a bad
  // item fails alone)
  return { ...rest, checkInput: false };
}

/** The explain options as names and numbers, for worker threads; throws for anything else. */
export function portableOptions(options: ExplainOptions): PortableOptions {
  const bad = (key: string, what: string) => new LrpArgumentError(`options.${key}`, `${what} cannot be sent to worker threads; use names and numbers (e.g. rule: 'epsilon', low: 0), or workers: 1.`);
  const o = options as Record<string, unknown>;
  for (const key of ['rule', 'composite']) if (o[key] !== undefined && typeof o[key] !== 'string') throw bad(key, 'a rule or composite object');
  for (const key of ['low', 'high']) if (o[key] !== undefined && typeof o[key] !== 'number') throw bad(key, 'a tensor bound');
  if (o.outputRelevance !== undefined && typeof o.outputRelevance !== 'string') throw bad('outputRelevance', 'a tensor');
  if (o.baseline !== undefined && typeof o.baseline !== 'string') throw bad('baseline', 'a tensor');
  const lr = o.layerRules as Record<string, unknown> | undefined;
  if (lr !== undefined) for (const [k, v] of Object.entries(lr)) if (typeof v !== 'string') throw bad(`layerRules['${k}']`, 'a rule object');
  return JSON.parse(JSON.stringify(options)) as PortableOptions;
}

function prepare(model: LoadedModel, options: ExplainDatasetOptions): Prepared {
  if (options === null || typeof options !== 'object') throw new LrpArgumentError('options', 'expected an options object.');
  if (options.method !== undefined && options.method !== 'lrp') {
    throw new LrpArgumentError('options.method', `explainDataset explains with LRP (it reports conservation per item); got '${String(options.method)}'. Use explain() for the gradient methods.`);
  }
  const batchSize = positiveInt(options.batchSize, 'options.batchSize', 32);
  const workers = positiveInt(options.workers, 'options.workers', 1);
  const prefetch = options.prefetch === undefined ? (workers > 1 || options.workerThreads === true ? 2 * workers : 1) : positiveInt(options.prefetch, 'options.prefetch', workers);
  const shard = options.shard === undefined ? null : typeof options.shard === 'string' ? parseShard(options.shard, 'options.shard') : parseShard(`${options.shard.index}/${options.shard.count}`, 'options.shard');
  const explainer = createExplainer(model, explainOptionsOf(options));
  try {
    const inputs = explainer.plan.graph.inputs;
    if (inputs.length !== 1) throw new LrpArgumentError('model', `has ${inputs.length} inputs; explainDataset explains single-input models (use createExplainer for multi-input models).`);
    let shape: number[];
    if (options.inputShape !== undefined) {
      if (!Array.isArray(options.inputShape) || options.inputShape.some((d) => !Number.isInteger(d) || d < 1)) throw new LrpArgumentError('options.inputShape', `expected positive integers, got ${JSON.stringify(options.inputShape)}.`);
      shape = [...options.inputShape];
    } else {
      const s = inputs[0].shape.slice(1);
      if (s.some((d) => d === null)) throw new LrpArgumentError('options.inputShape', `the model input shape [batch, ${s.map((d) => d ?? '?').join(', ')}] has unknown dimensions; pass inputShape (the item shape).`);
      shape = s as number[];
    }
    const classes = explainer.plan.outputSize;
    const dc = options.classIdx ?? 'max';
    if (dc !== 'max' && (typeof dc !== 'number' || !Number.isInteger(dc) || dc < 0 || dc >= classes)) {
      throw new LrpArgumentError('options.classIdx', `must be 'max' or an integer in [0, ${classes - 1}] (the model has ${classes} outputs), got ${JSON.stringify(dc)}.`);
    }
    if (workers > 1 || options.workerThreads === true) portableOptions(explainOptionsOf(options));
    return { explainer, shape, size: shape.reduce((a, b) => a * b, 1), classes, batchSize, workers, prefetch, shard, defaultClass: dc, nonNegative: options.inputNonNegative === true };
  } catch (e) {
    explainer.dispose();
    throw e;
  }
}

/** Items in the batch of zeros each worker explains once before the first real batch. */
const WARMUP_ITEMS = 1;

/** A block of refs: one batch's worth of items. */
interface Block {
  readonly batchIndex: number;
  readonly refs: ItemRef[];
}

/** Groups refs into index blocks, passing on only the selected ones (others are never loaded). */
async function* blocks(refs: AsyncIterable<ItemRef>, batchSize: number, selected: (b: number) => boolean): AsyncGenerator<Block> {
  let current: Block | null = null;
  for await (const ref of refs) {
    const b = Math.floor(ref.index / batchSize);
    if (current !== null && current.batchIndex !== b) {
      yield current;
      current = null;
    }
    if (!selected(b)) continue;
    if (current === null) current = { batchIndex: b, refs: [] };
    current.refs.push(ref);
  }
  if (current !== null) yield current;
}

interface LoadedBlock {
  readonly job: BatchJob | null;
  readonly ids: string[];
  readonly kinds: ItemKind[];
  readonly contentHashes?: Array<string | undefined>;
  readonly inputs?: Float32Array;
  readonly errors: ItemFailure[];
}

async function loadBlock(block: Block, p: Prepared, keepInputs: boolean): Promise<LoadedBlock> {
  const errors: ItemFailure[] = [];
  const loaded = await Promise.all(
    block.refs.map(async (ref) => {
      try {
        if (ref.classIdx instanceof ItemError) throw ref.classIdx;
        if (ref.classIdx !== undefined && ref.classIdx >= p.classes) throw new ItemError(`${ref.id}: class ${ref.classIdx} is out of range (the model has ${p.classes} outputs: 0..${p.classes - 1}).`);
        const data = await ref.load();
        checkItem(data, p.size, ref.id, p.nonNegative);
        return { ref, data };
      } catch (e) {
        const reason = e instanceof ItemError ? e.message : `${ref.id}: ${(e as Error).message}`;
        errors.push({ index: ref.index, id: ref.id, reason, ...(ref.contentHash !== undefined ? { contentHash: ref.contentHash } : {}) });
        return null;
      }
    }),
  );
  const ok = loaded.filter((x): x is { ref: ItemRef; data: Float32Array } => x !== null);
  errors.sort((a, b) => a.index - b.index);
  if (ok.length === 0) return { job: null, ids: [], kinds: [], errors };
  const data = new Float32Array(ok.length * p.size);
  ok.forEach((x, k) => data.set(x.data, k * p.size));
  const job: BatchJob = {
    batchIndex: block.batchIndex,
    indices: ok.map((x) => x.ref.index),
    shape: p.shape,
    data,
    classes: ok.map((x) => (typeof x.ref.classIdx === 'number' ? x.ref.classIdx : p.defaultClass)),
  };
  const hashes = ok.map((x) => x.ref.contentHash);
  return { job, ids: ok.map((x) => x.ref.id), kinds: ok.map((x) => x.ref.kind), ...(hashes.some((h) => h !== undefined) ? { contentHashes: hashes } : {}), inputs: keepInputs ? Float32Array.from(data) : undefined, errors };
}

function emptyBatch(batchIndex: number, shape: number[], errors: ItemFailure[]): ExplainedBatch {
  return { batchIndex, indices: [], ids: [], kinds: [], shape, classIdx: [], scores: [], relevance: new Float32Array(0), conservation: { outputSum: [], inputSum: [], absorbed: [], relativeError: [] }, errors };
}

/**
 * Explains item refs (the pipeline behind {@link explainDataset} and the CLI): loads selected
 * index blocks with bounded prefetch, explains them in this thread or in worker threads, and
 * yields the explained batches in batch order.
 */
export async function* explainRefs(model: LoadedModel, refs: AsyncIterable<ItemRef>, options: ExplainDatasetOptions = {}): AsyncGenerator<ExplainedBatch> {
  const p = prepare(model, options);
  let pool: WorkerPool | null = null;
  const pending: Array<Promise<ExplainedBatch>> = [];
  let chain: Promise<unknown> = Promise.resolve();
  try {
    if (p.workers > 1 || options.workerThreads === true) {
      // warm-up: one item (compiles kernels, builds weight-derived tensors); a full batch of zeros
      // would cost a batch's memory in every worker before any item is read
      pool = await WorkerPool.start(p.workers, await modelArtifacts(model), options.backend ?? tf.getBackend(), portableOptions(explainOptionsOf(options)), [Math.min(p.batchSize, WARMUP_ITEMS), ...p.shape]);
    }
    const skip = options.skip;
    const selected = (b: number) => (p.shard === null || b % p.shard.count === p.shard.index) && (skip === undefined || !skip(b));
    const source = blocks(refs, p.batchSize, selected)[Symbol.asyncIterator]();
    const limit = p.workers + p.prefetch;
    let exhausted = false;
    let stopped = false;
    const runJob = (job: BatchJob): Promise<BatchNumbers> => {
      if (pool !== null) return pool.run(job);
      // one batch at a time in this thread; nothing new starts once the consumer stopped
      const next = chain.then(() => {
        if (stopped) throw new LrpArgumentError('explainDataset', 'stopped');
        return computeBatch(p.explainer, model, job, p.explainer.plan.graph.outputIndex);
      });
      chain = next.catch(() => undefined);
      return next;
    };
    const start = (loaded: Promise<LoadedBlock>, batchIndex: number): Promise<ExplainedBatch> =>
      loaded.then(async (l) => {
        if (l.job === null) return emptyBatch(batchIndex, p.shape, l.errors);
        const indices = l.job.indices;
        const r = await runJob(l.job);
        return {
          batchIndex,
          indices,
          ids: l.ids,
          kinds: l.kinds,
          ...(l.contentHashes !== undefined ? { contentHashes: l.contentHashes } : {}),
          shape: p.shape,
          inputs: l.inputs,
          classIdx: r.classIdx,
          scores: r.scores,
          relevance: r.relevance,
          conservation: { outputSum: r.outputSum, inputSum: r.inputSum, absorbed: r.absorbed, relativeError: r.relativeError },
          errors: l.errors,
        };
      });
    try {
      for (;;) {
        while (!exhausted && pending.length < limit) {
          const next = await source.next();
          if (next.done) {
            exhausted = true;
            break;
          }
          const promise = start(loadBlock(next.value, p, options.keepInputs === true), next.value.batchIndex);
          promise.catch(() => undefined); // awaited in order below; avoid unhandled-rejection noise
          pending.push(promise);
        }
        const head = pending.shift();
        if (head === undefined) break;
        yield await head;
      }
    } finally {
      stopped = true;
      if (!exhausted) await source.return?.(undefined);
    }
  } finally {
    await pool?.close();
    // let work already started in this thread finish before its explainer goes
    await Promise.allSettled(pending);
    await chain;
    p.explainer.dispose();
  }
}

/**
 * Explains a data set batch by batch: an async iterator of {@link ExplainedBatch}es (relevance,
 * classes, scores and conservation per item, and the items that failed with the reason), in
 * batch order.
 *
 *     for await (const batch of explainDataset(model, items, { composite: 'epsilonPlusFlat', batchSize: 64 })) {
 *       aggregator.addBatch(batch);
 *     }
 *
 * Memory stays constant: the source is read as batches are needed, at most `workers + prefetch`
 * batches are in flight, and no tensor outlives a batch (tensors the source yields are read and
 * disposed). Breaking out of the loop stops the workers.
 *
 * @param model a single-input `tf.LayersModel` or `tf.GraphModel` (never modified)
 * @param source an (async) iterable of items (`{ id?, input, classIdx? }`, tensors, typed or
 *   nested arrays, each without the batch axis) or a `tf.data.Dataset` of them
 * @param options explain options (rule, composite, …) plus batchSize, classIdx, workers, shard, skip
 * @throws {LrpArgumentError} for bad options (checked before anything is read)
 */
export function explainDataset(model: LoadedModel, source: DatasetSource, options: ExplainDatasetOptions = {}): AsyncGenerator<ExplainedBatch> {
  return explainRefs(model, refsFromSource(source), options);
}
