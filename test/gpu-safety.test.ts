/**
 * GPU-safe op policy (src/ops/conv.ts): every kernel the engine and the heatmap functions
 * dispatch must run on WebGL 2 and WebGPU, where tfjs 4.22 fails on some kernels of rank > 4
 * (WebGL: the packed Pad shader does not compile for rank 6; WebGPU: PadProgram's WGSL is
 * invalid for rank 6 and silently returns garbage) and where a WebGPU shader binds at most 8
 * storage buffers by default (tf.addN of 8 or more tensors gives wrong numbers, no error). So:
 *   - no kernel other than Reshape (a no-op on the data) has an input or output of rank > 4,
 *     except at rank exactly 5: the 3-D kernels (Conv3D, its two backprop kernels, MaxPool3D,
 *     AvgPool3D and their gradients), which tfjs 4.22 registers on webgl, webgpu, wasm and cpu
 *     and whose geometry is rank 5, and element-wise kernels without broadcasting (every input of
 *     the output's shape, or a scalar []): both GPU backends run those on the flat index, whatever
 *     the rank. Broadcasting binary ops of rank 5 do not compile on WebGPU, and rank 6 fails on
 *     both (above), so both stay violations. Checked: the 3-D CNN family of test/families.ts
 *     equals cpu on WebGPU in Node (test/architectures.test.ts) and on WebGL 2 / WebGPU in
 *     Chromium (test/browser-backends.test.ts);
 *   - no kernel has more than 7 tensor inputs, except Concat and Pack: both backends split
 *     those themselves (tfjs-backend-webgpu's concatImpl in chunks of
 *     maxStorageBuffersPerShaderStage − 1, and its Pack is expandDims + that concat;
 *     tfjs-backend-webgl's concatImpl and Pack likewise by WEBGL_MAX_TEXTURES_IN_SHADER).
 *
 * The kernels are recorded with tf.profile on the cpu backend (every kernel call with its
 * input and output shapes, gradient kernels included) for explain() on models of every supported
 * layer, with every rule and composite, for the gradient methods and for the heatmap functions.
 */
import * as tf from '@tensorflow/tfjs';
import { COMPOSITE_NAMES } from '../rules/composites';
import { createExplainer, explain, ExplainOptions, ruleNames } from '../src';
import { drawContour, heatmap, heatmapGrid, overlay, topKMask, upscale } from '../src/heatmap';
import { CONFIGS } from './configs';
import { CONFIGS as FAMILY_CONFIGS, FAMILIES, HIGH, LOW, makeInputs, seededWeights } from './families';
import { randomizeWeights, uniform, useBackend } from './helpers';
import { CASES } from './models';

/** Kernels whose data are untouched by a change of shape: the rank does not matter to them. */
const RANK_FREE = new Set(['Reshape']);
/** The largest rank any other kernel may see. */
const MAX_RANK = 4;
/** The 3-D kernels: rank 5 is their geometry (registered on every tfjs 4.22 backend). */
const RANK5_3D = new Set(['Conv3D', 'Conv3DBackpropInputV2', 'Conv3DBackpropFilterV2', 'MaxPool3D', 'MaxPool3DGrad', 'AvgPool3D', 'AvgPool3DGrad']);
/** Element-wise kernels allowed at rank 5 when they do not broadcast (see {@link rank5Allowed}). */
const RANK5_ELEMENTWISE = new Set(['Identity', 'OnesLike', 'ZerosLike', 'Cast', 'Relu', 'Neg', 'Abs', 'Sign', 'Step', 'Add', 'AddN', 'Sub', 'Multiply', 'RealDiv', 'Maximum', 'Minimum']);
/** The most tensor inputs of one kernel (WebGPU: 8 storage buffers, one for the output). */
const MAX_INPUTS = 7;
/** Kernels that both GPU backends split into chunks of few inputs by themselves. */
const SPLIT_BY_BACKEND = new Set(['Concat', 'Pack']);

/** One recorded kernel call. */
interface KernelCall {
  readonly name: string;
  readonly inputShapes: ReadonlyArray<readonly number[] | null>;
  readonly outputShapes: ReadonlyArray<readonly number[]>;
}

const fmt = (shapes: ReadonlyArray<readonly number[] | null>): string => shapes.map((s) => (s === null ? 'null' : `[${s.join(',')}]`)).join(' ');

/**
 * Whether a rank-5 call is allowed: a 3-D kernel, or an element-wise kernel whose inputs all have
 * the output's shape or are scalars (no broadcasting: WebGPU's rank-5 broadcast does not compile).
 */
function rank5Allowed(k: KernelCall): boolean {
  if (RANK5_3D.has(k.name)) return true;
  if (!RANK5_ELEMENTWISE.has(k.name) || k.outputShapes.length !== 1) return false;
  const out = k.outputShapes[0].join(',');
  return k.inputShapes.every((s) => s === null || s.length === 0 || s.join(',') === out);
}

/** The policy violations among `calls`, each naming the case, the kernel and its shapes. */
function violations(calls: readonly KernelCall[], label: string): string[] {
  const found: string[] = [];
  for (const k of calls) {
    const shapes = `inputs ${fmt(k.inputShapes)} → outputs ${fmt(k.outputShapes)}`;
    const ranks = [...k.inputShapes, ...k.outputShapes].map((s) => (s === null ? 0 : s.length));
    const rank = Math.max(0, ...ranks);
    if (!RANK_FREE.has(k.name) && rank > MAX_RANK && !(rank === 5 && rank5Allowed(k))) {
      found.push(`${label}: ${k.name} has rank ${Math.max(...ranks)} > ${MAX_RANK} (${shapes})`);
    }
    const inputs = k.inputShapes.filter((s) => s !== null).length;
    if (inputs > MAX_INPUTS && !SPLIT_BY_BACKEND.has(k.name)) {
      found.push(`${label}: ${k.name} has ${inputs} tensor inputs > ${MAX_INPUTS} (${shapes})`);
    }
  }
  return found;
}

/** Every kernel `fn` dispatches; what `fn` returns is disposed. */
async function kernelsOf(fn: () => tf.TensorContainer | Promise<tf.TensorContainer>): Promise<KernelCall[]> {
  const info = await tf.profile(fn);
  tf.dispose(info.result);
  return info.kernels.map((k) => ({ name: k.name, inputShapes: k.inputShapes as Array<number[] | null>, outputShapes: k.outputShapes }));
}

/** The violations of `fn`, with the kernels seen (so a case that ran nothing is noticed). */
async function check(label: string, fn: () => tf.TensorContainer | Promise<tf.TensorContainer>): Promise<{ problems: string[]; kernels: number }> {
  const calls = await kernelsOf(fn);
  return { problems: violations(calls, label), kernels: calls.length };
}

const asList = (r: tf.Tensor | tf.Tensor[]): tf.Tensor[] => (Array.isArray(r) ? r : [r]);

/** explain() and explainWithConservation(perLayer) of one model: both are what a user runs. */
async function explainBoth(model: tf.LayersModel, inputs: tf.Tensor[], classes: number[] | 'max', options: ExplainOptions): Promise<tf.Tensor[]> {
  const x = inputs.length === 1 ? inputs[0] : inputs;
  const explainer = createExplainer(model, options);
  try {
    const plain = asList(explainer.explain(x, classes));
    const { relevance } = await explainer.explainWithConservation(x, classes, { perLayer: true });
    return [...plain, ...asList(relevance)];
  } finally {
    explainer.dispose();
  }
}

// ---- models beyond test/models.ts: the geometries that used to need rank > 4 or many inputs ----

const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]): tf.SymbolicTensor => layer.apply(x) as tf.SymbolicTensor;

interface Extra {
  readonly name: string;
  build(): { model: tf.LayersModel; inputs: tf.Tensor[] };
}

function seq(layers: tf.layers.Layer[], seed: number): tf.LayersModel {
  const m = tf.sequential({ layers });
  randomizeWeights(m, seed);
  return m;
}

const EXTRAS: Extra[] = [
  {
    name: 'Conv2D strides 2 and 3, odd and even kernels, same/valid, dilated',
    build: () => ({
      model: seq([
        tf.layers.conv2d({ inputShape: [13, 11, 2], filters: 3, kernelSize: 3, strides: 3, padding: 'same', activation: 'relu' }),
        tf.layers.conv2d({ filters: 3, kernelSize: 2, strides: 2, padding: 'valid', activation: 'relu' }),
        tf.layers.conv2d({ filters: 2, kernelSize: 3, dilationRate: 2, padding: 'same' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 3 }),
      ], 101),
      inputs: [uniform([2, 13, 11, 2], 1)],
    }),
  },
  {
    name: 'Conv2D strides [3, 2] with kernel 4 valid',
    build: () => ({
      model: seq([tf.layers.conv2d({ inputShape: [10, 9, 2], filters: 2, kernelSize: 4, strides: [3, 2], padding: 'valid', activation: 'relu' }), tf.layers.flatten(), tf.layers.dense({ units: 2 })], 102),
      inputs: [uniform([2, 10, 9, 2], 2)],
    }),
  },
  {
    name: 'Conv1D strided (same and valid), MaxPooling1D strided',
    build: () => ({
      model: seq([
        tf.layers.conv1d({ inputShape: [17, 3], filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }),
        tf.layers.conv1d({ filters: 4, kernelSize: 4, strides: 3, padding: 'valid', activation: 'relu' }),
        tf.layers.maxPooling1d({ poolSize: 2, strides: 1 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 2 }),
      ], 103),
      inputs: [uniform([2, 17, 3], 3)],
    }),
  },
  {
    name: 'DepthwiseConv2D multiplier 1 and 2, strided; SeparableConv2D strided',
    build: () => ({
      model: seq([
        tf.layers.depthwiseConv2d({ inputShape: [9, 9, 2], kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same', activation: 'relu' }),
        tf.layers.depthwiseConv2d({ kernelSize: 2, depthMultiplier: 1, strides: 2, padding: 'valid' }),
        tf.layers.separableConv2d({ filters: 3, kernelSize: 2, depthMultiplier: 3, strides: 1, padding: 'same', activation: 'relu' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 2 }),
      ], 104),
      inputs: [uniform([2, 9, 9, 2], 4)],
    }),
  },
  {
    name: 'Conv2DTranspose strides 2 and 3',
    build: () => ({
      model: seq([
        tf.layers.conv2dTranspose({ inputShape: [3, 4, 2], filters: 2, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }),
        tf.layers.conv2dTranspose({ filters: 2, kernelSize: 4, strides: 3, padding: 'valid' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 2 }),
      ], 105),
      inputs: [uniform([2, 3, 4, 2], 5)],
    }),
  },
  {
    name: 'MaxPooling2D 3x3 stride 1 same (9 window offsets), pool 3 stride 2 valid, pool 2 stride 3; AveragePooling2D 3/2 same and 2/3 valid; GlobalMaxPooling2D',
    build: () => ({
      model: seq([
        tf.layers.conv2d({ inputShape: [14, 14, 2], filters: 3, kernelSize: 3, padding: 'same', activation: 'relu' }),
        tf.layers.maxPooling2d({ poolSize: 3, strides: 1, padding: 'same' }),
        tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'valid' }),
        tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }),
        tf.layers.upSampling2d({ size: [3, 2] }),
        tf.layers.maxPooling2d({ poolSize: 2, strides: 3, padding: 'valid' }),
        tf.layers.averagePooling2d({ poolSize: 2, strides: 1, padding: 'valid' }),
        tf.layers.globalMaxPooling2d({}),
        tf.layers.dense({ units: 2 }),
      ], 106),
      inputs: [uniform([2, 14, 14, 2], 6)],
    }),
  },
  {
    name: 'UpSampling2D [2, 3], ZeroPadding2D, Cropping2D, Permute',
    build: () => ({
      model: seq([
        tf.layers.conv2d({ inputShape: [4, 5, 2], filters: 2, kernelSize: 1, activation: 'relu' }),
        tf.layers.upSampling2d({ size: [2, 3] }),
        tf.layers.zeroPadding2d({ padding: [[2, 1], [0, 3]] }),
        tf.layers.cropping2D({ cropping: [[1, 2], [3, 0]] }),
        tf.layers.permute({ dims: [2, 1, 3] }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 2 }),
      ], 107),
      inputs: [uniform([2, 4, 5, 2], 7)],
    }),
  },
  {
    name: 'Add and Concatenate of 9 branches, BatchNormalization (merged and not)',
    build: () => {
      const input = tf.input({ shape: [5, 5, 2] });
      const branches = Array.from({ length: 9 }, (_, i) => apply(tf.layers.conv2d({ filters: 2, kernelSize: (i % 3) + 1, padding: 'same', activation: 'relu' }), input));
      const sum = apply(tf.layers.add(), branches);
      const cat = apply(tf.layers.concatenate(), branches);
      const bn = apply(tf.layers.batchNormalization(), apply(tf.layers.conv2d({ filters: 2, kernelSize: 1 }), cat));
      const both = apply(tf.layers.batchNormalization(), apply(tf.layers.concatenate(), [sum, bn]));
      const out = apply(tf.layers.dense({ units: 2 }), apply(tf.layers.flatten(), both));
      const model = tf.model({ inputs: input, outputs: out });
      randomizeWeights(model, 108);
      return { model, inputs: [uniform([2, 5, 5, 2], 8)] };
    },
  },
  {
    name: 'Dense of 9 inputs added (fan-in at a Dense), Dense on rank 3',
    build: () => {
      const input = tf.input({ shape: [3, 4] });
      const parts = Array.from({ length: 9 }, () => apply(tf.layers.dense({ units: 3, activation: 'relu' }), input));
      const sum = apply(tf.layers.add(), parts);
      const out = apply(tf.layers.dense({ units: 2 }), apply(tf.layers.flatten(), sum));
      const model = tf.model({ inputs: input, outputs: out });
      randomizeWeights(model, 109);
      return { model, inputs: [uniform([2, 3, 4], 9)] };
    },
  },
];

/**
 * The composites run on the (larger) architecture families: between them every linear rule
 * (epsilon, gamma, zBox, zPlus, alphaBeta, flat) and the layer rules (norm, pass, gradient).
 */
const FAMILY_COMPOSITES = ['epsilonPlus', 'epsilonGammaBox', 'epsilonAlpha2Beta1Flat'];

const METHODS: Array<[string, ExplainOptions]> = [
  ['gradient', { method: 'gradient' }],
  ['gradientXInput', { method: 'gradientXInput' }],
  ['integratedGradients', { method: 'integratedGradients', steps: 10, maxBatch: 8 }],
  ['integratedGradients blur', { method: 'integratedGradients', steps: 3, baseline: 'blur', blurSigma: 1 }],
  ['smoothGrad', { method: 'smoothGrad', samples: 10, maxBatch: 64 }],
];

describe('GPU-safe kernels (rank ≤ 4 except Reshape; ≤ 7 inputs except Concat/Pack)', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  describe('the checker fails on hostile ops', () => {
    test('a rank-6 tf.pad (the old insertZeros)', async () => {
      const { problems } = await check('self-check', () => tf.pad(tf.ones([1, 2, 1, 2, 1, 1]), [[0, 0], [0, 0], [0, 1], [0, 0], [0, 1], [0, 0]]));
      expect(problems.some((p) => /^self-check: PadV2 has rank 6 > 4 \(inputs \[1,2,1,2,1,1\] → outputs \[1,2,2,2,2,1\]\)$/.test(p))).toBe(true);
    });
    test('a rank-5 tf.sum and a rank-5 transpose', async () => {
      const { problems } = await check('self-check', () => [tf.sum(tf.ones([1, 2, 2, 2, 2]), 4), tf.transpose(tf.ones([1, 2, 3, 4, 5]))]);
      expect(problems.some((p) => p.startsWith('self-check: Sum has rank 5'))).toBe(true);
      expect(problems.some((p) => p.startsWith('self-check: Transpose has rank 5'))).toBe(true);
    });
    test('a rank-5 broadcasting multiply, a rank-5 sum over a 3-D pool, and rank-6 element-wise ops', async () => {
      const { problems } = await check('self-check', () => [
        tf.mul(tf.ones([1, 2, 2, 2, 2]), tf.ones([1, 1, 1, 1, 2])),
        tf.sum(tf.maxPool3d(tf.ones([1, 2, 2, 2, 1]) as tf.Tensor5D, 2, 1, 'same'), 4),
        tf.relu(tf.ones([1, 1, 1, 1, 1, 2])),
        tf.mul(tf.ones([1, 1, 1, 1, 1, 2]), tf.ones([1, 1, 1, 1, 1, 2])),
      ]);
      expect(problems).toContain('self-check: Multiply has rank 5 > 4 (inputs [1,2,2,2,2] [1,1,1,1,2] → outputs [1,2,2,2,2])');
      expect(problems.some((p) => p.startsWith('self-check: Sum has rank 5'))).toBe(true);
      expect(problems).toContain('self-check: Relu has rank 6 > 4 (inputs [1,1,1,1,1,2] → outputs [1,1,1,1,1,2])');
      expect(problems).toContain('self-check: Multiply has rank 6 > 4 (inputs [1,1,1,1,1,2] [1,1,1,1,1,2] → outputs [1,1,1,1,1,2])');
      expect(problems.some((p) => p.startsWith('self-check: MaxPool3D'))).toBe(false);
    });
    test('rank-5 3-D kernels and non-broadcasting element-wise ops are allowed', async () => {
      const x = tf.ones([1, 3, 3, 3, 2]) as tf.Tensor5D;
      const { problems, kernels } = await check('self-check', () => [
        tf.conv3d(x, tf.ones([2, 2, 2, 2, 1]) as tf.Tensor5D, 1, 'same'),
        tf.avgPool3d(x, 2, 1, 'valid'),
        tf.relu(x),
        tf.mul(x, x),
        tf.mul(x, tf.scalar(2)),
        tf.addN([x, x]),
      ]);
      expect(kernels).toBeGreaterThanOrEqual(6);
      expect(problems).toEqual([]);
    });
    test('tf.addN of 9 tensors', async () => {
      const { problems } = await check('self-check', () => tf.addN(Array.from({ length: 9 }, () => tf.ones([2]))));
      expect(problems).toContain('self-check: AddN has 9 tensor inputs > 7 (inputs [2] [2] [2] [2] [2] [2] [2] [2] [2] → outputs [2])');
    });
    test('a rank-5 reshape, a concat of 9 and addN of 7 are allowed', async () => {
      const { problems } = await check('self-check', () => [
        tf.reshape(tf.ones([2, 4]), [1, 2, 2, 2, 1]),
        tf.concat(Array.from({ length: 9 }, () => tf.ones([2, 1])), 1),
        tf.addN(Array.from({ length: 7 }, () => tf.ones([2]))),
      ]);
      expect(problems).toEqual([]);
    });
  });

  describe('explain() with every rule and composite (test/models.ts)', () => {
    for (const testCase of CASES) {
      test(testCase.name, async () => {
        const { model, inputs } = testCase.build();
        try {
          const problems: string[] = [];
          for (const config of CONFIGS) {
            const label = `${testCase.name} / ${config.label}`;
            problems.push(...(await check(label, () => explainBoth(model, inputs, testCase.classes, config.options(testCase.bounds ?? [-1, 1])))).problems);
          }
          expect(problems).toEqual([]);
        } finally {
          tf.dispose(inputs);
          model.dispose();
        }
      });
    }
  });

  describe('explain() on strided, pooled, up-sampled and 9-way merged models', () => {
    for (const extra of EXTRAS) {
      test(extra.name, async () => {
        const { model, inputs } = extra.build();
        try {
          const problems: string[] = [];
          for (const config of CONFIGS) {
            const label = `${extra.name} / ${config.label}`;
            problems.push(...(await check(label, () => explainBoth(model, inputs, 'max', config.options([-1, 1])))).problems);
          }
          for (const [label, options] of METHODS) {
            if (options.baseline === 'blur' && inputs[0].rank !== 4) continue;
            problems.push(...(await check(`${extra.name} / ${label}`, () => explain(model, inputs.length === 1 ? inputs[0] : inputs, 'max', options))).problems);
          }
          expect(problems).toEqual([]);
        } finally {
          tf.dispose(inputs);
          model.dispose();
        }
      });
    }
  });

  test('every registered rule and composite (registry loop), on strided and 9-way merged models', async () => {
    const problems: string[] = [];
    // 'pass' and 'uniform' need element-wise layers (inputs of the output's size; not Dense/Conv)
    const options: Array<[string, ExplainOptions]> = [
      ...ruleNames().filter((name) => name !== 'pass' && name !== 'uniform').map((name): [string, ExplainOptions] => [`rule ${name}`, { rule: name as ExplainOptions['rule'], low: -1, high: 1 }]),
      ...COMPOSITE_NAMES.map((name): [string, ExplainOptions] => [`composite ${name}`, { composite: name as ExplainOptions['composite'], low: -1, high: 1 }]),
    ];
    for (const extra of [EXTRAS[0], EXTRAS[7]]) {
      const { model, inputs } = extra.build();
      try {
        for (const [label, o] of options) problems.push(...(await check(`${extra.name} / ${label}`, () => explain(model, inputs[0], 'max', o))).problems);
      } finally {
        tf.dispose(inputs);
        model.dispose();
      }
    }
    expect(problems).toEqual([]);
  });

  describe('explain() on the architecture families (test/families.ts)', () => {
    for (const family of FAMILIES) {
      test(family.name, async () => {
        const model = family.build(false);
        seededWeights(model, 1234, false);
        const xs = makeInputs(model, family, 99, LOW, HIGH);
        try {
          const problems: string[] = [];
          for (const output of family.outputs ?? [0]) {
            for (const [label, options] of FAMILY_CONFIGS.filter(([l]) => FAMILY_COMPOSITES.includes(l))) {
              const x = xs.length === 1 ? xs[0] : xs;
              problems.push(...(await check(`${family.name} / output ${output} / ${label}`, () => explain(model, x, 'max', { ...options, output }))).problems);
            }
          }
          expect(problems).toEqual([]);
        } finally {
          tf.dispose(xs);
          model.dispose();
        }
      });
    }
  });

  describe('gradient methods (test/models.ts)', () => {
    for (const testCase of CASES) {
      test(testCase.name, async () => {
        const { model, inputs } = testCase.build();
        try {
          const problems: string[] = [];
          for (const [label, options] of METHODS) {
            // token ids (an Embedding's input) cannot be interpolated or perturbed
            const tokens = model.layers.some((l) => l.getClassName() === 'Embedding');
            if (tokens && (options.method === 'integratedGradients' || options.method === 'smoothGrad')) continue;
            if (options.baseline === 'blur' && inputs.some((x) => x.rank !== 4)) continue;
            problems.push(...(await check(`${testCase.name} / ${label}`, () => explain(model, inputs.length === 1 ? inputs[0] : inputs, testCase.classes, options))).problems);
          }
          expect(problems).toEqual([]);
        } finally {
          tf.dispose(inputs);
          model.dispose();
        }
      });
    }
  });

  test('heatmap functions: heatmap, overlay, upscale, topKMask, drawContour, heatmapGrid', async () => {
    const relevance = uniform([9, 6, 5, 3], 31);
    const images = uniform([9, 6, 5, 1], 32, 0, 1);
    const problems: string[] = [];
    const run = async (label: string, fn: () => tf.TensorContainer): Promise<void> => {
      const result = await check(`heatmap / ${label}`, fn);
      expect(result.kernels).toBeGreaterThan(0);
      problems.push(...result.problems);
    };
    try {
      for (const reduce of ['sum', 'mean', 'maxAbs', 1] as const) await run(`heatmap reduce ${reduce}`, () => heatmap(relevance, { reduce }));
      await run('heatmap absolute, clip 99, shared, alpha, int32', () => heatmap(relevance, { normalize: 'absolute', clipPercentile: 99, shared: true, alpha: true, output: 'int32' }));
      await run('heatmap positive gray, rank-3 relevance', () => heatmap(tf.sum(relevance, 3), { normalize: 'positive', colormap: 'gray', clipPercentile: 50 }));
      for (const mode of ['alpha', 'multiply', 'screen'] as const) await run(`overlay ${mode}`, () => overlay(images, heatmap(relevance), { mode }));
      await run('overlay int32 RGBA heat on one image', () => overlay(tf.slice(images, [0, 0, 0, 0], [1, -1, -1, -1]), heatmap(relevance, { output: 'int32', alpha: true })));
      await run('upscale 3', () => upscale(relevance as tf.Tensor4D, 3));
      await run('topKMask', () => topKMask(relevance, 0.1));
      await run('drawContour', () => drawContour(upscale(images as tf.Tensor4D, 2), relevance, { fraction: 0.2, thickness: 2, color: [1, 0, 0] }));
      await run('heatmapGrid', () => heatmapGrid({ relevance, images, labels: Array.from({ length: 9 }, (_, i) => `sample ${i}`), contour: { fraction: 0.1 }, scale: 2 }));
      await run('heatmapGrid 3 per row, heatmap only', () => heatmapGrid({ relevance, samplesPerRow: 4, columns: ['heatmap'] }));
      expect(problems).toEqual([]);
    } finally {
      tf.dispose([relevance, images]);
    }
  });
});
