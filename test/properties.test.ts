/**
 * Properties that hold whatever the reference says: conservation on bias-free models, LRP-0 =
 * gradient × input on bias-free ReLU networks, BatchNorm merging keeps the logits, cpu = wasm,
 * the model is never changed, and per-layer sums are reported. Conservation, LRP-0 = gradient ×
 * input and the canonized forward pass also run on webgpu in Node where it can run (at the end of
 * the file: tensors do not move back from webgpu, which cannot read synchronously in Node).
 */
import * as tf from '@tensorflow/tfjs';
import { createExplainer, describePlan, explain, explainWithConservation, ExplainOptions, formatPlan, makeRule, mapParams, registerLayerRule, templateRule } from '../src';
import type { PlanRow } from '../src';
import { planModel } from '../src/plan';
import { runForward } from '../src/forward';
import { expectClose, expectNoLeak, randomizeWeights, take, uniform, useBackend, WEBGPU_IN_NODE } from './helpers';
import { CASES } from './models';

const CONSERVING: Array<[string, ExplainOptions]> = [
  ['epsilon 1e-6', { rule: 'epsilon' }],
  ['zPlus', { rule: 'zPlus' }],
  ['alphaBeta 2/1', { rule: 'alphaBeta' }],
  ['epsilon + flat first', { rule: 'epsilon', firstLayer: 'flat' }],
  ['zPlus + wSquare first', { rule: 'zPlus', firstLayer: 'wSquare' }],
  ['epsilonPlusFlat', { composite: 'epsilonPlusFlat' }],
  ['epsilonAlpha2Beta1', { composite: 'epsilonAlpha2Beta1' }],
];

const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]): tf.SymbolicTensor => layer.apply(x) as tf.SymbolicTensor;

/**
 * Bias-free models in which every unit has positive and negative contributions (tanh keeps hidden
 * values non-zero and of both signs; after ReLU a unit whose active inputs all have positive
 * weights makes alphaBeta create (α−1)·R_j by definition), with inputs in [0.2, 1].
 */
const CONSERVATION_MODELS: Array<[string, () => tf.LayersModel, number[]]> = [
  ['Dense', () => tf.sequential({ layers: [tf.layers.dense({ inputShape: [24], units: 20, activation: 'tanh', useBias: false }), tf.layers.dense({ units: 16, activation: 'tanh', useBias: false }), tf.layers.dense({ units: 4, useBias: false })] }), [24]],
  ['Conv + MaxPool + AvgPool + GlobalAvgPool', () => tf.sequential({ layers: [
    tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 8, kernelSize: 3, padding: 'same', activation: 'tanh', useBias: false }),
    tf.layers.maxPooling2d({ poolSize: 2 }),
    tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'tanh', useBias: false }),
    tf.layers.averagePooling2d({ poolSize: 2 }),
    tf.layers.conv2d({ filters: 8, kernelSize: 1, activation: 'tanh', useBias: false }),
    tf.layers.globalAveragePooling2d({}),
    tf.layers.dense({ units: 4, useBias: false }),
  ] }), [8, 8, 3]],
  ['Add + Concatenate + Flatten', () => {
    const input = tf.input({ shape: [6, 6, 3] });
    const a = apply(tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'tanh', useBias: false }), input);
    const b = apply(tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'tanh', useBias: false }), a);
    const s = apply(tf.layers.add(), [a, b]);
    const c = apply(tf.layers.conv2d({ filters: 4, kernelSize: 1, activation: 'tanh', useBias: false }), input);
    const cat = apply(tf.layers.concatenate(), [s, c]);
    const f = apply(tf.layers.flatten(), cat);
    const d = apply(tf.layers.dense({ units: 16, activation: 'tanh', useBias: false }), f);
    return tf.model({ inputs: input, outputs: apply(tf.layers.dense({ units: 3, useBias: false }), d) });
  }, [6, 6, 3]],
];

/** The suites that also run on webgpu (values read asynchronously). */
const conservationSuite = () => describe('conservation on bias-free models: |Σ R_in − logit| ≤ 1e-4 |logit|', () => {
  for (const [name, build, shape] of CONSERVATION_MODELS) {
    test.each(CONSERVING)(`${name}: %s`, async (_label, options) => {
      const model = build();
      randomizeWeights(model, 31, { biasFree: true });
      const x = uniform([4, ...shape], 41, 0.2, 1);
      const { relevance, conservation } = await explainWithConservation(model, x, 'max', options);
      tf.dispose(relevance);
      conservation.score.forEach((score, i) => {
        expect(Math.abs(score)).toBeGreaterThan(1e-2);
        expect(conservation.outputSum[i]).toBeCloseTo(score, 6);
        expect(Math.abs(conservation.inputSum[i] - score)).toBeLessThanOrEqual(1e-4 * Math.abs(score));
      });
      x.dispose();
      model.dispose();
    });
  }
});

const lrp0Suite = () => describe('LRP-0 on a bias-free ReLU network equals gradient × input', () => {
  test.each([
    ['dense', () => tf.sequential({ layers: [tf.layers.dense({ inputShape: [8], units: 6, activation: 'relu', useBias: false }), tf.layers.dense({ units: 5, activation: 'relu', useBias: false }), tf.layers.dense({ units: 3, useBias: false })] }), [4, 8]],
    ['conv + maxpool', () => tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', useBias: false }), tf.layers.maxPooling2d({ poolSize: 2 }), tf.layers.flatten(), tf.layers.dense({ units: 3, useBias: false })] }), [4, 6, 6, 2]],
  ] as const)('%s', async (_name, build, shape) => {
    const model = build();
    randomizeWeights(model, 5, { biasFree: true });
    const x = uniform([...shape], 9);
    const lrp0 = await take(explain(model, x, 1, { rule: 'zero' }));
    const gxi = await take(tf.tidy(() => tf.mul(x, tf.grad((v: tf.Tensor) => tf.sum(tf.gather(model.predict(v) as tf.Tensor, [1], 1)))(x))));
    expectClose(lrp0, gxi, 1e-4, 'LRP-0 vs gradient x input');
    x.dispose();
    model.dispose();
  });
});

const canonizationSuite = () => describe('canonization keeps the function', () => {
  test.each(CASES.map((c) => [c.name, c]))('forward pass of the canonized graph = model.predict: %s', async (_n, testCase) => {
    const { model, inputs } = testCase.build();
    const plan = planModel(model, {});
    const logits = tf.tidy(() => {
      const rec = runForward(plan, inputs);
      return tf.keep(rec.tensors.get(plan.graph.explained) as tf.Tensor);
    });
    const predicted = tf.tidy(() => {
      const out = model.predict(inputs.length === 1 ? inputs[0] : inputs) as tf.Tensor;
      // undo a stripped final softmax / sigmoid to compare logits
      if (plan.graph.stripped?.activation === 'softmax') return tf.softmax(logits);
      return out;
    });
    const expected = plan.graph.stripped === null ? predicted : tf.tidy(() => (plan.graph.stripped?.activation === 'sigmoid' ? tf.sigmoid(logits) : tf.softmax(logits)));
    const actual = plan.graph.stripped === null ? logits : (model.predict(inputs.length === 1 ? inputs[0] : inputs) as tf.Tensor);
    expectClose(await actual.data(), await expected.data(), 1e-5, testCase.name);
    tf.dispose([logits, predicted, expected, actual, ...inputs]);
    model.dispose();
  });
});

conservationSuite();
lrp0Suite();
canonizationSuite();

describe('BatchNorm merging', () => {
  test('merged Conv+BN and Dense+BN compute the same logits as the model, and the model is unchanged', () => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [5, 5, 2], filters: 3, kernelSize: 3, useBias: true }),
        tf.layers.batchNormalization({ epsilon: 0.01 }),
        tf.layers.reLU(),
        tf.layers.flatten(),
        tf.layers.dense({ units: 4, useBias: false }),
        tf.layers.batchNormalization({ scale: false }),
        tf.layers.dense({ units: 2 }),
      ],
    });
    randomizeWeights(model, 77);
    const weightsBefore = model.getWeights().map((w) => Array.from(w.dataSync()));
    const x = uniform([3, 5, 5, 2], 4);
    const plan = planModel(model, { composite: 'epsilonPlus' });
    expect(plan.nodes.filter((p) => p.node.op.kind === 'merged')).toHaveLength(2);
    const logits = tf.tidy(() => tf.keep(runForward(plan, [x]).tensors.get(plan.graph.explained) as tf.Tensor));
    const predicted = model.predict(x) as tf.Tensor;
    expectClose(logits.dataSync(), predicted.dataSync(), 1e-5, 'merged logits');
    const r = explain(model, x, 0, { composite: 'epsilonPlus' }) as tf.Tensor;
    r.dispose();
    expect(model.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(weightsBefore);
    expect(model.layers.map((l) => l.getClassName())).toEqual(['Conv2D', 'BatchNormalization', 'ReLU', 'Flatten', 'Dense', 'BatchNormalization', 'Dense']);
    tf.dispose([x, logits, predicted]);
  });
});

describe('cpu and wasm agree within 1e-4 max|R|', () => {
  const configs: ExplainOptions[] = [{ rule: 'epsilon' }, { composite: 'epsilonPlusFlat' }, { composite: 'epsilonGammaBox', low: -1, high: 1 }, { composite: 'epsilonAlpha2Beta1' }];
  for (const testCase of CASES) {
    test(testCase.name, async () => {
      const results: Float32Array[][] = [];
      for (const backend of ['cpu', 'wasm']) {
        await useBackend(backend);
        const { model, inputs } = testCase.build();
        results.push(await Promise.all(configs.map((o) => take(explain(model, inputs.length === 1 ? inputs[0] : inputs, testCase.classes, o)))));
        tf.dispose(inputs);
        model.dispose();
      }
      await useBackend('cpu');
      results[0].forEach((cpu, i) => expectClose(results[1][i], cpu, 1e-4, `${testCase.name} config ${i}`));
    });
  }
});

describe('API behaviour', () => {
  const testCase = CASES[1];
  test('classIdx forms: number, per sample, max; a batch equals its samples one by one', async () => {
    const { model, inputs } = testCase.build();
    const [x] = inputs;
    const explainer = createExplainer(model, { composite: 'epsilonPlusFlat' });
    const top = tf.tidy(() => tf.argMax(model.predict(x) as tf.Tensor, 1).arraySync() as number[]);
    const viaMax = await take(explainer.explain(x, 'max'));
    const viaArray = await take(explainer.explain(x, top));
    expect(Array.from(viaMax)).toEqual(Array.from(viaArray));
    const all2 = await take(explainer.explain(x, 2));
    const per = await take(explainer.explain(x, [2, 2, 2]));
    expect(Array.from(all2)).toEqual(Array.from(per));
    const n = x.shape[0];
    const size = x.size / n;
    for (let i = 0; i < n; i++) {
      const xi = tf.slice(x, [i], [1]);
      const single = await take(explainer.explain(xi, [top[i]]));
      expectClose(single, viaArray.subarray(i * size, (i + 1) * size), 1e-5, `sample ${i}`);
      xi.dispose();
    }
    tf.dispose(inputs);
  });

  test("outputRelevance 'one' and a custom tensor", async () => {
    const { model, inputs } = testCase.build();
    const [x] = inputs;
    const logit = await take(explain(model, x, [0, 1, 2]));
    const one = await explainWithConservation(model, x, [0, 1, 2], { outputRelevance: 'one' });
    expect(one.conservation.outputSum).toEqual([1, 1, 1]);
    const oneData = await take(one.relevance);
    // the rules are linear in R: logit mode = one mode × score
    const size = x.size / 3;
    one.conservation.score.forEach((s, i) => {
      expectClose(logit.subarray(i * size, (i + 1) * size), oneData.subarray(i * size, (i + 1) * size).map((v) => v * s), 1e-4, `sample ${i}`);
    });
    const custom = tf.tensor2d([[1, 0, 0], [0, 1, 0], [0, 0, 1]]);
    const viaTensor = await take(explain(model, x, 0, { outputRelevance: custom }));
    expectClose(viaTensor, oneData, 1e-6, 'custom tensor = one-hot');
    tf.dispose([custom, ...inputs]);
  });

  test('per-layer conservation: sums per node, upper of each node = lower of the next in a chain', async () => {
    const { model, inputs } = CASES[0].build(true);
    const { relevance, conservation } = await explainWithConservation(model, inputs[0], [0, 1, 2], { rule: 'epsilon', perLayer: true });
    tf.dispose(relevance);
    const layers = conservation.layers ?? [];
    expect(layers.map((l) => l.layer)).toEqual(expect.arrayContaining([expect.stringMatching(/dense/)]));
    for (let i = 0; i + 1 < layers.length; i++) {
      layers[i].upper.forEach((u, s) => expect(u).toBeCloseTo(layers[i + 1].lower[s], 5));
    }
    const last = layers[layers.length - 1];
    last.upper.forEach((u, s) => expect(u).toBeCloseTo(conservation.score[s], 5));
    layers[0].lower.forEach((l, s) => expect(l).toBeCloseTo(conservation.inputSum[s], 5));
    tf.dispose(inputs);
  });

  test('with biases, absorbed relevance is reported per layer', async () => {
    const { model, inputs } = CASES[0].build(false);
    const { relevance, conservation } = await explainWithConservation(model, inputs[0], 0, { rule: 'epsilon', epsilon: 0.25, perLayer: true });
    tf.dispose(relevance);
    const absorbed = (conservation.layers ?? []).map((l) => l.absorbed[0]);
    const total = absorbed.reduce((a, b) => a + b, 0);
    expect(total).toBeCloseTo(conservation.absorbed[0], 5);
    expect(Math.abs(conservation.absorbed[0])).toBeGreaterThan(1e-4);
    tf.dispose(inputs);
  });

  test('multi-output model: explains the chosen output', async () => {
    const input = tf.input({ shape: [4] });
    const h = tf.layers.dense({ units: 5, activation: 'relu' }).apply(input) as tf.SymbolicTensor;
    const o1 = tf.layers.dense({ units: 3, activation: 'softmax', name: 'o1' }).apply(h) as tf.SymbolicTensor;
    const o2 = tf.layers.dense({ units: 2, name: 'o2' }).apply(h) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: [o1, o2] });
    randomizeWeights(model, 3);
    const x = uniform([2, 4], 8);
    const single = tf.model({ inputs: input, outputs: o2 });
    const a = await take(explain(model, x, 1, { output: 1 }));
    const b = await take(explain(single, x, 1));
    expect(Array.from(a)).toEqual(Array.from(b));
    x.dispose();
  });

  test('every public call is leak-free', async () => {
    const { model, inputs } = CASES[12].build();
    const [x] = inputs;
    const explainer = createExplainer(model, { composite: 'epsilonGammaBox', low: -1, high: 1 });
    await expectNoLeak(() => tf.dispose(explainer.explain(x, 'max')));
    await expectNoLeak(() => tf.dispose(explain(model, x, [0, 1, 2], { composite: 'epsilonPlusFlat' })));
    await expectNoLeak(async () => tf.dispose((await explainer.explainWithConservation(x, 1, { perLayer: true })).relevance));
    tf.dispose(inputs);
  });
});

describe('layers beyond the reference', () => {
  test('PReLU passes relevance unchanged: equals the reference model with LeakyReLU of the same slope', async () => {
    const build = (act: () => tf.layers.Layer) => tf.sequential({ layers: [tf.layers.dense({ inputShape: [5], units: 6 }), act(), tf.layers.dense({ units: 3 })] });
    const withPrelu = build(() => tf.layers.prelu({ alphaInitializer: tf.initializers.constant({ value: 0.2 }) }));
    const withLeaky = build(() => tf.layers.leakyReLU({ alpha: 0.2 }));
    randomizeWeights(withLeaky, 8);
    withPrelu.layers[0].setWeights(withLeaky.layers[0].getWeights());
    withPrelu.layers[2].setWeights(withLeaky.layers[2].getWeights());
    withPrelu.layers[1].setWeights([tf.fill([6], 0.2)]);
    const x = uniform([3, 5], 2);
    for (const options of [{ rule: 'epsilon' }, { rule: 'gamma' }] as ExplainOptions[]) {
      const a = await take(explain(withPrelu, x, [0, 1, 2], options));
      const b = await take(explain(withLeaky, x, [0, 1, 2], options));
      expectClose(a, b, 1e-6, 'PReLU vs LeakyReLU');
    }
    x.dispose();
  });

  test('a softmax inside the network passes relevance like any activation (LRP_RULES §9)', async () => {
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: 'softmax', name: 'attn' }), tf.layers.dense({ units: 2 })] });
    const x = uniform([2, 4], 1);
    const base = await take(explain(model, x, 0));
    const mapped = await take(explain(model, x, 0, { layerRules: { 'attn:softmax': 'pass' } }));
    expect(base.every(Number.isFinite)).toBe(true);
    expectClose(base, mapped, 0, 'softmax inside: base map vs pass');
    x.dispose();
  });

  test('describe says what happened: fused activation split, BatchNorm merged, softmax stripped, Add split', () => {
    const input = tf.input({ shape: [6, 6, 2] });
    const c1 = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', name: 'conv1', useBias: false }).apply(input) as tf.SymbolicTensor;
    const bn = tf.layers.batchNormalization({ name: 'bn1' }).apply(c1) as tf.SymbolicTensor;
    const r1 = tf.layers.reLU({ name: 'relu1' }).apply(bn) as tf.SymbolicTensor;
    const c2 = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv2' }).apply(r1) as tf.SymbolicTensor;
    const s = tf.layers.add({ name: 'sum' }).apply([r1, c2]) as tf.SymbolicTensor;
    const g = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(s) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 2, activation: 'softmax', name: 'logits' }).apply(g) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    const rows = createExplainer(model, { composite: 'epsilonPlusFlat' }).describe();
    const row = (name: string) => rows.find((r) => r.layer === name);
    expect(row('conv1')).toMatchObject({ rule: 'flat(stabilizer=0.000001)', reason: 'composite epsilonPlusFlat (firstLinear)' });
    expect(row('conv1')?.notes.join()).toMatch(/BatchNorm 'bn1' merged into this layer/);
    expect(row('bn1')?.notes.join()).toMatch(/merged into the layer before it/);
    expect(row('conv2')?.rule).toMatch(/^zPlus/);
    expect(row('conv2:relu')).toMatchObject({ rule: 'pass', group: 'activation' });
    expect(row('conv2:relu')?.notes.join()).toMatch(/fused relu split from Conv2D/);
    expect(row('sum')).toMatchObject({ rule: 'norm(stabilizer=0.000001)' });
    expect(row('sum')?.notes.join()).toMatch(/in proportion/);
    expect(row('gap')?.rule).toMatch(/^norm/);
    expect(row('logits')?.rule).toMatch(/^epsilon/);
    expect(row('logits:softmax')).toMatchObject({ rule: '(stripped)' });
    expect(formatPlan(rows).split('\n')).toHaveLength(rows.length + 2);
  });

  test('formatPlan says a shared op scope once and does not repeat a note equal to the reason', () => {
    const rows: PlanRow[] = [
      { layer: 'StatefulPartitionedCall/model_1/conv2d_1/Conv2D', className: 'Conv2D', group: 'conv', rule: 'epsilon', reason: 'composite x', notes: [] },
      { layer: 'StatefulPartitionedCall/model_1/max_pooling2d_1/MaxPool', className: 'MaxPool', group: 'maxPool', rule: 'gradient', reason: 'relevance to the window maximum', notes: ['relevance to the window maximum', 'other'] },
    ];
    const lines = formatPlan(rows).split('\n');
    expect(lines[0]).toBe("(every layer name below starts with 'StatefulPartitionedCall/model_1/')");
    expect(lines[3]).toMatch(/^conv2d_1\/Conv2D +Conv2D +epsilon +composite x$/);
    expect(lines[4]).toMatch(/^max_pooling2d_1\/MaxPool +MaxPool +gradient +relevance to the window maximum {2}other$/);
    // layer names without a shared scope are printed whole
    expect(formatPlan([rows[0], { ...rows[1], layer: 'pool' }]).split('\n')[2]).toMatch(/^StatefulPartitionedCall\/model_1\/conv2d_1\/Conv2D /);
  });

  test('Conv1D with causal padding is refused with a clear error (tfjs-layers cannot run it either)', () => {
    const model = tf.sequential({ layers: [tf.layers.conv1d({ inputShape: [10, 3], filters: 8, kernelSize: 3, padding: 'causal', name: 'causal_conv' })] });
    expect(() => createExplainer(model)).toThrow(/'causal_conv' \(Conv1D\) uses causal padding/);
  });
});

describe('an explainer keeps weight-derived tensors between calls', () => {
  test('constant count across calls, current weights after setWeights, all released by dispose', async () => {
    const { model, inputs } = CASES[6].build(); // Conv + merged BatchNorm + depthwise
    const [x] = inputs;
    const before = tf.memory().numTensors;
    const explainer = createExplainer(model, { composite: 'epsilonGammaBox', low: -1, high: 1 });
    const first = await take(explainer.explain(x, [0, 1, 2]));
    const held = tf.memory().numTensors - before;
    expect(held).toBeGreaterThan(0);
    const second = await take(explainer.explain(x, [0, 1, 2]));
    expect(tf.memory().numTensors - before).toBe(held);
    expect(Array.from(second)).toEqual(Array.from(first));
    // new weights: the explainer must use them (nothing stale), and hold no more than before
    randomizeWeights(model, 999);
    const fresh = await take(explain(model, x, [0, 1, 2], { composite: 'epsilonGammaBox', low: -1, high: 1 }));
    const afterChange = await take(explainer.explain(x, [0, 1, 2]));
    expectClose(afterChange, fresh, 1e-6, 'after setWeights');
    expect(Math.max(...afterChange.map((v, i) => Math.abs(v - first[i])))).toBeGreaterThan(1e-3);
    explainer.dispose();
    expect(explainer.isDisposed).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => explainer.explain(x, 0)).toThrow(/disposed/);
    tf.dispose(inputs);
  });
});

describe('review regressions', () => {
  test('a nested model used twice (Siamese) is two copies of its sub-graph', () => {
    const inner = tf.sequential({ name: 'tower', layers: [tf.layers.dense({ inputShape: [4], units: 5, activation: 'relu', useBias: false }), tf.layers.dense({ units: 3, useBias: false })] });
    const a = tf.input({ shape: [4] });
    const b = tf.input({ shape: [4] });
    const joined = tf.layers.concatenate().apply([inner.apply(a) as tf.SymbolicTensor, inner.apply(b) as tf.SymbolicTensor]) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 2, useBias: false }).apply(joined) as tf.SymbolicTensor;
    const model = tf.model({ inputs: [a, b], outputs: out });
    randomizeWeights(model, 17, { biasFree: true });
    const xs = [uniform([3, 4], 1), uniform([3, 4], 2)];
    const plan = planModel(model);
    const logits = tf.tidy(() => tf.keep(runForward(plan, xs).tensors.get(plan.graph.explained) as tf.Tensor));
    expectClose(logits.dataSync(), (model.predict(xs) as tf.Tensor).dataSync(), 1e-5, 'Siamese forward');
    const lrp0 = explain(model, xs, [0, 1, 0], { rule: 'zero' }) as tf.Tensor[];
    const grads = tf.tidy(() => tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(model.apply([p, q]) as tf.Tensor, tf.oneHot(tf.tensor1d([0, 1, 0], 'int32'), 2))))(xs));
    lrp0.forEach((r, i) => expectClose(r.dataSync(), tf.mul(grads[i], xs[i]).dataSync(), 1e-4, `input ${i}`));
    tf.dispose([logits, ...lrp0, ...grads, ...xs]);
  });

  test('a custom parameter map that returns its input leaves the model intact', () => {
    const model = CASES[0].build().model;
    const x = uniform([2, 6], 3);
    const identityRule = templateRule('same', {}, { forwards: [{ input: 'identity', params: mapParams('same', (t) => t) }], gradients: (R, [o]) => [tf.div(R, o as tf.Tensor)], reducer: 'inputTimesGradient' });
    const explainer = createExplainer(model, { rule: identityRule });
    tf.dispose([explainer.explain(x, 0), explainer.explain(x, 1)]);
    explainer.dispose();
    const y = model.predict(x) as tf.Tensor;
    expect(y.dataSync().every(Number.isFinite)).toBe(true);
    tf.dispose([x, y]);
  });

  test('BatchNormalization with a positive channel axis (Keras TF2 saves [3]) is merged', async () => {
    const model = tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [5, 5, 2], filters: 3, kernelSize: 3, useBias: false }), tf.layers.batchNormalization({ axis: 3 }), tf.layers.flatten(), tf.layers.dense({ units: 2 })] });
    randomizeWeights(model, 5);
    expect(describePlan(planModel(model)).find((r) => r.className === 'BatchNormalization')?.notes.join()).toMatch(/merged into the layer before it/);
    const x = uniform([2, 5, 5, 2], 6);
    expect((await take(explain(model, x, 0))).every(Number.isFinite)).toBe(true);
    x.dispose();
  });

  test('firstLayer replaces a composite\'s own first-layer rule', () => {
    const { model } = CASES[1].build();
    const rows = describePlan(planModel(model, { composite: 'epsilonGammaBox', firstLayer: 'flat' }));
    expect(rows[0].rule).toMatch(/^flat/);
    expect(rows.some((r) => r.rule.startsWith('zBox'))).toBe(false);
  });

  test('the gradient fallback warns once per layer, not once per call', () => {
    class Doubler extends tf.layers.Layer {
      static className = 'Doubler';
      override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
        return tf.mul(Array.isArray(inputs) ? inputs[0] : inputs, 2);
      }
    }
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 2 }), new Doubler({})] });
    const x = uniform([1, 3], 1);
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      for (let i = 0; i < 3; i++) tf.dispose(explain(model, x, 0, { unknownLayers: 'gradient' }));
      expect(warn).toHaveBeenCalledTimes(1);
    } finally {
      warn.mockRestore();
    }
    x.dispose();
  });

  test('registerLayerRule refuses built-in classes whose rule comes from the composite', () => {
    expect(() => registerLayerRule('Dense', makeRule('zPlus'))).toThrow(/options.layerRules = \{ Dense: rule \}/);
  });
});

// Last in the file: tensors do not move back from webgpu (no synchronous read in Node).
if (WEBGPU_IN_NODE) {
  describe('webgpu', () => {
    beforeAll(async () => {
      await useBackend('webgpu');
    });
    conservationSuite();
    lrp0Suite();
    canonizationSuite();
  });
}
