/**
 * Items of a data set as the batch pipeline sees them: a global index, an id, an optional class,
 * and a loader that is only called for items this process explains (shards and resumed runs skip
 * the rest without reading them). Sources: any (async) iterable, a `tf.data.Dataset`, or files
 * (`.npy` rows, JSON lines, images through a reader given by the caller).
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as readline from 'readline';
import * as tf from '@tensorflow/tfjs';
import { LrpArgumentError } from '../../errors.js';
import type { InputFile } from './glob.js';
import { NpyFile } from './npy.js';
import { isFloat32Array } from './typed.js';

/** Nested arrays of numbers (one JSON-lines item, or a plain-array source item). */
export type NestedNumbers = number | readonly NestedNumbers[];

/** One item of a source given to `explainDataset`. */
export interface DatasetItem {
  /** A name for reports and output files (default: the item's index). */
  readonly id?: string;
  /**
   * The input without the batch axis: a tensor (read and then disposed: the source hands it
   * over), a Float32Array (or any typed array), or nested numbers.
   */
  readonly input: tf.Tensor | ArrayLike<number> | NestedNumbers;
  /** The class to explain for this item (default: the `classIdx` option). */
  readonly classIdx?: number;
}

/** What a source may yield: items, or bare inputs. */
export type DatasetElement = DatasetItem | tf.Tensor | Float32Array | NestedNumbers[];

/** A data set: a (sync or async) iterable of elements, or a `tf.data.Dataset` of them. */
export type DatasetSource = AsyncIterable<DatasetElement> | Iterable<DatasetElement> | tf.data.Dataset<tf.TensorContainer>;

/** An item failed: why (for the errors file). */
export class ItemError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ItemError';
  }
}

/** The kind of an item: images get overlays; arrays do not. */
export type ItemKind = 'image' | 'array';

/** An item before loading. */
export interface ItemRef {
  /** Position in the whole (unsharded) data set, from 0. */
  readonly index: number;
  readonly id: string;
  readonly kind: ItemKind;
  /** An explicit class for this item, or an error to report when the class could not be found. */
  readonly classIdx?: number | ItemError;
  /** Reads the input (float32, the model's input size); throws for a bad item. */
  load(): Promise<Float32Array> | Float32Array;
  /**
   * A hash of the bytes the item was read from (sha1, hex): the image file's bytes, the `.npy`
   * row's bytes, the JSON line's text. Set by `load()` for file items (also when the bytes then
   * fail to decode); undefined for items of a user source and before `load()`.
   */
  contentHash?: string;
}

/** sha1 (hex) of bytes or text: the cheap per-item content hash of {@link ItemRef.contentHash}. */
export function contentHashOf(bytes: Uint8Array | string): string {
  return createHash('sha1').update(bytes).digest('hex');
}

/** sha1 (hex) of a file's bytes, streamed. */
function hashFile(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha1');
    fs.createReadStream(file)
      .on('data', (chunk) => h.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

/** The values of a nested array, flattened; throws ItemError for a non-number. */
export function flattenNumbers(value: unknown, what: string): Float32Array {
  const out: number[] = [];
  const walk = (v: unknown) => {
    if (typeof v === 'number') out.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else throw new ItemError(`${what}: expected numbers or nested arrays of numbers, found ${v === null ? 'null' : typeof v}.`);
  };
  walk(value);
  return Float32Array.from(out);
}

/** Reads an element's input to float32 (disposing a tensor it was handed). */
async function elementData(input: unknown, what: string): Promise<Float32Array> {
  if (input instanceof tf.Tensor) {
    try {
      if (input.isDisposed) throw new ItemError(`${what}: the tensor is disposed.`);
      const d = await input.data();
      return isFloat32Array(d) ? d : Float32Array.from(d as ArrayLike<number>);
    } finally {
      input.dispose();
    }
  }
  if (isFloat32Array(input)) return input;
  if (ArrayBuffer.isView(input) && !(input instanceof DataView)) return Float32Array.from(input as unknown as ArrayLike<number>);
  return flattenNumbers(input, what);
}

function isDataset(source: unknown): source is tf.data.Dataset<tf.TensorContainer> {
  return source !== null && typeof source === 'object' && typeof (source as { iterator?: unknown }).iterator === 'function' && typeof (source as { mapAsync?: unknown }).mapAsync === 'function';
}

async function* fromDataset(ds: tf.data.Dataset<tf.TensorContainer>): AsyncGenerator<unknown> {
  const it = await ds.iterator();
  for (;;) {
    const r = await it.next();
    if (r.done) return;
    yield r.value;
  }
}

/**
 * Converts a user source into item refs (each element read when the pipeline needs it).
 * `tf.data` elements may be a tensor, `{ xs }`/`{ input }` with an optional `classIdx`.
 */
export async function* refsFromSource(source: DatasetSource): AsyncGenerator<ItemRef> {
  let iterable: AsyncIterable<unknown> | Iterable<unknown>;
  if (isDataset(source)) iterable = fromDataset(source);
  else if (source !== null && typeof source === 'object' && (Symbol.asyncIterator in source || Symbol.iterator in source)) iterable = source as AsyncIterable<unknown>;
  else throw new LrpArgumentError('source', 'expected an iterable or async iterable of items (tensors, arrays or { id, input, classIdx }), or a tf.data.Dataset.');
  let index = 0;
  for await (const element of iterable as AsyncIterable<unknown>) {
    const k = index++;
    let id = String(k);
    let input: unknown = element;
    let classIdx: number | ItemError | undefined;
    if (element !== null && typeof element === 'object' && !(element instanceof tf.Tensor) && !ArrayBuffer.isView(element) && !Array.isArray(element)) {
      const e = element as { id?: unknown; input?: unknown; xs?: unknown; classIdx?: unknown };
      if (e.id !== undefined) id = String(e.id);
      input = e.input ?? e.xs;
      if (input === undefined) classIdx = new ItemError(`item ${k}: expected { input } (or { xs }), a tensor or an array; got keys ${Object.keys(e).join(', ') || '(none)'}.`);
      else if (e.classIdx !== undefined) {
        classIdx = typeof e.classIdx === 'number' && Number.isInteger(e.classIdx) && e.classIdx >= 0 ? e.classIdx : new ItemError(`item ${id}: classIdx must be a non-negative integer, got ${JSON.stringify(e.classIdx)}.`);
      }
    }
    const what = `item ${id}`;
    // read the element now (it may be a tensor the source will not keep), but lazily convert
    const data = classIdx instanceof ItemError ? null : await elementData(input, what).catch((err: Error) => err);
    yield {
      index: k,
      id,
      kind: 'array',
      classIdx,
      load: () => {
        if (data instanceof Error) throw data instanceof ItemError ? data : new ItemError(`${what}: ${data.message}`);
        if (data === null) throw classIdx as ItemError;
        return data;
      },
    };
  }
}

/** Reads one image file as float32 (the model's input size); supplied by the caller (sharp). */
export type ImageLoader = (file: string) => Promise<Float32Array>;

/** File kinds by extension. */
export function fileKind(file: string): 'npy' | 'jsonl' | 'image' | 'other' {
  const lower = file.toLowerCase();
  if (lower.endsWith('.npy')) return 'npy';
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return 'jsonl';
  if (/\.(png|jpe?g|webp|gif|tiff?)$/.test(lower)) return 'image';
  return 'other';
}

/** The input files a run reads, for messages. */
export const SUPPORTED_INPUTS = 'images (.png, .jpg, .jpeg, .webp, .gif, .tif, .tiff), arrays (.npy: one item per row) and JSON lines (.jsonl, .ndjson: one array per line)';

/** Whether a JSON-lines file has a non-blank line (reads only up to the first one). */
function hasNonBlankLine(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(1 << 16);
    for (let pos = 0; ; ) {
      const n = fs.readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) return false;
      if (/\S/.test(buf.toString('utf8', 0, n))) return true;
      pos += n;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Checks that input files hold at least one item (to explain, or to report as failed): some
 * file is an image or array file, and not every array file is empty. Cheap: an image ends the
 * check, an .npy file costs its header, a JSON-lines file is read up to its first non-blank line.
 *
 * @param files the resolved input files
 * @param inputs the input arguments as given (named in the error)
 * @throws {LrpArgumentError} (argument `--input`) naming the inputs, what they hold and the
 *   supported files, when there is nothing to explain
 */
export function checkInputsHoldItems(files: readonly InputFile[], inputs: readonly string[]): void {
  const given = inputs.map((p) => `'${p}'`).join(', ');
  const supported = files.filter((f) => fileKind(f.file) !== 'other');
  if (supported.length === 0) {
    const examples = files.slice(0, 3).map((f) => f.id).join(', ');
    const what = files.length === 1 ? `1 file (${examples}), not an image or array file` : `${files.length} files (${examples}${files.length > 3 ? ', …' : ''}), none of them an image or array file`;
    throw new LrpArgumentError('--input', `${given} hold${inputs.length === 1 ? 's' : ''} ${what}: nothing to explain. Supported: ${SUPPORTED_INPUTS}.`);
  }
  const empty: string[] = [];
  for (const f of supported) {
    const kind = fileKind(f.file);
    if (kind === 'image') return;
    try {
      if (kind === 'npy') {
        const npy = new NpyFile(f.file);
        npy.close();
        if (npy.rows > 0) return;
        empty.push(`${f.id}: 0 rows`);
      } else {
        if (hasNonBlankLine(f.file)) return;
        empty.push(`${f.id}: no line`);
      }
    } catch {
      return; // unreadable: one failing item, reported with its reason
    }
  }
  throw new LrpArgumentError('--input', `${given} hold${inputs.length === 1 ? 's' : ''} no item: nothing to explain (${empty.slice(0, 3).join(', ')}${empty.length > 3 ? ', …' : ''}). Supported: ${SUPPORTED_INPUTS}.`);
}

/** How many items a file holds (1 for images and other files; rows for .npy; lines for JSON lines). */
export async function countItems(file: string): Promise<number> {
  const kind = fileKind(file);
  if (kind === 'npy') {
    try {
      // the header is checked against the file size here, before the count is used for anything
      const npy = new NpyFile(file);
      npy.close();
      return npy.rows;
    } catch {
      return 1; // unreadable or inconsistent: one failing item (refsFromFiles gives the reason)
    }
  }
  if (kind === 'jsonl') {
    let n = 0;
    for await (const _line of jsonLines(file)) n += 1;
    return Math.max(n, 0);
  }
  return 1;
}

/** The non-empty lines of a file, streamed. */
async function* jsonLines(file: string): AsyncGenerator<string> {
  const rl = readline.createInterface({ input: fs.createReadStream(file, 'utf8'), crlfDelay: Infinity });
  try {
    for await (const line of rl) if (line.trim() !== '') yield line;
  } finally {
    rl.close();
  }
}

/** Options of {@link refsFromFiles}. */
export interface FileRefOptions {
  /** Elements per item (the model input without the batch axis). */
  readonly size: number;
  /** Reads an image file; without it, image files are bad items. */
  readonly loadImage?: ImageLoader;
  /** The class of an item by id and index (undefined: the default class). */
  readonly classOf?: (id: string, index: number) => number | ItemError | undefined;
}

/**
 * Item refs for resolved input files, in order: an image file is one item; an `.npy` file one
 * item per row (`file#k`); a JSON-lines file one item per non-empty line (`file#k`); any other
 * file one failing item (not an image or array file).
 */
export async function* refsFromFiles(files: readonly InputFile[], options: FileRefOptions): AsyncGenerator<ItemRef> {
  let index = 0;
  const cls = (id: string, k: number) => options.classOf?.(id, k);
  const checkSize = (data: Float32Array, id: string): Float32Array => {
    if (data.length !== options.size) throw new ItemError(`${id}: holds ${data.length} values, the model input needs ${options.size}.`);
    return data;
  };
  for (const f of files) {
    const kind = fileKind(f.file);
    if (kind === 'npy') {
      let npy: NpyFile;
      try {
        npy = new NpyFile(f.file);
        npy.close();
      } catch (e) {
        const k = index++;
        const err = new ItemError(`${f.id}: ${(e as Error).message.replace(/^Argument '[^']*': /, '')}`);
        yield { index: k, id: f.id, kind: 'array', classIdx: cls(f.id, k), load: () => { throw err; } };
        continue;
      }
      for (let r = 0; r < npy.rows; r++) {
        const k = index++;
        const id = `${f.id}#${r}`;
        const ref: ItemRef = {
          index: k,
          id,
          kind: 'array',
          classIdx: cls(id, k),
          load: () => {
            const file = new NpyFile(f.file);
            try {
              const bytes = file.rawRow(r);
              ref.contentHash = contentHashOf(bytes);
              return checkSize(file.decodeRow(bytes), id);
            } finally {
              file.close();
            }
          },
        };
        yield ref;
      }
    } else if (kind === 'jsonl') {
      let r = 0;
      let lines: AsyncGenerator<string>;
      try {
        lines = jsonLines(f.file);
      } catch (e) {
        const k = index++;
        const err = new ItemError(`${f.id}: cannot read (${(e as Error).message}).`);
        yield { index: k, id: f.id, kind: 'array', classIdx: cls(f.id, k), load: () => { throw err; } };
        continue;
      }
      for await (const line of lines) {
        const k = index++;
        const id = `${f.id}#${r++}`;
        const ref: ItemRef = {
          index: k,
          id,
          kind: 'array',
          classIdx: cls(id, k),
          load: () => {
            ref.contentHash = contentHashOf(line);
            let value: unknown;
            try {
              value = JSON.parse(line);
            } catch (e) {
              throw new ItemError(`${id}: not valid JSON (${(e as Error).message}).`);
            }
            if (!Array.isArray(value)) throw new ItemError(`${id}: expected a JSON array of numbers, got ${value === null ? 'null' : typeof value}.`);
            return checkSize(flattenNumbers(value, id), id);
          },
        };
        yield ref;
      }
    } else if (kind === 'image') {
      const k = index++;
      const loader = options.loadImage;
      const ref: ItemRef = {
        index: k,
        id: f.id,
        kind: 'image',
        classIdx: cls(f.id, k),
        load: async () => {
          if (loader === undefined) throw new ItemError(`${f.id}: an image, but the model input is not an image of 1 or 3 channels ([H, W, C] or [H, W]); pass arrays (.npy, .jsonl) instead.`);
          // hashed while the decoder reads the same bytes (streamed: memory stays bounded); a
          // file that cannot be read fails in the decoder, with its message, as before
          const hashing = hashFile(f.file).then(
            (h) => {
              ref.contentHash = h;
            },
            () => undefined,
          );
          try {
            return checkSize(await loader(f.file), f.id);
          } catch (e) {
            if (e instanceof ItemError) throw e;
            // the id, not the absolute path: reports are the same on every machine
            throw new ItemError((e as Error).message.split(f.file).join(f.id));
          } finally {
            await hashing;
          }
        },
      };
      yield ref;
    } else {
      const k = index++;
      const err = new ItemError(`${f.id}: not an image or array file (expected .png, .jpg, .jpeg, .webp, .gif, .tif, .npy or .jsonl).`);
      yield { index: k, id: f.id, kind: 'array', classIdx: cls(f.id, k), load: () => { throw err; } };
    }
  }
}

/**
 * Checks a loaded item: size, finiteness and, when the input is declared ≥ 0
 * (`options.inputNonNegative`), sign. The first bad value is reported with its position.
 */
export function checkItem(data: Float32Array, size: number, id: string, nonNegative = false): void {
  if (data.length !== size) throw new ItemError(`${id}: holds ${data.length} values, the model input needs ${size}.`);
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw new ItemError(`${id}: value ${i} is ${data[i]} (NaN or Infinity); clean the data first.`);
    if (nonNegative && data[i] < 0) throw new ItemError(`${id}: value ${i} is ${data[i]}, but options.inputNonNegative declares the input ≥ 0; leave the option out for such data, or rescale it to ≥ 0 first.`);
  }
}
