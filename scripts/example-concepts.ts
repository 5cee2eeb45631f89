/**
 * Concept Relevance Propagation on the digits CNN (fixtures/digits) and held-out MNIST digits.
 *
 *     npm run example:concepts                 # writes out/concepts/ (reference samples of conv2)
 *     npm run example:concepts -- --per-digit 50 --out DIR
 *
 * 1. Prints, per digit, the three channels of conv2 with the largest mean concept relevance over
 *    its held-out samples (explained as their true class) and their share of the positive
 *    concept relevance; and the largest |Σ_c conditional(conv2 = c) − plain| over those samples
 *    relative to max|plain| (the conditional maps of all channels sum to the plain map).
 * 2. Runs `tfjs-lrp concepts` over the same digits (conv2, top 6): a grid per channel and
 *    index.md in <out>/reference-samples/.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { conceptRelevance, createExplainer } from '../src';
import { encodeNpy, loadModel } from '../src/node';
import { main as cli } from '../src/node/cli/main';
import { useBackend } from './backend';
import { digitSet } from './digits-data';
import { argValue } from './train-common';

const ROOT = path.join(__dirname, '..');
const OPTIONS = { composite: 'epsilonPlusFlat' as const };

async function main(): Promise<void> {
  const out = argValue('out') ?? path.join(ROOT, 'out', 'concepts');
  const perDigit = Number(argValue('per-digit') ?? 30);
  fs.mkdirSync(out, { recursive: true });
  const backend = await useBackend();
  const model = await loadModel(path.join(ROOT, 'fixtures', 'digits'));
  const held = digitSet('heldOut');
  const pick: number[] = [];
  for (let d = 0; d < 10; d++) pick.push(...held.labels.map((l, i) => (l === d ? i : -1)).filter((i) => i >= 0).slice(0, perDigit));
  const pixels = new Float32Array(pick.length * 784);
  pick.forEach((i, k) => pixels.set(held.pixels.subarray(i * 784, (i + 1) * 784), k * 784));
  const labels = pick.map((i) => held.labels[i]);
  const npy = path.join(out, 'digits.npy');
  fs.writeFileSync(npy, encodeNpy(pixels, [pick.length, 28, 28, 1]));
  console.log(`${pick.length} held-out digits (${perDigit} per digit), ${backend}, composite epsilonPlusFlat`);

  const explainer = createExplainer(model, OPTIONS);
  let worst = 0;
  for (let d = 0; d < 10; d++) {
    const rows = labels.map((l, k) => (l === d ? k : -1)).filter((k) => k >= 0);
    const x = tf.tensor4d(pixels.slice(rows[0] * 784, (rows[rows.length - 1] + 1) * 784), [rows.length, 28, 28, 1]);
    const rel = conceptRelevance(model, x, d, 'conv2', OPTIONS);
    const mean = Array.from(await tf.tidy(() => tf.mean(rel, 0)).data());
    rel.dispose();
    const ranked = mean.map((v, c) => ({ v, c })).sort((a, b) => b.v - a.v);
    const positive = mean.filter((v) => v > 0).reduce((a, b) => a + b, 0);
    const top = ranked.slice(0, 3);
    console.log(`digit ${d}: top conv2 channels ${top.map((t) => `${t.c} (${t.v.toFixed(3)})`).join(', ')}; ${((100 * top.reduce((s, t) => s + t.v, 0)) / positive).toFixed(1)}% of the positive concept relevance`);
    const plain = explainer.explain(x, d) as tf.Tensor;
    let sum = tf.zerosLike(plain);
    for (let c = 0; c < 16; c++) {
      const r = explainer.explainLayers(x, d, [], { conditions: { conv2: [c] } });
      const next = tf.add(sum, r.input as tf.Tensor);
      tf.dispose([sum, r.input as tf.Tensor]);
      sum = next;
    }
    const err = await tf.tidy(() => tf.div(tf.max(tf.abs(tf.sub(sum, plain))), tf.max(tf.abs(plain)))).data();
    worst = Math.max(worst, err[0]);
    tf.dispose([x, plain, sum]);
  }
  explainer.dispose();
  console.log(`max over digits of max|Σ_c conditional(conv2 = c) − plain| / max|plain| = ${worst.toExponential(2)}`);

  const t0 = Date.now();
  const code = await cli(['concepts', '--model', path.join(ROOT, 'fixtures', 'digits'), '--input', npy, '--layer', 'conv2', '--top', '6', '--composite', 'epsilonPlusFlat', '--batch', '100', '--out', path.join(out, 'reference-samples'), '--overwrite', '-q']);
  console.log(`tfjs-lrp concepts: exit ${code}, ${((Date.now() - t0) / 1000).toFixed(1)} s -> ${path.join(out, 'reference-samples', 'index.md')}`);
  model.dispose();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
