/**
 * 3-D CNNs (Conv3D, MaxPooling3D, AveragePooling3D on NDHWC volumes) on WebGPU in Node
 * (issue #15). tfjs 4.22's WebGPU (and WebGL) backend registers Conv3D, Conv3DBackpropInputV2,
 * Conv3DBackpropFilterV2, MaxPool3D(Grad) and AvgPool3D(Grad); what it cannot run is a *broadcast*
 * binary op of rank 5 ("cannot index type 'vec5'" in the WGSL), so the engine adds biases on
 * rank-5 tensors through 2-D views (src/ops/conv3d.ts, src/ops/gpu.ts). Here every
 * composite on a seeded 3-D CNN gives cpu's numbers on WebGPU, with no backend error.
 * Runs where WebGPU can run in Node (test/helpers.ts' WEBGPU_IN_NODE).
 */
import * as tf from '@tensorflow/tfjs';
import { explain, type ExplainOptions } from '../src';
import { useBackend, WEBGPU_IN_NODE } from './helpers';
import { CONFIGS, HIGH, LOW, seededWeights } from './families';

/** Conv3D(bias) → MaxPool3D → Conv3D(bias) → AvgPool3D → Flatten → Dense → Dense(softmax). */
function volumeModel(): tf.LayersModel {
  const model = tf.sequential({ name: 'cnn3d' });
  model.add(tf.layers.conv3d({ inputShape: [8, 8, 8, 2], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }));
  model.add(tf.layers.maxPooling3d({ poolSize: 2 }));
  model.add(tf.layers.conv3d({ filters: 6, kernelSize: [2, 3, 3], strides: [1, 1, 1], padding: 'valid', activation: 'relu' }));
  model.add(tf.layers.averagePooling3d({ poolSize: [1, 2, 2] }));
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: 8, activation: 'relu' }));
  model.add(tf.layers.dense({ units: 3, activation: 'softmax' }));
  seededWeights(model, 15, false);
  return model;
}

function volumes(): tf.Tensor {
  const n = 2 * 8 * 8 * 8 * 2;
  return tf.tensor5d(Float32Array.from({ length: n }, (_, i) => LOW + (HIGH - LOW) * ((Math.sin(i * 12.9898) * 43758.5453) % 1 + 1) % 1), [2, 8, 8, 8, 2]);
}

(WEBGPU_IN_NODE ? describe : describe.skip)('3-D CNN on webgpu in Node: cpu numbers for every composite', () => {
  const expected = new Map<string, Float32Array>();
  let model: tf.LayersModel;
  beforeAll(async () => {
    await useBackend('cpu');
    model = volumeModel();
    const x = volumes();
    for (const [label, options] of CONFIGS) {
      const r = explain(model, x, 1, options) as tf.Tensor;
      expected.set(label, (await r.data()) as Float32Array);
      r.dispose();
    }
    x.dispose();
    await useBackend('webgpu');
  });
  afterAll(async () => {
    model.dispose();
    await useBackend('cpu');
  });

  test.each(CONFIGS.map(([label, options]) => [label, options] as [string, ExplainOptions]))('%s', async (label, options) => {
    const x = volumes();
    const before = tf.memory().numTensors;
    const r = explain(model, x, 1, options) as tf.Tensor;
    const got = (await r.data()) as Float32Array;
    r.dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    const want = expected.get(label) as Float32Array;
    let scale = 0;
    let err = 0;
    for (let i = 0; i < want.length; i++) {
      scale = Math.max(scale, Math.abs(want[i]));
      err = Math.max(err, Math.abs(got[i] - want[i]));
    }
    expect(scale).toBeGreaterThan(0);
    // float32 sums in another order; measured (Dawn on Mesa): epsilon 1.4e-4 of max |R|, the composites under 1e-4
    expect(err).toBeLessThanOrEqual(1e-3 * scale);
  });
});
