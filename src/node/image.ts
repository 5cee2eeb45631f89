/**
 * Image files in Node: reading PNG/JPEG inputs into tensors (resized and scaled for a model) and
 * writing tensors as PNG (our encoder, src/node/png.ts) or JPEG, with `sharp` (an optional
 * dependency, loaded on first use) for decoding and JPEG.
 * Node only: reached from `tfjs-lrp/node`, never from the root entry.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { LrpArgumentError, LrpError, LrpLoadError } from '../errors.js';
import { encodePng } from './png.js';

/** An image file could not be read, decoded or written. `file` names it. */
export class LrpImageError extends LrpLoadError {
  constructor(file: string, message: string) {
    super(file, message);
    this.name = 'LrpImageError';
  }
}

// ---- sharp, loaded lazily -------------------------------------------------------------------

/** The part of sharp's API used here (sharp's own types stay out of the public declarations). */
interface SharpInstance {
  metadata(): Promise<{ format?: string; width?: number; height?: number; channels?: number }>;
  rotate(): SharpInstance;
  flatten(o: { background: string }): SharpInstance;
  resize(w: number, h: number, o: { fit: string; kernel: string }): SharpInstance;
  grayscale(): SharpInstance;
  toColourspace(space: string): SharpInstance;
  removeAlpha(): SharpInstance;
  raw(): SharpInstance;
  png(o?: { compressionLevel?: number }): SharpInstance;
  jpeg(o?: { quality?: number; chromaSubsampling?: string }): SharpInstance;
  toBuffer(o: { resolveWithObject: true }): Promise<{ data: Buffer; info: { width: number; height: number; channels: number; depth?: string } }>;
  toBuffer(): Promise<Buffer>;
}
type SharpFactory = (input: Buffer, options?: { raw?: { width: number; height: number; channels: number }; failOn?: string }) => SharpInstance;

let sharpModule: SharpFactory | null = null;

/**
 * Loads the optional dependency `sharp` (once).
 * @throws {LrpError} telling to `npm install sharp` when it is missing or does not load.
 */
export async function loadSharp(): Promise<SharpFactory> {
  if (sharpModule !== null) return sharpModule;
  let mod: unknown;
  try {
    const name = 'sharp'; // a variable: bundlers leave the optional dependency alone
    mod = await import(name);
  } catch (e) {
    throw new LrpError(
      `Reading and writing image files needs the optional dependency 'sharp', which did not load (${(e as Error).message.split('\n')[0]}). ` +
        'Install it with `npm install sharp` (or work with tensors: heatmap(), heatmapGrid()).',
    );
  }
  const m = mod as { default?: unknown };
  const factory = (typeof m.default === 'function' ? m.default : mod) as SharpFactory;
  if (typeof factory !== 'function') throw new LrpError("The 'sharp' module loaded but is not the sharp image library; reinstall it with `npm install sharp`.");
  sharpModule = factory;
  return factory;
}

// ---- reading ------------------------------------------------------------------------------

/** How pixel values (0..255) are scaled into the tensor. */
export type PixelScaling = '0..1' | '0..255' | '-1..1' | { mean: number | readonly number[]; std: number | readonly number[] };

/** Options of {@link readImages}. */
export interface ReadImageOptions {
  /** Output height and width in px (default: the model's input size, else the images' own size). */
  height?: number;
  width?: number;
  /** Take height, width and channels from model.inputs[0].shape ([null, H, W, C]; [null, H, W] means C = 1). */
  model?: { inputs: ReadonlyArray<{ shape: ReadonlyArray<number | null> }> };
  /** 1 (grayscale) or 3 (RGB) (default: the model's, else 3). Alpha is flattened onto `background`. */
  channels?: 1 | 3;
  /**
   * '0..1' (default): v/255; '0..255': v; '-1..1': v/127.5 − 1; { mean, std }: (v/255 − mean)/std,
   * per channel (mean and std in 0..1 units, e.g. ImageNet's [0.485, 0.456, 0.406] / [0.229, 0.224, 0.225]).
   */
  scale?: PixelScaling;
  /**
   * Invert the pixels before scaling: v/255 becomes 1 − v/255 (default false). For models trained
   * on light-on-dark images (MNIST: white digits on black) given dark-on-light ones.
   */
  invert?: boolean;
  /** How the image is fitted to height×width (default 'fill': stretch; 'cover' crops, 'contain' letterboxes). */
  fit?: 'fill' | 'cover' | 'contain';
  /** Resampling kernel (default 'lanczos3'; 'nearest' keeps pixel values; 'linear', 'cubic'). */
  kernel?: 'nearest' | 'linear' | 'cubic' | 'lanczos3';
  /** Colour transparent pixels are flattened onto (default '#ffffff'). */
  background?: string;
}

interface Resolved {
  height?: number;
  width?: number;
  channels: 1 | 3;
  mean: number[];
  std: number[];
  invert: boolean;
  fit: string;
  kernel: string;
  background: string;
}

function positiveInt(v: unknown, argument: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) {
    throw new LrpArgumentError(argument, `must be an integer in 1..65535 px, got ${String(v)}.`);
  }
  return v;
}

function resolveOptions(options: ReadImageOptions): Resolved {
  if (typeof options !== 'object' || options === null) throw new LrpArgumentError('options', 'expected an options object, e.g. { height: 28, width: 28, channels: 1 }.');
  let height = positiveInt(options.height, 'options.height');
  let width = positiveInt(options.width, 'options.width');
  let channels = options.channels;
  if (options.model !== undefined) {
    const shape = options.model?.inputs?.[0]?.shape;
    if (!Array.isArray(shape) || (shape.length !== 3 && shape.length !== 4)) {
      throw new LrpArgumentError('options.model', `expected a model whose first input is [null, H, W, C] or [null, H, W], got ${JSON.stringify(shape)}.`);
    }
    const [, mh, mw, mc] = shape;
    if (height === undefined && typeof mh === 'number') height = mh;
    if (width === undefined && typeof mw === 'number') width = mw;
    const c = shape.length === 3 ? 1 : mc;
    if (channels === undefined && (c === 1 || c === 3)) channels = c;
    else if (channels === undefined && typeof c === 'number') {
      throw new LrpArgumentError('options.model', `the model's input has ${c} channels; images can be read with 1 or 3.`);
    }
  }
  if ((height === undefined) !== (width === undefined)) {
    throw new LrpArgumentError(height === undefined ? 'options.height' : 'options.width', 'give both height and width (or neither, to keep the images’ size).');
  }
  const ch = channels ?? 3;
  if (ch !== 1 && ch !== 3) throw new LrpArgumentError('options.channels', `must be 1 (grayscale) or 3 (RGB), got ${String(channels)}.`);
  const scale = options.scale ?? '0..1';
  let mean: number[];
  let std: number[];
  if (scale === '0..1') [mean, std] = [[0], [1]];
  else if (scale === '0..255') [mean, std] = [[0], [1 / 255]];
  else if (scale === '-1..1') [mean, std] = [[0.5], [0.5]];
  else if (typeof scale === 'object' && scale !== null && 'mean' in scale && 'std' in scale) {
    const list = (v: number | readonly number[], name: string): number[] => {
      const a = typeof v === 'number' ? [v] : Array.isArray(v) ? [...v] : [];
      if ((a.length !== 1 && a.length !== ch) || !a.every((x) => typeof x === 'number' && Number.isFinite(x))) {
        throw new LrpArgumentError(`options.scale.${name}`, `expected a number or ${ch} numbers (one per channel), got ${JSON.stringify(v)}.`);
      }
      return a;
    };
    mean = list(scale.mean, 'mean');
    std = list(scale.std, 'std');
    if (std.some((s) => s === 0)) throw new LrpArgumentError('options.scale.std', 'must not be 0.');
  } else {
    throw new LrpArgumentError('options.scale', `expected '0..1', '0..255', '-1..1' or { mean, std }, got ${JSON.stringify(scale)}.`);
  }
  const invert = options.invert ?? false;
  if (typeof invert !== 'boolean') throw new LrpArgumentError('options.invert', `expected true or false, got ${JSON.stringify(invert)}.`);
  const fit = options.fit ?? 'fill';
  if (!['fill', 'cover', 'contain'].includes(fit)) throw new LrpArgumentError('options.fit', `expected 'fill', 'cover' or 'contain', got ${JSON.stringify(fit)}.`);
  const kernel = options.kernel ?? 'lanczos3';
  if (!['nearest', 'linear', 'cubic', 'lanczos3'].includes(kernel)) {
    throw new LrpArgumentError('options.kernel', `expected 'nearest', 'linear', 'cubic' or 'lanczos3', got ${JSON.stringify(kernel)}.`);
  }
  const background = options.background ?? '#ffffff';
  if (typeof background !== 'string') throw new LrpArgumentError('options.background', `expected a CSS colour string like '#ffffff', got ${typeof background}.`);
  return { height, width, channels: ch, mean, std, invert, fit, kernel, background };
}

const DECODABLE = ['png', 'jpeg', 'webp', 'gif', 'tiff'];

/** Decodes one file to raw uint8 pixels [H,W,C] with the resolved options. */
async function decode(sharp: SharpFactory, file: string, o: Resolved): Promise<{ data: Uint8Array; width: number; height: number }> {
  let buf: Buffer;
  try {
    buf = await fs.promises.readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new LrpImageError(file, `Cannot read image ${file}: ${why}.`);
  }
  let format: string | undefined;
  try {
    format = (await sharp(buf).metadata()).format;
  } catch (e) {
    throw new LrpImageError(file, `${file} is not an image sharp can read (expected PNG or JPEG; ${(e as Error).message.split('\n')[0]}).`);
  }
  if (format === undefined || !DECODABLE.includes(format)) {
    throw new LrpImageError(file, `${file} is a ${format ?? 'unknown'} file, not a PNG or JPEG image.`);
  }
  try {
    let s = sharp(buf, { failOn: 'truncated' }).rotate().flatten({ background: o.background });
    if (o.height !== undefined && o.width !== undefined) s = s.resize(o.width, o.height, { fit: o.fit, kernel: o.kernel });
    s = o.channels === 1 ? s.grayscale() : s.toColourspace('srgb');
    const { data, info } = await s.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== o.channels || (info.depth !== undefined && info.depth !== 'uchar')) {
      throw new Error(`decoded ${info.channels} channels of ${info.depth ?? 'uchar'}, expected ${o.channels} of uchar`);
    }
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  } catch (e) {
    throw new LrpImageError(file, `Cannot decode ${file} (${format}): ${(e as Error).message.split('\n')[0]}. The file may be truncated or corrupt.`);
  }
}

/**
 * Reads PNG/JPEG files into one float32 batch [N, H, W, C]: decoded with sharp (EXIF orientation
 * applied, transparency flattened onto `background`), resized to height×width (or the model's
 * input size), converted to 1 or 3 channels, optionally inverted, and scaled (default 0..1).
 * @param paths one path or a list (one sample each, in order)
 * @param options size, channels, scaling; or `model` to take them from its input shape
 * @throws {LrpImageError} naming the file when it is missing, not an image, truncated or corrupt;
 *   or when images of different sizes are read without a target size
 * @throws {LrpError} when sharp is not installed
 */
export async function readImages(paths: string | readonly string[], options: ReadImageOptions = {}): Promise<tf.Tensor4D> {
  const list = typeof paths === 'string' ? [paths] : paths;
  if (!Array.isArray(list) || list.length === 0 || !list.every((p) => typeof p === 'string' && p !== '')) {
    throw new LrpArgumentError('paths', 'expected a file path or a non-empty list of file paths.');
  }
  const o = resolveOptions(options);
  const sharp = await loadSharp();
  const decoded = await Promise.all(list.map((p) => decode(sharp, p, o)));
  const { width, height } = decoded[0];
  decoded.forEach((d, i) => {
    if (d.width !== width || d.height !== height) {
      throw new LrpImageError(list[i], `${list[i]} is ${d.width}×${d.height} but ${list[0]} is ${width}×${height}; pass { height, width } (or model) to resize them to one size.`);
    }
  });
  const c = o.channels;
  const per = height * width * c;
  const out = new Float32Array(list.length * per);
  const mean = Array.from({ length: c }, (_, k) => o.mean[o.mean.length === 1 ? 0 : k]);
  const inv = Array.from({ length: c }, (_, k) => 1 / o.std[o.std.length === 1 ? 0 : k]);
  decoded.forEach((d, i) => {
    const base = i * per;
    for (let j = 0; j < per; j++) {
      const k = j % c;
      const v = d.data[j] / 255;
      out[base + j] = ((o.invert ? 1 - v : v) - mean[k]) * inv[k];
    }
  });
  return tf.tensor4d(out, [list.length, height, width, c]);
}

/** Reads one PNG/JPEG file as [1, H, W, C] float32; see {@link readImages}. */
export async function readImage(file: string, options: ReadImageOptions = {}): Promise<tf.Tensor4D> {
  if (typeof file !== 'string' || file === '') throw new LrpArgumentError('file', 'expected a file path.');
  return readImages([file], options);
}

// ---- writing ------------------------------------------------------------------------------

/** Options of {@link writeImage}. */
export interface WriteImageOptions {
  /** 'png' or 'jpeg' (default: from the extension: .png, .jpg, .jpeg). */
  format?: 'png' | 'jpeg';
  /** JPEG quality 1..100 (default 90). */
  quality?: number;
}

/** The format for a path: explicit, or from its extension. */
export function imageFormat(file: string, format?: unknown): 'png' | 'jpeg' {
  if (format !== undefined) {
    if (format !== 'png' && format !== 'jpeg') throw new LrpArgumentError('options.format', `expected 'png' or 'jpeg', got ${JSON.stringify(format)}.`);
    return format;
  }
  const ext = path.extname(file).toLowerCase();
  if (ext === '.png') return 'png';
  if (ext === '.jpg' || ext === '.jpeg') return 'jpeg';
  throw new LrpArgumentError('path', `cannot tell the image format of ${JSON.stringify(file)} from its extension; end it in .png, .jpg or .jpeg, or pass { format: 'png' | 'jpeg' }.`);
}

/** Converts an image tensor [H,W,C] or [1,H,W,C] (C = 1, 3, 4) to bytes; float is 0..1, int32 0..255. */
async function toBytes(image: tf.Tensor, argument: string): Promise<{ data: Uint8Array; height: number; width: number; channels: number }> {
  if (!(image instanceof tf.Tensor) || image.isDisposed) throw new LrpArgumentError(argument, 'expected a (not disposed) tf.Tensor [H,W,C] or [1,H,W,C].');
  const shape = image.rank === 4 && image.shape[0] === 1 ? image.shape.slice(1) : image.shape;
  if (shape.length !== 3 || ![1, 3, 4].includes(shape[2]) || shape[0] < 1 || shape[1] < 1) {
    throw new LrpArgumentError(argument, `expected shape [H,W,C] or [1,H,W,C] with C = 1, 3 or 4, got [${image.shape.join(',')}]; for a batch write one image per sample.`);
  }
  if (image.dtype !== 'float32' && image.dtype !== 'int32') {
    throw new LrpArgumentError(argument, `expected float32 (0..1) or int32 (0..255), got ${image.dtype}.`);
  }
  const values = await image.data();
  const data = new Uint8Array(values.length);
  const isFloat = image.dtype === 'float32';
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (Number.isNaN(v)) throw new LrpArgumentError(argument, `value ${i} is NaN; an image needs finite values (${isFloat ? '0..1' : '0..255'}).`);
    const b = isFloat ? Math.round(v * 255) : v;
    data[i] = b < 0 ? 0 : b > 255 ? 255 : b;
  }
  return { data, height: shape[0], width: shape[1], channels: shape[2] };
}

/** Writes bytes to `file` atomically: a temporary file in the same folder, then a rename. */
export async function writeAtomic(file: string, bytes: Uint8Array): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  try {
    await fs.promises.writeFile(tmp, bytes);
    await fs.promises.rename(tmp, file);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? `the folder ${dir} does not exist` : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new LrpImageError(file, `Cannot write ${file}: ${why}.`);
  }
}

/**
 * Writes an image tensor [H,W,C] or [1,H,W,C] (C = 1, 3 or 4; float32 in 0..1 or int32 in
 * 0..255, clipped) as PNG or JPEG, atomically (temporary file + rename). The tensor is not disposed.
 * @returns the path written
 */
export async function writeImage(file: string, image: tf.Tensor, options: WriteImageOptions = {}): Promise<string> {
  if (typeof file !== 'string' || file === '') throw new LrpArgumentError('path', 'expected a file path ending in .png, .jpg or .jpeg.');
  const format = imageFormat(file, options.format);
  const quality = options.quality ?? 90;
  if (typeof quality !== 'number' || !Number.isInteger(quality) || quality < 1 || quality > 100) {
    throw new LrpArgumentError('options.quality', `must be an integer in 1..100, got ${String(quality)}.`);
  }
  const { data, height, width, channels } = await toBytes(image, 'image');
  if (format === 'png') {
    // our encoder: no sharp needed, and ~12× faster for small pictures
    await writeAtomic(file, encodePng(width, height, channels, data));
    return file;
  }
  const sharp = await loadSharp();
  let encoded: Buffer;
  try {
    let s = sharp(Buffer.from(data.buffer, data.byteOffset, data.byteLength), { raw: { width, height, channels } });
    if (channels === 1) s = s.toColourspace('b-w'); // a one-channel file (sharp would write RGB)
    encoded = await (channels === 4 ? s.removeAlpha() : s).jpeg({ quality, chromaSubsampling: '4:4:4' }).toBuffer();
  } catch (e) {
    throw new LrpImageError(file, `Cannot encode ${file} as ${format}: ${(e as Error).message.split('\n')[0]}.`);
  }
  await writeAtomic(file, encoded);
  return file;
}
