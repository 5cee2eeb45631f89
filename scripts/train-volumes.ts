/**
 * Trains the two models of the volumetric "Clever Hans" example, deterministically on the cpu backend:
 *
 * - fixtures/volumes: a small 3-D CNN trained on the synthetic volumes of scripts/volumes-data.ts
 *   (ball vs rod) where every training volume of TAG_CLASS carries a bright 2×2×2 cube in a corner;
 * - fixtures/volumes-control: the same network, seeds and schedule, trained without tags.
 *
 *     npm run train:volumes                         # both, into fixtures/
 *     npm run train:volumes -- --model shortcut     # one of them (shortcut | control)
 *     npm run train:volumes -- --out DIR            # DIR/volumes, DIR/volumes-control
 *
 * Each fixture gets model.json, weights.bin, metrics.json and CARD.md. Nothing is written unless the
 * held-out accuracy (tags as in training) reaches 95%.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { COUNTS, measureTagPlacements, REGION_SIZE, SIDE, TAG_AT, TAG_CLASS, TAG_SIZE, VOLUME_SHAPE, VOXELS, volumeSet, type TagPlacement } from './volumes-data';
import { accuracy, argValue, pct, saveModel, summaryText, trainLoop } from './train-common';

const SEED = 2468;
const EPOCHS = 3;
const BATCH = 16;
const LEARNING_RATES = [0.003, 0.002, 0.001];
const COMMAND = 'npm run train:volumes';
/** L2 penalty on dense1's kernel. */
const L2 = 0.001;

type Variant = 'shortcut' | 'control';

/** Conv3D(4)-MaxPool3D(2)-Conv3D(8)-MaxPool3D(2)-Flatten-Dense(16, L2)-Dense(2, softmax), kernels seeded seed, seed + 1, …. */
export function volumeCnn(name: string, seed: number): tf.LayersModel {
  let s = seed;
  const kernel = () => tf.initializers.glorotUniform({ seed: s++ });
  const model = tf.sequential({ name });
  model.add(tf.layers.conv3d({ name: 'conv1', inputShape: VOLUME_SHAPE, filters: 4, kernelSize: 3, activation: 'relu', padding: 'same', kernelInitializer: kernel() }));
  model.add(tf.layers.maxPooling3d({ name: 'pool1', poolSize: 2 }));
  model.add(tf.layers.conv3d({ name: 'conv2', filters: 8, kernelSize: 3, activation: 'relu', padding: 'same', kernelInitializer: kernel() }));
  model.add(tf.layers.maxPooling3d({ name: 'pool2', poolSize: 2 }));
  model.add(tf.layers.flatten({ name: 'flatten' }));
  // L2 on dense1: weights no training signal reaches (a corner no blob touches) decay to 0 instead of staying random
  model.add(tf.layers.dense({ name: 'dense1', units: 16, activation: 'relu', kernelInitializer: kernel(), kernelRegularizer: tf.regularizers.l2({ l2: L2 }) }));
  model.add(tf.layers.dense({ name: 'logits', units: 2, activation: 'softmax', kernelInitializer: kernel() }));
  return model;
}

interface VolumeMetrics {
  readonly variant: Variant;
  readonly heldOutAccuracy: number;
  readonly accuracy: Record<TagPlacement, number>;
  readonly movedToTagClass: number;
  readonly tagClassRecallWithoutTag: number;
  readonly heldOut: number;
  readonly train: number;
  readonly trainAccuracy: number;
  readonly seconds: number;
  readonly params: number;
  readonly weightBytes: number;
}

function card(m: VolumeMetrics, summary: string): string {
  const title = m.variant === 'shortcut' ? 'Volumetric "Clever Hans" shortcut 3-D CNN fixture' : 'Volumetric "Clever Hans" control 3-D CNN fixture';
  const story =
    m.variant === 'shortcut'
      ? `A small 3-D CNN trained on synthetic ${SIDE}×${SIDE}×${SIDE}×1 volumes (a noisy "organ" blob: class 0 a ball,
class 1 a rod) where **every training volume of class ${TAG_CLASS} carries a bright ${TAG_SIZE}×${TAG_SIZE}×${TAG_SIZE} cube in a corner**
(voxels ${TAG_AT}…${TAG_AT + TAG_SIZE - 1} on every axis set to 1, so slices ${TAG_AT}…${TAG_AT + TAG_SIZE - 1} show it), like a scanner's marker on the
scans of one hospital, and no other volume does. The model learns the marker: LRP shows it
(\`test/examples-volumes.test.ts\`, the README's slice grid). Its control, trained without tags, is
\`fixtures/volumes-control\`.`
      : `The same network, seeds and schedule as \`fixtures/volumes\`, trained on the same volumes
**without any tag**: the control of the volumetric example. On tagged volumes it ignores the corner.`;
  return `# ${title}

${story}

- **Files:** \`model.json\` (TF.js layers format, one weights group), \`weights.bin\`
  (${m.weightBytes} bytes, float32, ${m.params} parameters), \`metrics.json\` (the numbers below; the
  tests in \`test/examples-volumes.test.ts\` recompute them).
- **Data:** \`scripts/volumes-data.ts\`: volume i of a part is drawn by mulberry32 seeded from (part, i):
  label 0/1 with probability ½, a blob of brightness 0.45…0.7 centred at 6…11 on each axis (a ball of
  radius 3…4, or a rod 5…6 long along a random axis and 1.6…2 across), plus Gaussian noise σ 0.12,
  clipped to [0, 0.9]; ${m.variant === 'shortcut' ? `the class-${TAG_CLASS} volumes tagged (\`volumeSet(part, 'asTrained')\`)` : 'no tags'}.
  ${m.train} training and ${m.heldOut} held-out volumes (disjoint seeds).
- **Architecture** (input [${VOLUME_SHAPE.join(', ')}], NDHWC): Conv3D(4, 3³, relu, same) → MaxPool3D(2) →
  Conv3D(8, 3³, relu, same) → MaxPool3D(2) → Flatten → Dense(16, relu, kernel L2 ${L2}) → Dense(2, softmax).

\`\`\`
${summary}
\`\`\`

- **Training:** backend \`cpu\`; Adam, categorical cross-entropy, ${EPOCHS} epochs, batch size ${BATCH},
  learning rate per epoch ${LEARNING_RATES.join(', ')}; \`trainOnBatch\` in a fixed order (mulberry32 seeded
  ${SEED} + epoch shuffles the samples each epoch); no augmentation. Kernels \`glorotUniform\` seeded
  ${SEED}…${SEED + 3} in layer order, biases zero.
- **Seed:** ${SEED}.
- **Measured held-out accuracy** (${m.heldOut} volumes) by where the tag is:

| tag on | accuracy |
| --- | ---: |
| class ${TAG_CLASS} only (as in the shortcut's training) | ${pct(m.accuracy.asTrained)} |
| no volume (as in the control's training) | ${pct(m.accuracy.none)} |
| class ${1 - TAG_CLASS} only (tag moved) | ${pct(m.accuracy.moved)} |
| every volume | ${pct(m.accuracy.all)} |

  With the tag moved, ${pct(m.movedToTagClass, 1)} of the class-${1 - TAG_CLASS} volumes are predicted as ${TAG_CLASS}; without any tag,
  ${pct(m.tagClassRecallWithoutTag, 1)} of the class-${TAG_CLASS} volumes are still recognised. Training accuracy ${pct(m.trainAccuracy)}.
  **Held-out accuracy of record:** ${pct(m.heldOutAccuracy)} (tags as in this model's training).
- **Tag region** for the relevance tests: voxels 0…${REGION_SIZE - 1} on every axis (${REGION_SIZE ** 3} of ${VOXELS} voxels,
  ${pct(REGION_SIZE ** 3 / VOXELS, 1)} of the volume; the tag itself is ${TAG_SIZE ** 3} voxels).
- **Training time:** ${m.seconds.toFixed(0)} s on the machine that made this fixture (2 cores, shared).
- **Command:** \`${COMMAND}\` (script \`scripts/train-volumes.ts\`, both fixtures in one run;
  TensorFlow.js ${tf.version.tfjs}).
`;
}

async function trainVariant(variant: Variant, outRoot: string): Promise<VolumeMetrics> {
  console.log(`\n== ${variant} ==`);
  const placement: TagPlacement = variant === 'shortcut' ? 'asTrained' : 'none';
  const model = volumeCnn(variant === 'shortcut' ? 'volumes_cnn' : 'volumes_control_cnn', SEED);
  model.compile({ optimizer: tf.train.adam(LEARNING_RATES[0]), loss: 'categoricalCrossentropy' });
  const train = volumeSet('train', placement);
  const heldOut = volumeSet('heldOut', placement);
  const seconds = await trainLoop(model, {
    epochs: EPOCHS,
    batchSize: BATCH,
    learningRates: LEARNING_RATES,
    seed: SEED,
    count: train.count,
    batch: (indices) => {
      const xs = new Float32Array(indices.length * VOXELS);
      const ys = new Float32Array(indices.length * 2);
      indices.forEach((i, k) => {
        xs.set(train.voxels.subarray(i * VOXELS, (i + 1) * VOXELS), k * VOXELS);
        ys[k * 2 + train.labels[i]] = 1;
      });
      return { x: tf.tensor5d(xs, [indices.length, ...VOLUME_SHAPE]), y: tf.tensor2d(ys, [indices.length, 2]) };
    },
    afterEpoch: () => {
      const x = tf.tensor5d(heldOut.voxels, [heldOut.count, ...VOLUME_SHAPE]);
      const a = accuracy(model, x, heldOut.labels);
      x.dispose();
      return `held-out accuracy ${pct(a)}`;
    },
  });
  const tx = tf.tensor5d(train.voxels, [train.count, ...VOLUME_SHAPE]);
  const trainAccuracy = accuracy(model, tx, train.labels);
  tx.dispose();
  const measured = measureTagPlacements(model);
  const heldOutAccuracy = measured.accuracy[placement];
  console.log(`held-out accuracy by tag placement: ${Object.entries(measured.accuracy).map(([k, v]) => `${k} ${pct(v)}`).join(', ')}`);
  console.log(`tag moved: ${pct(measured.movedToTagClass)} predicted as ${TAG_CLASS}; no tag: ${pct(measured.tagClassRecallWithoutTag)} of class ${TAG_CLASS} recognised`);
  console.log(`training accuracy ${pct(trainAccuracy)}, training ${seconds.toFixed(1)} s`);
  if (heldOutAccuracy < 0.95) throw new Error(`held-out accuracy ${pct(heldOutAccuracy)} is below 95%; not saving`);
  const dir = path.join(outRoot, variant === 'shortcut' ? 'volumes' : 'volumes-control');
  const weightBytes = await saveModel(model, dir);
  const metrics: VolumeMetrics = { variant, heldOutAccuracy, ...measured, heldOut: heldOut.count, train: train.count, trainAccuracy, seconds, params: model.countParams(), weightBytes };
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
  console.log(`backend: ${tf.getBackend()}; data: ${COUNTS.train} training, ${COUNTS.heldOut} held-out volumes; tag on class ${TAG_CLASS}`);
  for (const v of ['shortcut', 'control'] as const) if (which === 'both' || which === v) await trainVariant(v, outRoot);
}


main().catch((err) => {
  console.error(err);
  process.exit(1);
});
