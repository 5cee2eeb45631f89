/**
 * loadModel (tfjs-lrp/node): real third-party models from ../shared/zoo, old and new converter
 * formats, shards and quantized weights, and every loader error with its message. The zoo models
 * are also explained on webgpu in Node where it can run (last in the file: tensors do not move
 * back from webgpu, which cannot read synchronously there).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { COMPOSITE_NAMES, createExplainer, LrpLoadError } from '../src';
import { loadModel } from '../src/node';
import { expectClose, randomizeWeights, uniform, useBackend, WEBGPU_IN_NODE } from './helpers';

const ZOO = path.join(__dirname, '..', '..', 'shared', 'zoo');
/** The zoo lies beside the checkout in CI; a user's clone has none: skip loudly there, fail under CI. */
const HAS_ZOO = fs.existsSync(ZOO);
if (!HAS_ZOO && !process.env.CI) console.warn(`\n!! ZOO TESTS SKIPPED: ../shared/zoo is missing (${ZOO}); CI lays it beside the checkout (under CI they fail instead).\n`);
const zooSuite = HAS_ZOO || process.env.CI ? describe : describe.skip;
const ZOO_MODELS = ['tfjs_examples_abalone', 'mnist_cnn_aslamplr', 'ml5_doodlenet', 'tensorspace_lenet', 'ml5_crepe', 'ml5_cvae_quickdraw'];

beforeAll(async () => {
  await useBackend('cpu');
});

zooSuite('real models from ../shared/zoo load and explain with every composite (wasm)', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });
  afterAll(async () => {
    await useBackend('cpu');
  });
  if (!HAS_ZOO && process.env.CI) throw new Error(`../shared/zoo is missing (${ZOO}); CI lays it beside the checkout`);
  for (const name of ZOO_MODELS) {
    test(name, async () => {
      const model = await loadModel(path.join(ZOO, name));
      const inputs = model.inputs.map((t, i) => uniform([2, ...(t.shape.slice(1) as number[])], 100 + i, 0, 1));
      const x = inputs.length === 1 ? inputs[0] : inputs;
      const before = tf.memory().numTensors;
      for (const composite of COMPOSITE_NAMES) {
        const explainer = createExplainer(model, { composite: composite as 'epsilonPlus', low: 0, high: 1, output: model.outputs.length - 1 });
        const { relevance, conservation } = await explainer.explainWithConservation(x, 'max', { perLayer: true });
        const list = Array.isArray(relevance) ? relevance : [relevance];
        list.forEach((r, i) => {
          expect(r.shape).toEqual(inputs[i].shape);
          expect(r.dtype).toBe('float32');
          const data = r.dataSync();
          expect(data.every(Number.isFinite)).toBe(true);
          expect(data.some((v) => v !== 0)).toBe(true);
        });
        expect(conservation.score.every(Number.isFinite)).toBe(true);
        expect(conservation.inputSum.every(Number.isFinite)).toBe(true);
        expect((conservation.layers ?? []).length).toBeGreaterThan(0);
        tf.dispose(list);
        explainer.dispose();
      }
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose(inputs);
      model.dispose();
    });
  }
});

/** Saves a model into a temp folder with the given weight layout; returns the folder. */
async function saveTo(model: tf.LayersModel, opts: { shards?: number; quantize?: 'uint8' | 'uint16' | 'float16'; oldFormat?: boolean } = {}): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-lrp-'));
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    let specs = artifacts.weightSpecs ?? [];
    let data = new Uint8Array(artifacts.weightData as ArrayBuffer);
    if (opts.quantize !== undefined) {
      const tensors = tf.io.decodeWeights(artifacts.weightData as ArrayBuffer, specs);
      const parts: Uint8Array[] = [];
      specs = specs.map((s) => {
        const values = tensors[s.name].dataSync() as Float32Array;
        if (opts.quantize === 'float16') {
          const half = new Uint16Array(values.length);
          values.forEach((v, i) => (half[i] = toHalf(v)));
          parts.push(new Uint8Array(half.buffer));
          return { ...s, quantization: { dtype: 'float16' as const } };
        }
        const levels = opts.quantize === 'uint8' ? 255 : 65535;
        const min = Math.min(...values);
        const max = Math.max(...values);
        const scale = max > min ? (max - min) / levels : 1;
        const q = opts.quantize === 'uint8' ? new Uint8Array(values.length) : new Uint16Array(values.length);
        values.forEach((v, i) => (q[i] = Math.round((v - min) / scale)));
        parts.push(new Uint8Array(q.buffer));
        return { ...s, quantization: { dtype: opts.quantize as 'uint8' | 'uint16', scale, min } };
      });
      tf.dispose(Object.values(tensors));
      const total = parts.reduce((n, p) => n + p.length, 0);
      data = new Uint8Array(total);
      let o = 0;
      for (const p of parts) {
        data.set(p, o);
        o += p.length;
      }
    }
    const shards = opts.shards ?? 1;
    const size = Math.ceil(data.length / shards);
    const paths: string[] = [];
    for (let i = 0; i < shards; i++) {
      const file = `group1-shard${i + 1}of${shards}.bin`;
      fs.writeFileSync(path.join(dir, file), data.subarray(i * size, Math.min(data.length, (i + 1) * size)));
      paths.push(file);
    }
    const topology = opts.oldFormat ? { keras_version: '2.1.5', backend: 'tensorflow', model_config: artifacts.modelTopology } : artifacts.modelTopology;
    const json: Record<string, unknown> = { modelTopology: topology, weightsManifest: [{ paths, weights: specs }] };
    if (!opts.oldFormat) Object.assign(json, { format: 'layers-model', generatedBy: 'test', convertedBy: null });
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  return dir;
}

/** float32 → IEEE half (round to nearest). */
function toHalf(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  let e = ((x >>> 23) & 0xff) - 127 + 15;
  let m = x & 0x7fffff;
  if (e <= 0) return sign;
  if (e >= 31) return sign | 0x7c00;
  m = m + 0x1000;
  if (m & 0x800000) {
    m = 0;
    e += 1;
  }
  return sign | (e << 10) | (m >>> 13);
}

function smallModel(): tf.LayersModel {
  const m = tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [6, 6, 1], filters: 3, kernelSize: 3, activation: 'relu' }), tf.layers.flatten(), tf.layers.dense({ units: 4, activation: 'softmax' })] });
  randomizeWeights(m, 9);
  return m;
}

describe('formats', () => {
  const x = uniform([2, 6, 6, 1], 3, 0, 1);
  afterAll(() => x.dispose());
  test.each([
    ['several shards', { shards: 3 }, 1e-6],
    ['old converter: no format field, Keras model_config wrapper', { oldFormat: true }, 1e-6],
    ['uint8-quantized weights', { quantize: 'uint8' as const }, 0.05],
    ['uint16-quantized weights', { quantize: 'uint16' as const }, 1e-3],
    ['float16 weights', { quantize: 'float16' as const }, 5e-3],
  ])('%s', async (_label, opts, tol) => {
    const model = smallModel();
    const dir = await saveTo(model, opts);
    const loaded = await loadModel(dir);
    const a = (model.predict(x) as tf.Tensor).dataSync();
    const b = (loaded.predict(x) as tf.Tensor).dataSync();
    a.forEach((v, i) => expect(Math.abs(v - b[i])).toBeLessThanOrEqual(tol));
    const viaJson = await loadModel(path.join(dir, 'model.json'));
    expect(viaJson.layers.length).toBe(loaded.layers.length);
    fs.rmSync(dir, { recursive: true });
  });

  test("Keras class names 'Functional' and 'Model'", async () => {
    for (const cls of ['Functional', 'Model']) {
      const input = tf.input({ shape: [3] });
      const out = tf.layers.dense({ units: 2 }).apply(input) as tf.SymbolicTensor;
      const model = tf.model({ inputs: input, outputs: out });
      const dir = await saveTo(model);
      const file = path.join(dir, 'model.json');
      const json = JSON.parse(fs.readFileSync(file, 'utf8'));
      json.modelTopology.class_name = cls;
      fs.writeFileSync(file, JSON.stringify(json));
      const loaded = await loadModel(dir);
      expect(loaded.layers.length).toBe(2);
      fs.rmSync(dir, { recursive: true });
    }
  });
});

describe('loader errors', () => {
  let dir: string;
  const file = () => path.join(dir, 'model.json');
  const edit = (fn: (json: { weightsManifest: Array<{ paths: string[] }> }) => void) => {
    const json = JSON.parse(fs.readFileSync(file(), 'utf8'));
    fn(json);
    fs.writeFileSync(file(), JSON.stringify(json));
  };
  beforeEach(async () => {
    dir = await saveTo(smallModel(), { shards: 2 });
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const expectLoadError = async (pattern: RegExp) => {
    const before = tf.memory().numTensors;
    await expect(loadModel(dir)).rejects.toThrow(LrpLoadError);
    await expect(loadModel(dir)).rejects.toThrow(pattern);
    expect(tf.memory().numTensors).toBe(before);
  };

  test('a weight path with ../ that escapes the folder', async () => {
    fs.writeFileSync(path.join(dir, '..', 'outside.bin'), 'x');
    edit((j) => (j.weightsManifest[0].paths[0] = '../outside.bin'));
    await expectLoadError(/'\.\.\/outside\.bin' escapes the model's folder/);
    fs.rmSync(path.join(dir, '..', 'outside.bin'));
  });
  test('an absolute weight path or a URL', async () => {
    edit((j) => (j.weightsManifest[0].paths[0] = '/etc/passwd'));
    await expectLoadError(/'\/etc\/passwd' is absolute or a URL/);
    edit((j) => (j.weightsManifest[0].paths[0] = 'https://example.invalid/w.bin'));
    await expectLoadError(/is absolute or a URL/);
  });
  test('a link that points outside the folder', async () => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-lrp-outside-'));
    const shard = path.join(dir, 'group1-shard1of2.bin');
    fs.renameSync(shard, path.join(outside, 'real.bin'));
    fs.symlinkSync(path.join(outside, 'real.bin'), shard);
    await expectLoadError(/is a link to .*outside the model's folder/);
    fs.rmSync(outside, { recursive: true });
  });
  test('a missing shard names the file', async () => {
    fs.rmSync(path.join(dir, 'group1-shard2of2.bin'));
    await expectLoadError(/'group1-shard2of2\.bin' named in .*model\.json is missing/);
  });
  test('a short shard names the files, the bytes and the fix', async () => {
    const shard = path.join(dir, 'group1-shard2of2.bin');
    fs.writeFileSync(shard, fs.readFileSync(shard).subarray(0, 10));
    await expectLoadError(/group1-shard2of2\.bin \(10 bytes\).*A shard is truncated/);
  });
  test('malformed JSON', async () => {
    fs.writeFileSync(file(), '{"modelTopology": ');
    await expectLoadError(/model\.json is not valid JSON/);
  });
  test('a file that is not a layers model', async () => {
    fs.writeFileSync(file(), JSON.stringify({ format: 'graph-model' }));
    await expectLoadError(/has format 'graph-model'.*graph model/);
    fs.writeFileSync(file(), JSON.stringify({ weightsManifest: [] }));
    await expectLoadError(/has no 'modelTopology'.*graph model/);
  });
  test('an unknown layer class', async () => {
    const json = JSON.parse(fs.readFileSync(file(), 'utf8'));
    json.modelTopology.config.layers[1].class_name = 'MyFancyLayer';
    fs.writeFileSync(file(), JSON.stringify(json));
    await expectLoadError(/layer class 'MyFancyLayer'.*tf\.serialization\.registerClass.*registerLayerRule\('MyFancyLayer'/s);
  });
  test('a manifest group without paths', async () => {
    edit((j) => delete (j.weightsManifest[0] as { paths?: string[] }).paths);
    await expectLoadError(/needs 'paths' and 'weights' lists/);
  });
  test("a file name that merely starts with '..' is inside the folder", async () => {
    fs.renameSync(path.join(dir, 'group1-shard1of2.bin'), path.join(dir, '..w.bin'));
    edit((j) => (j.weightsManifest[0].paths[0] = '..w.bin'));
    const model = await loadModel(dir);
    expect(model.layers.length).toBeGreaterThan(0);
  });
  test('a path that does not exist', async () => {
    await expect(loadModel(path.join(dir, 'nope'))).rejects.toThrow(/does not exist/);
  });
});

if (WEBGPU_IN_NODE) {
  zooSuite('real models from ../shared/zoo on webgpu: every composite agrees with cpu', () => {
    /** A zoo model and its inputs (made on cpu), with cpu's relevance per composite. */
    interface Prepared {
      readonly model: tf.LayersModel;
      readonly inputs: tf.Tensor[];
      readonly cpu: Map<string, Float32Array[]>;
    }
    const prepared = new Map<string, Prepared>();
    /**
     * Composites per model: all of them, except on ml5_crepe (six 1024-sample conv layers of up to
     * 1024 filters: ~14 s per composite on Mesa's software GPU), where two composites that between
     * them use every rule family (epsilon, gamma, zBox; flat, alphaBeta) keep the file within its
     * time budget.
     */
    const compositesOf = (name: string): readonly string[] => (name === 'ml5_crepe' ? ['epsilonGammaBox', 'epsilonAlpha2Beta1Flat'] : COMPOSITE_NAMES);
    const optionsOf = (model: tf.LayersModel, composite: string) => ({ composite: composite as 'epsilonPlus', low: 0, high: 1, output: model.outputs.length - 1 });
    const inputOf = (xs: tf.Tensor[]): tf.Tensor | tf.Tensor[] => (xs.length === 1 ? xs[0] : xs);

    beforeAll(async () => {
      await useBackend('cpu'); // every cpu reference first: tensors do not move back from webgpu
      for (const name of ZOO_MODELS) {
        const model = await loadModel(path.join(ZOO, name));
        const inputs = model.inputs.map((t, i) => uniform([2, ...(t.shape.slice(1) as number[])], 100 + i, 0, 1));
        const cpu = new Map<string, Float32Array[]>();
        for (const composite of compositesOf(name)) {
          const explainer = createExplainer(model, optionsOf(model, composite));
          const r = explainer.explain(inputOf(inputs), 'max');
          const list = Array.isArray(r) ? r : [r];
          cpu.set(composite, await Promise.all(list.map(async (t) => Float32Array.from(await t.data()))));
          tf.dispose(list);
          explainer.dispose();
        }
        prepared.set(name, { model, inputs, cpu });
      }
      await useBackend('webgpu');
    });
    afterAll(() => {
      for (const p of prepared.values()) {
        tf.dispose(p.inputs);
        p.model.dispose();
      }
    });

    test.each(ZOO_MODELS)('%s: |R − R_cpu| ≤ 1e-3 max|R_cpu|, finite, no leak', async (name) => {
      const { model, inputs, cpu } = prepared.get(name) as Prepared;
      let before = -1; // counted after the first composite, which creates the first-run constants
      for (const composite of compositesOf(name)) {
        const explainer = createExplainer(model, optionsOf(model, composite));
        const { relevance, conservation } = await explainer.explainWithConservation(inputOf(inputs), 'max');
        const list = Array.isArray(relevance) ? relevance : [relevance];
        const expected = cpu.get(composite) as Float32Array[];
        for (const [i, r] of list.entries()) {
          expect(r.shape).toEqual(inputs[i].shape);
          expectClose(await r.data(), expected[i], 1e-3, `${name} / ${composite} / input ${i}`); // also: every value finite
        }
        expect(conservation.score.every(Number.isFinite)).toBe(true);
        tf.dispose(list);
        explainer.dispose();
        if (before < 0) before = tf.memory().numTensors;
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  });
}
