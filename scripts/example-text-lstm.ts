/**
 * The recurrent text example: the LSTM of fixtures/text-lstm and the Conv1D model of
 * fixtures/text explain the same held-out sentences (LRP-ε of the pre-sigmoid score; a token's
 * relevance is the sum over its embedding vector). Which words does each model use? And on the
 * sentences with negation, which only the LSTM was trained on: what does "not" get?
 *
 *     npm run example:text-lstm               # writes docs/examples/text-lstm.{html,png,md,json} and text-lstm-ids.jsonl
 *     npm run example:text-lstm -- --out DIR
 *
 * Prints the numbers and the sentences side by side (coloured on a terminal, `[word +1.23]`
 * marks otherwise).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { createExplainer } from '../src';
import { textHtml } from '../src/heatmap';
import { colorIndices, colormapBytes, escapeXml } from '../src/heatmap/values';
import { loadModel } from '../src/node';
import { useBackend } from './backend';
import { sentencesPng } from './example-text';
import { loadVocabulary, sentenceWords, textSet } from './text-data';
import { lstmVocabulary, negationSet } from './text-lstm-data';
import { agreement, markedLine, markedStats, towardPrediction } from './text-relevance';
import { argValue, pct } from './train-common';

const ROOT = path.join(__dirname, '..');
const CHUNK = 400;
/** Words with |R| ≥ MARK × the row's max are marked in the plain-text view. */
const MARK = 0.1;

/** The model's p(positive) and the relevance of its logit per token, [n, T] row-major, explained in chunks. */
export async function explainSentences(model: tf.LayersModel, tokens: Int32Array, T: number): Promise<{ p: Float32Array; relevance: Float32Array }> {
  const n = tokens.length / T;
  const p = new Float32Array(n);
  const relevance = new Float32Array(n * T);
  const explainer = createExplainer(model, { rule: 'epsilon' });
  try {
    for (let from = 0; from < n; from += CHUNK) {
      const to = Math.min(n, from + CHUNK);
      const x = tf.tensor2d(tokens.subarray(from * T, to * T), [to - from, T], 'int32');
      const y = model.predict(x) as tf.Tensor;
      const r = explainer.explain(x, 0) as tf.Tensor;
      p.set(await y.data(), from);
      relevance.set(await r.data(), from * T);
      tf.dispose([x, y, r]);
    }
  } finally {
    explainer.dispose();
  }
  return { p, relevance };
}

/** A sentence with ANSI 24-bit background colours (bwr, scaled to the sentence's max |R|). */
function ansiLine(words: readonly string[], relevance: ArrayLike<number>): string {
  const table = colormapBytes('bwr');
  const { indices } = colorIndices(Array.from(relevance), { colormap: 'bwr' });
  return words
    .map((w, j) => {
      const [r, g, b] = table[indices[j]];
      const fg = 0.2126 * r + 0.7152 * g + 0.0722 * b > 110 ? '30' : '97';
      return `\x1b[48;2;${r};${g};${b}m\x1b[${fg}m ${w} \x1b[0m`;
    })
    .join('');
}

async function main(): Promise<void> {
  const outDir = argValue('out') ?? path.join(ROOT, 'docs', 'examples');
  fs.mkdirSync(outDir, { recursive: true });
  const backend = await useBackend();
  const colour = process.stdout.isTTY === true && !process.argv.includes('--plain');
  const base = loadVocabulary(path.join(ROOT, 'fixtures', 'text', 'vocab.json'));
  const vocabulary = lstmVocabulary(base);
  const cnn = await loadModel(path.join(ROOT, 'fixtures', 'text'));
  const lstm = await loadModel(path.join(ROOT, 'fixtures', 'text-lstm'));
  const T = base.sentenceLength;
  const md: string[] = [];
  const log = (line = '') => {
    md.push(line);
  };

  // 1. the text example's held-out sentences (no "not"): both models
  const plain = textSet(base, 'heldOut');
  const n = plain.count;
  const a = await explainSentences(cnn, plain.tokens, T);
  const b = await explainSentences(lstm, plain.tokens, T);
  const accuracyOf = (p: Float32Array, labels: number[], pick: (i: number) => boolean = () => true) => {
    let right = 0;
    let count = 0;
    labels.forEach((l, i) => {
      if (!pick(i)) return;
      count++;
      if ((p[i] > 0.5 ? 1 : 0) === l) right++;
    });
    return right / count;
  };
  const towardA = towardPrediction(a.relevance, a.p, T);
  const towardB = towardPrediction(b.relevance, b.p, T);
  const statsA = markedStats(towardA, plain.sentimentMask, T);
  const statsB = markedStats(towardB, plain.sentimentMask, T);
  const agree = agreement(towardA, towardB, T);

  // 2. the LSTM's held-out sentences with negation
  const neg = negationSet(base, 'heldOut');
  const c = await explainSentences(lstm, neg.tokens, T);
  const towardC = towardPrediction(c.relevance, c.p, T);
  const isNegated = (i: number) => neg.negated[i] === 1;
  const isDistracted = (i: number) => neg.distracted[i] === 1;
  const negatedWord = new Float32Array(neg.count * T); // the sentiment word after a negating "not"
  for (let k = 0; k < neg.count * T; k++) if (neg.negationMask[k] === 1) negatedWord[k + 1] = 1;
  const notOrNegated = neg.negationMask.map((v, k) => Math.max(v, negatedWord[k]));
  const withNot = neg.sentimentMask.map((v, k) => Math.max(v, neg.negationMask[k]));
  const statsNegSentiment = markedStats(towardC, neg.sentimentMask, T, isNegated);
  const statsNegWithNot = markedStats(towardC, withNot, T, isNegated);
  const statsNegPair = markedStats(towardC, notOrNegated, T, isNegated);
  const statsNot = markedStats(towardC, neg.negationMask, T, isNegated);
  const statsDistractor = markedStats(towardC, neg.distractorMask, T, isDistracted);
  // sign of the negated word's relevance toward positive vs its AFINN score
  let flipped = 0;
  let negatedCount = 0;
  let notTowardFlip = 0;
  for (let i = 0; i < neg.count; i++) {
    if (!isNegated(i)) continue;
    const j = Array.from({ length: T }, (_, q) => q).find((q) => neg.negationMask[i * T + q] === 1) as number;
    const score = vocabulary.scores[neg.tokens[i * T + j + 1]];
    negatedCount++;
    if (Math.sign(c.relevance[i * T + j + 1]) === -Math.sign(score)) flipped++;
    if (Math.sign(c.relevance[i * T + j]) === -Math.sign(score)) notTowardFlip++;
  }

  const row = (label: string, x: string, y: string) => `| ${label} | ${x} | ${y} |`;
  log(`# Recurrent text example (\`npm run example:text-lstm\`, backend ${backend})`);
  log();
  log(`The Conv1D model of \`fixtures/text\` and the LSTM of \`fixtures/text-lstm\` on the same ${n} held-out sentences of the text example (no "not" in them); LRP-ε of the pre-sigmoid score, a token's relevance (sum over its embedding vector) turned toward the predicted class.`);
  log();
  log('| measure (same sentences) | Conv1D (`fixtures/text`) | LSTM (`fixtures/text-lstm`) |');
  log('| --- | ---: | ---: |');
  log(row('held-out accuracy', pct(accuracyOf(a.p, plain.labels)), pct(accuracyOf(b.p, plain.labels))));
  log(row('the most relevant word is a sentiment word', pct(statsA.topIsMarked, 1), pct(statsB.topIsMarked, 1)));
  log(row('the k sentiment words are the k words of largest \\|R\\|', pct(statsA.markedOnTop, 1), pct(statsB.markedOnTop, 1)));
  log(row(`share of \\|R\\| on sentiment words (${pct(statsA.area, 1)} of the words)`, pct(statsA.absShare, 1), pct(statsB.absShare, 1)));
  log(row('share of the positive R on sentiment words', pct(statsA.positiveShare, 1), pct(statsB.positiveShare, 1)));
  log(row('mean \\|R\\| of a sentiment word / a filler word', `${statsA.meanAbsMarked.toFixed(2)} / ${statsA.meanAbsOther.toFixed(2)}`, `${statsB.meanAbsMarked.toFixed(2)} / ${statsB.meanAbsOther.toFixed(2)}`));
  log();
  log(`Both models put their largest relevance on the same word in ${pct(agree.sameTop, 1)} of the sentences; the mean correlation of the two relevance rows is ${agree.meanPearson.toFixed(3)}.`);
  log();
  log(`The LSTM on its own ${neg.count} held-out sentences, ${negatedCount} of them with a negating "not" right before a sentiment word and ${statsDistractor.count} with a "not" that negates nothing: accuracy ${pct(accuracyOf(c.p, neg.labels))} (negated ${pct(accuracyOf(c.p, neg.labels, isNegated))}, with a "not" that negates nothing ${pct(accuracyOf(c.p, neg.labels, isDistracted))}). On the negated sentences:`);
  log();
  log('| measure (negated held-out sentences, LSTM) | value |');
  log('| --- | ---: |');
  log(`| share of \\|R\\| on the sentiment words | ${pct(statsNegSentiment.absShare, 1)} |`);
  log(`| share of \\|R\\| on the sentiment words and the "not" | ${pct(statsNegWithNot.absShare, 1)} (${pct(statsNegWithNot.area, 1)} of the words) |`);
  log(`| share of \\|R\\| on "not" and the word it negates | ${pct(statsNegPair.absShare, 1)} |`);
  log(`| the most relevant word is the "not" or the word it negates | ${pct(statsNegPair.topIsMarked, 1)} |`);
  log(`| share of \\|R\\| on the negating "not" / on a "not" that negates nothing | ${pct(statsNot.absShare, 1)} / ${pct(statsDistractor.absShare, 1)} |`);
  log(`| the negated word's relevance has the sign opposite to its AFINN score (it counts as negated) | ${pct(flipped / negatedCount, 1)} |`);
  log(`| the "not"'s relevance has the sign opposite to the negated word's score | ${pct(notTowardFlip / negatedCount, 1)} |`);
  log();

  // the sentences shown: the first held-out one, one with sentiment words of both signs, one the
  // Conv1D model gets wrong and the LSTM right (both models); then (the LSTM only) a negated
  // sentence with two sentiment words, a negated one with one, one with a "not" that negates nothing
  const sentimentCount = (mask: Float32Array, i: number) => mask.subarray(i * T, (i + 1) * T).reduce((x, y) => x + y, 0);
  const signs = (i: number) => new Set(Array.from(plain.tokens.subarray(i * T, (i + 1) * T), (id) => Math.sign(base.scores[id])).filter((v) => v !== 0));
  const right = (p: Float32Array, labels: number[], i: number) => (p[i] > 0.5 ? 1 : 0) === labels[i];
  const firstPlain = (pick: (i: number) => boolean) => Array.from({ length: n }, (_, i) => i).find((i) => i > 0 && pick(i)) ?? 0;
  const firstNeg = (pick: (i: number) => boolean) => Array.from({ length: neg.count }, (_, i) => i).find(pick) ?? 0;
  const shownPlain = [0, firstPlain((i) => signs(i).size === 2 && right(a.p, plain.labels, i) && right(b.p, plain.labels, i)), firstPlain((i) => !right(a.p, plain.labels, i) && right(b.p, plain.labels, i))];
  const shownNeg = [
    firstNeg((i) => isNegated(i) && sentimentCount(neg.sentimentMask, i) === 2 && right(c.p, neg.labels, i)),
    firstNeg((i) => isNegated(i) && sentimentCount(neg.sentimentMask, i) === 1 && right(c.p, neg.labels, i)),
    firstNeg((i) => isDistracted(i) && right(c.p, neg.labels, i)),
  ];
  const words = (tokens: Int32Array, i: number) => sentenceWords(vocabulary, tokens.subarray(i * T, (i + 1) * T));
  const rel = (r: Float32Array, i: number) => Array.from(r.subarray(i * T, (i + 1) * T));
  const label = (l: number) => (l ? 'pos' : 'neg');
  const rows: Array<{ prefix: string; words: string[]; relevance: number[]; tag: string; sentence: number }> = [];
  shownPlain.forEach((i, k) => {
    rows.push({ prefix: `${k + 1} ${label(plain.labels[i])} CNN  ${a.p[i].toFixed(2)}`, words: words(plain.tokens, i), relevance: rel(a.relevance, i), tag: 'Conv1D', sentence: i });
    rows.push({ prefix: `${k + 1} ${label(plain.labels[i])} LSTM ${b.p[i].toFixed(2)}`, words: words(plain.tokens, i), relevance: rel(b.relevance, i), tag: 'LSTM', sentence: i });
  });
  shownNeg.forEach((i, k) => {
    rows.push({ prefix: `${k + 4} ${label(neg.labels[i])} LSTM ${c.p[i].toFixed(2)}`, words: words(neg.tokens, i), relevance: rel(c.relevance, i), tag: 'LSTM', sentence: i });
  });
  fs.writeFileSync(path.join(outDir, 'text-lstm.png'), sentencesPng(rows));
  log('![the same held-out sentences explained by the Conv1D model and the LSTM; negated sentences (LSTM only)](text-lstm.png)');
  log();
  log(`Sentences 1–3 (held-out ${shownPlain.join(', ')}), explained by the Conv1D model (CNN) and the LSTM: the first held-out sentence, one with sentiment words of both signs, one the Conv1D model gets wrong; 4–6 (held-out ${shownNeg.join(', ')}), the LSTM only ("not" is not in the Conv1D model's vocabulary): two negated sentences and one whose "not" negates nothing. The numbers are p(positive); red: toward positive, blue: toward negative, each row scaled to its own max |relevance|. As text (\`[word ±R]\`: |R| ≥ ${100 * MARK}% of the row's max):`);
  log();
  log('```');
  for (const r of rows) log(`${r.prefix.padEnd(16)} ${markedLine(r.words, r.relevance, MARK)}`);
  log('```');
  log();
  const body = rows.map((r) => `<tr><td>${escapeXml(r.prefix)}</td><td>${textHtml(r.words, r.relevance)}</td></tr>`).join('\n');
  fs.writeFileSync(
    path.join(outDir, 'text-lstm.html'),
    `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>tfjs-lrp: which words does each model use?</title>
<style>
body { font-family: sans-serif; max-width: 72em; margin: 2em auto; }
table { border-collapse: collapse; } td, th { padding: 0.35em 0.6em; text-align: left; border-bottom: 1px solid #ddd; }
.lrp-token { padding: 0.1em 0.2em; border-radius: 0.2em; white-space: pre-wrap; }
</style>
</head>
<body>
<h1>Which words does each model use?</h1>
<p>${escapeXml('LRP-ε of the positive score: red pushes toward positive, blue toward negative (each row scaled to its own max |relevance|; hover a word for its value). Sentences 1–3: the same held-out sentences, Conv1D model (fixtures/text) and LSTM (fixtures/text-lstm); 4–6: sentences with "not", LSTM only.')}</p>
<table>
<tr><th>sentence, label, model, p(positive)</th><th>relevance</th></tr>
${body}
</table>
</body>
</html>
`,
  );
  // the shown sentences as token ids, one JSON array per line: an input for `tfjs-lrp explain`
  const ids = [...shownPlain.map((i) => plain.tokens.subarray(i * T, (i + 1) * T)), ...shownNeg.map((i) => neg.tokens.subarray(i * T, (i + 1) * T))];
  fs.writeFileSync(path.join(outDir, 'text-lstm-ids.jsonl'), ids.map((row) => JSON.stringify(Array.from(row))).join('\n') + '\n');
  log(`The sentences as token ids (\`text-lstm-ids.jsonl\`, 1–3 then 4–6): \`npx tfjs-lrp explain -m fixtures/text-lstm -i ${path.relative(ROOT, path.join(outDir, 'text-lstm-ids.jsonl'))} --class 0 --save-relevance --out out/text-lstm\` writes the LSTM rows' relevance as \`.npy\` files.`);
  log();
  fs.writeFileSync(path.join(outDir, 'text-lstm.md'), md.join('\n'));
  const json = {
    backend,
    heldOut: n,
    conv1d: { accuracy: accuracyOf(a.p, plain.labels), ...statsA },
    lstm: { accuracy: accuracyOf(b.p, plain.labels), ...statsB },
    agreement: agree,
    negation: {
      heldOut: neg.count,
      negated: negatedCount,
      distracted: statsDistractor.count,
      accuracy: accuracyOf(c.p, neg.labels),
      negatedAccuracy: accuracyOf(c.p, neg.labels, isNegated),
      distractorAccuracy: accuracyOf(c.p, neg.labels, isDistracted),
      absShareSentiment: statsNegSentiment.absShare,
      absShareSentimentAndNot: statsNegWithNot.absShare,
      absShareNotAndNegated: statsNegPair.absShare,
      topIsNotOrNegated: statsNegPair.topIsMarked,
      absShareNot: statsNot.absShare,
      absShareDistractorNot: statsDistractor.absShare,
      negatedWordFlipped: flipped / negatedCount,
      notTowardFlip: notTowardFlip / negatedCount,
    },
    shown: { plain: shownPlain, negated: shownNeg },
  };
  fs.writeFileSync(path.join(outDir, 'text-lstm.json'), JSON.stringify(json, null, 2) + '\n');

  // the terminal: the numbers, then the sentences side by side
  console.log(md.slice(0, md.indexOf('```') - 1).filter((l) => !l.startsWith('![')).join('\n'));
  if (colour) for (const r of rows) console.log(`${r.prefix.padEnd(16)} ${ansiLine(r.words, r.relevance)}`);
  else for (const r of rows) console.log(`${r.prefix.padEnd(16)} ${markedLine(r.words, r.relevance, MARK)}`);
  console.log(`wrote ${path.relative(process.cwd(), outDir)}/text-lstm.html, text-lstm.png, text-lstm.md, text-lstm.json, text-lstm-ids.jsonl`);
  cnn.dispose();
  lstm.dispose();
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
