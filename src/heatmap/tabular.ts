/**
 * Tabular relevance as a ranked feature list, a plain-text table and a standalone SVG bar chart.
 * Pure JavaScript (a tf.Tensor1D argument is only read); usable in Node and in the browser.
 */
import { LrpArgumentError } from '../errors.js';
import { checkColormap, type ColormapName } from './colormaps.js';
import { checkCount, colormapBytes, describeValue, escapeXml, formatNumber, hexColor, readVector, type RelevanceVector } from './values.js';

/** Whether a feature speaks for the explained class (positive relevance), against it, or neither (0). */
export type Direction = 'for' | 'against' | 'neutral';

/** One feature of a ranking. */
export interface RankedFeature {
  /** The feature's name. */
  readonly name: string;
  /** Its relevance (signed). */
  readonly relevance: number;
  /** |relevance| / Σ|relevance| over all features (0 when every relevance is 0). */
  readonly share: number;
  /** 1-based position by |relevance|, largest first; ties keep the input order. */
  readonly rank: number;
  /** 'for' (> 0), 'against' (< 0) or 'neutral' (exactly 0). */
  readonly direction: Direction;
  /** The feature's position in the input vector. */
  readonly index: number;
}

/** Options of {@link rankFeatures}. */
export interface RankOptions {
  /** Keep only the first `topK` features (default: all). Shares stay relative to all features. */
  topK?: number;
}

/**
 * Ranks features by |relevance|, largest first.
 * @param relevance one relevance per feature (array, Float32Array or tf.Tensor1D; finite values)
 * @param names one name per feature, same length
 * @param options `topK`
 * @returns the ranked features; e.g. `[{ name: 'debt_to_income', relevance: -0.412, share: 0.31, rank: 1, direction: 'against', index: 4 }, …]`
 */
export function rankFeatures(relevance: RelevanceVector, names: readonly string[], options: RankOptions = {}): RankedFeature[] {
  const values = readVector(relevance, 'relevance');
  if (!Array.isArray(names)) throw new LrpArgumentError('names', `expected an array of strings, got ${describeValue(names)}.`);
  if (names.length !== values.length) {
    throw new LrpArgumentError('names', `has ${names.length} names for ${values.length} relevance values; pass one name per feature, in the model's input order.`);
  }
  names.forEach((n, i) => {
    if (typeof n !== 'string') throw new LrpArgumentError('names', `name ${i} is ${describeValue(n)}, not a string.`);
  });
  const topK = checkCount(options.topK, 'options.topK', 1);
  let total = 0;
  for (const v of values) total += Math.abs(v);
  const order = Array.from(values.keys()).sort((a, b) => Math.abs(values[b]) - Math.abs(values[a]) || a - b);
  const ranked = order.map((i, k) => {
    const r = values[i];
    const direction: Direction = r > 0 ? 'for' : r < 0 ? 'against' : 'neutral';
    return { name: names[i], relevance: r, share: total > 0 ? Math.abs(r) / total : 0, rank: k + 1, direction, index: i };
  });
  return topK === undefined ? ranked : ranked.slice(0, topK);
}

/** Either ranked features, or relevance and names to rank. */
function rankedOf(first: unknown, second: unknown, topK: number | undefined): RankedFeature[] {
  if (Array.isArray(first) && (first.length === 0 ? !Array.isArray(second) : typeof first[0] === 'object' && first[0] !== null)) {
    const list = first as RankedFeature[];
    list.forEach((f, i) => {
      if (typeof f !== 'object' || f === null || typeof f.name !== 'string' || typeof f.relevance !== 'number' || !Number.isFinite(f.relevance)) {
        throw new LrpArgumentError('ranked', `entry ${i} is not a ranked feature ({ name, relevance, … } from rankFeatures()).`);
      }
    });
    return topK === undefined ? list : list.slice(0, topK);
  }
  if (!Array.isArray(second)) {
    throw new LrpArgumentError('names', 'pass rankFeatures() output, or (relevance, names, options) with one name per feature.');
  }
  return rankFeatures(first as RelevanceVector, second as string[], { topK });
}

/** Options of {@link formatFeatureRanking}. */
export interface FormatRankingOptions {
  /** Rows to show (default: all). */
  topK?: number;
  /** Decimals of the relevance column (default 3). */
  decimals?: number;
}

/**
 * A plain-text table of a ranking for terminals, one feature per line:
 * ```
 * rank  feature         relevance  share  direction
 *    1  debt_to_income     -0.412  31.0%  against
 * ```
 */
export function formatFeatureRanking(ranked: readonly RankedFeature[], options?: FormatRankingOptions): string;
export function formatFeatureRanking(relevance: RelevanceVector, names: readonly string[], options?: FormatRankingOptions): string;
export function formatFeatureRanking(a: unknown, b?: unknown, c?: unknown): string {
  const options = (Array.isArray(b) ? c : b) as FormatRankingOptions | undefined ?? {};
  const decimals = checkCount(options.decimals, 'options.decimals') ?? 3;
  const rows = rankedOf(a, b, checkCount(options.topK, 'options.topK', 1));
  const table = [['rank', 'feature', 'relevance', 'share', 'direction']].concat(
    rows.map((f) => [String(f.rank), f.name, formatNumber(f.relevance, decimals), `${(100 * f.share).toFixed(1)}%`, f.direction]),
  );
  const widths = table[0].map((_, j) => Math.max(...table.map((r) => r[j].length)));
  const right = [true, false, true, true, false];
  return table
    .map((r) => r.map((cell, j) => (right[j] ? cell.padStart(widths[j]) : j === r.length - 1 ? cell : cell.padEnd(widths[j]))).join('  '))
    .join('\n');
}

/** Options of {@link featureBarChartSvg}. */
export interface BarChartOptions {
  /** A title above the chart (escaped). */
  title?: string;
  /** Bars to show, largest |relevance| first (default: all). */
  topK?: number;
  /** Total width in px (default 640). */
  width?: number;
  /** Height of one bar row in px (default 22). */
  rowHeight?: number;
  /** Font size in px (default 12). */
  fontSize?: number;
  /** Decimals of the value labels (default 3). */
  decimals?: number;
  /** Colour map whose ends colour the bars: index 255 for positive, index 0 for negative (default 'bwr': red / blue). */
  colormap?: ColormapName;
}

/**
 * A standalone SVG bar chart of a ranking: one horizontal bar per feature (largest |relevance|
 * on top), red to the right for positive relevance, blue to the left for negative, with the
 * feature names and values as text (XML-escaped). Bars carry `class="bar for|against|neutral"`.
 */
export function featureBarChartSvg(ranked: readonly RankedFeature[], options?: BarChartOptions): string;
export function featureBarChartSvg(relevance: RelevanceVector, names: readonly string[], options?: BarChartOptions): string;
export function featureBarChartSvg(a: unknown, b?: unknown, c?: unknown): string {
  const options = (Array.isArray(b) ? c : b) as BarChartOptions | undefined ?? {};
  const rows = rankedOf(a, b, checkCount(options.topK, 'options.topK', 1));
  const width = checkCount(options.width, 'options.width', 120) ?? 640;
  const rowH = checkCount(options.rowHeight, 'options.rowHeight', 4) ?? 22;
  const font = checkCount(options.fontSize, 'options.fontSize', 4) ?? 12;
  const decimals = checkCount(options.decimals, 'options.decimals') ?? 3;
  const colors = colormapBytes(checkColormap(options.colormap ?? 'bwr', 'options.colormap'));
  const pos = hexColor(colors[255]);
  const neg = hexColor(colors[0]);
  if (options.title !== undefined && typeof options.title !== 'string') {
    throw new LrpArgumentError('options.title', `expected a string, got ${describeValue(options.title)}.`);
  }

  const charW = font * 0.6; // a generous average glyph width for sans-serif
  const pad = 8;
  const labels = rows.map((f) => formatNumber(f.relevance, decimals));
  const nameW = Math.ceil(Math.min(width * 0.4, Math.max(4, ...rows.map((f) => f.name.length)) * charW)) + pad;
  const valueW = Math.ceil(Math.max(4, ...labels.map((l) => l.length)) * charW) + pad;
  const hasNeg = rows.some((f) => f.relevance < 0);
  const hasPos = rows.some((f) => f.relevance > 0) || !hasNeg;
  // bar area between the name column and the value labels; zero in its middle when signs mix
  const left = nameW + pad + (hasNeg ? valueW : 0);
  const right = width - pad - (hasPos ? valueW : 0);
  const span = Math.max(10, right - left);
  const zero = hasNeg && hasPos ? left + span / 2 : hasNeg ? left + span : left;
  const half = hasNeg && hasPos ? span / 2 : span;
  const max = Math.max(0, ...rows.map((f) => Math.abs(f.relevance)));
  const top = options.title !== undefined ? Math.round(font * 2.2) : pad;
  const height = top + rows.length * rowH + pad;
  const n = (v: number): string => String(Math.round(v * 100) / 100);

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="${font}">`);
  out.push(`<rect class="background" x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  if (options.title !== undefined) {
    out.push(`<text class="title" x="${n(width / 2)}" y="${n(font * 1.4)}" text-anchor="middle" font-weight="bold">${escapeXml(options.title)}</text>`);
  }
  rows.forEach((f, i) => {
    const y = top + i * rowH;
    const mid = y + rowH / 2;
    const len = max > 0 ? (Math.abs(f.relevance) / max) * half : 0;
    const x = f.relevance < 0 ? zero - len : zero;
    const fill = f.relevance < 0 ? neg : pos;
    const value = f.relevance < 0 ? zero - len - 4 : zero + len + 4;
    out.push(
      `<text class="name" x="${nameW}" y="${n(mid)}" text-anchor="end" dominant-baseline="central">${escapeXml(f.name)}</text>`,
      `<rect class="bar ${f.direction}" x="${n(x)}" y="${n(y + rowH * 0.15)}" width="${n(len)}" height="${n(rowH * 0.7)}" fill="${fill}"><title>${escapeXml(f.name)}: ${labels[i]}</title></rect>`,
      `<text class="value" x="${n(value)}" y="${n(mid)}" text-anchor="${f.relevance < 0 ? 'end' : 'start'}" dominant-baseline="central">${labels[i]}</text>`,
    );
  });
  out.push(`<line class="axis" x1="${n(zero)}" y1="${top}" x2="${n(zero)}" y2="${top + rows.length * rowH}" stroke="#333333" stroke-width="1"/>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
