/**
 * Browser helpers: relevance → ImageData, ImageBitmap, or straight onto a canvas. They use the
 * browser's ImageData / createImageBitmap / canvas 2D context, looked up on globalThis when called
 * (never at import), so this module loads in Node and in workers; calling a helper where the API
 * is missing throws an {@link LrpEnvironmentError} that says what to use instead.
 */
import * as tf from '@tensorflow/tfjs';
import { LrpArgumentError, LrpEnvironmentError } from '../errors.js';
import { heatmapRgba } from './pixels.js';
import type { BrowserHeatmapOptions } from './pixels.js';


/** A canvas to draw on: an `HTMLCanvasElement` or an `OffscreenCanvas` (workers). */
export type HeatmapCanvas = HTMLCanvasElement | OffscreenCanvas;

type ImageDataConstructor = new (data: Uint8ClampedArray, width: number, height: number) => ImageData;
type CreateImageBitmap = (image: ImageData) => Promise<ImageBitmap>;

const NODE_HINT = 'In Node.js use heatmapRgba() for the RGBA bytes (or heatmap() for a tensor).';

function browserApi<T>(name: 'ImageData' | 'createImageBitmap', caller: string): T {
  const api = (globalThis as Record<string, unknown>)[name];
  if (typeof api !== 'function') {
    throw new LrpEnvironmentError(name, `${caller}() needs the browser API ${name}, which is not available here (globalThis.${name} is undefined). Call it in a browser or a worker. ${NODE_HINT}`);
  }
  return api as T;
}

/**
 * One sample of relevance (or of a heatmap with `from: 'heatmap'`) as an `ImageData` (RGBA,
 * opaque unless the heatmap has its own alpha), coloured and optionally blended and resized on
 * the current backend (see {@link BrowserHeatmapOptions}). Browser and workers only.
 */
export async function toImageData(input: tf.Tensor, options: BrowserHeatmapOptions = {}): Promise<ImageData> {
  const ImageDataCtor = browserApi<ImageDataConstructor>('ImageData', 'toImageData');
  const px = await heatmapRgba(input, options);
  return new ImageDataCtor(px.data, px.width, px.height);
}

/**
 * As {@link toImageData}, as an `ImageBitmap` (for `ctx.drawImage`, WebGL textures, or
 * transferring from a worker). Browser and workers only.
 */
export async function toImageBitmap(input: tf.Tensor, options: BrowserHeatmapOptions = {}): Promise<ImageBitmap> {
  const create = browserApi<CreateImageBitmap>('createImageBitmap', 'toImageBitmap');
  browserApi<ImageDataConstructor>('ImageData', 'toImageBitmap');
  return create(await toImageData(input, options));
}

/**
 * Draws one sample of relevance (or of a heatmap with `from: 'heatmap'`) onto a canvas: the
 * canvas is resized to the picture (set `width`/`height` to draw larger; scale with CSS
 * `image-rendering: pixelated` to keep squares sharp) and the pixels replaced. Blend onto the
 * input with `overlay: { image, alpha }`. Returns the drawn `ImageData`. The canvas must not have
 * a WebGL context (a canvas has one kind of context). Browser and workers only; leaks no tensors.
 *
 * ```ts
 * const r = explainer.explain(x, 'max');
 * await drawHeatmap(canvas, r, { colormap: 'bwr', width: 280, height: 280 });
 * await drawHeatmap(overlayCanvas, r, { overlay: { image: x, alpha: 0.6 }, width: 280, height: 280 });
 * r.dispose();
 * ```
 */
export async function drawHeatmap(canvas: HeatmapCanvas, input: tf.Tensor, options: BrowserHeatmapOptions = {}): Promise<ImageData> {
  const target = canvas as unknown as { getContext?: unknown; width?: unknown; height?: unknown } | null;
  if (target === null || typeof target !== 'object' || typeof target.getContext !== 'function') {
    throw new LrpArgumentError('canvas', `expected an HTMLCanvasElement or OffscreenCanvas, got ${target === null ? 'null' : typeof target}; e.g. document.querySelector('canvas').`);
  }
  browserApi<ImageDataConstructor>('ImageData', 'drawHeatmap');
  const ctx = canvas.getContext('2d') as CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D | null;
  if (ctx === null) {
    throw new LrpArgumentError('canvas', 'has no 2D context (it already has a WebGL or bitmaprenderer context); draw on a fresh canvas.');
  }
  const image = await toImageData(input, options);
  if (canvas.width !== image.width) canvas.width = image.width;
  if (canvas.height !== image.height) canvas.height = image.height;
  ctx.putImageData(image, 0, 0);
  return image;
}
