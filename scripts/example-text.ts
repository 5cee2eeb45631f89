/**
 * The text example: which words made the sentiment classifier (fixtures/text) call a sentence
 * positive or negative? LRP-ε gives every token a relevance (the sum over its embedding vector);
 * the sentences were generated so that only the sentiment words decide the label, and the
 * explanation finds them.
 *
 *     npm run example:text               # writes docs/examples/text.html, text.png, text.md
 *     npm run example:text -- --out DIR
 *
 * text.html: held-out sentences highlighted with textHtml (red: toward positive, blue: toward
 * negative, each sentence scaled to its own max |R|); text.png: the same as a picture (the
 * built-in bitmap font) for the README; text.md: the numbers over all held-out sentences.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { createExplainer } from '../src';
import { textHtml, renderText, measureText } from '../src/heatmap';
import { relevanceInMask } from '../src/evaluate';
import { colorIndices, colormapBytes, escapeXml } from '../src/heatmap/values';
import { loadModel } from '../src/node';
import { useBackend } from './backend';
import { encodePng } from './png';
import { loadVocabulary, sentenceWords, textSet } from './text-data';
import { argValue, pct } from './train-common';
import { pearsonOf } from '../src/evaluate/compare';

const ROOT = path.join(__dirname, '..');
const SHOWN = 10;
const FONT = 2;

/** Highlighted sentences as an RGB picture: one row per sentence, "+0.99" / "-0.01" then the coloured words. */
export function sentencesPng(rows: Array<{ prefix: string; words: string[]; relevance: number[] }>): Buffer {
  const table = colormapBytes('bwr');
  const pad = 3;
  const gap = 4;
  const rowH = 8 * FONT + 2 * pad + 4;
  const prefixW = Math.max(...rows.map((r) => measureText(r.prefix, FONT))) + 12;
  const widths = rows.map((r) => prefixW + r.words.reduce((w, word) => w + measureText(word, FONT) + 2 * pad + gap, 0));
  const width = Math.max(...widths) + 8;
  const height = rows.length * rowH + 8;
  const rgb = new Uint8Array(width * height * 3).fill(255);
  const fill = (x0: number, y0: number, w: number, h: number, c: readonly number[]) => {
    for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) rgb.set(c, (y * width + x) * 3);
  };
  const text = (s: string, x0: number, y0: number, c: readonly number[]) => {
    const t = renderText(s, FONT);
    for (let y = 0; y < t.height; y++) for (let x = 0; x < t.width; x++) if (t.data[y * t.width + x]) rgb.set(c, ((y0 + y) * width + x0 + x) * 3);
  };
  rows.forEach((r, i) => {
    const y0 = 4 + i * rowH;
    text(r.prefix, 6, y0 + pad + 2, [40, 40, 40]);
    const { indices } = colorIndices(r.relevance, { colormap: 'bwr' });
    let x = 4 + prefixW;
    r.words.forEach((word, j) => {
      const bg = table[indices[j]];
      const w = measureText(word, FONT) + 2 * pad;
      fill(x, y0 + 2, w, rowH - 4, bg);
      const lum = 0.2126 * bg[0] + 0.7152 * bg[1] + 0.0722 * bg[2];
      text(word, x + pad, y0 + pad + 2, lum > 110 ? [0, 0, 0] : [255, 255, 255]);
      x += w + gap;
    });
  });
  return encodePng(width, height, rgb);
}

async function main(): Promise<void> {
  const outDir = argValue('out') ?? path.join(ROOT, 'docs', 'examples');
  fs.mkdirSync(outDir, { recursive: true });
  const backend = await useBackend();
  const vocabulary = loadVocabulary(path.join(ROOT, 'fixtures', 'text', 'vocab.json'));
  const model = await loadModel(path.join(ROOT, 'fixtures', 'text'));
  const heldOut = textSet(vocabulary, 'heldOut');
  const T = vocabulary.sentenceLength;
  const n = heldOut.count;
  const md: string[] = [];
  const log = (line = '') => {
    console.log(line);
    md.push(line);
  };

  const x = tf.tensor2d(heldOut.tokens, [n, T], 'int32');
  const p = Array.from((model.predict(x) as tf.Tensor).dataSync());
  const explainer = createExplainer(model, { rule: 'epsilon' });
  const r0 = explainer.explain(x, 0) as tf.Tensor2D; // toward positive
  explainer.dispose();
  const toward = tf.tidy(() => tf.mul(r0, tf.tensor2d(p.map((q) => [q > 0.5 ? 1 : -1]), [n, 1]))); // toward each predicted class
  const mask = tf.tensor2d(heldOut.sentimentMask, [n, T]);
  const inMask = await relevanceInMask(toward, mask);
  const rel = r0.arraySync();
  const relToward = (toward as tf.Tensor2D).arraySync();
  tf.dispose([x, r0, toward, mask]);

  const pred = p.map((q) => (q > 0.5 ? 1 : 0));
  const accuracy = pred.filter((c, i) => c === heldOut.labels[i]).length / n;
  let topIsSentiment = 0;
  let sentimentOnTop = 0;
  let sentimentAbs = 0;
  let sentimentCount = 0;
  let fillerAbs = 0;
  let fillerCount = 0;
  const perWord = new Map<number, { sum: number; count: number }>();
  for (let i = 0; i < n; i++) {
    const row = relToward[i];
    const isS = (j: number) => heldOut.sentimentMask[i * T + j] === 1;
    const byValue = row.map((_, j) => j).sort((a, b) => row[b] - row[a]);
    if (isS(byValue[0])) topIsSentiment++;
    const k = row.filter((_, j) => isS(j)).length;
    const byAbs = row.map((_, j) => j).sort((a, b) => Math.abs(row[b]) - Math.abs(row[a]));
    if (byAbs.slice(0, k).every(isS)) sentimentOnTop++;
    for (let j = 0; j < T; j++) {
      const id = heldOut.tokens[i * T + j];
      if (isS(j)) {
        sentimentAbs += Math.abs(row[j]);
        sentimentCount++;
        const e = perWord.get(id) ?? { sum: 0, count: 0 };
        e.sum += rel[i][j];
        e.count++;
        perWord.set(id, e);
      } else {
        fillerAbs += Math.abs(row[j]);
        fillerCount++;
      }
    }
  }
  const words = [...perWord.entries()].map(([id, e]) => ({ word: vocabulary.tokens[id], score: vocabulary.scores[id], mean: e.sum / e.count, count: e.count }));
  const corr = pearsonOf(
    words.map((w) => w.mean),
    words.map((w) => w.score),
  );
  words.sort((a, b) => b.mean - a.mean);

  log(`# Text example (\`npm run example:text\`, backend ${backend})`);
  log();
  log(`\`fixtures/text\` (Embedding → Conv1D → GlobalMaxPooling1D → Dense) on ${n} held-out sentences of ${T} words: held-out accuracy ${pct(accuracy)}. LRP-ε of the pre-sigmoid score; a token's relevance is the sum over its embedding vector, turned toward the predicted class below.`);
  log();
  log('| measure (all held-out sentences) | value |');
  log('| --- | ---: |');
  log(`| the most relevant word is a sentiment word | ${pct(topIsSentiment / n, 1)} |`);
  log(`| the k sentiment words of a sentence are its k words of largest \\|relevance\\| | ${pct(sentimentOnTop / n, 1)} |`);
  log(`| share of the positive relevance on sentiment words (\`relevanceInMask\`) | ${pct(inMask.mean.inside, 1)} (they are ${pct(inMask.mean.area, 1)} of the words) |`);
  log(`| mean \\|relevance\\| of a sentiment word / of a filler word | ${(sentimentAbs / sentimentCount).toFixed(2)} / ${(fillerAbs / fillerCount).toFixed(2)} |`);
  log(`| correlation of a sentiment word's mean relevance (toward positive) with its AFINN-165 score, over ${words.length} words | ${corr.toFixed(3)} |`);
  log();
  const fmtWord = (w: (typeof words)[number]) => `${w.word} (AFINN ${w.score > 0 ? '+' : ''}${w.score}, ${w.mean >= 0 ? '+' : ''}${w.mean.toFixed(2)})`;
  log(`Words with the largest mean relevance toward positive: ${words.slice(0, 5).map(fmtWord).join(', ')}; toward negative: ${words.slice(-5).reverse().map(fmtWord).join(', ')}.`);
  log();

  // the sentences shown: the first held-out ones, then ones with sentiment words of both signs, then mistakes
  const polarity = (i: number) => new Set(Array.from({ length: T }, (_, j) => Math.sign(vocabulary.scores[heldOut.tokens[i * T + j]])).filter((s) => s !== 0));
  const shown: number[] = [0, 1, 2, 3, 4, 5];
  for (let i = 6; i < n && shown.length < SHOWN - 2; i++) if (polarity(i).size === 2 && pred[i] === heldOut.labels[i]) shown.push(i);
  for (let i = 0; i < n && shown.length < SHOWN; i++) if (pred[i] !== heldOut.labels[i] && !shown.includes(i)) shown.push(i);
  const wrongRows = shown.map((i, k) => (pred[i] !== heldOut.labels[i] ? k + 1 : 0)).filter((k) => k > 0);
  const rows = shown.map((i) => ({ i, words: sentenceWords(vocabulary, heldOut.tokens.subarray(i * T, (i + 1) * T)), relevance: rel[i] }));
  const body = rows
    .map(({ i, words: w, relevance }) => {
      const label = heldOut.labels[i] ? 'positive' : 'negative';
      const verdict = pred[i] === heldOut.labels[i] ? 'right' : 'WRONG';
      return `<tr><td>${i}</td><td>${label}</td><td>${p[i].toFixed(3)} (${verdict})</td><td>${textHtml(w, relevance)}</td></tr>`;
    })
    .join('\n');
  const page = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>tfjs-lrp: which words decide the sentiment?</title>
<style>
body { font-family: sans-serif; max-width: 72em; margin: 2em auto; }
table { border-collapse: collapse; } td, th { padding: 0.35em 0.6em; text-align: left; border-bottom: 1px solid #ddd; }
.lrp-token { padding: 0.1em 0.2em; border-radius: 0.2em; white-space: pre-wrap; }
</style>
</head>
<body>
<h1>Which words decide the sentiment?</h1>
<p>${escapeXml(`Held-out sentences of fixtures/text, LRP-ε of the positive score: red pushes toward positive, blue toward negative, white: nothing (each sentence scaled to its own max |relevance|; hover a word for its value). Held-out accuracy ${pct(accuracy)}; the most relevant word is a sentiment word in ${pct(topIsSentiment / n, 1)} of the ${n} held-out sentences.`)}</p>
<table>
<tr><th>#</th><th>label</th><th>p(positive)</th><th>sentence</th></tr>
${body}
</table>
</body>
</html>
`;
  fs.writeFileSync(path.join(outDir, 'text.html'), page);
  const png = sentencesPng(rows.map(({ i, words: w, relevance }) => ({ prefix: `${heldOut.labels[i] ? 'pos' : 'neg'} ${p[i].toFixed(2)}`, words: w, relevance })));
  fs.writeFileSync(path.join(outDir, 'text.png'), png);
  log('![highlighted held-out sentences](text.png)');
  log();
  log(`Each row: the label (pos / neg), the model's p(positive), the words coloured by relevance toward positive (red) or negative (blue), each sentence scaled to its own max |relevance|. Rows 1–6 are the first held-out sentences, then sentences with sentiment words of both signs; the model gets row${wrongRows.length === 1 ? '' : 's'} ${wrongRows.join(', ')} wrong. Interactive version: [text.html](text.html).`);
  log();
  fs.writeFileSync(path.join(outDir, 'text.md'), md.join('\n'));
  fs.writeFileSync(
    path.join(outDir, 'text.json'),
    JSON.stringify({ backend, heldOut: n, accuracy, topIsSentiment: topIsSentiment / n, sentimentOnTop: sentimentOnTop / n, insideSentiment: inMask.mean.inside, sentimentArea: inMask.mean.area, correlationWithAfinn: corr, shown }, null, 2) + '\n',
  );
  console.log(`wrote ${path.relative(process.cwd(), outDir)}/text.html, text.png, text.md, text.json`);
  model.dispose();
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
