/**
 * The graph-model example (README): a real third-party TF.js graph model explained on real faces.
 * The emotion model of the npm package @vladmandic/human (MIT; mini-Xception, 64×64 grayscale →
 * 7 emotions; a devDependency, nothing is downloaded) is loaded from disk with
 * loadModel(path, { format: 'graph-model' }); four faces are cropped from the package's
 * assets/samples.jpg (fixed boxes, scripts/human-faces.ts), made grayscale 64×64 and scaled to
 * −1..1 as the package feeds them; each is explained for its top emotion with epsilonGammaBox
 * (low −1, high 1).
 *
 *     npm run example:graph               # writes docs/examples/graph-emotion.png, .json and .md
 *     npm run example:graph -- --out DIR
 *
 * The numbers: each face's predicted emotions, and the share of its positive relevance in the eye
 * band (rows 16–31 of 64) and the mouth band (rows 40–55), each a quarter of the crop.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { createExplainer } from '../src';
import { loadModel, saveGrid } from '../src/node';
import { EMOTIONS, FACE_BOXES, humanModel, readFaces } from './human-faces';
import { argValue, pct } from './train-common';

const ROOT = path.join(__dirname, '..');
const SIZE = 64;
/** Rows of the 64×64 crop: the eye band and the mouth band (a quarter of the crop each). */
const BANDS = { eyes: [16, 32], mouth: [40, 56] } as const;
const OPTIONS = { composite: 'epsilonGammaBox', low: -1, high: 1 } as const;

/** Per face: positive relevance in each band / all positive relevance. */
function bandShares(relevance: Float32Array, n: number): Array<{ eyes: number; mouth: number }> {
  const per = SIZE * SIZE;
  return Array.from({ length: n }, (_, k) => {
    let total = 0;
    const inBand = { eyes: 0, mouth: 0 };
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        const v = Math.max(0, relevance[k * per + y * SIZE + x]);
        total += v;
        for (const b of ['eyes', 'mouth'] as const) if (y >= BANDS[b][0] && y < BANDS[b][1]) inBand[b] += v;
      }
    }
    return { eyes: inBand.eyes / total, mouth: inBand.mouth / total };
  });
}

async function main(): Promise<void> {
  const out = path.resolve(argValue('--out') ?? path.join(ROOT, 'docs', 'examples'));
  fs.mkdirSync(out, { recursive: true });
  await tf.setBackend('cpu');
  const model = await loadModel(humanModel('emotion'), { format: 'graph-model' });
  const x = await readFaces({ size: SIZE, channels: 1, scale: '-1..1' });
  const probs = tf.tidy(() => model.predict(x) as tf.Tensor);
  const p = (await probs.array()) as number[][];
  probs.dispose();
  const explainer = createExplainer(model, OPTIONS);
  const { relevance, conservation } = await explainer.explainWithConservation(x, 'max');
  const r = relevance as tf.Tensor;
  const shares = bandShares(Float32Array.from(await r.data()), FACE_BOXES.length);
  const faces = FACE_BOXES.map((box, k) => {
    const ranked = p[k].map((v, i) => ({ emotion: EMOTIONS[i], p: v })).sort((a, b) => b.p - a.p);
    return { face: box.name, box: { left: box.left, top: box.top, width: box.width, height: box.height }, top: ranked.slice(0, 3).map((e) => ({ emotion: e.emotion, p: Number(e.p.toFixed(4)) })), explained: EMOTIONS[conservation.classIdx[k]], logit: Number(conservation.score[k].toFixed(4)), positiveShare: { eyes: Number(shares[k].eyes.toFixed(4)), mouth: Number(shares[k].mouth.toFixed(4)) } };
  });
  const images = tf.tidy(() => tf.div(tf.add(x, 1), 2));
  const labels = faces.map((f) => `${f.explained} ${f.top[0].p.toFixed(2)}`);
  const grid = await saveGrid(path.join(out, 'graph-emotion.png'), { relevance: r, images, labels, samplesPerRow: 2, scale: 2 });
  tf.dispose([x, r, images]);
  explainer.dispose();
  model.dispose();

  const mean = (f: (s: { eyes: number; mouth: number }) => number) => shares.reduce((a, s) => a + f(s), 0) / shares.length;
  const summary = { model: 'emotion (@vladmandic/human 3.3.6, MIT)', options: OPTIONS, bands: BANDS, faces, meanPositiveShare: { eyes: Number(mean((s) => s.eyes).toFixed(4)), mouth: Number(mean((s) => s.mouth).toFixed(4)) }, picture: { width: grid.width, height: grid.height } };
  fs.writeFileSync(path.join(out, 'graph-emotion.json'), JSON.stringify(summary, null, 1) + '\n');
  const md = [
    '# A graph model on real faces: emotion (@vladmandic/human)',
    '',
    `Written by \`npm run example:graph\`. Model: the emotion graph model of the npm package @vladmandic/human (MIT), faces cropped from its assets/samples.jpg, grayscale 64x64 in -1..1; explained for the top emotion with ${OPTIONS.composite} (low ${OPTIONS.low}, high ${OPTIONS.high}).`,
    '',
    '| face | top emotions (p) | explained | logit | positive R in eye band | in mouth band |',
    '|---|---|---|---|---|---|',
    ...faces.map((f) => `| ${f.face} | ${f.top.map((e) => `${e.emotion} ${e.p.toFixed(2)}`).join(', ')} | ${f.explained} | ${f.logit.toFixed(2)} | ${pct(f.positiveShare.eyes, 1)} | ${pct(f.positiveShare.mouth, 1)} |`),
    '',
    `Eye band: rows ${BANDS.eyes[0]}-${BANDS.eyes[1] - 1}, mouth band: rows ${BANDS.mouth[0]}-${BANDS.mouth[1] - 1} of 64 (a quarter of the crop each). Mean over the faces: ${pct(summary.meanPositiveShare.eyes, 1)} of the positive relevance in the eye band, ${pct(summary.meanPositiveShare.mouth, 1)} in the mouth band.`,
    '',
  ].join('\n');
  fs.writeFileSync(path.join(out, 'graph-emotion.md'), md);
  console.log(md);
  console.log(`wrote ${path.join(out, 'graph-emotion.png')} (${grid.width}x${grid.height}), graph-emotion.json, graph-emotion.md`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
