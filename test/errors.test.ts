/** Every error of the public API: typed, with a message naming the culprit and the fix, no leaks. */
import * as tf from '@tensorflow/tfjs';
import { createExplainer, describe as describePlanOf, explain, explainWithConservation, LrpArgumentError, LrpLayerError, LrpModelError, LrpRuleError, registerLayerRule, unregisterLayer, passRule } from '../src';
import { randomizeWeights, uniform, useBackend, expectError } from './helpers';

/** A custom layer class tfjs-lrp does not know. */
class ScaleLayer extends tf.layers.Layer {
  static className = 'ScaleLayer';
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    return tf.tidy(() => tf.mul(x, 2));
  }
  override getClassName(): string {
    return 'ScaleLayer';
  }
}
tf.serialization.registerClass(ScaleLayer);

function smallModel(): tf.LayersModel {
  const m = tf.sequential();
  m.add(tf.layers.dense({ inputShape: [4], units: 3, activation: 'relu', name: 'hidden' }));
  m.add(tf.layers.dense({ units: 2, activation: 'softmax', name: 'out' }));
  randomizeWeights(m, 1);
  return m;
}

function customModel(): tf.LayersModel {
  const m = tf.sequential();
  m.add(tf.layers.dense({ inputShape: [4], units: 3, name: 'd1' }));
  m.add(new ScaleLayer({ name: 'scale' }));
  m.add(tf.layers.dense({ units: 2, name: 'd2' }));
  randomizeWeights(m, 2);
  return m;
}


beforeAll(async () => {
  await useBackend('cpu');
});

describe('input errors', () => {
  const model = smallModel();
  const good = uniform([2, 4], 3);
  afterAll(() => good.dispose());

  test('wrong rank names the expected shape and the fix', async () => {
    const x = uniform([4], 1);
    const e = await expectError(() => explain(model, x, 0), LrpArgumentError, /rank 2/, /\[batch, 4\]/, /expandDims\(0\)/);
    expect((e as LrpArgumentError).argument).toBe('input');
    x.dispose();
  });
  test('wrong shape names the axis', async () => {
    const x = uniform([2, 5], 1);
    await expectError(() => explain(model, x, 0), LrpArgumentError, /axis 1 is 5, the model needs 4/);
    x.dispose();
  });
  test('wrong count of inputs', async () => {
    await expectError(() => explain(model, [good, good], 0), LrpArgumentError, /expected 1 tensor/, /got 2/);
  });
  test('not a tensor', async () => {
    await expectError(() => explain(model, [1, 2] as unknown as tf.Tensor, 0), LrpArgumentError, /expected 1 tensor|expected a tf.Tensor/);
    await expectError(() => explain(model, 'x' as unknown as tf.Tensor, 0), LrpArgumentError, /expected a tf.Tensor/);
  });
  test('NaN and Infinity: explain() returns, reading the result throws (no sync read before)', async () => {
    const nan = tf.tensor2d([[1, NaN, 0, 0]]);
    const inf = tf.tensor2d([[0, 0, 0, 0], [1, Infinity, 0, 0]]);
    /** Explains, reads the result as `read` does, and disposes it (expectError checks the leaks). */
    const readOf = (x: tf.Tensor, read: (r: tf.Tensor) => unknown) => async () => {
      const r = explain(model, x, 0) as tf.Tensor;
      try {
        await Promise.resolve(read(r));
      } finally {
        r.dispose();
      }
    };
    const e = await expectError(readOf(nan, (r) => r.data()), LrpArgumentError, /NaN or Infinity in sample\(s\) 0\./, /checkInput/);
    expect((e as LrpArgumentError).argument).toBe('input');
    await expectError(readOf(nan, (r) => r.dataSync()), LrpArgumentError, /NaN or Infinity in sample\(s\) 0\./, /checkInput/);
    await expectError(readOf(inf, (r) => r.array()), LrpArgumentError, /NaN or Infinity in sample\(s\) 1\./);
    await expectError(readOf(inf, (r) => r.arraySync()), LrpArgumentError, /NaN or Infinity in sample\(s\) 1\./);
    await expectError(() => explainWithConservation(model, inf, 0), LrpArgumentError, /NaN or Infinity in sample\(s\) 1\./, /checkInput/);
    tf.dispose([nan, inf]);
  });
  test('classIdx out of range, negative, non-integer, wrong length, wrong type', async () => {
    await expectError(() => explain(model, good, 2), LrpArgumentError, /classIdx/, /\[0, 1\]/, /got 2/);
    await expectError(() => explain(model, good, -1), LrpArgumentError, /got -1/);
    await expectError(() => explain(model, good, 0.5), LrpArgumentError, /integer/);
    await expectError(() => explain(model, good, [0]), LrpArgumentError, /1 entries but the batch has 2/);
    await expectError(() => explain(model, good, [0, 7]), LrpArgumentError, /classIdx\[1\]/);
    await expectError(() => explain(model, good, 'top' as unknown as 'max'), LrpArgumentError, /'max'/);
  });
  test('multi-input model given one tensor', async () => {
    const a = tf.input({ shape: [2] });
    const b = tf.input({ shape: [3] });
    const out = tf.layers.dense({ units: 2 }).apply(tf.layers.concatenate().apply([a, b]) as tf.SymbolicTensor) as tf.SymbolicTensor;
    const m = tf.model({ inputs: [a, b], outputs: out });
    const x = uniform([1, 2], 1);
    await expectError(() => explain(m, x, 0), LrpArgumentError, /2 inputs/, /array of 2 tensors/);
    const y = uniform([2, 3], 1);
    await expectError(() => explain(m, [x, y], 0), LrpArgumentError, /batch size 2 differs/);
    tf.dispose([x, y]);
  });
});

describe('rule and option errors', () => {
  const model = smallModel();
  const x = uniform([2, 4], 3);
  afterAll(() => x.dispose());

  test('unknown rule and composite names list the known ones', async () => {
    await expectError(() => explain(model, x, 0, { rule: 'epsilom' as 'epsilon' }), LrpRuleError, /Unknown rule 'epsilom'/, /epsilon, zero, zPlus/);
    await expectError(() => explain(model, x, 0, { composite: 'plusFlat' as 'epsilonPlus' }), LrpRuleError, /Unknown composite 'plusFlat'/, /epsilonPlusFlat/);
  });
  test('alpha - beta != 1', async () => {
    await expectError(() => explain(model, x, 0, { rule: 'alphaBeta', alpha: 2, beta: 2 }), LrpRuleError, /alpha - beta must be 1/, /alpha=2, beta=2/);
  });
  test('negative epsilon and gamma', async () => {
    await expectError(() => explain(model, x, 0, { rule: 'epsilon', epsilon: -1 }), LrpArgumentError, /options.epsilon/, /≥ 0/);
    await expectError(() => explain(model, x, 0, { rule: 'gamma', gamma: -0.1 }), LrpArgumentError, /options.gamma/);
  });
  test('z-box: low > high, missing bounds', async () => {
    await expectError(() => explain(model, x, 0, { firstLayer: 'zBox', low: 1, high: -1 }), LrpRuleError, /low must be ≤ high/);
    await expectError(() => explain(model, x, 0, { firstLayer: 'zBox' }), LrpRuleError, /needs the input bounds/, /low: 0, high: 1/);
  });
  test('output out of range', async () => {
    await expectError(() => explain(model, x, 0, { output: 1 }), LrpArgumentError, /options.output/, /1 output/);
  });
  test('unknown option and misspelt layerRules key', async () => {
    await expectError(() => explain(model, x, 0, { epsilonn: 1 } as unknown as { epsilon: number }), LrpArgumentError, /options.epsilonn/, /unknown option/);
    await expectError(() => explain(model, x, 0, { layerRules: { hiden: 'zPlus' } }), LrpArgumentError, /layerRules\['hiden'\]/, /hidden/);
  });
  test("the element-wise rules ('pass', 'uniform') on a Dense layer name the layer and the fix", async () => {
    await expectError(() => explain(model, x, 0, { layerRules: { hidden: 'uniform' } }), LrpLayerError, /Rule 'uniform' on layer 'hidden' \(Dense\)/, /inputs of shapes \[2,4\]/, /options\.layerRules/);
    await expectError(() => explain(model, x, 0, { layerRules: { hidden: 'pass' } }), LrpLayerError, /Rule 'pass' on layer 'hidden' \(Dense\)/, /options\.layerRules/);
  });
  test('a linear rule on a non-linear layer', async () => {
    const m = tf.sequential();
    m.add(tf.layers.dense({ inputShape: [4], units: 3, name: 'd' }));
    m.add(tf.layers.reLU({ name: 'act' }));
    await expectError(() => createExplainer(m, { layerRules: { act: 'zPlus' } }), LrpRuleError, /applies to Dense\/Conv layers only/, /'act'/);
  });
  test('not a LayersModel', async () => {
    await expectError(() => explain({} as tf.LayersModel, x, 0), LrpModelError, /tf.LayersModel/);
    await expectError(() => explain(null as unknown as tf.LayersModel, x, 0), LrpModelError, /got null/);
    await expectError(() => explain(tf.sequential(), x, 0), LrpModelError, /no inputs or outputs/);
  });
  test('outputRelevance of the wrong shape', async () => {
    const bad = tf.ones([3]);
    await expectError(() => explain(model, x, 0, { outputRelevance: bad }), LrpArgumentError, /outputRelevance/, /\[2, 2\]/);
    bad.dispose();
  });
});

describe('layers without a rule', () => {
  const model = customModel();
  const x = uniform([2, 4], 5);
  afterAll(() => x.dispose());

  test('error names the layer, its class and three fixes', async () => {
    const e = await expectError(() => explain(model, x, 0), LrpLayerError, /'scale' \(ScaleLayer\)/, /layerRules/, /registerLayerRule\('ScaleLayer'/, /unknownLayers/);
    expect((e as LrpLayerError).layerName).toBe('scale');
    expect((e as LrpLayerError).className).toBe('ScaleLayer');
  });
  test('gradient fallback warns once per layer and computes the gradient', async () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const explainer = createExplainer(model, { unknownLayers: 'gradient' });
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0][0])).toMatch(/'scale' \(ScaleLayer\)/);
      const viaGradient = explainer.explain(x, 0) as tf.Tensor;
      const viaPass = explain(model, x, 0, { layerRules: { scale: 'pass' } }) as tf.Tensor;
      // gradient of x*2 doubles the relevance that pass would forward unchanged
      const a = viaGradient.dataSync();
      const b = viaPass.dataSync();
      for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(2 * b[i], 5);
      expect(warn).toHaveBeenCalledTimes(1);
      tf.dispose([viaGradient, viaPass]);
    } finally {
      warn.mockRestore();
    }
  });
  test('registerLayerRule makes explain use the rule for the class', async () => {
    registerLayerRule('ScaleLayer', passRule());
    try {
      const r = explain(model, x, 0) as tf.Tensor;
      const viaPass = explain(model, x, 0, { layerRules: { scale: 'pass' } }) as tf.Tensor;
      expect(Array.from(r.dataSync())).toEqual(Array.from(viaPass.dataSync()));
      const rows = describePlanOf(model);
      expect(rows.find((row) => row.layer === 'scale')?.reason).toMatch(/registered rule for ScaleLayer/);
      tf.dispose([r, viaPass]);
    } finally {
      unregisterLayer('ScaleLayer');
    }
    expect(() => unregisterLayer('ScaleLayer')).toThrow(LrpLayerError);
  });
  test('explainWithConservation rejects without leaking', async () => {
    await expectError(() => explainWithConservation(model, x, 0), LrpLayerError, /ScaleLayer/);
  });
});

describe('issue #17: prototype names, integer inputs, disposed models', () => {
  const x = uniform([2, 4], 3);
  afterAll(() => x.dispose());

  test.each(['constructor', 'toString', '__proto__', 'hasOwnProperty'])("composite '%s' (an Object.prototype name) is an unknown composite", async (name) => {
    const model = smallModel();
    await expectError(() => explain(model, x, 0, { composite: name as 'epsilonPlus' }), LrpRuleError, new RegExp(`Unknown composite '${name}'`), /epsilonPlusFlat/);
    await expectError(() => createExplainer(model, { composite: name as 'epsilonPlus' }), LrpRuleError, /Unknown composite/);
    model.dispose();
  });
  test.each(['constructor', 'toString', '__proto__', 'valueOf'])("rule '%s' (an Object.prototype name) is an unknown rule, as option, firstLayer and in layerRules", async (name) => {
    const model = smallModel();
    await expectError(() => explain(model, x, 0, { rule: name as 'epsilon' }), LrpRuleError, new RegExp(`Unknown rule '${name}'`));
    await expectError(() => explain(model, x, 0, { layerRules: { hidden: name as 'epsilon' } }), LrpRuleError, /Unknown rule/);
    await expectError(() => explain(model, x, 0, { firstLayer: name as 'flat' }), LrpArgumentError, /options.firstLayer/);
    model.dispose();
  });
  test('an int32 input to a float32 model names the input and the fix', async () => {
    const model = smallModel();
    const ints = tf.tensor2d([[1, 2, 3, 4], [5, 6, 7, 8]], [2, 4], 'int32');
    const e = await expectError(() => explain(model, ints, 0), LrpArgumentError, /is int32/, /model input '.*' is float32/, /tf\.cast\(x, 'float32'\)/);
    expect((e as LrpArgumentError).argument).toBe('input');
    const bools = tf.cast(ints, 'bool');
    await expectError(() => createExplainer(model).explain(bools, 0), LrpArgumentError, /is bool/);
    // the cast input explains
    const r = explain(model, tf.cast(ints, 'float32'), 0) as tf.Tensor;
    expect(r.shape).toEqual([2, 4]);
    tf.dispose([ints, bools, r]);
    model.dispose();
  });
  test('a multi-input model names the int32 input', async () => {
    const a = tf.input({ shape: [4], name: 'a' });
    const b = tf.input({ shape: [3], name: 'b' });
    const out = tf.layers.dense({ units: 2 }).apply(tf.layers.concatenate().apply([a, b]) as tf.SymbolicTensor) as tf.SymbolicTensor;
    const m = tf.model({ inputs: [a, b], outputs: out });
    const xa = uniform([2, 4], 1);
    const xb = tf.zeros([2, 3], 'int32');
    const e = await expectError(() => explain(m, [xa, xb], 0), LrpArgumentError, /model input 'b'/);
    expect((e as LrpArgumentError).argument).toBe('input[1]');
    tf.dispose([xa, xb]);
    m.dispose();
  });
  test('int32 token ids into an Embedding model are accepted', async () => {
    const m = tf.sequential({ layers: [tf.layers.embedding({ inputDim: 10, outputDim: 3, inputLength: 5 }), tf.layers.flatten(), tf.layers.dense({ units: 2 })] });
    randomizeWeights(m, 4);
    const ids = tf.tensor2d([[1, 2, 3, 4, 5], [0, 9, 8, 7, 6]], [2, 5], 'int32');
    const before = tf.memory().numTensors;
    const r = explain(m, ids, 'max') as tf.Tensor;
    expect(r.shape).toEqual([2, 5]);
    r.dispose();
    expect(tf.memory().numTensors).toBe(before);
    ids.dispose();
    m.dispose();
  });
  test('a disposed model: explain, createExplainer, an explainer made before, explainWithConservation', async () => {
    const model = smallModel();
    const explainer = createExplainer(model);
    model.dispose();
    await expectError(() => explain(model, x, 0), LrpModelError, /was disposed/, /model\.dispose\(\)/);
    await expectError(() => createExplainer(model), LrpModelError, /was disposed/);
    await expectError(() => explainer.explain(x, 0), LrpModelError, /was disposed/);
    await expectError(() => explainer.explainWithConservation(x, 0), LrpModelError, /was disposed/);
    await expectError(() => explainWithConservation(model, x, 0), LrpModelError, /was disposed/);
    explainer.dispose();
  });
  test('a model whose weights were disposed (a model sharing the layer was disposed) names the weight', async () => {
    const m = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 4, name: 'own' })] });
    // what disposing another model that shares the layer does to its weights
    m.layers[0].weights.forEach((w) => (w as unknown as { val: tf.Variable }).val.dispose());
    await expectError(() => explain(m, x, 0), LrpModelError, /Weight 'own\/kernel/, /was disposed/);
  });
  test('options.batchSize must be a positive integer', async () => {
    const model = smallModel();
    for (const bad of [0, -1, 1.5, NaN, '4']) {
      await expectError(() => explain(model, x, 0, { batchSize: bad as number }), LrpArgumentError, /options\.batchSize/, /positive integer/);
    }
    model.dispose();
  });
});
