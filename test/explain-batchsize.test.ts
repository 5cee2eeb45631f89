/**
 * Issue #17, memory: `explain()`, `createExplainer().explain()` and `explainWithConservation()`
 * take `options.batchSize` (default 32, like `model.predict`): a larger batch is explained in
 * chunks, with the same numbers as one pass, no leak, no synchronous read, the NaN/Infinity input
 * check across chunks, and a peak memory that follows the chunk, not the batch.
 */
import * as tf from '@tensorflow/tfjs';
import { createExplainer, explain, explainWithConservation, LrpArgumentError } from '../src';
import type { ExplainOptions, Relevance } from '../src';
import { DEFAULT_BATCH_SIZE } from '../src/plan';
import { randomizeWeights, uniform, useBackend } from './helpers';

beforeAll(async () => {
  await useBackend('cpu');
});

/** Conv, pool, dense: [6, 6, 1] → 4 classes. */
function cnn(): tf.LayersModel {
  const m = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [6, 6, 1], filters: 3, kernelSize: 3, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 4, activation: 'softmax' }),
    ],
  });
  randomizeWeights(m, 11);
  return m;
}

/** Two inputs ([5] and [3]) → 3 classes. */
function twoInputs(): tf.LayersModel {
  const a = tf.input({ shape: [5] });
  const b = tf.input({ shape: [3] });
  const h = tf.layers.concatenate().apply([tf.layers.dense({ units: 4, activation: 'relu' }).apply(a) as tf.SymbolicTensor, b]) as tf.SymbolicTensor;
  const m = tf.model({ inputs: [a, b], outputs: tf.layers.dense({ units: 3 }).apply(h) as tf.SymbolicTensor });
  randomizeWeights(m, 12);
  return m;
}

const list = (r: Relevance): tf.Tensor[] => (Array.isArray(r) ? r : [r]);

/** Reads and disposes the relevance. */
async function take(r: Relevance): Promise<number[][]> {
  const out = await Promise.all(list(r).map(async (t) => Array.from(await t.data())));
  tf.dispose(list(r));
  return out;
}

describe('the same numbers chunked and in one pass', () => {
  const model = cnn();
  const x = uniform([70, 6, 6, 1], 21, 0, 1);
  const one = { batchSize: 1000 };
  afterAll(() => {
    x.dispose();
    model.dispose();
  });

  test.each<[string, ExplainOptions]>([
    ['epsilon', {}],
    ['epsilonGammaBox', { composite: 'epsilonGammaBox', low: 0, high: 1 }],
    ['epsilonPlusFlat, outputRelevance one', { composite: 'epsilonPlusFlat', outputRelevance: 'one' }],
    ['gradient', { method: 'gradient' }],
    ['gradientXInput', { method: 'gradientXInput' }],
    ['integratedGradients', { method: 'integratedGradients', steps: 4 }],
  ])('%s: batchSize 32 (default), 7 and 1 equal one pass, no leak', async (_label, options) => {
    const before = tf.memory().numTensors;
    const reference = await take(explain(model, x, 'max', { ...options, ...one }));
    for (const batchSize of [undefined, 7, 1]) {
      const r = explain(model, x, 'max', { ...options, batchSize });
      expect(list(r)[0].shape).toEqual(x.shape);
      expect(await take(r)).toEqual(reference);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  test('the default is 32, like model.predict', () => {
    expect(DEFAULT_BATCH_SIZE).toBe(32);
  });

  test('classIdx as a number and as one class per sample', async () => {
    const classes = Array.from({ length: 70 }, (_, i) => i % 4);
    expect(await take(explain(model, x, classes, { batchSize: 9 }))).toEqual(await take(explain(model, x, classes, one)));
    expect(await take(explain(model, x, 2, { batchSize: 9 }))).toEqual(await take(explain(model, x, 2, one)));
  });

  test('outputRelevance tensors with and without the batch axis are cut with the samples', async () => {
    const perSample = uniform([70, 4], 5);
    const shared = uniform([4], 6);
    for (const custom of [perSample, shared]) {
      expect(await take(explain(model, x, 'max', { outputRelevance: custom, batchSize: 16 }))).toEqual(await take(explain(model, x, 'max', { outputRelevance: custom, ...one })));
    }
    tf.dispose([perSample, shared]);
  });

  test('Integrated Gradients with a batch-shaped baseline', async () => {
    const baseline = uniform([70, 6, 6, 1], 8, 0, 0.2);
    const options: ExplainOptions = { method: 'integratedGradients', steps: 3, baseline };
    expect(await take(explain(model, x, 1, { ...options, batchSize: 13 }))).toEqual(await take(explain(model, x, 1, { ...options, ...one })));
    baseline.dispose();
  });

  test('a reused explainer and explainWithConservation (perLayer) chunked: same relevance and report', async () => {
    const before = tf.memory().numTensors;
    const chunked = createExplainer(model, { composite: 'epsilonPlus', batchSize: 10 });
    const whole = createExplainer(model, { composite: 'epsilonPlus', ...one });
    expect(await take(chunked.explain(x, 'max'))).toEqual(await take(whole.explain(x, 'max')));
    const a = await chunked.explainWithConservation(x, 'max', { perLayer: true });
    const b = await whole.explainWithConservation(x, 'max', { perLayer: true });
    expect(a.conservation).toEqual(b.conservation);
    expect(a.conservation.classIdx).toHaveLength(70);
    expect(await take(a.relevance)).toEqual(await take(b.relevance));
    const c = await explainWithConservation(model, x, 'max', { composite: 'epsilonPlus', batchSize: 10 });
    expect(c.conservation).toEqual({ ...b.conservation, layers: undefined });
    expect(c.conservation.layers).toBeUndefined();
    tf.dispose(list(c.relevance));
    chunked.dispose();
    whole.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  test('no synchronous read while chunking', () => {
    const engine = tf.engine() as unknown as { readSync: (...a: unknown[]) => unknown };
    const spy = jest.spyOn(engine, 'readSync');
    const sync = jest.spyOn(tf.Tensor.prototype, 'dataSync');
    const r = explain(model, x, 'max', { batchSize: 8, composite: 'epsilonGammaBox', low: 0, high: 1 });
    expect(spy).not.toHaveBeenCalled();
    expect(sync).not.toHaveBeenCalled();
    spy.mockRestore();
    sync.mockRestore();
    tf.dispose(list(r));
  });
});

describe('multi-input models', () => {
  test('one relevance per input, equal chunked and whole', async () => {
    const m = twoInputs();
    const a = uniform([45, 5], 1);
    const b = uniform([45, 3], 2);
    const before = tf.memory().numTensors;
    const chunked = await take(explain(m, [a, b], 'max', { batchSize: 8 }));
    const whole = await take(explain(m, [a, b], 'max', { batchSize: 64 }));
    expect(chunked).toHaveLength(2);
    expect(chunked[0]).toHaveLength(45 * 5);
    expect(chunked).toEqual(whole);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b]);
    m.dispose();
  });
});

describe('the NaN/Infinity input check across chunks', () => {
  test('reading names the samples by their index in the whole batch; other samples read', async () => {
    const m = twoInputs();
    const a = uniform([40, 5], 3);
    const b = uniform([40, 3], 4);
    const badA = tf.tidy(() => tf.where(tf.equal(tf.range(0, 40).reshape([40, 1]).tile([1, 5]), 33), tf.fill([40, 5], NaN), a));
    const badB = tf.tidy(() => tf.where(tf.equal(tf.range(0, 40).reshape([40, 1]).tile([1, 3]), 2), tf.fill([40, 3], Infinity), b));
    const before = tf.memory().numTensors;
    const r = explain(m, [badA, badB], 0, { batchSize: 8 }) as tf.Tensor[];
    await expect(r[0].data()).rejects.toThrow(LrpArgumentError);
    await expect(r[0].data()).rejects.toThrow(/input\[0\]'?: contains NaN or Infinity in sample\(s\) 33 \(input\[1\] too, in sample\(s\) 2\)/);
    expect(() => r[1].dataSync()).toThrow(/sample\(s\) 33/);
    tf.dispose(r);
    await expect(explainWithConservation(m, [badA, badB], 0, { batchSize: 8 })).rejects.toThrow(/sample\(s\) 33/);
    const fine = explain(m, [a, b], 0, { batchSize: 8 }) as tf.Tensor[];
    expect((await fine[0].data()).every(Number.isFinite)).toBe(true);
    tf.dispose(fine);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b, badA, badB]);
    m.dispose();
  });
});

describe('memory follows the chunk, not the batch', () => {
  test('peak bytes of a 256-sample explain: batchSize 16 well under one pass', async () => {
    // (16 filters: the activations, not the input, dominate, as in a real network)
    const model = tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [12, 12, 1], filters: 16, kernelSize: 3, activation: 'relu' }), tf.layers.flatten(), tf.layers.dense({ units: 10 })] });
    randomizeWeights(model, 13);
    const x = uniform([256, 12, 12, 1], 9, 0, 1);
    const peak = async (batchSize: number) => {
      let r: Relevance | undefined;
      const info = await tf.profile(() => {
        r = explain(model, x, 'max', { composite: 'epsilonGammaBox', low: 0, high: 1, batchSize });
        return list(r);
      });
      tf.dispose(list(r as Relevance));
      return info.peakBytes;
    };
    const whole = await peak(256);
    const chunked = await peak(16);
    console.log(`explain of 256 samples [12,12,1], epsilonGammaBox: peak ${whole} bytes in one pass, ${chunked} bytes with batchSize 16`);
    expect(chunked).toBeLessThan(whole / 3);
    x.dispose();
    model.dispose();
  });
});
