/**
 * Issue #19 (explanations closer to the floor), kernel side: the engine's explain() dispatches no
 * kernel that tfjs 4.22's wasm backend runs slowly (measured on 1M elements, wasm SIMD, one
 * thread: Minimum/Maximum ~12 ms, Sign ~7 ms, LeakyRelu ~6 ms, Select with Tile ~10 ms, Concat
 * on the innermost axis ~5 ms, against ~0.1–0.2 ms for Step, Abs, ClipByValue, Mul, Pad), and
 * the number of convolutions per explanation of a ReLU CNN is the rule's minimum. Numbers are
 * checked by test/rules.test.ts against the float64 reference; here the kernel lists (tf.profile)
 * and the input check's NaN masking on the backends that mask by addition.
 */
import * as tf from '@tensorflow/tfjs';
import { createExplainer, ExplainOptions } from '../src';
import { randomizeWeights, uniform, useBackend } from './helpers';

/** Kernels slow on wasm; Concat is slow only on the innermost axis, checked separately. */
const SLOW = new Set(['Minimum', 'Maximum', 'Sign', 'LeakyRelu', 'Select', 'Tile', 'SplitV']);

/** bench-cnn in small: conv-relu ×2, max pool, conv-relu, max pool, flatten, dense-relu, dense. */
function cnn(): tf.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }));
  m.add(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu' }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 5, activation: 'relu' }));
  m.add(tf.layers.dense({ units: 3 }));
  randomizeWeights(m, 19);
  return m;
}

/**
 * Convolutions per explanation of {@link cnn} (3 conv layers, the first on the input x of any
 * sign): the recorded forward (3), then per layer the rule's extra forwards and transposes.
 */
const CASES: ReadonlyArray<{ name: string; options: ExplainOptions; convs: number }> = [
  // ε: one transpose per layer
  { name: 'epsilon', options: { rule: 'epsilon' }, convs: 3 + 3 },
  // z⁺: one forward and one transpose per layer ([x⁺, x⁻] joined on the first)
  { name: 'epsilonPlus', options: { composite: 'epsilonPlus' }, convs: 3 + 3 * 2 },
  // z-box first: two transposes, its bounded forwards cached; γ: one forward and one transpose
  // (each conv's output goes through a ReLU into rules ∝ their input: the plan's
  // upperZeroWhereInactive, so the W + γW⁻ transpose of units with z < 0 is skipped)
  { name: 'epsilonGammaBox', options: { composite: 'epsilonGammaBox', low: -1, high: 1 }, convs: 3 + 2 + 2 * 2 },
  // flat first: one one-channel transpose (its ones-forward depends on shapes only: cached); z⁺ after
  { name: 'epsilonPlusFlat', options: { composite: 'epsilonPlusFlat' }, convs: 3 + 1 + 2 * 2 },
  // αβ: one joined forward ([W⁺ | W⁻]) and one joined transpose per layer; after a ReLU the joined
  // forward also gives z (LinearRule.forward), so the recorded forward of layers 2 and 3 is it
  { name: 'epsilonAlpha2Beta1', options: { composite: 'epsilonAlpha2Beta1' }, convs: 1 + 3 * 2 },
];

describe('fast kernels on wasm', () => {
  let model: tf.Sequential;
  let x: tf.Tensor;
  beforeAll(async () => {
    await useBackend('wasm');
    model = cnn();
    x = uniform([2, 8, 8, 3], 7);
  });
  afterAll(() => {
    x.dispose();
    model.dispose();
  });

  test.each(CASES.map((c) => [c.name, c]))('%s: no slow kernel, the minimum number of convolutions', async (_name, c) => {
    const explainer = createExplainer(model, c.options);
    // first call: weight-derived tensors (cached afterwards) are computed with their own kernels
    (explainer.explain(x, 1) as tf.Tensor).dispose();
    const info = await tf.profile(() => explainer.explain(x, 1) as tf.Tensor);
    const kernels = info.kernels.filter((k) => !k.name.endsWith('__op'));
    // per-sample scalars (the input check's [batch, 1] flags) do not count
    const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
    const slow = kernels.filter((k) => SLOW.has(k.name) && size(k.outputShapes[0]) > x.shape[0]).map((k) => `${k.name} ${JSON.stringify(k.inputShapes)}`);
    expect(slow).toEqual([]);
    const innerConcat = kernels.filter((k) => k.name === 'Concat' && k.outputShapes[0].length === 4 && k.inputShapes.some((s) => s !== null && s[3] !== k.outputShapes[0][3]));
    expect(innerConcat.map((k) => JSON.stringify(k.inputShapes))).toEqual([]);
    const convs = kernels.filter((k) => k.name === 'Conv2D' || k.name === 'FusedConv2D');
    expect(convs.length).toBe(c.convs);
    // the flat rule's convolutions run on one channel (kernel [kh, kw, 1, 1])
    if (c.name === 'epsilonPlusFlat') expect(convs.filter((k) => k.inputShapes[1]?.[2] === 1 && k.inputShapes[1]?.[3] === 1)).toHaveLength(1);
    tf.dispose(info.result as tf.Tensor);
    explainer.dispose();
  });

  test('input check: a sample with a NaN input gets NaN relevance, the others keep theirs', async () => {
    const good = uniform([1, 8, 8, 3], 8);
    const bad = tf.tidy(() => tf.concat([good, tf.fill([1, 8, 8, 3], NaN)], 0));
    const explainer = createExplainer(model, { rule: 'epsilon' });
    (explainer.explain(good, 1) as tf.Tensor).dispose(); // the explainer keeps weight-derived tensors
    const before = tf.memory().numTensors;
    const ref = explainer.explain(good, 1) as tf.Tensor;
    const r = explainer.explain(bad, 1) as tf.Tensor;
    // a clone is not wrapped by the read check: it shows the masked values
    const read = async (t: tf.Tensor) => {
      const copy = tf.clone(t);
      const v = await copy.data();
      copy.dispose();
      return v;
    };
    const values = await read(r);
    const expected = await read(ref);
    const n = expected.length;
    expect(Array.from(values.slice(0, n))).toEqual(Array.from(expected));
    expect(Array.from(values.slice(n)).every((v) => Number.isNaN(v))).toBe(true);
    tf.dispose([ref, r]);
    expect(tf.memory().numTensors).toBe(before);
    explainer.dispose();
    tf.dispose([good, bad]);
  });
});
