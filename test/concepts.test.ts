/**
 * Relevance inside the network and Concept Relevance Propagation (LRP_RULES.md §10) against the
 * float64 plain-loop reference (test/reference/lrp64.ts with `conditions` / `start`):
 *   - relevance at a layer = the reference's relevance arriving at that node's output;
 *   - a pass started at a hidden channel = the reference started there;
 *   - conditional relevance (one or several conditioned layers) = the reference with the mask;
 *     on a residual block the skip path around the conditioned layer is dropped;
 *   - for a layer every path crosses, the conditional maps of all its channels sum to the plain map;
 *   - concept relevance [N, C] = the reference's relevance summed over positions;
 *   - layers inside nested models are named `outer/inner`;
 *   - typed errors (unknown layer, channel out of range, parallel conditions), no leaks.
 */
import * as tf from '@tensorflow/tfjs';
import { conceptRelevance, createExplainer, explain, explainLayers, LrpArgumentError } from '../src';
import { expectClose, expectError, expectNoLeak, randomizeWeights, readToHost, uniform, useBackend } from './helpers';
import { refGraphFromModel } from './reference/fromModel';
import { Arr, lrp64, refRules, type RefRuleSpec } from './reference/lrp64';

async function toArr(t: tf.Tensor): Promise<Arr> {
  return { shape: t.shape.slice(), data: Float64Array.from(await t.data()) };
}

/** A small CNN: every path from the output to the input crosses each layer. */
function cnn(): tf.LayersModel {
  const m = tf.sequential({ name: 'cnn' });
  m.add(tf.layers.conv2d({ name: 'c1', inputShape: [6, 6, 2], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }));
  m.add(tf.layers.conv2d({ name: 'c2', filters: 5, kernelSize: 3, activation: 'relu' }));
  m.add(tf.layers.maxPooling2d({ name: 'pool', poolSize: 2 }));
  m.add(tf.layers.flatten({ name: 'flat' }));
  m.add(tf.layers.dense({ name: 'd1', units: 8, activation: 'relu' }));
  m.add(tf.layers.dense({ name: 'out', units: 3, activation: 'softmax' }));
  randomizeWeights(m, 11);
  return m;
}

/** A residual block (skip around `b`) and two parallel branches (`p1`, `p2`). */
function residual(): tf.LayersModel {
  const x = tf.input({ shape: [5, 5, 2], name: 'x' });
  const a = tf.layers.conv2d({ name: 'a', filters: 3, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(x) as tf.SymbolicTensor;
  const b = tf.layers.conv2d({ name: 'b', filters: 3, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(a) as tf.SymbolicTensor;
  const s = tf.layers.add({ name: 'sum' }).apply([a, b]) as tf.SymbolicTensor;
  const p1 = tf.layers.conv2d({ name: 'p1', filters: 2, kernelSize: 1, activation: 'relu' }).apply(s) as tf.SymbolicTensor;
  const p2 = tf.layers.conv2d({ name: 'p2', filters: 2, kernelSize: 1, activation: 'relu' }).apply(s) as tf.SymbolicTensor;
  const c = tf.layers.concatenate({ name: 'cat' }).apply([p1, p2]) as tf.SymbolicTensor;
  const f = tf.layers.flatten({ name: 'flat' }).apply(c) as tf.SymbolicTensor;
  const y = tf.layers.dense({ name: 'out', units: 4 }).apply(f) as tf.SymbolicTensor;
  const m = tf.model({ inputs: x, outputs: y, name: 'res' });
  randomizeWeights(m, 5);
  return m;
}

const CLASSES = [2, 0, 1];

const CONFIGS: Array<{ label: string; options: { rule?: 'epsilon'; composite?: 'epsilonPlusFlat' }; spec: RefRuleSpec }> = [
  { label: 'epsilon', options: { rule: 'epsilon' }, spec: { rule: 'epsilon', epsilon: 1e-6 } },
  { label: 'epsilonPlusFlat', options: { composite: 'epsilonPlusFlat' }, spec: { composite: 'epsilonPlusFlat' } },
];

async function reference(model: tf.LayersModel, x: tf.Tensor, classes: number[], spec: RefRuleSpec, opts: Parameters<typeof lrp64>[4] = {}) {
  await readToHost(model.getWeights());
  const graph = refGraphFromModel(model);
  return lrp64(graph, [await toArr(x)], classes, refRules(graph, spec), opts);
}

function refAt(ref: ReturnType<typeof lrp64>, name: string): Arr {
  const r = ref.nodeRelevance.get(name);
  if (r === undefined) throw new Error(`no reference relevance at '${name}'`);
  return r;
}

/** Σ over all but the first and last axes of a reference array: [N, C]. */
function channelSums64(a: Arr): Float64Array {
  const N = a.shape[0];
  const C = a.shape[a.shape.length - 1];
  const per = a.data.length / N;
  const out = new Float64Array(N * C);
  for (let k = 0; k < a.data.length; k++) out[Math.floor(k / per) * C + (k % C)] += a.data[k];
  return out;
}

beforeAll(async () => {
  await useBackend('cpu');
});

describe('relevance at layers (explainLayers) = float64 reference', () => {
  const model = cnn();
  const x = uniform([3, 6, 6, 2], 7, -1, 1);
  afterAll(() => {
    x.dispose();
    model.dispose();
  });

  for (const config of CONFIGS) {
    test(`${config.label}: input and every layer, one pass`, async () => {
      const ref = await reference(model, x, CLASSES, config.spec);
      const names = ['c1', 'c2', 'pool', 'flat', 'd1', 'out'];
      const { input, layers } = explainLayers(model, x, CLASSES, names, config.options);
      expectClose(await (input as tf.Tensor).data(), ref.relevance[0].data, 1e-4, 'input');
      const plain = explain(model, x, CLASSES, config.options);
      expectClose(await (input as tf.Tensor).data(), await (plain as tf.Tensor).data(), 1e-6, 'input = explain()');
      for (const n of names) {
        expect(layers[n].shape).toEqual(refAt(ref, n).shape);
        expectClose(await layers[n].data(), refAt(ref, n).data, 1e-4, n);
      }
      tf.dispose([input as tf.Tensor, plain as tf.Tensor, ...Object.values(layers)]);
    });

    test(`${config.label}: start at a hidden channel (one per sample)`, async () => {
      const channels = [1, 4, 0];
      const ref = await reference(model, x, [0, 0, 0], config.spec, { start: { node: 'c2', channel: channels } });
      const { input, layers } = explainLayers(model, x, { layer: 'c2', channel: channels }, ['c1'], config.options);
      expectClose(await (input as tf.Tensor).data(), ref.relevance[0].data, 1e-4, 'input');
      expectClose(await layers.c1.data(), refAt(ref, 'c1').data, 1e-4, 'c1');
      tf.dispose([input as tf.Tensor, layers.c1]);
    });

    test(`${config.label}: conditional relevance, one and two conditioned layers`, async () => {
      const list: Array<Record<string, number[]>> = [{ c2: [3] }, { d1: [0, 5, 6], c1: [2] }, { out: [2], c2: [0, 1] }];
      for (const conditions of list) {
        const ref = await reference(model, x, CLASSES, config.spec, { conditions });
        const { input, layers } = explainLayers(model, x, CLASSES, ['c1'], { ...config.options, conditions });
        const label = JSON.stringify(conditions);
        expectClose(await (input as tf.Tensor).data(), ref.relevance[0].data, 1e-4, `${label}: input`);
        expectClose(await layers.c1.data(), refAt(ref, 'c1').data, 1e-4, `${label}: c1`);
        tf.dispose([input as tf.Tensor, layers.c1]);
      }
    });
  }

  test('the conditional maps of all channels of a layer sum to the plain map (every path crosses it)', async () => {
    const plain = await (explain(model, x, CLASSES, { rule: 'epsilon' }) as tf.Tensor).data();
    const sum = new Float64Array(plain.length);
    for (let c = 0; c < 5; c++) {
      const { input } = explainLayers(model, x, CLASSES, [], { rule: 'epsilon', conditions: { c2: [c] } });
      const r = await (input as tf.Tensor).data();
      (input as tf.Tensor).dispose();
      r.forEach((v, k) => (sum[k] += v));
    }
    expectClose(sum, plain, 1e-5, 'Σ_c conditional(c2 = c)');
    // and a single channel is not the whole map (the test could fail)
    const { input } = explainLayers(model, x, CLASSES, [], { rule: 'epsilon', conditions: { c2: [0] } });
    expect(() => expectClose((input as tf.Tensor).dataSync(), plain, 1e-3)).toThrow();
    (input as tf.Tensor).dispose();
  });

  test('concept relevance [N, C] = reference summed over positions; explainer = function', async () => {
    const ref = await reference(model, x, CLASSES, { rule: 'epsilon', epsilon: 1e-6 });
    const rel = conceptRelevance(model, x, CLASSES, 'c2', { rule: 'epsilon' });
    expect(rel.shape).toEqual([3, 5]);
    expectClose(await rel.data(), channelSums64(refAt(ref, 'c2')), 1e-4, 'concept relevance c2');
    const explainer = createExplainer(model, { rule: 'epsilon' });
    const again = explainer.conceptRelevance(x, CLASSES, 'c2');
    expectClose(await again.data(), await rel.data(), 1e-6, 'explainer');
    tf.dispose([rel, again]);
    explainer.dispose();
  });

  test('no leaks (results disposed), explainer and function, errors too', async () => {
    await expectNoLeak(() => {
      const r = explainLayers(model, x, CLASSES, ['c1', 'd1'], { rule: 'epsilon', conditions: { d1: [1], c2: [2, 3] } });
      tf.dispose([r.input as tf.Tensor, ...Object.values(r.layers)]);
      conceptRelevance(model, x, { layer: 'd1', channel: 2 }, 'c1', { composite: 'epsilonPlusFlat' }).dispose();
    });
    const explainer = createExplainer(model, { rule: 'epsilon' });
    await expectNoLeak(() => {
      const r = explainer.explainLayers(x, 'max', ['c2'], { conditions: { c2: [1] } });
      tf.dispose([r.input as tf.Tensor, r.layers.c2]);
    });
    explainer.dispose();
  });

  test('typed errors: unknown layer (lists the layers), channel out of range', async () => {
    await expectError(() => explainLayers(model, x, 0, ['nope']), LrpArgumentError, /layerNames\[0\]/, /no layer "nope"/, /c1, .*c2/);
    await expectError(() => explainLayers(model, x, 0, [], { conditions: { conv9: [0] } }), LrpArgumentError, /conv9/, /Layers: /);
    await expectError(() => explainLayers(model, x, 0, [], { conditions: { c2: [5] } }), LrpArgumentError, /channel 5 is out of range/, /5 channels/);
    await expectError(() => conceptRelevance(model, x, { layer: 'd1', channel: 8 }, 'c1'), LrpArgumentError, /channel 8 is out of range/);
    await expectError(() => conceptRelevance(model, x, { layer: 'd1', channel: [1, 2] }, 'c1'), LrpArgumentError, /one per sample \(3\)/);
  });
});

describe('nested models: layers named outer/inner', () => {
  test('relevance at and a condition on a layer inside a nested Sequential = reference', async () => {
    const inner = tf.sequential({ name: 'block' });
    inner.add(tf.layers.conv2d({ name: 'inner_conv', inputShape: [5, 5, 2], filters: 3, kernelSize: 3, activation: 'relu' }));
    inner.add(tf.layers.flatten({ name: 'inner_flat' }));
    const x = tf.input({ shape: [5, 5, 2], name: 'img' });
    const h = tf.layers.conv2d({ name: 'pre', filters: 2, kernelSize: 1, activation: 'relu' }).apply(x) as tf.SymbolicTensor;
    const y = tf.layers.dense({ name: 'head', units: 3 }).apply(inner.apply(h) as tf.SymbolicTensor) as tf.SymbolicTensor;
    const model = tf.model({ inputs: x, outputs: y, name: 'outer' });
    randomizeWeights(model, 9);
    const input = uniform([2, 5, 5, 2], 4, -1, 1);
    const classes = [0, 2];
    const ref = await reference(model, input, classes, { rule: 'epsilon', epsilon: 1e-6 }, { conditions: { inner_conv: [1] } });
    const plainRef = await reference(model, input, classes, { rule: 'epsilon', epsilon: 1e-6 });
    const plain = explainLayers(model, input, classes, ['block/inner_conv', 'pre'], { rule: 'epsilon' });
    expectClose(await plain.layers['block/inner_conv'].data(), refAt(plainRef, 'inner_conv').data, 1e-4, 'block/inner_conv');
    const r = explainLayers(model, input, classes, ['pre'], { rule: 'epsilon', conditions: { 'block/inner_conv': [1] } });
    expectClose(await r.layers.pre.data(), refAt(ref, 'pre').data, 1e-4, 'pre | block/inner_conv = 1');
    expectClose(await (r.input as tf.Tensor).data(), ref.relevance[0].data, 1e-4, 'input | block/inner_conv = 1');
    await expectError(() => explainLayers(model, input, classes, ['inner_conv']), LrpArgumentError, /block\/inner_conv/);
    tf.dispose([input, r.input as tf.Tensor, r.layers.pre, plain.input as tf.Tensor, ...Object.values(plain.layers)]);
    model.dispose();
  });
});

describe('CRP on a residual block and parallel branches', () => {
  const model = residual();
  const x = uniform([2, 5, 5, 2], 3, -1, 1);
  afterAll(() => {
    x.dispose();
    model.dispose();
  });

  test('conditioning the residual branch drops the skip path (= reference)', async () => {
    const classes = [1, 3];
    const plainRef = await reference(model, x, classes, { rule: 'epsilon', epsilon: 1e-6 });
    const { input: plainIn, layers } = explainLayers(model, x, classes, ['a', 'b', 'sum', 'p1', 'p2'], { rule: 'epsilon' });
    for (const n of ['a', 'b', 'sum', 'p1', 'p2']) expectClose(await layers[n].data(), refAt(plainRef, n).data, 1e-4, n);
    const sum = new Float64Array((plainIn as tf.Tensor).size);
    for (const c of [0, 1, 2]) {
      const ref = await reference(model, x, classes, { rule: 'epsilon', epsilon: 1e-6 }, { conditions: { b: [c], p2: [0, 1] } });
      const r = explainLayers(model, x, classes, ['a'], { rule: 'epsilon', conditions: { b: [c], p2: [0, 1] } });
      expectClose(await (r.input as tf.Tensor).data(), ref.relevance[0].data, 1e-4, `b = ${c}: input`);
      expectClose(await r.layers.a.data(), refAt(ref, 'a').data, 1e-4, `b = ${c}: a`);
      (await (r.input as tf.Tensor).data()).forEach((v, k) => (sum[k] += v));
      tf.dispose([r.input as tf.Tensor, r.layers.a]);
    }
    // the skip path around b is dropped: Σ over b's channels is not the p2-conditioned map
    const viaP2 = explainLayers(model, x, classes, [], { rule: 'epsilon', conditions: { p2: [0, 1] } });
    expect(() => expectClose(sum, (viaP2.input as tf.Tensor).dataSync(), 1e-3)).toThrow();
    tf.dispose([plainIn as tf.Tensor, viaP2.input as tf.Tensor, ...Object.values(layers)]);
  });

  test('conditions on parallel branches are an error', async () => {
    await expectError(() => explainLayers(model, x, 0, [], { conditions: { p1: [0], p2: [1] } }), LrpArgumentError, /'p1' and 'p2' lie on parallel branches/);
  });
});
