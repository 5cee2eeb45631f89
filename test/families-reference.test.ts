/**
 * The 3-D CNN family of test/families.ts (Conv3D, MaxPooling3D, AveragePooling3D, Flatten, Dense
 * softmax) against the float64 reference (test/reference/lrp64.ts through
 * test/reference/fromModel.ts, whose Conv3D and 3-D pools are test/reference/more64.ts): the
 * family's own seeded model and inputs (as test/architectures.test.ts: weights 1234, inputs 99 in
 * [LOW, HIGH]) with every rule and composite of test/configs.ts, relevance within
 * 1e-4 · max|R_ref| per sample; and the bias-free variant's conservation sums equal the
 * reference's. test/architectures.test.ts checks the family's structure, logits and conservation
 * but not the relevance values, which this file does.
 */
import * as tf from '@tensorflow/tfjs';
import { explain, explainWithConservation } from '../src';
import { CONFIGS } from './configs';
import { FAMILIES, Family, HIGH, LOW, makeInputs, seededWeights } from './families';
import { useBackend } from './helpers';
import { refGraphFromModel } from './reference/fromModel';
import { Arr, lrp64, refRules } from './reference/lrp64';

const toArr = async (t: tf.Tensor): Promise<Arr> => ({ shape: t.shape.slice(), data: Float64Array.from(await t.data()) });

/** Per sample: max|actual − expected| ≤ rel · max|expected| of that sample (and finite); returns the worst ratio. */
function expectClosePerSample(actual: ArrayLike<number>, expected: Arr, rel: number, label: string): number {
  const n = expected.shape[0];
  const per = expected.data.length / n;
  expect(actual.length).toBe(expected.data.length);
  let worst = 0;
  for (let s = 0; s < n; s++) {
    let scale = 0;
    let diff = 0;
    for (let k = s * per; k < (s + 1) * per; k++) {
      if (!Number.isFinite(actual[k])) throw new Error(`${label}: non-finite value at ${k}`);
      scale = Math.max(scale, Math.abs(expected.data[k]));
      diff = Math.max(diff, Math.abs(actual[k] - expected.data[k]));
    }
    expect(scale).toBeGreaterThan(0); // an all-zero reference could not fail
    if (!(diff <= rel * scale)) throw new Error(`${label}, sample ${s}: max|R − R_ref| = ${diff.toExponential(3)} > ${rel} × ${scale.toExponential(3)}`);
    worst = Math.max(worst, diff / scale);
  }
  return worst;
}

/** Worst relative error per config (printed after the run). */
const worst: string[] = [];

const family = FAMILIES.find((f) => f.name.startsWith('3-D CNN')) as Family;

describe('3-D CNN family vs the float64 reference', () => {
  let model: tf.LayersModel;
  let xs: tf.Tensor[];
  let classes: number[];

  beforeAll(async () => {
    await useBackend('cpu');
    expect(family).toBeDefined();
    model = family.build(false);
    seededWeights(model, 1234, false);
    xs = makeInputs(model, family, 99, LOW, HIGH);
    const logits = family.logits(model, xs, 0);
    classes = Array.from(await tf.argMax(logits, 1).data());
    logits.dispose();
    expect(model.layers.map((l) => l.getClassName())).toEqual(['InputLayer', 'Conv3D', 'MaxPooling3D', 'Conv3D', 'AveragePooling3D', 'Flatten', 'Dense']);
  });
  afterAll(() => {
    tf.dispose(xs);
    model.dispose();
    if (worst.length > 0) console.log(`3-D CNN vs float64, worst max|R − R_ref| / max|R_ref| per sample:\n${worst.join('\n')}`);
  });

  test.each(CONFIGS.map((c) => [c.label, c] as const))('%s: |R − R_ref| ≤ 1e-4 max|R_ref| per sample, no leak', async (label, config) => {
    const graph = refGraphFromModel(model);
    const ref = lrp64(graph, [await toArr(xs[0])], classes, refRules(graph, config.spec([LOW, HIGH])));
    const before = tf.memory().numTensors;
    const r = explain(model, xs[0], classes, config.options([LOW, HIGH])) as tf.Tensor;
    expect(r.shape).toEqual(ref.relevance[0].shape);
    const got = await r.data();
    r.dispose();
    expect(tf.memory().numTensors).toBe(before);
    worst.push(`  ${label}: ${expectClosePerSample(got, ref.relevance[0], 1e-4, `3-D CNN / ${label}`).toExponential(2)}`);
  });

  test('bias-free, rule epsilon: the engine and the reference conserve the same score', async () => {
    const bf = family.build(true);
    seededWeights(bf, 4321, true);
    const bfXs = makeInputs(bf, family, 7, 0.2, 1);
    try {
      const graph = refGraphFromModel(bf);
      const cls = [0, 1];
      const ref = lrp64(graph, [await toArr(bfXs[0])], cls, refRules(graph, { rule: 'epsilon' }));
      const { relevance, conservation } = await explainWithConservation(bf, bfXs[0], cls, { rule: 'epsilon' });
      tf.dispose(relevance);
      worst.push(`  bias-free epsilon: |Σ R_in − score| / |score| = ${conservation.score.map((score, s) => (Math.abs(conservation.inputSum[s] - score) / Math.abs(score)).toExponential(2)).join(', ')}`);
      conservation.score.forEach((score, s) => {
        expect(Math.abs(score - ref.score[s])).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(score)));
        expect(Math.abs(conservation.inputSum[s] - score)).toBeLessThanOrEqual(1e-4 * Math.abs(score));
      });
    } finally {
      tf.dispose(bfXs);
      bf.dispose();
    }
  });
});
