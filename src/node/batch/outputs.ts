/**
 * The files a batch run writes, all atomically (temp + rename):
 *
 *     heatmaps/<item>.png        relevance as a heatmap (image-shaped inputs; volumes [D,H,W,C]: a grid of slices)
 *     overlays/<item>.png        the heatmap blended onto the input (image files)
 *     relevance/<item>.npy       raw relevance, float32, the input's shape (--save-relevance)
 *     summary.json, summary.csv  one row per explained item (file, class, score, relevance sum, conservation)
 *     errors.jsonl               one line per failed item: index, file, reason
 *     aggregate/                 per-class aggregates: state.json (exact, mergeable), classes.json,
 *                                class-<c>/{mean,mean_abs,positive,negative}.npy (float64) and
 *                                mean.png, mean_abs.png
 *
 * `<item>` is the input path relative to the inputs' common folder without its extension; rows of
 * an `.npy` or JSON-lines file are `<file>/<row>`. Names never collide (see {@link outputStems}):
 * files whose names would be equal keep their extension (`a_png`, then the whole id), and the
 * rows of `a.npy` become `a.npy/<row>` when an image `a/<digits>.png` would take `a/<row>`.
 * Pictures are at most {@link MAX_PICTURE_SIDE} pixels a side, enlarged at most {@link MAX_UPSCALE}
 * times ({@link checkPictureSize}).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { LrpArgumentError } from '../../errors.js';
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
import { isVolumeShape, writeSliceGrids } from './volumes.js';

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

/**
 * Output names (stems, without extension) for input files, never two the same: the id without
 * its extension (`sub/cat.png` → `sub/cat`); ids whose stems would be equal keep the extension as
 * `_ext` (`a.png`, `a.jpg` → `a_png`, `a_jpg`), and if that still collides, the whole id. An array
 * file's stem is the folder of its rows' files (`x.npy` → `x/0`, `x/1`, …); when another file's
 * stem is `x/<digits>` (an image `x/0.png`), the rows use the whole id instead (`x.npy/0`), which
 * no other input can take (`x.npy` is a file, not a folder). The names depend on the whole input
 * list only, so every shard and every resumed run of it uses the same names.
 *
 * Names are compared as given (case-sensitively): on a case-insensitive output file system, inputs
 * whose paths differ in case alone (`A.png`, `a.png`, possible on Linux) would share files.
 *
 * @throws {LrpArgumentError} (argument `--input`) if two inputs would still write the same files
 *   (a safety net: the rules above leave none)
 */
export function outputStems(files: readonly InputFile[]): Map<string, string> {
  const strip = (id: string) => id.replace(/\.[^./]*$/, '');
  const counts = new Map<string, number>();
  for (const f of files) counts.set(strip(f.id), (counts.get(strip(f.id)) ?? 0) + 1);
  const names = files.map((f) => {
    const s = strip(f.id);
    return (counts.get(s) as number) > 1 ? f.id.replace(/\.([^./]*)$/, '_$1') : s;
  });
  const isRows = files.map((f) => fileKind(f.id) === 'npy' || fileKind(f.id) === 'jsonl');
  // each change turns a name into its (unique) id, so this ends after at most files.length rounds
  for (let changed = true; changed; ) {
    changed = false;
    const byName = new Map<string, number[]>();
    names.forEach((n, k) => {
      const group = byName.get(n);
      if (group === undefined) byName.set(n, [k]);
      else group.push(k);
    });
    for (const group of byName.values()) {
      if (group.length < 2) continue;
      for (const k of group) {
        if (names[k] === files[k].id) continue;
        names[k] = files[k].id;
        changed = true;
      }
    }
    const rowFolders = new Map<string, number>();
    names.forEach((n, k) => {
      if (isRows[k]) rowFolders.set(n, k);
    });
    names.forEach((n, k) => {
      const slash = n.lastIndexOf('/');
      if (slash < 0 || !/^\d+$/.test(n.slice(slash + 1))) return;
      const owner = rowFolders.get(n.slice(0, slash));
      if (owner === undefined || owner === k || names[owner] === files[owner].id) return;
      names[owner] = files[owner].id;
      changed = true;
    });
  }
  // the rounds above leave no collision; a last check, so that a mistake here cannot mix results up
  const taken = new Map<string, number>();
  const rowFolders = new Map<string, number>();
  names.forEach((n, k) => {
    if (isRows[k]) rowFolders.set(n, k);
  });
  names.forEach((n, k) => {
    const key = n;
    const slash = key.lastIndexOf('/');
    const other = taken.get(key) ?? (slash > 0 && /^\d+$/.test(key.slice(slash + 1)) ? rowFolders.get(key.slice(0, slash)) : undefined);
    if (other !== undefined && other !== k) {
      throw new LrpArgumentError('--input', `the inputs '${files[other].id}' and '${files[k].id}' would write the same output files (heatmaps/${n}.png); rename one of them.`);
    }
    taken.set(key, k);
  });
  return new Map(files.map((f, k) => [f.id, names[k]]));
}

/** The largest side, in pixels, of a picture drawn (heatmaps, overlays, aggregate pictures). */
export const MAX_PICTURE_SIDE = 8192;

/** The largest upscale factor (that of `upscale()` in tfjs-lrp/heatmap). */
export const MAX_UPSCALE = 64;

/**
 * Checks, before anything is drawn or written, an upscale factor: at most {@link MAX_UPSCALE},
 * and pictures of items of `itemShape` enlarged by it at most {@link MAX_PICTURE_SIDE} pixels a
 * side. Shapes that are not pictures ([H, W] or [H, W, C]) only get the factor checked.
 *
 * @throws {LrpArgumentError} naming `argument` (default `--upscale`), the picture size it would
 *   give and the largest factor that fits
 */
export function checkPictureSize(itemShape: readonly number[], upscale: number, argument = '--upscale'): void {
  if (!Number.isInteger(upscale) || upscale < 1) throw new LrpArgumentError(argument, `must be a positive integer, got ${JSON.stringify(upscale)}.`);
  const picture = isImageShape(itemShape);
  const [h, w] = picture ? itemShape : [1, 1];
  const side = Math.max(h, w);
  const fit = Math.min(MAX_UPSCALE, Math.floor(MAX_PICTURE_SIDE / side));
  if (upscale <= fit) return;
  const size = picture ? ` would draw ${h * upscale}x${w * upscale}-pixel pictures of the ${h}x${w} inputs;` : ' is too large;';
  throw new LrpArgumentError(argument, `${upscale}${size} the factor is at most ${MAX_UPSCALE} and pictures at most ${MAX_PICTURE_SIDE} pixels a side: use ${fit >= 1 ? `${argument} ${fit} or less` : `no ${argument}`}.`);
}

/** The output stem of an item id (`file#k` → `<file stem>/k`, with the stems of {@link outputStems}). */
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
    if (o.heatmaps && (drawable || isVolumeShape(batch.shape))) row.heatmap = rel(path.join('heatmaps', `${stem}.png`));
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
    const k = o.draw.upscale;
    checkPictureSize(batch.shape, k, 'draw.upscale');
    const heat = tf.tidy(() => heatmap(tf.tensor4d(batch.relevance, [n, h, w, c]), { colormap: o.draw.colormap, clipPercentile: o.draw.clipPercentile }));
    const withOverlay = batch.inputs !== undefined && (c === 1 || c === 3) && rows.some((r) => r.overlay !== undefined);
    const image = withOverlay ? tf.tensor4d(toDisplay(batch.inputs as Float32Array, o.scale, c, o.invert === true), [n, h, w, c]) : null;
    try {
      // enlarged pictures are made a few items at a time: memory stays bounded whatever the batch
      const chunk = Math.max(1, Math.floor(DRAW_BUDGET / (h * k * w * k * 3)));
      for (let s = 0; s < n; s += chunk) {
        const e = Math.min(n, s + chunk);
        const part = (t: tf.Tensor4D) => (s === 0 && e === n ? t : t.slice([s, 0, 0, 0], [e - s, h, w, t.shape[3]]));
        const chunkRows = rows.slice(s, e);
        if (o.heatmaps) {
          const big = tf.tidy(() => upscale(part(heat), k));
          try {
            await writePngs(big, chunkRows.map((r) => path.join(o.out, r.heatmap as string)));
          } finally {
            big.dispose();
          }
        }
        if (image !== null && chunkRows.some((r) => r.overlay !== undefined)) {
          const blended = tf.tidy(() => upscale(overlay(part(image), part(heat), { alpha: o.draw.alpha, mode: o.draw.mode }), k));
          try {
            await writePngs(blended, chunkRows.map((r) => (r.overlay === undefined ? undefined : path.join(o.out, r.overlay))));
          } finally {
            blended.dispose();
          }
        }
      }
      await Promise.all(writes);
    } finally {
      heat.dispose();
      image?.dispose();
    }
  } else if (n > 0 && o.heatmaps && isVolumeShape(batch.shape)) {
    // volumes [D, H, W, C]: one grid of depth slices per item (src/node/batch/volumes.ts)
    checkPictureSize(batch.shape, o.draw.upscale, 'draw.upscale');
    await writeSliceGrids(batch, rows.map((r) => (r.heatmap === undefined ? undefined : path.join(o.out, r.heatmap))), o.draw);
    await Promise.all(writes);
  } else await Promise.all(writes);
  return rows;
}

/** Values of enlarged pictures made at once when drawing a batch (2^25: 128 MB of float32). */
const DRAW_BUDGET = 1 << 25;

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
  checkPictureSize(agg.shape, draw.upscale, 'draw.upscale');
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
  // a class folder left from an earlier aggregate written here (e.g. merging into a used folder)
  // that this aggregate does not have would look like part of it
  const written = new Set(agg.classIndices().map((c) => `class-${c}`));
  for (const entry of fs.readdirSync(dir)) {
    if (/^class-\d+$/.test(entry) && !written.has(entry)) fs.rmSync(path.join(dir, entry), { recursive: true, force: true });
  }
}
