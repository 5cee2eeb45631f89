/**
 * The layer classes of LRP_RULES.md §9 (issue #15): LayerNormalization, Dot (with the softmax
 * inside an attention block), Maximum/Minimum, Conv3D, Conv3DTranspose, MaxPooling3D,
 * AveragePooling3D, Rescaling, CenterCrop and CategoryEncoding. Each model against the float64
 * plain-loop reference (test/reference/more64.ts; per sample max|R − R_ref| ≤ 1e-4 · max|R_ref|)
 * for every rule and composite of the exactness suite, on cpu and wasm; forward equality with
 * model.predict; conservation where the rules conserve; leak checks. Resizing and RandomWidth:
 * the typed refusals.
 */
import * as tf from '@tensorflow/tfjs';
import { describe as describePlan, explain, explainWithConservation, LrpBackendError, LrpLayerError } from '../src';
import { adapterFor } from '../src/layers/registry';
import { CONFIGS } from './configs';
import { expectClose, expectError, randomizeWeights, SYNC_BACKENDS, uniform, useBackend, WEBGPU_IN_NODE } from './helpers';
import { refGraphFromModel } from './reference/fromModel';
import { Arr, lrp64, refRules } from './reference/lrp64';

type Sym = tf.SymbolicTensor;
const apply = (layer: tf.layers.Layer, x: Sym | Sym[]): Sym => layer.apply(x) as Sym;

async function toArr(t: tf.Tensor): Promise<Arr> {
  return { shape: t.shape.slice(), data: Float64Array.from(await t.data()) };
}

/** Per sample: max|actual − expected| ≤ rel · max|expected| of that sample (and finite). */
function expectClosePerSample(actual: ArrayLike<number>, expected: Arr, rel: number, label: string): number {
  const n = expected.shape[0];
  const per = expected.data.length / n;
  expect(actual.length).toBe(expected.data.length);
  let largest = 0;
  let worst = 0;
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
    worst = Math.max(worst, diff / scale);
  }
  expect(largest).toBeGreaterThan(0); // a comparison with an all-zero reference could not fail
  return worst;
}

const N = 3;
const CLASSES = [0, 2, 1];

interface Case {
  readonly name: string;
  build(biasFree: boolean): { model: tf.LayersModel; x: tf.Tensor };
  /** Whether LRP-0 on the bias-free model conserves relevance (no absorbing layer). */
  readonly conserves: boolean;
  /** Backends this case runs on (default: all of SYNC_BACKENDS). */
  readonly backends?: readonly string[];
}

/** Builds `body` on an input of `shape`, seeds its weights and an input batch. */
function modelOf(shape: number[], body: (x: Sym) => Sym, seed: number, biasFree: boolean, x?: tf.Tensor): { model: tf.LayersModel; x: tf.Tensor } {
  const input = tf.input({ shape });
  const model = tf.model({ inputs: input, outputs: body(input) });
  randomizeWeights(model, seed, { biasFree });
  return { model, x: x ?? uniform([N, ...shape], seed + 1) };
}

const dense = (units: number, extra: Partial<Parameters<typeof tf.layers.dense>[0]> = {}) => tf.layers.dense({ units, ...extra });

/** Integer tokens in [0, k) as floats, with repeats (seeded). */
function tokens(shape: number[], k: number, seed: number): tf.Tensor {
  return tf.tidy(() => tf.floor(tf.mul(uniform(shape, seed, 0, 1), k)));
}

const CASES: Case[] = [
  {
    name: 'LayerNormalization inside (Dense → LN → Dense, positions)',
    conserves: true,
    build: (bf) => modelOf([4, 6], (x) => apply(dense(3, { useBias: !bf }), apply(tf.layers.flatten(), apply(dense(5, { activation: 'relu', useBias: !bf }), apply(tf.layers.layerNormalization({ epsilon: 1e-3 }), apply(dense(6, { useBias: !bf }), x))))), 101, bf),
  },
  {
    name: 'LayerNormalization first (first-layer rules apply to it)',
    conserves: true,
    build: (bf) => modelOf([7], (x) => apply(dense(3, { useBias: !bf }), apply(tf.layers.layerNormalization({ center: !bf }), x)), 111, bf),
  },
  {
    name: 'attention block: Dot(q, k) → Softmax → Dot(·, v) → LayerNormalization',
    conserves: false, // the softmax passes: the attention weights are a sum-one mix, not conservative
    build: (bf) =>
      modelOf(
        [4, 6],
        (x) => {
          const q = apply(dense(5, { useBias: !bf }), x);
          const k = apply(dense(5, { useBias: !bf }), x);
          const v = apply(dense(6, { useBias: !bf }), x);
          const scores = apply(tf.layers.dot({ axes: 2 }), [q, k]); // [4, 4]
          const weights = apply(tf.layers.softmax({ axis: -1 }), scores);
          const mixed = apply(tf.layers.dot({ axes: [2, 1] }), [weights, v]); // [4, 6]
          const added = apply(tf.layers.add(), [x, mixed]);
          const normed = apply(tf.layers.layerNormalization({ center: !bf }), added);
          return apply(dense(3, { useBias: !bf }), apply(tf.layers.flatten(), normed));
        },
        121,
        bf,
      ),
  },
  {
    name: 'Dot normalize (cosine, norms held constant) and axes 1',
    conserves: true,
    build: (bf) =>
      modelOf(
        [3, 4],
        (x) => {
          const a = apply(dense(4, { useBias: !bf }), x);
          const b = apply(dense(4, { useBias: !bf }), x);
          const cos = apply(tf.layers.dot({ axes: -1, normalize: true }), [apply(tf.layers.flatten(), a), apply(tf.layers.flatten(), b)]); // [1]
          const gram = apply(tf.layers.flatten(), apply(tf.layers.dot({ axes: 1 }), [a, b])); // [4·4]
          return apply(dense(3, { useBias: !bf }), apply(tf.layers.concatenate(), [cos, gram]));
        },
        131,
        bf,
      ),
  },
  {
    name: 'Maximum and Minimum (winner-take-all)',
    conserves: true,
    build: (bf) =>
      modelOf(
        [6],
        (x) => {
          const a = apply(dense(5, { useBias: !bf }), x);
          const b = apply(dense(5, { useBias: !bf }), x);
          const c = apply(dense(5, { useBias: !bf }), x);
          const hi = apply(tf.layers.maximum(), [a, b]);
          const lo = apply(tf.layers.minimum(), [a, b, c]);
          return apply(dense(3, { useBias: !bf }), apply(tf.layers.concatenate(), [hi, lo]));
        },
        141,
        bf,
      ),
  },
  {
    name: '3-D CNN: Conv3D same → ReLU → MaxPooling3D → Conv3D strided → AveragePooling3D',
    conserves: false, // the average pooling 'same' windows and ReLU pass; checked against the reference only
    build: (bf) =>
      modelOf(
        [4, 4, 4, 2],
        (x) => {
          const c1 = apply(tf.layers.conv3d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', useBias: !bf }), x);
          const p1 = apply(tf.layers.maxPooling3d({ poolSize: 2 }), c1); // [2, 2, 2, 3]
          const c2 = apply(tf.layers.conv3d({ filters: 4, kernelSize: [2, 1, 2], strides: [1, 1, 2], padding: 'valid', useBias: !bf }), p1); // [1, 2, 1, 4]
          const p2 = apply(tf.layers.averagePooling3d({ poolSize: [1, 2, 1], padding: 'same' }), c2);
          return apply(dense(3, { useBias: !bf }), apply(tf.layers.flatten(), p2));
        },
        151,
        bf,
      ),
  },
  {
    name: 'Conv3DTranspose valid and same, then Conv3D',
    conserves: true,
    backends: ['cpu'], // wasm: refused, its Conv3DBackpropInputV2 is wrong (test below)
    build: (bf) =>
      modelOf(
        [2, 2, 2, 2],
        (x) => {
          const t1 = apply(tf.layers.conv3dTranspose({ filters: 2, kernelSize: 3, strides: 2, padding: 'valid', useBias: !bf }), x); // [5, 5, 5, 2]
          const t2 = apply(tf.layers.conv3dTranspose({ filters: 2, kernelSize: 2, strides: [1, 2, 1], padding: 'same', useBias: !bf }), t1); // [5, 10, 5, 2]
          const c = apply(tf.layers.conv3d({ filters: 2, kernelSize: 3, strides: 2, padding: 'same', useBias: !bf }), t2); // [3, 5, 3, 2]
          return apply(dense(3, { useBias: !bf }), apply(tf.layers.flatten(), c));
        },
        161,
        bf,
      ),
  },
  {
    name: 'preprocessing: Rescaling → CenterCrop → Conv2D',
    conserves: true,
    build: (bf) =>
      modelOf(
        [6, 7, 2],
        (x) => {
          const scaled = apply(tf.layers.rescaling({ scale: 2, offset: 0 }), x);
          // (tfjs' CenterCrop writes its output size into its input's shape: a Reshape in front keeps the model input intact)
          const cropped = apply(tf.layers.centerCrop({ height: 3, width: 4 }), apply(tf.layers.reshape({ targetShape: [6, 7, 2] }), scaled));
          const conv = apply(tf.layers.conv2d({ filters: 2, kernelSize: 2, useBias: !bf }), cropped);
          return apply(dense(3, { useBias: !bf }), apply(tf.layers.flatten(), conv));
        },
        171,
        bf,
      ),
  },
  {
    name: 'CategoryEncoding count and multiHot (relevance by token position)',
    conserves: true,
    build: (bf) =>
      modelOf(
        [6],
        (x) => {
          const ids = apply(tf.layers.reshape({ targetShape: [6] }), x); // (same shape-writing quirk as CenterCrop)
          const counts = apply(tf.layers.categoryEncoding({ numTokens: 5, outputMode: 'count' }), ids);
          const ids2 = apply(tf.layers.reshape({ targetShape: [6] }), x);
          const hot = apply(tf.layers.categoryEncoding({ numTokens: 5, outputMode: 'multiHot' }), ids2);
          return apply(dense(3, { useBias: !bf }), apply(tf.layers.concatenate(), [counts, hot]));
        },
        181,
        bf,
        tokens([N, 6], 5, 182),
      ),
  },
];

for (const backend of SYNC_BACKENDS) {
  describe(`§9 layer classes on ${backend}`, () => {
    beforeAll(async () => {
      await useBackend(backend);
    });
    for (const testCase of CASES.filter((c) => c.backends === undefined || c.backends.includes(backend))) {
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
        test('forward: the engine and the reference compute model.predict', async () => {
          const { relevance, conservation } = await explainWithConservation(model, x, CLASSES);
          tf.dispose(relevance);
          const predicted = model.predict(x) as tf.Tensor;
          const p = await predicted.data();
          predicted.dispose();
          const graph = refGraphFromModel(model);
          const ref = lrp64(graph, [await toArr(x)], CLASSES, refRules(graph, { rule: 'epsilon' }));
          for (let s = 0; s < N; s++) {
            const logit = p[s * 3 + CLASSES[s]];
            expect(Math.abs(conservation.score[s] - logit)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(logit)));
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
        test('no synchronous read (dataSync, arraySync, bufferSync all go through engine.readSync)', async () => {
          const engine = tf.engine() as unknown as { readSync: (...a: unknown[]) => unknown };
          const original = engine.readSync;
          let reads = 0;
          engine.readSync = function (this: unknown, ...args: unknown[]) {
            reads++;
            return original.apply(this, args);
          };
          try {
            tf.dispose(explain(model, x, CLASSES, { composite: 'epsilonPlusFlat' }));
          } finally {
            engine.readSync = original;
          }
          expect(reads).toBe(0);
        });
        if (testCase.conserves) {
          test('conservation: bias-free, LRP-0 and stabilizer 0 (inputSum = outputSum)', async () => {
            const built = testCase.build(true);
            const { relevance, conservation } = await explainWithConservation(built.model, built.x, CLASSES, { rule: 'zero', stabilizer: 0 });
            tf.dispose(relevance);
            for (let s = 0; s < N; s++) {
              expect(Math.abs(conservation.outputSum[s])).toBeGreaterThan(1e-3);
              expect(Math.abs(conservation.inputSum[s] - conservation.outputSum[s])).toBeLessThanOrEqual(1e-4 * Math.abs(conservation.outputSum[s]));
            }
            built.x.dispose();
            built.model.dispose();
          });
        }
      });
    }
  });
}

describe('§9 layer classes: plans, refusals', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  test('describe names the rule of every new class', () => {
    const { model, x } = CASES[2].build(false);
    const rows = describePlan(model);
    const byClass = (cls: string) => rows.filter((r) => r.className === cls).map((r) => r.rule);
    expect(byClass('Dot')).toEqual(['product(stabilizer=0.000001)', 'product(stabilizer=0.000001)']);
    expect(byClass('Softmax')).toEqual(['pass']);
    expect(byClass('LayerNormalization')[0]).toMatch(/^epsilon/);
    x.dispose();
    model.dispose();
  });

  test('gradient methods through LayerNormalization use its true Jacobian (σ depends on x), not the LRP map', async () => {
    const { model, x } = modelOf([3, 5], (t) => apply(dense(3), apply(tf.layers.flatten(), apply(tf.layers.layerNormalization({}), apply(dense(5), t)))), 191, false);
    const engine = explain(model, x, CLASSES, { method: 'gradient' }) as tf.Tensor;
    const onehot = tf.oneHot(CLASSES, 3);
    const truth = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(model.apply(v) as tf.Tensor, onehot)))(x);
    expectClose(await engine.data(), await truth.data(), 1e-5, 'gradient through LayerNormalization');
    // (the σ-constant transpose would differ: the test can fail)
    const lrp0 = explain(model, x, CLASSES, { rule: 'zero' }) as tf.Tensor;
    const gxi = explain(model, x, CLASSES, { method: 'gradientXInput' }) as tf.Tensor;
    expect(Math.max(...Array.from(await tf.sub(lrp0, gxi).abs().data()))).toBeGreaterThan(1e-3);
    tf.dispose([engine, onehot, truth, lrp0, gxi, x]);
    model.dispose();
  });

  test('gradient methods through Dot(normalize: true) use its true Jacobian (the norms depend on x)', async () => {
    const { model, x } = CASES.find((c) => c.name.startsWith('Dot normalize'))?.build(false) ?? fail('no case');
    const engine = explain(model, x, CLASSES, { method: 'gradient' }) as tf.Tensor;
    const onehot = tf.oneHot(CLASSES, 3);
    const truth = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(model.apply(v) as tf.Tensor, onehot)))(x);
    expectClose(await engine.data(), await truth.data(), 1e-4, 'gradient through Dot(normalize)');
    tf.dispose([engine, onehot, truth, x]);
    model.dispose();
  });

  test('the Dot stabilizer is the stabilizer option', () => {
    const { model, x } = CASES[2].build(false);
    expect(describePlan(model, { stabilizer: 0.01 }).filter((r) => r.className === 'Dot').map((r) => r.rule)).toEqual(['product(stabilizer=0.01)', 'product(stabilizer=0.01)']);
    x.dispose();
    model.dispose();
  });

  test('Resizing: a typed error naming the tfjs limitation (model.predict fails too)', async () => {
    const input = tf.input({ shape: [6, 6, 2] });
    const out = apply(tf.layers.dense({ units: 3 }), apply(tf.layers.flatten(), apply(tf.layers.resizing({ height: 3, width: 3, name: 'resize' }), input)));
    const model = tf.model({ inputs: input, outputs: out });
    const x = uniform([2, 6, 6, 2], 5);
    expect(() => model.predict(x)).toThrow(/rank 3 or 4/);
    const err = await expectError(() => explain(model, x, 0), LrpLayerError, /'resize' \(Resizing\) cannot run inside a tfjs-layers 4\.22 model/, /resizeBilinear or resizeNearestNeighbor/);
    expect((err as LrpLayerError).className).toBe('Resizing');
    x.dispose();
    model.dispose();
  });

  test('RandomWidth: a typed error naming the tfjs limitation', async () => {
    const input = tf.input({ shape: [6, 6, 2] });
    // (its symbolic output has no batch axis, so no layer can follow it: it is the output here)
    const out = apply(tf.layers.randomWidth({ factor: 0.5, name: 'jitter' }), input);
    const model = tf.model({ inputs: input, outputs: out });
    const x = uniform([2, 6, 6, 2], 6);
    await expectError(() => explain(model, x, 0), LrpLayerError, /'jitter' \(RandomWidth\) cannot be explained/, /random factor on every call/, /without it/);
    x.dispose();
    model.dispose();
  });

  test('Conv3DTranspose on wasm: an LrpBackendError (tfjs-backend-wasm 4.22 computes it wrongly, model.predict too)', async () => {
    await useBackend('wasm');
    const { model, x } = CASES.find((c) => c.name.startsWith('Conv3DTranspose'))?.build(false) ?? fail('no case');
    try {
      await expectError(() => explain(model, x, CLASSES), LrpBackendError, /Conv3DTranspose\) cannot be explained on the 'wasm' backend/, /Conv3DBackpropInputV2/, /tf\.setBackend\('cpu'\)/);
    } finally {
      x.dispose();
      model.dispose();
      await useBackend('cpu');
    }
  });

  test('CenterCrop on an input smaller than its crop: a typed error, no leak', async () => {
    const input = tf.input({ shape: [5, 5, 1] });
    const cropped = apply(tf.layers.centerCrop({ height: 3, width: 3, name: 'crop' }), apply(tf.layers.reshape({ targetShape: [5, 5, 1] }), input));
    const model = tf.model({ inputs: input, outputs: apply(tf.layers.dense({ units: 2 }), apply(tf.layers.flatten(), cropped)) });
    const small = uniform([1, 2, 2, 1], 7);
    // (a model built for 5×5 never passes a 2×2 image: the adapter's forward is called directly)
    const layer = model.layers.find((l) => l.name === 'crop') as tf.layers.Layer;
    const before = tf.memory().numTensors;
    expect(() => tf.tidy(() => adapterFor('CenterCrop')?.forward?.(layer, [small]))).toThrow(/smaller than its 3×3 crop/);
    expect(tf.memory().numTensors).toBe(before);
    small.dispose();
    model.dispose();
  });

  test('Dot of inputs of different ranks, LayerNormalization on another axis: typed errors', async () => {
    const a = tf.input({ shape: [4] });
    const b = tf.input({ shape: [3, 4] });
    const mixed = tf.model({ inputs: [a, b], outputs: apply(tf.layers.dot({ axes: [1, 2], name: 'mixed' }), [a, b]) });
    expect(() => describePlan(mixed)).toThrow(/'mixed' \(Dot\) has inputs of ranks \[2, 3\]/);
    const c = tf.input({ shape: [3, 4] });
    const ln = tf.model({ inputs: c, outputs: apply(tf.layers.layerNormalization({ axis: 1, name: 'ln1' }), c) });
    expect(() => describePlan(ln)).toThrow(/'ln1' \(LayerNormalization\) normalises axes .*last axis only/);
    mixed.dispose();
    ln.dispose();
  });
});

// Last in the file: tensors do not move back from webgpu (it cannot read synchronously in Node).
(WEBGPU_IN_NODE ? describe : describe.skip)('§9 layer classes on webgpu (Dawn in Node): agree with cpu', () => {
  const OPTIONS = [{ rule: 'epsilon' as const }, { composite: 'epsilonPlusFlat' as const }];
  const expected = new Map<string, Float32Array>();
  beforeAll(async () => {
    await useBackend('cpu');
    for (const testCase of CASES) {
      const { model, x } = testCase.build(false);
      for (const [k, options] of OPTIONS.entries()) {
        const r = explain(model, x, CLASSES, options) as tf.Tensor;
        expected.set(`${testCase.name}/${k}`, Float32Array.from(await r.data()));
        r.dispose();
      }
      x.dispose();
      model.dispose();
    }
    await useBackend('webgpu');
  });
  test.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, testCase) => {
    const { model, x } = testCase.build(false);
    try {
      for (const [k, options] of OPTIONS.entries()) {
        const before = tf.memory().numTensors;
        const r = explain(model, x, CLASSES, options) as tf.Tensor;
        expectClose(await r.data(), expected.get(`${testCase.name}/${k}`) as Float32Array, 1e-3, `${testCase.name} / webgpu vs cpu / ${JSON.stringify(options)}`);
        r.dispose();
        expect(tf.memory().numTensors).toBe(before);
      }
    } finally {
      x.dispose();
      model.dispose();
    }
  });
});
