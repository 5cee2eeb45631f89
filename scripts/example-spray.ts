/**
 * SpRAy on the "Clever Hans" fixtures: class-7 relevance of the held-out sevens, the first half
 * with the tag painted on, explained by the shortcut model (fixtures/clever-hans) and by the
 * control (fixtures/clever-hans-control), clustered with `spray()`.
 *
 *     npm run example:spray              # writes docs/examples/spray/{clever-hans,control}/ and spray.md
 *     npm run example:spray -- --out DIR
 *
 * Prints and writes, per model and rule: the number of clusters and their sizes, purity (share of
 * samples in their cluster's majority group, tagged or not) and per cluster the share of its mean
 * |relevance| inside the tag region (rows and columns 0–4, 3.2% of the image).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { createExplainer, type ExplainOptions } from '../src';
import { spray } from '../src/spray';
import { loadModel, writeSprayReport } from '../src/node';
import { useBackend } from './backend';
import { digitSet } from './digits-data';
import { REGION_SIZE, TAG_CLASS, tagRegionMask, taggedSet } from './clever-hans-data';
import { argValue, pct } from './train-common';

const ROOT = path.join(__dirname, '..');
const RULES: Array<{ name: string; options: ExplainOptions }> = [
  { name: 'epsilonPlusFlat', options: { composite: 'epsilonPlusFlat' } },
  { name: 'epsilonGammaBox', options: { composite: 'epsilonGammaBox', low: 0, high: 1 } },
];
const MODELS = [
  { name: 'clever-hans', title: 'shortcut (Clever Hans)' },
  { name: 'control', fixture: 'clever-hans-control', title: 'control' },
];

async function main(): Promise<void> {
  const outDir = argValue('out') ?? path.join(ROOT, 'docs', 'examples', 'spray');
  fs.mkdirSync(outDir, { recursive: true });
  const backend = await useBackend();
  const held = digitSet('heldOut');
  const taggedImages = taggedSet('heldOut', 'asTrained', held);
  const idx: number[] = [];
  for (let i = 0; i < held.count; i++) if (held.labels[i] === TAG_CLASS) idx.push(i);
  const half = Math.floor(idx.length / 2);
  const pixels = new Float32Array(idx.length * 784);
  idx.forEach((i, k) => pixels.set((k < half ? taggedImages : held).pixels.subarray(i * 784, (i + 1) * 784), k * 784));
  const tagged = idx.map((_, k) => (k < half ? 1 : 0));
  const x = tf.tensor4d(pixels, [idx.length, 28, 28, 1]);
  const mask = tagRegionMask();
  const md: string[] = [];
  const log = (line = '') => {
    console.log(line);
    md.push(line);
  };
  log(`# SpRAy on the Clever Hans fixtures (\`npm run example:spray\`, backend ${backend})`);
  log();
  log(`Class-${TAG_CLASS} relevance of the ${idx.length} held-out ${TAG_CLASS}s, the first ${half} with the tag, clustered by \`spray()\` with its defaults ` +
    `(2×2 average pooling to 14×14, unit l2 norm, 10-nearest-neighbour graph, eigengap over 2…10 clusters, k-means++ seed 0). ` +
    `Purity: share of samples in their cluster's majority group (tagged / untagged). Tag share: per cluster, the share of its mean |R| inside the tag region ` +
    `(rows and columns 0–${REGION_SIZE - 1}, ${pct((REGION_SIZE * REGION_SIZE) / 784, 1)} of the image).`);
  log();
  log('| model | rule | clusters (sizes) | purity | tag share per cluster | time |');
  log('| --- | --- | --- | ---: | --- | ---: |');
  const numbers: Record<string, unknown> = {};
  for (const m of MODELS) {
    const model = await loadModel(path.join(ROOT, 'fixtures', m.fixture ?? m.name));
    for (const rule of RULES) {
      const explainer = createExplainer(model, rule.options);
      const relevance = explainer.explain(x, TAG_CLASS) as tf.Tensor;
      explainer.dispose();
      const t0 = Date.now();
      const result = await spray(relevance);
      const seconds = (Date.now() - t0) / 1000;
      const means = await result.clusterMeans.data();
      const shares = result.clusterSizes.map((_, c) => {
        let inside = 0;
        let total = 0;
        for (let p = 0; p < 784; p++) {
          total += Math.abs(means[c * 784 + p]);
          inside += Math.abs(means[c * 784 + p]) * mask[p];
        }
        return inside / total;
      });
      let majority = 0;
      for (let c = 0; c < result.nClusters; c++) {
        const t = tagged.filter((v, i) => v === 1 && result.clusters[i] === c).length;
        majority += Math.max(t, result.clusterSizes[c] - t);
      }
      const purity = majority / result.samples;
      log(`| ${m.title} | ${rule.name} | ${result.nClusters} (${result.clusterSizes.join(', ')}) | ${pct(purity, 1)} | ${shares.map((s) => pct(s, 1)).join(', ')} | ${seconds.toFixed(1)} s |`);
      numbers[`${m.name}/${rule.name}`] = { nClusters: result.nClusters, sizes: result.clusterSizes, purity, tagShares: shares, eigenvalues: Array.from(result.eigenvalues.slice(0, 10)), seconds };
      if (rule === RULES[0]) {
        await writeSprayReport(path.join(outDir, m.name), relevance, result, {
          names: idx.map((_, k) => `${k < half ? 'tag' : 'no'}-${k}`),
          groups: tagged.map((t) => 1 - t),
          groupNames: ['tagged 7', 'untagged 7'],
          examples: 6,
          title: `SpRAy: ${m.title} model, class ${TAG_CLASS}, ${rule.name}`,
        });
      }
      tf.dispose([relevance, result.clusterMeans]);
    }
    model.dispose();
  }
  x.dispose();
  log();
  log('Reports (eigengap plot, scatter plot, cluster means, typical samples per cluster): [clever-hans/index.md](clever-hans/index.md), [control/index.md](control/index.md).');
  log();
  fs.writeFileSync(path.join(outDir, 'spray.md'), md.join('\n'));
  fs.writeFileSync(path.join(outDir, 'spray.json'), JSON.stringify({ backend, samples: idx.length, tagged: half, numbers }, null, 2) + '\n');
  console.log(`wrote ${path.relative(process.cwd(), outDir)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
