/**
 * bench-cnn, the benchmark model of scripts/bench.ts (the same definition, seeded identically),
 * written against a tf namespace passed in so that it also runs in a browser page with the page's
 * own tf (scripts/bench-browser.ts bundles this file for the page).
 *
 * 32x32x3 → [Conv(32)x2, MaxPool] → [Conv(64)x2, MaxPool] → [Conv(128)x2, MaxPool] → Flatten →
 * Dense(256, relu) → Dense(10); He-normal kernels and small biases from tf.randomNormal with
 * fixed seeds (its generator runs in JavaScript, so the values do not depend on the backend).
 */
import type * as TfNamespace from '@tensorflow/tfjs';

type Tf = typeof TfNamespace;

export const SEED = 1234;
export const INPUT_SHAPE: [number, number, number] = [32, 32, 3];
export const CLASS_IDX = 3;

/** bench-cnn with seeded weights (identical on every backend). */
export function buildBenchCnn(tf: Tf): TfNamespace.Sequential {
  const m = tf.sequential({ name: 'bench-cnn' });
  let first = true;
  for (const filters of [32, 64, 128]) {
    for (let k = 0; k < 2; k++) {
      m.add(tf.layers.conv2d({ ...(first ? { inputShape: INPUT_SHAPE } : {}), filters, kernelSize: 3, padding: 'same', activation: 'relu' }));
      first = false;
    }
    m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  }
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 256, activation: 'relu' }));
  m.add(tf.layers.dense({ units: 10 }));
  let seed = SEED;
  const weights = m.getWeights().map((w) => {
    const fanIn = w.rank === 1 ? 1 : w.shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const std = w.rank === 1 ? 0.01 : Math.sqrt(2 / fanIn);
    return tf.randomNormal(w.shape, 0, std, 'float32', seed++);
  });
  m.setWeights(weights);
  tf.dispose(weights);
  return m;
}

/** The seeded input batch of scripts/bench.ts. */
export function benchInput(tf: Tf, batch: number): TfNamespace.Tensor4D {
  return tf.randomUniform([batch, ...INPUT_SHAPE], 0, 1, 'float32', SEED + 1000 + batch) as TfNamespace.Tensor4D;
}
