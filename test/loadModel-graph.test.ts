/**
 * loadModel (tfjs-lrp/node) and graph models: `{ format: 'graph-model' | 'auto' }` loads a TF.js
 * graph model from disk with the same shard handling as a layers model (paths inside the folder,
 * every shard present and of the manifest's size), checks the graph before tfjs builds it, and
 * leaks nothing on failure; without `format` a graph model is refused with a hint naming the option.
 * The model: @vladmandic/human's emotion.json (a devDependency, MIT).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { LrpLoadError } from '../src';
import { loadModel } from '../src/node';
import { humanModel } from '../scripts/human-faces';
import { useBackend } from './helpers';

const DIGITS = path.join(__dirname, '..', 'fixtures', 'digits');
let tmp: string;

beforeAll(async () => {
  await useBackend('cpu');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-lrp-load-graph-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A graph node of a model.json. */
interface GraphNode {
  name?: string;
  op: string;
  input?: string[];
  attr?: object;
}

/** The parts of a graph model's model.json the tests change. */
interface GraphJson {
  modelTopology: { node: GraphNode[] };
  weightsManifest: Array<{ paths: string[] }>;
}

/** The node of `json` named `name` (or with op `op`). */
const nodeOf = (json: GraphJson, match: Partial<GraphNode>): GraphNode => json.modelTopology.node.find((n) => (match.name === undefined || n.name === match.name) && (match.op === undefined || n.op === match.op)) as GraphNode;

/** A copy of emotion.json + emotion.bin in a folder of its own, the JSON changed by `edit`. */
function copyEmotion(name: string, edit: (json: GraphJson) => void = () => undefined): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  const json = JSON.parse(fs.readFileSync(humanModel('emotion'), 'utf8')) as GraphJson;
  edit(json);
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
  fs.copyFileSync(path.join(path.dirname(humanModel('emotion')), 'emotion.bin'), path.join(dir, 'emotion.bin'));
  return dir;
}

/** Asserts loadModel(dir, options) fails with an LrpLoadError matching every pattern, leaking no tensor. */
async function expectLoadError(dir: string, options: Parameters<typeof loadModel>[1], ...patterns: RegExp[]): Promise<void> {
  const before = tf.memory().numTensors;
  let caught: unknown = null;
  try {
    (await loadModel(dir, options)).dispose();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(LrpLoadError);
  for (const p of patterns) expect((caught as Error).message).toMatch(p);
  expect(tf.memory().numTensors).toBe(before);
}

test("{ format: 'graph-model' } loads a tf.GraphModel that predicts as tf.loadGraphModel's own; dispose frees every tensor", async () => {
  const before = tf.memory().numTensors;
  const model = await loadModel(humanModel('emotion'), { format: 'graph-model' });
  expect(model).toBeInstanceOf(tf.GraphModel);
  expect(model.inputs.map((t) => t.shape)).toEqual([[-1, 64, 64, 1]]);
  // the reference: tfjs's own loader, fed the same files
  const json = JSON.parse(fs.readFileSync(humanModel('emotion'), 'utf8')) as tf.io.ModelJSON;
  const bin = fs.readFileSync(path.join(path.dirname(humanModel('emotion')), 'emotion.bin'));
  const reference = await tf.loadGraphModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest.flatMap((g) => g.weights), weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length), format: json.format }));
  const x = tf.randomUniform([2, 64, 64, 1], -1, 1, 'float32', 7);
  const a = model.predict(x) as tf.Tensor;
  const b = reference.predict(x) as tf.Tensor;
  expect(Array.from(await a.data())).toEqual(Array.from(await b.data()));
  tf.dispose([x, a, b]);
  reference.dispose();
  model.dispose();
  expect(tf.memory().numTensors).toBe(before);
});

test("{ format: 'auto' } loads either kind (the folder or its model.json); without format a graph model is refused with a hint naming the option", async () => {
  const graph = await loadModel(copyEmotion('auto'), { format: 'auto' });
  expect(graph).toBeInstanceOf(tf.GraphModel);
  graph.dispose();
  const layers = await loadModel(DIGITS, { format: 'auto' });
  expect(layers).toBeInstanceOf(tf.LayersModel);
  layers.dispose();
  await expectLoadError(humanModel('emotion'), undefined, /is a TF\.js graph model \(converter format 'graph-model'\), not a layers model/, /loadModel\(path, \{ format: 'graph-model' \}\)/, /\{ format: 'auto' \}/);
  await expectLoadError(DIGITS, { format: 'graph-model' }, /is a TF\.js layers model \(a Keras topology\), not a graph model/);
  await expectLoadError(DIGITS, { format: 'saved-model' as 'auto' }, /options\.format is "saved-model"; expected 'layers-model', 'graph-model' or 'auto'/);
});

test('shards as for layers models: a missing shard, a short shard, a path leaving the folder', async () => {
  const missing = copyEmotion('missing');
  fs.rmSync(path.join(missing, 'emotion.bin'));
  await expectLoadError(missing, { format: 'graph-model' }, /Weight file 'emotion\.bin' named in .*model\.json is missing/);
  const short = copyEmotion('short');
  fs.writeFileSync(path.join(short, 'emotion.bin'), fs.readFileSync(path.join(short, 'emotion.bin')).subarray(0, 1000));
  await expectLoadError(short, { format: 'graph-model' }, /emotion\.bin \(1000 bytes\) hold 1000 bytes, but .* describes 820516 bytes/, /A shard is truncated/);
  await expectLoadError(copyEmotion('escape', (j) => (j.weightsManifest[0].paths = ['../emotion.bin'])), { format: 'graph-model' }, /weight path '\.\.\/emotion\.bin' escapes the model's folder/);
});

test('the graph is checked before tfjs builds it: a missing input node, a duplicate name, no Placeholder, a constant without weight, a malformed node', async () => {
  const conv = 'StatefulPartitionedCall/model_1/block1_conv1_act/Relu';
  await expectLoadError(
    copyEmotion('dangling', (j) => ((nodeOf(j, { name: conv }).input as string[])[0] = 'no_such_node:0')),
    { format: 'graph-model' },
    new RegExp(`graph node '${conv.replace(/\//g, '\\/')}' \\(_FusedConv2D\\) takes its input from 'no_such_node:0', which is not a node of the graph`),
  );
  await expectLoadError(copyEmotion('duplicate', (j) => j.modelTopology.node.push({ name: conv, op: 'Relu', input: ['input_1'] })), { format: 'graph-model' }, /two graph nodes are named '.*block1_conv1_act\/Relu'/);
  await expectLoadError(copyEmotion('no-input', (j) => (nodeOf(j, { op: 'Placeholder' }).op = 'Const')), { format: 'graph-model' }, /the graph has no Placeholder node/);
  await expectLoadError(copyEmotion('no-weight', (j) => j.modelTopology.node.push({ name: 'orphan_const', op: 'Const', attr: {} })), { format: 'graph-model' }, /constant 'orphan_const' has no weight in 'weightsManifest'/);
  await expectLoadError(copyEmotion('malformed', (j) => (j.modelTopology.node[3] = { op: 'Relu' })), { format: 'graph-model' }, /graph node 3 is \{"op":"Relu"\}; expected \{ name, op, input\?, attr\? \}/);
  await expectLoadError(copyEmotion('no-topology', (j) => delete (j as Partial<GraphJson>).modelTopology), { format: 'graph-model' }, /has format 'graph-model' but its 'modelTopology' is undefined/);
});

test('a graph tfjs cannot build (no versions): an LrpLoadError naming the file, and the weights decoded before the failure are released', async () => {
  const dir = copyEmotion('no-versions', (j) => delete (j.modelTopology as { versions?: unknown }).versions);
  await expectLoadError(dir, { format: 'graph-model' }, /Could not build the graph model from .*model\.json: .*producer/, /Re-export the model/);
});
