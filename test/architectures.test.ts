/**
 * One small model per architecture family, built here with the family's real layer structure and
 * seeded random weights, explained with every built-in composite and with rule epsilon:
 *   - relevance is finite, float32, and has each input's shape (one tensor per input);
 *   - no tensor leaks;
 *   - `conservation.score` is the pre-softmax logit of the explained class, computed
 *     independently of the engine (plain tf ops over the model's own weights / sub-models);
 *   - bias-free variants conserve relevance under epsilon, zPlus and alphaBeta(2, 1);
 *   - `describe()` has a row for every layer and shows BatchNorm merged exactly where it directly
 *     follows a Dense/Conv with linear activation.
 *
 * Design notes (properties of the rules, not engine bugs):
 *   - zPlus / alphaBeta conserve only when every unit that receives relevance has contributions of
 *     both signs, so the layers feeding a Dense/Conv are wide (fan-in ≥ 32 where possible) and
 *     conservation inputs lie in [0.2, 1]. A DepthwiseConv2D unit has only 9 contributions (fewer
 *     at borders), so alphaBeta cannot conserve in the MobileNet-like families (`notConserving`);
 *   - weights are rescaled after randomizeWeights so that activations stay O(1) (see
 *     {@link seededWeights}); scores are asserted to be far from 0 (|score| > 1e-2): the composite
 *     tests explain 'max', the conservation tests the class with the largest |logit|;
 *   - flat / z-box first layers give relevance to padded zeros (lost), so conservation is only
 *     asserted for rule epsilon, zPlus and alphaBeta, none of which gives relevance to zeros
 *     (which is also why MobileNet v2's ZeroPadding2D loses nothing there);
 *   - AveragePooling2D with padding 'same' (the Inception pool branch) divides border windows by
 *     their in-bounds count; tfjs' own AvgPoolGrad does not, and the engine corrects for it
 *     (regression test at the end of the file).
 *
 * On webgpu in Node (where it can run; last in the file, since tensors do not move back from
 * webgpu, which cannot read synchronously there): every family and composite agrees with cpu
 * within 1e-3 · max|R| (a composite's map has no independent reference), finite, no leak; and the
 * bias-free variants conserve as on cpu.
 */
import * as tf from '@tensorflow/tfjs';
import { createExplainer, explain, explainWithConservation, LrpArgumentError } from '../src';
import { expectClose, useBackend, WEBGPU_IN_NODE } from './helpers';
import { CONFIGS, CONSERVING, FAMILIES, Family, HIGH, isModel, LOW, makeInputs, seededWeights } from './families';

/** The independent logits with a check that they really are the pre-softmax values of the model. */
function independentLogits(family: Family, model: tf.LayersModel, xs: tf.Tensor[], output: number): { logits: number[][]; classes: number[] } {
  return tf.tidy(() => {
    const logits = family.logits(model, xs, output) as tf.Tensor2D;
    const predicted = model.predict(xs.length === 1 ? xs[0] : xs);
    const out = Array.isArray(predicted) ? predicted[output] : predicted;
    const softmaxed = !(family.linearOutputs ?? []).includes(output);
    expectClose(out.dataSync(), (softmaxed ? tf.softmax(logits) : logits).dataSync(), 1e-5, `${family.name}: independent logits reproduce model.predict`);
    return { logits: logits.arraySync(), classes: tf.argMax(logits, 1).arraySync() as number[] };
  });
}

const asList = (r: tf.Tensor | tf.Tensor[]): tf.Tensor[] => (Array.isArray(r) ? r : [r]);

/**
 * The scope of a nested model's layers. A tf.sequential whose FIRST layer is a model does not call
 * that model as a layer: it adopts the model's own input and output tensors, so the inner layers
 * are part of the outer graph under their bare names. Any other nested model is a called layer:
 * `outer/inner`.
 */
function innerScope(model: tf.LayersModel, index: number, scope: string): string {
  return model.getClassName() === 'Sequential' && index === 0 ? scope : `${scope}${model.layers[index].name}/`;
}

/** Names of all layers (nested: `outer/inner`), InputLayers excluded. */
function layerNames(model: tf.LayersModel, scope = ''): string[] {
  return model.layers.flatMap((layer, i) => {
    if (layer.getClassName() === 'InputLayer') return [];
    if (isModel(layer)) return layerNames(layer as unknown as tf.LayersModel, innerScope(model, i, scope));
    return [`${scope}${layer.name}`];
  });
}

/** BatchNormalization layers (scoped names) with whether they directly follow a linear-activation Dense/Conv used only by them. */
function batchNorms(model: tf.LayersModel, scope = ''): Array<{ bn: string; prev: string; mergeable: boolean }> {
  return model.layers.flatMap((layer, i) => {
    if (isModel(layer)) return batchNorms(layer as unknown as tf.LayersModel, innerScope(model, i, scope));
    if (layer.getClassName() !== 'BatchNormalization') return [];
    const prev = layer.inboundNodes[0].inboundLayers[0];
    const linear = ['Dense', 'Conv1D', 'Conv2D', 'DepthwiseConv2D', 'SeparableConv2D'].includes(prev.getClassName());
    const activation = (prev.getConfig() as { activation?: string }).activation;
    const mergeable = linear && (activation === undefined || activation === 'linear') && prev.outboundNodes.length === 1;
    return [{ bn: `${scope}${layer.name}`, prev: `${scope}${prev.name}`, mergeable }];
  });
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

beforeAll(async () => {
  await useBackend('cpu');
});

describe.each(FAMILIES.map((f) => [f.name, f] as const))('%s', (_name, family) => {
  let model: tf.LayersModel;
  let xs: tf.Tensor[];
  const outputs = family.outputs ?? [0];

  beforeAll(() => {
    model = family.build(false);
    seededWeights(model, 1234, false);
    xs = makeInputs(model, family, 99, LOW, HIGH);
    tf.dispose(explain(model, xs.length === 1 ? xs[0] : xs, 'max')); // warm-up
  });
  afterAll(() => {
    tf.dispose(xs);
    model.dispose();
  });

  const cases = outputs.flatMap((output) => CONFIGS.map(([label, options]) => [outputs.length > 1 ? `output ${output}, ${label}` : label, output, options] as const));

  test.each(cases)('%s: finite float32 relevance of the input shape, score = logit, no leak', async (_label, output, options) => {
    const { logits, classes } = independentLogits(family, model, xs, output);
    const input = xs.length === 1 ? xs[0] : xs;

    const before = tf.memory().numTensors; // the model ran once in beforeAll (no lazy first-run tensors)
    const explainer = createExplainer(model, { ...options, output });
    const { relevance, conservation } = await explainer.explainWithConservation(input, 'max');
    const list = asList(relevance);
    expect(Array.isArray(relevance)).toBe(xs.length > 1);
    expect(list).toHaveLength(xs.length);
    list.forEach((r, i) => {
      expect(r.dtype).toBe('float32');
      expect(r.shape).toEqual(xs[i].shape);
      const data = r.dataSync();
      expect(data.every(Number.isFinite)).toBe(true);
    });
    expect(conservation.classIdx).toEqual(classes);
    conservation.score.forEach((score, s) => {
      expect(Math.abs(score)).toBeGreaterThan(1e-2);
      const logit = logits[s][classes[s]];
      expect(Math.abs(score - logit)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(logit)));
      expect(conservation.outputSum[s]).toBeCloseTo(score, 6);
    });
    // plain explain (once per family and output, to save time): same relevance, no leak either
    const plain = options.rule === 'epsilon' ? asList(explainer.explain(input, 'max')) : [];
    plain.forEach((r, i) => expectClose(r.dataSync(), list[i].dataSync(), 1e-6, `${family.name}: explain vs explainWithConservation`));
    tf.dispose([...list, ...plain]);
    explainer.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  if (outputs.length > 1) {
    test(`output ${outputs.length} is refused with an LrpArgumentError`, () => {
      expect(() => createExplainer(model, { output: outputs.length })).toThrow(LrpArgumentError);
      expect(() => createExplainer(model, { output: outputs.length })).toThrow(/options\.output/);
    });
  }

  test('describe(): a row per layer, BatchNorm merged exactly after a linear-activation Dense/Conv', () => {
    const rows = outputs.flatMap((output) => createExplainer(model, { composite: 'epsilonPlus', output }).describe());
    const rowLayers = new Set(rows.map((r) => r.layer.split(':')[0]));
    expect([...rowLayers].sort()).toEqual([...new Set(layerNames(model))].sort());
    for (const { bn, prev, mergeable } of batchNorms(model)) {
      const bnRow = rows.find((r) => r.layer === bn);
      const prevRow = rows.find((r) => r.layer === prev);
      expect(bnRow).toBeDefined();
      expect(prevRow).toBeDefined();
      const merged = /merged into the layer before it/.test((bnRow?.notes ?? []).join(';'));
      const mergedInto = (prevRow?.notes ?? []).some((n) => n === `BatchNorm '${bn.split('/').pop()}' merged into this layer`);
      expect({ bn, merged, mergedInto }).toEqual({ bn, merged: mergeable, mergedInto: mergeable });
    }
  });

  describe('bias-free variant conserves relevance: |Σ R_in − score| ≤ 1e-4 |score|', () => {
    let bfModel: tf.LayersModel;
    let bfXs: tf.Tensor[];
    beforeAll(() => {
      bfModel = family.build(true);
      seededWeights(bfModel, 4321, true);
      bfXs = makeInputs(bfModel, family, 7, 0.2, 1);
    });
    afterAll(() => {
      tf.dispose(bfXs);
      bfModel.dispose();
    });
    const bfCases = outputs.flatMap((output) => CONSERVING.map(([label, options]) => [outputs.length > 1 ? `output ${output}, ${label}` : label, output, options] as const));
    test.each(bfCases)('%s', async (label, output, options) => {
      // The class with the largest |logit| (not 'max': when every logit of a sample is negative,
      // its maximum can be close to 0, and conservation relative to a ~0 score means nothing).
      const { logits } = independentLogits(family, bfModel, bfXs, output);
      const classes = logits.map((row) => row.reduce((best, v, c) => (Math.abs(v) > Math.abs(row[best]) ? c : best), 0));
      const { relevance, conservation } = await explainWithConservation(bfModel, bfXs.length === 1 ? bfXs[0] : bfXs, classes, { ...options, output });
      tf.dispose(asList(relevance));
      expect(conservation.classIdx).toEqual(classes);
      const reason = family.notConserving?.[label];
      conservation.score.forEach((score, s) => {
        expect(Math.abs(score)).toBeGreaterThan(1e-2);
        expect(conservation.outputSum[s]).toBeCloseTo(score, 6);
      });
      const errors = conservation.score.map((score, s) => Math.abs(conservation.inputSum[s] - score) / Math.abs(score));
      if (reason === undefined) errors.forEach((e) => expect(e).toBeLessThanOrEqual(1e-4));
      else expect(Math.max(...errors)).toBeGreaterThan(1e-4); // documented structural loss: keep the reason honest
    });
  });
});

describe('regressions', () => {
  /*
   * tfjs' AvgPoolGrad (tfjs 4.22) divides by the full window size kh·kw, while its forward AvgPool
   * with padding 'same' divides by the number of in-bounds values; the engine's transposed map
   * corrects for that. A 3x3 'same' average over a 4x4 map of ones followed by a sum has score 16,
   * and the input relevance must sum to 16 (it was 11.11 with the plain gradient).
   */
  test("AveragePooling2D padding 'same' conserves relevance at the borders", async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.averagePooling2d({ inputShape: [4, 4, 1], poolSize: 3, strides: 1, padding: 'same' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 1, useBias: false, kernelInitializer: 'ones' }),
      ],
    });
    const x = tf.ones([1, 4, 4, 1]);
    const { relevance, conservation } = await explainWithConservation(model, x, 0, { rule: 'epsilon' });
    tf.dispose([x, ...asList(relevance)]);
    model.dispose();
    expect(conservation.score[0]).toBeCloseTo(16, 4);
    expect(Math.abs(conservation.inputSum[0] - conservation.score[0])).toBeLessThanOrEqual(1e-4 * 16);
  });
});

if (WEBGPU_IN_NODE) {
  describe('webgpu: every family agrees with cpu', () => {
    /** A family's models and inputs (made on cpu), with cpu's relevance per case. */
    interface Prepared {
      readonly model: tf.LayersModel;
      readonly xs: tf.Tensor[];
      readonly bfModel: tf.LayersModel;
      readonly bfXs: tf.Tensor[];
      /** cpu relevance per `output/label`, one array per input. */
      readonly cpu: Map<string, Float32Array[]>;
      /** The class with the largest |logit| per sample, per output (bias-free model, from cpu). */
      readonly bfClasses: Map<number, number[]>;
    }
    const prepared = new Map<string, Prepared>();
    const inputOf = (xs: tf.Tensor[]): tf.Tensor | tf.Tensor[] => (xs.length === 1 ? xs[0] : xs);

    beforeAll(async () => {
      await useBackend('cpu');
      for (const family of FAMILIES) {
        const model = family.build(false);
        seededWeights(model, 1234, false);
        const xs = makeInputs(model, family, 99, LOW, HIGH);
        const bfModel = family.build(true);
        seededWeights(bfModel, 4321, true);
        const bfXs = makeInputs(bfModel, family, 7, 0.2, 1);
        const cpu = new Map<string, Float32Array[]>();
        const bfClasses = new Map<number, number[]>();
        for (const output of family.outputs ?? [0]) {
          for (const [label, options] of CONFIGS) {
            const list = asList(explain(model, inputOf(xs), 'max', { ...options, output }));
            cpu.set(`${output}/${label}`, await Promise.all(list.map(async (r) => Float32Array.from(await r.data()))));
            tf.dispose(list);
          }
          const { logits } = independentLogits(family, bfModel, bfXs, output);
          bfClasses.set(output, logits.map((row) => row.reduce((best, v, c) => (Math.abs(v) > Math.abs(row[best]) ? c : best), 0)));
        }
        prepared.set(family.name, { model, xs, bfModel, bfXs, cpu, bfClasses });
      }
      await useBackend('webgpu');
      for (const { model, xs } of prepared.values()) tf.dispose(explain(model, inputOf(xs), 'max')); // warm-up
    });
    afterAll(() => {
      for (const p of prepared.values()) {
        tf.dispose([...p.xs, ...p.bfXs]);
        p.model.dispose();
        p.bfModel.dispose();
      }
    });

    const cases = FAMILIES.flatMap((family) =>
      (family.outputs ?? [0]).flatMap((output) => CONFIGS.map(([label, options]) => [`${family.name}${(family.outputs ?? [0]).length > 1 ? `, output ${output}` : ''}: ${label}`, family, output, label, options] as const)),
    );
    test.each(cases)('%s: |R − R_cpu| ≤ 1e-3 max|R_cpu|, finite, no leak', async (name, family, output, label, options) => {
      const p = prepared.get(family.name) as Prepared;
      const before = tf.memory().numTensors;
      const explainer = createExplainer(p.model, { ...options, output });
      const list = asList(explainer.explain(inputOf(p.xs), 'max'));
      const cpu = p.cpu.get(`${output}/${label}`) as Float32Array[];
      for (const [i, r] of list.entries()) {
        expect(r.shape).toEqual(p.xs[i].shape);
        expectClose(await r.data(), cpu[i], 1e-3, `${name} / input ${i}`);
      }
      tf.dispose(list);
      explainer.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });

    const bfCases = FAMILIES.flatMap((family) =>
      (family.outputs ?? [0]).flatMap((output) => CONSERVING.map(([label, options]) => [`${family.name}${(family.outputs ?? [0]).length > 1 ? `, output ${output}` : ''}: ${label}`, family, output, label, options] as const)),
    );
    test.each(bfCases)('%s: the bias-free variant conserves as on cpu', async (_name, family, output, label, options) => {
      const p = prepared.get(family.name) as Prepared;
      const classes = p.bfClasses.get(output) as number[];
      const { relevance, conservation } = await explainWithConservation(p.bfModel, inputOf(p.bfXs), classes, { ...options, output });
      tf.dispose(asList(relevance));
      expect(conservation.classIdx).toEqual(classes);
      const errors = conservation.score.map((score, s) => Math.abs(conservation.inputSum[s] - score) / Math.abs(score));
      if (family.notConserving?.[label] === undefined) errors.forEach((e) => expect(e).toBeLessThanOrEqual(1e-4));
      else expect(Math.max(...errors)).toBeGreaterThan(1e-4);
    });
  });
}
