/**
 * A grid image of a batch for reports: one row per sample (input | heatmap | overlay), upscaled
 * by nearest neighbour, with separators and an optional label per row ("7 (0.98)") drawn with the
 * built-in bitmap font. Pure tf ops (plus the font's pixels): works in Node and in the browser.
 */
import * as tf from '@tensorflow/tfjs';
import { LrpArgumentError } from '../errors.js';
import { GLYPH_HEIGHT, renderText } from './font.js';
import { checkRelevance, heatmap, heatmapOptionsOf, type HeatmapOptions } from './heatmap.js';
import { checkContour, checkFactor, drawContour, overlay, upscale, type ContourOptions, type OverlayOptions } from './overlay.js';

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
  /** Samples side by side per row of the grid (default 1: one sample per row). */
  samplesPerRow?: number;
  /** Gap between panels and rows, and the outer margin, in px (default 2); 4× between samples side by side. */
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

/** Where one sample's block is in a grid image (px, origin top left). */
export interface GridCell {
  /** Left x of the block (its first panel). */
  readonly x: number;
  /** Top y of its label strip (= panelY without labels). */
  readonly labelY: number;
  /** Left x of its label text. */
  readonly textX: number;
  /** Top y of its label text. */
  readonly textY: number;
  /** Top y of its panels. */
  readonly panelY: number;
  /** Left x of each of its panels, in column order. */
  readonly panelX: readonly number[];
}

/** Where things are in a grid image (px, origin top left). */
export interface GridLayout {
  /** Width of the whole image. */
  readonly width: number;
  /** Height of the whole image. */
  readonly height: number;
  /** Panel width after upscaling. */
  readonly panelWidth: number;
  /** Panel height after upscaling. */
  readonly panelHeight: number;
  /** The integer nearest-neighbour upscale of the panels. */
  readonly scale: number;
  /** Size of a font pixel in px. */
  readonly fontScale: number;
  /** Height of each sample's label strip (0 without labels). */
  readonly labelHeight: number;
  /** Samples side by side in one row of the grid. */
  readonly samplesPerRow: number;
  /** Width of one sample's block (its panels and the separators between them). */
  readonly cellWidth: number;
  /** Horizontal gap between samples' blocks (4 separators). */
  readonly cellGap: number;
  /** One per sample, in order. */
  readonly cells: readonly GridCell[];
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
 * a `separator` margin around everything; samples in rows of `samplesPerRow` blocks, 4
 * separators apart; per block, a label strip (when `labels`) of height 12·fontScale with the text
 * at (x + 2·fontScale, labelY + 2·fontScale), then the panels side by side, `separator` px apart;
 * `separator` px between rows of blocks.
 */
export function gridLayout(
  n: number,
  height: number,
  width: number,
  options: Pick<GridOptions, 'scale' | 'separator' | 'fontScale' | 'samplesPerRow'> & { columns?: number; labels?: boolean } = {},
): GridLayout {
  const scale = options.scale === undefined ? Math.max(1, Math.ceil(96 / Math.max(1, height, width))) : checkFactor(options.scale, 'options.scale');
  const sep = checkInt(options.separator, 'options.separator', 0, 64, 2);
  const ph = height * scale;
  const pw = width * scale;
  const fontScale = checkInt(options.fontScale, 'options.fontScale', 1, 16, ph >= 64 ? 2 : 1);
  const perRow = Math.max(1, Math.min(checkInt(options.samplesPerRow, 'options.samplesPerRow', 1, 1024, 1), n));
  const cols = options.columns ?? 3;
  const pad = 2 * fontScale;
  const labelHeight = options.labels === true ? GLYPH_HEIGHT * fontScale + 2 * pad : 0;
  const rowH = labelHeight + ph + sep;
  const cellWidth = cols * (pw + sep) - sep;
  const cellGap = 4 * sep;
  const cells = Array.from({ length: n }, (_, i) => {
    const x = sep + (i % perRow) * (cellWidth + cellGap);
    const labelY = sep + Math.floor(i / perRow) * rowH;
    const panelX = Array.from({ length: cols }, (_, j) => x + j * (pw + sep));
    return { x, labelY, textX: x + pad, textY: labelY + pad, panelY: labelY + labelHeight, panelX };
  });
  return {
    width: 2 * sep + perRow * cellWidth + (perRow - 1) * cellGap,
    height: sep + Math.ceil(n / perRow) * rowH,
    panelWidth: pw,
    panelHeight: ph,
    scale,
    fontScale,
    labelHeight,
    samplesPerRow: perRow,
    cellWidth,
    cellGap,
    cells,
  };
}

/** The checked inputs of {@link heatmapGrid}. */
interface GridInputs {
  readonly rel: tf.Tensor;
  readonly n: number;
  readonly h: number;
  readonly w: number;
  readonly images: tf.Tensor | undefined;
  readonly columns: readonly GridColumn[];
  readonly labels: readonly string[] | undefined;
}

/** Step 1: the relevance, images, columns and labels of `options`, checked against each other. */
function checkGridInputs(options: GridOptions): GridInputs {
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
  return { rel, n, h, w, images, columns, labels };
}

/** Step 2: the label strips as coverage masks `[N, labelHeight, cellWidth]` (the font's pixels, built in JS). */
function labelCoverage(labels: readonly string[], layout: GridLayout): Float32Array {
  const { labelHeight, cellWidth: cw, fontScale } = layout;
  const coverage = new Float32Array(labels.length * labelHeight * cw);
  labels.forEach((label, i) => {
    const cell = layout.cells[i];
    const x0 = cell.textX - cell.x;
    const y0 = cell.textY - cell.labelY;
    const text = renderText(label, fontScale, cw - 2 * x0);
    for (let y = 0; y < text.height; y++) {
      for (let x = 0; x < text.width; x++) {
        if (text.data[y * text.width + x] === 1) coverage[(i * labelHeight + y0 + y) * cw + x0 + x] = 1;
      }
    }
  });
  return coverage;
}

/** Step 3 (inside a tidy): the upscaled panels `[N, ph, pw, 3]` in column order, the contour drawn on one of them. */
function renderPanels(inputs: GridInputs, options: GridOptions, scale: number): tf.Tensor4D[] {
  const { rel, n, h, w, images, columns } = inputs;
  const contour = options.contour === undefined ? undefined : checkContour(options.contour);
  const contourOn: GridColumn = columns.includes('overlay') ? 'overlay' : 'heatmap';
  const heat = heatmap(rel, heatmapOptionsOf(options));
  let rgbImages: tf.Tensor4D | null = null;
  if (images !== undefined) {
    const img = tf.clipByValue(tf.cast(images, 'float32'), 0, 1);
    rgbImages = tf.broadcastTo(images.shape[3] === 1 ? tf.tile(img, [1, 1, 1, 3]) : img, [n, h, w, 3]) as tf.Tensor4D;
  }
  return columns.map((c) => {
    let p: tf.Tensor4D;
    if (c === 'input') p = rgbImages as tf.Tensor4D;
    else if (c === 'heatmap') p = heat;
    else p = overlay(rgbImages as tf.Tensor4D, heat, { alpha: options.alpha, mode: options.mode });
    p = upscale(p, scale);
    if (contour !== undefined && c === contourOn) p = drawContour(p, rel, contour);
    return p;
  });
}

/** The colours and gap of the grid's frame. */
interface Frame {
  readonly bg: Rgb;
  readonly ink: Rgb;
  readonly sep: number;
}

/**
 * Step 4 (inside a tidy): the grid image from the panels: per sample a block (label strip over
 * its panels, `sep` apart, a separator below), then the rows of blocks, `cellGap` apart, blanks
 * at the end, inside an outer margin. Leading-axis slices and concatenations only: fast on every backend.
 */
function assembleGrid(panels: tf.Tensor4D[], coverage: Float32Array | null, layout: GridLayout, n: number, frame: Frame): tf.Tensor3D {
  const { labelHeight, panelHeight: ph, cellWidth: cw, cellGap: gap, samplesPerRow: perRow } = layout;
  const { sep } = frame;
  const bgColor = tf.tensor1d([...frame.bg], 'float32');
  const fill = (shape: number[]): tf.Tensor => tf.broadcastTo(bgColor, [...shape, 3]);
  // one block per sample [N, labelHeight + ph, cw]: label strip over the panels
  const pieces: tf.Tensor[] = [];
  panels.forEach((p, j) => pieces.push(...(j > 0 ? [fill([n, ph, sep])] : []), p));
  const parts: tf.Tensor[] = [];
  if (coverage !== null) {
    const cov = tf.tensor4d(coverage, [n, labelHeight, cw, 1]);
    parts.push(tf.add(tf.mul(bgColor, tf.sub(1, cov)), tf.mul(tf.tensor1d([...frame.ink], 'float32'), cov)));
  }
  parts.push(tf.concat(pieces, 2));
  let cells = tf.concat(parts, 1);
  const ch = labelHeight + ph + sep;
  cells = tf.concat([cells, fill([n, sep, cw])], 1);
  const rowsOfCells = Math.ceil(n / perRow);
  const rowImages: tf.Tensor[] = [];
  for (let r = 0; r < rowsOfCells; r++) {
    const items: tf.Tensor[] = [];
    for (let c = 0; c < perRow; c++) {
      const i = r * perRow + c;
      if (c > 0) items.push(fill([ch, gap]));
      items.push(i < n ? tf.reshape(tf.slice(cells, [i, 0, 0, 0], [1, -1, -1, -1]), [ch, cw, 3]) : fill([ch, cw]));
    }
    rowImages.push(items.length === 1 ? items[0] : tf.concat(items, 1));
  }
  const body = rowImages.length === 1 ? rowImages[0] : tf.concat(rowImages, 0);
  const framed = tf.concat([fill([rowsOfCells * ch, sep]), body, fill([rowsOfCells * ch, sep])], 1);
  return tf.concat([fill([sep, layout.width]), framed], 0) as tf.Tensor3D;
}

/**
 * Builds a grid image of a batch: float32 [height, width, 3] in 0..1 (see {@link gridLayout}).
 * Each row shows one sample's panels (default input | heatmap | overlay), upscaled by `scale`;
 * with `labels`, the row's label is drawn above it in the built-in 5×7 font.
 * @example heatmapGrid({ images: x, relevance: r, labels: ['7 (0.98)', '2 (0.91)'], colormap: 'bwr', alpha: 0.6 })
 */
export function heatmapGrid(options: GridOptions): tf.Tensor3D {
  const inputs = checkGridInputs(options);
  const { n, h, w, columns, labels } = inputs;
  const layout = gridLayout(n, h, w, {
    scale: options.scale,
    separator: options.separator,
    fontScale: options.fontScale,
    samplesPerRow: options.samplesPerRow,
    columns: columns.length,
    labels: labels !== undefined,
  });
  const frame: Frame = {
    bg: checkRgb(options.background, 'options.background', [1, 1, 1]),
    ink: checkRgb(options.textColor, 'options.textColor', [0.1, 0.1, 0.1]),
    sep: options.separator ?? 2,
  };
  if (options.contour !== undefined) checkContour(options.contour);
  const coverage = labels === undefined ? null : labelCoverage(labels, layout);
  return tf.tidy(() => assembleGrid(renderPanels(inputs, options, layout.scale), coverage, layout, n, frame));
}
