/**
 * Peak tf memory of explain() per item for the bundled models (the README's reliability
 * section): for each model in fixtures/, `tf.profile` of `model.predict` and of `explain` with the
 * default options (rule epsilon, `batchSize` 32) on 32 and on 1,024 items, and the peak divided by
 * the items of one chunk. Inputs are drawn in the model's input range (token ids for the text
 * model); memory does not depend on the values.
 *
 *     npm run numbers:memory
 *     npm run numbers:memory -- --json
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { explain } from '../src';
import { loadModelFromDir } from './load-model';

const ROOT = path.join(__dirname, '..');

/** One model's row. */
export interface MemoryRow {
  readonly model: string;
  readonly inputShape: readonly number[];
  readonly weightBytes: number;
  /** Peak bytes of model.predict on 32 items. */
  readonly predict32: number;
  /** Peak bytes of explain on 32 items (one chunk). */
  readonly explain32: number;
  /** Peak bytes of explain on 1,024 items (32 chunks of 32). */
  readonly explain1024: number;
}

function inputs(model: tf.LayersModel, n: number): tf.Tensor {
  const shape = [n, ...(model.inputs[0].shape.slice(1) as number[])];
  const dtype = model.inputs[0].dtype;
  if (dtype === 'int32') {
    const vocab = Number((model.layers[0].getConfig() as { inputDim?: number }).inputDim ?? 2);
    return tf.randomUniform(shape, 0, vocab, 'int32', 1);
  }
  return tf.randomUniform(shape, 0, 1, 'float32', 1);
}

async function peak(fn: () => tf.Tensor | tf.Tensor[] | Promise<tf.Tensor | tf.Tensor[]>): Promise<number> {
  const info = await tf.profile(async () => {
    const out = await fn();
    tf.dispose(out);
  });
  return info.peakBytes;
}

async function row(name: string): Promise<MemoryRow> {
  const model = await loadModelFromDir(path.join(ROOT, 'fixtures', name));
  const weightBytes = model.weights.reduce((s, w) => s + w.read().size * 4, 0);
  const x32 = inputs(model, 32);
  const x1024 = inputs(model, 1024);
  try {
    tf.dispose(explain(model, x32, 'max')); // warm-up (kernels, derived weights)
    const before = tf.memory().numBytes;
    const predict32 = (await peak(() => model.predict(x32) as tf.Tensor)) - before;
    const explain32 = (await peak(() => explain(model, x32, 'max'))) - before;
    const explain1024 = (await peak(() => explain(model, x1024, 'max'))) - before;
    return { model: name, inputShape: x32.shape.slice(1), weightBytes, predict32, explain32, explain1024 };
  } finally {
    tf.dispose([x32, x1024]);
    model.dispose();
  }
}

const kb = (b: number): string => `${(b / 1024).toFixed(1)} KB`;

async function main(): Promise<void> {
  await tf.setBackend('cpu');
  const rows: MemoryRow[] = [];
  for (const name of ['digits', 'clever-hans', 'credit', 'text']) rows.push(await row(name));
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(rows, null, 1));
    return;
  }
  console.log('peak tf memory above what was allocated before (cpu backend, rule epsilon, batchSize 32); per item = explain of 32 / 32');
  console.log('| model | input | weights | predict, 32 items | explain, 32 items | explain, 1,024 items | explain per item |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    console.log(`| ${r.model} | [${r.inputShape.join(', ')}] | ${kb(r.weightBytes)} | ${kb(r.predict32)} | ${kb(r.explain32)} | ${kb(r.explain1024)} | ${kb(r.explain32 / 32)} |`);
  }
}

void main();
