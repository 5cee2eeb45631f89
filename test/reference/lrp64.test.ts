/**
 * Tests of the float64 reference itself (test/reference/lrp64.ts), so that the engine's tests
 * can trust it: forward vs tfjs predict, conservation, LRP-0 == gradient x input (finite
 * differences), ZPlus == AlphaBeta(1,0), and hand-computed cases from LRP_RULES.md.
 */
import * as tf from '@tensorflow/tfjs';
import { refGraphFromModel } from './fromModel';
import {
  Arr,
  RefGraph,
  RefOp,
  RefRule,
  forward64,
  lrp64,
  makeArr,
  numel,
  pointwiseKey,
  preKey,
  refRules,
} from './lrp64';
import { seededRandom } from '../../scripts/random';

// ------------------------------------------------------------------------------------------
// helpers
// ------------------------------------------------------------------------------------------

const mulberry32 = seededRandom;

function gauss(rng: () => number): number {
  const u = Math.max(rng(), 1e-12);
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

function allLayers(model: tf.LayersModel): tf.layers.Layer[] {
  const out: tf.layers.Layer[] = [];
  for (const l of model.layers) {
    if (l instanceof tf.LayersModel) out.push(...allLayers(l));
    else out.push(l);
  }
  return out;
}

/** Random weights; bnZeroShift makes every BatchNorm's moving mean and beta 0 (bias-free merge). */
function randomize(model: tf.LayersModel, seed: number, bnZeroShift = false): void {
  const rng = mulberry32(seed);
  for (const layer of allLayers(model)) {
    if (layer.weights.length === 0) continue;
    const current = layer.getWeights();
    const vals = layer.weights.map((v, idx) => {
      const shape = current[idx].shape;
      const n = numel(shape);
      const base = (v.originalName.split('/').pop() ?? '').replace(/_\d+$/, '');
      const data = new Float32Array(n);
      for (let k = 0; k < n; k++) {
        if (base === 'moving_variance') data[k] = 0.5 + rng();
        else if (base === 'moving_mean' || base === 'beta') data[k] = bnZeroShift ? 0 : 0.3 * gauss(rng);
        else if (base === 'gamma') data[k] = (rng() < 0.3 ? -1 : 1) * (0.5 + rng());
        else if (base === 'bias') data[k] = 0.3 * gauss(rng);
        else if (base === 'embeddings') data[k] = gauss(rng);
        else data[k] = gauss(rng) / Math.sqrt(n / shape[shape.length - 1]);
      }
      return tf.tensor(data, shape);
    });
    layer.setWeights(vals);
    vals.forEach((t) => t.dispose()); // (getWeights() returns the variables' own tensors: not disposed)
  }
}

/** Random input, float32-representable (the same numbers go to tfjs and to the reference). */
function randomInput(shape: number[], seed: number, ints?: number): Arr {
  const rng = mulberry32(seed);
  const f = new Float32Array(numel(shape));
  for (let k = 0; k < f.length; k++) f[k] = ints === undefined ? gauss(rng) : Math.floor(rng() * ints);
  return makeArr(shape, f);
}

function predict(model: tf.LayersModel, xs: Arr[]): Arr {
  const ts = xs.map((x) => tf.tensor(Float32Array.from(x.data), x.shape));
  const y = model.predict(ts.length === 1 ? ts[0] : ts) as tf.Tensor;
  const out: Arr = { shape: y.shape.slice(), data: Float64Array.from(y.dataSync()) };
  ts.forEach((t) => t.dispose());
  y.dispose();
  return out;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let k = 0; k < a.length; k++) m = Math.max(m, Math.abs(a[k]));
  return m;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let k = 0; k < a.length; k++) m = Math.max(m, Math.abs(a[k] - b[k]));
  return m;
}

function expectClose(actual: ArrayLike<number>, expected: number[], tol = 1e-12): void {
  expect(actual.length).toBe(expected.length);
  for (let k = 0; k < expected.length; k++) {
    if (!(Math.abs(actual[k] - expected[k]) <= tol * (1 + Math.abs(expected[k])))) {
      throw new Error(`element ${k}: got ${actual[k]}, expected ${expected[k]} (all: ${Array.from(actual).join(', ')})`);
    }
  }
}

function checkForward(model: tf.LayersModel, xs: Arr[]): RefGraph {
  const graph = refGraphFromModel(model);
  const vals = forward64(graph, xs);
  const ref = vals.get(graph.output);
  if (ref === undefined) throw new Error('no output');
  const tfOut = predict(model, xs);
  expect(ref.shape).toEqual(tfOut.shape);
  const err = maxAbsDiff(ref.data, tfOut.data);
  expect(err).toBeLessThanOrEqual(2e-5 * (1 + maxAbs(tfOut.data)));
  expect(maxAbs(tfOut.data)).toBeGreaterThan(1e-3); // not a trivially-zero comparison
  return graph;
}

const L = tf.layers;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// ------------------------------------------------------------------------------------------
// models used by several tests
// ------------------------------------------------------------------------------------------

/** Functional CNN: Conv, BN (merged and not), pools, Add, Concatenate, Dense softmax. */
function cnnModel(useBias: boolean): tf.LayersModel {
  const inp = tf.input({ shape: [7, 7, 4] });
  const c1 = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias }).apply(inp) as tf.SymbolicTensor;
  const bn1 = L.batchNormalization({}).apply(c1) as tf.SymbolicTensor; // merged into c1
  const a1 = L.activation({ activation: 'tanh' }).apply(bn1) as tf.SymbolicTensor;
  const c2 = L.conv2d({ filters: 4, kernelSize: 4, strides: 2, padding: 'same', useBias, activation: 'elu' }).apply(a1) as tf.SymbolicTensor;
  const c3 = L.conv2d({ filters: 4, kernelSize: 3, dilationRate: 2, padding: 'same', useBias }).apply(c2) as tf.SymbolicTensor;
  const add = L.add().apply([c2, c3]) as tf.SymbolicTensor; // c2 fans out
  const mp = L.maxPooling2d({ poolSize: 2, strides: 1, padding: 'valid' }).apply(add) as tf.SymbolicTensor;
  const ap = L.averagePooling2d({ poolSize: 2, strides: 1, padding: 'valid' }).apply(add) as tf.SymbolicTensor;
  const cat = L.concatenate({ axis: -1 }).apply([mp, ap]) as tf.SymbolicTensor;
  const bn2 = L.batchNormalization({ scale: false }).apply(cat) as tf.SymbolicTensor; // not merged (Pass)
  const c4 = L.conv2d({ filters: 3, kernelSize: 2, padding: 'valid', useBias, activation: 'tanh' }).apply(bn2) as tf.SymbolicTensor;
  const f = L.flatten().apply(c4) as tf.SymbolicTensor;
  const d1 = L.dense({ units: 16, activation: 'tanh', useBias }).apply(f) as tf.SymbolicTensor;
  const out = L.dense({ units: 3, activation: 'softmax', useBias }).apply(d1) as tf.SymbolicTensor;
  return tf.model({ inputs: inp, outputs: out });
}

/** Depthwise, separable, transposed convs, padding/cropping/upsampling, global pools. */
/**
 * lossy: include ZeroPadding2D and a 'same' AveragePooling2D, where value-blind rules (Flat)
 * lose relevance (padded zeros get some; an all-zero pooling window cannot pass it on).
 */
function exoticModel(useBias: boolean, lossy = true): tf.LayersModel {
  const inp = tf.input({ shape: [6, 6, 2] });
  let h = lossy ? (L.zeroPadding2d({ padding: [[1, 0], [2, 1]] }).apply(inp) as tf.SymbolicTensor) : inp; // 7x9
  h = L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same', useBias }).apply(h) as tf.SymbolicTensor; // 4x5x4
  h = L.batchNormalization({}).apply(h) as tf.SymbolicTensor; // merged into the depthwise conv
  h = L.leakyReLU({ alpha: 0.2 }).apply(h) as tf.SymbolicTensor;
  h = L.separableConv2d({ filters: 3, kernelSize: 3, depthMultiplier: 2, padding: 'same', useBias }).apply(h) as tf.SymbolicTensor;
  h = L.reLU({ maxValue: 0.8 }).apply(h) as tf.SymbolicTensor;
  h = L.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2, padding: 'same', useBias }).apply(h) as tf.SymbolicTensor; // 8x10x2
  h = L.cropping2D({ cropping: [[1, 2], [0, 3]] }).apply(h) as tf.SymbolicTensor; // 5x7
  h = L.upSampling2d({ size: [2, 1] }).apply(h) as tf.SymbolicTensor; // 10x7
  h = L.elu({}).apply(h) as tf.SymbolicTensor;
  if (lossy) h = L.averagePooling2d({ poolSize: [3, 2], strides: [2, 1], padding: 'same' }).apply(h) as tf.SymbolicTensor; // 5x7
  h = L.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2, padding: 'valid', useBias, activation: 'swish' }).apply(h) as tf.SymbolicTensor;
  const g1 = L.conv2dTranspose({ filters: 2, kernelSize: 1, strides: 2, padding: 'valid', useBias }).apply(h) as tf.SymbolicTensor; // k < s
  const gap = L.globalAveragePooling2d({}).apply(g1) as tf.SymbolicTensor;
  const gmp = L.globalMaxPooling2d({}).apply(h) as tf.SymbolicTensor;
  const cat = L.concatenate({}).apply([gap, gmp]) as tf.SymbolicTensor;
  const d = L.dense({ units: 3, useBias }).apply(cat) as tf.SymbolicTensor;
  const out = L.softmax({}).apply(d) as tf.SymbolicTensor;
  return tf.model({ inputs: inp, outputs: out });
}

/** Conv1D / 1-D pools / Dense on rank 3 / Permute / Reshape (Sequential). */
function seq1dModel(useBias: boolean): tf.LayersModel {
  return tf.sequential({
    layers: [
      L.conv1d({ inputShape: [11, 3], filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'tanh', useBias }),
      L.maxPooling1d({ poolSize: 2, strides: 1, padding: 'same' }),
      L.conv1d({ filters: 3, kernelSize: 2, dilationRate: 2, padding: 'valid', activation: 'elu', useBias }),
      L.averagePooling1d({ poolSize: 2, strides: 1, padding: 'valid' }),
      L.dense({ units: 4, useBias }), // on [N, T, C]
      L.dropout({ rate: 0.5 }),
      L.permute({ dims: [2, 1] }),
      L.reshape({ targetShape: [6, 2] }),
      L.flatten(),
      L.dense({ units: 3, useBias }),
    ],
  });
}

/** Embedding + nested Sequential (functional outer) + sigmoid output. */
function embeddingModel(useBias: boolean): tf.LayersModel {
  const inner = tf.sequential({
    layers: [
      L.conv1d({ inputShape: [5, 4], filters: 3, kernelSize: 2, padding: 'same', useBias, activation: 'relu' }),
      L.spatialDropout1d({ rate: 0.3 }),
      L.globalAveragePooling1d({}),
    ],
  });
  const inp = tf.input({ shape: [5] });
  const e = L.embedding({ inputDim: 7, outputDim: 4 }).apply(inp) as tf.SymbolicTensor;
  const h = inner.apply(e) as tf.SymbolicTensor;
  const gm = L.globalMaxPooling1d({}).apply(e) as tf.SymbolicTensor;
  const cat = L.concatenate({}).apply([h, gm]) as tf.SymbolicTensor;
  const out = L.dense({ units: 2, activation: 'sigmoid', useBias }).apply(cat) as tf.SymbolicTensor;
  return tf.model({ inputs: inp, outputs: out });
}

/** Sequential with a nested Sequential in the middle and a chain of activation types. */
function nestedSeqModel(): tf.LayersModel {
  const inner = tf.sequential({
    layers: [L.dense({ inputShape: [5], units: 4, activation: 'selu' }), L.dense({ units: 4, activation: 'softplus' })],
  });
  const m = tf.sequential();
  m.add(L.batchNormalization({ inputShape: [3] })); // BN not after a linear layer
  m.add(L.dense({ units: 5, activation: 'hardSigmoid' }));
  m.add(inner);
  m.add(L.dense({ units: 4, activation: 'softsign' }));
  m.add(L.activation({ activation: 'relu6' }));
  m.add(L.dense({ units: 4, activation: 'sigmoid' }));
  m.add(L.dense({ units: 3, activation: 'mish' }));
  return m;
}

// ------------------------------------------------------------------------------------------
// forward
// ------------------------------------------------------------------------------------------

describe('forward64 == model.predict (float32 tolerance)', () => {
  test('functional CNN: conv same/strided/dilated, BN, max/avg pool, Add, Concatenate, softmax', () => {
    const m = cnnModel(true);
    randomize(m, 1);
    const g = checkForward(m, [randomInput([2, 7, 7, 4], 11)]);
    expect(g.nodes.map((n) => n.op.type)).toEqual([
      'input', 'conv2d', 'batchNorm', 'activation', 'conv2d', 'conv2d', 'add', 'maxPool', 'avgPool',
      'concatenate', 'batchNorm', 'conv2d', 'flatten', 'dense', 'dense',
    ]);
  });
  test('depthwise / separable / conv2dTranspose / padding / cropping / upsampling / global pools', () => {
    const m = exoticModel(true);
    randomize(m, 2);
    checkForward(m, [randomInput([2, 6, 6, 2], 12)]);
  });
  test('conv1d, 1-D pools, dense on rank 3, permute, reshape (Sequential)', () => {
    const m = seq1dModel(true);
    randomize(m, 3);
    checkForward(m, [randomInput([2, 11, 3], 13)]);
  });
  test('embedding + nested Sequential inside a functional model', () => {
    const m = embeddingModel(true);
    randomize(m, 4);
    const g = checkForward(m, [randomInput([3, 5], 14, 7)]);
    expect(g.nodes.filter((n) => n.op.type === 'conv1d').length).toBe(1);
  });
  test('nested Sequential inside a Sequential; selu/softplus/hardSigmoid/softsign/relu6/mish', () => {
    const m = nestedSeqModel();
    randomize(m, 5);
    checkForward(m, [randomInput([4, 3], 15)]);
  });
});

// ------------------------------------------------------------------------------------------
// conservation
// ------------------------------------------------------------------------------------------

type RulesFor = [string, (g: RefGraph) => Record<string, RefRule>];
/** Conservative on any bias-free model (every unit with z_j != 0). */
const UNCONDITIONAL: RulesFor[] = [
  // (with eps = 1e-9 the absorbed part, ~eps * Σ_j R_j / z_j, is ~1e-8 relative here)
  ['epsilon 1e-12', (g) => refRules(g, { rule: 'epsilon', epsilon: 1e-12 })],
  ['gamma 0.25', (g) => refRules(g, { rule: 'gamma', stabilizer: 1e-12 })],
  ['flat everywhere', (g) => allRules(g, { name: 'flat', stabilizer: 1e-12 })],
  ['wSquare everywhere', (g) => allRules(g, { name: 'wSquare', stabilizer: 1e-12 })],
];
/**
 * Conservative only if every unit that receives relevance has both a positive and a negative
 * contribution (else ZPlus absorbs R_j, AlphaBeta returns alpha*R_j or -beta*R_j): used on
 * models whose every linear layer has a fan-in >= 16.
 */
const SIGN_SPLIT: RulesFor[] = [
  ['zPlus', (g) => refRules(g, { rule: 'zPlus', stabilizer: 1e-12 })],
  ['alphaBeta(2,1)', (g) => refRules(g, { rule: 'alphaBeta', alpha: 2, beta: 1, stabilizer: 1e-12 })],
  ['alphaBeta(3,2)', (g) => refRules(g, { rule: 'alphaBeta', alpha: 3, beta: 2, stabilizer: 1e-12 })],
  ['epsilonPlusFlat', (g) => refRules(g, { composite: 'epsilonPlusFlat', epsilon: 1e-12, stabilizer: 1e-12 })],
  ['epsilonAlpha2Beta1 + wSquare first', (g) => refRules(g, { composite: 'epsilonAlpha2Beta1', epsilon: 1e-12, stabilizer: 1e-12, firstLayer: 'wSquare' })],
];

function allRules(g: RefGraph, r: RefRule): Record<string, RefRule> {
  const out: Record<string, RefRule> = {};
  for (const n of g.nodes) out[n.name] = r;
  for (const n of g.nodes) if (n.op.type === 'separableConv2d') out[pointwiseKey(n.name)] = r;
  return out;
}

describe('conservation on bias-free models (sum R_in == logit, 1e-9 relative)', () => {
  const cases: [string, () => tf.LayersModel, number[], number[], RulesFor[], number?][] = [
    ['functional CNN (fan-in >= 16)', () => cnnModel(false), [3, 7, 7, 4], [0, 1, 2], [...UNCONDITIONAL, ...SIGN_SPLIT]],
    ['depthwise/separable/transpose', () => exoticModel(false, false), [2, 6, 6, 2], [2, 0], UNCONDITIONAL],
    ['conv1d sequential', () => seq1dModel(false), [2, 11, 3], [1, 2], UNCONDITIONAL],
    ['embedding + nested', () => embeddingModel(false), [3, 5], [0, 1, 1], UNCONDITIONAL, 7],
  ];
  for (const [label, make, shape, cls, ruleSets, ints] of cases) {
    test(label, () => {
      const m = make();
      randomize(m, 100 + shape.length, true);
      const g = refGraphFromModel(m);
      const x = randomInput(shape, 200 + cls.length, ints);
      for (const [ruleLabel, mk] of ruleSets) {
        // Norm stabilizer 1e-15: Norm absorbs ~eps * R_j / mean_j, and with value-blind rules
        // (Flat) above a global average pool R_j / mean_j can be ~1e3
        const res = lrp64(g, [x], cls, mk(g), { stabilizer: 1e-15 });
        for (let n = 0; n < cls.length; n++) {
          const logit = res.score[n];
          expect(Math.abs(logit)).toBeGreaterThan(1e-3);
          const err = Math.abs(res.inputSum[n] - logit) / Math.abs(logit);
          if (!(err <= 1e-9)) throw new Error(`${label} / ${ruleLabel} sample ${n}: sum R ${res.inputSum[n]} vs logit ${logit}`);
        }
        if (ints !== undefined) expect(res.relevance[0].shape).toEqual(shape); // token relevance [N, T]
      }
    });
  }

  test('the checks can fail: a bias, a small fan-in for AlphaBeta, Flat on ZeroPadding', () => {
    const relErr = (res: { inputSum: number[]; score: number[] }): number =>
      Math.max(...res.inputSum.map((s, n) => Math.abs(s - res.score[n]) / Math.abs(res.score[n])));
    const m = cnnModel(true);
    randomize(m, 7);
    const g = refGraphFromModel(m);
    expect(relErr(lrp64(g, [randomInput([2, 7, 7, 4], 8)], [0, 1], refRules(g, { rule: 'epsilon', epsilon: 1e-12 })))).toBeGreaterThan(1e-4);
    const m1 = seq1dModel(false); // Dense on [N,T,3]: fan-in 3
    randomize(m1, 103, true);
    const g1 = refGraphFromModel(m1);
    const x1 = randomInput([2, 11, 3], 202);
    expect(relErr(lrp64(g1, [x1], [1, 2], refRules(g1, { rule: 'alphaBeta', stabilizer: 1e-12 }), { stabilizer: 1e-12 }))).toBeGreaterThan(1e-3);
    const m2 = exoticModel(false, true); // Flat: relevance lost at ZeroPadding / all-zero avg-pool windows
    randomize(m2, 104, true);
    const g2 = refGraphFromModel(m2);
    const x2 = randomInput([2, 6, 6, 2], 202);
    expect(relErr(lrp64(g2, [x2], [2, 0], allRules(g2, { name: 'flat' }), { stabilizer: 1e-12 }))).toBeGreaterThan(1e-3);
    expect(relErr(lrp64(g2, [x2], [2, 0], refRules(g2, { rule: 'epsilon', epsilon: 1e-12 }), { stabilizer: 1e-12 }))).toBeLessThan(1e-9);
  });
});

// ------------------------------------------------------------------------------------------
// LRP-0 == gradient x input
// ------------------------------------------------------------------------------------------

describe('LRP-0 on a bias-free ReLU net == gradient x input (central finite differences)', () => {
  test('conv / maxpool / add / avgpool / dense', () => {
    const inp = tf.input({ shape: [5, 5, 1] });
    const c1 = L.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', useBias: false }).apply(inp) as tf.SymbolicTensor;
    const p1 = L.maxPooling2d({ poolSize: 2, padding: 'same' }).apply(c1) as tf.SymbolicTensor; // 3x3
    const c2 = L.conv2d({ filters: 3, kernelSize: 2, padding: 'same', activation: 'relu', useBias: false }).apply(p1) as tf.SymbolicTensor;
    const add = L.add().apply([p1, c2]) as tf.SymbolicTensor;
    const ap = L.averagePooling2d({ poolSize: 2, strides: 1 }).apply(add) as tf.SymbolicTensor; // 2x2
    const f = L.flatten().apply(ap) as tf.SymbolicTensor;
    const d1 = L.dense({ units: 5, activation: 'relu', useBias: false }).apply(f) as tf.SymbolicTensor;
    const out = L.dense({ units: 3, activation: 'softmax', useBias: false }).apply(d1) as tf.SymbolicTensor;
    const m = tf.model({ inputs: inp, outputs: out });
    randomize(m, 21);
    const g = refGraphFromModel(m);
    const x = randomInput([2, 5, 5, 1], 22);
    const cls = [0, 2];
    const res = lrp64(g, [x], cls, refRules(g, { rule: 'zero' }), { stabilizer: 1e-300 });
    const logit = (xx: Arr, n: number): number => {
      const z = forward64(g, [xx]).get(preKey(g.output));
      if (z === undefined) throw new Error('no logits');
      return z.data[n * 3 + cls[n]];
    };
    const h = 1e-6;
    const per = numel(x.shape.slice(1));
    const gxi = new Float64Array(x.data.length);
    for (let k = 0; k < x.data.length; k++) {
      const n = Math.floor(k / per);
      const xp = makeArr(x.shape, x.data);
      const xm = makeArr(x.shape, x.data);
      xp.data[k] += h;
      xm.data[k] -= h;
      gxi[k] = (x.data[k] * (logit(xp, n) - logit(xm, n))) / (2 * h);
    }
    const r = res.relevance[0].data;
    expect(maxAbs(r)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(r, gxi)).toBeLessThanOrEqual(1e-7 * maxAbs(gxi));
    // bias-free ReLU net: LRP-0 is also conservative
    for (let n = 0; n < 2; n++) expect(Math.abs(res.inputSum[n] - res.score[n])).toBeLessThan(1e-9 * Math.abs(res.score[n]));
  });
});

describe('LRP-0 == gradient x input on depthwise / separable / transposed / resampling layers', () => {
  test('bias-free, ReLU and LeakyReLU (positively homogeneous)', () => {
    const inp = tf.input({ shape: [5, 5, 2] });
    let h = L.zeroPadding2d({ padding: [[1, 0], [0, 1]] }).apply(inp) as tf.SymbolicTensor; // 6x6
    h = L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same', useBias: false, activation: 'relu' }).apply(h) as tf.SymbolicTensor; // 3x3x4
    h = L.separableConv2d({ filters: 3, kernelSize: 2, padding: 'same', useBias: false }).apply(h) as tf.SymbolicTensor;
    h = L.leakyReLU({ alpha: 0.1 }).apply(h) as tf.SymbolicTensor;
    h = L.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2, padding: 'same', useBias: false, activation: 'relu' }).apply(h) as tf.SymbolicTensor; // 6x6
    h = L.cropping2D({ cropping: [[1, 0], [0, 2]] }).apply(h) as tf.SymbolicTensor; // 5x4
    h = L.upSampling2d({ size: [1, 2] }).apply(h) as tf.SymbolicTensor; // 5x8
    h = L.averagePooling2d({ poolSize: 2, padding: 'same' }).apply(h) as tf.SymbolicTensor; // 3x4
    h = L.conv2dTranspose({ filters: 2, kernelSize: 2, strides: 3, padding: 'valid', useBias: false }).apply(h) as tf.SymbolicTensor;
    const gap = L.globalAveragePooling2d({}).apply(h) as tf.SymbolicTensor;
    const gmp = L.globalMaxPooling2d({}).apply(h) as tf.SymbolicTensor;
    const cat = L.concatenate({}).apply([gap, gmp]) as tf.SymbolicTensor;
    const out = L.dense({ units: 2, useBias: false }).apply(cat) as tf.SymbolicTensor;
    const m = tf.model({ inputs: inp, outputs: out });
    randomize(m, 51);
    const x = randomInput([1, 5, 5, 2], 52);
    const g = checkForward(m, [x]);
    // eps 1e-300 == LRP-0 except that units with z exactly 0 (all inputs ReLU-dead) give 0, not 0/0
    const res = lrp64(g, [x], [1], allRules(g, { name: 'epsilon', epsilon: 1e-300 }), { stabilizer: 1e-300 });
    const h0 = 1e-6;
    const gxi = new Float64Array(x.data.length);
    const f = (xx: Arr): number => {
      const z = forward64(g, [xx]).get(g.output);
      if (z === undefined) throw new Error('no output');
      return z.data[1];
    };
    for (let k = 0; k < x.data.length; k++) {
      const xp = makeArr(x.shape, x.data);
      const xm = makeArr(x.shape, x.data);
      xp.data[k] += h0;
      xm.data[k] -= h0;
      gxi[k] = (x.data[k] * (f(xp) - f(xm))) / (2 * h0);
    }
    const r = res.relevance[0].data;
    expect(maxAbs(r)).toBeGreaterThan(1e-4);
    expect(maxAbsDiff(r, gxi)).toBeLessThanOrEqual(1e-7 * maxAbs(gxi));
  });
});

// ------------------------------------------------------------------------------------------
// ZPlus == AlphaBeta(1, 0)
// ------------------------------------------------------------------------------------------

describe('ZPlus == AlphaBeta(1, 0)', () => {
  test('on a CNN with biases and BN, to the last digit', () => {
    const m = cnnModel(true);
    randomize(m, 31);
    const g = refGraphFromModel(m);
    const x = randomInput([2, 7, 7, 4], 32);
    const a = lrp64(g, [x], [1, 2], refRules(g, { rule: 'zPlus' }));
    const b = lrp64(g, [x], [1, 2], refRules(g, { rule: 'alphaBeta', alpha: 1, beta: 0 }));
    expect(maxAbs(a.relevance[0].data)).toBeGreaterThan(1e-3);
    expect(Array.from(a.relevance[0].data)).toEqual(Array.from(b.relevance[0].data));
    // biases (b⁺ in the denominator) make ZPlus non-conservative here
    expect(Math.abs(a.inputSum[0] - a.score[0])).toBeGreaterThan(1e-6);
  });
});

// ------------------------------------------------------------------------------------------
// hand-computed cases
// ------------------------------------------------------------------------------------------

/** input [N,2] -> dense 2->2 with W[i][o], b. */
function dense2(W: number[][], b?: number[], activation = 'linear'): RefGraph {
  return {
    nodes: [
      { name: 'x', inputs: [], op: { type: 'input' } },
      {
        name: 'd',
        inputs: ['x'],
        op: {
          type: 'dense',
          kernel: makeArr([2, W[0].length], W.flat()),
          bias: b === undefined ? undefined : makeArr([b.length], b),
          activation,
        },
      },
    ],
    inputs: ['x'],
    output: 'd',
  };
}

function run(g: RefGraph, x: number[][], cls: number[], rule: RefRule, opts = {}): number[][] {
  const xs = makeArr([x.length, x[0].length], x.flat());
  const res = lrp64(g, [xs], cls, { d: rule }, opts);
  const per = x[0].length;
  return x.map((_, n) => Array.from(res.relevance[0].data.slice(n * per, (n + 1) * per)));
}

describe('hand-computed 2x2 Dense cases', () => {
  test('epsilon: sign(0) = +1 in the stabilizer', () => {
    // x = [1, 1], W[:,0] = [1, -1] -> z0 = 0 exactly; 'one' relevance, eps = 0.5:
    // R_i = x_i W_i0 * 1 / (0 + 0.5) = [2, -2]  (sign(0) = -1 would give [-2, 2])
    const g = dense2([[1, 2], [-1, 1]]);
    expect(run(g, [[1, 1]], [0], { name: 'epsilon', epsilon: 0.5 }, { outputRelevance: 'one' })).toEqual([[2, -2]]);
    // LRP-0 at z = 0 divides by zero
    const r0 = run(g, [[1, 1]], [0], { name: 'epsilon', epsilon: 0 }, { outputRelevance: 'one' });
    expect(r0[0].every((v) => !Number.isFinite(v))).toBe(true);
  });

  test('epsilon: negative z, bias in the denominator', () => {
    // x=[1,2], W=[[1,-1],[-1,0.5]], b=[0.5,-0.5]: z0 = 1 - 2 + 0.5 = -0.5, z1 = -1 + 1 - 0.5 = -0.5
    // eps 0.25: stab(-0.5) = -0.75; class 0: R = -0.5 -> g = 2/3 -> [1*1*2/3, 2*(-1)*2/3]
    const g = dense2([[1, -1], [-1, 0.5]], [0.5, -0.5]);
    const r = run(g, [[1, 2], [1, 2]], [0, 1], { name: 'epsilon', epsilon: 0.25 });
    expectClose(r[0], [2 / 3, -4 / 3]);
    expectClose(r[1], [-2 / 3, 2 / 3]); // class 1: contributions -1 and +1, g = 2/3
  });

  test('gamma with mixed signs of inputs, weights, biases and z', () => {
    // x=[1,-2], W=[[2,-1],[1,3]], b=[0.5,-1]; z0 = 2 - 2 + 0.5 = 0.5 > 0; z1 = -1 - 6 - 1 = -8 < 0
    const g = dense2([[2, -1], [1, 3]], [0.5, -1]);
    const r = run(g, [[1, -2], [1, -2]], [0, 1], { name: 'gamma', gamma: 0.25 });
    // unit 0 (z>0): num = xW + γ(xW)⁺ = [2 + 0.5, -2 + 0] = [2.5, -2];
    //   den = 2.5 - 2 + b + γb⁺ = 0.5 + 0.5 + 0.125 = 1.125; R_out = 0.5
    expectClose(r[0], [(2.5 * 0.5) / (1.125 + 1e-6), (-2 * 0.5) / (1.125 + 1e-6)]);
    // unit 1 (z<0): num = xW + γ(xW)⁻ = [-1 - 0.25, -6 - 1.5] = [-1.25, -7.5];
    //   den = -8.75 + b + γb⁻ = -8.75 - 1 - 0.25 = -10 -> stab = -10 - 1e-6; R_out = -8
    expectClose(r[1], [(-1.25 * -8) / (-10 - 1e-6), (-7.5 * -8) / (-10 - 1e-6)]);
    // the same as decimal numbers
    expectClose(r[0], [1.1111101234576681, -0.8888880987661345], 1e-14);
    expectClose(r[1], [-0.99999990000001, -5.9999994000000605], 1e-14);
  });

  test('gamma: a unit with z exactly 0 passes no relevance', () => {
    const g = dense2([[1, 2], [-1, 1]]);
    expect(run(g, [[1, 1]], [0], { name: 'gamma', gamma: 0.25 }, { outputRelevance: 'one' })).toEqual([[0, 0]]);
  });

  test('zPlus and alphaBeta(2,1): negative inputs, positive bias absorbs', () => {
    // x=[1,-2], W[:,0]=[2,1], b0=0.5, z0 = 0.5.  z⁺ = [x⁺W⁺, x⁻W⁻] = [2, 0], den = 2 + b⁺ = 2.5
    const g = dense2([[2, -1], [1, 3]], [0.5, -1]);
    expectClose(run(g, [[1, -2]], [0], { name: 'zPlus' })[0], [(2 * 0.5) / (2.5 + 1e-6), 0]);
    // z⁻ = [x⁺W⁻, x⁻W⁺] = [0, -2], den⁻ = -2 + b⁻ = -2 -> stab -2 - 1e-6
    expectClose(run(g, [[1, -2]], [0], { name: 'alphaBeta', alpha: 2, beta: 1 })[0], [
      (2 * 2 * 0.5) / (2.5 + 1e-6),
      (-1 * -2 * 0.5) / (-2 - 1e-6),
    ]);
    // no negative contribution and b >= 0: den⁻ = 0 -> stab(0) = +1e-6, numerators 0 -> no NaN
    const g2 = dense2([[1, 0], [1, 0]]);
    expectClose(run(g2, [[1, 2]], [0], { name: 'alphaBeta', alpha: 2, beta: 1 })[0], [
      (2 * 1 * 3) / (3 + 1e-6),
      (2 * 2 * 3) / (3 + 1e-6),
    ]);
    expect(() => run(g2, [[1, 2]], [0], { name: 'alphaBeta', alpha: 2, beta: 0 })).toThrow();
  });

  test('flat, wSquare (squared bias in the denominator), zBox (bias cancels)', () => {
    const g = dense2([[2, -1], [-1, 3]], [0.5, -1]);
    // z0 = 1*2 + (-2)(-1) + 0.5 = 4.5
    expectClose(run(g, [[1, -2]], [0], { name: 'flat' })[0], [4.5 / (2 + 1e-6), 4.5 / (2 + 1e-6)]);
    // W² = [4, 1], den = 4 + 1 + 0.25 = 5.25
    expectClose(run(g, [[1, -2]], [0], { name: 'wSquare' })[0], [(4 * 4.5) / (5.25 + 1e-6), (1 * 4.5) / (5.25 + 1e-6)]);
    // l=-3, h=3: num = xW - lW⁺ - hW⁻ = [2 + 6 - 0, 2 - 0 + 3] = [8, 5], den = 13
    expectClose(run(g, [[1, -2]], [0], { name: 'zBox', low: -3, high: 3 })[0], [(8 * 4.5) / (13 + 1e-6), (5 * 4.5) / (13 + 1e-6)]);
    // per-input bounds as an Arr: l = [-1, -4], h = [2, 1]: num = [2 + 2, 2 - 0 + 1] = [4, 3]
    expectClose(
      run(g, [[1, -2]], [0], { name: 'zBox', low: makeArr([2], [-1, -4]), high: makeArr([2], [2, 1]) })[0],
      [(4 * 4.5) / (7 + 1e-6), (3 * 4.5) / (7 + 1e-6)],
    );
  });

  test('BatchNorm merged into the Dense (negative gamma flips the weights) vs not merged', () => {
    const bn: RefOp = {
      type: 'batchNorm',
      gamma: makeArr([1], [-2]),
      beta: makeArr([1], [0]),
      mean: makeArr([1], [0.5]),
      variance: makeArr([1], [3]),
      epsilon: 1,
    };
    const mk = (act: string): RefGraph => ({
      nodes: [
        { name: 'x', inputs: [], op: { type: 'input' } },
        { name: 'd', inputs: ['x'], op: { type: 'dense', kernel: makeArr([2, 1], [1, -1]), activation: act } },
        { name: 'bn', inputs: ['d'], op: bn },
      ],
      inputs: ['x'],
      output: 'bn',
    });
    const x = makeArr([1, 2], [1, 2]);
    // scale = -2/sqrt(3+1) = -1: W' = [-1, 1], b' = (0 - 0.5)(-1) + 0 = 0.5, z' = -1 + 2 + 0.5 = 1.5
    // zPlus: z⁺ = [0, 2], den = 2 + 0.5 -> R = [0, 2 * 1.5 / 2.500001]
    const merged = lrp64(mk('linear'), [x], [0], { d: { name: 'zPlus' } });
    expect(merged.mergedBatchNorms).toEqual(['bn']);
    expectClose(merged.score, [1.5]);
    expectClose(merged.relevance[0].data, [0, (2 * 1.5) / (2.5 + 1e-6)]);
    // with a relu inside the Dense there is no merge: BN passes, zPlus on W = [1, -1], z = -1 -> relu 0
    // BN output = (0 - 0.5)/2 * -2 = 0.5; z⁺ = [1, 0], den = 1 -> R = [0.5/(1+1e-6), 0]
    const plain = lrp64(mk('relu'), [x], [0], { d: { name: 'zPlus' } });
    expect(plain.mergedBatchNorms).toEqual([]);
    expectClose(plain.score, [0.5]);
    expectClose(plain.relevance[0].data, [0.5 / (1 + 1e-6), 0]);
  });
});

describe('hand-computed non-parametric layers', () => {
  test('flat on a 3x3 same conv, 1 channel: n_j = 4 (corner), 6 (edge), 9 (center)', () => {
    const g: RefGraph = {
      nodes: [
        { name: 'x', inputs: [], op: { type: 'input' } },
        {
          name: 'c',
          inputs: ['x'],
          op: {
            type: 'conv2d',
            kernel: makeArr([3, 3, 1, 1], [1, -2, 3, -4, 5, -6, 7, -8, 9]),
            bias: makeArr([1], [0.7]),
            strides: [1, 1],
            padding: 'same',
            dilation: [1, 1],
            activation: 'relu',
          },
        },
      ],
      inputs: ['x'],
      output: 'c',
    };
    const x = randomInput([3, 3, 3, 1], 41);
    const res = lrp64(g, [x], [0, 1, 4], { c: { name: 'flat' } }, { outputRelevance: 'one' });
    const q4 = 1 / (4 + 1e-6);
    const q6 = 1 / (6 + 1e-6);
    const q9 = 1 / (9 + 1e-6);
    const r = Array.from(res.relevance[0].data);
    expectClose(r.slice(0, 9), [q4, q4, 0, q4, q4, 0, 0, 0, 0]); // output (0,0): corner
    expectClose(r.slice(9, 18), [q6, q6, q6, q6, q6, q6, 0, 0, 0]); // output (0,1): top edge
    expectClose(r.slice(18, 27), [q9, q9, q9, q9, q9, q9, q9, q9, q9]); // output (1,1): center
  });

  test('avg pool Norm (border loss) and Add Norm, stabilizer 1e-6 (not the rule epsilon)', () => {
    const g: RefGraph = {
      nodes: [
        { name: 'x', inputs: [], op: { type: 'input' } },
        { name: 'p', inputs: ['x'], op: { type: 'avgPool', dims: 2, pool: [2, 2], strides: [2, 2], padding: 'valid' } },
      ],
      inputs: ['x'],
      output: 'p',
    };
    // 3x3 -> 1x1 'valid': window {1,2,4,5}, mean 3; last row/col get 0
    const x = makeArr([1, 3, 3, 1], [1, 2, 9, 4, 5, 9, 9, 9, 9]);
    const res = lrp64(g, [x], [0], {});
    const k = (v: number): number => (v * 0.25 * 3) / (3 + 1e-6);
    expectClose(res.relevance[0].data, [k(1), k(2), 0, k(4), k(5), 0, 0, 0, 0]);

    const ga: RefGraph = {
      nodes: [
        { name: 'a', inputs: [], op: { type: 'input' } },
        { name: 'b', inputs: [], op: { type: 'input' } },
        { name: 's', inputs: ['a', 'b'], op: { type: 'add' } },
      ],
      inputs: ['a', 'b'],
      output: 's',
    };
    // sum = 1 - 3 = -2 -> stab = -2 - 1e-6; R_k = in_k * (-2) / (-2 - 1e-6)
    const ra = lrp64(ga, [makeArr([1, 1], [1]), makeArr([1, 1], [-3])], [0], {});
    expectClose(ra.relevance[0].data, [(1 * -2) / (-2 - 1e-6)]);
    expectClose(ra.relevance[1].data, [(-3 * -2) / (-2 - 1e-6)]);
    const ra2 = lrp64(ga, [makeArr([1, 1], [1]), makeArr([1, 1], [-3])], [0], {}, { stabilizer: 0.5 });
    expectClose(ra2.relevance[0].data, [(1 * -2) / -2.5]);
  });

  test('max pool: ties go to the first maximum in row-major window order', () => {
    const g: RefGraph = {
      nodes: [
        { name: 'x', inputs: [], op: { type: 'input' } },
        { name: 'p', inputs: ['x'], op: { type: 'maxPool', dims: 2, pool: [2, 2], strides: [2, 2], padding: 'valid' } },
      ],
      inputs: ['x'],
      output: 'p',
    };
    const res = lrp64(g, [makeArr([1, 2, 2, 1], [2, 5, 5, 1])], [0], {});
    expect(Array.from(res.relevance[0].data)).toEqual([0, 5, 0, 0]);
  });

  test('upsampling sums the copies; embedding sums over the vector; fan-out sums', () => {
    const ones = (n: number): Arr => makeArr([n, 1], new Array<number>(n).fill(1));
    const gu: RefGraph = {
      nodes: [
        { name: 'x', inputs: [], op: { type: 'input' } },
        { name: 'u', inputs: ['x'], op: { type: 'upSampling2d', size: [2, 1] } },
        { name: 'f', inputs: ['u'], op: { type: 'flatten' } },
        { name: 'd', inputs: ['f'], op: { type: 'dense', kernel: ones(4), activation: 'linear' } },
      ],
      inputs: ['x'],
      output: 'd',
    };
    // x = [[1, 2]] -> [[1, 2], [1, 2]], z = 6, LRP-0: R_up = [1, 2, 1, 2] -> R_x = [2, 4]
    const ru = lrp64(gu, [makeArr([1, 1, 2, 1], [1, 2])], [0], { d: { name: 'epsilon', epsilon: 0 } });
    expect(Array.from(ru.relevance[0].data)).toEqual([2, 4]);

    const ge: RefGraph = {
      nodes: [
        { name: 't', inputs: [], op: { type: 'input' } },
        { name: 'e', inputs: ['t'], op: { type: 'embedding', embeddings: makeArr([3, 2], [1, 2, 3, -1, 0.5, 0.5]) } },
        { name: 'f', inputs: ['e'], op: { type: 'flatten' } },
        { name: 'd', inputs: ['f'], op: { type: 'dense', kernel: ones(6), activation: 'linear' } },
      ],
      inputs: ['t'],
      output: 'd',
    };
    // tokens [2, 0, 2] -> [0.5, 0.5, 1, 2, 0.5, 0.5], z = 5, R per token = [1, 3, 1]
    const re = lrp64(ge, [makeArr([1, 3], [2, 0, 2])], [0], { d: { name: 'epsilon', epsilon: 0 } });
    expect(re.relevance[0].shape).toEqual([1, 3]);
    expect(Array.from(re.relevance[0].data)).toEqual([1, 3, 1]);

    // fan-out: y = Add([a, dense(a)]) ; a gets its Add share plus what the dense passes down
    const gf: RefGraph = {
      nodes: [
        { name: 'a', inputs: [], op: { type: 'input' } },
        { name: 'd', inputs: ['a'], op: { type: 'dense', kernel: makeArr([1, 1], [3]), activation: 'linear' } },
        { name: 's', inputs: ['a', 'd'], op: { type: 'add' } },
      ],
      inputs: ['a'],
      output: 's',
    };
    // a = 2: d = 6, s = 8; Add: R_a = 2*8/(8+1e-6), R_d = 6*8/(8+1e-6); dense LRP-0 passes R_d on
    const rf = lrp64(gf, [makeArr([1, 1], [2])], [0], { d: { name: 'epsilon', epsilon: 0 } });
    expectClose(rf.relevance[0].data, [(2 * 8) / (8 + 1e-6) + (6 * 8) / (8 + 1e-6)]);
  });

  test('final softmax is stripped; outputRelevance one', () => {
    const g = dense2([[1, -1], [2, 0.5]], [0.1, 0.2], 'softmax');
    const x = makeArr([1, 2], [1, 1]);
    const res = lrp64(g, [x], [1], { d: { name: 'epsilon', epsilon: 0 } });
    expectClose(res.score, [-0.5 + 0.2]); // pre-softmax logit z1 = -1 + 0.5 + 0.2
    expectClose(res.relevance[0].data, [-1, 0.5]); // LRP-0: x_i W_i1 * z1 / z1
    const one = lrp64(g, [x], [1], { d: { name: 'epsilon', epsilon: 0 } }, { outputRelevance: 'one' });
    expectClose(one.relevance[0].data, [-1 / -0.3, 0.5 / -0.3]);
    expectClose(one.outputSum, [1]);
  });
});

// ------------------------------------------------------------------------------------------
// composites
// ------------------------------------------------------------------------------------------

describe('refRules (LRP_RULES.md §3)', () => {
  const k = makeArr([1, 1], [1]);
  const conv: RefOp = { type: 'conv2d', kernel: makeArr([1, 1, 1, 1], [1]), strides: [1, 1], padding: 'same', dilation: [1, 1], activation: 'linear' };
  const sep: RefOp = {
    type: 'separableConv2d',
    depthwise: makeArr([1, 1, 1, 1], [1]),
    pointwise: makeArr([1, 1, 1, 1], [1]),
    strides: [1, 1],
    padding: 'same',
    activation: 'linear',
  };
  const dense: RefOp = { type: 'dense', kernel: k, activation: 'linear' };
  const g: RefGraph = {
    nodes: [
      { name: 'x', inputs: [], op: { type: 'input' } },
      { name: 'd0', inputs: ['x'], op: dense },
      { name: 'c1', inputs: ['d0'], op: conv },
      { name: 'p', inputs: ['c1'], op: { type: 'maxPool', dims: 2, pool: [1, 1], strides: [1, 1], padding: 'valid' } },
      { name: 'c2', inputs: ['p'], op: conv },
      { name: 'd3', inputs: ['c2'], op: dense },
    ],
    inputs: ['x'],
    output: 'd3',
  };
  const eps6: RefRule = { name: 'epsilon', epsilon: 1e-6 };

  test('plain rules and defaults', () => {
    expect(refRules(g, { rule: 'epsilon' })).toEqual({ d0: eps6, c1: eps6, c2: eps6, d3: eps6 });
    expect(refRules(g, { rule: 'zero' }).c1).toEqual({ name: 'epsilon', epsilon: 0 });
    expect(refRules(g, { rule: 'gamma' }).d3).toEqual({ name: 'gamma', gamma: 0.25 });
    expect(refRules(g, { rule: 'alphaBeta' }).d0).toEqual({ name: 'alphaBeta', alpha: 2, beta: 1 });
    expect(refRules(g, { rule: 'zPlus', firstLayer: 'wSquare' })).toEqual({
      d0: { name: 'wSquare' },
      c1: { name: 'zPlus' },
      c2: { name: 'zPlus' },
      d3: { name: 'zPlus' },
    });
  });

  test('composites', () => {
    expect(refRules(g, { composite: 'epsilonPlus' })).toEqual({ d0: eps6, c1: { name: 'zPlus' }, c2: { name: 'zPlus' }, d3: eps6 });
    expect(refRules(g, { composite: 'epsilonPlusFlat' })).toEqual({ d0: { name: 'flat' }, c1: { name: 'zPlus' }, c2: { name: 'zPlus' }, d3: eps6 });
    // ZBox goes to the first Conv, even after a Dense
    expect(refRules(g, { composite: 'epsilonGammaBox', low: -3, high: 3 })).toEqual({
      d0: eps6,
      c1: { name: 'zBox', low: -3, high: 3 },
      c2: { name: 'gamma', gamma: 0.25 },
      d3: eps6,
    });
    const ab: RefRule = { name: 'alphaBeta', alpha: 2, beta: 1 };
    expect(refRules(g, { composite: 'epsilonAlpha2Beta1' })).toEqual({ d0: eps6, c1: ab, c2: ab, d3: eps6 });
    expect(refRules(g, { composite: 'epsilonAlpha2Beta1Flat' })).toEqual({ d0: { name: 'flat' }, c1: ab, c2: ab, d3: eps6 });
    // a Dense-only model: epsilonGammaBox == epsilon
    const gd: RefGraph = { nodes: [g.nodes[0], g.nodes[1], { name: 'd3', inputs: ['d0'], op: dense }], inputs: ['x'], output: 'd3' };
    expect(refRules(gd, { composite: 'epsilonGammaBox', low: 0, high: 1 })).toEqual({ d0: eps6, d3: eps6 });
    // separable first layer: the first-layer rule on the depthwise part, the Conv rule on the pointwise part
    const gs: RefGraph = { nodes: [g.nodes[0], { name: 's', inputs: ['x'], op: sep }, { name: 'd3', inputs: ['s'], op: dense }], inputs: ['x'], output: 'd3' };
    expect(refRules(gs, { composite: 'epsilonAlpha2Beta1Flat' })).toEqual({ s: { name: 'flat' }, [pointwiseKey('s')]: ab, d3: eps6 });
    expect(() => refRules(g, { composite: 'epsilonGammaBox' })).toThrow();
  });
});
