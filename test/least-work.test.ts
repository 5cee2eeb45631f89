/**
 * scripts/least-work.ts, the lower bound that `npm run bench:floor` times for epsilonPlus: with the
 * engine's max-pool routing it must be the engine's own computation (the same relevance as
 * `explain`), or the bound would leave out work a call needs, or time work a call does not do; with
 * its one-kernel stand-in it must differ only by that routing. Checked on every Node backend.
 */
import * as tf from '@tensorflow/tfjs';
import { explain } from '../src';
import { buildBenchCnn, benchInput, CLASS_IDX } from '../scripts/bench-cnn';
import { leastWorkEpsilonPlus } from '../scripts/least-work';
import { BACKENDS, maxAbs, maxAbsDiff, useBackend } from './helpers';

// explain's relevance on cpu, the reference every backend's bound is also held to
let cpuReference: Float32Array;
beforeAll(async () => {
  await useBackend('cpu');
  const model = buildBenchCnn(tf);
  const x = benchInput(tf, 2);
  const r = explain(model, x, CLASS_IDX, { composite: 'epsilonPlus', inputNonNegative: true }) as tf.Tensor;
  cpuReference = (await r.data()) as Float32Array;
  tf.dispose([r, x]);
  model.dispose();
});

describe.each(BACKENDS)('the least work of epsilonPlus on bench-cnn (%s)', (backend) => {
  let model: tf.Sequential;
  let x: tf.Tensor4D;
  beforeAll(async () => {
    await useBackend(backend);
    model = buildBenchCnn(tf);
    x = benchInput(tf, 2);
  });
  afterAll(() => {
    model.dispose();
    x.dispose();
  });

  it("with the engine's routing equals explain's relevance (and cpu's); with the stand-in it differs", async () => {
    const real = explain(model, x, CLASS_IDX, { composite: 'epsilonPlus', inputNonNegative: true }) as tf.Tensor;
    const before = tf.memory().numTensors;
    const bound = leastWorkEpsilonPlus(model, x, CLASS_IDX);
    try {
      const engine = bound.run('engine');
      const standIn = bound.run();
      try {
        expect(engine.shape).toEqual(real.shape);
        const [r, e, s] = await Promise.all([real.data(), engine.data(), standIn.data()]);
        const scale = maxAbs(r);
        expect(scale).toBeGreaterThan(0);
        expect(maxAbsDiff(e, r)).toBeLessThanOrEqual(1e-5 * scale);
        // a GPU may compute silently wrong numbers: the bound is held to cpu's explanation too
        expect(maxAbsDiff(e, cpuReference)).toBeLessThanOrEqual(1e-4 * maxAbs(cpuReference));
        // (on WebGPU the bound takes the engine's one-shader routing: rank-5 broadcasts do not compile there)
        if (backend !== 'webgpu') expect(maxAbsDiff(s, r)).toBeGreaterThan(1e-2 * scale);
      } finally {
        tf.dispose([engine, standIn]);
      }
    } finally {
      bound.dispose();
    }
    // the weight-derived tensors and the store's flipped kernels are released with the bound
    expect(tf.memory().numTensors).toBe(before);
    real.dispose();
  });
});

describe('leastWorkEpsilonPlus refuses a model it is not written for', () => {
  it('names the layer', () => {
    const model = tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 2, kernelSize: 5, padding: 'same', activation: 'relu', name: 'wide' }), tf.layers.flatten(), tf.layers.dense({ units: 3 })] });
    const x = tf.zeros([1, 8, 8, 1]) as tf.Tensor4D;
    try {
      expect(() => leastWorkEpsilonPlus(model, x, 0)).toThrow(/layer 'wide' \(Conv2D\) is not a 3×3 'same' ReLU Conv2D/);
    } finally {
      x.dispose();
      model.dispose();
    }
  });
});
