/**
 * The files a batch run writes, all atomically (temp + rename):
 *
 *     heatmaps/<item>.png        relevance as a heatmap (image-shaped inputs)
 *     overlays/<item>.png        the heatmap blended onto the input (image files)
 *     relevance/<item>.npy       raw relevance, float32, the input's shape (--save-relevance)
 *     summary.json, summary.csv  one row per explained item (file, class, score, relevance sum, conservation)
 *     errors.jsonl               one line per failed item: index, file, reason
 *     aggregate/                 per-class aggregates: state.json (exact, mergeable), classes.json,
 *                                class-<c>/{mean,mean_abs,positive,negative}.npy (float64) and
 *                                mean.png, mean_abs.png
 *
 * `<item>` is the input path relative to the inputs' common folder without its extension; rows of
 * an `.npy` or JSON-lines file are `<file>/<row>`.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { heatmap } from '../../heatmap/heatmap.js';
import { overlay, upscale } from '../../heatmap/overlay.js';
import type { ColormapName } from '../../heatmap/colormaps.js';
import { writeImage, type PixelScaling } from '../image.js';
import { encodePng } from '../png.js';
import { RelevanceAggregator } from './aggregator.js';
import { writeFileAtomic, writeFileAtomicSync } from './atomic.js';
import type { ExplainedBatch, ItemFailure } from './explainDataset.js';
import { fileKind } from './items.js';
import type { InputFile } from './glob.js';
import { encodeNpy } from './npy.js';

/** One row of summary.json / summary.csv. */
export interface SummaryRow {
  readonly index: number;
  /** The item id: input path relative to the common folder (`file.npy#k` for array rows). */
  readonly file: string;
  readonly class: number;
  /** The class's name from `--labels` (summary files only; absent without names). */
  readonly className?: string;
  readonly score: number;
  /** Σ of the input relevance. */
  readonly relevanceSum: number;
  /** score-side relevance minus relevanceSum (absorbed by biases, ε…). */
  readonly absorbed: number;
  /** |absorbed| / |outputSum|. */
  readonly conservationError: number;
  readonly heatmap?: string;
  readonly overlay?: string;
  readonly relevance?: string;
}

/** How pictures are drawn (also stored in the run manifest, so merge draws the same). */
export interface DrawOptions {
  readonly colormap: ColormapName;
  /** Integer nearest-neighbour upscale of heatmaps and overlays. */
  readonly upscale: number;
  /** Heatmap weight in overlays. */
  readonly alpha: number;
  /** How overlays blend the heatmap onto the input (default 'alpha'; see overlay()). */
  readonly mode?: 'alpha' | 'multiply' | 'screen';
  /** Percentile of |R| in (0, 100] that saturates the colours instead of the maximum (heatmap()'s clipPercentile). */
  readonly clipPercentile?: number;
}

/** What to write per item. */
export interface ItemOutputOptions {
  readonly out: string;
  readonly heatmaps: boolean;
  readonly overlays: boolean;
  readonly saveRelevance: boolean;
  readonly draw: DrawOptions;
  /** The inputs' scaling (to show image inputs in overlays). */
  readonly scale: PixelScaling;
  /** The inputs were inverted when read (overlays show them as in the file). */
  readonly invert?: boolean;
  /** Output name (without extension) of an item id. */
  readonly stemOf: (id: string) => string;
}

/** Whether an item shape can be drawn as an image ([H,W], [H,W,C]). */
export function isImageShape(shape: readonly number[]): boolean {
  return shape.length === 2 || shape.length === 3;
}

/** Output names for input files: the id without extension; ids that collide keep it (`a_png`). */
export function outputStems(files: readonly InputFile[]): Map<string, string> {
  const strip = (id: string) => id.replace(/\.[^./]*$/, '');
  const counts = new Map<string, number>();
  for (const f of files) counts.set(strip(f.id), (counts.get(strip(f.id)) ?? 0) + 1);
  return new Map(files.map((f) => {
    const s = strip(f.id);
    return [f.id, (counts.get(s) as number) > 1 ? f.id.replace(/\.([^./]*)$/, '_$1') : s];
  }));
}

/** The output stem of an item id (`file#k` → `<file stem>/k`). */
export function stemFunction(stems: Map<string, string>): (id: string) => string {
  return (id) => {
    const direct = stems.get(id);
    if (direct !== undefined) return direct;
    const hash = id.lastIndexOf('#');
    if (hash > 0) {
      const file = stems.get(id.slice(0, hash));
      if (file !== undefined && (fileKind(id.slice(0, hash)) === 'npy' || fileKind(id.slice(0, hash)) === 'jsonl')) return `${file}/${id.slice(hash + 1)}`;
    }
    return id.replace(/[^A-Za-z0-9._/-]/g, '_');
  };
}

/** Image inputs back to display values in 0..1 (inverse of the reading scale and inversion). */
function toDisplay(data: Float32Array, scale: PixelScaling, channels: number, invert: boolean): Float32Array {
  const out = new Float32Array(data.length);
  let mean = [0];
  let std = [1];
  if (scale === '0..255') std = [255];
  else if (scale === '-1..1') [mean, std] = [[0.5], [0.5]];
  else if (typeof scale === 'object') {
    mean = typeof scale.mean === 'number' ? [scale.mean] : [...scale.mean];
    std = typeof scale.std === 'number' ? [scale.std] : [...scale.std];
  }
  for (let i = 0; i < data.length; i++) {
    const k = i % channels;
    const read = scale === '0..255' ? data[i] / 255 : data[i] * std[std.length === 1 ? 0 : k] + mean[mean.length === 1 ? 0 : k];
    const v = invert ? 1 - read : read;
    out[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
  return out;
}

/**
 * Writes one batch's per-item files and returns its summary rows (items in index order).
 * Every file is written atomically; the tensors made for drawing are disposed.
 */
export async function writeItemOutputs(batch: ExplainedBatch, o: ItemOutputOptions): Promise<SummaryRow[]> {
  const n = batch.indices.length;
  const size = batch.shape.reduce((a, b) => a * b, 1);
  const drawable = isImageShape(batch.shape);
  const rows: SummaryRow[] = [];
  const writes: Array<Promise<unknown>> = [];
  const rel = (p: string) => p.split(path.sep).join('/');
  const names = batch.ids.map((id) => o.stemOf(id));
  for (let k = 0; k < n; k++) {
    const stem = names[k];
    const row: { -readonly [K in keyof SummaryRow]: SummaryRow[K] } = {
      index: batch.indices[k],
      file: batch.ids[k],
      class: batch.classIdx[k],
      score: batch.scores[k],
      relevanceSum: batch.conservation.inputSum[k],
      absorbed: batch.conservation.absorbed[k],
      conservationError: batch.conservation.relativeError[k],
    };
    if (o.heatmaps && drawable) row.heatmap = rel(path.join('heatmaps', `${stem}.png`));
    if (o.overlays && drawable && batch.kinds[k] === 'image' && batch.inputs !== undefined) row.overlay = rel(path.join('overlays', `${stem}.png`));
    if (o.saveRelevance) {
      row.relevance = rel(path.join('relevance', `${stem}.npy`));
      writes.push(writeFileAtomic(path.join(o.out, row.relevance), encodeNpy(batch.relevance.subarray(k * size, (k + 1) * size), batch.shape)));
    }
    rows.push(row);
  }
  if (n > 0 && drawable && (o.heatmaps || rows.some((r) => r.overlay !== undefined))) {
    const [h, w] = batch.shape;
    const c = batch.shape.length === 3 ? batch.shape[2] : 1;
    const heat = tf.tidy(() => heatmap(tf.tensor4d(batch.relevance, [n, h, w, c]), { colormap: o.draw.colormap, clipPercentile: o.draw.clipPercentile }));
    const pictures: tf.Tensor[] = [];
    try {
      if (o.heatmaps) {
        const big = upscale(heat, o.draw.upscale);
        pictures.push(big);
        writes.push(writePngs(big, rows.map((r) => path.join(o.out, r.heatmap as string))));
      }
      const withOverlay = rows.map((r, k) => (r.overlay !== undefined ? k : -1)).filter((k) => k >= 0);
      if (withOverlay.length > 0 && batch.inputs !== undefined && (c === 1 || c === 3)) {
        const blended = tf.tidy(() => {
          const image = tf.tensor4d(toDisplay(batch.inputs as Float32Array, o.scale, c, o.invert === true), [n, h, w, c]);
          return upscale(overlay(image, heat, { alpha: o.draw.alpha, mode: o.draw.mode }), o.draw.upscale);
        });
        pictures.push(blended);
        writes.push(writePngs(blended, rows.map((r) => (r.overlay === undefined ? undefined : path.join(o.out, r.overlay)))));
      }
      await Promise.all(writes);
    } finally {
      heat.dispose();
      tf.dispose(pictures);
    }
  } else await Promise.all(writes);
  return rows;
}

/**
 * Writes pictures [N,H,W,C] (float 0..1) as PNG files, one per sample (skipping empty names):
 * one read from the device for the batch, then each sample is encoded (the bytes equal
 * writeImage()'s: round(v·255) clipped to 0..255, src/node/png.ts).
 */
async function writePngs(pictures: tf.Tensor, files: Array<string | undefined>): Promise<void> {
  const [, h, w, c] = pictures.shape;
  const per = h * w * c;
  const values = await pictures.data();
  // small files: synchronous writes beat five thread-pool round trips per file
  files.forEach((file, k) => {
    if (file === undefined) return;
    const bytes = new Uint8Array(per);
    for (let i = 0; i < per; i++) {
      const b = Math.round((values[k * per + i] as number) * 255);
      bytes[i] = b < 0 ? 0 : b > 255 ? 255 : b;
    }
    writeFileAtomicSync(file, encodePng(w, h, c, bytes));
  });
}

const CSV_COLUMNS = ['index', 'file', 'class', 'score', 'relevance_sum', 'absorbed', 'conservation_error', 'heatmap', 'overlay', 'relevance'] as const;

/** A CSV cell (quoted when it holds a comma, quote or newline). */
function cell(v: string | number | undefined): string {
  if (v === undefined) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * summary.csv text. With `names` (class names, `--labels`) a `class_name` column follows `class`.
 */
export function summaryCsv(rows: readonly SummaryRow[], names?: readonly string[]): string {
  const withNames = names !== undefined;
  const header: string[] = [...CSV_COLUMNS];
  if (withNames) header.splice(3, 0, 'class_name');
  const lines = [header.join(',')];
  for (const r of rows) {
    const values: Array<string | number | undefined> = [r.index, r.file, r.class, r.score, r.relevanceSum, r.absorbed, r.conservationError, r.heatmap, r.overlay, r.relevance];
    if (withNames) values.splice(3, 0, className(names, r.class));
    lines.push(values.map(cell).join(','));
  }
  return lines.join('\n') + '\n';
}

/** The name of class `c` (undefined without names or beyond the list, or an empty line). */
function className(names: readonly string[] | undefined, c: number): string | undefined {
  const name = names?.[c];
  return name === undefined || name === '' ? undefined : name;
}

/** A summary row with its class name right after the class index (JSON key order). */
function withClassName(r: SummaryRow, names: readonly string[]): SummaryRow {
  const { index, file, class: c, ...rest } = r;
  return { index, file, class: c, className: className(names, c), ...rest };
}

/** Options of {@link writeFinalOutputs}. */
export interface FinalOutputOptions {
  readonly out: string;
  readonly draw: DrawOptions;
  /** Class names (index = class, from `--labels`): a className in summary rows and classes.json. */
  readonly classNames?: readonly string[];
}

/**
 * Writes summary.json, summary.csv, errors.jsonl and (with an aggregator) aggregate/: the same
 * bytes for a single run and for merged shards of it.
 */
export async function writeFinalOutputs(rows: SummaryRow[], errors: ItemFailure[], aggregator: RelevanceAggregator | null, o: FinalOutputOptions): Promise<void> {
  rows.sort((a, b) => a.index - b.index);
  errors.sort((a, b) => a.index - b.index);
  const names = o.classNames;
  const items = names === undefined ? rows : rows.map((r) => withClassName(r, names));
  const summary = { format: 'tfjs-lrp-summary', version: 1, explained: rows.length, failed: errors.length, ...(names !== undefined ? { classNames: names } : {}), items };
  writeFileAtomicSync(path.join(o.out, 'summary.json'), JSON.stringify(summary, null, 1) + '\n');
  writeFileAtomicSync(path.join(o.out, 'summary.csv'), summaryCsv(rows, names));
  writeFileAtomicSync(path.join(o.out, 'errors.jsonl'), errors.map((e) => JSON.stringify({ index: e.index, file: e.id, reason: e.reason }) + '\n').join(''));
  if (aggregator !== null) await writeAggregate(path.join(o.out, 'aggregate'), aggregator, o.draw, names);
}

/**
 * Per-class aggregate files: exact state, a table (classes.json, with each class's name when
 * `classNames` is given), float64 arrays and heatmap images.
 */
export async function writeAggregate(dir: string, agg: RelevanceAggregator, draw: DrawOptions, classNames?: readonly string[]): Promise<void> {
  writeFileAtomicSync(path.join(dir, 'state.json'), JSON.stringify(agg.toJSON()) + '\n');
  const table: unknown[] = [];
  for (const c of agg.classIndices()) {
    const r = agg.result(c);
    const sub = `class-${c}`;
    const files: Record<string, string> = {};
    const arrays: Array<[string, Float64Array]> = [['mean', r.mean], ['mean_abs', r.meanAbs], ['positive', r.meanPositive], ['negative', r.meanNegative]];
    for (const [name, values] of arrays) {
      files[name] = `${sub}/${name}.npy`;
      writeFileAtomicSync(path.join(dir, sub, `${name}.npy`), encodeNpy(values, agg.shape, '<f8'));
    }
    if (isImageShape(agg.shape)) {
      const [h, w] = agg.shape;
      const ch = agg.shape.length === 3 ? agg.shape[2] : 1;
      for (const [name, values, normalize, colormap] of [
        ['mean', r.mean, 'symmetric', draw.colormap],
        ['mean_abs', r.meanAbs, 'absolute', 'hot'],
      ] as Array<[string, Float64Array, 'symmetric' | 'absolute', ColormapName]>) {
        const picture = tf.tidy(() => upscale(heatmap(tf.tensor4d(Float32Array.from(values), [1, h, w, ch]), { normalize, colormap, clipPercentile: draw.clipPercentile }), draw.upscale));
        try {
          files[`${name}_png`] = `${sub}/${name}.png`;
          fs.mkdirSync(path.join(dir, sub), { recursive: true });
          await writeImage(path.join(dir, sub, `${name}.png`), picture);
        } finally {
          picture.dispose();
        }
      }
    }
    table.push({ class: c, ...(classNames !== undefined ? { name: className(classNames, c) } : {}), count: r.count, meanScore: r.meanScore, meanRelevanceSum: r.meanRelevanceSum, files });
  }
  writeFileAtomicSync(path.join(dir, 'classes.json'), JSON.stringify({ shape: agg.shape, total: agg.total, classes: table }, null, 1) + '\n');
}
