/**
 * Items of a data set as the batch pipeline sees them: a global index, an id, an optional class,
 * and a loader that is only called for items this process explains (shards and resumed runs skip
 * the rest without reading them). Sources: any (async) iterable, a `tf.data.Dataset`, or files
 * (`.npy` rows, JSON lines, images through a reader given by the caller).
 */
import * as fs from 'fs';
import * as readline from 'readline';
import * as tf from '@tensorflow/tfjs';
import { LrpArgumentError } from '../../errors.js';
import type { InputFile } from './glob.js';
import { NpyFile, parseNpyHeader } from './npy.js';
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

/** How many items a file holds (1 for images and other files; rows for .npy; lines for JSON lines). */
export async function countItems(file: string): Promise<number> {
  const kind = fileKind(file);
  if (kind === 'npy') {
    try {
      const fd = fs.openSync(file, 'r');
      try {
        const head = Buffer.alloc(4096);
        const n = fs.readSync(fd, head, 0, head.length, 0);
        const h = parseNpyHeader(head.subarray(0, n), file);
        return h.shape.length === 0 ? 1 : h.shape[0];
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      return 1; // unreadable: one failing item
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
        yield {
          index: k,
          id,
          kind: 'array',
          classIdx: cls(id, k),
          load: () => {
            const file = new NpyFile(f.file);
            try {
              return checkSize(file.row(r), id);
            } finally {
              file.close();
            }
          },
        };
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
        yield {
          index: k,
          id,
          kind: 'array',
          classIdx: cls(id, k),
          load: () => {
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
      }
    } else if (kind === 'image') {
      const k = index++;
      const loader = options.loadImage;
      yield {
        index: k,
        id: f.id,
        kind: 'image',
        classIdx: cls(f.id, k),
        load: async () => {
          if (loader === undefined) throw new ItemError(`${f.id}: an image, but the model input is not an image of 1 or 3 channels ([H, W, C] or [H, W]); pass arrays (.npy, .jsonl) instead.`);
          try {
            return checkSize(await loader(f.file), f.id);
          } catch (e) {
            if (e instanceof ItemError) throw e;
            // the id, not the absolute path: reports are the same on every machine
            throw new ItemError((e as Error).message.split(f.file).join(f.id));
          }
        },
      };
    } else {
      const k = index++;
      const err = new ItemError(`${f.id}: not an image or array file (expected .png, .jpg, .jpeg, .webp, .gif, .tif, .npy or .jsonl).`);
      yield { index: k, id: f.id, kind: 'array', classIdx: cls(f.id, k), load: () => { throw err; } };
    }
  }
}

/** Checks a loaded item: size and finiteness (NaN/Infinity are reported with their position). */
export function checkItem(data: Float32Array, size: number, id: string): void {
  if (data.length !== size) throw new ItemError(`${id}: holds ${data.length} values, the model input needs ${size}.`);
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw new ItemError(`${id}: value ${i} is ${data[i]} (NaN or Infinity); clean the data first.`);
  }
}
