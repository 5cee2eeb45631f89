/**
 * The "Clever Hans" example: a digits CNN that learned a shortcut (every training 7 carried a
 * bright square in the top-left corner, fixtures/clever-hans) and a control trained without tags
 * (fixtures/clever-hans-control). The accuracy looks fine until the tag moves; the LRP
 * explanation shows why before anyone moves it: the shortcut's relevance sits in the corner.
 *
 *     npm run example:clever-hans            # writes docs/examples/clever-hans.png and clever-hans.md
 *     npm run example:clever-hans -- --out DIR
 *
 * Prints and writes: held-out accuracy of both models under four tag placements, and for tagged
 * held-out 7s the fraction of positive relevance inside the tag region (relevanceInMask) for
 * four rules. The picture: one column per example image; rows input | shortcut's relevance |
 * control's relevance, each for the class that model predicts (red = for it, blue = against).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { createExplainer, type ExplainOptions } from '../src';
import { heatmapGrid } from '../src/heatmap';
import { relevanceInMask } from '../src/evaluate';
import { loadModel, writeImage } from '../src/node';
import { useBackend } from './backend';
import { digitSet, type DigitSet } from './digits-data';
import { measureTagPlacements, REGION_SIZE, TAG_CLASS, TAG_SIZE, tagRegionMask, taggedSet, type TagPlacement } from './clever-hans-data';
import { argValue, pct, predictClasses } from './train-common';

const ROOT = path.join(__dirname, '..');
const RULES: Array<{ name: string; options: ExplainOptions }> = [
  { name: 'epsilonGammaBox', options: { composite: 'epsilonGammaBox', low: 0, high: 1 } },
  { name: 'epsilonPlusFlat', options: { composite: 'epsilonPlusFlat' } },
  { name: 'epsilon', options: { rule: 'epsilon' } },
  { name: 'epsilonAlpha2Beta1', options: { composite: 'epsilonAlpha2Beta1' } },
];
const PICTURE_RULE = RULES[0];
const MASK_SAMPLES = 64;

/** The first `count` images of a tagged held-out set whose label passes `pick`. */
function select(set: DigitSet, pick: (label: number) => boolean, count: number, skip = 0): { pixels: Float32Array; labels: number[] } {
  const idx: number[] = [];
  let seen = 0;
  for (let i = 0; i < set.count && idx.length < count; i++) if (pick(set.labels[i]) && seen++ >= skip) idx.push(i);
  const pixels = new Float32Array(idx.length * 784);
  idx.forEach((i, k) => pixels.set(set.pixels.subarray(i * 784, (i + 1) * 784), k * 784));
  return { pixels, labels: idx.map((i) => set.labels[i]) };
}

async function main(): Promise<void> {
  const outDir = argValue('out') ?? path.join(ROOT, 'docs', 'examples');
  fs.mkdirSync(outDir, { recursive: true });
  const backend = await useBackend();
  const shortcut = await loadModel(path.join(ROOT, 'fixtures', 'clever-hans'));
  const control = await loadModel(path.join(ROOT, 'fixtures', 'clever-hans-control'));
  const heldOut = digitSet('heldOut');
  const md: string[] = [];
  const log = (line = '') => {
    console.log(line);
    md.push(line);
  };

  // 1. accuracy under each tag placement
  const s = measureTagPlacements(shortcut, heldOut);
  const c = measureTagPlacements(control, heldOut);
  const placementNames: Record<TagPlacement, string> = {
    asTrained: `on the ${TAG_CLASS}s only (as in the shortcut's training)`,
    none: 'on no image',
    moved: `moved: on every image except the ${TAG_CLASS}s`,
    all: 'on every image',
  };
  log(`# "Clever Hans" example (\`npm run example:clever-hans\`, backend ${backend})`);
  log();
  log(`Held-out accuracy (${heldOut.count} MNIST digits) by where the ${TAG_SIZE}×${TAG_SIZE} tag is:`);
  log();
  log('| tag | shortcut model | control model |');
  log('| --- | ---: | ---: |');
  for (const p of ['asTrained', 'none', 'moved', 'all'] as const) log(`| ${placementNames[p]} | ${pct(s.accuracy[p], 1)} | ${pct(c.accuracy[p], 1)} |`);
  log(`| other digits predicted as ${TAG_CLASS} when the tag moves | ${pct(s.movedToTagClass, 1)} | ${pct(c.movedToTagClass, 1)} |`);
  log(`| untagged ${TAG_CLASS}s recognised | ${pct(s.tagClassRecallWithoutTag, 1)} | ${pct(c.tagClassRecallWithoutTag, 1)} |`);
  log();

  // 2. relevance inside the tag region
  const mask = tf.tensor3d(tagRegionMask(), [28, 28, 1]);
  const tagged = select(taggedSet('heldOut', 'asTrained', heldOut), (l) => l === TAG_CLASS, MASK_SAMPLES);
  const moved = taggedSet('heldOut', 'moved', heldOut);
  const others = select(moved, (l) => l !== TAG_CLASS, MASK_SAMPLES * 2);
  const xTagged = tf.tensor4d(tagged.pixels, [tagged.labels.length, 28, 28, 1]);
  const xOthers = tf.tensor4d(others.pixels, [others.labels.length, 28, 28, 1]);
  const area = (REGION_SIZE * REGION_SIZE) / 784;
  log(`Share of the positive relevance for class ${TAG_CLASS} inside the tag region (rows and columns 0–${REGION_SIZE - 1}: the tag and a 1-pixel border, ${pct(area, 1)} of the image), mean over ${tagged.labels.length} tagged held-out ${TAG_CLASS}s (\`relevanceInMask\`); last column: the shortcut on ${others.labels.length} other digits with the tag pasted on:`);
  log();
  log(`| rule | shortcut model | control model | shortcut, tag moved onto other digits |`);
  log('| --- | ---: | ---: | ---: |');
  const fractions: Record<string, { shortcut: number; control: number; moved: number; minShortcut: number }> = {};
  for (const rule of RULES) {
    const rs = tf.tidy(() => createExplainerOnce(shortcut, rule.options, xTagged));
    const rc = tf.tidy(() => createExplainerOnce(control, rule.options, xTagged));
    const rm = tf.tidy(() => createExplainerOnce(shortcut, rule.options, xOthers));
    const [a, b, m] = [await relevanceInMask(rs, mask), await relevanceInMask(rc, mask), await relevanceInMask(rm, mask)];
    tf.dispose([rs, rc, rm]);
    fractions[rule.name] = { shortcut: a.mean.inside, control: b.mean.inside, moved: m.mean.inside, minShortcut: Math.min(...a.inside) };
    log(`| ${rule.name} | ${pct(a.mean.inside, 1)} (min ${pct(Math.min(...a.inside), 1)}) | ${pct(b.mean.inside, 1)} | ${pct(m.mean.inside, 1)} |`);
  }
  log();
  tf.dispose([xTagged, xOthers, mask]);

  // 3. the picture: 2 tagged 7s, 3 other digits with the tag, 2 untagged 7s
  const picks = [
    select(taggedSet('heldOut', 'asTrained', heldOut), (l) => l === TAG_CLASS, 2),
    select(moved, (l) => l === 2, 1),
    select(moved, (l) => l === 3, 1),
    select(moved, (l) => l === 4, 1),
    select(taggedSet('heldOut', 'none', heldOut), (l) => l === TAG_CLASS, 2, 2),
  ];
  const kinds = ['tagged', 'tagged', '+ tag', '+ tag', '+ tag', 'no tag', 'no tag'];
  const pixels = new Float32Array(picks.reduce((n, p) => n + p.pixels.length, 0));
  let offset = 0;
  const labels: number[] = [];
  for (const p of picks) {
    pixels.set(p.pixels, offset);
    offset += p.pixels.length;
    labels.push(...p.labels);
  }
  const n = labels.length;
  const x = tf.tensor4d(pixels, [n, 28, 28, 1]);
  const ps = predictClasses(shortcut, x);
  const pc = predictClasses(control, x);
  const rs = createExplainerOnce(shortcut, PICTURE_RULE.options, x, Array.from(ps));
  const rc = createExplainerOnce(control, PICTURE_RULE.options, x, Array.from(pc));
  const common = { samplesPerRow: n, scale: 5, colormap: 'bwr' as const, clipPercentile: 99.5 };
  const rows = [
    heatmapGrid({ ...common, images: x, relevance: rs, columns: ['input'], labels: labels.map((l, i) => `${l} ${kinds[i]}`) }),
    heatmapGrid({ ...common, images: x, relevance: rs, columns: ['heatmap'], labels: Array.from(ps, (p) => `shortcut:${p}`) }),
    heatmapGrid({ ...common, images: x, relevance: rc, columns: ['heatmap'], labels: Array.from(pc, (p) => `control:${p}`) }),
  ];
  const picture = tf.concat(rows, 0);
  const file = path.join(outDir, 'clever-hans.png');
  await writeImage(file, picture);
  console.log(`wrote ${path.relative(process.cwd(), file)} (${picture.shape[1]}×${picture.shape[0]})`);
  tf.dispose([x, rs, rc, picture, ...rows]);

  log(`![Clever Hans: input, shortcut relevance, control relevance](clever-hans.png)`);
  log();
  log(
    `Columns: held-out digits (2 tagged ${TAG_CLASS}s, three other digits with the tag pasted on, 2 ${TAG_CLASS}s without the tag). ` +
      `Rows: the input; the shortcut model's ${PICTURE_RULE.name} relevance for the class it predicts; the same for the control model ` +
      '(red: for the predicted class, blue: against; each map scaled to its own 99.5th percentile of |R|).',
  );
  log();
  fs.writeFileSync(path.join(outDir, 'clever-hans.md'), md.join('\n'));
  fs.writeFileSync(path.join(outDir, 'clever-hans.json'), JSON.stringify({ backend, shortcut: s, control: c, area, samples: MASK_SAMPLES, fractions }, null, 2) + '\n');
  console.log(`wrote ${path.relative(process.cwd(), path.join(outDir, 'clever-hans.md'))}, clever-hans.json`);
  shortcut.dispose();
  control.dispose();
}

/** Relevance for each sample's class (`classes`, default TAG_CLASS) with one explainer, disposed afterwards. */
function createExplainerOnce(model: tf.LayersModel, options: ExplainOptions, x: tf.Tensor, classes: number | number[] = TAG_CLASS): tf.Tensor {
  const explainer = createExplainer(model, options);
  try {
    return explainer.explain(x, classes) as tf.Tensor;
  } finally {
    explainer.dispose();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
