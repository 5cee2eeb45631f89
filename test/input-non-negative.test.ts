/**
 * `options.inputNonNegative`: the first Dense/Conv layer's z⁺, αβ and γ then work on x itself
 * instead of `[x⁺, x⁻]`. Checked here: the numbers against the float64 reference (LRP_RULES.md,
 * which splits x) on every Node backend, the kernels it saves (tf.profile), the check of the
 * declaration (NaN relevance and a typed error on read for a negative sample, no leaks), a
 * tf.GraphModel of the same network, the option's validation, and the host-side check of the
 * batch API's items.
 */
import * as tf from '@tensorflow/tfjs';
import { createExplainer, explain, explainWithConservation, ExplainOptions, LrpArgumentError } from '../src';
import { collectReferenceSamples, explainDataset, type ExplainedBatch } from '../src/node';
import { checkItem, ItemError } from '../src/node/batch/items';
import { refGraphFromModel } from './reference/fromModel';
import { toGraphModel } from './support/toGraphModel';
import { smallImageCnn } from './models';
import { Arr, lrp64, refRules, RefRuleSpec } from './reference/lrp64';
import { BACKENDS, expectError, expectNoLeak, maxAbs, maxAbsDiff, randomizeWeights, uniform, useBackend } from './helpers';

/** A small image model whose first conv reads the model input, seeded. */
function cnn(): tf.Sequential {
  const m = smallImageCnn();
  randomizeWeights(m, 41);
  return m;
}

/** Tabular: the first Dense layer reads the input. */
function mlp(): tf.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.dense({ inputShape: [7], units: 6, activation: 'relu' }));
  m.add(tf.layers.dense({ units: 3 }));
  randomizeWeights(m, 42);
  return m;
}

/** The settings whose first-layer rule splits a possibly negative input, with their reference spec. */
const SETTINGS: ReadonlyArray<{ name: string; options: ExplainOptions; spec: RefRuleSpec }> = [
  { name: 'epsilonPlus', options: { composite: 'epsilonPlus' }, spec: { composite: 'epsilonPlus' } },
  { name: 'epsilonAlpha2Beta1', options: { composite: 'epsilonAlpha2Beta1' }, spec: { composite: 'epsilonAlpha2Beta1' } },
  { name: 'zPlus', options: { rule: 'zPlus' }, spec: { rule: 'zPlus' } },
  { name: 'alphaBeta 1, 0', options: { rule: 'alphaBeta', alpha: 1, beta: 0 }, spec: { rule: 'alphaBeta', alpha: 1, beta: 0 } },
  { name: 'gamma', options: { rule: 'gamma', gamma: 0.5 }, spec: { rule: 'gamma', gamma: 0.5 } },
];

const MODELS: ReadonlyArray<{ name: string; build: () => tf.Sequential; shape: number[] }> = [
  { name: 'cnn', build: cnn, shape: [3, 6, 6, 3] },
  { name: 'mlp', build: mlp, shape: [4, 7] },
];

const toArr = async (t: tf.Tensor): Promise<Arr> => ({ shape: t.shape.slice(), data: Float64Array.from(await t.data()) });

/** Kernel names of one explain call (tf.profile), after a warm-up call. */
async function kernelsOf(model: tf.LayersModel | tf.GraphModel, x: tf.Tensor, options: ExplainOptions): Promise<Array<{ name: string; inputShapes: number[][] }>> {
  const explainer = createExplainer(model, options);
  try {
    (explainer.explain(x, 1) as tf.Tensor).dispose();
    const info = await tf.profile(() => explainer.explain(x, 1) as tf.Tensor);
    return info.kernels.map((k) => ({ name: k.name, inputShapes: k.inputShapes }));
  } finally {
    explainer.dispose();
  }
}

/** The input of a model case: values in [0, 1] with exact zeros (ReLU-like images have them). */
const inputOf = (shape: number[]): tf.Tensor => tf.tidy(() => tf.relu(uniform(shape, 9, -0.3, 1)));

/** The float64 references, computed on cpu (the reference reads the weights synchronously). */
const REFERENCES = new Map<string, Float64Array>();

beforeAll(async () => {
  await useBackend('cpu');
  for (const { name, build, shape } of MODELS) {
    const model = build();
    const x = inputOf(shape);
    const graph = refGraphFromModel(model);
    const classes = Array.from({ length: shape[0] }, (_, n) => n % 3);
    for (const setting of SETTINGS) REFERENCES.set(`${name} / ${setting.name}`, lrp64(graph, [await toArr(x)], classes, refRules(graph, setting.spec)).relevance[0].data);
    x.dispose();
    model.dispose();
  }
});

/** The innermost sizes of every input of the convolution kernels: 6 only where `[x⁺, x⁻]` was built. */
function convChannels(kernels: ReadonlyArray<{ name: string; inputShapes: number[][] }>): number[] {
  return kernels.filter((k) => k.name.includes('Conv2D')).flatMap((k) => k.inputShapes.filter((s) => Array.isArray(s)).map((s) => s[s.length - 1]));
}

describe.each(BACKENDS)('inputNonNegative on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  describe.each(MODELS)('$name', ({ name, build, shape }) => {
    let model: tf.Sequential;
    let x: tf.Tensor;
    beforeAll(() => {
      model = build();
      x = inputOf(shape);
    });
    afterAll(() => {
      model.dispose();
      x.dispose();
    });

    test.each(SETTINGS)('$name: the float64 reference (which splits x), within float32 error', async (setting) => {
      const classes = Array.from({ length: shape[0] }, (_, n) => n % 3);
      const ref = REFERENCES.get(`${name} / ${setting.name}`) as Float64Array;
      const declared = explain(model, x, classes, { ...setting.options, inputNonNegative: true }) as tf.Tensor;
      const split = explain(model, x, classes, setting.options) as tf.Tensor;
      const [a, b] = [await declared.data(), await split.data()];
      tf.dispose([declared, split]);
      const scale = maxAbs(ref);
      expect(scale).toBeGreaterThan(0);
      expect(maxAbsDiff(a, ref) / scale).toBeLessThan(2e-5);
      expect(maxAbsDiff(a, b) / scale).toBeLessThan(2e-5);
    });
  });

  test('explain with the declaration leaks nothing', async () => {
    const model = cnn();
    const good = tf.tidy(() => tf.relu(uniform([2, 6, 6, 3], 3)));
    await expectNoLeak(async () => {
      const r = explain(model, good, 0, { composite: 'epsilonPlus', inputNonNegative: true }) as tf.Tensor;
      await r.data();
      r.dispose();
    });
    tf.dispose([good]);
    model.dispose();
  });
});

describe('inputNonNegative: kernels saved, the declaration checked (cpu)', () => {
  let model: tf.Sequential;
  let x: tf.Tensor;
  beforeAll(async () => {
    await useBackend('cpu');
    model = cnn();
    x = tf.tidy(() => tf.relu(uniform([2, 6, 6, 3], 5)));
  });
  afterAll(() => {
    model.dispose();
    x.dispose();
  });

  test.each(['epsilonPlus', 'epsilonAlpha2Beta1'] as const)('%s: the first conv and its transpose read 3 channels, not [x⁺, x⁻]\'s 6; fewer kernels', async (composite) => {
    const split = await kernelsOf(model, x, { composite });
    const declared = await kernelsOf(model, x, { composite, inputNonNegative: true });
    // z⁺'s forward reads [x⁺, x⁻] (6 channels), its transpose yields 6 (its filter's
    // [3, 3, 6, 4] or [3, 3, 4, 6]); αβ's joined kernels the same
    expect(convChannels(split)).toContain(6);
    expect(convChannels(declared)).not.toContain(6);
    expect(declared.length).toBeLessThanOrEqual(split.length - 2);
  });

  test('a negative sample: explain() returns, its relevance is NaN, reading throws naming the sample and the fix; no leaks', async () => {
    const bad = tf.tidy(() => tf.concat([x, tf.neg(tf.slice(x, [0, 0, 0, 0], [1, -1, -1, -1]))], 0));
    const options: ExplainOptions = { composite: 'epsilonPlus', inputNonNegative: true };
    const readOf = (read: (r: tf.Tensor) => unknown) => async () => {
      const r = explain(model, bad, 0, options) as tf.Tensor;
      try {
        await Promise.resolve(read(r));
      } finally {
        r.dispose();
      }
    };
    const e = await expectError(readOf((r) => r.data()), LrpArgumentError, /negative values in sample\(s\) 2,/, /inputNonNegative declares every model input ≥ 0/, /Leave out options\.inputNonNegative/);
    expect((e as LrpArgumentError).argument).toBe('input');
    await expectError(readOf((r) => r.dataSync()), LrpArgumentError, /negative values in sample\(s\) 2,/);
    await expectError(() => explainWithConservation(model, bad, 0, options), LrpArgumentError, /negative values in sample\(s\) 2,/);
    // the samples' values, through ops (they are not wrapped): NaN exactly where the input is negative
    const r = explain(model, bad, 0, options) as tf.Tensor;
    const nanPerSample = tf.tidy(() => tf.sum(tf.cast(tf.isNaN(tf.reshape(r, [3, -1])), 'int32'), 1));
    expect(Array.from(await nanPerSample.data())).toEqual([0, 0, 6 * 6 * 3]);
    tf.dispose([r, nanPerSample, bad]);
  });

  test('NaN is reported before the sign; multi-input models name the input', async () => {
    const withNaN = tf.tidy(() => tf.concat([tf.neg(x), tf.fill([1, 6, 6, 3], NaN)], 0));
    const read = async () => {
      const r = explain(model, withNaN, 0, { composite: 'epsilonPlus', inputNonNegative: true }) as tf.Tensor;
      try {
        await r.data();
      } finally {
        r.dispose();
      }
    };
    await expectError(read, LrpArgumentError, /NaN or Infinity in sample\(s\) 2 \(input: negative values in sample\(s\) 0, 1\)\./, /checkInput/);
    withNaN.dispose();

    const a = tf.input({ shape: [3] });
    const b = tf.input({ shape: [2] });
    const out = tf.layers.dense({ units: 2 }).apply(tf.layers.concatenate().apply([a, b]) as tf.SymbolicTensor) as tf.SymbolicTensor;
    const two = tf.model({ inputs: [a, b], outputs: out });
    const xa = tf.tensor2d([[1, 2, 3]]);
    const xb = tf.tensor2d([[0, -1]]);
    const readTwo = async () => {
      const rs = explain(two, [xa, xb], 0, { rule: 'zPlus', inputNonNegative: true }) as tf.Tensor[];
      try {
        await rs[0].data();
      } finally {
        tf.dispose(rs);
      }
    };
    const e = await expectError(readTwo, LrpArgumentError, /negative values in sample\(s\) 0/);
    expect((e as LrpArgumentError).argument).toBe('input[1]');
    tf.dispose([xa, xb]);
    two.dispose();
  });

  test('a tf.GraphModel of the same network: the same numbers, no [x⁺, x⁻] (6 channels) when declared, the check', async () => {
    const graph = await toGraphModel(model);
    const classes = [0, 2];
    for (const composite of ['epsilonPlus', 'epsilonAlpha2Beta1'] as const) {
      const layers = explain(model, x, classes, { composite }) as tf.Tensor;
      const declared = explain(graph, x, classes, { composite, inputNonNegative: true }) as tf.Tensor;
      const [l, d] = [await layers.data(), await declared.data()];
      tf.dispose([layers, declared]);
      expect(maxAbsDiff(d, l) / maxAbs(l)).toBeLessThan(2e-5);
      expect(convChannels(await kernelsOf(graph, x, { composite }))).toContain(6);
      expect(convChannels(await kernelsOf(graph, x, { composite, inputNonNegative: true }))).not.toContain(6);
    }
    const neg = tf.neg(x);
    const readNeg = async () => {
      const r = explain(graph, neg, 0, { composite: 'epsilonPlus', inputNonNegative: true }) as tf.Tensor;
      try {
        await r.data();
      } finally {
        r.dispose();
      }
    };
    await expectError(readNeg, LrpArgumentError, /negative values in sample\(s\) 0, 1,/);
    neg.dispose();
    graph.dispose();
  });

  test('with checkInput: false the declaration is trusted (no flags, reads unchanged)', async () => {
    const neg = tf.neg(x);
    const r = explain(model, neg, 0, { composite: 'epsilonPlus', inputNonNegative: true, checkInput: false }) as tf.Tensor;
    const v = await r.data();
    expect(v.every((e) => Number.isFinite(e))).toBe(true);
    tf.dispose([r, neg]);
  });

  test('the option: a boolean, for LRP only', async () => {
    await expectError(() => explain(model, x, 0, { inputNonNegative: 'yes' as unknown as boolean }), LrpArgumentError, /options\.inputNonNegative/, /must be true or false/, /got "yes"/);
    await expectError(() => explain(model, x, 0, { method: 'gradient', inputNonNegative: true }), LrpArgumentError, /options\.inputNonNegative/, /method 'lrp' only/);
    // false is the default: the same plan and numbers
    const a = explain(model, x, 0, { composite: 'epsilonPlus', inputNonNegative: false }) as tf.Tensor;
    const b = explain(model, x, 0, { composite: 'epsilonPlus' }) as tf.Tensor;
    expect(maxAbsDiff(await a.data(), await b.data())).toBe(0);
    tf.dispose([a, b]);
  });
});

test('explainDataset with the declaration: a negative item fails alone with its reason; the others equal explain()', async () => {
  await useBackend('cpu');
  const model = mlp();
  const rows = Array.from({ length: 6 }, (_, k) => Float32Array.from({ length: 7 }, (_, i) => ((k * 7 + i) % 5) / 4));
  rows[4] = Float32Array.from(rows[4], (v, i) => (i === 3 ? -0.5 : v));
  const before = tf.memory().numTensors;
  const batches: ExplainedBatch[] = [];
  for await (const b of explainDataset(model, rows, { composite: 'epsilonPlus', inputNonNegative: true, batchSize: 3, classIdx: 1 })) batches.push(b);
  expect(tf.memory().numTensors).toBe(before);
  const errors = batches.flatMap((b) => b.errors);
  expect(errors.map((e) => e.index)).toEqual([4]);
  expect(errors[0].reason).toMatch(/value 3 is -0\.5, but options\.inputNonNegative declares the input ≥ 0/);
  const kept = batches.flatMap((b) => b.indices);
  expect(kept).toEqual([0, 1, 2, 3, 5]);
  const x = tf.tensor2d(kept.map((k) => Array.from(rows[k])));
  const r = explain(model, x, 1, { composite: 'epsilonPlus' }) as tf.Tensor;
  const expected = await r.data();
  const got = Float32Array.from(batches.flatMap((b) => Array.from(b.relevance)));
  expect(maxAbsDiff(got, expected) / maxAbs(expected)).toBeLessThan(1e-6);
  tf.dispose([x, r]);
  model.dispose();
});

test('the concept atlas (collectReferenceSamples) with the declaration skips a negative item and counts it as failed', async () => {
  await useBackend('cpu');
  const model = cnn();
  const rows = Array.from({ length: 5 }, (_, k) => Float32Array.from({ length: 6 * 6 * 3 }, (_, i) => ((k * 7 + i) % 5) / 4));
  rows[2] = Float32Array.from(rows[2], (v, i) => (i === 10 ? -0.5 : v));
  const layer = model.layers[2].name;
  const declared = await collectReferenceSamples(model, rows, { composite: 'epsilonPlus', inputNonNegative: true, layers: [layer], top: 2 });
  const plain = await collectReferenceSamples(model, rows, { composite: 'epsilonPlus', layers: [layer], top: 2 });
  expect([declared.items, declared.failed]).toEqual([5, 1]);
  expect([plain.items, plain.failed]).toEqual([5, 0]);
  model.dispose();
});

test('the batch API checks items on the host: a negative value fails its item with the position and the fix', () => {
  const data = Float32Array.from([0, 0.5, -0.25, 1]);
  expect(() => checkItem(data, 4, 'img-7.npy')).not.toThrow();
  expect(() => checkItem(data, 4, 'img-7.npy', true)).toThrow(ItemError);
  expect(() => checkItem(data, 4, 'img-7.npy', true)).toThrow(/img-7\.npy: value 2 is -0\.25, but options\.inputNonNegative declares the input ≥ 0; leave the option out/);
  expect(() => checkItem(Float32Array.from([0, NaN, -1, 1]), 4, 'a', true)).toThrow(/value 1 is NaN/);
  expect(() => checkItem(Float32Array.from([0, 0, 0, 1]), 4, 'a', true)).not.toThrow();
});
