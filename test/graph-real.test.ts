/**
 * Real third-party graph models (issue #18, "a real third-party graph model explains on every
 * backend from the CLI and the API"): three TF.js graph models the npm package @vladmandic/human
 * ships (MIT; a devDependency, nothing is downloaded), loaded from disk with loadModel and
 * explained on real face crops of its samples.jpg (scripts/human-faces.ts):
 * - emotion: mini-Xception, 64×64×1 → 7 emotions (_FusedConv2D, DepthwiseConv2dNative, MaxPool,
 *   AddV2 residuals, Mean, Softmax);
 * - antispoof: 128×128×3 → 1 (_FusedConv2D, MaxPool, Relu, Reshape, _FusedMatMul, Sigmoid; float16 weights);
 * - liveness: 32×32×3 → 2 (_FusedConv2D, a standalone BatchNorm as Mul + Add, MaxPool, Reshape,
 *   _FusedMatMul, Softmax).
 * Checked: the engine's forward equals tfjs's (model.execute at the explained node, model.predict
 * after the stripped activation); relevance finite, of the input's shape, not all zero; describe()
 * rows that read well; no tensor leaks (error paths too); wasm and WebGPU (Dawn, where it runs) equal
 * cpu; the `tfjs-lrp` command (describe, explain with --output by name, --save-relevance) gives the
 * API's relevance on cpu, wasm and webgpu.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { conceptRelevance, createExplainer, LrpArgumentError, type ExplainOptions } from '../src';
import { loadModel, readImage, readNpy, writeImage } from '../src/node';
import { planModel } from '../src/plan';
import { runForward } from '../src/forward';
import { DerivedTensors, withDerivedTensors } from '../src/ops/derived';
import { EMOTIONS, FACE_BOXES, humanModel, readFaces } from '../scripts/human-faces';
import { runCli, type CliResult } from './support/cli';
import { expectClose, expectError, maxAbs, useBackend, values, WEBGPU_IN_NODE } from './helpers';

/** One real model: its input, the scaling @vladmandic/human feeds it, and the rules to explain it with. */
interface RealModel {
  readonly name: 'emotion' | 'antispoof' | 'liveness';
  readonly size: number;
  readonly channels: 1 | 3;
  readonly scale: '-1..1' | '0..1';
  readonly options: ExplainOptions;
  /** Ops the model must contain (read from its model.json: this checks the test covers them). */
  readonly ops: readonly string[];
  /** The final activation the engine strips. */
  readonly stripped: 'softmax' | 'sigmoid';
}

const MODELS: readonly RealModel[] = [
  { name: 'emotion', size: 64, channels: 1, scale: '-1..1', options: { composite: 'epsilonGammaBox', low: -1, high: 1 }, ops: ['_FusedConv2D', 'DepthwiseConv2dNative', 'MaxPool', 'AddV2', 'Relu', 'Mean', 'Softmax'], stripped: 'softmax' },
  { name: 'antispoof', size: 128, channels: 3, scale: '0..1', options: { composite: 'epsilonPlusFlat' }, ops: ['_FusedConv2D', 'MaxPool', 'Relu', 'Reshape', '_FusedMatMul', 'Sigmoid'], stripped: 'sigmoid' },
  { name: 'liveness', size: 32, channels: 3, scale: '0..1', options: { composite: 'epsilonPlusFlat' }, ops: ['_FusedConv2D', 'Mul', 'Add', 'MaxPool', 'Reshape', '_FusedMatMul', 'Softmax'], stripped: 'softmax' },
];

/** The ops of a model.json's graph. */
function opsOf(name: string): Set<string> {
  const json = JSON.parse(fs.readFileSync(humanModel(name), 'utf8')) as { modelTopology: { node: Array<{ op: string }> } };
  return new Set(json.modelTopology.node.map((n) => n.op));
}

/** Two of the faces (the machine is shared; the README example explains all four). */
const BOXES = FACE_BOXES.slice(0, 2);
const N = BOXES.length;

let tmp: string;
const models = new Map<string, tf.GraphModel>();
const faces = new Map<string, tf.Tensor4D>();
/** Relevance on cpu per model, for the other backends to equal. */
const cpuRelevance = new Map<string, Float32Array>();

beforeAll(async () => {
  await useBackend('cpu');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-lrp-graph-real-'));
  for (const m of MODELS) {
    models.set(m.name, await loadModel(humanModel(m.name), { format: 'graph-model' }));
    faces.set(m.name, await readFaces({ size: m.size, channels: m.channels, scale: m.scale, boxes: BOXES }));
  }
}, 60000);

afterAll(async () => {
  for (const m of models.values()) m.dispose();
  tf.dispose([...faces.values()]);
  fs.rmSync(tmp, { recursive: true, force: true });
  await useBackend('cpu');
});

/** The engine's own forward pass to the explained (pre-activation) output. */
function engineLogits(model: tf.GraphModel, x: tf.Tensor, options: ExplainOptions): { logits: tf.Tensor; explained: string; stripped: string | null } {
  const plan = planModel(model, options);
  const store = new DerivedTensors();
  try {
    const logits = withDerivedTensors(store, () => tf.tidy(() => tf.clone(runForward(plan, [x]).tensors.get(plan.graph.explained) as tf.Tensor)));
    return { logits, explained: plan.graph.explained, stripped: plan.graph.stripped?.activation ?? null };
  } finally {
    store.dispose();
  }
}

describe.each(MODELS.map((m) => [m.name, m] as const))('%s (API, cpu)', (name, spec) => {
  test('the model.json holds the ops this test is about, and loadModel gives a tf.GraphModel with its input shape', () => {
    const ops = opsOf(name);
    for (const op of spec.ops) expect(ops.has(op)).toBe(true);
    const model = models.get(name) as tf.GraphModel;
    expect(model).toBeInstanceOf(tf.GraphModel);
    expect(model.inputs[0].shape).toEqual([-1, spec.size, spec.size, spec.channels]);
  });

  test('engine forward = tfjs: model.execute at the explained node, and model.predict after the stripped activation (1e-5 · max)', async () => {
    const model = models.get(name) as tf.GraphModel;
    const x = faces.get(name) as tf.Tensor;
    const before = tf.memory().numTensors;
    const { logits, explained, stripped } = engineLogits(model, x, spec.options);
    expect(stripped).toBe(spec.stripped);
    const direct = model.execute(x, explained) as tf.Tensor;
    const predicted = model.predict(x) as tf.Tensor;
    const activated = tf.tidy(() => (stripped === 'sigmoid' ? tf.sigmoid(logits) : tf.softmax(logits)));
    expect(logits.shape).toEqual(direct.shape);
    expectClose(await values(logits), await values(direct), 1e-5, `${name}: engine logits vs model.execute('${explained}')`);
    expectClose(await values(activated), await values(predicted), 1e-5, `${name}: activation(engine logits) vs model.predict`);
    tf.dispose([logits, direct, predicted, activated]);
    expect(tf.memory().numTensors).toBe(before);
    }, 240000);

  test('explains the faces: relevance of the input shape, finite, not all zero; conservation numbers finite; no leak', async () => {
    const model = models.get(name) as tf.GraphModel;
    const x = faces.get(name) as tf.Tensor;
    const before = tf.memory().numTensors;
    const explainer = createExplainer(model, spec.options);
    const { relevance, conservation } = await explainer.explainWithConservation(x, 'max', { perLayer: true });
    const r = relevance as tf.Tensor;
    expect(r.shape).toEqual(x.shape);
    expect(r.dtype).toBe('float32');
    const data = await values(r);
    expect(data.every(Number.isFinite)).toBe(true);
    expect(maxAbs(data)).toBeGreaterThan(0);
    expect(conservation.classIdx).toHaveLength(N);
    for (const v of [...conservation.score, ...conservation.inputSum, ...conservation.outputSum]) expect(Number.isFinite(v)).toBe(true);
    // the relevance the pass starts with is the logit of the explained class
    conservation.outputSum.forEach((o, i) => expect(o).toBeCloseTo(conservation.score[i], 4));
    expect((conservation.layers ?? []).length).toBeGreaterThan(3);
    cpuRelevance.set(name, data);
    r.dispose();
    explainer.dispose();
    expect(tf.memory().numTensors).toBe(before);
    }, 240000);

  test('describe() rows read well: op names as classes, node names as layers, the first linear op gets the first-layer rule, the final activation stripped', () => {
    const model = models.get(name) as tf.GraphModel;
    const explainer = createExplainer(model, { composite: 'epsilonPlusFlat' });
    const rows = explainer.describe();
    explainer.dispose();
    const ops = opsOf(name);
    expect(rows.length).toBeGreaterThan(4);
    for (const row of rows) {
      for (const cell of [row.layer, row.className, row.group, row.rule, row.reason, ...row.notes]) {
        expect(typeof cell).toBe('string');
        expect(cell).not.toMatch(/undefined|\[object|NaN/);
      }
      expect(ops.has(row.className)).toBe(true);
      expect(row.layer).toMatch(/^StatefulPartitionedCall\//);
      expect(row.rule).not.toBe('');
    }
    const firstLinear = rows.find((r) => ['_FusedConv2D', 'Conv2D', '_FusedMatMul', 'MatMul'].includes(r.className) && !r.layer.includes(':'));
    expect(firstLinear?.rule).toMatch(/^flat/);
    const last = rows[rows.length - 1];
    expect(last.className).toBe(spec.stripped === 'softmax' ? 'Softmax' : 'Sigmoid');
    expect(last.rule).toBe('(stripped)');
  });

  test('error paths are typed and leak nothing: a wrong input shape, a class out of range, an output name that does not exist', async () => {
    const model = models.get(name) as tf.GraphModel;
    const explainer = createExplainer(model, spec.options);
    const wrong = tf.zeros([1, spec.size + 1, spec.size, spec.channels]);
    const x = faces.get(name) as tf.Tensor;
    await expectError(() => explainer.explain(wrong, 'max'), LrpArgumentError, /shape/);
    await expectError(() => explainer.explain(x, 99), LrpArgumentError, /99/);
    explainer.dispose();
    await expectError(() => createExplainer(model, { ...spec.options, output: 'no_such_node' }), LrpArgumentError, /no_such_node/);
    wrong.dispose();
  });
});

describe.each(MODELS.map((m) => [m.name, m] as const))('%s on wasm equals cpu', (name, spec) => {
  beforeAll(async () => {
    await useBackend('wasm');
  });
  // 2e-4: liveness (LRP-ε on a dense layer after a standalone BatchNorm) differs by 1.04e-4 · max|R|:
  // float32 sums in another order (wasm SIMD) divided by small ε-stabilized denominators
  test('relevance within 2e-4 · max|R| of cpu; no leak', () => expectCpuRelevance(name, spec, 2e-4, 'wasm'));
});

/** The faces of one model as PNG files (what the CLI reads), and the same pixels as the API reads them. */
async function writeFaces(spec: RealModel): Promise<{ dir: string; x: tf.Tensor4D }> {
  const dir = path.join(tmp, `faces-${spec.name}`);
  fs.mkdirSync(dir, { recursive: true });
  const pixels = await readFaces({ size: spec.size, channels: spec.channels, scale: '0..1', boxes: BOXES });
  const files: string[] = [];
  for (let i = 0; i < N; i++) {
    const file = path.join(dir, `face-${i}.png`);
    const one = tf.tidy(() => tf.squeeze(tf.slice(pixels, [i, 0, 0, 0], [1, -1, -1, -1]), [0]));
    await writeImage(file, one);
    one.dispose();
    files.push(file);
  }
  pixels.dispose();
  // the PNGs read back as the CLI reads them (same size: no resampling)
  const read = await Promise.all(files.map((f) => readImage(f, { height: spec.size, width: spec.size, channels: spec.channels, scale: spec.scale })));
  const x = tf.concat(read) as tf.Tensor4D;
  tf.dispose(read);
  return { dir, x };
}

const cli = (...argv: string[]): Promise<CliResult> => runCli(tmp, argv);

/** The relevance a CLI run saved, in item order. */
function savedRelevance(out: string, n: number): Float32Array {
  const parts = Array.from({ length: n }, (_, i) => readNpy(path.join(out, 'relevance', `face-${i}.npy`)).data as Float32Array);
  const all = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  return all;
}

/** The CLI's explain flags for a model. */
/**
 * On the current backend: a reused explainer's relevance (two calls: the second with the weight-derived
 * tensors it keeps) equals cpu's within `tolerance` · max|R|; nothing leaks.
 */
async function expectCpuRelevance(name: string, spec: RealModel, tolerance: number, backend: string): Promise<void> {
  const model = models.get(name) as tf.GraphModel;
  const x = faces.get(name) as tf.Tensor;
  const before = tf.memory().numTensors;
  const explainer = createExplainer(model, spec.options);
  for (const call of [1, 2]) {
    const r = explainer.explain(x, 'max') as tf.Tensor;
    expectClose(await values(r), cpuRelevance.get(name) as Float32Array, tolerance, `${name} ${backend} vs cpu, call ${call}`);
    r.dispose();
  }
  explainer.dispose();
  expect(tf.memory().numTensors).toBe(before);
}

function ruleFlags(spec: RealModel): string[] {
  const o = spec.options as { composite?: string; low?: number; high?: number };
  return ['--composite', o.composite as string, ...(o.low !== undefined ? ['--low', String(o.low), '--high', String(o.high)] : [])];
}

describe('the tfjs-lrp command on the real graph models', () => {
  beforeAll(async () => {
    // the API side of the comparisons runs on wasm (the CLI runs below are on wasm, and one on cpu)
    await useBackend('wasm');
  });

  test.each(MODELS.map((m) => [m.name, m] as const))('describe %s: exit 0, the op plan with the shared scope said once', async (name) => {
    const r = await cli('describe', '--model', humanModel(name), '--composite', 'epsilonPlusFlat');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\(every layer name below starts with 'StatefulPartitionedCall\/[a-z_0-9]+\/'\)\nlayer +class +rule/);
    expect(r.stdout).toMatch(/_FusedConv2D +flat/);
    expect(r.stdout).toMatch(/MaxPool +gradient/);
    expect(r.stdout).toMatch(/(Softmax|Sigmoid) +\(stripped\)/);
    const json = await cli('describe', '--model', humanModel(name), '--json');
    expect(json.code).toBe(0);
    const rows = JSON.parse(json.stdout) as Array<{ layer: string; className: string }>;
    expect(rows[0].layer).toMatch(/^StatefulPartitionedCall\//);
  }, 120000);

  test.each(MODELS.map((m) => [m.name, m] as const))('explain %s on wasm (--output by name, --save-relevance): exit 0, the API relevance of the same pixels (1e-5 · max|R|)', async (name, spec) => {
    const { dir, x } = await writeFaces(spec);
    const out = path.join(tmp, `out-${name}-wasm`);
    const r = await cli('explain', '--model', humanModel(name), '--input', dir, '--out', out, '--scale', spec.scale, ...ruleFlags(spec), '--output', 'Identity', '--save-relevance', '--no-heatmap', '--no-overlay', '--backend', 'wasm', '--workers', '1', '-q');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as { explained: number; items: Array<{ class: number; score: number }> };
    expect(summary.explained).toBe(N);
    const explainer = createExplainer(models.get(name) as tf.GraphModel, spec.options);
    const api = await explainer.explainWithConservation(x, 'max');
    expect(summary.items.map((i) => i.class)).toEqual(api.conservation.classIdx);
    expectClose(savedRelevance(out, N), await values(api.relevance as tf.Tensor), 1e-5, `${name}: CLI vs API`);
    tf.dispose([api.relevance as tf.Tensor, x]);
    explainer.dispose();
  }, 300000);

  test('explain emotion with heatmaps and overlays (a worker thread draws): the pictures are written; --output with a name that is no output: exit 2 listing the outputs', async () => {
    const spec = MODELS[0];
    const { dir, x } = await writeFaces(spec);
    x.dispose();
    const out = path.join(tmp, 'out-emotion-pictures');
    const r = await cli('explain', '--model', humanModel('emotion'), '--input', dir, '--out', out, '--scale', '-1..1', ...ruleFlags(spec), '--backend', 'cpu', '--workers', '1', '-q');
    expect(r.code).toBe(0);
    for (let i = 0; i < N; i++) {
      expect(fs.existsSync(path.join(out, 'heatmaps', `face-${i}.png`))).toBe(true);
      expect(fs.existsSync(path.join(out, 'overlays', `face-${i}.png`))).toBe(true);
    }
    const bad = await cli('explain', '--model', humanModel('emotion'), '--input', dir, '--out', path.join(tmp, 'out-bad'), '--output', 'Softmax', '-q');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/'--output': 'Softmax' is not an output of the model/);
    expect(bad.stderr).toMatch(/0 {2}Identity/);
    expect(fs.existsSync(path.join(tmp, 'out-bad', 'summary.json'))).toBe(false);
    // the emotion names read like the model's classes
    expect(EMOTIONS).toHaveLength(7);
  }, 300000);

  test('aggregate liveness on wasm (a batch-style run): exit 0, the per-class means of the explained classes', async () => {
    const spec = MODELS[2];
    const { dir, x } = await writeFaces(spec);
    x.dispose();
    const out = path.join(tmp, 'out-liveness-aggregate');
    const r = await cli('aggregate', '--model', humanModel('liveness'), '--input', dir, '--out', out, ...ruleFlags(spec), '--batch', '1', '--backend', 'wasm', '--workers', '1', '-q');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const classes = JSON.parse(fs.readFileSync(path.join(out, 'aggregate', 'classes.json'), 'utf8')) as unknown;
    const text = JSON.stringify(classes);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as { explained: number; items: Array<{ class: number }> };
    expect(summary.explained).toBe(N);
    for (const c of new Set(summary.items.map((i) => i.class))) expect(text).toContain(`"class":${c}`);
  }, 120000);

  test('concepts on liveness (a conv node by name): exit 0, a grid per channel; the top values = the API (conceptRelevance) and model.execute (activations) within 1e-5', async () => {
    const spec = MODELS[2];
    const { dir, x } = await writeFaces(spec);
    const layer = 'StatefulPartitionedCall/sequential_1/activation_2/Relu';
    const out = path.join(tmp, 'out-concepts');
    const r = await cli('concepts', '--model', humanModel('liveness'), '--input', dir, '--layer', layer, '--top', '2', ...ruleFlags(spec), '--backend', 'wasm', '--out', out, '-q');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const json = JSON.parse(fs.readFileSync(path.join(out, 'concepts.json'), 'utf8')) as { items: number; layers: Record<string, Array<{ channel: number; byRelevance: Array<{ value: number }>; byActivation: Array<{ value: number }> }>> };
    expect(json.items).toBe(N);
    const channels = json.layers[layer];
    const model = models.get('liveness') as tf.GraphModel;
    // independent of the engine's forward: the node's output as tfjs computes it (the fused conv with its Relu)
    const act = model.execute(x, layer) as tf.Tensor4D;
    const C = act.shape[3];
    expect(channels).toHaveLength(C);
    const maxT = tf.tidy(() => tf.max(tf.reshape(act, [N, -1, C]), 1));
    const classT = tf.tidy(() => tf.argMax(model.predict(x) as tf.Tensor, 1));
    const actMax = (await maxT.array()) as number[][];
    const classes = (await classT.array()) as number[];
    tf.dispose([maxT, classT]);
    const before = tf.memory().numTensors;
    const relT = conceptRelevance(model, x, classes, layer, spec.options as ExplainOptions);
    const rel = (await relT.array()) as number[][];
    relT.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const scale = Math.max(...rel.flat().map(Math.abs));
    for (const ch of channels) {
      const c = ch.channel;
      expect(ch.byRelevance).toHaveLength(N);
      expect(Math.abs(ch.byRelevance[0].value - Math.max(...rel.map((row) => row[c])))).toBeLessThanOrEqual(1e-5 * scale);
      expect(Math.abs(ch.byActivation[0].value - Math.max(...actMax.map((row) => row[c])))).toBeLessThanOrEqual(1e-5 * Math.max(1, ...actMax.flat()));
    }
    expect(fs.existsSync(path.join(out, 'index.md'))).toBe(true);
    const grids = fs.readFileSync(path.join(out, 'index.md'), 'utf8').match(/channel-\d+\.png/g) ?? [];
    expect(grids.length).toBeGreaterThan(0);
    for (const g of grids.slice(0, 3)) expect(fs.readdirSync(out, { recursive: true }).some((f) => String(f).endsWith(g))).toBe(true);
    tf.dispose([act, x]);
  }, 240000);

  test('explain emotion on cpu: relevance = wasm within 2e-4 · max|R|', async () => {
    const spec = MODELS[0];
    const out = path.join(tmp, 'out-emotion-cpu');
    const r = await cli('explain', '--model', humanModel('emotion'), '--input', path.join(tmp, 'faces-emotion'), '--out', out, '--scale', '-1..1', ...ruleFlags(spec), '--save-relevance', '--no-heatmap', '--no-overlay', '--backend', 'cpu', '--workers', '1', '-q');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expectClose(savedRelevance(out, N), savedRelevance(path.join(tmp, 'out-emotion-wasm'), N), 2e-4, 'emotion CLI cpu vs wasm');
  }, 300000);
});

// webgpu last: tensors do not move back from it in Node
(WEBGPU_IN_NODE ? describe : describe.skip)('WebGPU in Node (Dawn)', () => {
  beforeAll(async () => {
    // Mesa reads EGL_PLATFORM from the real environment (see test/support/webgpu-node.ts)
    (require('./support/webgpu-node') as typeof import('./support/webgpu-node')).prepareWebGPUEnv();
    await useBackend('webgpu');
  });

  test.each(MODELS.map((m) => [m.name, m] as const))('API: %s relevance = cpu within 1e-3 · max|R|; no leak', (name, spec) => expectCpuRelevance(name, spec, 1e-3, 'webgpu'), 120000);

  test('CLI: explain emotion --backend webgpu: relevance = cpu within 1e-3 · max|R|', async () => {
    const spec = MODELS[0];
    const out = path.join(tmp, 'out-emotion-webgpu');
    const r = await cli('explain', '--model', humanModel('emotion'), '--input', path.join(tmp, 'faces-emotion'), '--out', out, '--scale', '-1..1', ...ruleFlags(spec), '--save-relevance', '--no-heatmap', '--no-overlay', '--backend', 'webgpu', '-q');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expectClose(savedRelevance(out, N), savedRelevance(path.join(tmp, 'out-emotion-cpu'), N), 1e-3, 'emotion CLI webgpu vs cpu');
  }, 180000);
});
