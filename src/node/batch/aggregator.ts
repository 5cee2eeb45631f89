/**
 * Per-class aggregated relevance ("Aggregated LRP"): for every explained class, the number of
 * items, and per input element the sums of R, |R|, R⁺ and R⁻, plus the sum of the explained
 * scores. The sums are exact (`ExactSums`: integer arithmetic on the float32 values), so
 * partial aggregates from batches, workers, shards or resumed runs merge to bit-for-bit the same
 * result as one pass, in any order. Means are rounded to float64 once, when read.
 */
import { LrpArgumentError } from '../../errors.js';
import { ExactSums, type ExactSumsJSON } from './exact.js';
import { isFloat32Array } from './typed.js';

/** The aggregated maps of one class, as float64 arrays (length = product of the item shape). */
export interface ClassAggregate {
  readonly classIdx: number;
  /** Items aggregated for this class. */
  readonly count: number;
  /** Σ R / count. */
  readonly mean: Float64Array;
  /** Σ |R| / count. */
  readonly meanAbs: Float64Array;
  /** Σ max(R, 0) / count. */
  readonly meanPositive: Float64Array;
  /** Σ min(R, 0) / count (≤ 0). */
  readonly meanNegative: Float64Array;
  /** Σ score / count: the mean explained (pre-softmax) score. */
  readonly meanScore: number;
  /** Σ over elements of `mean`: the mean total relevance per item. */
  readonly meanRelevanceSum: number;
}

/** The JSON form of a {@link RelevanceAggregator} (canonical: equal aggregates give equal JSON). */
export interface AggregatorJSON {
  readonly format: 'tfjs-lrp-aggregate';
  readonly version: 1;
  /** The item shape (without the batch axis). */
  readonly shape: readonly number[];
  /** A caller-chosen fingerprint of what was explained; merges require equal fingerprints. */
  readonly fingerprint: string;
  /** Per class (ascending), the exact state. */
  readonly classes: ReadonlyArray<{
    readonly classIdx: number;
    readonly count: number;
    readonly positive: ExactSumsJSON;
    readonly negative: ExactSumsJSON;
    /** Element 0: Σ positive scores; element 1: Σ |negative scores|. */
    readonly score: ExactSumsJSON;
  }>;
}

interface ClassState {
  count: number;
  positive: ExactSums;
  negative: ExactSums;
  score: ExactSums;
}

/** One explained item as the aggregator needs it. */
export interface AggregateItem {
  readonly classIdx: number;
  readonly score: number;
  /** The item's relevance (float32, `size` values starting at `offset`). */
  readonly relevance: Float32Array;
  readonly offset?: number;
}

/**
 * Accumulates relevance per explained class. Sums are exact, so `merge` of partial aggregates
 * equals a single pass over all items, bit for bit, in any order.
 *
 *     const agg = new RelevanceAggregator([28, 28, 1]);
 *     for await (const batch of explainDataset(model, source)) agg.addBatch(batch);
 *     const three = agg.result(3); // mean, meanAbs, meanPositive, meanNegative, count
 */
export class RelevanceAggregator {
  /** The item shape (without the batch axis). */
  readonly shape: readonly number[];
  /** Elements per item. */
  readonly size: number;
  /** What was explained (model, options…); merges require equal fingerprints. */
  readonly fingerprint: string;
  private readonly classes = new Map<number, ClassState>();

  /**
   * @param shape the shape of one item's relevance (e.g. `[28, 28, 1]`)
   * @param fingerprint optional description of the run; `merge` refuses a different one
   */
  constructor(shape: readonly number[], fingerprint = '') {
    if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new LrpArgumentError('shape', `expected the item shape as positive integers (e.g. [28, 28, 1]), got ${JSON.stringify(shape)}.`);
    }
    this.shape = [...shape];
    this.size = shape.reduce((a, b) => a * b, 1);
    this.fingerprint = fingerprint;
  }

  private state(classIdx: number): ClassState {
    let s = this.classes.get(classIdx);
    if (s === undefined) {
      s = { count: 0, positive: new ExactSums(this.size), negative: new ExactSums(this.size), score: new ExactSums(2) };
      this.classes.set(classIdx, s);
    }
    return s;
  }

  /** Adds one explained item. */
  add(item: AggregateItem): void {
    const { classIdx, score, relevance } = item;
    const offset = item.offset ?? 0;
    if (!Number.isInteger(classIdx) || classIdx < 0) throw new LrpArgumentError('classIdx', `expected a non-negative integer class, got ${JSON.stringify(classIdx)}.`);
    if (!isFloat32Array(relevance)) throw new LrpArgumentError('relevance', 'expected a Float32Array (the item relevance as float32).');
    if (offset < 0 || offset + this.size > relevance.length) {
      throw new LrpArgumentError('relevance', `needs ${this.size} values (shape [${this.shape.join(', ')}]) from offset ${offset}, but holds ${relevance.length}.`);
    }
    if (!Number.isFinite(score)) throw new LrpArgumentError('score', `must be finite, got ${score}.`);
    const bits = new Uint32Array(relevance.buffer, relevance.byteOffset, relevance.length);
    for (let i = 0; i < this.size; i++) {
      if (((bits[offset + i] >>> 23) & 0xff) === 255) throw new LrpArgumentError('relevance', `holds ${relevance[offset + i]} at element ${i}; only finite relevance can be aggregated.`);
    }
    const s = this.state(classIdx);
    ExactSums.addSigned(bits, offset, s.positive, s.negative);
    s.score.addScalar(score < 0 ? 1 : 0, score);
    s.count += 1;
  }

  /** Adds every item of an explained batch (see `explainDataset`). */
  addBatch(batch: { readonly classIdx: readonly number[]; readonly scores: readonly number[]; readonly relevance: Float32Array }): void {
    const n = batch.classIdx.length;
    if (batch.relevance.length !== n * this.size) {
      throw new LrpArgumentError('batch.relevance', `holds ${batch.relevance.length} values, expected ${n} items × ${this.size} (shape [${this.shape.join(', ')}]).`);
    }
    for (let k = 0; k < n; k++) this.add({ classIdx: batch.classIdx[k], score: batch.scores[k], relevance: batch.relevance, offset: k * this.size });
  }

  /** Adds another aggregate (same shape and fingerprint) into this one; exact. */
  merge(other: RelevanceAggregator): this {
    if (!(other instanceof RelevanceAggregator)) throw new LrpArgumentError('other', 'expected a RelevanceAggregator (use RelevanceAggregator.fromJSON for saved states).');
    if (other.shape.join(',') !== this.shape.join(',')) {
      throw new LrpArgumentError('other', `has item shape [${other.shape.join(', ')}], this aggregate [${this.shape.join(', ')}]; only aggregates of the same inputs merge.`);
    }
    if (other.fingerprint !== this.fingerprint) {
      throw new LrpArgumentError('other', `was made with different settings (fingerprint ${other.fingerprint || '(none)'} vs ${this.fingerprint || '(none)'}): same model, options and classes are required to merge.`);
    }
    for (const [c, o] of other.classes) {
      const s = this.state(c);
      s.count += o.count;
      s.positive.merge(o.positive);
      s.negative.merge(o.negative);
      s.score.merge(o.score);
    }
    return this;
  }

  /** The classes seen, ascending. */
  classIndices(): number[] {
    return [...this.classes.keys()].sort((a, b) => a - b);
  }

  /** Items aggregated for a class (0 if none). */
  count(classIdx: number): number {
    return this.classes.get(classIdx)?.count ?? 0;
  }

  /** Total items aggregated. */
  get total(): number {
    let n = 0;
    for (const s of this.classes.values()) n += s.count;
    return n;
  }

  /** The exact sums of a class as float64: Σ R, Σ |R|, Σ R⁺, Σ R⁻ and Σ score. */
  sums(classIdx: number): { count: number; sum: Float64Array; sumAbs: Float64Array; sumPositive: Float64Array; sumNegative: Float64Array; sumScore: number } {
    const s = this.classes.get(classIdx);
    if (s === undefined) throw new LrpArgumentError('classIdx', `class ${classIdx} has no aggregated items (classes seen: ${this.classIndices().join(', ') || 'none'}).`);
    const neg = s.negative.values();
    for (let i = 0; i < neg.length; i++) neg[i] = neg[i] === 0 ? 0 : -neg[i];
    const score = s.score.values();
    return {
      count: s.count,
      sum: s.positive.values(s.negative, -1),
      sumAbs: s.positive.values(s.negative, 1),
      sumPositive: s.positive.values(),
      sumNegative: neg,
      sumScore: score[0] - score[1],
    };
  }

  /** The mean maps of a class. */
  result(classIdx: number): ClassAggregate {
    const t = this.sums(classIdx);
    const div = (a: Float64Array) => a.map((v) => v / t.count);
    const mean = div(t.sum);
    let total = 0;
    for (const v of t.sum) total += v;
    return {
      classIdx,
      count: t.count,
      mean,
      meanAbs: div(t.sumAbs),
      meanPositive: div(t.sumPositive),
      meanNegative: div(t.sumNegative),
      meanScore: t.sumScore / t.count,
      meanRelevanceSum: total / t.count,
    };
  }

  /** Whether both hold exactly the same state. */
  equals(other: RelevanceAggregator): boolean {
    if (other.shape.join(',') !== this.shape.join(',') || other.fingerprint !== this.fingerprint) return false;
    const a = this.classIndices();
    const b = other.classIndices();
    if (a.join(',') !== b.join(',')) return false;
    return a.every((c) => {
      const x = this.classes.get(c) as ClassState;
      const y = other.classes.get(c) as ClassState;
      return x.count === y.count && x.positive.equals(y.positive) && x.negative.equals(y.negative) && x.score.equals(y.score);
    });
  }

  /** The canonical state, JSON-safe (classes ascending); `fromJSON` restores it. */
  toJSON(): AggregatorJSON {
    return {
      format: 'tfjs-lrp-aggregate',
      version: 1,
      shape: this.shape,
      fingerprint: this.fingerprint,
      classes: this.classIndices().map((c) => {
        const s = this.classes.get(c) as ClassState;
        return { classIdx: c, count: s.count, positive: s.positive.toJSON(), negative: s.negative.toJSON(), score: s.score.toJSON() };
      }),
    };
  }

  /** Restores an aggregate saved with `toJSON` (or parsed from its JSON text). */
  static fromJSON(json: AggregatorJSON): RelevanceAggregator {
    if (json === null || typeof json !== 'object' || json.format !== 'tfjs-lrp-aggregate' || !Array.isArray(json.classes)) {
      throw new LrpArgumentError('json', "is not a tfjs-lrp aggregate (expected format 'tfjs-lrp-aggregate', from RelevanceAggregator.toJSON()).");
    }
    if (json.version !== 1) throw new LrpArgumentError('json', `has aggregate format version ${String(json.version)}; this tfjs-lrp reads version 1.`);
    const agg = new RelevanceAggregator(json.shape, json.fingerprint ?? '');
    for (const c of json.classes) {
      if (!Number.isInteger(c.classIdx) || c.classIdx < 0 || !Number.isInteger(c.count) || c.count < 0) throw new LrpArgumentError('json', `has a bad class entry ${JSON.stringify({ classIdx: c.classIdx, count: c.count })}.`);
      if (agg.classes.has(c.classIdx)) throw new LrpArgumentError('json', `lists class ${c.classIdx} twice.`);
      let state: ClassState;
      try {
        state = { count: c.count, positive: ExactSums.fromJSON(c.positive), negative: ExactSums.fromJSON(c.negative), score: ExactSums.fromJSON(c.score) };
      } catch (e) {
        throw new LrpArgumentError('json', `class ${c.classIdx}: ${(e as Error).message}.`);
      }
      if (state.positive.size !== agg.size || state.negative.size !== agg.size || state.score.size !== 2) {
        throw new LrpArgumentError('json', `class ${c.classIdx} holds ${state.positive.size} elements, the shape [${agg.shape.join(', ')}] needs ${agg.size}.`);
      }
      agg.classes.set(c.classIdx, state);
    }
    return agg;
  }
}
