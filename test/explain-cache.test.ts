/**
 * The one-shot cache (src/explainCache.ts): repeated `explain()` calls reuse the plan and the
 * weight-derived tensors; a changed option, new weights, a new registry entry or rule objects of
 * another identity are never served a stale plan; the held tensors are counted and released
 * deterministically. Numbers against the float64 reference (test/reference/lrp64.ts).
 *
 * test/setup.ts turns the cache off for the rest of the suite; it is on here.
 */
import * as tf from '@tensorflow/tfjs';
import { conceptRelevance, createExplainer, describe as describeModel, epsilonRule, explain, explainCacheInfo, explainLayers, explainWithConservation, LrpArgumentError, LrpModelError, registerRule, releaseExplainCache, setExplainCacheSize } from '../src';
import type { ExplainOptions } from '../src';
import { explainCachePlanCount } from '../src/explainCache';
import { DerivedTensors } from '../src/ops/derived';
import { expectClose, expectError, randomizeWeights, uniform } from './helpers';
import { refGraphFromModel } from './reference/fromModel';
import { lrp64, refRules, type RefRuleSpec } from './reference/lrp64';

const CLASSES = [1, 3, 0];

/** conv → BatchNorm (merged into the conv: a derived kernel) → maxPool → flatten → dense → dense. */
function buildModel(seed: number): tf.LayersModel {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ inputShape: [6, 6, 2], filters: 4, kernelSize: 3, padding: 'same', activation: 'linear', name: 'conv' }));
  m.add(tf.layers.batchNormalization({ name: 'bn' }));
  m.add(tf.layers.activation({ activation: 'relu', name: 'relu' }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2, name: 'pool' }));
  m.add(tf.layers.flatten({ name: 'flat' }));
  m.add(tf.layers.dense({ units: 8, activation: 'relu', name: 'fc1' }));
  m.add(tf.layers.dense({ units: 4, name: 'fc2' }));
  randomizeWeights(m, seed);
  return m;
}

/** Tensors not held by the cache. */
const live = (): number => tf.memory().numTensors - explainCacheInfo().tensors;

async function reference(model: tf.LayersModel, x: tf.Tensor, spec: RefRuleSpec): Promise<Float64Array> {
  const graph = refGraphFromModel(model);
  const xs = { shape: x.shape.slice(), data: Float64Array.from(await x.data()) };
  return lrp64(graph, [xs], CLASSES, refRules(graph, spec)).relevance[0].data;
}

async function read(r: tf.Tensor | tf.Tensor[]): Promise<Float32Array> {
  const t = r as tf.Tensor;
  try {
    return Float32Array.from(await t.data());
  } finally {
    t.dispose();
  }
}

describe('one-shot explain cache', () => {
  let model: tf.LayersModel;
  let x: tf.Tensor;

  beforeEach(() => {
    setExplainCacheSize(4);
    releaseExplainCache();
    model = buildModel(11);
    x = uniform([3, 6, 6, 2], 5, -1, 1);
  });

  afterEach(() => {
    releaseExplainCache();
    model.dispose();
    x.dispose();
  });

  afterAll(() => setExplainCacheSize(0));

  test('a repeated call plans once and reuses the derived tensors; numbers = float64 reference', async () => {
    const options: ExplainOptions = { composite: 'epsilonPlus' };
    const before = tf.memory().numTensors;
    const plans = explainCachePlanCount();
    const first = await read(explain(model, x, CLASSES, options));
    expect(explainCachePlanCount()).toBe(plans + 1);
    const info = explainCacheInfo();
    expect(info.entries).toBe(1);
    // merged BatchNorm kernel and bias, W⁺ of both dense layers, the conv's flipped kernel, …
    expect(info.tensors).toBeGreaterThan(2);
    expect(tf.memory().numTensors).toBe(before + info.tensors);
    // a hit derives nothing: no compute() of the store runs
    const original = DerivedTensors.prototype.get;
    let computed = 0;
    const spy = jest.spyOn(DerivedTensors.prototype, 'get').mockImplementation(function (this: DerivedTensors, purpose, sources, compute) {
      return original.call(this, purpose, sources, () => {
        computed++;
        return compute();
      });
    });
    try {
      for (let i = 0; i < 5; i++) {
        const again = await read(explain(model, x, CLASSES, { composite: 'epsilonPlus' }));
        expect(Array.from(again)).toEqual(Array.from(first));
      }
      expect(spy).toHaveBeenCalled();
      expect(computed).toBe(0);
    } finally {
      spy.mockRestore();
    }
    expect(explainCachePlanCount()).toBe(plans + 1);
    expect(explainCacheInfo()).toEqual(info);
    expect(tf.memory().numTensors).toBe(before + info.tensors);
    expectClose(first, await reference(model, x, { composite: 'epsilonPlus' }), 1e-4, 'cached epsilonPlus');
    releaseExplainCache();
    expect(explainCacheInfo().tensors).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
  });

  test('a changed option plans again and gives its own numbers; the old options still hit', async () => {
    const plans = explainCachePlanCount();
    const small = await read(explain(model, x, CLASSES, { rule: 'epsilon', epsilon: 1e-6 }));
    const large = await read(explain(model, x, CLASSES, { rule: 'epsilon', epsilon: 0.5 }));
    const alpha = await read(explain(model, x, CLASSES, { composite: 'epsilonAlpha2Beta1' }));
    expect(explainCachePlanCount()).toBe(plans + 3);
    // per-call options (checkInput, batchSize) and key order do not make a new plan
    const again = await read(explain(model, x, CLASSES, { epsilon: 1e-6, rule: 'epsilon', checkInput: false, batchSize: 2 }));
    expect(explainCachePlanCount()).toBe(plans + 3);
    expectClose(small, await reference(model, x, { rule: 'epsilon', epsilon: 1e-6 }), 1e-4, 'epsilon 1e-6');
    expectClose(large, await reference(model, x, { rule: 'epsilon', epsilon: 0.5 }), 1e-4, 'epsilon 0.5');
    expectClose(alpha, await reference(model, x, { composite: 'epsilonAlpha2Beta1' }), 1e-4, 'epsilonAlpha2Beta1');
    expectClose(again, small, 1e-5, 'chunked, unchecked = one pass');
    expect(Math.max(...large.map((v, i) => Math.abs(v - small[i])))).toBeGreaterThan(1e-3);
  });

  test('new weights (setWeights, a training step) are explained with the current weights, without replanning', async () => {
    const options: ExplainOptions = { composite: 'epsilonGammaBox', low: -1, high: 1 };
    const spec: RefRuleSpec = { composite: 'epsilonGammaBox', low: -1, high: 1 };
    const plans = explainCachePlanCount();
    const old = await read(explain(model, x, CLASSES, options));
    const held = explainCacheInfo().tensors;
    const base = live();

    const donor = buildModel(99);
    model.setWeights(donor.getWeights());
    donor.dispose();
    const afterSet = await read(explain(model, x, CLASSES, options));
    expectClose(afterSet, await reference(model, x, spec), 1e-4, 'after setWeights');
    expect(Math.max(...afterSet.map((v, i) => Math.abs(v - old[i])))).toBeGreaterThan(1e-3);

    // one SGD step on the variables (assign: new dataIds, the same variables)
    const optimizer = tf.train.sgd(0.5);
    const y = tf.oneHot(tf.tensor1d(CLASSES, 'int32'), 4);
    optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.predict(x) as tf.Tensor) as tf.Scalar);
    tf.dispose([y]);
    optimizer.dispose();
    const afterTraining = live();
    const afterStep = await read(explain(model, x, CLASSES, options));
    const fresh = createExplainer(model, options);
    const expected = await read(fresh.explain(x, CLASSES));
    fresh.dispose();
    expect(Array.from(afterStep)).toEqual(Array.from(expected));
    expectClose(afterStep, await reference(model, x, spec), 1e-4, 'after a training step');
    expect(Math.max(...afterStep.map((v, i) => Math.abs(v - afterSet[i])))).toBeGreaterThan(1e-6);

    expect(explainCachePlanCount()).toBe(plans + 1);
    // the tensors derived from the old weights were released when replaced
    expect(explainCacheInfo().tensors).toBe(held);
    expect(live()).toBe(afterTraining);
    expect(afterTraining).toBeGreaterThanOrEqual(base);
  });

  test('rule objects of another identity in layerRules do not share a plan; equal string maps do', async () => {
    const plans = explainCachePlanCount();
    const soft = epsilonRule({ epsilon: 1e-6 });
    const hard = epsilonRule({ epsilon: 5 });
    const a = await read(explain(model, x, CLASSES, { layerRules: { fc1: soft } }));
    const b = await read(explain(model, x, CLASSES, { layerRules: { fc1: hard } }));
    expect(explainCachePlanCount()).toBe(plans + 2);
    expect(Math.max(...a.map((v, i) => Math.abs(v - b[i])))).toBeGreaterThan(1e-4);
    // the same rule object again: a hit with the same numbers
    const a2 = await read(explain(model, x, CLASSES, { layerRules: { fc1: soft } }));
    expect(Array.from(a2)).toEqual(Array.from(a));
    // two maps of rule names with the same content (two objects): one plan
    await read(explain(model, x, CLASSES, { layerRules: { fc2: 'zPlus' } }));
    await read(explain(model, x, CLASSES, { layerRules: { fc2: 'zPlus' } }));
    expect(explainCachePlanCount()).toBe(plans + 3);
    const fresh = createExplainer(model, { layerRules: { fc1: hard } });
    expect(Array.from(b)).toEqual(Array.from(await read(fresh.explain(x, CLASSES))));
    fresh.dispose();
  });

  test('a changed layer list (pop and add) makes a new plan with the new layer', async () => {
    const seq = model as tf.Sequential;
    const plans = explainCachePlanCount();
    const before = await read(explain(seq, x, CLASSES, { rule: 'epsilon' }));
    seq.pop();
    seq.add(tf.layers.dense({ units: 4, name: 'fc3' }));
    randomizeWeights(seq, 17);
    const after = await read(explain(seq, x, CLASSES, { rule: 'epsilon' }));
    expect(explainCachePlanCount()).toBe(plans + 2);
    expect(describeModel(seq, { rule: 'epsilon' }).some((row) => row.layer.startsWith('fc3'))).toBe(true);
    expectClose(after, await reference(seq, x, { rule: 'epsilon' }), 1e-4, 'after pop and add');
    expect(Math.max(...after.map((v, i) => Math.abs(v - before[i])))).toBeGreaterThan(1e-4);
  });

  test('a rule registered after planning makes a new plan', async () => {
    const plans = explainCachePlanCount();
    await read(explain(model, x, CLASSES, { rule: 'epsilon' }));
    registerRule('cacheTestRule', () => epsilonRule({ epsilon: 1 }, 'cacheTestRule'));
    await read(explain(model, x, CLASSES, { rule: 'epsilon' }));
    expect(explainCachePlanCount()).toBe(plans + 2);
  });

  test('no leak over many calls; LRU eviction, releaseExplainCache and setExplainCacheSize(0) release everything', async () => {
    const before = tf.memory().numTensors;
    const sets: ExplainOptions[] = [{ rule: 'epsilon' }, { composite: 'epsilonPlus' }, { composite: 'epsilonPlusFlat' }, { composite: 'epsilonAlpha2Beta1' }, { composite: 'epsilonGammaBox', low: -1, high: 1 }, { rule: 'zPlus' }];
    let base: number | null = null;
    for (let i = 0; i < 18; i++) {
      await read(explain(model, x, CLASSES, sets[i % sets.length]));
      expect(explainCacheInfo().entries).toBeLessThanOrEqual(4);
      if (base === null) base = live();
      expect(live()).toBe(base);
    }
    expect(base).toBe(before);
    expect(explainCacheInfo().entries).toBe(4);
    setExplainCacheSize(2);
    expect(explainCacheInfo().entries).toBe(2);
    expect(live()).toBe(before);
    setExplainCacheSize(0);
    expect(explainCacheInfo()).toEqual({ entries: 0, tensors: 0, maxEntries: 0 });
    expect(tf.memory().numTensors).toBe(before);
    // off: a call keeps nothing
    await read(explain(model, x, CLASSES, { rule: 'epsilon' }));
    expect(tf.memory().numTensors).toBe(before);
    expect(() => setExplainCacheSize(-1)).toThrow(LrpArgumentError);
  });

  test('error paths leak nothing: a failing first call leaves no entry, a failing later call keeps it', async () => {
    const before = tf.memory().numTensors;
    const bad = tf.tensor4d(new Float32Array(3 * 6 * 6 * 2).fill(NaN), [3, 6, 6, 2]);
    const options: ExplainOptions = { composite: 'epsilonPlus' };
    // the NaN check is read after the pass (derived tensors made): the new entry is released
    await expectError(() => explainWithConservation(model, bad, CLASSES, options), LrpArgumentError, /NaN|Infinity/);
    expect(explainCacheInfo().entries).toBe(0);
    await read(explain(model, x, CLASSES, options));
    const info = explainCacheInfo();
    await expectError(() => explainWithConservation(model, bad, CLASSES, options), LrpArgumentError, /NaN|Infinity/);
    const wrong = tf.zeros([2, 5, 5, 2]);
    await expectError(() => explain(model, wrong, CLASSES, options), LrpArgumentError);
    wrong.dispose();
    await expectError(() => explain(model, x, [9, 9, 9], options), LrpArgumentError);
    expect(explainCacheInfo()).toEqual(info);
    bad.dispose();
    releaseExplainCache();
    expect(tf.memory().numTensors).toBe(before);
  });

  test('a disposed model: its entry is released by the next call, and explaining it throws', async () => {
    const other = buildModel(3);
    await read(explain(other, x, CLASSES, { composite: 'epsilonPlus' }));
    await read(explain(model, x, CLASSES, { composite: 'epsilonPlus' }));
    const both = explainCacheInfo();
    expect(both.entries).toBe(2);
    other.dispose();
    await read(explain(model, x, CLASSES, { composite: 'epsilonPlus' }));
    expect(explainCacheInfo().entries).toBe(1);
    expect(explainCacheInfo().tensors).toBeLessThan(both.tensors);
    expect(() => explain(other, x, CLASSES, { composite: 'epsilonPlus' })).toThrow(LrpModelError);
    expect(explainCacheInfo().entries).toBe(1);
  });

  test('explainWithConservation, explainLayers, conceptRelevance and describe share the cached plan', async () => {
    const options: ExplainOptions = { composite: 'epsilonPlusFlat' };
    const plans = explainCachePlanCount();
    const expected = await reference(model, x, { composite: 'epsilonPlusFlat' });
    for (let i = 0; i < 2; i++) {
      const { relevance, conservation } = await explainWithConservation(model, x, CLASSES, options);
      expectClose(await read(relevance), expected, 1e-4, 'explainWithConservation');
      expect(conservation.classIdx).toEqual(CLASSES);
      expect(describeModel(model, options).length).toBeGreaterThan(0);
    }
    expect(explainCachePlanCount()).toBe(plans + 1);
    const explainer = createExplainer(model, options);
    for (let i = 0; i < 2; i++) {
      const layers = explainLayers(model, x, CLASSES, ['fc1'], options);
      const own = explainer.explainLayers(x, CLASSES, ['fc1']);
      expect(Array.from(await layers.layers.fc1.data())).toEqual(Array.from(await own.layers.fc1.data()));
      expectClose(await read(layers.input), expected, 1e-4, 'explainLayers input');
      tf.dispose([layers.layers.fc1, own.layers.fc1, own.input as tf.Tensor]);
      const c = conceptRelevance(model, x, CLASSES, 'conv', options);
      expect(c.shape).toEqual([3, 4]);
      c.dispose();
    }
    explainer.dispose();
    expect(explainCachePlanCount()).toBe(plans + 1);
  });
});
