/**
 * A grid image of a batch for reports: one row per sample (input | heatmap | overlay), upscaled
 * by nearest neighbour, with separators and an optional label per row ("7 (0.98)") drawn with the
 * built-in bitmap font. Pure tf ops (plus the font's pixels): works in Node and in the browser.
 */
import * as tf from '@tensorflow/tfjs';
import { LrpArgumentError } from '../errors';
import { GLYPH_HEIGHT, renderText } from './font';
import { checkRelevance, heatmap, type HeatmapOptions } from './heatmap';
import { checkContour, checkFactor, drawContour, overlay, upscale, type ContourOptions, type OverlayOptions } from './overlay';

/** A panel of a grid row. */
export type GridColumn = 'input' | 'heatmap' | 'overlay';

/** An RGB colour, each value in 0..1. */
export type Rgb = readonly [number, number, number];

/** Options of {@link heatmapGrid}: heatmap() and overlay() options plus the layout. */
export interface GridOptions extends Omit<HeatmapOptions, 'alpha' | 'output'>, OverlayOptions {
  /** Relevance [N,H,W,C] or [N,H,W] (required). */
  relevance: tf.Tensor;
  /** Input images [N,H,W,1] or [N,H,W,3] in 0..1 (N may be 1); needed for 'input' and 'overlay'. */
  images?: tf.Tensor;
  /** One label per sample, drawn above its row, e.g. "true 7 / pred 7 (0.99)". ASCII; others show as a box. */
  labels?: readonly string[];
  /** Panels per row, in order (default ['input', 'heatmap', 'overlay'], or ['heatmap'] without images). */
  columns?: readonly GridColumn[];
  /** Integer nearest-neighbour upscale of every panel (default: the smallest that makes panels ≥ 96 px, at least 1). */
  scale?: number;
  /** Gap between panels and rows, and the outer margin, in px (default 2). */
  separator?: number;
  /** Background (gaps, label strips) colour (default [1, 1, 1], white). */
  background?: Rgb;
  /** Label text colour (default [0.1, 0.1, 0.1]). */
  textColor?: Rgb;
  /** Size of a font pixel in px (default 2 when panels are ≥ 64 px tall, else 1). */
  fontScale?: number;
  /** Outline of the top-k mask, drawn on the overlay panel (on the heatmap panel without one). */
  contour?: ContourOptions;
}

/** Where things are in a grid image (px, origin top left). */
export interface GridLayout {
  readonly width: number;
  readonly height: number;
  /** Panel size after upscaling. */
  readonly panelWidth: number;
  readonly panelHeight: number;
  readonly scale: number;
  readonly fontScale: number;
  /** Height of each row's label strip (0 without labels). */
  readonly labelHeight: number;
  /** Left x of each column's panels. */
  readonly columnX: readonly number[];
  /** Per sample: top y of its label strip, top left of its text, top y of its panels. */
  readonly rows: ReadonlyArray<{ readonly labelY: number; readonly textX: number; readonly textY: number; readonly panelY: number }>;
}

function checkRgb(v: unknown, argument: string, fallback: Rgb): Rgb {
  if (v === undefined) return fallback;
  if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && x >= 0 && x <= 1)) {
    throw new LrpArgumentError(argument, `expected [r, g, b] with values in 0..1, got ${JSON.stringify(v)}.`);
  }
  return [v[0], v[1], v[2]];
}

function checkInt(v: unknown, argument: string, min: number, max: number, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new LrpArgumentError(argument, `must be an integer in ${min}..${max}, got ${String(v)}.`);
  }
  return v;
}

/**
 * The layout of a grid of `n` samples with panels of `height`×`width` (before upscaling):
 * a `separator` margin around everything; per row, a label strip (when `labels`) of height
 * 8·fontScale + 4·fontScale with the text at (separator + 2·fontScale, labelY + 2·fontScale),
 * then the panels side by side, `separator` px apart.
 */
export function gridLayout(
  n: number,
  height: number,
  width: number,
  options: Pick<GridOptions, 'scale' | 'separator' | 'fontScale'> & { columns?: number; labels?: boolean } = {},
): GridLayout {
  const scale = options.scale === undefined ? Math.max(1, Math.ceil(96 / Math.max(1, height, width))) : checkFactor(options.scale, 'options.scale');
  const sep = checkInt(options.separator, 'options.separator', 0, 64, 2);
  const ph = height * scale;
  const pw = width * scale;
  const fontScale = checkInt(options.fontScale, 'options.fontScale', 1, 16, ph >= 64 ? 2 : 1);
  const cols = options.columns ?? 3;
  const pad = 2 * fontScale;
  const labelHeight = options.labels === true ? GLYPH_HEIGHT * fontScale + 2 * pad : 0;
  const rowH = labelHeight + ph + sep;
  const columnX = Array.from({ length: cols }, (_, j) => sep + j * (pw + sep));
  const rows = Array.from({ length: n }, (_, i) => {
    const labelY = sep + i * rowH;
    return { labelY, textX: sep + pad, textY: labelY + pad, panelY: labelY + labelHeight };
  });
  return { width: sep + cols * (pw + sep), height: sep + n * rowH, panelWidth: pw, panelHeight: ph, scale, fontScale, labelHeight, columnX, rows };
}

/**
 * Builds a grid image of a batch: float32 [height, width, 3] in 0..1 (see {@link gridLayout}).
 * Each row shows one sample's panels (default input | heatmap | overlay), upscaled by `scale`;
 * with `labels`, the row's label is drawn above it in the built-in 5×7 font.
 * @example heatmapGrid({ images: x, relevance: r, labels: ['7 (0.98)', '2 (0.91)'], colormap: 'bwr', alpha: 0.6 })
 */
export function heatmapGrid(options: GridOptions): tf.Tensor3D {
  if (typeof options !== 'object' || options === null) {
    throw new LrpArgumentError('options', 'expected { relevance, images?, labels?, columns?, scale?, … }.');
  }
  const rel = checkRelevance(options.relevance, 'options.relevance');
  const [n, h, w] = rel.shape;
  const images = options.images;
  if (images !== undefined) {
    if (!(images instanceof tf.Tensor) || images.rank !== 4 || (images.shape[3] !== 1 && images.shape[3] !== 3)) {
      const got = images instanceof tf.Tensor ? `[${images.shape.join(',')}]` : typeof images;
      throw new LrpArgumentError('options.images', `expected [N,H,W,1] or [N,H,W,3] with values in 0..1, got ${got}.`);
    }
    if (images.shape[1] !== h || images.shape[2] !== w || (images.shape[0] !== n && images.shape[0] !== 1)) {
      throw new LrpArgumentError('options.images', `shape [${images.shape.join(',')}] does not match relevance [${rel.shape.join(',')}]: N (or 1), H and W must agree.`);
    }
  }
  const columns = options.columns ?? (images === undefined ? ['heatmap'] : ['input', 'heatmap', 'overlay']);
  if (!Array.isArray(columns) || columns.length === 0 || !columns.every((c) => c === 'input' || c === 'heatmap' || c === 'overlay')) {
    throw new LrpArgumentError('options.columns', `expected a non-empty list of 'input', 'heatmap', 'overlay', got ${JSON.stringify(columns)}.`);
  }
  if (images === undefined && columns.some((c) => c !== 'heatmap')) {
    throw new LrpArgumentError('options.images', `columns ${JSON.stringify(columns)} need the input images; pass images [N,H,W,1|3] in 0..1 or use columns: ['heatmap'].`);
  }
  const labels = options.labels;
  if (labels !== undefined && (!Array.isArray(labels) || labels.length !== n || !labels.every((l) => typeof l === 'string'))) {
    throw new LrpArgumentError('options.labels', `expected ${n} strings (one per sample), got ${Array.isArray(labels) ? `${labels.length} entries` : typeof labels}.`);
  }
  const layout = gridLayout(n, h, w, { scale: options.scale, separator: options.separator, fontScale: options.fontScale, columns: columns.length, labels: labels !== undefined });
  const bg = checkRgb(options.background, 'options.background', [1, 1, 1]);
  const ink = checkRgb(options.textColor, 'options.textColor', [0.1, 0.1, 0.1]);
  const contour = options.contour === undefined ? undefined : checkContour(options.contour);
  const contourOn: GridColumn = columns.includes('overlay') ? 'overlay' : 'heatmap';
  const { scale, fontScale, labelHeight, width: gridW, panelHeight: ph } = layout;
  const sep = layout.columnX[0];

  // label strips as coverage masks [N, labelHeight, gridW] (the font's pixels, built in JS)
  let coverage: Float32Array | null = null;
  if (labels !== undefined) {
    coverage = new Float32Array(n * labelHeight * gridW);
    labels.forEach((label, i) => {
      const text = renderText(label, fontScale, gridW - 2 * layout.rows[i].textX);
      const x0 = layout.rows[i].textX;
      const y0 = layout.rows[i].textY - layout.rows[i].labelY;
      for (let y = 0; y < text.height; y++) {
        for (let x = 0; x < text.width; x++) {
          if (text.data[y * text.width + x] === 1) coverage![(i * labelHeight + y0 + y) * gridW + x0 + x] = 1;
        }
      }
    });
  }

  return tf.tidy(() => {
    const heatOptions: HeatmapOptions = {
      reduce: options.reduce,
      normalize: options.normalize,
      clipPercentile: options.clipPercentile,
      shared: options.shared,
      colormap: options.colormap,
    };
    const heat = heatmap(rel, heatOptions);
    let rgbImages: tf.Tensor4D | null = null;
    if (images !== undefined) {
      const img = tf.clipByValue(tf.cast(images, 'float32'), 0, 1);
      rgbImages = tf.broadcastTo(images.shape[3] === 1 ? tf.tile(img, [1, 1, 1, 3]) : img, [n, h, w, 3]) as tf.Tensor4D;
    }
    const panels = columns.map((c) => {
      let p: tf.Tensor4D;
      if (c === 'input') p = rgbImages as tf.Tensor4D;
      else if (c === 'heatmap') p = heat;
      else p = overlay(rgbImages as tf.Tensor4D, heat, { alpha: options.alpha, mode: options.mode });
      p = upscale(p, scale);
      if (contour !== undefined && c === contourOn) p = drawContour(p, rel, contour);
      return p;
    });
    const bgColor = tf.tensor1d([...bg], 'float32');
    const fill = (shape: number[]): tf.Tensor => tf.broadcastTo(bgColor, [...shape, 3]);
    const pieces: tf.Tensor[] = [];
    panels.forEach((p) => pieces.push(fill([n, ph, sep]), p));
    pieces.push(fill([n, ph, sep]));
    const rowParts: tf.Tensor[] = [];
    if (coverage !== null) {
      const cov = tf.tensor4d(coverage, [n, labelHeight, gridW, 1]);
      rowParts.push(tf.add(tf.mul(bgColor, tf.sub(1, cov)), tf.mul(tf.tensor1d([...ink], 'float32'), cov)));
    }
    rowParts.push(tf.concat(pieces, 2), fill([n, sep, gridW]));
    const rows = tf.reshape(tf.concat(rowParts, 1), [n * (labelHeight + ph + sep), gridW, 3]);
    return tf.concat([fill([sep, gridW]), rows], 0) as tf.Tensor3D;
  });
}
