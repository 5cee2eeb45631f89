/**
 * Recurrent layers and their wrappers (LRP_RULES.md §8) on the GPU backends (issue #14):
 *   - GPU-safe kernels: explaining LSTM, GRU, SimpleRNN, masked and stacked RNNs, every
 *     Bidirectional merge, TimeDistributed(Dense / Conv2D / nested) and ConvLSTM2D dispatches no
 *     kernel of rank > 4 other than Reshape and none with more than 7 tensor inputs other than
 *     Concat/Pack (the policy of src/ops/gpu.ts, as test/gpu-safety.test.ts checks it for the
 *     other layers), recorded with tf.profile on cpu;
 *   - all samples of a batch go through each step together: the number of kernels of one
 *     explanation does not depend on the batch size;
 *   - on WebGPU in Node (where it can run): every model × composite agrees with Node cpu within
 *     1e-3 · max|R_cpu| (the tolerance of test/browser-backends.test.ts), finite, right shape, no
 *     leak. (cpu and wasm are checked against the float64 reference by test/recurrent.test.ts and
 *     test/wrappers.test.ts; WebGL and WebGPU in Chromium run the recurrent families of
 *     test/families.ts in test/browser-backends.test.ts.)
 */
import * as tf from '@tensorflow/tfjs';
import { createExplainer, explain } from '../src';
import type { ExplainOptions } from '../src';
import { maxAbs, maxAbsDiff, randomizeWeights, uniform, useBackend, WEBGPU_IN_NODE } from './helpers';

type Sym = tf.SymbolicTensor;
const apply = (layer: tf.layers.Layer, x: Sym): Sym => layer.apply(x) as Sym;

/** One model: its layers after the input, its input shape (without the batch) and dtype. */
interface Case {
  readonly name: string;
  readonly shape: number[];
  readonly tokens?: number;
  layers(): tf.layers.Layer[];
}

const bidi = (layer: tf.layers.Layer, mergeMode: 'concat' | 'sum' | 'ave' | 'mul'): tf.layers.Layer => tf.layers.bidirectional({ layer: layer as tf.RNN, mergeMode });

const CASES: Case[] = [
  { name: 'LSTM → GRU → SimpleRNN (returnSequences, goBackwards)', shape: [6, 4], layers: () => [tf.layers.lstm({ units: 6, returnSequences: true }), tf.layers.gru({ units: 5, returnSequences: true, goBackwards: true }), tf.layers.simpleRNN({ units: 4 })] },
  { name: 'Masking → GRU (tanh reset gate) → LSTM', shape: [6, 4], layers: () => [tf.layers.masking({ maskValue: 0 }), tf.layers.gru({ units: 5, returnSequences: true, recurrentActivation: 'tanh' }), tf.layers.lstm({ units: 4 })] },
  { name: 'Embedding maskZero → RNN(StackedRNNCells LSTM, GRU)', shape: [6], tokens: 12, layers: () => [tf.layers.embedding({ inputDim: 12, outputDim: 4, maskZero: true }), tf.layers.rnn({ cell: [tf.layers.lstmCell({ units: 4 }), tf.layers.gruCell({ units: 3 })] })] },
  { name: 'Bidirectional LSTM concat → GRU sum', shape: [5, 3], layers: () => [bidi(tf.layers.lstm({ units: 4, returnSequences: true }), 'concat'), bidi(tf.layers.gru({ units: 4 }), 'sum')] },
  { name: 'Bidirectional SimpleRNN mul → LSTM ave', shape: [5, 3], layers: () => [bidi(tf.layers.simpleRNN({ units: 4, returnSequences: true }), 'mul'), bidi(tf.layers.lstm({ units: 4 }), 'ave')] },
  { name: 'TimeDistributed(Dense) → TimeDistributed(TimeDistributed(Dense)) on [T1, T2, F]', shape: [3, 4, 5], layers: () => [tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 6, activation: 'relu' }) }), tf.layers.timeDistributed({ layer: tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 3 }) }) }), tf.layers.flatten()] },
  {
    name: 'TimeDistributed(Conv2D, MaxPooling2D, Flatten) on [T, H, W, C] (rank 5) → GRU',
    shape: [4, 6, 6, 2],
    layers: () => [tf.layers.timeDistributed({ layer: tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }) }), tf.layers.timeDistributed({ layer: tf.layers.maxPooling2d({ poolSize: 2 }) }), tf.layers.timeDistributed({ layer: tf.layers.flatten() }), tf.layers.gru({ units: 5 })],
  },
  {
    name: 'ConvLSTM2D (returnSequences) → ConvLSTM2D on [T, H, W, C] (rank 5)',
    shape: [4, 5, 5, 2],
    layers: () => [tf.layers.convLstm2d({ filters: 3, kernelSize: 3, padding: 'same', returnSequences: true }) as unknown as tf.layers.Layer, tf.layers.convLstm2d({ filters: 2, kernelSize: 2 }) as unknown as tf.layers.Layer, tf.layers.flatten()] },
];

/** The case's model: its layers, then Dense(3). Seeded weights. */
function build(c: Case, seed: number): tf.LayersModel {
  const input = tf.input({ shape: c.shape, dtype: c.tokens === undefined ? 'float32' : 'int32' });
  let x = input;
  for (const layer of c.layers()) x = apply(layer, x);
  const model = tf.model({ inputs: input, outputs: apply(tf.layers.dense({ units: 3 }), x) });
  randomizeWeights(model, seed);
  return model;
}

/** A batch for the case: tokens with padding (0) in the last steps of sample 1, or values with zero (masked) steps. */
function inputOf(c: Case, batch: number, seed: number): tf.Tensor {
  return tf.tidy(() => {
    if (c.tokens !== undefined) {
      const rows = Array.from({ length: batch }, (_, s) => Array.from({ length: c.shape[0] }, (_, t) => (s % 2 === 1 && t >= c.shape[0] - 2 ? 0 : 1 + ((s * 7 + t * 5 + seed) % (c.tokens as number - 1)))));
      return tf.tensor2d(rows, [batch, c.shape[0]], 'int32');
    }
    const x = uniform([batch, ...c.shape], seed);
    // sample 1: its last step all zero (a masked step where the model masks)
    const keep = tf.concat([tf.ones([1, c.shape[0]]), tf.concat([tf.ones([1, c.shape[0] - 1]), tf.zeros([1, 1])], 1), tf.ones([batch - 2, c.shape[0]])], 0);
    return tf.mul(x, tf.reshape(keep, [batch, c.shape[0], ...c.shape.slice(1).map(() => 1)]));
  });
}

const COMPOSITES: ReadonlyArray<[string, ExplainOptions]> = [
  ['rule epsilon', { rule: 'epsilon' }],
  ['epsilonPlus', { composite: 'epsilonPlus' }],
  ['epsilonGammaBox', { composite: 'epsilonGammaBox', low: -1, high: 1 }],
  ['epsilonAlpha2Beta1Flat', { composite: 'epsilonAlpha2Beta1Flat' }],
];
const B = 3;

/** Kernels (name, shapes) of one explanation. */
async function kernelsOf(fn: () => tf.Tensor | tf.Tensor[]): Promise<Array<{ name: string; shapes: number[][] }>> {
  const info = await tf.profile(fn);
  tf.dispose(info.result as tf.Tensor | tf.Tensor[]);
  return info.kernels.map((k) => ({ name: k.name, shapes: [...(k.inputShapes as Array<number[] | null>).filter((s): s is number[] => s !== null), ...k.outputShapes] }));
}

describe('GPU-safe kernels (rank ≤ 4 except Reshape; ≤ 7 inputs except Concat/Pack), recorded on cpu', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });
  const policy = async (c: Case): Promise<void> => {
    const model = build(c, 11);
    const x = inputOf(c, B, 5);
    const problems: string[] = [];
    for (const [label, options] of COMPOSITES) {
      for (const k of await kernelsOf(() => explain(model, x, 'max', options))) {
        const rank = Math.max(...k.shapes.map((s) => s.length));
        if (k.name !== 'Reshape' && rank > 4) problems.push(`${label}: ${k.name} has rank ${rank} (${k.shapes.map((s) => `[${s}]`).join(' ')})`);
        const inputs = k.shapes.length - 1;
        if (inputs > 7 && k.name !== 'Concat' && k.name !== 'Pack') problems.push(`${label}: ${k.name} has ${inputs} inputs`);
      }
    }
    tf.dispose(x);
    model.dispose();
    expect([...new Set(problems)]).toEqual([]);
  };
  for (const c of CASES) test(c.name, () => policy(c));

  test.each(CASES.map((c) => [c.name, c] as const))('the batch goes through every step together (kernel count independent of the batch): %s', async (_name, c) => {
    const model = build(c, 12);
    const counts: number[] = [];
    for (const batch of [2, 5]) {
      const x = inputOf(c, batch, 6);
      counts.push((await kernelsOf(() => explain(model, x, 'max', { composite: 'epsilonPlus' }))).length);
      x.dispose();
    }
    model.dispose();
    expect(counts[0]).toBeGreaterThan(20);
    expect(counts[1]).toBe(counts[0]);
  });
});

(WEBGPU_IN_NODE ? describe : describe.skip)('webgpu in Node: every recurrent model × composite agrees with cpu', () => {
  const cpu = new Map<string, Float32Array>();
  const models = new Map<string, { model: tf.LayersModel; x: tf.Tensor }>();
  const worst: Record<string, number> = {};

  beforeAll(async () => {
    await useBackend('cpu');
    for (const c of CASES) {
      const model = build(c, 21);
      const x = inputOf(c, B, 9);
      for (const [label, options] of COMPOSITES) {
        const r = explain(model, x, 'max', options) as tf.Tensor;
        cpu.set(`${c.name}/${label}`, Float32Array.from(await r.data()));
        r.dispose();
      }
      models.set(c.name, { model, x });
    }
    await useBackend('webgpu');
  }, 120_000);
  afterAll(() => {
    for (const { model, x } of models.values()) {
      x.dispose();
      model.dispose();
    }
    console.log(`recurrent on webgpu (Node): worst max|R − R_cpu| / max|R_cpu| per model: ${JSON.stringify(worst, null, 1)}`);
  });

  const cases = CASES.flatMap((c) => COMPOSITES.map(([label, options]) => [`${c.name}: ${label}`, c, label, options] as const));
  test.each(cases)('%s', async (_name, c, label, options) => {
    const { model, x } = models.get(c.name) as { model: tf.LayersModel; x: tf.Tensor };
    const before = tf.memory().numTensors;
    const explainer = createExplainer(model, options);
    const r = explainer.explain(x, 'max') as tf.Tensor;
    expect(r.shape).toEqual(x.shape);
    const got = await r.data();
    r.dispose();
    explainer.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const want = cpu.get(`${c.name}/${label}`) as Float32Array;
    expect(got.every(Number.isFinite)).toBe(true);
    expect(maxAbs(want)).toBeGreaterThan(0);
    const err = maxAbsDiff(got, want) / maxAbs(want);
    worst[c.name] = Math.max(worst[c.name] ?? 0, err);
    expect(err).toBeLessThanOrEqual(1e-3);
  });
});
