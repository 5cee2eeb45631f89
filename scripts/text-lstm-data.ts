/**
 * The sentences of the recurrent text example (fixtures/text-lstm): the text example's sentences
 * (scripts/text-data.ts, the same seed, order and split) with negation added, something a bag
 * of words cannot solve.
 *
 * The vocabulary is fixtures/text's 332 tokens plus one: 'not' (id 332; AFINN-165 has no
 * single-word entry for it). Token ids 0 … 331 mean the same in both models, so every sentence of
 * the text example is also a sentence of this one.
 *
 * Each of the TEXT_COUNT sentences of `textSentences` is kept, and a mulberry32 PRNG seeded
 * NEGATION_SEED decides, per sentence:
 * - with probability NEGATED_SHARE, a negation: 'not' replaces the filler word right before one
 *   of the sentiment words, which flips that word's score (the label is recomputed; a choice
 *   whose flipped sum would be 0 is skipped, and with no possible choice the sentence stays as
 *   it is);
 * - else with probability DISTRACTOR_SHARE, a 'not' that negates nothing: it replaces a filler
 *   word that is followed by a filler word or ends the sentence ("… not the movie …");
 * - else the sentence stays as it is.
 * So 'not' flips the label only when it stands right before a sentiment word: the order decides.
 */
import { seededRandom } from './random';
import { textSentences, TEXT_COUNT, TEXT_TRAIN_FRACTION, type TextSet, type Vocabulary } from './text-data';

/** The negation word (the last token of the LSTM vocabulary). */
export const NEGATION = 'not';
export const NEGATION_SEED = 7;
/** The share of sentences with a negating 'not'. */
export const NEGATED_SHARE = 0.35;
/** The share of the remaining sentences with a 'not' that negates nothing. */
export const DISTRACTOR_SHARE = 0.25;

/** Sentences with negation: `TextSet` plus where the 'not's are. */
export interface NegationSet extends TextSet {
  /** 1 where a 'not' negates the next word, row-major like `tokens`. */
  readonly negationMask: Float32Array;
  /** 1 where a 'not' negates nothing. */
  readonly distractorMask: Float32Array;
  /** Per sentence: 1 when it holds a negating 'not'. */
  readonly negated: Uint8Array;
  /** Per sentence: 1 when it holds a 'not' that negates nothing. */
  readonly distracted: Uint8Array;
}

/** The LSTM vocabulary: the text example's (fixtures/text/vocab.json) plus 'not' (score 0). */
export function lstmVocabulary(base: Vocabulary): Vocabulary {
  if (base.tokens.includes(NEGATION)) throw new Error(`the base vocabulary already holds '${NEGATION}'`);
  return {
    tokens: [...base.tokens, NEGATION],
    scores: [...base.scores, 0],
    sentenceLength: base.sentenceLength,
    source: `${base.source}; '${NEGATION}' (the last token, no AFINN score) negates the sentiment word right after it: scripts/text-lstm-data.ts`,
  };
}

/** The text example's vocabulary inside the LSTM one (without 'not'). */
export function baseVocabulary(lstm: Vocabulary): Vocabulary {
  if (lstm.tokens[lstm.tokens.length - 1] !== NEGATION) throw new Error(`not an LSTM vocabulary: its last token is not '${NEGATION}'`);
  return { tokens: lstm.tokens.slice(0, -1), scores: lstm.scores.slice(0, -1), sentenceLength: lstm.sentenceLength, source: lstm.source.split('; ').slice(0, -1).join('; ') };
}

/** All sentences with negation added, in the text example's order; `base` is the text example's vocabulary. */
export function negationSentences(base: Vocabulary, count = TEXT_COUNT): NegationSet {
  const T = base.sentenceLength;
  const not = base.tokens.length;
  const plain = textSentences(base, count);
  const tokens = plain.tokens.slice();
  const labels = plain.labels.slice();
  const negationMask = new Float32Array(count * T);
  const distractorMask = new Float32Array(count * T);
  const negated = new Uint8Array(count);
  const distracted = new Uint8Array(count);
  const rand = seededRandom(NEGATION_SEED);
  const isS = (i: number, j: number) => plain.sentimentMask[i * T + j] === 1;
  for (let i = 0; i < count; i++) {
    const u = rand();
    const v = rand();
    const pickAmong = (list: number[]) => list[Math.floor(v * list.length)];
    if (u < NEGATED_SHARE) {
      let sum = 0;
      for (let j = 0; j < T; j++) sum += base.scores[tokens[i * T + j]];
      // sentiment words with a filler word before them whose flip keeps the sum nonzero
      const candidates: number[] = [];
      for (let j = 1; j < T; j++) if (isS(i, j) && !isS(i, j - 1) && sum - 2 * base.scores[tokens[i * T + j]] !== 0) candidates.push(j);
      if (candidates.length === 0) continue;
      const j = pickAmong(candidates);
      sum -= 2 * base.scores[tokens[i * T + j]];
      tokens[i * T + j - 1] = not;
      negationMask[i * T + j - 1] = 1;
      negated[i] = 1;
      labels[i] = sum > 0 ? 1 : 0;
    } else if (u < NEGATED_SHARE + (1 - NEGATED_SHARE) * DISTRACTOR_SHARE) {
      const candidates: number[] = [];
      for (let j = 0; j < T; j++) if (!isS(i, j) && (j === T - 1 || !isS(i, j + 1))) candidates.push(j);
      const j = pickAmong(candidates);
      tokens[i * T + j] = not;
      distractorMask[i * T + j] = 1;
      distracted[i] = 1;
    }
  }
  return { tokens, labels, sentimentMask: plain.sentimentMask, count, negationMask, distractorMask, negated, distracted };
}

/** The training part (first 80%) or the held-out part (the rest), the same split as the text example's. */
export function negationSet(base: Vocabulary, part: 'train' | 'heldOut'): NegationSet {
  const all = negationSentences(base);
  const T = base.sentenceLength;
  const cut = Math.floor(all.count * TEXT_TRAIN_FRACTION);
  const [from, to] = part === 'train' ? [0, cut] : [cut, all.count];
  return {
    tokens: all.tokens.slice(from * T, to * T),
    labels: all.labels.slice(from, to),
    sentimentMask: all.sentimentMask.slice(from * T, to * T),
    count: to - from,
    negationMask: all.negationMask.slice(from * T, to * T),
    distractorMask: all.distractorMask.slice(from * T, to * T),
    negated: all.negated.slice(from, to),
    distracted: all.distracted.slice(from, to),
  };
}
