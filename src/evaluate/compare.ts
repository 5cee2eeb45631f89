/**
 * Cross-checks of two relevance maps: per sample Pearson and Spearman correlation, overlap of
 * the top-k% most relevant elements and sign agreement; and {@link crossValidate}, which
 * compares LRP with Integrated Gradients on the same batch.
 */
import type { ExplainableModel } from '../explainable.js';
import * as tf from '@tensorflow/tfjs';
import { LrpArgumentError } from '../errors.js';
import { explain } from '../explain.js';
import { checkedInput } from '../inputCheck.js';
import type { ClassIndex, Relevance } from '../explain.js';
import type { ExplainOptions } from '../options.js';
import { checkOptions, checkTensor, finiteMean, fraction } from './validate.js';

/** Options of {@link compare}. */
export interface CompareOptions {
  /**
   * The fraction of each sample's elements that form its "most relevant" set for
   * {@link ComparisonReport.topKIoU}: the `k = max(1, round(topK · size))` elements with the
   * largest values. Default 0.1 (the top 10%).
   */
  readonly topK?: number;
}

/** Means over the samples (NaN entries, i.e. undefined per-sample values, are skipped). */
export interface ComparisonMeans {
  readonly pearson: number;
  readonly spearman: number;
  readonly topKIoU: number;
  readonly signAgreement: number;
}

/** Agreement of two relevance maps, per sample (first axis) as plain numbers, and their means. */
export interface ComparisonReport {
  /** Number of samples (the first axis). */
  readonly samples: number;
  /** Elements per sample. */
  readonly size: number;
  /** The `topK` fraction used. */
  readonly topK: number;
  /** Elements in each sample's top set: `max(1, round(topK · size))`. */
  readonly k: number;
  /** Pearson correlation per sample; NaN where either map is constant over the sample. */
  readonly pearson: number[];
  /** Spearman rank correlation per sample (average ranks for ties); NaN where either map is constant. */
  readonly spearman: number[];
  /**
   * Intersection over union of the two top sets per sample: the `k` elements with the largest
   * values (signed: the most positive, not the largest |value|; ties broken by lower flat
   * index first). 1 for the same set, 0 for disjoint sets.
   */
  readonly topKIoU: number[];
  /**
   * Fraction of elements with the same sign (−, 0, +) in both maps, counted over the elements
   * where at least one map is non-zero; NaN where both maps are all zero.
   */
  readonly signAgreement: number[];
  /** Means over the samples, skipping NaN entries (NaN when every sample is NaN). */
  readonly mean: ComparisonMeans;
}

/** Pearson correlation of two equally long arrays; NaN when either is constant. */
export function pearsonOf(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx;
    const dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return NaN;
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/** Ranks 1..n, ties getting the average of the ranks they span. */
function averageRanks(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => x[i] - x[j] || i - j);
  const ranks = new Float64Array(n);
  for (let start = 0; start < n; ) {
    let end = start + 1;
    while (end < n && x[order[end]] === x[order[start]]) end++;
    const rank = (start + 1 + end) / 2; // mean of the ranks start+1 .. end
    for (let i = start; i < end; i++) ranks[order[i]] = rank;
    start = end;
  }
  return ranks;
}

/** Flat indices of the k largest values (ties: lower index first). */
function topSet(x: ArrayLike<number>, k: number): Uint8Array {
  const order = Array.from({ length: x.length }, (_, i) => i).sort((i, j) => x[j] - x[i] || i - j);
  const set = new Uint8Array(x.length);
  for (let i = 0; i < k; i++) set[order[i]] = 1;
  return set;
}

function signAgreementOf(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let same = 0;
  let count = 0;
  for (let i = 0; i < x.length; i++) {
    if (x[i] === 0 && y[i] === 0) continue;
    count++;
    if (Math.sign(x[i]) === Math.sign(y[i])) same++;
  }
  return count === 0 ? NaN : same / count;
}

function checkFinite(argument: string, values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new LrpArgumentError(argument, `contains NaN or Infinity (flat index ${i}); the comparison is undefined. Clean the map first.`);
  }
}

/** The report of two validated host arrays of `samples` samples. */
function compareArrays(x: ArrayLike<number>, y: ArrayLike<number>, samples: number, topK: number): ComparisonReport {
  const size = x.length / samples;
  const k = Math.max(1, Math.min(size, Math.round(topK * size)));
  const pearson: number[] = [];
  const spearman: number[] = [];
  const topKIoU: number[] = [];
  const signAgreement: number[] = [];
  for (let s = 0; s < samples; s++) {
    const a = Float64Array.from({ length: size }, (_, i) => x[s * size + i]);
    const b = Float64Array.from({ length: size }, (_, i) => y[s * size + i]);
    pearson.push(pearsonOf(a, b));
    spearman.push(pearsonOf(averageRanks(a), averageRanks(b)));
    const [ta, tb] = [topSet(a, k), topSet(b, k)];
    let inter = 0;
    for (let i = 0; i < size; i++) inter += ta[i] & tb[i];
    topKIoU.push(inter / (2 * k - inter));
    signAgreement.push(signAgreementOf(a, b));
  }
  return {
    samples,
    size,
    topK,
    k,
    pearson,
    spearman,
    topKIoU,
    signAgreement,
    mean: { pearson: finiteMean(pearson), spearman: finiteMean(spearman), topKIoU: finiteMean(topKIoU), signAgreement: finiteMean(signAgreement) },
  };
}

/**
 * Compares two relevance maps of the same batch (e.g. LRP and Integrated Gradients) sample by
 * sample: Pearson and Spearman correlation, top-k% overlap (IoU of the most positive elements)
 * and sign agreement, as plain numbers per sample plus their means.
 *
 * The maps are read to the host once (`await data()`) and compared in float64: this is a
 * report, not a hot path. Neither tensor is disposed or changed.
 *
 * @param a relevance `[N, ...]` (the first axis is the batch)
 * @param b relevance of the same shape as `a`
 * @param options `topK`: the fraction of elements in each top set (default 0.1)
 * @returns the per-sample numbers and their means
 * @throws LrpArgumentError when a map is not a live tensor of rank ≥ 2, the shapes differ,
 *   a map holds NaN/Infinity, or `topK` is not in (0, 1]
 */
export async function compare(a: tf.Tensor, b: tf.Tensor, options: CompareOptions = {}): Promise<ComparisonReport> {
  checkOptions('options', options, ['topK']);
  const topK = fraction('options.topK', options.topK, 0.1);
  const x = checkTensor('a', a, 2, 'of shape [batch, ...] (rank ≥ 2)');
  const y = checkTensor('b', b, 2, 'of shape [batch, ...] (rank ≥ 2)');
  if (x.rank !== y.rank || x.shape.some((d, i) => d !== y.shape[i])) {
    throw new LrpArgumentError('b', `shape [${y.shape.join(', ')}] differs from a's [${x.shape.join(', ')}]; compare two maps of the same batch (e.g. two explain() results for one input).`);
  }
  if (x.size === 0) throw new LrpArgumentError('a', `has no elements per sample (shape [${x.shape.join(', ')}]).`);
  const [xs, ys] = await Promise.all([x.data(), y.data()]);
  checkFinite('a', xs as ArrayLike<number>);
  checkFinite('b', ys as ArrayLike<number>);
  return compareArrays(xs as ArrayLike<number>, ys as ArrayLike<number>, x.shape[0], topK);
}

/** Options of {@link crossValidate}: the LRP options, plus Integrated Gradients' and {@link compare}'s. */
export interface CrossValidateOptions extends Omit<ExplainOptions, 'method'> {
  /**
   * Must be absent or `'lrp'`: LRP (with the rule, composite and their parameters given here)
   * is compared with Integrated Gradients (with `steps`, `baseline`, `blurSigma`, `maxBatch`).
   */
  readonly method?: 'lrp';
  /** The top-k fraction of {@link compare}. Default 0.1. */
  readonly topK?: number;
}

/** Options that configure Integrated Gradients only. */
const IG_KEYS = ['steps', 'baseline', 'blurSigma', 'maxBatch'] as const;
/** Options that both passes share. */
const SHARED_KEYS = ['output', 'checkInput'] as const;

/** All of a (possibly multi-input) relevance as one `[N, total]` tensor per sample. */
function flatPerSample(r: Relevance): tf.Tensor {
  const list = Array.isArray(r) ? r : [r];
  return tf.tidy(() => {
    const flat = list.map((t) => tf.reshape(tf.cast(t, 'float32'), [t.shape[0], -1]));
    return flat.length === 1 ? flat[0] : tf.concat(flat, 1);
  });
}

/**
 * Explains a batch with LRP (the rule or composite in `options`) and with Integrated Gradients
 * (`steps`, default 64; `baseline`, default zero) for the same classes and compares the two maps
 * with {@link compare}. A multi-input model's maps are compared over all inputs together.
 *
 *     const report = await crossValidate(model, x, 'max', { composite: 'epsilonPlusFlat', steps: 32 });
 *     console.log(report.mean.spearman);
 *
 * @param model a `tf.LayersModel` (never modified)
 * @param input a batch `[N, ...]`, or one tensor per model input
 * @param classIdx a class for all samples, one per sample, or `'max'` (each sample's top logit)
 * @param options LRP options, IG's `steps`/`baseline`/`blurSigma`/`maxBatch`, and `topK`
 * @returns the comparison report (LRP as `a`, Integrated Gradients as `b`)
 * @throws LrpArgumentError for a `method` other than `'lrp'`, a bad `topK`, everything
 *   {@link explain} rejects, and NaN/Infinity in the input (with `checkInput`, the default)
 */
export async function crossValidate(model: ExplainableModel, input: tf.Tensor | readonly tf.Tensor[], classIdx: ClassIndex, options: CrossValidateOptions = {}): Promise<ComparisonReport> {
  if (options === null || typeof options !== 'object') throw new LrpArgumentError('options', `expected an options object, got ${String(options)}.`);
  const { topK, ...explainOptions } = options;
  fraction('options.topK', topK, 0.1);
  if (explainOptions.method !== undefined && explainOptions.method !== 'lrp') {
    throw new LrpArgumentError('options.method', `crossValidate compares LRP with Integrated Gradients; leave method out (or 'lrp') and give the LRP rule or composite, got ${JSON.stringify(explainOptions.method)}.`);
  }
  const lrpOptions: Record<string, unknown> = { ...explainOptions, method: 'lrp' };
  const igOptions: Record<string, unknown> = { method: 'integratedGradients' };
  for (const key of IG_KEYS) {
    if (explainOptions[key] !== undefined) igOptions[key] = explainOptions[key];
    delete lrpOptions[key];
  }
  for (const key of SHARED_KEYS) if (explainOptions[key] !== undefined) igOptions[key] = explainOptions[key];

  const tensors: tf.Tensor[] = [];
  try {
    const lrp = explain(model, input, classIdx, lrpOptions as ExplainOptions);
    tensors.push(...(Array.isArray(lrp) ? lrp : [lrp]));
    const ig = explain(model, input, classIdx, igOptions as ExplainOptions);
    tensors.push(...(Array.isArray(ig) ? ig : [ig]));
    // NaN/Infinity in the input (options.checkInput): the typed error about the input, read
    // asynchronously, rather than compare()'s about NaN in the maps
    await checkedInput(lrp);
    const a = flatPerSample(lrp);
    tensors.push(a);
    const b = flatPerSample(ig);
    tensors.push(b);
    return await compare(a, b, { topK });
  } finally {
    tf.dispose(tensors);
  }
}
