/**
 * bench-lstm, the recurrent benchmark model of scripts/bench-lstm.ts (issue #14): a 2-layer LSTM
 * of 128 units over sequences of length 64 with 32 features, then Dense(10). Written against a tf
 * namespace passed in so that it also runs in a browser page with the page's own tf; weights and
 * inputs come from tf.randomNormal/randomUniform with fixed seeds (their generator runs in
 * JavaScript, so the values do not depend on the backend).
 */
import type * as TfNamespace from '@tensorflow/tfjs';

type Tf = typeof TfNamespace;

export const SEED = 4321;
/** Sequence length. */
export const STEPS = 64;
/** Features per step. */
export const FEATURES = 32;
/** Units of each LSTM layer. */
export const UNITS = 128;
/** The class explained. */
export const CLASS_IDX = 3;

/**
 * Initializers that cost nothing: the seeded weights replace them (tfjs' default 'orthogonal'
 * recurrent initializer runs a QR decomposition with synchronous reads, minutes on SwiftShader).
 */
const INIT = { kernelInitializer: 'zeros', recurrentInitializer: 'zeros' } as const;

/** bench-lstm with seeded weights (identical on every backend). */
export function buildBenchLstm(tf: Tf): TfNamespace.Sequential {
  const m = tf.sequential({ name: 'bench-lstm' });
  m.add(tf.layers.lstm({ inputShape: [STEPS, FEATURES], units: UNITS, returnSequences: true, ...INIT }));
  m.add(tf.layers.lstm({ units: UNITS, ...INIT }));
  m.add(tf.layers.dense({ units: 10 }));
  let seed = SEED;
  const weights = m.getWeights().map((w) => {
    const fanIn = w.rank === 1 ? 1 : w.shape[0];
    const std = w.rank === 1 ? 0.01 : Math.sqrt(1 / fanIn);
    return tf.randomNormal(w.shape, 0, std, 'float32', seed++);
  });
  m.setWeights(weights);
  tf.dispose(weights);
  return m;
}

/** The seeded input batch: [batch, STEPS, FEATURES] in [-1, 1]. */
export function benchLstmInput(tf: Tf, batch: number): TfNamespace.Tensor3D {
  return tf.randomUniform([batch, STEPS, FEATURES], -1, 1, 'float32', SEED + 1000 + batch) as TfNamespace.Tensor3D;
}
