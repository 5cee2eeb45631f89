/**
 * Layers around recurrent models (LRP_RULES.md §8, §9): TimeDistributed (of Dense, Conv1D, Conv2D,
 * LSTM/GRU, nested), RepeatVector, Bidirectional (every merge mode, masked input), Average and
 * Multiply. Against the float64 plain-loop reference (test/reference/lrp64.ts, recurrent64.ts,
 * wrappers64.ts) per sample: max|R − R_ref| ≤ 1e-4 · max|R_ref| of that sample, on cpu and wasm;
 * conservation where the rule conserves; forward equality with model.predict; the gradient method
 * through the expansion = tf.grad of the model; no synchronous read; leak checks; errors.
 */
import * as tf from '@tensorflow/tfjs';
import { createExplainer, describe as describeModel, explain, explainWithConservation, LrpLayerError } from '../src';
import { CONFIGS } from './configs';
import { expectError, expectNoLeak, randomizeWeights, SYNC_BACKENDS, uniform, useBackend } from './helpers';
import { refGraphFromModel } from './reference/fromModel';
import { Arr, lrp64, refRules } from './reference/lrp64';
import { recurrentForward64, recurrentLrp64 } from './reference/recurrent64';
import { bidirectional64, refRecurrentOf } from './reference/wrappers64';

type Sym = tf.SymbolicTensor;
const apply = (layer: tf.layers.Layer, x: Sym | Sym[]): Sym => layer.apply(x) as Sym;

async function toArr(t: tf.Tensor): Promise<Arr> {
  return { shape: t.shape.slice(), data: Float64Array.from(await t.data()) };
}

/** Per sample: max|actual − expected| ≤ rel · max|expected| of that sample (and finite). */
function expectClosePerSample(actual: ArrayLike<number>, expected: Arr, rel: number, label: string): void {
  const n = expected.shape[0];
  const per = expected.data.length / n;
  expect(actual.length).toBe(expected.data.length);
  let largest = 0;
  for (let s = 0; s < n; s++) {
    let scale = 0;
    let diff = 0;
    for (let k = s * per; k < (s + 1) * per; k++) {
      if (!Number.isFinite(actual[k])) throw new Error(`${label}: non-finite value at ${k}`);
      scale = Math.max(scale, Math.abs(expected.data[k]));
      diff = Math.max(diff, Math.abs(actual[k] - expected.data[k]));
    }
    if (!(diff <= rel * scale)) throw new Error(`${label}, sample ${s}: max|R − R_ref| = ${diff.toExponential(3)} > ${rel} × ${scale.toExponential(3)}`);
    largest = Math.max(largest, scale);
  }
  expect(largest).toBeGreaterThan(0); // a comparison with an all-zero reference could not fail
}

interface Case {
  readonly name: string;
  build(biasFree: boolean): { model: tf.LayersModel; x: tf.Tensor };
}

const N = 3;

/** Builds `body` on an input of `shape`, seeds its weights and an input batch. */
function modelOf(shape: number[], body: (x: Sym) => Sym, seed: number, biasFree: boolean): { model: tf.LayersModel; x: tf.Tensor } {
  const input = tf.input({ shape });
  const model = tf.model({ inputs: input, outputs: body(input) });
  randomizeWeights(model, seed, { biasFree });
  return { model, x: uniform([N, ...shape], seed + 1) };
}

/** The models the float64 reference knows (TimeDistributed of Dense / Conv1D / itself, RepeatVector, Average, Multiply). */
const REFERENCE_CASES: Case[] = [
  {
    name: 'TimeDistributed(Dense) first, then Dense',
    build: (bf) => modelOf([4, 3], (x) => apply(tf.layers.dense({ units: 3 }), apply(tf.layers.flatten(), apply(tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 5, activation: 'relu', useBias: !bf }) }), x))), 11, bf),
  },
  {
    name: 'TimeDistributed(Conv1D same) first',
    build: (bf) =>
      modelOf([3, 6, 2], (x) => apply(tf.layers.dense({ units: 3, useBias: !bf }), apply(tf.layers.flatten(), apply(tf.layers.timeDistributed({ layer: tf.layers.conv1d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', useBias: !bf }) }), x))), 21, bf),
  },
  {
    name: 'TimeDistributed(TimeDistributed(Dense)) nested',
    build: (bf) =>
      modelOf([2, 3, 4], (x) => apply(tf.layers.dense({ units: 3, useBias: !bf }), apply(tf.layers.flatten(), apply(tf.layers.timeDistributed({ layer: tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 3, activation: 'relu', useBias: !bf }) }) }), x))), 31, bf),
  },
  {
    name: 'Dense → RepeatVector → TimeDistributed(Dense)',
    build: (bf) =>
      modelOf(
        [4],
        (x) => {
          const h = apply(tf.layers.repeatVector({ n: 5 }), apply(tf.layers.dense({ units: 6, activation: 'relu', useBias: !bf }), x));
          return apply(tf.layers.dense({ units: 3, useBias: !bf }), apply(tf.layers.flatten(), apply(tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 2, activation: 'relu', useBias: !bf }) }), h)));
        },
        41,
        bf,
      ),
  },
  {
    name: 'Average of three branches and Multiply of two',
    build: (bf) =>
      modelOf(
        [6],
        (x) => {
          const a = apply(tf.layers.dense({ units: 4, activation: 'relu', useBias: !bf }), x);
          const b = apply(tf.layers.dense({ units: 4, activation: 'relu', useBias: !bf }), x);
          const c = apply(tf.layers.dense({ units: 4, useBias: !bf }), x);
          const avg = apply(tf.layers.average(), [a, b, c]);
          const mul = apply(tf.layers.multiply(), [a, c]);
          return apply(tf.layers.dense({ units: 3, useBias: !bf }), apply(tf.layers.concatenate(), [avg, mul]));
        },
        51,
        bf,
      ),
  },
];

const CLASSES = [0, 2, 1];

// (cpu and wasm: the reference reads the weights synchronously)
for (const backend of SYNC_BACKENDS) {
  describe(`wrappers and merges = float64 reference on ${backend}`, () => {
    beforeAll(async () => {
      await useBackend(backend);
    });
    for (const testCase of REFERENCE_CASES) {
      describe(testCase.name, () => {
        let model: tf.LayersModel;
        let x: tf.Tensor;
        beforeAll(() => {
          ({ model, x } = testCase.build(false));
        });
        afterAll(() => {
          x.dispose();
          model.dispose();
        });
        test('forward: the expanded graph computes model.predict (and the reference does too)', async () => {
          const { relevance, conservation } = await explainWithConservation(model, x, CLASSES);
          tf.dispose(relevance);
          const predicted = model.predict(x) as tf.Tensor;
          const p = await predicted.data();
          predicted.dispose();
          const graph = refGraphFromModel(model);
          const ref = lrp64(graph, [await toArr(x)], CLASSES, refRules(graph, { rule: 'epsilon' }));
          for (let s = 0; s < N; s++) {
            const logit = p[s * 3 + CLASSES[s]];
            expect(Math.abs(conservation.score[s] - logit)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(logit)));
            expect(Math.abs(ref.score[s] - logit)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(logit)));
          }
        });
        test.each(CONFIGS.map((c) => [c.label, c]))('%s', async (_label, config) => {
          const graph = refGraphFromModel(model);
          const ref = lrp64(graph, [await toArr(x)], CLASSES, refRules(graph, config.spec([-1, 1])));
          const before = tf.memory().numTensors;
          const r = explain(model, x, CLASSES, config.options([-1, 1])) as tf.Tensor;
          expect(r.shape).toEqual(ref.relevance[0].shape);
          expectClosePerSample(await r.data(), ref.relevance[0], 1e-4, `${testCase.name} / ${config.label}`);
          r.dispose();
          expect(tf.memory().numTensors).toBe(before);
        });
      });
    }
  });
}

// ---- Bidirectional ---------------------------------------------------------------------------

type Rnn = 'lstm' | 'gru' | 'simpleRNN';
type Mode = 'concat' | 'sum' | 'ave' | 'mul';

function rnnLayer(kind: Rnn, units: number, returnSequences: boolean, useBias: boolean): tf.layers.Layer {
  const args = { units, returnSequences, useBias };
  return kind === 'lstm' ? tf.layers.lstm(args) : kind === 'gru' ? tf.layers.gru(args) : tf.layers.simpleRNN(args);
}

/** [T=4, F=3] → Bidirectional(rnn, mode) (→ Flatten) → Dense(3). */
function bidirectionalModel(kind: Rnn, mode: Mode, returnSequences: boolean, seed: number, biasFree = false): { model: tf.LayersModel; x: tf.Tensor } {
  return modelOf(
    [4, 3],
    (x) => {
      let h = apply(tf.layers.bidirectional({ layer: rnnLayer(kind, 3, returnSequences, !biasFree) as tf.RNN, mergeMode: mode }), x);
      if (returnSequences) h = apply(tf.layers.flatten(), h);
      return apply(tf.layers.dense({ units: 3, useBias: !biasFree }), h);
    },
    seed,
    biasFree,
  );
}

const BIDI_CASES: Array<[Rnn, Mode, boolean]> = [
  ['lstm', 'concat', true],
  ['lstm', 'sum', true],
  ['lstm', 'ave', true],
  ['lstm', 'mul', true],
  ['gru', 'concat', false],
  ['gru', 'ave', false],
  ['simpleRNN', 'sum', false],
  ['simpleRNN', 'mul', true],
];

const RECURRENT_CASES: Case[] = [
  ...BIDI_CASES.map(([kind, mode, seq], k): Case => ({ name: `Bidirectional(${kind}${seq ? ', returnSequences' : ''}) merge '${mode}'`, build: (bf) => bidirectionalModel(kind, mode, seq, 100 + k, bf) })),
  {
    name: 'TimeDistributed(LSTM) on [T1, T2, F]',
    build: (bf) => modelOf([3, 4, 2], (x) => apply(tf.layers.dense({ units: 3, useBias: !bf }), apply(tf.layers.flatten(), apply(tf.layers.timeDistributed({ layer: tf.layers.lstm({ units: 3, useBias: !bf }) }), x))), 150, bf),
  },
  {
    name: 'TimeDistributed(GRU, returnSequences) on [T1, T2, F]',
    build: (bf) => modelOf([2, 4, 2], (x) => apply(tf.layers.dense({ units: 3, useBias: !bf }), apply(tf.layers.flatten(), apply(tf.layers.timeDistributed({ layer: tf.layers.gru({ units: 3, returnSequences: true, useBias: !bf }) }), x))), 160, bf),
  },
];

const BIDI_CONFIGS = CONFIGS.filter((c) => ['epsilon 1e-6', 'epsilon 0.25', 'zPlus', 'alphaBeta 2/1', 'gamma 0.25'].includes(c.label));

for (const backend of SYNC_BACKENDS) {
  describe(`Bidirectional and TimeDistributed(rnn) = float64 reference on ${backend}`, () => {
    beforeAll(async () => {
      await useBackend(backend);
    });
    for (const testCase of RECURRENT_CASES) {
      describe(testCase.name, () => {
        let model: tf.LayersModel;
        let x: tf.Tensor;
        beforeAll(() => {
          ({ model, x } = testCase.build(false));
        });
        afterAll(() => {
          x.dispose();
          model.dispose();
        });
        test('forward: the expanded graph computes model.predict', async () => {
          const { relevance, conservation } = await explainWithConservation(model, x, CLASSES);
          tf.dispose(relevance);
          const predicted = model.predict(x) as tf.Tensor;
          const p = await predicted.data();
          predicted.dispose();
          for (let s = 0; s < N; s++) {
            const logit = p[s * 3 + CLASSES[s]];
            expect(Math.abs(conservation.score[s] - logit)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(logit)));
          }
          const graph = refGraphFromModel(model);
          const ref = lrp64(graph, [await toArr(x)], CLASSES, refRules(graph, { rule: 'epsilon' }));
          for (let s = 0; s < N; s++) expect(Math.abs(ref.score[s] - p[s * 3 + CLASSES[s]])).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(ref.score[s])));
        });
        test.each(BIDI_CONFIGS.map((c) => [c.label, c]))('%s', async (_label, config) => {
          const graph = refGraphFromModel(model);
          const ref = lrp64(graph, [await toArr(x)], CLASSES, refRules(graph, config.spec([-1, 1])));
          const before = tf.memory().numTensors;
          const r = explain(model, x, CLASSES, config.options([-1, 1])) as tf.Tensor;
          expect(r.shape).toEqual(ref.relevance[0].shape);
          expectClosePerSample(await r.data(), ref.relevance[0], 1e-4, `${testCase.name} / ${config.label}`);
          r.dispose();
          expect(tf.memory().numTensors).toBe(before);
        });
      });
    }
  });
}

// ---- properties: conservation, the gradient through the expansion, leaks, errors -------------

/** [N, classes] one-hot of CLASSES. */
function oneHot(classes: number): tf.Tensor {
  return tf.oneHot(tf.tensor1d(CLASSES, 'int32'), classes);
}

/** Σ_c onehot · model(x): its gradient with respect to x, by tf.grad through model.apply. */
function gradientOfModel(model: tf.LayersModel, x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const mask = oneHot(3);
    return tf.grad((input: tf.Tensor) => tf.sum(tf.mul(model.apply(input, { training: false }) as tf.Tensor, mask)))(x);
  });
}

/** The models of this file without a float64 reference counterpart of their own. */
const TD_CONV2D: Case = {
  name: 'TimeDistributed(Conv2D) on [T, H, W, C] (5-D)',
  build: (bf) =>
    modelOf([3, 5, 5, 2], (x) => apply(tf.layers.dense({ units: 3, useBias: !bf }), apply(tf.layers.flatten(), apply(tf.layers.timeDistributed({ layer: tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', useBias: !bf }) }), x))), 61, bf),
};

const CONSERVING: Case[] = [
  ...REFERENCE_CASES,
  TD_CONV2D,
  ...(['concat', 'sum', 'ave', 'mul'] as const).map((mode, k): Case => ({ name: `Bidirectional(lstm, returnSequences) merge '${mode}'`, build: (bf) => bidirectionalModel('lstm', mode, true, 200 + k, bf) })),
  ...RECURRENT_CASES.slice(-2),
];

describe('properties (cpu)', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  test.each(CONSERVING.map((c) => [c.name, c]))('conservation on the bias-free model, ε = 1e-9: |Σ R − logit| ≤ 1e-4 |logit|: %s', async (_name, testCase) => {
    const { model, x } = testCase.build(true);
    const { relevance, conservation } = await explainWithConservation(model, x, CLASSES, { rule: 'epsilon', epsilon: 1e-9 });
    tf.dispose(relevance);
    for (let s = 0; s < N; s++) {
      expect(Math.abs(conservation.score[s])).toBeGreaterThan(1e-5); // a zero logit would conserve trivially
      expect(Math.abs(conservation.inputSum[s] - conservation.score[s])).toBeLessThanOrEqual(1e-4 * Math.abs(conservation.score[s]));
    }
    x.dispose();
    model.dispose();
  });

  test.each([TD_CONV2D, REFERENCE_CASES[2], REFERENCE_CASES[3], REFERENCE_CASES[4], ...CONSERVING.slice(-6)].map((c) => [c.name, c]))("method 'gradient' through the expanded graph = tf.grad of the model: %s", async (_name, testCase) => {
    const { model, x } = testCase.build(false);
    const expected = gradientOfModel(model, x);
    const r = explain(model, x, CLASSES, { method: 'gradient' }) as tf.Tensor;
    const e = await toArr(expected);
    expectClosePerSample(await r.data(), e, 1e-4, testCase.name);
    tf.dispose([r, expected, x]);
    model.dispose();
  });

  test('TimeDistributed(Conv2D): forward = model.predict; the Conv2D is the first layer (flat) and a conv (zPlus)', async () => {
    const { model, x } = TD_CONV2D.build(false);
    const { relevance, conservation } = await explainWithConservation(model, x, CLASSES, { composite: 'epsilonPlusFlat' });
    tf.dispose(relevance);
    const predicted = model.predict(x) as tf.Tensor;
    const p = await predicted.data();
    for (let s = 0; s < N; s++) expect(Math.abs(conservation.score[s] - p[s * 3 + CLASSES[s]])).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(p[s * 3 + CLASSES[s]])));
    const rows = describeModel(model, { composite: 'epsilonPlusFlat' });
    const td = rows.find((row) => row.layer === model.layers[1].name);
    expect([td?.className, td?.rule.split('(')[0]]).toEqual(['Conv2D', 'flat']);
    const rows2 = describeModel(model, { composite: 'epsilonPlus' });
    const td2 = rows2.find((row) => row.layer === model.layers[1].name);
    expect([td2?.className, td2?.rule.split('(')[0]]).toEqual(['Conv2D', 'zPlus']);
    tf.dispose([predicted, x]);
    model.dispose();
  });

  test.each([false, true])("Bidirectional mergeMode null: two outputs, each its direction's relevance only (returnSequences %s)", async (seq) => {
    const input = tf.input({ shape: [4, 3] });
    const bidi = tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 3, returnSequences: seq }) as tf.RNN, mergeMode: null as unknown as 'concat' });
    const outs = bidi.apply(input) as Sym[];
    const model = tf.model({ inputs: input, outputs: outs });
    randomizeWeights(model, 300);
    const x = uniform([N, 4, 3], 301);
    const predicted = model.predict(x) as tf.Tensor[];
    const b = bidi as unknown as { forwardLayer: tf.layers.Layer; backwardLayer: tf.layers.Layer };
    const seqs = x.arraySync() as number[][][];
    const H = 3;
    const classes = seq ? [1, 7, 11] : [0, 2, 1];
    for (const output of [0, 1]) {
      const layer = refRecurrentOf(output === 0 ? b.forwardLayer : b.backwardLayer);
      const y = (await predicted[output].data()) as Float32Array;
      const per = y.length / N;
      // the reference: only this direction, relevance = one-hot · output
      const expected: number[] = [];
      seqs.forEach((sq, s) => {
        const R = new Array<number>(per).fill(0);
        R[classes[s]] = y[s * per + classes[s]];
        // the backward output is in time order: its own (processing) order is reversed
        const rowsR = seq ? Array.from({ length: 4 }, (_, t) => R.slice(t * H, (t + 1) * H)) : R;
        const own = seq && output === 1 ? (rowsR as number[][]).slice().reverse() : rowsR;
        const fwd = recurrentForward64(layer, sq, null).main;
        const mainOwn = seq ? (fwd as number[][]) : [fwd as number[]];
        const mainTime = seq && output === 1 ? mainOwn.slice().reverse() : mainOwn;
        expect(Math.abs(mainTime.flat()[classes[s]] - y[s * per + classes[s]])).toBeLessThan(1e-5); // forward = model.predict
        expected.push(...recurrentLrp64(layer, sq, null, { name: 'epsilon', epsilon: 1e-6 }, own, []).flat());
      });
      const { relevance, conservation } = await explainWithConservation(model, x, classes, { output });
      for (let s = 0; s < N; s++) expect(Math.abs(conservation.score[s] - y[s * per + classes[s]])).toBeLessThanOrEqual(1e-6);
      expectClosePerSample(await (relevance as tf.Tensor).data(), { shape: [N, 4, 3], data: Float64Array.from(expected) }, 1e-4, `mergeMode null, output ${output}`);
      tf.dispose(relevance);
    }
    tf.dispose([...predicted, x]);
    model.dispose();
  });

  test.each(['concat', 'sum', 'ave', 'mul'] as const)("Masking → Bidirectional(lstm) merge '%s': masked steps get 0, the rest = the float64 reference", async (mode) => {
    const input = tf.input({ shape: [5, 3] });
    const bidi = tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 3 }) as tf.RNN, mergeMode: mode });
    const model = tf.model({ inputs: input, outputs: apply(bidi, apply(tf.layers.masking({ maskValue: 0 }), input)) });
    randomizeWeights(model, 700);
    const x = tf.tidy(() => tf.mul(uniform([2, 5, 3], 701), tf.tensor([1, 1, 0, 1, 0, 1, 1, 1, 1, 0], [2, 5, 1])));
    const classes = [0, 2];
    const predicted = model.predict(x) as tf.Tensor;
    const y = await toArr(predicted);
    const per = y.data.length / 2;
    const R: Arr = { shape: y.shape.slice(), data: new Float64Array(y.data.length) };
    classes.forEach((c, s) => (R.data[s * per + c] = y.data[s * per + c]));
    const op = bidirectional64(bidi, true);
    const xArr = await toArr(x);
    const yRef = op.forward([xArr]);
    for (let k = 0; k < y.data.length; k++) expect(Math.abs(yRef.data[k] - y.data[k])).toBeLessThan(1e-5);
    const [expected] = op.lrp([xArr], yRef, R, { rule: { name: 'epsilon', epsilon: 1e-6 }, stabilizer: 1e-6 });
    const r = explain(model, x, classes) as tf.Tensor;
    const got = await r.data();
    expectClosePerSample(got, expected, 1e-4, `masked Bidirectional ${mode}`);
    for (const [s, t] of [[0, 2], [0, 4], [1, 4]]) for (let f = 0; f < 3; f++) expect(Math.abs(got[(s * 5 + t) * 3 + f])).toBe(0);
    tf.dispose([r, x, predicted]);
    model.dispose();
  });

  test('no synchronous read on the explain path (engine.readSync: dataSync, arraySync, …)', () => {
    const models = [REFERENCE_CASES[3], REFERENCE_CASES[4], TD_CONV2D, ...RECURRENT_CASES].map((c) => c.build(false));
    const engine = tf.engine() as unknown as { readSync: (...a: unknown[]) => unknown };
    const spy = jest.spyOn(engine, 'readSync');
    try {
      for (const { model, x } of models) tf.dispose(explain(model, x, CLASSES, { composite: 'epsilonPlus' }));
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
      for (const { model, x } of models) {
        x.dispose();
        model.dispose();
      }
    }
  });

  test('describe: the expansion as the user reads it', () => {
    const { model, x } = bidirectionalModel('lstm', 'sum', true, 400);
    const rows = describeModel(model, { composite: 'epsilonPlus' });
    const bidi = model.layers[1].name;
    expect(rows.filter((r) => r.layer.startsWith(bidi)).map((r) => [r.layer, r.className, r.rule.split('(')[0]])).toEqual([
      [`${bidi}:forward`, 'LSTM', 'epsilon'],
      [`${bidi}:backward`, 'LSTM', 'epsilon'],
      [`${bidi}:reverse`, 'Bidirectional', 'gradient'],
      [bidi, 'Bidirectional', 'norm'],
    ]);
    x.dispose();
    model.dispose();
  });

  test.each([...CONSERVING.slice(0, 5), TD_CONV2D, CONSERVING[CONSERVING.length - 1]].map((c) => [c.name, c]))('leak-free explain and explainer: %s', async (_name, testCase) => {
    const { model, x } = testCase.build(false);
    await expectNoLeak(() => tf.dispose(explain(model, x, CLASSES, { composite: 'epsilonGammaBox', low: -1, high: 1 })));
    const explainer = createExplainer(model, { rule: 'zPlus' });
    await expectNoLeak(() => tf.dispose(explainer.explain(x, CLASSES)));
    explainer.dispose();
    x.dispose();
    model.dispose();
  });

  test('Multiply and Average of a broadcast input: the copies are summed back (uniform R/2; norm as Add)', async () => {
    const input = tf.input({ shape: [5] });
    const a = apply(tf.layers.dense({ units: 4, activation: 'relu' }), input);
    const g = apply(tf.layers.dense({ units: 1, activation: 'sigmoid' }), input);
    const out = apply(tf.layers.dense({ units: 3 }), apply(tf.layers.concatenate(), [apply(tf.layers.multiply(), [a, g]), apply(tf.layers.average(), [a, g])]));
    const model = tf.model({ inputs: input, outputs: out });
    randomizeWeights(model, 600);
    const x = uniform([N, 5], 601);
    const predicted = model.predict(x) as tf.Tensor;
    const { relevance, conservation } = await explainWithConservation(model, x, CLASSES, { perLayer: true });
    const p = await predicted.data();
    for (let s = 0; s < N; s++) expect(Math.abs(conservation.score[s] - p[s * 3 + CLASSES[s]])).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(p[s * 3 + CLASSES[s]])));
    // per node: the merges pass on all they receive (uniform exactly; norm up to the stabilizer)
    for (const cls of ['Multiply', 'Average']) {
      const node = conservation.layers?.find((l) => l.className === cls);
      expect(node).toBeDefined();
      for (let s = 0; s < N; s++) expect(Math.abs((node?.lower[s] ?? NaN) - (node?.upper[s] ?? NaN))).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(node?.upper[s] ?? 0)));
    }
    tf.dispose([relevance, predicted, x]);
    model.dispose();
  });

  test('errors name the layer and the fix, and leak nothing', async () => {
    const input = tf.input({ shape: [4, 3] });
    const outs = tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 2, returnState: true }) as tf.RNN, mergeMode: 'sum' }).apply(input) as Sym[];
    const model = tf.model({ inputs: input, outputs: outs[0] });
    const x = uniform([N, 4, 3], 501);
    await expectError(() => explain(model, x, 0), LrpLayerError, /Bidirectional/, /returnState/, /returnState: false/);
    const inner = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] });
    const input2 = tf.input({ shape: [4, 3] });
    const model2 = tf.model({ inputs: input2, outputs: apply(tf.layers.flatten(), apply(tf.layers.timeDistributed({ layer: inner as unknown as tf.layers.Layer }), input2)) });
    await expectError(() => explain(model2, x, 0), LrpLayerError, /TimeDistributed/, /wraps a Sequential/, /one by one/);
    x.dispose();
    model.dispose();
    model2.dispose();
  });
});
