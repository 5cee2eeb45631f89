/**
 * Issue #17, hostile model folders: `loadModel` checks the topology before tfjs builds it (a
 * missing inbound layer, a node index no call creates or a cycle made tfjs's loader loop forever),
 * turns malformed manifest entries, graph models and oversized shards into LrpLoadErrors naming
 * the file and the culprit, and still loads valid shared-layer and nested models.
 *
 * The broken topologies are loaded in a child process with a time limit: before the fix tfjs spun
 * synchronously, which no jest timeout can interrupt.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { LrpLoadError } from '../src';
import { loadModel } from '../src/node';
import { MAX_SHARD_BYTES } from '../src/node/loadModel';
import { randomizeWeights, useBackend } from './helpers';

const ROOT = path.join(__dirname, '..');

beforeAll(async () => {
  await useBackend('cpu');
});

const temps: string[] = [];
afterAll(() => {
  for (const d of temps) fs.rmSync(d, { recursive: true, force: true });
});

/** Saves a model (model.json + one shard) into a new temp folder. */
async function save(model: tf.LayersModel): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-lrp-rel-'));
  temps.push(dir);
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      fs.writeFileSync(path.join(dir, 'weights.bin'), new Uint8Array(artifacts.weightData as ArrayBuffer));
      const json = { format: 'layers-model', generatedBy: 'test', convertedBy: null, modelTopology: artifacts.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }] };
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return dir;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

/** A copy of `dir` whose model.json is changed by `edit`. */
function variant(dir: string, edit: (json: Json) => void): string {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-lrp-rel-'));
  temps.push(out);
  for (const f of fs.readdirSync(dir)) fs.copyFileSync(path.join(dir, f), path.join(out, f));
  const json = JSON.parse(fs.readFileSync(path.join(out, 'model.json'), 'utf8'));
  edit(json);
  fs.writeFileSync(path.join(out, 'model.json'), JSON.stringify(json));
  return out;
}

/** in → d1 → d2, functional. */
function functional(): tf.LayersModel {
  const input = tf.input({ shape: [3], name: 'in' });
  const h = tf.layers.dense({ units: 4, activation: 'relu', name: 'd1' }).apply(input) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 2, name: 'd2' }).apply(h) as tf.SymbolicTensor;
  const m = tf.model({ inputs: input, outputs: out });
  randomizeWeights(m, 5);
  return m;
}

/** in → inner(Functional: i → dense 'inner_d') → d_out. */
function nested(): tf.LayersModel {
  const i = tf.input({ shape: [3], name: 'inner_in' });
  const inner = tf.model({ inputs: i, outputs: tf.layers.dense({ units: 4, name: 'inner_d' }).apply(i) as tf.SymbolicTensor, name: 'inner' });
  const x = tf.input({ shape: [3], name: 'outer_in' });
  const y = inner.apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 2, name: 'd_out' }).apply(y) as tf.SymbolicTensor;
  const m = tf.model({ inputs: x, outputs: out, name: 'outer' });
  randomizeWeights(m, 6);
  return m;
}

const layer = (json: Json, name: string): Json => json.modelTopology.config.layers.find((l: Json) => l.name === name);

interface Outcome {
  readonly name: string | null;
  readonly message: string;
  readonly ms: number;
  readonly leaked: number;
}

/** Loads each folder in one child process (killed after `limitMs`); what each load threw. */
function loadInChild(dirs: readonly string[], limitMs = 60000): Outcome[] {
  const script = `
    const tf = require('@tensorflow/tfjs');
    const { loadModel } = require('./src/node/loadModel');
    (async () => {
      await tf.setBackend('cpu');
      for (const dir of JSON.parse(process.argv[1])) {
        const before = tf.memory().numTensors;
        const t0 = Date.now();
        let out;
        try {
          const m = await loadModel(dir);
          m.dispose();
          out = { name: null, message: 'loaded' };
        } catch (e) {
          out = { name: e.name, message: e.message };
        }
        console.log('OUTCOME ' + JSON.stringify({ ...out, ms: Date.now() - t0, leaked: tf.memory().numTensors - before }));
      }
    })();`;
  const r = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script, JSON.stringify(dirs)], { cwd: ROOT, timeout: limitMs, encoding: 'utf8', env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' } });
  const outcomes = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('OUTCOME '))
    .map((l) => JSON.parse(l.slice(8)) as Outcome);
  if (outcomes.length !== dirs.length) {
    throw new Error(`the child loaded ${outcomes.length} of ${dirs.length} models (${r.signal !== null ? `killed by ${r.signal} after ${limitMs} ms: a load hung` : `exit ${r.status}`}): ${r.stderr.slice(-2000)}`);
  }
  return outcomes;
}

describe('a broken topology is an LrpLoadError naming the layer and the reference, never a hang', () => {
  const cases: Array<[string, 'functional' | 'nested', (j: Json) => void, RegExp]> = [
    ['an inbound layer that does not exist', 'functional', (j) => (layer(j, 'd1').inbound_nodes = [[['ghost', 0, 0, {}]]]), /layer 'd1' takes its input from layer 'ghost', which is not in the model/],
    ['a cycle of two layers', 'functional', (j) => {
      layer(j, 'd1').inbound_nodes = [[['d2', 0, 0, {}]]];
      layer(j, 'd2').inbound_nodes = [[['d1', 0, 0, {}]]];
    }, /the layers '(d1|d2)' → '(d1|d2)' → '(d1|d2)' form a cycle/],
    ['a layer that takes its own output', 'functional', (j) => (layer(j, 'd2').inbound_nodes = [[['d2', 0, 0, {}]]]), /'d2' → 'd2' form a cycle/],
    ['a node index no call creates', 'functional', (j) => (layer(j, 'd2').inbound_nodes = [[['d1', 3, 0, {}]]]), /layer 'd2' takes node 3 of layer 'd1', which has only 1 node/],
    ['an Object.prototype name as inbound layer', 'functional', (j) => (layer(j, 'd1').inbound_nodes = [[['constructor', 0, 0, {}]]]), /takes its input from layer 'constructor', which is not in the model/],
    ['an output layer that does not exist', 'functional', (j) => (j.modelTopology.config.output_layers = [['ghost', 0, 0]]), /output_layers\[0\] names layer 'ghost', which is not in the model/],
    ['an output node that does not exist', 'functional', (j) => (j.modelTopology.config.output_layers = [['d2', 4, 0]]), /output_layers\[0\] names node 4 of layer 'd2', which has 1 node/],
    ['an input layer that does not exist', 'functional', (j) => (j.modelTopology.config.input_layers = [['nope', 0, 0]]), /input_layers\[0\] names layer 'nope'/],
    ['two layers with one name', 'functional', (j) => (layer(j, 'd2').name = 'd1'), /two layers are named 'd1'/],
    ['a malformed reference', 'functional', (j) => (layer(j, 'd2').inbound_nodes = [[['d1', 'zero', 0, {}]]]), /inbound_nodes\[0\]\[0\] of layer 'd2' is \["d1","zero",0,\{\}\]/],
    ['Keras 3 style calls', 'functional', (j) => (layer(j, 'd2').inbound_nodes = [{ args: [], kwargs: {} }]), /layer 'd2' has inbound_nodes\[0\] = .*Keras 3/],
    ['a missing inbound layer inside a nested model', 'nested', (j) => {
      const inner = layer(j, 'inner');
      inner.config.layers.find((l: Json) => l.name === 'inner_d').inbound_nodes = [[['ghost', 0, 0, {}]]];
    }, /nested model 'inner': layer 'inner_d' takes its input from layer 'ghost'/],
    ['a cycle inside a nested model', 'nested', (j) => {
      const inner = layer(j, 'inner');
      inner.config.layers.find((l: Json) => l.name === 'inner_d').inbound_nodes = [[['inner_d', 0, 0, {}]]];
    }, /nested model 'inner': the layers 'inner_d' → 'inner_d' form a cycle/],
  ];

  let childPassed = false;
  test(
    'every case, loaded in a child process killed after 60 s',
    async () => {
      const bases = { functional: await save(functional()), nested: await save(nested()) };
      const dirs = cases.map(([, base, edit]) => variant(bases[base], edit));
      const outcomes = loadInChild(dirs);
      outcomes.forEach((o, i) => {
        const [label, , , pattern] = cases[i];
        expect({ label, name: o.name }).toEqual({ label, name: 'LrpLoadError' });
        expect(o.message).toMatch(pattern);
        expect(o.message).toMatch(/model\.json/);
        expect(o.ms).toBeLessThan(5000);
        expect(o.leaked).toBe(0);
      });
      childPassed = true;
    },
    90000,
  );

  test('the same checks in process (after the fix nothing can spin)', async () => {
    // (only when the child saw no hang: a synchronous spin here would stop the whole suite)
    if (!childPassed) throw new Error('not run: the child-process test above failed');
    const dir = variant(await save(functional()), cases[0][2]);
    const before = tf.memory().numTensors;
    await expect(loadModel(dir)).rejects.toThrow(LrpLoadError);
    await expect(loadModel(dir)).rejects.toThrow(cases[0][3]);
    expect(tf.memory().numTensors).toBe(before);
  }, 10000);
});

describe('valid topologies the checks must not refuse', () => {
  const x = tf.tensor2d([[0.1, -0.4, 0.7], [1, 0.5, -0.2]]);
  afterAll(() => x.dispose());
  const same = async (model: tf.LayersModel) => {
    const loaded = await loadModel(await save(model));
    const a = model.predict(x) as tf.Tensor;
    const b = loaded.predict(x) as tf.Tensor;
    expect(Array.from(await b.data())).toEqual(Array.from(await a.data()));
    tf.dispose([a, b]);
    loaded.dispose();
    model.dispose();
  };
  test('a layer shared at two depths: A(B(A(x)))', async () => {
    const input = tf.input({ shape: [3] });
    const a = tf.layers.dense({ units: 3, name: 'a' });
    const b = tf.layers.dense({ units: 3, name: 'b' });
    const y = a.apply(b.apply(a.apply(input))) as tf.SymbolicTensor;
    const m = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 2 }).apply(y) as tf.SymbolicTensor });
    randomizeWeights(m, 7);
    await same(m);
  }, 20000);
  test('a nested functional model', async () => {
    await same(nested());
  }, 20000);
  test('a nested Sequential inside a functional model, used twice', async () => {
    const inner = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 3, name: 'inner_dense' })], name: 'inner_seq' });
    const input = tf.input({ shape: [3] });
    const y = inner.apply(inner.apply(input)) as tf.SymbolicTensor;
    const m = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 2 }).apply(y) as tf.SymbolicTensor });
    randomizeWeights(m, 8);
    await same(m);
  }, 20000);
});

describe('malformed manifests, graph models, oversized shards: LrpLoadError naming the culprit', () => {
  let base: string;
  beforeAll(async () => {
    base = await save(functional());
  });
  const expectLoadError = async (dir: string, ...patterns: RegExp[]) => {
    const before = tf.memory().numTensors;
    let caught: unknown = null;
    try {
      (await loadModel(dir)).dispose();
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(LrpLoadError);
    for (const p of patterns) expect((caught as Error).message).toMatch(p);
    expect(tf.memory().numTensors).toBe(before);
    return caught as LrpLoadError;
  };

  test('a weight entry null', async () => {
    await expectLoadError(variant(base, (j) => (j.weightsManifest[0].weights[1] = null)), /weightsManifest\[0\]\.weights\[1\] is null/, /expected a weight entry \{ name, shape, dtype \}/);
  });
  test('a weight shape "abc" and a negative dimension', async () => {
    await expectLoadError(variant(base, (j) => (j.weightsManifest[0].weights[0].shape = 'abc')), /weights\[0\] \('d1\/kernel'\) has shape "abc"/, /non-negative integers/);
    await expectLoadError(variant(base, (j) => (j.weightsManifest[0].weights[0].shape = [3, -4])), /has shape \[3,-4\]/);
  });
  test.each(['__proto__', 'constructor', 'float64'])("a weight dtype '%s'", async (dtype) => {
    await expectLoadError(variant(base, (j) => (j.weightsManifest[0].weights[0].dtype = dtype)), new RegExp(`\\('d1/kernel'\\) has dtype "${dtype}", which tfjs-lrp cannot size`));
  });
  test('a weight without a name, a quantization of the wrong kind', async () => {
    await expectLoadError(variant(base, (j) => delete j.weightsManifest[0].weights[0].name), /weights\[0\] has name undefined/);
    await expectLoadError(variant(base, (j) => (j.weightsManifest[0].weights[0].quantization = { dtype: 'int32' })), /quantization dtype "int32"; expected uint8, uint16 or float16/);
  });
  test("a graph model (format graph-model; a GraphDef topology; no class_name) loaded without { format: 'graph-model' } gets the hint naming the option", async () => {
    const graph = { format: 'graph-model', generatedBy: '2.x', convertedBy: 'TensorFlow.js Converter v4', modelTopology: { node: [{ name: 'x', op: 'Placeholder' }], library: {}, versions: {} }, weightsManifest: [] };
    const dir = variant(base, (j) => {
      for (const k of Object.keys(j)) delete j[k];
      Object.assign(j, graph);
    });
    await expectLoadError(dir, /is a TF\.js graph model \(converter format 'graph-model'\), not a layers model/, /loadModel\(path, \{ format: 'graph-model' \}\)/);
    // a node list without a format is a graph too
    await expectLoadError(
      variant(base, (j) => {
        delete j.format;
        j.modelTopology = graph.modelTopology;
      }),
      /is a TF\.js graph model/,
      /format: 'graph-model'/,
    );
    // neither a Keras config nor a node list
    await expectLoadError(variant(base, (j) => (j.modelTopology = { versions: {} })), /without a Keras 'class_name' or a graph 'node' list/, /neither a TF\.js layers model .* nor a graph model/);
    await expectLoadError(variant(base, (j) => (j.modelTopology = { class_name: 'Sequential' })), /the model 'Sequential' has no 'config'/);
  });
  test('a shard larger than one buffer: LrpLoadError naming the file and the fix, before reading it (sparse file)', async () => {
    const dir = variant(base, (j) => (j.weightsManifest = [{ paths: ['huge.bin'], weights: [{ name: 'd1/kernel', shape: [MAX_SHARD_BYTES + 1], dtype: 'bool' }] }]));
    const huge = path.join(dir, 'huge.bin');
    fs.writeFileSync(huge, '');
    fs.truncateSync(huge, MAX_SHARD_BYTES + 1);
    const st = fs.statSync(huge);
    if (st.blocks * 512 > 1 << 20) {
      fs.rmSync(huge);
      console.warn(`!! SKIPPED: ${os.tmpdir()} does not keep sparse files sparse (${st.blocks * 512} bytes allocated)`);
      return;
    }
    const t0 = Date.now();
    const e = await expectLoadError(dir, /huge\.bin is 4294967297 bytes|huge\.bin is \d+ bytes/, /more than Node\.js can hold in one buffer/, /--weight_shard_size_bytes/);
    expect(e.file).toBe(huge);
    expect(Date.now() - t0).toBeLessThan(2000);
    fs.rmSync(huge);
  });
});
