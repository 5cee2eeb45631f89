/**
 * Evaluation: compare (Pearson, Spearman, top-k IoU, sign agreement) on pairs with known
 * answers, crossValidate (LRP vs Integrated Gradients), relevanceInMask on a hand-made example,
 * pixel flipping on a linear model whose curve is computable by hand (one forward pass per
 * step), and on the MNIST fixture: LRP's most-relevant-first curve falls faster than random.
 * Errors with their messages; no leaks.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { explain, LrpArgumentError } from '../src';
import { compare, crossValidate, pixelFlipping, relevanceInMask } from '../src/evaluate';
import * as forward from '../src/forward';
import { loadModel } from '../src/node';
import { digit, heldOutIndex } from '../scripts/digits-data';
import { expectNoLeak, randomizeWeights, uniform, useBackend, expectError } from './helpers';


beforeAll(async () => {
  await useBackend('cpu');
});

describe('compare', () => {
  test('identical maps: Pearson 1, Spearman 1, IoU 1, sign agreement 1', async () => {
    const a = uniform([3, 5, 5, 2], 1);
    const report = await compare(a, a);
    expect(report.samples).toBe(3);
    expect(report.size).toBe(50);
    expect(report.topK).toBe(0.1);
    expect(report.k).toBe(5);
    for (const key of ['pearson', 'spearman', 'topKIoU', 'signAgreement'] as const) {
      report[key].forEach((v) => expect(v).toBeCloseTo(1, 12));
      expect(report.mean[key]).toBeCloseTo(1, 12);
    }
    a.dispose();
  });

  test('negated maps: Pearson −1, Spearman −1, sign agreement 0, top sets disjoint', async () => {
    const a = uniform([2, 40], 2);
    const b = tf.neg(a);
    const report = await compare(a, b, { topK: 0.25 });
    expect(report.k).toBe(10);
    report.pearson.forEach((v) => expect(v).toBeCloseTo(-1, 12));
    report.spearman.forEach((v) => expect(v).toBeCloseTo(-1, 12));
    expect(report.signAgreement).toEqual([0, 0]);
    expect(report.topKIoU).toEqual([0, 0]);
    tf.dispose([a, b]);
  });

  test('hand-computed values: Pearson, Spearman with ties, IoU, sign agreement', async () => {
    // Pearson of [1,2,3] and [1,3,2]: Σdxdy = 1, Σdx² = Σdy² = 2 → 0.5
    const p = await compare(tf.tensor2d([[1, 2, 3]]), tf.tensor2d([[1, 3, 2]]));
    expect(p.pearson[0]).toBeCloseTo(0.5, 12);
    expect(p.spearman[0]).toBeCloseTo(0.5, 12);
    // ranks of [1,2,2,3] are [1, 2.5, 2.5, 4]; against [1,2,3,4]: 4.5 / sqrt(4.5 · 5) = 0.948683…
    const s = await compare(tf.tensor2d([[1, 2, 2, 3]]), tf.tensor2d([[1, 2, 3, 4]]));
    expect(s.spearman[0]).toBeCloseTo(4.5 / Math.sqrt(22.5), 12);
    // a monotone map: Spearman 1, Pearson below 1
    const x = uniform([1, 30], 3, 0, 2);
    const cubed = tf.pow(x, 3);
    const m = await compare(x, cubed);
    expect(m.spearman[0]).toBeCloseTo(1, 12);
    expect(m.pearson[0]).toBeLessThan(0.99);
    // top 2 of 10 elements (by value, not |value|): {0, 1} vs {1, 2} → IoU 1/3; {0,1} vs {8,9} → 0
    const base = [9, 8, 1, 1, 1, 1, 1, 1, -20, -30];
    const t = await compare(
      tf.tensor2d([base, base]),
      tf.tensor2d([
        [1, 9, 8, 1, 1, 1, 1, 1, 1, 1],
        [0, 0, 0, 0, 0, 0, 0, 0, 5, 6],
      ]),
      { topK: 0.2 },
    );
    expect(t.k).toBe(2);
    expect(t.topKIoU[0]).toBeCloseTo(1 / 3, 12);
    expect(t.topKIoU[1]).toBe(0);
    // sign agreement over elements where one map is non-zero: indices 0,1,3,4 → same at 0 and 4
    const g = await compare(tf.tensor2d([[1, -1, 0, 0, 2]]), tf.tensor2d([[1, 1, 0, 3, 2]]));
    expect(g.signAgreement[0]).toBe(0.5);
    tf.dispose([x, cubed]);
  });

  test('per sample; constant maps give NaN, skipped by the means', async () => {
    const a = tf.tensor2d([
      [1, 2, 3, 4],
      [1, 1, 1, 1],
      [0, 0, 0, 0],
    ]);
    const b = tf.tensor2d([
      [1, 2, 3, 4],
      [4, 3, 2, 1],
      [0, 0, 0, 0],
    ]);
    const r = await compare(a, b);
    expect(r.pearson[0]).toBeCloseTo(1, 12);
    expect(r.pearson[1]).toBeNaN();
    expect(r.spearman[2]).toBeNaN();
    expect(r.signAgreement[2]).toBeNaN();
    expect(r.signAgreement[1]).toBe(1);
    expect(r.mean.pearson).toBeCloseTo(1, 12);
    expect(r.mean.signAgreement).toBe(1);
    tf.dispose([a, b]);
  });

  test('errors: shapes, ranks, disposed tensors, NaN, options', async () => {
    const a = uniform([2, 3, 3], 4);
    const b = uniform([2, 9], 5);
    await expectError(() => compare(a, b), LrpArgumentError, /Argument 'b'/, /\[2, 9\] differs from a's \[2, 3, 3\]/, /same batch/);
    const flat = tf.tensor1d([1, 2, 3]);
    await expectError(() => compare(flat, flat), LrpArgumentError, /Argument 'a'/, /rank ≥ 2/, /expandDims\(0\)/);
    await expectError(() => compare(a, 'x' as unknown as tf.Tensor), LrpArgumentError, /Argument 'b'/, /expected a tf.Tensor/);
    await expectError(() => compare(a, a, { topK: 0 }), LrpArgumentError, /options.topK/, /\(0, 1\]/);
    await expectError(() => compare(a, a, { topK: 1.5 }), LrpArgumentError, /options.topK/);
    await expectError(() => compare(a, a, { top: 0.1 } as never), LrpArgumentError, /options.top/, /unknown option/, /topK/);
    const nan = tf.tensor2d([[1, NaN]]);
    const finite = tf.tensor2d([[1, 2]]);
    await expectError(() => compare(nan, finite), LrpArgumentError, /Argument 'a'/, /NaN/);
    const gone = uniform([2, 3, 3], 6);
    gone.dispose();
    await expectError(() => compare(a, gone), LrpArgumentError, /Argument 'b'/, /disposed/);
    tf.dispose([a, b, flat, nan, finite]);
  });

  test('no leaks', async () => {
    const a = uniform([2, 10], 7);
    const b = uniform([2, 10], 8);
    await expectNoLeak(() => compare(a, b));
    tf.dispose([a, b]);
  });
});

/** A small conv net on [4, 4, 1] images with seeded weights. */
function convModel(): tf.LayersModel {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ inputShape: [6, 6, 1], filters: 3, kernelSize: 3, activation: 'relu', name: 'conv' }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 3, activation: 'softmax', name: 'out' }));
  randomizeWeights(m, 11);
  return m;
}

describe('crossValidate', () => {
  test('equals compare() of LRP and Integrated Gradients computed with explain()', async () => {
    const model = convModel();
    const x = uniform([3, 6, 6, 1], 12, 0, 1);
    const report = await crossValidate(model, x, [0, 1, 2], { composite: 'epsilonPlusFlat', steps: 16, topK: 0.2 });
    const lrp = explain(model, x, [0, 1, 2], { composite: 'epsilonPlusFlat' }) as tf.Tensor;
    const ig = explain(model, x, [0, 1, 2], { method: 'integratedGradients', steps: 16 }) as tf.Tensor;
    const ref = await compare(lrp, ig, { topK: 0.2 });
    expect(report.k).toBe(ref.k);
    for (const key of ['pearson', 'spearman', 'topKIoU', 'signAgreement'] as const) {
      report[key].forEach((v, i) => expect(v).toBeCloseTo(ref[key][i], 6));
    }
    // on a network of one conv + dense layer, LRP-ε-like maps and IG correlate positively
    expect(report.mean.pearson).toBeGreaterThan(0);
    tf.dispose([x, lrp, ig]);
    model.dispose();
  });

  test("errors: a method other than 'lrp', bad topK; no leaks", async () => {
    const model = convModel();
    const x = uniform([2, 6, 6, 1], 13, 0, 1);
    await expectError(() => crossValidate(model, x, 0, { method: 'gradient' } as never), LrpArgumentError, /options.method/, /Integrated Gradients/);
    await expectError(() => crossValidate(model, x, 0, { topK: -1 }), LrpArgumentError, /options.topK/);
    await expectError(() => crossValidate(model, x, 5), LrpArgumentError, /classIdx/);
    await expectNoLeak(() => crossValidate(model, x, 'max', { rule: 'epsilon', steps: 8 }));
    x.dispose();
    model.dispose();
  });
});

describe('relevanceInMask', () => {
  // relevance [2, 2, 2, 1]: sample 0 = [[1, -1], [2, 0]], sample 1 = [[0, 3], [1, -5]]
  const relevance = () => tf.tensor4d([1, -1, 2, 0, 0, 3, 1, -5], [2, 2, 2, 1]);

  test('hand-made example: one mask for all samples', async () => {
    const r = relevance();
    const mask = tf.tensor3d([1, 0, 0, 0], [2, 2, 1]); // the top-left pixel
    const report = await relevanceInMask(r, mask);
    expect(report.samples).toBe(2);
    expect(report.inside[0]).toBeCloseTo(1 / 3, 6); // positive relevance 1 + 2; inside 1
    expect(report.inside[1]).toBe(0); // positive relevance 3 + 1; inside 0
    expect(report.area).toEqual([0.25, 0.25]);
    expect(report.mean.inside).toBeCloseTo(1 / 6, 6);
    expect(report.mean.area).toBe(0.25);
    tf.dispose([r, mask]);
  });

  test('per-sample masks, broadcasting, bool masks; no positive relevance gives NaN', async () => {
    const r = relevance();
    // sample 0: the left column; sample 1: the right column (bool)
    const masks = tf.tensor4d([true, false, true, false, false, true, false, true], [2, 2, 2, 1], 'bool');
    const report = await relevanceInMask(r, masks);
    expect(report.inside[0]).toBeCloseTo(1, 6);
    expect(report.inside[1]).toBeCloseTo(3 / 4, 6);
    expect(report.area).toEqual([0.5, 0.5]);
    // a row mask [1, 2, 1] broadcast over the columns: the top row
    const row = tf.tensor3d([1, 0], [2, 1, 1]);
    const rows = await relevanceInMask(r, row);
    expect(rows.inside[0]).toBeCloseTo(1 / 3, 6);
    expect(rows.inside[1]).toBeCloseTo(3 / 4, 6);
    expect(rows.area).toEqual([0.5, 0.5]);
    const negative = tf.tensor2d([[-1, -2]]);
    const firstOnly = tf.tensor1d([1, 0]);
    const none = await relevanceInMask(negative, firstOnly);
    expect(none.inside[0]).toBeNaN();
    expect(none.mean.inside).toBeNaN();
    tf.dispose([r, masks, row, negative, firstOnly]);
  });

  test('errors: shapes, non-binary masks, NaN; no leaks', async () => {
    const r = relevance();
    const wrong = tf.ones([2, 2]);
    await expectError(() => relevanceInMask(r, wrong), LrpArgumentError, /Argument 'mask'/, /cannot be broadcast/, /rank 3/, /expandDims\(-1\)/);
    const badAxis = tf.ones([3, 2, 1]);
    await expectError(() => relevanceInMask(r, badAxis), LrpArgumentError, /Argument 'mask'/, /axis 0 is 3, it must be 2 or 1/);
    const soft = tf.fill([2, 2, 1], 0.5);
    await expectError(() => relevanceInMask(r, soft), LrpArgumentError, /Argument 'mask'/, /only 0 and 1/, /tf.greater/);
    const nan = tf.tensor2d([[NaN, 1]]);
    const half = tf.tensor1d([1, 0]);
    await expectError(() => relevanceInMask(nan, half), LrpArgumentError, /Argument 'relevance'/, /NaN/);
    await expectError(() => relevanceInMask(half, half), LrpArgumentError, /Argument 'relevance'/, /rank ≥ 2/);
    const mask = tf.tensor3d([1, 0, 0, 1], [2, 2, 1]);
    await expectNoLeak(() => relevanceInMask(r, mask));
    tf.dispose([r, wrong, badAxis, soft, nan, half, mask]);
  });
});

/**
 * A linear model on 4×4 images: class 0's logit is Σ w_i x_i + 0.5 with w_i = i + 1 (row-major
 * pixel index i), class 1's is −Σ w_i x_i − 1; a final softmax, which pixel flipping strips.
 */
function linearModel(size = 4): tf.LayersModel {
  const m = tf.sequential();
  m.add(tf.layers.flatten({ inputShape: [size, size, 1] }));
  m.add(tf.layers.dense({ units: 2, activation: 'softmax', name: 'out' }));
  const count = size * size;
  const kernel = new Float32Array(count * 2);
  for (let i = 0; i < count; i++) {
    kernel[2 * i] = i + 1;
    kernel[2 * i + 1] = -(i + 1);
  }
  const values = [tf.tensor2d(kernel, [count, 2]), tf.tensor1d([0.5, -1])];
  m.setWeights(values);
  tf.dispose(values);
  return m;
}

/** The weights w_i = i + 1 as a relevance map [n, size, size, 1] (times x = the exact gradient × input). */
function weightMap(n: number, size = 4): tf.Tensor4D {
  return tf.tidy(() => tf.tile(tf.reshape(tf.range(1, size * size + 1), [1, size, size, 1]), [n, 1, 1, 1]) as tf.Tensor4D);
}

describe('pixelFlipping on a linear model (curves by hand)', () => {
  test('baseline 0, 2×2 patches: the curve, AOPC and final drop by hand; the pre-softmax logit is scored', async () => {
    const model = linearModel();
    const x = tf.ones([1, 4, 4, 1]);
    const relevance = weightMap(1);
    const report = await pixelFlipping(model, x, 0, relevance, { patchSize: 2 });
    // patch sums of w: top-left 1+2+5+6 = 14, top-right 22, bottom-left 46, bottom-right 54
    expect(report.numPatches).toBe(4);
    expect(report.steps).toBe(4); // 20 steps capped at 4 patches
    expect(report.perturbed).toEqual([0, 1, 2, 3, 4]);
    expect(report.fraction).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(report.classIdx).toEqual([0]);
    const curve = report.mostRelevantFirst;
    // 136.5, then without 54, 46, 22, 14
    expect(curve.scores[0]).toEqual([136.5, 82.5, 36.5, 14.5, 0.5]);
    expect(curve.meanScores).toEqual([136.5, 82.5, 36.5, 14.5, 0.5]);
    expect(curve.aopc[0]).toBeCloseTo((0 + 54 + 100 + 122 + 136) / 5, 4);
    expect(curve.meanAopc).toBeCloseTo(82.4, 4);
    expect(curve.finalDrop).toEqual([136]);
    // the random order removes the same four patches in some order: ends at the bias as well,
    // and the most-relevant-first order is optimal for this linear model
    const random = report.random as NonNullable<typeof report.random>;
    const drops = random.scores[0].slice(1).map((v, k) => random.scores[0][k] - v);
    expect([...drops].sort((a, b) => a - b)).toEqual([14, 22, 46, 54]);
    expect(random.scores[0][4]).toBe(0.5);
    expect(curve.meanAopc).toBeGreaterThanOrEqual(random.meanAopc);
    tf.dispose([x, relevance]);
    model.dispose();
  });

  test("per-sample classes and rankings, 'max', 'mean' and 'baseline' values, patchesPerStep", async () => {
    const model = linearModel();
    // sample 0: ones; sample 1: pixel i has value i / 16 (mean 15/32)
    const x = tf.concat([tf.ones([1, 4, 4, 1]), tf.reshape(tf.div(tf.range(0, 16), 16), [1, 4, 4, 1])]);
    // sample 0 ranks patches by w (bottom-right first), sample 1 by −w (top-left first)
    const relevance = tf.concat([weightMap(1), tf.neg(weightMap(1))]);
    const report = await pixelFlipping(model, x, [0, 1], relevance, { patchSize: 2, patchesPerStep: 3, random: false });
    expect(report.steps).toBe(2);
    expect(report.perturbed).toEqual([0, 3, 4]);
    expect(report.random).toBeNull();
    // sample 0, class 0: remove 54, 46, 22 (→ 14.5), then 14 (→ 0.5)
    expect(report.mostRelevantFirst.scores[0]).toEqual([136.5, 14.5, 0.5]);
    // sample 1, class 1: logit = −Σ w_i i/16 − 1; remove top-left, top-right, bottom-left first
    const w = (i: number) => i + 1;
    const patch = (p: number) => [0, 1, 4, 5].map((i) => i + (p % 2) * 2 + Math.floor(p / 2) * 8);
    const contribution = (p: number) => patch(p).reduce((s, i) => s + w(i) * (i / 16), 0);
    const full = [0, 1, 2, 3].reduce((s, p) => s + contribution(p), 0);
    const expected1 = [-full - 1, -contribution(3) - 1, -1];
    report.mostRelevantFirst.scores[1].forEach((v, k) => expect(v).toBeCloseTo(expected1[k], 4));

    // 'max': class 0 has the larger logit for both samples (Σ w_i x_i ≥ 0)
    const max = await pixelFlipping(model, x, 'max', relevance, { patchSize: 2, random: false });
    expect(max.classIdx).toEqual([0, 0]);

    // 'mean': perturbed pixels take the sample's mean; for sample 1 that is 15/32
    const mean = await pixelFlipping(model, x, 0, relevance, { patchSize: 2, perturbation: 'mean', steps: 2, random: false });
    expect(mean.perturbed).toEqual([0, 2, 4]);
    const allMean = [0, 1, 2, 3].reduce((s, p) => s + patch(p).reduce((t, i) => t + w(i) * (15 / 32), 0), 0);
    const meanCurve1 = [full + 0.5, contribution(2) + contribution(3) + patch(0).concat(patch(1)).reduce((t, i) => t + w(i) * (15 / 32), 0) + 0.5, allMean + 0.5];
    mean.mostRelevantFirst.scores[1].forEach((v, k) => expect(v).toBeCloseTo(meanCurve1[k], 3));
    expect(mean.mostRelevantFirst.scores[0]).toEqual([136.5, 136.5, 136.5]); // mean of ones is 1

    // 'baseline' with a value: perturbed pixels become 2
    const two = await pixelFlipping(model, x, 0, relevance, { patchSize: 2, value: 2, patchesPerStep: 1, steps: 1, random: false });
    expect(two.perturbed).toEqual([0, 1]);
    expect(two.mostRelevantFirst.scores[0]).toEqual([136.5, 136.5 + 54]);
    tf.dispose([x, relevance]);
    model.dispose();
  });

  test("'uniform' noise: seeded, within the sample's range; partial border patches", async () => {
    const model = linearModel();
    const x = tf.concat([tf.fill([1, 4, 4, 1], 0.25), uniform([1, 4, 4, 1], 21, 0, 1)]);
    const relevance = weightMap(2);
    const a = await pixelFlipping(model, x, 0, relevance, { patchSize: 2, perturbation: 'uniform', seed: 3 });
    const b = await pixelFlipping(model, x, 0, relevance, { patchSize: 2, perturbation: 'uniform', seed: 3 });
    const c = await pixelFlipping(model, x, 0, relevance, { patchSize: 2, perturbation: 'uniform', seed: 4 });
    expect(a).toEqual(b);
    expect(c.mostRelevantFirst.scores[1]).not.toEqual(a.mostRelevantFirst.scores[1]);
    // a constant image has min = max: the noise is the constant, the score does not move
    a.mostRelevantFirst.scores[0].forEach((v) => expect(v).toBeCloseTo(136 * 0.25 + 0.5, 4));
    // values in [min, max] ⊂ [0, 1] with positive weights: the score stays in [0.5, 136.5]
    a.mostRelevantFirst.scores[1].forEach((v) => expect(v >= 0.5 - 1e-4 && v <= 136.5 + 1e-4).toBe(true));
    tf.dispose([x, relevance]);
    model.dispose();

    // 5×5 images and 2×2 patches: 3×3 patches, the right and bottom ones smaller
    const m5 = linearModel(5);
    const x5 = tf.ones([1, 5, 5, 1]);
    const r5 = weightMap(1, 5);
    const report = await pixelFlipping(m5, x5, 0, r5, { patchSize: 2, patchesPerStep: 1, steps: 2 });
    expect(report.numPatches).toBe(9);
    // patch sums: the bottom-right corner pixel alone is 25; the bottom row patches (rows 4)
    // are 21+22 = 43 and 23+24 = 47; the right column ones 5+10 = 15 and 15+20 = 35;
    // the interior 2×2 patches: 1+2+6+7 = 16, 3+4+8+9 = 24, 11+12+16+17 = 56, 13+14+18+19 = 64
    expect(report.mostRelevantFirst.scores[0]).toEqual([325.5, 325.5 - 64, 325.5 - 64 - 56]);
    tf.dispose([x5, r5]);
    m5.dispose();
  });

  test('patches with equal relevance are taken in a seeded random order, not row by row', async () => {
    const model = linearModel(8);
    const x = tf.ones([1, 8, 8, 1]);
    const none = tf.zeros([1, 8, 8, 1]);
    const runs = await Promise.all([0, 0, 1].map((seed) => pixelFlipping(model, x, 0, none, { patchSize: 2, patchesPerStep: 1, seed, random: false })));
    const drops = runs.map((r) => r.mostRelevantFirst.scores[0].slice(1).map((v, k) => r.mostRelevantFirst.scores[0][k] - v));
    expect(drops[0]).toEqual(drops[1]);
    expect(drops[2]).not.toEqual(drops[0]);
    // row by row, the first two patches would be the top-left ones: 1+2+9+10 and 3+4+11+12
    expect(drops[0].slice(0, 2)).not.toEqual([22, 30]);
    // all 16 patches, each once
    expect(drops[0].reduce((a, b) => a + b, 0)).toBe((64 * 65) / 2);
    tf.dispose([x, none]);
    model.dispose();
  });

  test('one forward pass per step for the whole batch, both orderings together', async () => {
    const model = linearModel();
    const x = uniform([3, 4, 4, 1], 31, 0, 1);
    const relevance = weightMap(3);
    const spy = jest.spyOn(forward, 'runForward');
    try {
      await pixelFlipping(model, x, 0, relevance, { patchSize: 1, steps: 5 });
      expect(spy).toHaveBeenCalledTimes(6);
      expect(spy.mock.calls.map((call) => call[1][0].shape[0])).toEqual([3, 6, 6, 6, 6, 6]);
      spy.mockClear();
      await pixelFlipping(model, x, 0, relevance, { patchSize: 1, steps: 5, random: false });
      expect(spy.mock.calls.map((call) => call[1][0].shape[0])).toEqual([3, 3, 3, 3, 3, 3]);
    } finally {
      spy.mockRestore();
    }
    tf.dispose([x, relevance]);
    model.dispose();
  });

  test('errors: non-image input, relevance shape, options, classes, models; no leaks', async () => {
    const model = linearModel();
    const x = tf.ones([2, 4, 4, 1]);
    const relevance = weightMap(2);
    const flat = tf.ones([2, 16]);
    await expectError(() => pixelFlipping(model, flat, 0, flat), LrpArgumentError, /Argument 'input'/, /images \[N, H, W, C\]/, /\[2, 16\]/);
    const wrong = tf.ones([2, 4, 4, 2]);
    await expectError(() => pixelFlipping(model, x, 0, wrong), LrpArgumentError, /Argument 'relevance'/, /\[2, 4, 4, 2\] does not match the input \[2, 4, 4, 1\]/);
    await expectError(() => pixelFlipping(model, x, 0, relevance, { patchSize: 0 }), LrpArgumentError, /options.patchSize/, /positive integer/);
    await expectError(() => pixelFlipping(model, x, 0, relevance, { patchSize: 5 }), LrpArgumentError, /options.patchSize/, /at most the image's smaller side 4/);
    await expectError(() => pixelFlipping(model, x, 0, relevance, { steps: 2.5 }), LrpArgumentError, /options.steps/);
    await expectError(() => pixelFlipping(model, x, 0, relevance, { patchesPerStep: -1 }), LrpArgumentError, /options.patchesPerStep/);
    await expectError(() => pixelFlipping(model, x, 0, relevance, { perturbation: 'blur' as never }), LrpArgumentError, /options.perturbation/, /'baseline', 'mean', 'uniform'/);
    await expectError(() => pixelFlipping(model, x, 0, relevance, { perturbation: 'mean', value: 1 }), LrpArgumentError, /options.value/, /'baseline' only/);
    await expectError(() => pixelFlipping(model, x, 0, relevance, { value: NaN }), LrpArgumentError, /options.value/, /finite/);
    await expectError(() => pixelFlipping(model, x, 0, relevance, { seed: 0.5 }), LrpArgumentError, /options.seed/, /integer/);
    await expectError(() => pixelFlipping(model, x, 0, relevance, { random: 'yes' as never }), LrpArgumentError, /options.random/);
    await expectError(() => pixelFlipping(model, x, 0, relevance, { patch: 2 } as never), LrpArgumentError, /options.patch/, /unknown option/, /patchSize/);
    await expectError(() => pixelFlipping(model, x, 2, relevance), LrpArgumentError, /Argument 'classIdx'/, /\[0, 1\]/);
    await expectError(() => pixelFlipping(model, x, [0], relevance), LrpArgumentError, /Argument 'classIdx'/, /1 entries but the batch has 2/);
    const nan = tf.fill([2, 4, 4, 1], NaN);
    await expectError(() => pixelFlipping(model, x, 0, nan), LrpArgumentError, /Argument 'relevance'/, /NaN/);
    const big = tf.ones([2, 6, 6, 1]);
    await expectError(() => pixelFlipping(model, big, 0, big), LrpArgumentError, /Argument 'input'/, /does not fit the model's input \[batch, 4, 4, 1\]/);
    // two image inputs
    const a = tf.input({ shape: [4, 4, 1] });
    const b = tf.input({ shape: [4, 4, 1] });
    const out = tf.layers.dense({ units: 2 }).apply(tf.layers.flatten().apply(tf.layers.concatenate().apply([a, b]))) as tf.SymbolicTensor;
    const twoInputs = tf.model({ inputs: [a, b], outputs: out });
    await expectError(() => pixelFlipping(twoInputs, x, 0, relevance), LrpArgumentError, /Argument 'model'/, /one image input/);
    await expectNoLeak(() => pixelFlipping(model, x, 'max', relevance, { patchSize: 2, perturbation: 'uniform' }));
    tf.dispose([x, relevance, flat, wrong, nan, big]);
    model.dispose();
    twoInputs.dispose();
  });
});

describe('pixelFlipping on the MNIST fixture (wasm)', () => {
  let model: tf.LayersModel;
  let x: tf.Tensor4D;
  const labels: number[] = [];
  beforeAll(async () => {
    await useBackend('wasm');
    model = await loadModel(path.join(__dirname, '..', 'fixtures', 'digits'));
    // 16 held-out digits: the first two held-out samples of the digits 0–7
    const pixels: number[] = [];
    for (let d = 0; d < 8; d++) {
      for (let k = 0; k < 2; k++) {
        pixels.push(...digit(d, heldOutIndex(d, k)));
        labels.push(d);
      }
    }
    x = tf.tensor4d(pixels, [16, 28, 28, 1]);
  });
  afterAll(async () => {
    x.dispose();
    model.dispose();
    await useBackend('cpu');
  });

  test('LRP (epsilonPlusFlat) most relevant first falls faster than a random order', async () => {
    const relevance = explain(model, x, labels, { composite: 'epsilonPlusFlat' }) as tf.Tensor;
    const report = await pixelFlipping(model, x, labels, relevance, { patchSize: 4 });
    relevance.dispose();
    const lrp = report.mostRelevantFirst;
    const random = report.random as NonNullable<typeof report.random>;
    expect(report.numPatches).toBe(49);
    expect(report.classIdx).toEqual(labels);
    expect(lrp.meanAopc).toBeGreaterThan(random.meanAopc);
    // most samples individually
    expect(lrp.aopc.filter((v, i) => v > random.aopc[i]).length).toBeGreaterThanOrEqual(14);
    // after 20% of the patches the score has fallen by more than half, far more than at random
    const k = report.fraction.findIndex((f) => f >= 0.2);
    expect(lrp.meanScores[k]).toBeLessThan(lrp.meanScores[0] / 2);
    expect(lrp.meanScores[k]).toBeLessThan(random.meanScores[k]);
  });

  test('crossValidate on digits: LRP and IG agree more than chance; no leaks', async () => {
    const batch = x.slice(0, 4);
    const report = await crossValidate(model, batch, labels.slice(0, 4), { composite: 'epsilonPlusFlat', steps: 16 });
    expect(report.mean.pearson).toBeGreaterThan(0.3);
    expect(report.mean.topKIoU).toBeGreaterThan(0.1);
    await expectNoLeak(() => pixelFlipping(model, batch, 'max', batch, { patchSize: 4, steps: 4 }));
    batch.dispose();
  });
});
