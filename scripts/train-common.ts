/**
 * Shared pieces of the example training scripts (train-clever-hans, train-credit, train-text):
 * a seeded shuffle, a deterministic trainOnBatch loop, accuracy, and saving a model as
 * model.json + weights.bin without @tensorflow/tfjs-node. Scripts only.
 */
import * as fs from 'fs';
import * as path from 'path';
import { performance } from 'perf_hooks';
import * as tf from '@tensorflow/tfjs';
import { seededRandom } from './random';

/**
 * The digits CNN of fixtures/digits and the Clever-Hans fixtures: Conv(8)-pool-Conv(16)-pool-
 * Dense(64)-Dense(10, softmax), glorotUniform kernels seeded `seed`, `seed` + 1, ….
 */
export function digitsCnn(name: string, seed: number): tf.LayersModel {
  let s = seed;
  const kernel = () => tf.initializers.glorotUniform({ seed: s++ });
  const model = tf.sequential({ name });
  model.add(tf.layers.conv2d({ name: 'conv1', inputShape: [28, 28, 1], filters: 8, kernelSize: 3, activation: 'relu', padding: 'same', kernelInitializer: kernel() }));
  model.add(tf.layers.maxPooling2d({ name: 'pool1', poolSize: 2 }));
  model.add(tf.layers.conv2d({ name: 'conv2', filters: 16, kernelSize: 3, activation: 'relu', padding: 'same', kernelInitializer: kernel() }));
  model.add(tf.layers.maxPooling2d({ name: 'pool2', poolSize: 2 }));
  model.add(tf.layers.flatten({ name: 'flatten' }));
  model.add(tf.layers.dense({ name: 'dense1', units: 64, activation: 'relu', kernelInitializer: kernel() }));
  model.add(tf.layers.dense({ name: 'logits', units: 10, activation: 'softmax', kernelInitializer: kernel() }));
  return model;
}

/** 0 … n−1 in an order fixed by `rand` (Fisher–Yates). */
export function shuffled(n: number, rand: () => number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** Writes model.json (format 'layers-model', one weights group) and weights.bin into `dir`; returns the weight bytes. */
export async function saveModel(model: tf.LayersModel, dir: string): Promise<number> {
  fs.mkdirSync(dir, { recursive: true });
  let bytes = 0;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const parts = artifacts.weightData === undefined ? [] : Array.isArray(artifacts.weightData) ? artifacts.weightData : [artifacts.weightData];
      const weights = Buffer.concat(parts.map((b) => Buffer.from(b as ArrayBuffer)));
      bytes = weights.byteLength;
      const modelJson = {
        format: 'layers-model',
        generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
      };
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(modelJson));
      fs.writeFileSync(path.join(dir, 'weights.bin'), weights);
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: bytes } };
    }),
  );
  return bytes;
}

/** The model summary as text (for the cards). */
export function summaryText(model: tf.LayersModel): string {
  const lines: string[] = [];
  model.summary(100, undefined, (line) => lines.push(line));
  return lines.join('\n');
}

/** Predicted class per sample: argmax of a multi-class output, or `score > 0.5` of a single sigmoid unit. */
export function predictClasses(model: tf.LayersModel, x: tf.Tensor): Int32Array {
  return tf.tidy(() => {
    const y = model.predict(x, { batchSize: 512 }) as tf.Tensor;
    const cls = y.shape[y.shape.length - 1] === 1 ? tf.cast(tf.greater(y.reshape([-1]), 0.5), 'int32') : y.argMax(-1);
    return cls.dataSync() as Int32Array;
  });
}

/** The fraction of samples whose predicted class equals the label. */
export function accuracy(model: tf.LayersModel, x: tf.Tensor, labels: ArrayLike<number>): number {
  const pred = predictClasses(model, x);
  let right = 0;
  for (let i = 0; i < labels.length; i++) if (pred[i] === labels[i]) right++;
  return right / labels.length;
}

export interface TrainLoopOptions {
  readonly epochs: number;
  readonly batchSize: number;
  /** Adam learning rate per epoch (the last one repeats). */
  readonly learningRates: readonly number[];
  readonly seed: number;
  readonly count: number;
  /** Builds one batch from sample indices (in the shuffled order); may draw from `rand` (augmentation). */
  readonly batch: (indices: number[], rand: () => number) => { x: tf.Tensor; y: tf.Tensor };
  /** Called after each epoch; returns a line to print (e.g. held-out accuracy). */
  readonly afterEpoch?: (epoch: number) => string;
}

/**
 * Trains with `trainOnBatch` in a fixed order: every epoch a mulberry32 PRNG seeded `seed + epoch`
 * shuffles the samples (and the batch builder may draw augmentation from it). The model must be
 * compiled with an Adam optimizer. Returns the training seconds.
 */
export async function trainLoop(model: tf.LayersModel, opts: TrainLoopOptions): Promise<number> {
  const optimizer = model.optimizer as tf.AdamOptimizer & { learningRate: number };
  const start = performance.now();
  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    optimizer.learningRate = opts.learningRates[Math.min(epoch, opts.learningRates.length - 1)];
    const rand = seededRandom(opts.seed + epoch);
    const order = shuffled(opts.count, rand);
    let loss = 0;
    let steps = 0;
    for (let b = 0; b < opts.count; b += opts.batchSize) {
      const { x, y } = opts.batch(order.slice(b, b + opts.batchSize), rand);
      const out = (await model.trainOnBatch(x, y)) as number | number[];
      loss += Array.isArray(out) ? out[0] : out;
      steps++;
      tf.dispose([x, y]);
    }
    const extra = opts.afterEpoch ? `, ${opts.afterEpoch(epoch)}` : '';
    console.log(`epoch ${epoch + 1}/${opts.epochs}: learning rate ${optimizer.learningRate}, loss ${(loss / steps).toFixed(4)}${extra}, ${((performance.now() - start) / 1000).toFixed(1)} s`);
  }
  return (performance.now() - start) / 1000;
}

/** "97.21%" */
export const pct = (a: number, digits = 2): string => `${(100 * a).toFixed(digits)}%`;

/** The value after `--name` on the command line, or undefined. */
export function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
