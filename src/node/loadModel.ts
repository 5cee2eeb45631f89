/**
 * Node only: load a TF.js layers model or graph model (model.json + weight files) from disk,
 * without @tensorflow/tfjs-node (its file handler is used when it is installed). Weight paths are
 * checked before anything is read: no path may leave the model's folder, every shard must exist
 * and hold exactly the bytes its manifest promises.
 */
import { constants as bufferConstants } from 'buffer';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { LrpLoadError } from '../errors.js';

interface WeightGroup {
  readonly paths: unknown[];
  readonly weights: tf.io.WeightsManifestEntry[];
}

interface ModelJsonFile {
  readonly modelTopology?: unknown;
  readonly weightsManifest?: WeightGroup[];
  readonly format?: string;
  readonly generatedBy?: string;
  readonly convertedBy?: string | null;
  readonly userDefinedMetadata?: Record<string, unknown>;
}

/** Bytes per element of each weight dtype (a Map: no prototype names such as `__proto__`). */
const BYTES: ReadonlyMap<string, number> = new Map([
  ['float32', 4],
  ['int32', 4],
  ['bool', 1],
  ['uint8', 1],
  ['uint16', 2],
  ['float16', 2],
  ['complex64', 8],
]);

/** The largest file Node.js can hold in one ArrayBuffer (`buffer.constants.MAX_LENGTH`). */
export const MAX_SHARD_BYTES: number = bufferConstants.MAX_LENGTH;

/** Reads of one file go in pieces of at most this many bytes (`fs.readSync` takes at most 2 GiB − 1). */
const READ_PIECE = 1 << 30;

/** `JSON.stringify`, cut to `n` characters. */
const show = (value: unknown, n = 80): string => {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > n ? `${text.slice(0, n)}…` : text;
};

/**
 * Checks one weightsManifest entry (name, shape, dtype, quantization) and returns the bytes it
 * occupies in the weight data.
 */
function entryBytes(entry: unknown, where: string, file: string): number {
  const fix = 'Re-export the model (model.save or tensorflowjs_converter).';
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
    throw new LrpLoadError(file, `${file}: ${where} is ${show(entry)}; expected a weight entry { name, shape, dtype }. ${fix}`);
  }
  const e = entry as Record<string, unknown>;
  if (typeof e.name !== 'string' || e.name === '') throw new LrpLoadError(file, `${file}: ${where} has name ${show(e.name)}; expected the weight's name. ${fix}`);
  const label = `${where} ('${e.name}')`;
  const shape = e.shape;
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0)) {
    throw new LrpLoadError(file, `${file}: ${label} has shape ${show(shape)}; expected a list of non-negative integers. ${fix}`);
  }
  const q = e.quantization;
  if (q !== undefined && q !== null && (typeof q !== 'object' || Array.isArray(q))) throw new LrpLoadError(file, `${file}: ${label} has quantization ${show(q)}; expected { dtype, scale, min }. ${fix}`);
  const quantized = q === undefined || q === null ? undefined : (q as Record<string, unknown>).dtype;
  const dtype = quantized ?? e.dtype;
  const size = typeof dtype === 'string' ? BYTES.get(dtype) : undefined;
  if (size === undefined) {
    throw new LrpLoadError(file, `${file}: ${label} has ${quantized !== undefined ? 'quantization ' : ''}dtype ${show(dtype)}, which tfjs-lrp cannot size (supported: ${[...BYTES.keys()].join(', ')}). ${fix}`);
  }
  if (quantized !== undefined && !['uint8', 'uint16', 'float16'].includes(quantized as string)) {
    throw new LrpLoadError(file, `${file}: ${label} has quantization dtype ${show(quantized)}; expected uint8, uint16 or float16. ${fix}`);
  }
  return (shape as number[]).reduce((a, b) => a * b, 1) * size;
}

/** The hint for a model.json that is neither a layers model nor a graph model. */
function neitherHint(file: string, why: string): string {
  return `${file} ${why}: it is neither a TF.js layers model (a Keras 'modelTopology' with 'class_name' and 'config') nor a graph model (format 'graph-model', a 'modelTopology' with a 'node' list). Pass the model.json the TF.js converter wrote (tensorflowjs_converter, or model.save from TF.js), or re-export the model.`;
}

/** The hint for a graph model loaded as a layers model (`loadModel(path)` without `format`). */
function graphModelHint(file: string): string {
  return `${file} is a TF.js graph model (converter format 'graph-model'), not a layers model. Load it with loadModel(path, { format: 'graph-model' }) (a tf.GraphModel) or loadModel(path, { format: 'auto' }) (either kind), then explain it like a layers model; the tfjs-lrp command detects graph models by itself.`;
}

/** What a model.json holds: a Keras layers model or a TF graph (GraphDef nodes). */
type ModelKind = 'layers-model' | 'graph-model';

function readJson(file: string): { json: ModelJsonFile; kind: ModelKind } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new LrpLoadError(file, `Cannot read ${file}: ${(e as Error).message}. Pass the model's folder or its model.json.`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new LrpLoadError(file, `${file} is not valid JSON (${(e as Error).message}). Re-export the model with the TF.js converter.`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new LrpLoadError(file, `${file} holds ${show(json, 40)}, not a model.json object. Pass the model's folder or its model.json.`);
  const j = json as Record<string, unknown>;
  const raw = j.modelTopology as Record<string, unknown> | null | undefined;
  const hasNodes = raw !== null && typeof raw === 'object' && Array.isArray(raw.node);
  if (j.format === 'graph-model' || (hasNodes && typeof raw?.class_name !== 'string')) {
    if (raw === undefined || raw === null || typeof raw !== 'object' || !Array.isArray(raw.node)) {
      throw new LrpLoadError(file, `${file} has format 'graph-model' but its 'modelTopology' is ${show(raw, 40)}; a graph model holds the TF graph there ({ node: [...] }). Re-export the model (tensorflowjs_converter --output_format tfjs_graph_model).`);
    }
    validateGraphTopology(raw, file);
    return { json: json as ModelJsonFile, kind: 'graph-model' };
  }
  if (!('modelTopology' in j)) throw new LrpLoadError(file, neitherHint(file, "has no 'modelTopology'"));
  let topology = raw as Record<string, unknown> | null;
  if (topology !== null && typeof topology === 'object' && topology.model_config !== undefined && topology.model_config !== null) topology = topology.model_config as Record<string, unknown> | null;
  if (topology === null || typeof topology !== 'object' || typeof topology.class_name !== 'string') {
    throw new LrpLoadError(file, neitherHint(file, "has a 'modelTopology' without a Keras 'class_name' or a graph 'node' list"));
  }
  if (topology.config === null || typeof topology.config !== 'object') {
    throw new LrpLoadError(file, `${file}: the model '${topology.class_name}' has no 'config' (got ${show(topology.config, 40)}), so its layers are unknown. Re-export the model (model.save or tensorflowjs_converter).`);
  }
  validateTopology(topology, file);
  return { json: json as ModelJsonFile, kind: 'layers-model' };
}

/**
 * Checks the TF graph of a graph-model model.json before tfjs builds it: every node has a name
 * and an op, names are unique, every input names a node of the graph (`name`, `name:k` or the
 * control input `^name`), and there is at least one Placeholder (the model's input).
 *
 * @throws {LrpLoadError} naming the node and the bad reference
 */
export function validateGraphTopology(topology: Readonly<Record<string, unknown>>, file: string): void {
  const nodes = topology.node;
  const fix = 'Re-export the model (tensorflowjs_converter --output_format tfjs_graph_model).';
  if (!Array.isArray(nodes) || nodes.length === 0) throw new LrpLoadError(file, `${file}: the graph's 'node' list is ${show(nodes, 40)}; a graph model lists its ops there. ${fix}`);
  const names = new Set<string>();
  for (const [i, node] of nodes.entries()) {
    const n = node as Record<string, unknown> | null;
    if (n === null || typeof n !== 'object' || Array.isArray(n) || typeof n.name !== 'string' || n.name === '' || typeof n.op !== 'string' || n.op === '') {
      throw new LrpLoadError(file, `${file}: graph node ${i} is ${show(node)}; expected { name, op, input?, attr? }. ${fix}`);
    }
    if (names.has(n.name)) throw new LrpLoadError(file, `${file}: two graph nodes are named '${n.name}'; node names must be unique. ${fix}`);
    names.add(n.name);
  }
  for (const node of nodes as Array<Record<string, unknown>>) {
    const inputs = node.input ?? [];
    if (!Array.isArray(inputs) || inputs.some((x) => typeof x !== 'string')) throw new LrpLoadError(file, `${file}: graph node '${String(node.name)}' (${String(node.op)}) has input ${show(inputs)}; expected a list of node names. ${fix}`);
    for (const ref of inputs as string[]) {
      const name = ref.replace(/^\^/, '').replace(/:\d+$/, '');
      if (!names.has(name)) {
        throw new LrpLoadError(file, `${file}: graph node '${String(node.name)}' (${String(node.op)}) takes its input from '${ref}', which is not a node of the graph. Fix its 'input' list or ${fix[0].toLowerCase()}${fix.slice(1)}`);
      }
    }
  }
  if (!(nodes as Array<Record<string, unknown>>).some((n) => n.op === 'Placeholder')) throw new LrpLoadError(file, `${file}: the graph has no Placeholder node, so the model takes no input. ${fix}`);
}

/** Every Const node of a graph model gets its value from a weight of the same name. */
function checkGraphWeights(topology: Readonly<Record<string, unknown>>, groups: readonly WeightGroup[], file: string): void {
  const weights = new Set(groups.flatMap((g) => g.weights.map((w) => w.name)));
  const missing = (topology.node as Array<Record<string, unknown>>).filter((n) => n.op === 'Const' && !weights.has(n.name as string)).map((n) => `'${String(n.name)}'`);
  if (missing.length > 0) {
    throw new LrpLoadError(file, `${file}: the graph's constant${missing.length === 1 ? '' : 's'} ${missing.slice(0, 4).join(', ')}${missing.length > 4 ? `, … (${missing.length})` : ''} ha${missing.length === 1 ? 's' : 've'} no weight in 'weightsManifest', so the model cannot run. Use the model.json written with its weight files, or re-export the model.`);
  }
}

/** One inbound reference of a layer call: `[layerName, nodeIndex, tensorIndex, kwargs?]`. */
type Inbound = readonly [string, number, number];

/** Keras classes whose config is a model (they hold `layers`). */
const MODEL_CLASSES = new Set(['Sequential', 'Model', 'Functional']);

/**
 * Checks the Keras topology of a model.json (and of every nested model) before tfjs builds it:
 * tfjs's `Container.fromConfig` re-queues a layer call until its inputs exist and so loops
 * forever on an inbound layer that does not exist, a node index no call creates, or a cycle.
 * This replays tfjs's queue on the names alone and reports the first call that can never run.
 *
 * @throws {LrpLoadError} naming the layer and the bad reference
 */
export function validateTopology(topology: Readonly<Record<string, unknown>>, file: string, scope = ''): void {
  const className = topology.class_name;
  const config = topology.config;
  const layers = Array.isArray(config) ? config : config !== null && typeof config === 'object' ? (config as Record<string, unknown>).layers : undefined;
  const where = scope === '' ? file : `${file}, nested model '${scope}'`;
  if (!Array.isArray(layers)) {
    throw new LrpLoadError(file, `${where}: the ${String(className)} config has no 'layers' list. Re-export the model.`);
  }
  for (const [i, layer] of layers.entries()) {
    const l = layer as Record<string, unknown> | null;
    if (l === null || typeof l !== 'object' || typeof l.class_name !== 'string') {
      throw new LrpLoadError(file, `${where}: layer ${i} is ${show(layer)}; expected { class_name, config, … }. Re-export the model.`);
    }
    if (MODEL_CLASSES.has(l.class_name) || (l.config !== null && typeof l.config === 'object' && Array.isArray((l.config as Record<string, unknown>).layers))) {
      const name = typeof l.name === 'string' ? l.name : String((l.config as Record<string, unknown> | null)?.name ?? i);
      validateTopology(l, file, scope === '' ? name : `${scope}/${name}`);
    }
  }
  if (className === 'Sequential' || Array.isArray(config)) return; // a chain: no references to check
  validateFunctional(layers as Array<Record<string, unknown>>, config as Record<string, unknown>, where, file);
}

/** Parses one `[name, node, tensor, kwargs?]` reference, or throws naming where it is. */
function inboundOf(value: unknown, what: string, where: string, file: string): Inbound {
  if (!Array.isArray(value) || value.length < 3 || value.length > 4 || typeof value[0] !== 'string' || !Number.isInteger(value[1]) || value[1] < 0 || !Number.isInteger(value[2]) || value[2] < 0) {
    throw new LrpLoadError(file, `${where}: ${what} is ${show(value)}; expected [layerName, nodeIndex, tensorIndex, kwargs] (the Keras 2 / TF.js layers format). Re-export the model.`);
  }
  return [value[0], value[1], value[2]];
}

/** The functional part of {@link validateTopology}: references, node indices and cycles. */
function validateFunctional(layers: ReadonlyArray<Record<string, unknown>>, config: Readonly<Record<string, unknown>>, where: string, file: string): void {
  const names = new Map<string, number>();
  const calls: Inbound[][][] = [];
  // a layer's nodes before any call: an InputLayer and a (built) nested model make one themselves
  const nodes: number[] = [];
  for (const [i, l] of layers.entries()) {
    if (typeof l.name !== 'string' || l.name === '') throw new LrpLoadError(file, `${where}: layer ${i} (${String(l.class_name)}) has no name; a functional model refers to its layers by name. Re-export the model.`);
    if (names.has(l.name)) throw new LrpLoadError(file, `${where}: two layers are named '${l.name}' (layers ${names.get(l.name)} and ${i}); layer names must be unique. Re-export the model.`);
    names.set(l.name, i);
    const inbound = l.inbound_nodes ?? [];
    if (!Array.isArray(inbound)) throw new LrpLoadError(file, `${where}: layer '${l.name}' has inbound_nodes ${show(inbound)}; expected a list of calls. Re-export the model.`);
    calls.push(
      inbound.map((call, k) => {
        if (!Array.isArray(call)) throw new LrpLoadError(file, `${where}: layer '${l.name}' has inbound_nodes[${k}] = ${show(call)}; expected a list of [layerName, nodeIndex, tensorIndex, kwargs] (the Keras 2 / TF.js layers format; Keras 3 files are not read by tfjs 4). Re-export the model.`);
        return call.map((ref, r) => inboundOf(ref, `inbound_nodes[${k}][${r}] of layer '${l.name}'`, where, file));
      }),
    );
    nodes.push(l.class_name === 'InputLayer' || MODEL_CLASSES.has(l.class_name as string) ? 1 : 0);
  }
  const nameOf = (i: number): string => layers[i].name as string;
  // every reference names a layer of this model
  calls.forEach((list, i) =>
    list.forEach((call) =>
      call.forEach(([name]) => {
        if (!names.has(name)) throw new LrpLoadError(file, `${where}: layer '${nameOf(i)}' takes its input from layer '${name}', which is not in the model (its layers: ${[...names.keys()].slice(0, 12).join(', ')}${names.size > 12 ? ', …' : ''}). Fix the inbound_nodes of '${nameOf(i)}' or re-export the model.`);
      }),
    ),
  );
  // replay tfjs's queue (Container.fromConfig): a call runs once every input node exists
  let pending = calls.map((list) => [...list]);
  for (;;) {
    let progress = false;
    let left = 0;
    pending = pending.map((list, i) => {
      const waiting: Inbound[][] = [];
      for (const call of list) {
        if (call.every(([name, node]) => nodes[names.get(name) as number] > node)) {
          if (call.length > 0) nodes[i] += 1;
          progress = true;
        } else waiting.push(call);
      }
      left += waiting.length;
      return waiting;
    });
    if (left === 0) break;
    if (!progress) throw stuck(pending, nodes, names, nameOf, where, file);
  }
  // input_layers and output_layers name existing nodes
  for (const key of ['input_layers', 'output_layers'] as const) {
    const refs = config[key];
    if (!Array.isArray(refs) || refs.length === 0) throw new LrpLoadError(file, `${where}: '${key}' is ${show(refs)}; a functional model lists its ${key === 'input_layers' ? 'inputs' : 'outputs'} as [[layerName, nodeIndex, tensorIndex], …]. Re-export the model.`);
    refs.forEach((ref, r) => {
      const [name, node] = inboundOf(ref, `${key}[${r}]`, where, file);
      const i = names.get(name);
      if (i === undefined) throw new LrpLoadError(file, `${where}: ${key}[${r}] names layer '${name}', which is not in the model. Fix '${key}' or re-export the model.`);
      if (node >= nodes[i]) throw new LrpLoadError(file, `${where}: ${key}[${r}] names node ${node} of layer '${name}', which has ${nodes[i]} node${nodes[i] === 1 ? '' : 's'}. Fix '${key}' or re-export the model.`);
    });
  }
}

/** The error for calls that can never run: a node index no call creates, or a cycle. */
function stuck(pending: Inbound[][][], nodes: number[], names: ReadonlyMap<string, number>, nameOf: (i: number) => string, where: string, file: string): LrpLoadError {
  // a node index beyond what the layer's own calls can ever create
  for (const [i, list] of pending.entries()) {
    for (const call of list) {
      for (const [name, node] of call) {
        const j = names.get(name) as number;
        if (node >= nodes[j] + pending[j].length) {
          return new LrpLoadError(file, `${where}: layer '${nameOf(i)}' takes node ${node} of layer '${name}', which has only ${nodes[j] + pending[j].length} node${nodes[j] + pending[j].length === 1 ? '' : 's'} (calls). Fix the inbound_nodes of '${nameOf(i)}' or re-export the model.`);
        }
      }
    }
  }
  // otherwise the waiting calls wait on each other: follow "waits on" until a layer repeats
  const waitsOn = (i: number): number => {
    const call = pending[i][0];
    const [name] = call.find(([n, node]) => nodes[names.get(n) as number] <= node) as Inbound;
    return names.get(name) as number;
  };
  const path: number[] = [];
  let i = pending.findIndex((list) => list.length > 0);
  while (!path.includes(i)) {
    path.push(i);
    i = waitsOn(i);
  }
  const cycle = [...path.slice(path.indexOf(i)), i].map((k) => `'${nameOf(k)}'`);
  return new LrpLoadError(file, `${where}: the layers ${cycle.join(' → ')} form a cycle (each takes its input from the next), so the model cannot be built. Fix their inbound_nodes or re-export the model.`);
}

/** Resolves a manifest path inside `dir`, refusing anything that leaves it. */
function safeWeightPath(dir: string, realDir: string, p: unknown, modelFile: string): string {
  if (typeof p !== 'string' || p === '') throw new LrpLoadError(modelFile, `${modelFile}: a weight path in weightsManifest is ${JSON.stringify(p)}; expected a file name.`);
  if (path.isAbsolute(p) || /^[a-z][a-z0-9+.-]*:/i.test(p)) {
    throw new LrpLoadError(p, `${modelFile}: weight path '${p}' is absolute or a URL; weight files must lie in the model's folder (${dir}). Refusing to read it.`);
  }
  const full = path.resolve(dir, p);
  const rel = path.relative(dir, full);
  const outside = (r: string) => r === '..' || r.startsWith(`..${path.sep}`) || path.isAbsolute(r);
  if (outside(rel)) {
    throw new LrpLoadError(p, `${modelFile}: weight path '${p}' escapes the model's folder (${dir}). Refusing to read it.`);
  }
  if (!fs.existsSync(full)) {
    throw new LrpLoadError(full, `Weight file '${p}' named in ${modelFile} is missing (looked for ${full}). Copy all shards next to model.json.`);
  }
  const real = fs.realpathSync(full);
  if (outside(path.relative(realDir, real))) {
    throw new LrpLoadError(full, `Weight file '${p}' is a link to ${real}, outside the model's folder (${realDir}). Refusing to read it.`);
  }
  return full;
}

async function tryTfjsNode(): Promise<{ io: { fileSystem(p: string): tf.io.IOHandler } } | null> {
  try {
    // Optional dependency: used when it loads, never required (dynamic import: CommonJS and ESM).
    const name = '@tensorflow/tfjs-node';
    const mod = (await import(name)) as { io?: { fileSystem?: (p: string) => tf.io.IOHandler } };
    return mod.io?.fileSystem === undefined ? null : (mod as { io: { fileSystem(p: string): tf.io.IOHandler } });
  } catch {
    return null;
  }
}

/**
 * Reads one weight file into its own ArrayBuffer (one copy: no Buffer in between, no
 * concatenation), in pieces that `fs.readSync` accepts.
 */
function readShard(file: string, size: number): ArrayBuffer {
  const data = new ArrayBuffer(size);
  const bytes = new Uint8Array(data);
  const fd = fs.openSync(file, 'r');
  try {
    let done = 0;
    while (done < size) {
      const n = fs.readSync(fd, bytes, done, Math.min(READ_PIECE, size - done), done);
      if (n === 0) throw new LrpLoadError(file, `Weight file ${file} ended after ${done} of ${size} bytes while it was read (changed on disk?). Re-copy the model.`);
      done += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return data;
}

/** What {@link loadModel} loads: a layers model or a graph model. */
export type LoadedModel = tf.LayersModel | tf.GraphModel;

/** Options of {@link loadModel}. */
export interface LoadModelOptions {
  /**
   * Which kind of model to load: `'layers-model'` (the default: a graph model is refused with a
   * hint naming this option), `'graph-model'` (a `tf.GraphModel`; a layers model is refused), or
   * `'auto'` (whichever the model.json holds; narrow the result with `model instanceof tf.GraphModel`
   * or `'layers' in model`).
   */
  readonly format?: 'layers-model' | 'graph-model' | 'auto';
}

/**
 * Loads a TF.js model from a folder (containing model.json) or a model.json path: a layers model
 * (the default), or with `{ format: 'graph-model' }` / `{ format: 'auto' }` a graph model
 * (converter format 'graph-model', as TF Hub, converted SavedModels and many npm packages ship
 * them; explain it like a layers model).
 *
 *     const model = await loadModel('fixtures/digits');                               // tf.LayersModel
 *     const graph = await loadModel('models/emotion.json', { format: 'graph-model' }); // tf.GraphModel
 *     const any = await loadModel(dir, { format: 'auto' });                            // either
 *
 * Handles old converters' files (no `format`, Keras config only), several weight groups and
 * shards, and uint8/uint16/float16-quantized weights. Everything is checked before tfjs builds
 * the model: the topology (layers: every inbound layer and node exists, no cycle, in nested models
 * too: tfjs itself would loop forever; graphs: every node input exists, a Placeholder, a weight
 * for every constant), the weight manifest (names, shapes, dtypes), the weight paths, and the
 * shard sizes. Each shard is read once into its own buffer.
 *
 * @throws {LrpLoadError} for unreadable or malformed JSON, a graph model without
 *   `format: 'graph-model' | 'auto'` (and a layers model with `format: 'graph-model'`), a file
 *   that is neither, a broken topology (naming the layer or node and the bad reference), a
 *   malformed manifest entry, weight paths outside the folder, missing shards, shards shorter or
 *   longer than their manifest says, and a shard larger than one buffer can hold.
 */
export function loadModel(modelPath: string, options: LoadModelOptions & { readonly format: 'graph-model' }): Promise<tf.GraphModel>;
export function loadModel(modelPath: string, options: LoadModelOptions & { readonly format: 'auto' }): Promise<LoadedModel>;
export function loadModel(modelPath: string, options?: LoadModelOptions & { readonly format?: 'layers-model' }): Promise<tf.LayersModel>;
export function loadModel(modelPath: string, options?: LoadModelOptions): Promise<LoadedModel>;
export async function loadModel(modelPath: string, options: LoadModelOptions = {}): Promise<LoadedModel> {
  if (typeof modelPath !== 'string' || modelPath === '') throw new LrpLoadError(String(modelPath), `loadModel(path): expected a folder or a model.json path, got ${JSON.stringify(modelPath)}.`);
  const format = options?.format ?? 'layers-model';
  if (!['layers-model', 'graph-model', 'auto'].includes(format)) throw new LrpLoadError(modelPath, `loadModel(path, options): options.format is ${show(format)}; expected 'layers-model', 'graph-model' or 'auto'.`);
  const stat = fs.existsSync(modelPath) ? fs.statSync(modelPath) : null;
  if (stat === null) throw new LrpLoadError(modelPath, `No model at ${modelPath}: the path does not exist.`);
  const modelFile = stat.isDirectory() ? path.join(modelPath, 'model.json') : modelPath;
  const dir = path.dirname(path.resolve(modelFile));
  const realDir = fs.realpathSync(dir);
  const { json, kind } = readJson(modelFile);
  if (kind === 'graph-model' && format === 'layers-model') throw new LrpLoadError(modelFile, graphModelHint(modelFile));
  if (kind === 'layers-model' && format === 'graph-model') throw new LrpLoadError(modelFile, `${modelFile} is a TF.js layers model (a Keras topology), not a graph model. Load it with loadModel(path) (a tf.LayersModel) or loadModel(path, { format: 'auto' }).`);
  const groups = json.weightsManifest ?? [];
  if (!Array.isArray(groups)) throw new LrpLoadError(modelFile, `${modelFile}: 'weightsManifest' must be a list of weight groups.`);

  const shards: Array<{ file: string; size: number }> = [];
  for (const [g, group] of groups.entries()) {
    if (group === null || typeof group !== 'object' || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw new LrpLoadError(modelFile, `${modelFile}: every weightsManifest group needs 'paths' and 'weights' lists; got ${JSON.stringify(group).slice(0, 120)}.`);
    }
    const files = group.paths.map((p) => safeWeightPath(dir, realDir, p, modelFile));
    const expected = group.weights.reduce((n, w, i) => n + entryBytes(w, `weightsManifest[${g}].weights[${i}]`, modelFile), 0);
    const sizes = files.map((f) => fs.statSync(f).size);
    const actual = sizes.reduce((a, b) => a + b, 0);
    if (actual !== expected) {
      const listing = files.map((f, i) => `${path.basename(f)} (${sizes[i]} bytes)`).join(', ');
      throw new LrpLoadError(files[files.length - 1], `Weight files ${listing} hold ${actual} bytes, but ${modelFile} describes ${expected} bytes for them (${group.weights.map((w) => w.name).slice(0, 3).join(', ')}${group.weights.length > 3 ? ', …' : ''}). A shard is ${actual < expected ? 'truncated' : 'too long'}: re-copy or re-export the model.`);
    }
    files.forEach((file, i) => {
      if (sizes[i] > MAX_SHARD_BYTES) {
        throw new LrpLoadError(file, `Weight file ${file} is ${sizes[i]} bytes, more than Node.js can hold in one buffer (${MAX_SHARD_BYTES} bytes). Re-save the model with smaller shards, e.g. tensorflowjs_converter --weight_shard_size_bytes 4194304 (4 MB shards, the converter's default), then load that folder.`);
      }
      shards.push({ file, size: sizes[i] });
    });
  }

  if (kind === 'graph-model') {
    checkGraphWeights(json.modelTopology as Record<string, unknown>, groups, modelFile);
    return loadGraph(json, groups, shards, modelFile);
  }
  // tfjs-node's file handler reads each shard with one readFile (2 GiB at most): ours beyond that
  const node = shards.some((s) => s.size >= 2 ** 31 - 1) ? null : await tryTfjsNode();
  // A model that fails half-way through deserialization leaves the variables of the layers built
  // so far registered: dispose those on failure so that a failed load leaks nothing.
  const registered = (): Record<string, tf.Variable> => (tf.engine() as unknown as { registeredVariables: Record<string, tf.Variable> }).registeredVariables;
  const existing = new Set(Object.keys(registered()));
  try {
    if (node !== null) return await tf.loadLayersModel(node.io.fileSystem(modelFile));
    // one ArrayBuffer per shard, handed to tfjs as a list (it reads weights across them)
    const weightData = readShards(shards);
    return await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology as tf.io.ModelArtifacts['modelTopology'],
        weightSpecs: groups.flatMap((g) => g.weights),
        weightData,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy ?? undefined,
        userDefinedMetadata: json.userDefinedMetadata,
      }),
    );
  } catch (e) {
    for (const [name, v] of Object.entries(registered())) if (!existing.has(name)) v.dispose();
    if (e instanceof LrpLoadError) throw e;
    const message = (e as Error).message ?? String(e);
    const unknown = /Unknown (layer|object|activation|initializer|constraint|regularizer): (\w+)/.exec(message);
    if (unknown !== null) {
      throw new LrpLoadError(modelFile, `${modelFile} uses the ${unknown[1]} class '${unknown[2]}', which tfjs-layers does not know. Define it in JavaScript and register it with tf.serialization.registerClass before loading (and give it a rule with registerLayerRule('${unknown[2]}', rule)).`);
    }
    if (/Improper config format/.test(message)) throw new LrpLoadError(modelFile, neitherHint(modelFile, 'could not be read as a Keras model config'));
    throw new LrpLoadError(modelFile, `Could not build the model from ${modelFile}: ${message}`);
  }
}

/** Reads every shard into its own ArrayBuffer (in manifest order), with typed errors. */
function readShards(shards: ReadonlyArray<{ file: string; size: number }>): ArrayBuffer[] {
  const weightData: ArrayBuffer[] = [];
  for (const s of shards) {
    try {
      weightData.push(readShard(s.file, s.size));
    } catch (e) {
      if (e instanceof LrpLoadError) throw e;
      throw new LrpLoadError(s.file, `Cannot read weight file ${s.file} (${s.size} bytes): ${(e as Error).message}. ${e instanceof RangeError ? 'Not enough memory for it: re-save the model with smaller shards (tensorflowjs_converter --weight_shard_size_bytes 4194304) or free memory.' : 'Check the file and its permissions.'}`);
    }
  }
  return weightData;
}

/**
 * Builds a graph model from its checked model.json and shards (read here, as for layers models:
 * the same handling with or without tfjs-node). A failed build leaves no tensor behind.
 */
async function loadGraph(json: ModelJsonFile, groups: readonly WeightGroup[], shards: ReadonlyArray<{ file: string; size: number }>, modelFile: string): Promise<tf.GraphModel> {
  const weightData = readShards(shards);
  const extra = json as ModelJsonFile & { signature?: unknown; modelInitializer?: unknown; initializerSignature?: unknown };
  const artifacts: tf.io.ModelArtifacts = {
    modelTopology: json.modelTopology as tf.io.ModelArtifacts['modelTopology'],
    weightSpecs: groups.flatMap((g) => g.weights),
    weightData,
    format: json.format ?? 'graph-model',
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy ?? undefined,
    userDefinedMetadata: json.userDefinedMetadata as tf.io.ModelArtifacts['userDefinedMetadata'],
    ...(extra.signature !== undefined ? { signature: extra.signature as tf.io.ModelArtifacts['signature'] } : {}),
    ...(extra.modelInitializer !== undefined ? { modelInitializer: extra.modelInitializer as tf.io.ModelArtifacts['modelInitializer'] } : {}),
    ...(extra.initializerSignature !== undefined ? { initializerSignature: extra.initializerSignature as tf.io.ModelArtifacts['initializerSignature'] } : {}),
  };
  // a synchronous handler: the model is built in one tidy, so a failure (an op tfjs does not
  // know, a bad graph) releases the weights already decoded, and success keeps them
  const handler: tf.io.IOHandlerSync = { load: () => artifacts };
  const model = new tf.GraphModel(handler as unknown as tf.io.IOHandler);
  try {
    tf.tidy(() => {
      model.load();
      return Object.values(model.weights).flat();
    });
    return model;
  } catch (e) {
    if (e instanceof LrpLoadError) throw e;
    throw new LrpLoadError(modelFile, `Could not build the graph model from ${modelFile}: ${(e as Error).message ?? String(e)}. Re-export the model (tensorflowjs_converter --output_format tfjs_graph_model).`);
  }
}
