/**
 * Where relevance vanishes, known from the plan (src/relevanceSupport.ts): a Dense/Conv output
 * that goes through a ReLU (and max pooling, Flatten…) into rules ∝ their input receives no
 * relevance where z ≤ 0, and the ε and γ rules then skip those units' terms (γ: one transposed map
 * instead of two). Checked here: which nodes the plan marks (and which it must not), that the
 * marked pass gives the numbers of the unmarked one, that it runs fewer convolutions, and that a
 * pass starting inside the network (concept relevance) assumes nothing.
 */
import * as tf from '@tensorflow/tfjs';
import { ExplainOptions, keepParams, LrpRuleError, proportionalTemplateRule, templateRule } from '../src';
import { runBackward } from '../src/backward';
import { runForward } from '../src/forward';
import { ModelPlan, planModel } from '../src/plan';
import { BACKENDS, maxAbs, maxAbsDiff, randomizeWeights, uniform, useBackend } from './helpers';
import { toGraphModel } from './support/toGraphModel';

type Layers = ReadonlyArray<tf.layers.Layer>;

function sequential(layers: Layers, seed: number): tf.Sequential {
  const m = tf.sequential({ layers: [...layers] });
  randomizeWeights(m, seed);
  return m;
}

/** conv-relu ×2, max pool, conv-relu, max pool, flatten, dense-relu, dense (bench-cnn in small). */
function cnn(): tf.Sequential {
  return sequential(
    [
      tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c1' }),
      tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c2' }),
      tf.layers.maxPooling2d({ poolSize: 2, name: 'p1' }),
      tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c3' }),
      tf.layers.maxPooling2d({ poolSize: 2, name: 'p2' }),
      tf.layers.flatten({ name: 'flat' }),
      tf.layers.dense({ units: 5, activation: 'relu', name: 'd1' }),
      tf.layers.dense({ units: 3, name: 'd2' }),
    ],
    19,
  );
}

/** Per Dense/Conv node (by layer name): whether the plan marks its output inactive-zero. */
function marks(plan: ModelPlan): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  for (const { node } of plan.nodes) if (node.op.kind === 'linear') out[node.layer.name] = plan.inactiveZero.has(node.output);
  return out;
}

/**
 * One pass with `plan` (or with nothing marked; with the ReLUs of `plan.rectifiedLinear` applied
 * inside their layers' kernels when `rectify`), and how many convolution, Relu and Abs kernels it ran.
 */
async function pass(plan: ModelPlan, x: tf.Tensor, marked: boolean, rectify = false, classIdx = 1): Promise<{ relevance: Float32Array; convs: number; relus: number; abs: number }> {
  const p: ModelPlan = marked ? plan : { ...plan, inactiveZero: new Set<string>() };
  const info = await tf.profile(() =>
    tf.tidy(() => {
      const record = runForward(p, [x], { rectify });
      const logits = record.tensors.get(p.graph.explained) as tf.Tensor;
      const start = tf.mul(tf.oneHot(tf.fill([x.shape[0]], classIdx, 'int32') as tf.Tensor1D, p.outputSize), logits);
      return runBackward(p, record, start, false).inputs[0];
    }),
  );
  const out = info.result as tf.Tensor;
  const relevance = (await out.data()) as Float32Array;
  out.dispose();
  const count = (...names: string[]) => info.kernels.filter((k) => names.includes(k.name)).length;
  return { relevance, convs: count('Conv2D', 'FusedConv2D'), relus: count('Relu'), abs: count('Abs') };
}

/** Per Dense/Conv node (by layer name): whether the plan applies its ReLU inside its kernel. */
function rectifiedLayers(plan: ModelPlan): string[] {
  return plan.nodes.filter(({ node }) => node.op.kind === 'linear' && plan.rectifiedLinear.has(node.id)).map(({ node }) => node.layer.name);
}

describe('relevance known to vanish where z ≤ 0 (plan.inactiveZero)', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('marks every Dense/Conv output that goes through a ReLU into rules ∝ their input, never the explained output', () => {
    const model = cnn();
    for (const options of [{ rule: 'epsilon' }, { composite: 'epsilonPlus' }, { composite: 'epsilonGammaBox', low: 0, high: 1 }, { composite: 'epsilonAlpha2Beta1' }] as ExplainOptions[]) {
      expect(marks(planModel(model, options))).toEqual({ c1: true, c2: true, c3: true, d1: true, d2: false });
    }
    model.dispose();
  });

  it('a graph model (fused Conv2D+Relu, MaxPool, Reshape, MatMul) is marked like its layers model, with the same numbers', async () => {
    const model = cnn();
    const graph = await toGraphModel(model);
    const plan = planModel(graph, { composite: 'epsilonGammaBox', low: -1, high: 1 });
    const linear = plan.nodes.filter((p) => p.node.op.kind === 'linear');
    expect(linear.map((p) => plan.inactiveZero.has(p.node.output))).toEqual([true, true, true, true, false]);
    const x = uniform([2, 8, 8, 3], 13);
    const marked = await pass(plan, x, true);
    const unmarked = await pass(plan, x, false);
    expect(maxAbsDiff(marked.relevance, unmarked.relevance) / maxAbs(unmarked.relevance)).toBeLessThan(1e-5);
    expect(unmarked.convs - marked.convs).toBe(2);
    // the converter's fused Conv2D+Relu ops: their ReLU runs inside the convolution again
    expect(plan.rectifiedLinear.size).toBe(3);
    const rectified = await pass(plan, x, true, true);
    expect(maxAbsDiff(rectified.relevance, marked.relevance) / maxAbs(marked.relevance)).toBeLessThan(1e-6);
    expect(marked.relus - rectified.relus).toBe(3);
    x.dispose();
    graph.dispose();
    model.dispose();
  });

  it('through a BatchNorm merged into the conv before it and a ReLU layer: marked, the same numbers', async () => {
    const model = sequential(
      [
        tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, padding: 'same', name: 'c1' }),
        tf.layers.batchNormalization({ name: 'bn' }),
        tf.layers.reLU({ name: 'r' }),
        tf.layers.conv2d({ filters: 5, kernelSize: 3, padding: 'same', name: 'c2' }),
        tf.layers.batchNormalization({ name: 'bn2' }),
        tf.layers.reLU({ name: 'r2' }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 3, name: 'd' }),
      ],
      21,
    );
    const plan = planModel(model, { rule: 'gamma' });
    expect(marks(plan)).toEqual({ c1: true, c2: true, d: false });
    const x = uniform([2, 8, 8, 3], 14);
    const marked = await pass(plan, x, true);
    const unmarked = await pass(plan, x, false);
    expect(maxAbsDiff(marked.relevance, unmarked.relevance) / maxAbs(unmarked.relevance)).toBeLessThan(1e-5);
    expect(unmarked.convs - marked.convs).toBe(1 + 4); // c2: one transpose; c1 (input of any sign): 2 forwards, 2 transposes
    x.dispose();
    model.dispose();
  });

  it('does not mark an output read by a rule not ∝ its input (flat, w², z-box)', () => {
    const model = cnn();
    expect(marks(planModel(model, { rule: 'epsilon', layerRules: { c2: 'flat' } }))).toEqual({ c1: false, c2: true, c3: true, d1: true, d2: false });
    expect(marks(planModel(model, { rule: 'epsilon', layerRules: { c3: 'wSquare' } }))).toEqual({ c1: true, c2: false, c3: true, d1: true, d2: false });
    expect(marks(planModel(model, { rule: 'epsilon', layerRules: { d1: 'zBox' }, low: 0, high: 1 }))).toEqual({ c1: true, c2: true, c3: false, d1: true, d2: false });
    model.dispose();
  });

  it('user rules: a template rule is proportional to its input only without a fast path, or when it says so', () => {
    const spec = { forwards: [{ input: 'identity' as const, params: keepParams }], gradients: (R: tf.Tensor, [o]: ReadonlyArray<tf.Tensor | null>) => [tf.div(R, o as tf.Tensor)], reducer: 'inputTimesGradient' as const };
    expect(templateRule('plain', {}, spec).proportionalToInput).toBe(true);
    expect(templateRule('fast', {}, spec, () => null).proportionalToInput).toBe(false);
    expect(proportionalTemplateRule('fast', {}, spec, () => null).proportionalToInput).toBe(true);
    expect(() => proportionalTemplateRule('ones', {}, { ...spec, forwards: [{ input: 'ones', params: keepParams }] })).toThrow(LrpRuleError);
    // a user's rule with a fast path of unknown form: the layer below is not marked
    const model = cnn();
    expect(marks(planModel(model, { rule: 'epsilon', layerRules: { c2: templateRule('userFast', {}, spec, () => null) } })).c1).toBe(false);
    expect(marks(planModel(model, { rule: 'epsilon', layerRules: { c2: templateRule('userPlain', {}, spec) } })).c1).toBe(true);
    model.dispose();
  });

  it('does not mark outputs through average pooling, a leaky ReLU, a linear activation, an Add, or the max-pooling rule norm', () => {
    const cases: Array<{ layers: Layers; options?: ExplainOptions }> = [
      { layers: [tf.layers.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, activation: 'relu', name: 'c1' }), tf.layers.averagePooling2d({ poolSize: 2 }), tf.layers.flatten(), tf.layers.dense({ units: 2, name: 'd' })] },
      { layers: [tf.layers.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, name: 'c1' }), tf.layers.leakyReLU(), tf.layers.flatten(), tf.layers.dense({ units: 2, name: 'd' })] },
      { layers: [tf.layers.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, name: 'c1' }), tf.layers.flatten(), tf.layers.dense({ units: 2, name: 'd' })] },
      { layers: [tf.layers.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, activation: 'relu', name: 'c1' }), tf.layers.maxPooling2d({ poolSize: 2, name: 'pool' }), tf.layers.flatten(), tf.layers.dense({ units: 2, name: 'd' })], options: { layerRules: { pool: 'norm' } } },
    ];
    for (const { layers, options } of cases) {
      const model = sequential(layers, 3);
      expect(marks(planModel(model, { rule: 'epsilon', ...options })).c1).toBe(false);
      model.dispose();
    }
    const input = tf.input({ shape: [4] });
    const hidden = tf.layers.dense({ units: 4, activation: 'relu', name: 'h' }).apply(input) as tf.SymbolicTensor;
    const branch = tf.layers.dense({ units: 4, name: 'b' }).apply(hidden) as tf.SymbolicTensor;
    const sum = tf.layers.add().apply([hidden, branch]) as tf.SymbolicTensor;
    const functional = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 2, name: 'o' }).apply(sum) as tf.SymbolicTensor });
    randomizeWeights(functional, 4);
    // h's ReLU output is read by b (ε, ∝ input) and by the Add (norm): not every reader keeps zeros
    expect(marks(planModel(functional, { rule: 'epsilon' }))).toEqual({ h: false, b: false, o: false });
    functional.dispose();
  });

  it('the marked pass gives the unmarked numbers with fewer convolutions (ε, γ, composites)', async () => {
    const model = cnn();
    const x = uniform([3, 8, 8, 3], 11);
    const settings: Array<{ options: ExplainOptions; fewer: number }> = [
      { options: { rule: 'epsilon' }, fewer: 0 },
      // c2, c3: one transpose each; c1 (input of any sign): the x⁺/x⁻ forwards and transposes of
      // the units with z < 0 (two of each)
      { options: { rule: 'gamma', gamma: 0.5 }, fewer: 2 + 4 },
      { options: { composite: 'epsilonGammaBox', low: -1, high: 1 }, fewer: 2 },
      { options: { composite: 'epsilonPlus' }, fewer: 0 },
    ];
    for (const { options, fewer } of settings) {
      const plan = planModel(model, options);
      const marked = await pass(plan, x, true);
      const unmarked = await pass(plan, x, false);
      const scale = maxAbs(unmarked.relevance);
      expect(scale).toBeGreaterThan(0);
      expect(maxAbsDiff(marked.relevance, unmarked.relevance) / scale).toBeLessThan(1e-5);
      expect(unmarked.convs - marked.convs).toBe(fewer);
    }
    tf.dispose(x);
    model.dispose();
  });

  it('a pass that starts inside the network (concepts) assumes nothing: relevance of any sign there', async () => {
    const model = cnn();
    const x = uniform([2, 8, 8, 3], 12);
    const plan = planModel(model, { rule: 'gamma' });
    const c2 = plan.nodes.find((p) => p.node.op.kind === 'linear' && p.node.layer.name === 'c2');
    expect(c2 !== undefined && plan.inactiveZero.has(c2.node.output)).toBe(true);
    const key = (c2 as NonNullable<typeof c2>).node.output;
    const run = (p: ModelPlan) =>
      tf.tidy(() => {
        const record = runForward(p, [x]);
        // relevance of both signs at c2's pre-activation, also where z < 0
        const start = uniform((record.tensors.get(key) as tf.Tensor).shape, 5);
        return runBackward(p, record, start, false, { start: key, captured: new Map() }).inputs[0];
      });
    const withMarks = run(plan);
    const without = run({ ...plan, inactiveZero: new Set<string>() });
    const [a, b] = [await withMarks.data(), await without.data()];
    expect(maxAbs(b)).toBeGreaterThan(0);
    expect(maxAbsDiff(a, b) / maxAbs(b)).toBeLessThan(1e-6);
    tf.dispose([withMarks, without, x]);
    model.dispose();
  });
});

describe('ReLU inside the layer kernel in an explanation (plan.rectifiedLinear)', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('rectifies the marked Dense/Conv nodes read by their ReLU alone whose rule accepts max(z, 0)', () => {
    const model = cnn();
    expect(rectifiedLayers(planModel(model, { rule: 'epsilon' }))).toEqual(['c1', 'c2', 'c3', 'd1']);
    expect(rectifiedLayers(planModel(model, { composite: 'epsilonPlus' }))).toEqual(['c1', 'c2', 'c3', 'd1']);
    // c1 is z-box (reads z): not rectified; γ with a stabilizer is
    expect(rectifiedLayers(planModel(model, { composite: 'epsilonGammaBox', low: 0, high: 1 }))).toEqual(['c2', 'c3', 'd1']);
    // αβ computes z in a forward of its own
    expect(rectifiedLayers(planModel(model, { composite: 'epsilonAlpha2Beta1' }))).toEqual(['d1']);
    // LRP-0 and γ without a stabilizer divide by z itself where it is ≤ 0: not rectified
    expect(rectifiedLayers(planModel(model, { rule: 'zero' }))).toEqual([]);
    expect(rectifiedLayers(planModel(model, { rule: 'gamma', stabilizer: 0 }))).toEqual([]);
    // a user rule does not say it accepts max(z, 0)
    const spec = { forwards: [{ input: 'identity' as const, params: keepParams }], gradients: (R: tf.Tensor, [o]: ReadonlyArray<tf.Tensor | null>) => [tf.div(R, o as tf.Tensor)], reducer: 'inputTimesGradient' as const };
    expect(rectifiedLayers(planModel(model, { rule: 'epsilon', layerRules: { c2: templateRule('user', {}, spec) } }))).toEqual(['c1', 'c3', 'd1']);
    model.dispose();
    // a ReLU layer, a merged BatchNorm, a ReLU6: the conv's reader is not its own split ReLU
    const separate = sequential([tf.layers.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, name: 'c1' }), tf.layers.reLU(), tf.layers.flatten(), tf.layers.dense({ units: 2, name: 'd' })], 5);
    const merged = sequential([tf.layers.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, activation: 'relu', name: 'c1' }), tf.layers.conv2d({ filters: 3, kernelSize: 3, name: 'c2' }), tf.layers.batchNormalization(), tf.layers.reLU(), tf.layers.flatten(), tf.layers.dense({ units: 2, name: 'd' })], 6);
    const relu6 = sequential([tf.layers.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, activation: 'relu6', name: 'c1' }), tf.layers.flatten(), tf.layers.dense({ units: 2, name: 'd' })], 7);
    expect(marks(planModel(separate, { rule: 'epsilon' })).c1).toBe(true);
    expect(rectifiedLayers(planModel(separate, { rule: 'epsilon' }))).toEqual([]);
    expect(rectifiedLayers(planModel(merged, { rule: 'epsilon' }))).toEqual(['c1']);
    expect(rectifiedLayers(planModel(relu6, { rule: 'epsilon' }))).toEqual([]);
    for (const m of [separate, merged, relu6]) m.dispose();
  });

  it('gives the numbers of the pass without it, one Relu kernel less per rectified layer (and no Abs for ε)', async () => {
    const model = cnn();
    const x = uniform([3, 8, 8, 3], 16);
    const settings: Array<{ options: ExplainOptions; rectified: number; abs: number }> = [
      { options: { rule: 'epsilon' }, rectified: 4, abs: 4 },
      { options: { composite: 'epsilonPlus' }, rectified: 4, abs: 1 },
      { options: { composite: 'epsilonGammaBox', low: -1, high: 1 }, rectified: 3, abs: 3 },
      { options: { rule: 'gamma', gamma: 0.5 }, rectified: 4, abs: 3 },
    ];
    for (const { options, rectified, abs } of settings) {
      const plan = planModel(model, options);
      expect(plan.rectifiedLinear.size).toBe(rectified);
      const fused = await pass(plan, x, true, true);
      const plain = await pass(plan, x, true, false);
      const scale = maxAbs(plain.relevance);
      expect(scale).toBeGreaterThan(0);
      expect(maxAbsDiff(fused.relevance, plain.relevance) / scale).toBeLessThan(1e-6);
      expect(plain.relus - fused.relus).toBe(rectified);
      expect(plain.abs - fused.abs).toBe(abs);
      expect(fused.convs).toBe(plain.convs);
    }
    tf.dispose(x);
    model.dispose();
  });

  it('Dense on a sequence (rank 3) and Conv1D: rectified, the same numbers', async () => {
    const model = sequential(
      [
        tf.layers.conv1d({ inputShape: [7, 3], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c' }),
        tf.layers.dense({ units: 5, activation: 'relu', name: 'd' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 2, name: 'o' }),
      ],
      23,
    );
    const plan = planModel(model, { rule: 'epsilon' });
    expect(rectifiedLayers(plan)).toEqual(['c', 'd']);
    const x = uniform([3, 7, 3], 18);
    const fused = await pass(plan, x, true, true);
    const plain = await pass(plan, x, true, false);
    expect(maxAbs(plain.relevance)).toBeGreaterThan(0);
    expect(maxAbsDiff(fused.relevance, plain.relevance) / maxAbs(plain.relevance)).toBeLessThan(1e-6);
    expect(plain.relus - fused.relus).toBe(2);
    x.dispose();
    model.dispose();
  });

  it('a rectified forward record refuses a pass that starts inside the network; without marks nothing is rectified', () => {
    const model = cnn();
    const x = uniform([2, 8, 8, 3], 17);
    const plan = planModel(model, { rule: 'epsilon' });
    const c2 = plan.nodes.find((p) => p.node.op.kind === 'linear' && p.node.layer.name === 'c2') as NonNullable<(typeof plan.nodes)[number]>;
    const before = tf.memory().numTensors;
    expect(() =>
      tf.tidy(() => {
        const record = runForward(plan, [x], { rectify: true });
        expect(record.rectified.size).toBe(4);
        const start = tf.onesLike(record.tensors.get(c2.node.output) as tf.Tensor);
        runBackward(plan, record, start, false, { start: c2.node.output, captured: new Map() });
      }),
    ).toThrow(/explained output only/);
    expect(tf.memory().numTensors).toBe(before);
    const unmarked = tf.tidy(() => runForward({ ...plan, inactiveZero: new Set<string>() }, [x], { rectify: true }).rectified.size);
    expect(unmarked).toBe(0);
    x.dispose();
    model.dispose();
  });
});

describe('the marked passes on every backend agree with cpu', () => {
  // the shortened ε and γ passes (γ after a ReLU and on an input of any sign) on wasm and, where
  // Dawn loads, WebGPU in Node; test/architectures and test/browser-backends cover the composites
  const settings: Array<[string, ExplainOptions]> = [
    ['rule epsilon', { rule: 'epsilon' }],
    ['rule gamma', { rule: 'gamma', gamma: 0.5 }],
    ['epsilonGammaBox', { composite: 'epsilonGammaBox', low: -1, high: 1 }],
  ];
  const reference = new Map<string, Float32Array>();
  beforeAll(async () => {
    await useBackend('cpu');
    const model = cnn();
    const x = uniform([2, 8, 8, 3], 15);
    for (const [label, options] of settings) {
      const plan = planModel(model, options);
      reference.set(label, (await pass(plan, x, true, false)).relevance);
    }
    x.dispose();
    model.dispose();
  });
  for (const backend of BACKENDS.filter((b) => b !== 'cpu')) {
    it(`${backend}: within 1e-4 · max|R| of cpu`, async () => {
      await useBackend(backend);
      try {
        const model = cnn();
        const x = uniform([2, 8, 8, 3], 15);
        for (const [label, options] of settings) {
          const plan = planModel(model, options);
          expect(plan.inactiveZero.size).toBeGreaterThan(0);
          const cpu = reference.get(label) as Float32Array;
          for (const rectify of [false, true]) {
            const got = (await pass(plan, x, true, rectify)).relevance;
            expect(maxAbsDiff(got, cpu) / maxAbs(cpu)).toBeLessThan(1e-4);
          }
        }
        x.dispose();
        model.dispose();
      } finally {
        await useBackend('cpu');
      }
    });
  }
});
