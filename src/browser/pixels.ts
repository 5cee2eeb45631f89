/**
 * Relevance (or a finished heatmap) → RGBA bytes, ready for a canvas. The colours are computed
 * with tf ops on the current backend (on the GPU with webgl); only the final bytes are read back.
 * No browser API is used here, so this part also runs in Node.
 */
import * as tf from '@tensorflow/tfjs';
import { LrpArgumentError } from '../errors.js';
import { heatmap } from '../heatmap/heatmap.js';
import { overlay } from '../heatmap/overlay.js';
import type { HeatmapOptions } from '../heatmap/heatmap.js';
import type { OverlayOptions } from '../heatmap/overlay.js';

/** Options of {@link heatmapRgba}, {@link toImageData}, {@link toImageBitmap} and {@link drawHeatmap}. */
export interface BrowserHeatmapOptions extends Omit<HeatmapOptions, 'output' | 'alpha'> {
  /**
   * What the tensor is (default 'relevance'):
   * - 'relevance': relevance [N,H,W,C], [N,H,W] or, for one sample, [H,W] — coloured with
   *   {@link heatmap} and the colour options of this object.
   * - 'heatmap': colours already, [N,H,W,3|4] or [H,W,3|4], float32 in 0..1 or int32 in 0..255
   *   (e.g. `heatmap(r, { output: 'int32' })`); the colour options are ignored.
   */
  from?: 'relevance' | 'heatmap';
  /** Which sample of the batch to draw (default 0). */
  sample?: number;
  /**
   * Blend the heatmap onto this image: [N,H,W,1|3] (the same sample is taken; N may be 1) or
   * [H,W,1|3], values in 0..1. When the image's size differs from the heatmap's, the heatmap is
   * resized to it first (see `resize`). `alpha` (default 0.5) and `mode` as in {@link overlay}.
   */
  overlay?: OverlayOptions & { image: tf.Tensor };
  /** Output width in pixels (default: the heatmap's, or the overlay image's, width). */
  width?: number;
  /** Output height in pixels (default: the heatmap's, or the overlay image's, height). */
  height?: number;
  /** How the heatmap is resized (default 'nearest': every input value stays a sharp square). */
  resize?: 'nearest' | 'bilinear';
}

/** RGBA bytes of one image, row-major, 4 bytes a pixel (the layout of ImageData). */
export interface RgbaPixels {
  readonly data: Uint8ClampedArray;
  readonly width: number;
  readonly height: number;
}

function checkSize(value: unknown, argument: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 16384) {
    throw new LrpArgumentError(argument, `must be an integer number of pixels in 1..16384, got ${String(value)}; leave it out to keep the heatmap's size.`);
  }
  return value;
}

function resizeTo(x: tf.Tensor4D, height: number, width: number, mode: 'nearest' | 'bilinear'): tf.Tensor4D {
  if (x.shape[1] === height && x.shape[2] === width) return x;
  return mode === 'nearest' ? tf.image.resizeNearestNeighbor(x, [height, width], true) : tf.image.resizeBilinear(x, [height, width], true);
}

/** The sample `index` of a batched ([N,...], rank `batchedRank`) or single tensor as [1,...]. */
function pick(t: tf.Tensor, index: number, batchedRank: number, argument: string): tf.Tensor {
  if (t.rank === batchedRank - 1) return tf.expandDims(t, 0);
  if (index >= t.shape[0]) {
    if (t.shape[0] === 1 && argument === 'options.overlay.image') return t;
    throw new LrpArgumentError('options.sample', `sample ${index} is out of range: ${argument} has ${t.shape[0]} sample(s) [${t.shape.join(',')}].`);
  }
  return tf.slice(t, [index, ...new Array<number>(batchedRank - 1).fill(0)], [1, ...new Array<number>(batchedRank - 1).fill(-1)]);
}

/** Validated colours [1,H,W,3|4] float32 in 0..1 of the chosen sample. Call inside tf.tidy. */
function colorsOf(input: tf.Tensor, options: BrowserHeatmapOptions, index: number): tf.Tensor4D {
  if (options.from === 'heatmap') {
    const ok = (input.rank === 4 || input.rank === 3) && (input.shape[input.rank - 1] === 3 || input.shape[input.rank - 1] === 4);
    if (!ok) {
      throw new LrpArgumentError('input', `with from: 'heatmap' expected colours [N,H,W,3|4] or [H,W,3|4], got [${input.shape.join(',')}]; pass relevance with from: 'relevance' (the default).`);
    }
    if (input.dtype !== 'float32' && input.dtype !== 'int32') {
      throw new LrpArgumentError('input', `with from: 'heatmap' expected float32 (0..1) or int32 (0..255) colours, got ${input.dtype}.`);
    }
    const one = pick(input, index, 4, 'input');
    const f = input.dtype === 'int32' ? tf.div(tf.cast(one, 'float32'), 255) : one;
    return tf.clipByValue(f, 0, 1) as tf.Tensor4D;
  }
  if (options.from !== undefined && options.from !== 'relevance') {
    throw new LrpArgumentError('options.from', `unknown value ${JSON.stringify(options.from)}; use 'relevance' or 'heatmap'.`);
  }
  if (input.rank < 2 || input.rank > 4) {
    throw new LrpArgumentError('input', `expected relevance [N,H,W,C], [N,H,W] or [H,W], got [${input.shape.join(',')}]; flatten other shapes to an image first.`);
  }
  // [H,W] is one sample; [N,H,W] and [N,H,W,C] are batches (heatmap() takes them as they are).
  const batched = input.rank === 2 ? tf.expandDims(input, 0) : input;
  const one = pick(batched, index, batched.rank, 'input');
  const { from: _from, sample: _sample, overlay: _overlay, width: _w, height: _h, resize: _r, ...colorOptions } = options;
  return heatmap(one, { ...colorOptions, output: 'float' });
}

/** The RGBA [1,H,W,4] int32 0..255 picture the options describe. Call inside tf.tidy. */
function rgbaTensor(input: tf.Tensor, options: BrowserHeatmapOptions): tf.Tensor4D {
  const index = options.sample ?? 0;
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0) {
    throw new LrpArgumentError('options.sample', `must be a non-negative integer, got ${String(index)}.`);
  }
  const width = checkSize(options.width, 'options.width');
  const height = checkSize(options.height, 'options.height');
  const mode = options.resize ?? 'nearest';
  if (mode !== 'nearest' && mode !== 'bilinear') {
    throw new LrpArgumentError('options.resize', `unknown resize mode ${JSON.stringify(mode)}; use 'nearest' or 'bilinear'.`);
  }
  let colors = colorsOf(input, options, index);
  if (options.overlay !== undefined) {
    const { image, ...blend } = options.overlay;
    if (!(image instanceof tf.Tensor) || (image.rank !== 3 && image.rank !== 4) || (image.shape[image.rank - 1] !== 1 && image.shape[image.rank - 1] !== 3)) {
      const got = image instanceof tf.Tensor ? `[${image.shape.join(',')}]` : typeof image;
      throw new LrpArgumentError('options.overlay.image', `expected an image [N,H,W,1|3] or [H,W,1|3] with values in 0..1, got ${got}.`);
    }
    const img = pick(image, index, 4, 'options.overlay.image') as tf.Tensor4D;
    colors = resizeTo(tf.slice(colors, [0, 0, 0, 0], [-1, -1, -1, 3]), img.shape[1], img.shape[2], mode);
    colors = overlay(img, colors, blend);
  }
  colors = resizeTo(colors, height ?? colors.shape[1], width ?? colors.shape[2], mode);
  if (colors.shape[3] === 3) colors = tf.concat([colors, tf.onesLike(tf.slice(colors, [0, 0, 0, 0], [-1, -1, -1, 1]))], 3);
  return tf.cast(tf.round(tf.mul(tf.clipByValue(colors, 0, 1), 255)), 'int32') as tf.Tensor4D;
}

/**
 * One sample of relevance (or of a heatmap) as RGBA bytes: colours, optional overlay and resize
 * run as tf ops on the current backend; one read-back at the end. Works everywhere (Node too);
 * {@link toImageData} and {@link drawHeatmap} build on it. Leaks no tensors.
 */
export async function heatmapRgba(input: tf.Tensor, options: BrowserHeatmapOptions = {}): Promise<RgbaPixels> {
  if (!(input instanceof tf.Tensor)) {
    throw new LrpArgumentError('input', `expected a tf.Tensor (relevance from explain(), or a heatmap with from: 'heatmap'), got ${input === null ? 'null' : typeof input}.`);
  }
  if (options === null || typeof options !== 'object') {
    throw new LrpArgumentError('options', `expected an options object, got ${String(options)}.`);
  }
  const rgba = tf.tidy(() => rgbaTensor(input, options));
  try {
    const [, height, width] = rgba.shape;
    const values = await rgba.data();
    return { data: Uint8ClampedArray.from(values), width, height };
  } finally {
    rgba.dispose();
  }
}
