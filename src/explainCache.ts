/**
 * The cache behind the one-shot functions (`explain`, `explainWithConservation`, `describe`,
 * `explainLayers`, `conceptRelevance`): repeated calls on the same model with the same planning
 * options reuse the plan and the weight-derived tensors, so that they cost what a reused
 * `createExplainer(...).explain` costs.
 *
 * What is kept, per entry (one model and one canonical key of the planning options):
 * - the plan (plain JavaScript: no tensors);
 * - a {@link DerivedTensors} store: the tensors derived from the weights only (flipped kernels,
 *   W⁺/W⁻, BatchNorm merged into kernels), exactly those a reused explainer keeps.
 *
 * When an entry is valid: while the model's layers and weight variables are the same objects, in
 * the same order (checked on every call, by identity), the rule and layer registries hold the same
 * definitions and adapters, and the model is not disposed. New weight values (training,
 * `setWeights`) keep the plan and re-derive the tensors: the store is keyed by the weights'
 * dataIds, and a derived tensor whose weights changed is released when the next call replaces it.
 *
 * When its tensors are released (deterministically, never by garbage collection):
 * - at the end of each call, those the call did not use;
 * - on LRU eviction: at most {@link ExplainCacheInfo.maxEntries} entries (default 4) over all
 *   models; {@link setExplainCacheSize} changes it, `0` turns the cache off;
 * - when the model or one of its weights is disposed (seen by the next one-shot call, any model);
 * - when a call that created the entry throws;
 * - by {@link releaseExplainCache} (all entries, or one model's).
 *
 * {@link explainCacheInfo} counts the tensors held, so that leak checks can subtract them:
 * `tf.memory().numTensors - explainCacheInfo().tensors` is unchanged by one-shot calls.
 */
import { ruleDefinitions } from '../rules/registry.js';
import { checkOptions, ModelPlan, planModel } from './plan.js';
import { LrpArgumentError } from './errors.js';
import { adapterFor, layerClassNames } from './layers/registry.js';
import { DerivedTensors } from './ops/derived.js';
import type { ExplainOptions } from './options.js';

/** What the one-shot cache holds now. */
export interface ExplainCacheInfo {
  /** Cached (model, planning options) entries. */
  readonly entries: number;
  /** Weight-derived tensors held by all entries (counted in `tf.memory().numTensors`). */
  readonly tensors: number;
  /** The most entries kept (least recently used evicted first); 0: the cache is off. */
  readonly maxEntries: number;
}

interface Entry {
  readonly model: object;
  readonly key: string;
  readonly plan: ModelPlan;
  readonly store: DerivedTensors;
  /** The model's layers and weight variables, by identity, when planned. */
  readonly modelSignature: readonly unknown[];
  /** The registries' definitions and adapters, by identity, when planned. */
  readonly registrySignature: readonly unknown[];
}

/** Options that are read per call (validated by `checkOptions` on every call), not by planning. */
const PER_CALL_OPTIONS: ReadonlySet<string> = new Set(['outputRelevance', 'checkInput', 'batchSize', 'baseline', 'steps', 'blurSigma', 'noiseLevel', 'samples', 'seed', 'maxBatch']);

const DEFAULT_MAX_ENTRIES = 4;
let maxEntries = DEFAULT_MAX_ENTRIES;
/** Least recently used first. */
let entries: Entry[] = [];
/** Planning counter (tests: a hit plans nothing). */
let plansMade = 0;

const identities = new WeakMap<object, number>();
let nextIdentity = 1;

/** A number per object or function, never reused (the key holds no reference to it). */
function identityOf(v: object): number {
  let id = identities.get(v);
  if (id === undefined) {
    id = nextIdentity++;
    identities.set(v, id);
  }
  return id;
}

function isPlainRecord(v: object): boolean {
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) return false;
  // rule and composite objects are plain objects too: those count by identity
  const kind = (v as { kind?: unknown }).kind;
  return kind !== 'rule' && kind !== 'composite';
}

/**
 * A canonical text of a value: primitives by value, plain objects and arrays by content (keys
 * sorted, `undefined` members left out), everything else (rule and composite objects, tensors,
 * functions, class instances) by identity.
 */
function canonical(v: unknown): string {
  switch (typeof v) {
    case 'undefined':
      return 'u';
    case 'number':
      return `n${String(v)}`;
    case 'string':
      return `s${JSON.stringify(v)}`;
    case 'boolean':
      return v ? 't' : 'f';
    case 'bigint':
      return `b${String(v)}`;
    case 'symbol':
      return `y${String(v.description)}`;
    default:
      break;
  }
  if (v === null) return 'z';
  const o = v as object;
  if (Array.isArray(o)) return `[${o.map(canonical).join(',')}]`;
  if (typeof o === 'object' && isPlainRecord(o)) {
    const rec = o as Record<string, unknown>;
    const keys = Object.keys(rec).filter((k) => rec[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(rec[k])}`).join(',')}}`;
  }
  return `#${identityOf(o)}`;
}

/** The key of the options that planning reads (all but {@link PER_CALL_OPTIONS}). */
export function planningKey(options: ExplainOptions): string {
  const rec = options as Readonly<Record<string, unknown>>;
  const planning: Record<string, unknown> = {};
  for (const k of Object.keys(rec)) if (!PER_CALL_OPTIONS.has(k)) planning[k] = rec[k];
  return canonical(planning);
}

interface VariableLike {
  readonly val?: { readonly isDisposed?: boolean };
}

interface LayerLike {
  readonly layers?: readonly LayerLike[];
  readonly _trainableWeights?: readonly VariableLike[];
  readonly _nonTrainableWeights?: readonly VariableLike[];
}

interface ModelLike extends LayerLike {
  readonly layers: readonly LayerLike[];
  readonly _refCount?: number;
}

function isLayersModel(model: unknown): model is ModelLike {
  if (model === null || typeof model !== 'object') return false;
  return Array.isArray((model as Partial<ModelLike>).layers);
}

/**
 * The model's layers (nested models' too) and their weight variables, in order, by identity
 * (the layers' own weight lists: `model.weights` rebuilds its list on every read, too slow here).
 */
function modelSignature(model: ModelLike): unknown[] {
  const sig: unknown[] = [];
  const visit = (layer: LayerLike): void => {
    sig.push(layer, ...(layer._trainableWeights ?? []), ...(layer._nonTrainableWeights ?? []));
    if (Array.isArray(layer.layers)) {
      for (const inner of layer.layers) visit(inner);
      sig.push('|');
    }
  };
  visit(model);
  return sig;
}

function registrySignature(): unknown[] {
  const sig: unknown[] = [...ruleDefinitions(), '|'];
  for (const name of layerClassNames()) sig.push(name, adapterFor(name));
  return sig;
}

const sameList = (a: readonly unknown[], b: readonly unknown[]): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

/** Whether the model, or one of the weight variables in its signature, was disposed. */
function isDisposedModel(model: ModelLike, signature: readonly unknown[]): boolean {
  return model._refCount === 0 || signature.some((v) => (v as VariableLike | null)?.val?.isDisposed === true);
}

function release(entry: Entry): void {
  entry.store.dispose();
  entries = entries.filter((e) => e !== entry);
}

/** Releases the entries of disposed models. */
function sweep(): void {
  for (const e of entries) if (isDisposedModel(e.model as ModelLike, e.modelSignature)) release(e);
}

/** A cached (or new) entry; `created` when this call made it. Null when the model cannot be cached. */
function lookup(model: unknown, options: ExplainOptions): { entry: Entry; created: boolean } | null {
  sweep();
  if (maxEntries === 0 || !isLayersModel(model)) return null;
  const msig = modelSignature(model);
  if (isDisposedModel(model, msig)) return null;
  checkOptions(options);
  const key = planningKey(options);
  const rsig = registrySignature();
  const hit = entries.find((e) => e.model === model && e.key === key);
  if (hit !== undefined) {
    if (sameList(hit.modelSignature, msig) && sameList(hit.registrySignature, rsig)) {
      // most recently used last
      entries = [...entries.filter((e) => e !== hit), hit];
      return { entry: hit, created: false };
    }
    release(hit);
  }
  const plan = planModel(model, options);
  plansMade++;
  const entry: Entry = { model, key, plan, store: new DerivedTensors(), modelSignature: msig, registrySignature: rsig };
  entries.push(entry);
  while (entries.length > maxEntries) release(entries[0]);
  return { entry, created: true };
}

/** A plan and store for one call, and what to do when the call ends. */
interface Lease {
  readonly plan: ModelPlan;
  readonly store: DerivedTensors;
  /** Ends the call: an uncached store is disposed; an entry the call created is released if it failed. */
  end(failed: boolean): void;
}

function lease(model: unknown, options: ExplainOptions): Lease {
  const found = lookup(model, options);
  if (found === null) {
    const plan = planModel(model, options);
    plansMade++;
    const store = new DerivedTensors();
    return { plan, store, end: () => store.dispose() };
  }
  const { entry, created } = found;
  return { plan: entry.plan, store: entry.store, end: (failed) => (failed && created ? release(entry) : undefined) };
}

/**
 * Runs `fn` with the cached plan and store of (model, options), planning on a miss. When the
 * model cannot be cached (not a LayersModel, cache off), with a plan and a store for this call
 * only. An error thrown by a call that created the entry releases it.
 */
export function withCachedPlan<T>(model: unknown, options: ExplainOptions, fn: (plan: ModelPlan, store: DerivedTensors) => T): T {
  const call = lease(model, options);
  let failed = true;
  try {
    const result = fn(call.plan, call.store);
    failed = false;
    return result;
  } finally {
    call.end(failed);
  }
}

/** {@link withCachedPlan} for an asynchronous `fn` (the store is used in its synchronous part). */
export async function withCachedPlanAsync<T>(model: unknown, options: ExplainOptions, fn: (plan: ModelPlan, store: DerivedTensors) => Promise<T>): Promise<T> {
  const call = lease(model, options);
  let failed = true;
  try {
    const result = await fn(call.plan, call.store);
    failed = false;
    return result;
  } finally {
    call.end(failed);
  }
}

/** The plan of (model, options), cached; makes no tensors. */
export function cachedPlan(model: unknown, options: ExplainOptions): ModelPlan {
  const found = lookup(model, options);
  if (found !== null) return found.entry.plan;
  plansMade++;
  return planModel(model, options);
}

/**
 * What the one-shot functions' cache holds: entries and weight-derived tensors. Leak checks
 * around one-shot calls compare `tf.memory().numTensors - explainCacheInfo().tensors`.
 */
export function explainCacheInfo(): ExplainCacheInfo {
  return { entries: entries.length, tensors: entries.reduce((n, e) => n + e.store.size, 0), maxEntries };
}

/**
 * Releases the cache of the one-shot functions (`explain`, `explainWithConservation`, `describe`,
 * `explainLayers`, `conceptRelevance`): every entry, or only `model`'s. Its weight-derived
 * tensors are disposed at once; the next call plans again.
 */
export function releaseExplainCache(model?: object): void {
  for (const e of entries) if (model === undefined || e.model === model) release(e);
}

/**
 * Sets how many (model, planning options) entries the one-shot functions keep (default 4; least
 * recently used released first). `0` turns the cache off: each call plans and derives afresh and
 * keeps nothing.
 *
 * @throws {LrpArgumentError} for a negative or non-integer size
 */
export function setExplainCacheSize(size: number): void {
  if (!Number.isInteger(size) || size < 0) throw new LrpArgumentError('size', `setExplainCacheSize(size) needs a non-negative integer (0 turns the cache off), got ${String(size)}.`);
  maxEntries = size;
  while (entries.length > maxEntries) release(entries[0]);
}

/** Plans made by the one-shot functions so far (internal: tests check that a hit plans nothing). */
export function explainCachePlanCount(): number {
  return plansMade;
}
