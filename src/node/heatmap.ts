/**
 * Heatmaps as image files in Node: saveHeatmap (one file per sample) and saveGrid (a batch in one
 * picture). The pictures are made by the tf-op functions of src/heatmap; the files are written
 * with sharp (see ./image).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { LrpArgumentError } from '../errors.js';
import { heatmap, checkRelevance, heatmapOptionsOf, type HeatmapOptions } from '../heatmap/heatmap.js';
import { checkContour, checkFactor, drawContour, overlay, upscale, type ContourOptions, type OverlayOptions } from '../heatmap/overlay.js';
import { heatmapGrid, type GridOptions } from '../heatmap/grid.js';
import { imageFormat, LrpImageError, writeImage, type WriteImageOptions } from './image.js';

/** Options of {@link saveHeatmap}: heatmap() options, overlay options (with `image`), upscaling, contour, file format. */
export interface SaveHeatmapOptions extends Omit<HeatmapOptions, 'alpha' | 'output'>, OverlayOptions, WriteImageOptions {
  /** Blend the heatmap onto this image [N,H,W,1|3] in 0..1 (N may be 1) with `alpha` and `mode`. */
  image?: tf.Tensor;
  /** Integer nearest-neighbour upscale (default 1), e.g. 8 to make a 28×28 map 224×224. */
  scale?: number;
  /** Outline of the top-k relevance mask drawn on the picture. */
  contour?: ContourOptions;
}

/**
 * Creates the folder a picture goes into (and its parents), like `mkdir -p`.
 * @throws {LrpImageError} naming the file when the folder cannot be created (a file in the way, no permission)
 */
function ensureParent(file: string): void {
  const dir = path.dirname(path.resolve(file));
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'EEXIST' || code === 'ENOTDIR' ? 'a file of that name is in the way' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new LrpImageError(file, `Cannot create the folder ${dir} for ${file}: ${why}.`);
  }
}

/** The file name of sample i: `{i}` in the path is replaced by i. */
function samplePath(pattern: string, i: number): string {
  return pattern.split('{i}').join(String(i));
}

/**
 * Colours relevance with heatmap() (optionally blended onto `image`, upscaled, with a contour)
 * and writes it as PNG or JPEG (from the extension, or `format`). For a batch of N > 1 the path
 * must contain `{i}`, replaced by the sample index (`out/heat-{i}.png`). Missing parent folders
 * are created.
 * @param file the file to write (atomically); `{i}` for batches
 * @param relevance [N,H,W,C] or [N,H,W]
 * @returns the paths written, in sample order
 */
export async function saveHeatmap(file: string, relevance: tf.Tensor, options: SaveHeatmapOptions = {}): Promise<string[]> {
  if (typeof file !== 'string' || file === '') throw new LrpArgumentError('path', "expected a file path ending in .png, .jpg or .jpeg (with '{i}' for a batch).");
  const rel = checkRelevance(relevance);
  imageFormat(file, options.format); // fail before any work
  const n = rel.shape[0];
  if (n > 1 && !file.includes('{i}')) {
    throw new LrpArgumentError('path', `the relevance holds ${n} samples but ${JSON.stringify(file)} has no '{i}'; use e.g. 'heat-{i}.png' (one file per sample) or saveGrid() for one picture.`);
  }
  const scale = checkFactor(options.scale ?? 1, 'options.scale');
  const contour = options.contour === undefined ? undefined : checkContour(options.contour);
  const heatOptions = heatmapOptionsOf(options);
  const picture = tf.tidy(() => {
    let p = heatmap(rel, heatOptions);
    if (options.image !== undefined) p = overlay(options.image, p, { alpha: options.alpha, mode: options.mode });
    p = upscale(p, scale);
    if (contour !== undefined) p = drawContour(p, rel, contour);
    return p;
  });
  const written: string[] = [];
  try {
    for (let i = 0; i < n; i++) {
      ensureParent(samplePath(file, i));
      const one = tf.slice(picture, [i, 0, 0, 0], [1, -1, -1, -1]);
      try {
        written.push(await writeImage(samplePath(file, i), one, { format: options.format, quality: options.quality }));
      } finally {
        one.dispose();
      }
    }
  } finally {
    picture.dispose();
  }
  return written;
}

/** Options of {@link saveGrid}: those of heatmapGrid() plus the file format. */
export interface SaveGridOptions extends GridOptions, WriteImageOptions {}

/**
 * Builds heatmapGrid(options) (rows = samples; input | heatmap | overlay; labels in the built-in
 * font) and writes it as one PNG or JPEG (missing parent folders are created).
 * @returns the path written and the picture's size
 */
export async function saveGrid(file: string, options: SaveGridOptions): Promise<{ path: string; width: number; height: number }> {
  if (typeof file !== 'string' || file === '') throw new LrpArgumentError('path', 'expected a file path ending in .png, .jpg or .jpeg.');
  imageFormat(file, options?.format);
  const grid = heatmapGrid(options);
  try {
    ensureParent(file);
    await writeImage(file, grid, { format: options.format, quality: options.quality });
    return { path: file, width: grid.shape[1], height: grid.shape[0] };
  } finally {
    grid.dispose();
  }
}
