/**
 * Node only: load a TF.js layers model (model.json + weight files) from disk, without
 * @tensorflow/tfjs-node (its file handler is used when it is installed). Weight paths are
 * checked before anything is read: no path may leave the model's folder, every shard must exist
 * and hold exactly the bytes its manifest promises.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { LrpLoadError } from '../errors.js';

interface WeightGroup {
  readonly paths: string[];
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

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2, complex64: 8 };

/** Bytes one manifest entry occupies in the weight data. */
function entryBytes(entry: tf.io.WeightsManifestEntry, file: string): number {
  const count = entry.shape.reduce((a, b) => a * b, 1);
  const dtype = entry.quantization?.dtype ?? entry.dtype;
  const size = BYTES[dtype];
  if (size === undefined) throw new LrpLoadError(file, `${file}: weight '${entry.name}' has dtype '${dtype}', which tfjs-lrp cannot size (supported: ${Object.keys(BYTES).join(', ')}).`);
  return count * size;
}

function readJson(file: string): ModelJsonFile {
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
  if (json === null || typeof json !== 'object' || !('modelTopology' in json)) {
    throw new LrpLoadError(file, `${file} has no 'modelTopology': it is not a TF.js layers model (a graph model from tf.loadGraphModel cannot be explained layer by layer).`);
  }
  return json as ModelJsonFile;
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
 * Loads a TF.js layers model from a folder (containing model.json) or a model.json path.
 * Handles old converters' files (no `format`, Keras config only), several weight groups and
 * shards, and uint8/uint16/float16-quantized weights.
 *
 * @throws {LrpLoadError} for unreadable or malformed JSON, weight paths outside the folder,
 *   missing shards and shards shorter or longer than their manifest says.
 */
export async function loadModel(modelPath: string): Promise<tf.LayersModel> {
  if (typeof modelPath !== 'string' || modelPath === '') throw new LrpLoadError(String(modelPath), `loadModel(path): expected a folder or a model.json path, got ${JSON.stringify(modelPath)}.`);
  const stat = fs.existsSync(modelPath) ? fs.statSync(modelPath) : null;
  if (stat === null) throw new LrpLoadError(modelPath, `No model at ${modelPath}: the path does not exist.`);
  const modelFile = stat.isDirectory() ? path.join(modelPath, 'model.json') : modelPath;
  const dir = path.dirname(path.resolve(modelFile));
  const realDir = fs.realpathSync(dir);
  const json = readJson(modelFile);
  const groups = json.weightsManifest ?? [];
  if (!Array.isArray(groups)) throw new LrpLoadError(modelFile, `${modelFile}: 'weightsManifest' must be a list of weight groups.`);

  const buffers: Buffer[] = [];
  for (const group of groups) {
    if (group === null || typeof group !== 'object' || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw new LrpLoadError(modelFile, `${modelFile}: every weightsManifest group needs 'paths' and 'weights' lists; got ${JSON.stringify(group).slice(0, 120)}.`);
    }
    const files = group.paths.map((p) => safeWeightPath(dir, realDir, p, modelFile));
    const expected = group.weights.reduce((n, w) => n + entryBytes(w, modelFile), 0);
    const sizes = files.map((f) => fs.statSync(f).size);
    const actual = sizes.reduce((a, b) => a + b, 0);
    if (actual !== expected) {
      const listing = files.map((f, i) => `${path.basename(f)} (${sizes[i]} bytes)`).join(', ');
      throw new LrpLoadError(files[files.length - 1], `Weight files ${listing} hold ${actual} bytes, but ${modelFile} describes ${expected} bytes for them (${group.weights.map((w) => w.name).slice(0, 3).join(', ')}${group.weights.length > 3 ? ', …' : ''}). A shard is ${actual < expected ? 'truncated' : 'too long'}: re-copy or re-export the model.`);
    }
    for (const f of files) buffers.push(fs.readFileSync(f));
  }

  const node = await tryTfjsNode();
  // A model that fails half-way through deserialization leaves the variables of the layers built
  // so far registered: dispose those on failure so that a failed load leaks nothing.
  const registered = (): Record<string, tf.Variable> => (tf.engine() as unknown as { registeredVariables: Record<string, tf.Variable> }).registeredVariables;
  const existing = new Set(Object.keys(registered()));
  try {
    if (node !== null) return await tf.loadLayersModel(node.io.fileSystem(modelFile));
    const all = Buffer.concat(buffers);
    const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
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
    throw new LrpLoadError(modelFile, `Could not build the model from ${modelFile}: ${message}`);
  }
}
