/**
 * Plain-JavaScript measures of token relevance over a set of sentences, for the recurrent text
 * example (scripts/example-text-lstm.ts) and its test: which share of the relevance lies on the
 * marked tokens (the sentiment words, the negations), whether the most relevant token is marked,
 * and how alike two models' explanations of the same sentences are. Inputs are row-major
 * [count, T] arrays; nothing here touches tensors.
 */
import { pearsonOf } from '../src/evaluate/compare';

/** Measures of one relevance set against one mask (means over the sentences that have a marked token). */
export interface MarkedStats {
  /** Sentences measured (those with at least one marked token, or all with `everySentence`). */
  readonly count: number;
  /** The share of sentences whose largest relevance (toward the predicted class) is on a marked token. */
  readonly topIsMarked: number;
  /** The share of sentences whose k marked tokens are their k tokens of largest |relevance|. */
  readonly markedOnTop: number;
  /** Mean over sentences of Σ_marked |R| / Σ |R|. */
  readonly absShare: number;
  /** Mean over sentences of Σ_marked max(R, 0) / Σ max(R, 0) (sentences with no positive relevance count 0). */
  readonly positiveShare: number;
  /** Mean over sentences of the share of tokens that are marked. */
  readonly area: number;
  /** Mean |R| of a marked token and of an unmarked one. */
  readonly meanAbsMarked: number;
  readonly meanAbsOther: number;
}

/**
 * Measures `relevance` (toward each sentence's predicted class) against `mask` (1: marked).
 * @param relevance row-major [count, T]
 * @param mask row-major [count, T], 1 where a token is marked
 * @param T tokens per sentence
 * @param pick which sentences to measure (default: those with a marked token)
 */
export function markedStats(relevance: ArrayLike<number>, mask: ArrayLike<number>, T: number, pick?: (i: number) => boolean): MarkedStats {
  const n = relevance.length / T;
  let count = 0;
  let topIsMarked = 0;
  let markedOnTop = 0;
  let absShare = 0;
  let positiveShare = 0;
  let area = 0;
  let absMarked = 0;
  let nMarked = 0;
  let absOther = 0;
  let nOther = 0;
  for (let i = 0; i < n; i++) {
    const row = Array.from({ length: T }, (_, j) => relevance[i * T + j]);
    const marked = (j: number) => mask[i * T + j] === 1;
    const k = row.filter((_, j) => marked(j)).length;
    if (pick ? !pick(i) : k === 0) continue;
    count++;
    const byValue = row.map((_, j) => j).sort((a, b) => row[b] - row[a]);
    if (marked(byValue[0])) topIsMarked++;
    const byAbs = row.map((_, j) => j).sort((a, b) => Math.abs(row[b]) - Math.abs(row[a]));
    if (k > 0 && byAbs.slice(0, k).every(marked)) markedOnTop++;
    let abs = 0;
    let absIn = 0;
    let pos = 0;
    let posIn = 0;
    row.forEach((r, j) => {
      abs += Math.abs(r);
      pos += Math.max(r, 0);
      if (marked(j)) {
        absIn += Math.abs(r);
        posIn += Math.max(r, 0);
        absMarked += Math.abs(r);
        nMarked++;
      } else {
        absOther += Math.abs(r);
        nOther++;
      }
    });
    absShare += abs > 0 ? absIn / abs : 0;
    positiveShare += pos > 0 ? posIn / pos : 0;
    area += k / T;
  }
  const mean = (s: number) => (count > 0 ? s / count : 0);
  return {
    count,
    topIsMarked: mean(topIsMarked),
    markedOnTop: mean(markedOnTop),
    absShare: mean(absShare),
    positiveShare: mean(positiveShare),
    area: mean(area),
    meanAbsMarked: nMarked > 0 ? absMarked / nMarked : 0,
    meanAbsOther: nOther > 0 ? absOther / nOther : 0,
  };
}

/** How alike two models' relevance of the same sentences is. */
export interface Agreement {
  /** The share of sentences where both put their largest relevance on the same token. */
  readonly sameTop: number;
  /** Mean over sentences of the Pearson correlation of the two relevance rows. */
  readonly meanPearson: number;
}

/** Compares two relevance sets of the same sentences (row-major [count, T], both toward the same class per sentence). */
export function agreement(a: ArrayLike<number>, b: ArrayLike<number>, T: number): Agreement {
  const n = a.length / T;
  let sameTop = 0;
  let pearson = 0;
  const argmax = (x: ArrayLike<number>, i: number) => {
    let best = 0;
    for (let j = 1; j < T; j++) if (x[i * T + j] > x[i * T + best]) best = j;
    return best;
  };
  for (let i = 0; i < n; i++) {
    if (argmax(a, i) === argmax(b, i)) sameTop++;
    const ra = Array.from({ length: T }, (_, j) => a[i * T + j]);
    const rb = Array.from({ length: T }, (_, j) => b[i * T + j]);
    const p = pearsonOf(ra, rb);
    pearson += Number.isFinite(p) ? p : 0;
  }
  return { sameTop: sameTop / n, meanPearson: pearson / n };
}

/** Relevance toward each sentence's predicted class: the logit's relevance times +1 (predicted positive) or −1. */
export function towardPrediction(relevance: ArrayLike<number>, probabilities: ArrayLike<number>, T: number): Float64Array {
  const out = new Float64Array(relevance.length);
  for (let i = 0; i < relevance.length; i++) out[i] = probabilities[Math.floor(i / T)] > 0.5 ? relevance[i] : -relevance[i];
  return out;
}

/**
 * A sentence as one line of plain text for terminals and Markdown: every word whose |relevance|
 * is at least `threshold` × the sentence's max |relevance| is shown as `[word +1.23]`.
 */
export function markedLine(words: readonly string[], relevance: ArrayLike<number>, threshold = 0.25, decimals = 2): string {
  let max = 0;
  for (let j = 0; j < words.length; j++) max = Math.max(max, Math.abs(relevance[j]));
  return words
    .map((w, j) => {
      const r = relevance[j];
      return max > 0 && Math.abs(r) >= threshold * max ? `[${w} ${r >= 0 ? '+' : '−'}${Math.abs(r).toFixed(decimals)}]` : w;
    })
    .join(' ');
}
