/**
 * Graph models (tf.GraphModel), op by op: forward equals model.execute, relevance equals the
 * float64 reference where an op maps onto a reference layer, leak checks, typed refusals.
 */
import * as tf from '@tensorflow/tfjs';
import * as fs from 'fs';
import * as path from 'path';
import { conceptRelevance, createExplainer, describe as describePlanOf, explain, explainLayers, explainWithConservation, LrpArgumentError, LrpLayerError, LrpModelError, registerOp, unregisterOp } from '../src';
import { planModel } from '../src/plan';
import { runForward } from '../src/forward';
import { BACKENDS, expectError, expectNoLeak, maxAbs, maxAbsDiff, useBackend } from './helpers';
import { CONFIGS } from './configs';
import { refGraphFromArtifacts } from './reference/graph64';
import { refGraphFromModel } from './reference/fromModel';
import { opTable } from '../src/graphModel/registry';
import { opsTable } from '../scripts/docs-tables';
import { Arr, lrp64, refRules } from './reference/lrp64';
import { bool, convAttrs, float, fused, GraphBuilder, int, ints, str } from './support/graphBuilder';

const HUMAN = path.join(__dirname, '..', 'node_modules', '@vladmandic', 'human', 'models');

/** A graph model from a model.json + .bin pair on disk (no tfjs-node). */
async function loadHuman(name: string): Promise<tf.GraphModel> {
  const json = JSON.parse(fs.readFileSync(path.join(HUMAN, `${name}.json`), 'utf8')) as tf.io.ModelJSON;
  const specs = json.weightsManifest.flatMap((g) => g.weights);
  const bins = json.weightsManifest.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(HUMAN, p))));
  const b = Buffer.concat(bins);
  const weightData = b.buffer.slice(b.byteOffset, b.byteOffset + b.length);
  return tf.loadGraphModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs, weightData, format: json.format, signature: json.signature as object }));
}

/** The engine's own forward of the explained output (softmax stripped: compare with the node before). */
function engineForward(model: tf.GraphModel, x: tf.Tensor): tf.Tensor {
  const plan = planModel(model, {});
  return tf.tidy(() => {
    const rec = runForward(plan, [x]);
    return tf.clone(rec.tensors.get(plan.graph.explained) as tf.Tensor);
  });
}

describe('real graph model: emotion (mini-Xception)', () => {
  let model: tf.GraphModel;
  beforeAll(async () => {
    model = await loadHuman('emotion');
  });
  afterAll(() => model.dispose());

  test('explain: finite, input shape, no leak, describe rows; forward equals model.execute', async () => {
    const x = tf.randomUniform([1, 64, 64, 1], 0, 1, 'float32', 7);
    const plan = planModel(model, {});
    const logits = engineForward(model, x);
    const ref = model.execute(x, plan.graph.explained) as tf.Tensor;
    expect(maxAbsDiff(await logits.data(), await ref.data())).toBeLessThan(1e-4 * Math.max(1, maxAbs(await ref.data())));
    tf.dispose([logits, ref]);
    await expectNoLeak(() => (explain(model, x, 'max', { composite: 'epsilonPlusFlat' }) as tf.Tensor).dispose());
    const { relevance, conservation } = await explainWithConservation(model, x, 'max', { composite: 'epsilonPlusFlat', perLayer: true });
    const r = relevance as tf.Tensor;
    expect(r.shape).toEqual([1, 64, 64, 1]);
    expect(Array.from(await r.data()).every(Number.isFinite)).toBe(true);
    expect(conservation.outputSum[0]).toBeCloseTo(conservation.score[0], 4);
    r.dispose();
    x.dispose();
    const rows = describePlanOf(model, { composite: 'epsilonPlusFlat' });
    const ops = new Set(rows.map((row) => row.className));
    for (const op of ['_FusedConv2D', 'DepthwiseConv2dNative', 'MaxPool', 'AddV2', 'Relu', 'Mean', 'Softmax']) expect(ops.has(op)).toBe(true);
    expect(rows[0].rule).toMatch(/^flat/); // the first convolution gets the first-layer rule
    expect(rows[rows.length - 1]).toMatchObject({ className: 'Softmax', rule: '(stripped)' });
    // the unmerged-looking FusedBatchNormV3 nodes were folded into their convolution by the converter
    expect(rows.filter((row) => row.className === 'FusedBatchNormV3')).toEqual([]);
  });
});

describe.each(['liveness'])('real graph model: %s', (name) => {
  test('explain: finite, input shape, no leak; forward equals model.execute', async () => {
    const model = await loadHuman(name);
    const info = model.inputs[0];
    const x = tf.randomUniform([2, ...(info.shape as number[]).slice(1)], 0, 1, 'float32', 3);
    const plan = planModel(model, {});
    const logits = engineForward(model, x);
    const ref = model.execute(x, plan.graph.explained) as tf.Tensor;
    expect(maxAbsDiff(await logits.data(), await ref.data())).toBeLessThan(1e-4 * Math.max(1, maxAbs(await ref.data())));
    tf.dispose([logits, ref]);
    await expectNoLeak(() => (explain(model, x, 0) as tf.Tensor).dispose());
    const r = explain(model, x, 0) as tf.Tensor;
    expect(r.shape).toEqual(x.shape);
    expect(Array.from(await r.data()).every(Number.isFinite)).toBe(true);
    console.log(name, describePlanOf(model, {}).map((row) => `${row.className} ${row.rule} ${row.notes.join('; ')}`).join('\n'));
    tf.dispose([r, x]);
    model.dispose();
  });
});

// ---- hand-built graphs, op by op ------------------------------------------------------------

const LOW = -1;
const HIGH = 1;
const toArr = async (t: tf.Tensor): Promise<Arr> => ({ shape: t.shape.slice(), data: Float64Array.from(await t.data()) });

/** A hand-built graph, its input shape and its final (explained) node. */
interface OpCase {
  readonly name: string;
  readonly inputShape: number[];
  readonly output: string;
  build(g: GraphBuilder, x: string): void;
  /** The float64 reference (graph64) covers every op of the case. */
  readonly reference: boolean;
  /** A LayersModel with the same weights (its float64 reference when graph64 does not cover the ops). */
  twin?(g: GraphBuilder): tf.LayersModel;
}

/** Sets a layer's weights from the builder's constants. */
function setFrom(g: GraphBuilder, layer: tf.layers.Layer, names: string[]): void {
  layer.setWeights(names.map((n, i) => tf.tensor(g.valuesOf(n), layer.getWeights()[i].shape)));
}

const pool = (k: number, s: number, padding: 'SAME' | 'VALID') => ({ ksize: ints([1, k, k, 1]), strides: ints([1, s, s, 1]), padding: str(padding), data_format: str('NHWC') });

const CASES: OpCase[] = [
  {
    name: 'Conv2D + BiasAdd (folded) + Relu + MaxPool + Reshape + MatMul + BiasAdd + Softmax',
    inputShape: [2, 6, 6, 2],
    output: 'prob',
    reference: true,
    build: (g, x) => {
      const c = g.op('Conv2D', 'conv', [x, g.random('conv/w', [3, 3, 2, 4], 1)], convAttrs(1, 'SAME'));
      const b = g.op('BiasAdd', 'conv/bias', [c, g.random('conv/b', [4], 2, -0.1, 0.1)], { data_format: str('NHWC') });
      const r = g.op('Relu', 'relu', [b]);
      const p = g.op('MaxPool', 'pool', [r], pool(2, 2, 'VALID'));
      const f = g.op('Reshape', 'flat', [p, g.ints('flat/shape', [-1, 36])], { Tshape: { type: 'DT_INT32' } });
      const m = g.op('MatMul', 'fc', [f, g.random('fc/w', [36, 3], 3)], { transpose_a: bool(false), transpose_b: bool(false) });
      const mb = g.op('BiasAdd', 'fc/bias', [m, g.random('fc/b', [3], 4, -0.1, 0.1)], { data_format: str('NHWC') });
      g.op('Softmax', 'prob', [mb]);
    },
  },
  {
    name: '_FusedConv2D [BiasAdd, Relu6] + AvgPool + _FusedConv2D [BiasAdd, LeakyRelu] + Mean + _FusedMatMul transpose_b + Sigmoid',
    inputShape: [2, 7, 7, 3],
    output: 'out',
    reference: true,
    build: (g, x) => {
      const c1 = g.op('_FusedConv2D', 'c1', [x, g.random('c1/w', [3, 3, 3, 4], 5), g.random('c1/b', [4], 6, -0.1, 0.1)], { ...convAttrs(1, 'VALID'), ...fused(['BiasAdd', 'Relu6']) });
      const p = g.op('AvgPool', 'avg', [c1], pool(2, 1, 'SAME'));
      const c2 = g.op('_FusedConv2D', 'c2', [p, g.random('c2/w', [2, 2, 4, 5], 7), g.random('c2/b', [5], 8, -0.1, 0.1)], { ...convAttrs(2, 'SAME'), ...fused(['BiasAdd', 'LeakyRelu'], 1, 0.1) });
      const mean = g.op('Mean', 'gap', [c2, g.ints('gap/axes', [1, 2])], { keep_dims: bool(false), Tidx: { type: 'DT_INT32' } });
      const fc = g.op('_FusedMatMul', 'fc', [mean, g.random('fc/w', [2, 5], 9), g.random('fc/b', [2], 10, -0.1, 0.1)], { transpose_a: bool(false), transpose_b: bool(true), ...fused(['BiasAdd']) });
      g.op('Sigmoid', 'out', [fc]);
    },
  },
  {
    name: 'DepthwiseConv2dNative + FusedDepthwiseConv2dNative [BiasAdd, Relu] + Conv2D + FusedBatchNormV3 (merged) + AddV2 + Relu + Max + MatMul',
    inputShape: [2, 6, 6, 2],
    output: 'fc',
    reference: true,
    build: (g, x) => {
      const d1 = g.op('DepthwiseConv2dNative', 'dw1', [x, g.random('dw1/w', [3, 3, 2, 2], 11)], convAttrs(1, 'SAME'));
      const d2 = g.op('FusedDepthwiseConv2dNative', 'dw2', [d1, g.random('dw2/w', [3, 3, 4, 1], 12), g.random('dw2/b', [4], 13, -0.1, 0.1)], { ...convAttrs(1, 'SAME'), ...fused(['BiasAdd', 'Relu']) });
      const c = g.op('Conv2D', 'pw', [d2, g.random('pw/w', [1, 1, 4, 4], 14)], convAttrs(1, 'SAME'));
      const bn = g.op('FusedBatchNormV3', 'bn', [c, g.random('bn/gamma', [4], 15, 0.5, 1.5), g.random('bn/beta', [4], 16, -0.2, 0.2), g.random('bn/mean', [4], 17, -0.2, 0.2), g.random('bn/var', [4], 18, 0.5, 1.5)], { epsilon: float(0.001), data_format: str('NHWC'), is_training: bool(false), U: { type: 'DT_FLOAT' } });
      const add = g.op('AddV2', 'add', [bn, d2]);
      const r = g.op('Relu', 'relu', [add]);
      const mx = g.op('Max', 'gmp', [r, g.ints('gmp/axes', [1, 2])], { keep_dims: bool(false), Tidx: { type: 'DT_INT32' } });
      g.op('MatMul', 'fc', [mx, g.random('fc/w', [4, 3], 19)], { transpose_a: bool(false), transpose_b: bool(false) });
    },
  },
  {
    name: 'Sub/RealDiv/Mul by constants + Conv2D + Selu + Pad + ConcatV2 + StridedSlice + Mul of tensors + swish + Tanh + ExpandDims/Squeeze + MatMul',
    inputShape: [2, 5, 5, 2],
    output: 'fc',
    reference: true,
    build: (g, x) => {
      const s = g.op('Sub', 'pre/sub', [x, g.constant('pre/mean', [2], [0.1, -0.2])]);
      const d = g.op('RealDiv', 'pre/div', [s, g.constant('pre/std', [2], [0.5, 2])]);
      const m = g.op('Mul', 'pre/mul', [d, g.constant('pre/scale', [], [1.5])]);
      const c = g.op('Conv2D', 'conv', [m, g.random('conv/w', [3, 3, 2, 3], 21)], convAttrs(1, 'VALID'));
      const e = g.op('Selu', 'selu', [c]);
      const pad = g.op('Pad', 'pad', [e, g.ints('pad/p', [0, 0, 1, 1, 1, 1, 0, 0], [4, 2])]);
      const cat = g.op('ConcatV2', 'cat', [pad, pad, g.ints('cat/axis', [-1], [])], { N: int(2) });
      const sl = g.op('StridedSlice', 'slice', [cat, g.ints('slice/b', [0, 1, 1, 0]), g.ints('slice/e', [0, 4, 4, 5]), g.ints('slice/s', [1, 1, 1, 1])], { begin_mask: int(9), end_mask: int(9), ellipsis_mask: int(0), new_axis_mask: int(0), shrink_axis_mask: int(0), Index: { type: 'DT_INT32' } });
      const sig = g.op('Sigmoid', 'sw/sig', [sl]);
      const sw = g.op('Mul', 'sw/mul', [sl, sig]);
      const t = g.op('Tanh', 'tanh', [sl]);
      const prod = g.op('Mul', 'prod', [sw, t]);
      const ex = g.op('ExpandDims', 'ex', [prod, g.ints('ex/axis', [1], [])], { Tdim: { type: 'DT_INT32' } });
      const sq = g.op('Squeeze', 'sq', [ex], { squeeze_dims: ints([1]) });
      const f = g.op('Reshape', 'flat', [sq, g.ints('flat/shape', [-1, 54])]);
      g.op('MatMul', 'fc', [f, g.random('fc/w', [54, 3], 22)], { transpose_a: bool(false), transpose_b: bool(false) });
    },
  },
  {
    name: 'Conv2DBackpropInput + BiasAdd (folded) + Elu + Mean + MatMul',
    inputShape: [2, 3, 3, 2],
    output: 'fc',
    reference: false,
    build: (g, x) => {
      const up = g.op('Conv2DBackpropInput', 'deconv', [g.ints('deconv/sizes', [2, 6, 6, 3]), g.random('deconv/w', [3, 3, 3, 2], 31), x], convAttrs(2, 'SAME'));
      const b = g.op('BiasAdd', 'deconv/bias', [up, g.random('deconv/b', [3], 32, -0.1, 0.1)], { data_format: str('NHWC') });
      const r = g.op('Elu', 'elu', [b]);
      const mean = g.op('Mean', 'gap', [r, g.ints('gap/axes', [1, 2])], { keep_dims: bool(false) });
      g.op('MatMul', 'fc', [mean, g.random('fc/w', [3, 2], 33)], { transpose_a: bool(false), transpose_b: bool(false) });
    },
    twin: (g) => {
      const deconv = tf.layers.conv2dTranspose({ filters: 3, kernelSize: 3, strides: 2, padding: 'same', activation: 'elu', inputShape: [3, 3, 2] });
      const fc = tf.layers.dense({ units: 2, useBias: false });
      const m = tf.sequential({ layers: [deconv, tf.layers.globalAveragePooling2d({}), fc] });
      setFrom(g, deconv, ['deconv/w', 'deconv/b']);
      setFrom(g, fc, ['fc/w']);
      return m;
    },
  },
  {
    name: 'Maximum + Minimum + AddN + Transpose of tensors (twin: Maximum, Minimum, Add, Permute)',
    inputShape: [2, 4, 4, 2],
    output: 'fc',
    reference: false,
    build: (g, x) => {
      const a = g.op('Conv2D', 'a', [x, g.random('a/w', [1, 1, 2, 3], 41)], convAttrs(1, 'VALID'));
      const b = g.op('Conv2D', 'b', [x, g.random('b/w', [1, 1, 2, 3], 42)], convAttrs(1, 'VALID'));
      const mx = g.op('Maximum', 'max', [a, b]);
      const mn = g.op('Minimum', 'min', [a, b]);
      const sum = g.op('AddN', 'sum', [mx, mn, a], { N: int(3) });
      const tr = g.op('Transpose', 'tr', [sum, g.ints('tr/perm', [0, 2, 1, 3])]);
      const f = g.op('Reshape', 'flat', [tr, g.ints('flat/shape', [-1, 48])]);
      g.op('MatMul', 'fc', [f, g.random('fc/w', [48, 2], 43)], { transpose_a: bool(false), transpose_b: bool(false) });
    },
    twin: (g) => {
      const input = tf.input({ shape: [4, 4, 2] });
      const ca = tf.layers.conv2d({ filters: 3, kernelSize: 1, useBias: false });
      const cb = tf.layers.conv2d({ filters: 3, kernelSize: 1, useBias: false });
      const fc = tf.layers.dense({ units: 2, useBias: false });
      const a = ca.apply(input) as tf.SymbolicTensor;
      const b = cb.apply(input) as tf.SymbolicTensor;
      const mx = tf.layers.maximum().apply([a, b]) as tf.SymbolicTensor;
      const mn = tf.layers.minimum().apply([a, b]) as tf.SymbolicTensor;
      const sum = tf.layers.add().apply([mx, mn, a]) as tf.SymbolicTensor;
      const tr = tf.layers.permute({ dims: [2, 1, 3] }).apply(sum) as tf.SymbolicTensor;
      const out = fc.apply(tf.layers.flatten().apply(tr)) as tf.SymbolicTensor;
      const m = tf.model({ inputs: input, outputs: out });
      setFrom(g, ca, ['a/w']);
      setFrom(g, cb, ['b/w']);
      setFrom(g, fc, ['fc/w']);
      return m;
    },
  },
];

CASES.push({
  name: 'more ops (forward and conservation): _FusedConv2D [BiasAdd, Prelu], LeakyRelu, Softplus, Prelu, Relu6, Maximum/Minimum with a constant, Sub of tensors, MirrorPad, PadV2, Slice, Squeeze, AvgPool, Identity',
  inputShape: [2, 6, 6, 2],
  output: 'fc',
  reference: false,
  build: (g, x) => {
    const c = g.op('_FusedConv2D', 'c', [x, g.random('c/w', [3, 3, 2, 3], 71), g.random('c/b', [3], 72, -0.1, 0.1), g.constant('c/alpha', [3], [0.1, 0.2, 0.3])], { ...convAttrs(1, 'SAME'), ...fused(['BiasAdd', 'Prelu'], 2) });
    const lr = g.op('LeakyRelu', 'lrelu', [c], { alpha: float(0.3) });
    const sp = g.op('Softplus', 'softplus', [lr]);
    const pr = g.op('Prelu', 'prelu', [c, g.constant('prelu/alpha', [3], [0.5, 0.25, 0.125])]);
    const r6 = g.op('Relu6', 'relu6', [pr]);
    const hi = g.op('Maximum', 'clipLow', [r6, g.constant('zero', [], [0.05])]);
    const lo = g.op('Minimum', 'clipHigh', [hi, g.constant('five', [], [5])]);
    const diff = g.op('Sub', 'diff', [sp, lo]);
    const mp = g.op('MirrorPad', 'mpad', [diff, g.ints('mpad/p', [0, 0, 1, 1, 1, 1, 0, 0], [4, 2])], { mode: str('REFLECT') });
    const p2 = g.op('PadV2', 'pad2', [mp, g.ints('pad2/p', [0, 0, 0, 1, 0, 1, 0, 0], [4, 2]), g.constant('pad2/v', [], [0.5])]);
    const sl = g.op('Slice', 'slice', [p2, g.ints('slice/b', [0, 1, 1, 0]), g.ints('slice/s', [-1, 6, 6, 3])]);
    const id = g.op('Identity', 'id', [sl]);
    const avg = g.op('AvgPool', 'avg', [id], pool(3, 3, 'VALID'));
    const ex = g.op('Reshape', 'ex', [avg, g.ints('ex/shape', [-1, 1, 2, 2, 3])]);
    const sq = g.op('Squeeze', 'sq', [ex], { squeeze_dims: ints([1]) });
    const f = g.op('Reshape', 'flat', [sq, g.ints('flat/shape', [-1, 12])]);
    g.op('MatMul', 'fc', [f, g.random('fc/w', [12, 2], 73)], { transpose_a: bool(false), transpose_b: bool(false) });
  },
});

describe.each(CASES)('graph ops: $name', (c) => {
  let model: tf.GraphModel;
  let artifacts: tf.io.ModelArtifacts;
  let x: tf.Tensor;
  beforeAll(async () => {
    const g = new GraphBuilder();
    c.build(g, g.input('x', [-1, ...c.inputShape.slice(1)]));
    artifacts = g.artifacts();
    model = await tf.loadGraphModel(tf.io.fromMemory(artifacts));
    x = tf.randomUniform(c.inputShape, LOW, HIGH, 'float32', 42);
  });
  afterAll(() => {
    model.dispose();
    x.dispose();
  });

  test('the engine forward equals model.execute', async () => {
    const plan = planModel(model, {});
    const logits = engineForward(model, x);
    // the engine explains the pre-softmax/sigmoid score: apply the stripped activation back
    const stripped = plan.graph.stripped?.activation;
    const mine = stripped === 'softmax' ? tf.softmax(logits) : stripped === 'sigmoid' ? tf.sigmoid(logits) : tf.clone(logits);
    logits.dispose();
    const ref = model.execute(x, c.output) as tf.Tensor;
    expect(mine.shape).toEqual(ref.shape);
    expect(maxAbsDiff(await mine.data(), await ref.data())).toBeLessThanOrEqual(1e-5 * Math.max(1, maxAbs(await ref.data())));
    tf.dispose([mine, ref]);
  });

  test('relevance: conserved where the rules conserve, finite, leak-free', async () => {
    await expectNoLeak(() => (explain(model, x, 0) as tf.Tensor).dispose());
    const { relevance, conservation } = await explainWithConservation(model, x, [0, 1], { rule: 'epsilon', perLayer: true });
    expect((relevance as tf.Tensor).shape).toEqual(c.inputShape);
    expect(Array.from(await (relevance as tf.Tensor).data()).every(Number.isFinite)).toBe(true);
    // every non-linear node passes on what it receives (linear nodes absorb their bias share)
    for (const l of conservation.layers ?? []) {
      if (l.rule === 'pass' || l.rule === 'gradient' || l.rule.startsWith('norm') || l.rule === 'uniform') {
        l.upper.forEach((u, i) => expect(Math.abs(u - l.lower[i])).toBeLessThan(1e-4 * Math.max(1, Math.abs(u))));
      }
    }
    (relevance as tf.Tensor).dispose();
  });

  if (c.reference || c.twin !== undefined) {
    test.each(CONFIGS.map((k) => [k.label, k] as const))('equals the float64 reference: %s', async (_label, config) => {
      let twin: tf.LayersModel | null = null;
      if (!c.reference && c.twin !== undefined) {
        const g = new GraphBuilder();
        c.build(g, g.input('x', [-1, ...c.inputShape.slice(1)]));
        twin = c.twin(g);
      }
      const ref = twin !== null ? refGraphFromModel(twin) : refGraphFromArtifacts(artifacts as Parameters<typeof refGraphFromArtifacts>[0], { output: c.output });
      twin?.dispose();
      const expected = lrp64(ref, [await toArr(x)], [0, 1], refRules(ref, config.spec([LOW, HIGH])));
      const r = explain(model, x, [0, 1], config.options([LOW, HIGH])) as tf.Tensor;
      const got = await r.data();
      r.dispose();
      const want = expected.relevance[0].data;
      // (z⁺ of a negative logit is all zeros: then the difference itself)
      const ratio = maxAbsDiff(got, want) / (maxAbs(want) === 0 ? 1 : maxAbs(want));
      WORST.set(c.name, Math.max(WORST.get(c.name) ?? 0, ratio));
      expect(ratio).toBeLessThanOrEqual(1e-5);
    });
  }
});

/** Worst max|R − R_ref| / max|R_ref| per case over the configurations (printed for the record). */
const WORST = new Map<string, number>();
afterAll(() => {
  if (WORST.size > 0) console.log([...WORST].map(([k, v]) => `${v.toExponential(2)}  ${k}`).join('\n'));
});

// ---- entry points: gradient methods, explainLayers, output by name, describe ---------------

describe('graph model entry points', () => {
  let model: tf.GraphModel;
  let x: tf.Tensor;
  beforeAll(async () => {
    const g = new GraphBuilder();
    CASES[0].build(g, g.input('x', [-1, 6, 6, 2]));
    model = await g.load();
    x = tf.randomUniform([2, 6, 6, 2], LOW, HIGH, 'float32', 5);
  });
  afterAll(() => {
    model.dispose();
    x.dispose();
  });

  test("method 'gradient' equals tf.grad through the converter's own ops (logit of class 1)", async () => {
    // the converter's graph: the logit is the input of the Softmax (the folded BiasAdd 'fc/bias')
    const logit = (t: tf.Tensor) => tf.sum(tf.slice(model.execute(t, 'fc/bias') as tf.Tensor, [0, 1], [-1, 1]));
    const want = tf.grad(logit)(x);
    const got = explain(model, x, 1, { method: 'gradient' }) as tf.Tensor;
    expect(maxAbsDiff(await got.data(), await want.data())).toBeLessThanOrEqual(1e-5 * maxAbs(await want.data()));
    tf.dispose([want, got]);
    for (const method of ['gradientXInput', 'integratedGradients', 'smoothGrad'] as const) {
      await expectNoLeak(() => (explain(model, x, 1, { method }) as tf.Tensor).dispose());
    }
  });

  test('explainLayers / conceptRelevance by TF node name; options.output by node name; describe rows', async () => {
    await expectNoLeak(() => {
      const r = explainLayers(model, x, 0, ['relu', 'pool']);
      tf.dispose([r.input as tf.Tensor, ...Object.values(r.layers)]);
    });
    const r = explainLayers(model, x, 0, ['relu', 'pool']);
    expect(r.layers.relu.shape).toEqual([2, 6, 6, 4]);
    expect(r.layers.pool.shape).toEqual([2, 3, 3, 4]);
    // the relevance arriving at the pool output is what MaxPool's gradient spreads into relu
    const [sr, sp] = await Promise.all([r.layers.relu.sum().data(), r.layers.pool.sum().data()]);
    expect(Math.abs(sr[0] - sp[0])).toBeLessThan(1e-4 * Math.max(1, Math.abs(sp[0])));
    tf.dispose([r.input as tf.Tensor, ...Object.values(r.layers)]);
    const c = conceptRelevance(model, x, 0, 'relu');
    expect(c.shape).toEqual([2, 4]);
    c.dispose();
    const byName = explain(model, x, 0, { output: 'prob' }) as tf.Tensor;
    const byIndex = explain(model, x, 0, { output: 0 }) as tf.Tensor;
    expect(maxAbsDiff(await byName.data(), await byIndex.data())).toBe(0);
    tf.dispose([byName, byIndex]);
    await expectError(() => explain(model, x, 0, { output: 'nope' }), LrpArgumentError, /no output node named "nope"/);
    const rows = describePlanOf(model, { composite: 'epsilonPlusFlat' });
    expect(rows.map((row) => `${row.layer} ${row.className} ${row.rule}`)).toEqual([
      'conv Conv2D flat(stabilizer=0.000001)',
      'relu Relu pass',
      'pool MaxPool gradient',
      'flat Reshape gradient',
      'fc MatMul epsilon(epsilon=0.000001)',
      'prob Softmax (stripped)',
    ]);
    expect(rows[0].notes.join(' ')).toMatch(/BiasAdd 'conv\/bias' folded into its bias/);
  });

  test('layerRules by node name and by op; createExplainer reuses the plan leak-free', async () => {
    const rows = describePlanOf(model, { layerRules: { fc: 'zPlus', Conv2D: 'gamma' } });
    expect(rows.find((row) => row.layer === 'fc')?.rule).toMatch(/^zPlus/);
    expect(rows.find((row) => row.layer === 'conv')?.rule).toMatch(/^gamma/);
    const explainer = createExplainer(model, { composite: 'epsilonAlpha2Beta1' });
    await expectNoLeak(() => (explainer.explain(x, 'max') as tf.Tensor).dispose());
    explainer.dispose();
  });

  test("a reused explainer keeps the graph weights' derived tensors: the second call flips no kernel and gives the same relevance", async () => {
    const explainer = createExplainer(model, { composite: 'epsilonGammaBox', low: LOW, high: HIGH });
    const first = explainer.explain(x, 'max') as tf.Tensor;
    const info = await tf.profile(() => explainer.explain(x, 'max') as tf.Tensor);
    const second = info.result as tf.Tensor;
    // flipped kernels (Reverse) and W⁺/W⁻ of the conv come from the explainer's store after the first call
    expect(info.kernels.filter((k) => k.name === 'Reverse').map((k) => JSON.stringify(k.inputShapes))).toEqual([]);
    expect(maxAbsDiff(await first.data(), await second.data())).toBe(0);
    tf.dispose([first, second]);
    explainer.dispose();
  });

  test('a disposed graph model and a wrong input: typed errors', async () => {
    const g = new GraphBuilder();
    CASES[0].build(g, g.input('x', [-1, 6, 6, 2]));
    const m = await g.load();
    const wrong = tf.zeros([2, 5, 6, 2]);
    await expectError(() => explain(m, wrong, 0), LrpArgumentError, /axis 1 is 5, the model needs 6/);
    wrong.dispose();
    m.dispose();
    await expectError(() => explain(m, x, 0), LrpModelError, /was disposed/);
  });
});

// ---- refusals: unknown ops, control flow, dynamic ops, NCHW, explicit padding ---------------

/** A model: x → Conv2D → `middle` → MatMul (the middle op built by `op`). */
async function modelWith(op: (g: GraphBuilder, x: string) => string, conv: Record<string, unknown> = convAttrs(1, 'SAME')): Promise<tf.GraphModel> {
  const g = new GraphBuilder();
  const x = g.input('x', [-1, 4, 4, 2]);
  const c = g.op('Conv2D', 'conv', [x, g.random('conv/w', [3, 3, 2, 2], 51)], conv as never);
  const mid = op(g, c);
  const f = g.op('Reshape', 'flat', [mid, g.ints('flat/shape', [-1, 32])]);
  g.op('MatMul', 'fc', [f, g.random('fc/w', [32, 2], 52)], { transpose_a: bool(false), transpose_b: bool(false) });
  return g.load();
}

describe('graph model refusals', () => {
  const x4 = () => tf.randomUniform([2, 4, 4, 2], LOW, HIGH, 'float32', 9);

  test("an unknown op: LrpLayerError naming the node, the op and the fixes; unknownLayers 'gradient' runs it through the converter", async () => {
    const model = await modelWith((g, c) => g.op('Cos', 'cosine', [c]));
    const x = x4();
    const before = tf.memory().numTensors;
    const err = await expectError(() => explain(model, x, 0), LrpLayerError, /'cosine' \(Cos\)/, /layerRules/, /registerOp\('Cos'/, /unknownLayers = 'gradient'/);
    expect((err as LrpLayerError).layerName).toBe('cosine');
    expect(tf.memory().numTensors).toBe(before);
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    const r = explain(model, x, 0, { unknownLayers: 'gradient' }) as tf.Tensor;
    expect(Array.from(await r.data()).every(Number.isFinite)).toBe(true);
    r.dispose();
    await expectNoLeak(() => (explain(model, x, 0, { unknownLayers: 'gradient' }) as tf.Tensor).dispose());
    // mapping the op by node name or op name works the same way
    const byName = explain(model, x, 0, { layerRules: { cosine: 'gradient' } }) as tf.Tensor;
    const byOp = explain(model, x, 0, { layerRules: { Cos: 'gradient' } }) as tf.Tensor;
    expect(maxAbsDiff(await byName.data(), await byOp.data())).toBe(0);
    tf.dispose([byName, byOp]);
    warn.mockRestore();
    // registerOp teaches it for good
    registerOp('Cos', { group: 'activation', note: 'test: cos as an activation' });
    try {
      expect(describePlanOf(model, {}).find((row) => row.layer === 'cosine')?.rule).toBe('pass');
    } finally {
      unregisterOp('Cos');
    }
    x.dispose();
    model.dispose();
  });

  test.each([
    ['Switch (control flow)', (g: GraphBuilder, c: string) => g.op('Switch', 'sw', [c, g.constant('pred', [], [1])]), /control flow/],
    ['Shape (dynamic)', (g: GraphBuilder, c: string) => g.op('Reshape', 'dyn', [c, g.op('Shape', 'shape', [c], { out_type: { type: 'DT_INT32' } })]), /dynamic/],
    ['RealDiv of a constant by a tensor', (g: GraphBuilder, c: string) => g.op('RealDiv', 'inv', [g.constant('one', [], [1]), c]), /division by a constant only/],
  ] as const)('%s: LrpLayerError, nothing leaked', async (_label, op, pattern) => {
    const model = await modelWith(op);
    const x = x4();
    const before = tf.memory().numTensors;
    await expectError(() => explain(model, x, 0), LrpLayerError, pattern);
    await expectError(() => describePlanOf(model, {}), LrpLayerError, pattern);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    model.dispose();
  });

  test('an input with a free spatial axis: LrpModelError saying to convert with a fixed size', async () => {
    const g = new GraphBuilder();
    const x = g.input('x', [-1, -1, -1, 2]);
    const c = g.op('Conv2D', 'conv', [x, g.random('conv/w', [3, 3, 2, 2], 91)], convAttrs(1, 'SAME'));
    const mean = g.op('Mean', 'gap', [c, g.ints('gap/axes', [1, 2])], { keep_dims: bool(false) });
    g.op('MatMul', 'fc', [mean, g.random('fc/w', [2, 2], 92)], { transpose_a: bool(false), transpose_b: bool(false) });
    const model = await g.load();
    const x4 = tf.zeros([1, 4, 4, 2]);
    const before = tf.memory().numTensors;
    await expectError(() => explain(model, x4, 0), LrpModelError, /'x' has shape \[-1,-1,-1,2\]/, /fixed input size/);
    expect(tf.memory().numTensors).toBe(before);
    x4.dispose();
    model.dispose();
  });

  test.each([
    ['NCHW', { ...convAttrs(1, 'SAME'), data_format: str('NCHW') }, /NCHW/],
    ['explicit padding', { ...convAttrs(1, 'SAME'), padding: str('EXPLICIT'), explicit_paddings: ints([0, 0, 1, 1, 1, 1, 0, 0]) }, /explicit/],
  ] as const)('a %s convolution: LrpLayerError naming the node', async (_label, attrs, pattern) => {
    const model = await modelWith((_g, c) => c, attrs);
    const x = x4();
    const before = tf.memory().numTensors;
    const err = await expectError(() => explain(model, x, 0), LrpLayerError, /'conv' \(Conv2D\)/, pattern);
    expect((err as LrpLayerError).className).toBe('Conv2D');
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    model.dispose();
  });
});

// ---- constant folding, docs table -----------------------------------------------------------

test('a constant sub-graph (Mul of two Consts as a conv filter) is computed by the converter: same relevance as the folded twin, leak-free', async () => {
  const w = Array.from({ length: 3 * 3 * 2 * 2 }, (_, i) => Math.sin(i + 1));
  const build = (folded: boolean) => {
    const g = new GraphBuilder();
    const x = g.input('x', [-1, 4, 4, 2]);
    const filter = folded ? g.op('Mul', 'filter', [g.constant('w', [3, 3, 2, 2], w), g.constant('two', [], [2])]) : g.constant('filter', [3, 3, 2, 2], w.map((v) => 2 * v));
    const c = g.op('Conv2D', 'conv', [x, filter], convAttrs(1, 'SAME'));
    const r = g.op('Relu', 'relu', [c]);
    const f = g.op('Reshape', 'flat', [r, g.ints('flat/shape', [-1, 32])]);
    g.op('MatMul', 'fc', [f, g.random('fc/w', [32, 2], 61)], { transpose_a: bool(false), transpose_b: bool(false) });
    return g;
  };
  const folded = await build(true).load();
  const twinArtifacts = build(false).artifacts();
  const x = tf.randomUniform([2, 4, 4, 2], LOW, HIGH, 'float32', 62);
  const ref = refGraphFromArtifacts(twinArtifacts as Parameters<typeof refGraphFromArtifacts>[0], { output: 'fc' });
  for (const config of CONFIGS.filter((k) => ['epsilon 1e-6', 'zPlus', 'epsilonPlusFlat'].includes(k.label))) {
    const want = lrp64(ref, [await toArr(x)], [0, 1], refRules(ref, config.spec([LOW, HIGH]))).relevance[0].data;
    const r = explain(folded, x, [0, 1], config.options([LOW, HIGH])) as tf.Tensor;
    expect(maxAbsDiff(await r.data(), want)).toBeLessThanOrEqual(1e-5 * maxAbs(want));
    r.dispose();
  }
  await expectNoLeak(() => (explain(folded, x, 0, { composite: 'epsilonPlusFlat' }) as tf.Tensor).dispose());
  // the model's own constants survive the explanations
  expect(Object.values(folded.weights).flat().every((t) => !t.isDisposed)).toBe(true);
  x.dispose();
  folded.dispose();
});

test('the ops table of docs/layers.md lists every registered op, then the refusals', () => {
  const first = opsTable().split('\n').slice(2).map((l) => l.split('|')[1].trim().replace(/`/g, ''));
  expect(first.slice(0, -2)).toEqual(opTable().slice(0, -2).map((r) => r.op));
  expect(first[first.length - 2]).toMatch(/^Switch, Merge/);
  expect(fs.readFileSync(path.join(__dirname, '..', 'docs', 'layers.md'), 'utf8')).toContain(opsTable());
});

test('no synchronous read from the device: introspection, plan and explain of a fresh graph model', async () => {
  const engine = tf.engine() as unknown as { readSync: (...a: unknown[]) => unknown };
  for (const c of [CASES[0], CASES[1], CASES[3]]) {
    const g = new GraphBuilder();
    c.build(g, g.input('x', [-1, ...c.inputShape.slice(1)]));
    const model = await g.load();
    const x = tf.randomUniform(c.inputShape, LOW, HIGH, 'float32', 1);
    const original = engine.readSync;
    let reads = 0;
    engine.readSync = (...a: unknown[]) => {
      reads++;
      return original.apply(engine, a);
    };
    let r: tf.Tensor;
    try {
      r = explain(model, x, 'max', { composite: 'epsilonPlusFlat' }) as tf.Tensor;
    } finally {
      engine.readSync = original;
    }
    expect(reads).toBe(0);
    tf.dispose([r, x]);
    model.dispose();
  }
  // the spy sees a read: the converter's own Reshape reads its shape constant synchronously
  const g = new GraphBuilder();
  CASES[0].build(g, g.input('x', [-1, 6, 6, 2]));
  const model = await g.load();
  const x = tf.zeros([1, 6, 6, 2]);
  const original = engine.readSync;
  let reads = 0;
  engine.readSync = (...a: unknown[]) => {
    reads++;
    return original.apply(engine, a);
  };
  try {
    (model.execute(x) as tf.Tensor).dispose();
  } finally {
    engine.readSync = original;
  }
  expect(reads).toBeGreaterThan(0);
  x.dispose();
  model.dispose();
});

// last in the file: it switches the backend (webgpu last: tensors do not move back from it)
describe.each(BACKENDS)('graph ops on %s', (backend) => {
  test.each([0, 1, 2, 3])('case %i equals the float64 reference (epsilonPlusFlat, alphaBeta), leak-free', async (i) => {
    await useBackend(backend);
    const c = CASES[i];
    const g = new GraphBuilder();
    c.build(g, g.input('x', [-1, ...c.inputShape.slice(1)]));
    const artifacts = g.artifacts();
    const model = await tf.loadGraphModel(tf.io.fromMemory(artifacts));
    const x = tf.randomUniform(c.inputShape, LOW, HIGH, 'float32', 42);
    const ref = refGraphFromArtifacts(artifacts as Parameters<typeof refGraphFromArtifacts>[0], { output: c.output });
    for (const config of CONFIGS.filter((k) => k.label === 'epsilonPlusFlat' || k.label === 'alphaBeta 2/1')) {
      const want = lrp64(ref, [await toArr(x)], [0, 1], refRules(ref, config.spec([LOW, HIGH]))).relevance[0].data;
      const r = explain(model, x, [0, 1], config.options([LOW, HIGH])) as tf.Tensor;
      const got = await r.data();
      r.dispose();
      // float32 on GPUs: 1e-4 × max|R|
      expect(maxAbsDiff(got, want)).toBeLessThanOrEqual((backend === 'webgpu' ? 1e-4 : 1e-5) * maxAbs(want));
    }
    await expectNoLeak(async () => {
      const r = explain(model, x, 'max') as tf.Tensor;
      await r.data();
      r.dispose();
    });
    x.dispose();
    model.dispose();
  });
});

test('two inputs, two outputs: relevance per input in the model input order, output by index or node name', async () => {
  const g = new GraphBuilder();
  const a = g.input('a', [-1, 3]);
  const b = g.input('b', [-1, 2]);
  const cat = g.op('ConcatV2', 'cat', [a, b, g.ints('cat/axis', [1], [])], { N: int(2) });
  const h = g.op('_FusedMatMul', 'h', [cat, g.random('h/w', [5, 4], 81), g.random('h/b', [4], 82, -0.1, 0.1)], { transpose_a: bool(false), transpose_b: bool(false), ...fused(['BiasAdd', 'Relu']) });
  g.op('MatMul', 'first', [h, g.random('first/w', [4, 2], 83)], { transpose_a: bool(false), transpose_b: bool(false) });
  g.op('MatMul', 'second', [h, g.random('second/w', [4, 3], 84)], { transpose_a: bool(false), transpose_b: bool(false) });
  const artifacts = g.artifacts();
  const model = await tf.loadGraphModel(tf.io.fromMemory(artifacts));
  const xa = tf.randomUniform([2, 3], LOW, HIGH, 'float32', 85);
  const xb = tf.randomUniform([2, 2], LOW, HIGH, 'float32', 86);
  const names = model.outputNodes;
  for (const [k, name] of names.entries()) {
    const ref = refGraphFromArtifacts(artifacts as Parameters<typeof refGraphFromArtifacts>[0], { output: name });
    const expected = lrp64(ref, [await toArr(xa), await toArr(xb)], [1, 0], refRules(ref, { rule: 'epsilon' }));
    for (const output of [k, name]) {
      const r = explain(model, [xa, xb], [1, 0], { output }) as tf.Tensor[];
      expect(r.map((t) => t.shape)).toEqual([[2, 3], [2, 2]]);
      for (let i = 0; i < 2; i++) {
        const want = expected.relevance[i].data;
        expect(maxAbsDiff(await r[i].data(), want)).toBeLessThanOrEqual(1e-5 * Math.max(maxAbs(expected.relevance[0].data), maxAbs(expected.relevance[1].data)));
      }
      tf.dispose(r);
    }
  }
  await expectNoLeak(() => tf.dispose(explain(model, [xa, xb], 0, { output: 1 }) as tf.Tensor[]));
  await expectError(() => explain(model, xa, 0), LrpArgumentError, /2 inputs/);
  tf.dispose([xa, xb]);
  model.dispose();
});
