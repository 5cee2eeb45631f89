/**
 * tfjs-lrp demo: the batch job on the bundled digits CNN (fixtures/digits) and real MNIST digits.
 *
 *     npm run demo            # options: --workers <n> (default 1), --composite <name>
 *
 * 1. Explains every held-out digit (2,004 of the `mnist` package, the class = its true label)
 *    with `explainDataset` from `tfjs-lrp/node` — batches of 64, bounded prefetch — and feeds the
 *    explained batches to a `RelevanceAggregator` (exact per-class sums: "Aggregated LRP").
 * 2. Writes out/demo/: a heatmap per digit, summary.json/.csv (score, relevance sum,
 *    conservation per digit), the per-class aggregates (float64 .npy arrays, heatmap PNGs and a
 *    grid of the ten class means), a grid of example digits, and the digits as .npy + labels.
 * 3. Prints the plan, throughput, a per-class table, two class means in the terminal, and how to
 *    do the same with the `tfjs-lrp` command line.
 */
import * as fs from 'fs';
import * as path from 'path';
import { performance } from 'perf_hooks';
import * as tf from '@tensorflow/tfjs';
import { describe, encodeNpy, explainDataset, formatPlan, loadModel, RelevanceAggregator, saveGrid, selectBackend } from '../src/node';
import type { DatasetItem, ExplainDatasetOptions, ExplainOptions, ItemFailure } from '../src/node';
import { writeFinalOutputs, writeItemOutputs, type DrawOptions, type SummaryRow } from '../src/node/batch/outputs';
import { digitSet, trainCount } from './digits-data';
import { tagRegionMask, taggedSet, TAG_CLASS } from './clever-hans-data';

const ROOT = path.join(__dirname, '..');
const MODEL_DIR = path.join(ROOT, 'fixtures', 'digits');
const OUT_DIR = path.join(ROOT, 'out', 'demo');
const DRAW: DrawOptions = { colormap: 'bwr', upscale: 1, alpha: 0.5 };

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

/** A 28×28 map as characters: '@' 'o' '.' positive, '=' '-' ',' negative (by value / max |value|). */
function ascii(map: ArrayLike<number>): string[] {
  let peak = 0;
  for (let i = 0; i < 784; i++) peak = Math.max(peak, Math.abs(map[i]));
  const ch = (r: number) => {
    const v = peak === 0 ? 0 : r / peak;
    return v > 0.4 ? '@' : v > 0.1 ? 'o' : v > 0.02 ? '.' : v < -0.4 ? '=' : v < -0.1 ? '-' : v < -0.02 ? ',' : ' ';
  };
  return Array.from({ length: 28 }, (_, y) => `|${Array.from({ length: 28 }, (_, x) => ch(map[y * 28 + x])).join('')}|`);
}

/**
 * Aggregated LRP as an audit: the "Clever Hans" example (fixtures/clever-hans, trained with a tag
 * on every 7) and its control (no tags), explained over the held-out digits with the tag as in
 * training. The class means show what each model takes as "a 7"; the share of the mean's positive
 * relevance inside the tag region says whether it is the digit or the tag.
 */
async function cleverHansAudit(options: ExplainDatasetOptions): Promise<Array<{ name: string; share: number; count: number }>> {
  const data = taggedSet('heldOut', 'asTrained');
  const region = tagRegionMask();
  const maps: Float32Array[] = [];
  const labels: string[] = [];
  const report: Array<{ name: string; share: number; count: number }> = [];
  for (const name of ['clever-hans', 'clever-hans-control']) {
    const model = await loadModel(path.join(ROOT, 'fixtures', name));
    const aggregator = new RelevanceAggregator([28, 28, 1]);
    async function* items(): AsyncGenerator<DatasetItem> {
      for (let k = 0; k < data.count; k++) yield { input: data.pixels.subarray(k * 784, (k + 1) * 784), classIdx: data.labels[k] };
    }
    for await (const batch of explainDataset(model, items(), options)) aggregator.addBatch(batch);
    model.dispose();
    const seven = aggregator.result(TAG_CLASS);
    let inTag = 0;
    let total = 0;
    seven.meanPositive.forEach((v, i) => {
      total += v;
      inTag += v * region[i];
    });
    const share = total > 0 ? inTag / total : 0;
    report.push({ name, share, count: seven.count });
    maps.push(Float32Array.from(seven.mean));
    labels.push(`${name === 'clever-hans' ? 'tagged' : 'control'} ${(100 * share).toFixed(0)}%`);
  }
  const rel = tf.tensor4d(Float32Array.from(maps.flatMap((m) => Array.from(m))), [maps.length, 28, 28, 1]);
  fs.mkdirSync(path.join(OUT_DIR, 'clever-hans'), { recursive: true });
  await saveGrid(path.join(OUT_DIR, 'clever-hans', 'class-7-means.png'), { relevance: rel, labels, columns: ['heatmap'], samplesPerRow: 2, scale: 5 });
  rel.dispose();
  return report;
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const backend = await selectBackend('auto');
  const workers = Number(flag('workers', '1'));
  const composite = flag('composite', 'epsilonGammaBox') as ExplainDatasetOptions['composite'];
  console.log(`backend: ${backend.name}${backend.skipped.length > 0 ? ` (skipped: ${backend.skipped.map((s) => s.split(':')[0]).join(', ')})` : ''}; workers: ${workers}`);

  const model = await loadModel(MODEL_DIR);
  console.log(`model: ${path.relative(process.cwd(), MODEL_DIR)} (${model.countParams()} parameters)`);
  const rules: ExplainOptions = { composite, low: 0, high: 1 };
  const options: ExplainDatasetOptions = { ...rules, batchSize: 64, workers };
  console.log(`\nplan (${composite}):`);
  console.log(formatPlan(describe(model, rules)));

  // the held-out digits, streamed as items (id = digit-<label>-<mnist index>, class = the label)
  const heldOut = digitSet('heldOut');
  const firstOf = Array.from({ length: 10 }, (_, d) => heldOut.labels.indexOf(d));
  async function* items(): AsyncGenerator<DatasetItem> {
    for (let k = 0; k < heldOut.count; k++) {
      const label = heldOut.labels[k];
      yield { id: `digit-${label}-${trainCount(label) + (k - firstOf[label])}`, input: heldOut.pixels.subarray(k * 784, (k + 1) * 784), classIdx: label };
    }
  }

  fs.rmSync(OUT_DIR, { recursive: true, force: true });
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const aggregator = new RelevanceAggregator([28, 28, 1]);
  const rows: SummaryRow[] = [];
  const errors: ItemFailure[] = [];
  const examples = new Map<number, { relevance: Float32Array; pixels: Float32Array; label: string }>();
  let predictedRight = 0;
  const tExplain = performance.now();
  let explainSeconds = 0;
  for await (const batch of explainDataset(model, items(), { ...options, keepInputs: true })) {
    explainSeconds = (performance.now() - tExplain) / 1000;
    aggregator.addBatch(batch);
    errors.push(...batch.errors);
    rows.push(...(await writeItemOutputs(batch, { out: OUT_DIR, heatmaps: true, overlays: false, saveRelevance: false, draw: DRAW, scale: '0..1', stemOf: (id) => id })));
    // the first two digits of every class, for the example grid
    batch.indices.forEach((index, k) => {
      const label = heldOut.labels[index];
      if (index - firstOf[label] < 2) {
        examples.set(index, { relevance: batch.relevance.slice(k * 784, (k + 1) * 784), pixels: (batch.inputs as Float32Array).slice(k * 784, (k + 1) * 784), label: `${batch.ids[k]} ${batch.scores[k].toFixed(1)}` });
      }
    });
  }
  const tWrite = performance.now();
  // the digits as files too, for the command-line version printed at the end
  fs.mkdirSync(path.join(OUT_DIR, 'data'), { recursive: true });
  fs.writeFileSync(path.join(OUT_DIR, 'data', 'digits.npy'), encodeNpy(heldOut.pixels, [heldOut.count, 28, 28, 1]));
  fs.writeFileSync(path.join(OUT_DIR, 'data', 'labels.txt'), heldOut.labels.join('\n') + '\n');
  await writeFinalOutputs(rows, errors, aggregator, { out: OUT_DIR, draw: { ...DRAW, upscale: 4 } });

  // predictions (for the table): a class is "right" when the label's logit is the largest
  const x = tf.tensor4d(heldOut.pixels, [heldOut.count, 28, 28, 1]);
  const predicted = tf.tidy(() => (model.predict(x, { batchSize: 256 }) as tf.Tensor).argMax(1).dataSync());
  x.dispose();
  heldOut.labels.forEach((l, i) => (predictedRight += predicted[i] === l ? 1 : 0));

  // grids: the ten class means, and two example digits per class (input | heatmap | overlay)
  const classes = aggregator.classIndices();
  const means = classes.map((c) => aggregator.result(c));
  const meanMaps = tf.tensor4d(Float32Array.from(means.flatMap((m) => Array.from(m.mean))), [classes.length, 28, 28, 1]);
  await saveGrid(path.join(OUT_DIR, 'aggregate', 'class-means.png'), { relevance: meanMaps, labels: means.map((m) => `${m.classIdx}: n=${m.count}`), columns: ['heatmap'], samplesPerRow: 5, scale: 5 });
  meanMaps.dispose();
  const ex = [...examples.keys()].sort((a, b) => a - b).map((k) => examples.get(k) as { relevance: Float32Array; pixels: Float32Array; label: string });
  const exRel = tf.tensor4d(Float32Array.from(ex.flatMap((e) => Array.from(e.relevance))), [ex.length, 28, 28, 1]);
  const exImg = tf.tensor4d(Float32Array.from(ex.flatMap((e) => Array.from(e.pixels))), [ex.length, 28, 28, 1]);
  await saveGrid(path.join(OUT_DIR, 'examples.png'), { relevance: exRel, images: exImg, labels: ex.map((e) => e.label), samplesPerRow: 4, scale: 3 });
  tf.dispose([exRel, exImg]);
  model.dispose();

  const n = rows.length;
  console.log(`\nexplained ${n} held-out digits and wrote their heatmaps (class = true label; ${(100 * predictedRight / heldOut.count).toFixed(2)}% predicted right) in ${explainSeconds.toFixed(1)} s: ${(n / explainSeconds).toFixed(0)} digits/s (${backend.name}, batch 64, ${workers} worker${workers === 1 ? '' : 's'}); ${errors.length} failed`);
  console.log('\nclass  count  mean score  mean relevance sum  mean |conservation error|');
  for (const m of means) {
    const errs = rows.filter((r) => r.class === m.classIdx).map((r) => Math.abs(r.conservationError));
    console.log(`${String(m.classIdx).padStart(5)}  ${String(m.count).padStart(5)}  ${m.meanScore.toFixed(2).padStart(10)}  ${m.meanRelevanceSum.toFixed(2).padStart(18)}  ${(errs.reduce((a, b) => a + b, 0) / errs.length).toFixed(3).padStart(25)}`);
  }
  const shown = [0, 7];
  console.log(`\nmean relevance of class ${shown[0]} and class ${shown[1]} over all their digits ('@' 'o' '.' for the class, '=' '-' ',' against):`);
  const maps = shown.map((c) => ascii(aggregator.result(c).mean));
  for (let y = 0; y < 28; y++) console.log(`  ${maps[0][y]}   ${maps[1][y]}`);

  const audit = await cleverHansAudit(options);
  const share = (i: number) => `${(100 * audit[i].share).toFixed(1)}%`;
  console.log(`\naudit with aggregated LRP: the mean relevance for class ${TAG_CLASS} over ${audit[0].count} held-out 7s, each with a 3×3 tag in the top-left corner (as in training; the tag region is 3.2% of the image):`);
  console.log(`  fixtures/clever-hans (trained with the tag on every 7): ${share(0)} of the positive relevance is on the tag: the model learned the tag, not the digit`);
  console.log(`  fixtures/clever-hans-control (trained without tags):   ${share(1)}`);

  const rel = (p: string) => path.relative(process.cwd(), path.join(OUT_DIR, p)) + (p.endsWith('/') ? '/' : '');
  const list: Array<[string, string]> = [
    ['heatmaps/', `${n} heatmaps, heatmaps/digit-<label>-<mnist index>.png`],
    ['summary.json', 'and summary.csv: file, class, score, relevance sum, conservation per digit'],
    ['aggregate/', 'per class: class-<c>/{mean,mean_abs,positive,negative}.npy (float64), mean.png, mean_abs.png; classes.json; state.json (exact, mergeable)'],
    ['aggregate/class-means.png', 'the ten class means'],
    ['examples.png', 'two digits per class: input | heatmap | overlay'],
    ['clever-hans/class-7-means.png', 'the class-7 mean of the tag-trained model and of its control'],
    ['data/', 'the digits as digits.npy and labels.txt'],
  ];
  console.log(`\nwrote (${((performance.now() - tWrite) / 1000).toFixed(1)} s after the loop):`);
  const width = Math.max(...list.map(([p]) => rel(p).length));
  for (const [p, what] of list) console.log(`  ${rel(p).padEnd(width)}  ${what}`);
  console.log('\nthe same with the command line:');
  console.log(`  npx tfjs-lrp explain --model fixtures/digits --input ${rel('data/digits.npy')} --class ${rel('data/labels.txt')} --composite ${composite} --low 0 --high 1 --aggregate --batch 64 --out out/cli`);
  console.log(`total ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
