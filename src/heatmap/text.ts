/**
 * Text relevance as HTML: every token a <span> whose background is its relevance's colour, with
 * the same colour map, normalisation and percentile clipping as heatmap(). Tokens are untrusted
 * text and always escaped. Pure JavaScript (a tf.Tensor1D argument is only read).
 */
import { LrpArgumentError } from '../errors.js';
import { checkColormap, type ColormapName } from './colormaps.js';
import type { Normalization } from './heatmap.js';
import {
  checkCount,
  colorIndices,
  colormapBytes,
  describeValue,
  escapeXml,
  formatNumber,
  hexColor,
  readVector,
  type RelevanceVector,
} from './values.js';

/** Options of {@link textHtml}. */
export interface TextHtmlOptions {
  /** Colour map (default 'bwr'). */
  colormap?: ColormapName;
  /** Normalisation as in heatmap() (default 'symmetric': 0 → the map's midpoint). */
  normalize?: Normalization;
  /** Percentile of |R| used as the scale instead of the maximum, as in heatmap(). */
  clipPercentile?: number;
  /** Decimals of the value in each token's title (default 3). */
  decimals?: number;
  /** Put between tokens (escaped; default ' '). Use '' for sub-word tokens that carry their own spaces. */
  separator?: string;
  /** A full standalone HTML page (with a legend and `title`) instead of a fragment (default false). */
  document?: boolean;
  /** The page title and heading when `document` is true (escaped). */
  title?: string;
}

/** Black or white text, whichever reads better on the background (relative luminance). */
function textColor(rgb: readonly number[]): string {
  const lin = rgb.map((c) => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
  });
  const y = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
  return y > 0.179 ? '#000000' : '#ffffff';
}

const rgbCss = (c: readonly number[]): string => `rgb(${c[0]},${c[1]},${c[2]})`;

/**
 * Colours tokens by their relevance as an HTML fragment:
 * `<span class="lrp-text"><span class="lrp-token" style="background-color:rgb(255,0,0);color:#000000" title="0.731">good</span> …</span>`.
 * With `document: true`, a complete page with a colour legend (−scale … 0 … +scale).
 * @param tokens the tokens, in order (untrusted: escaped)
 * @param relevance one finite value per token (array, Float32Array or tf.Tensor1D)
 * @param options colour map, normalisation, clipping, page output
 */
export function textHtml(tokens: readonly string[], relevance: RelevanceVector, options: TextHtmlOptions = {}): string {
  if (!Array.isArray(tokens)) throw new LrpArgumentError('tokens', `expected an array of strings, got ${describeValue(tokens)}.`);
  tokens.forEach((t, i) => {
    if (typeof t !== 'string') throw new LrpArgumentError('tokens', `token ${i} is ${describeValue(t)}, not a string.`);
  });
  const values = readVector(relevance, 'relevance');
  if (values.length !== tokens.length) {
    throw new LrpArgumentError('relevance', `has ${values.length} values for ${tokens.length} tokens; pass one relevance per token (sum sub-word or embedding dimensions first).`);
  }
  const colormap = checkColormap(options.colormap ?? 'bwr', 'options.colormap');
  const decimals = checkCount(options.decimals, 'options.decimals') ?? 3;
  const separator = options.separator ?? ' ';
  if (typeof separator !== 'string') throw new LrpArgumentError('options.separator', `expected a string, got ${describeValue(separator)}.`);
  if (options.title !== undefined && typeof options.title !== 'string') {
    throw new LrpArgumentError('options.title', `expected a string, got ${describeValue(options.title)}.`);
  }
  const { indices, scale } = colorIndices(values, { colormap, normalize: options.normalize, clipPercentile: options.clipPercentile });
  const table = colormapBytes(colormap);

  const spans = tokens.map((token, i) => {
    const bg = table[indices[i]];
    return (
      `<span class="lrp-token" style="background-color:${rgbCss(bg)};color:${textColor(bg)}" ` +
      `title="${escapeXml(formatNumber(values[i], decimals))}">${escapeXml(token)}</span>`
    );
  });
  const fragment = `<span class="lrp-text">${spans.join(escapeXml(separator))}</span>`;
  if (options.document !== true) return fragment;

  const title = escapeXml(options.title ?? 'Relevance');
  const normalize = options.normalize ?? 'symmetric';
  const stops = [0, 32, 64, 96, 128, 160, 192, 224, 255].map((k) => `${hexColor(table[k])} ${((100 * k) / 255).toFixed(1)}%`).join(', ');
  const lo = normalize === 'symmetric' ? formatNumber(-scale, decimals) : '0';
  const mid = normalize === 'symmetric' ? '0' : formatNumber(scale / 2, decimals);
  // 'absolute'/'positive' use a diverging map from its midpoint up: show that half only
  const gradient = normalize === 'symmetric' || !['bwr', 'seismic', 'coldnhot', 'coolwarm'].includes(colormap)
    ? stops
    : [128, 160, 192, 224, 255].map((k, j) => `${hexColor(table[k])} ${(25 * j).toFixed(1)}%`).join(', ');
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<title>${title}</title>`,
    '<style>',
    'body { font-family: sans-serif; max-width: 60em; margin: 2em auto; line-height: 1.9; }',
    '.lrp-token { padding: 0.1em 0.15em; border-radius: 0.2em; white-space: pre-wrap; }',
    '.lrp-legend { display: flex; align-items: center; gap: 0.5em; font-size: 0.85em; margin-top: 1.5em; }',
    `.lrp-legend-bar { width: 16em; height: 1em; border: 1px solid #888; background: linear-gradient(to right, ${gradient}); }`,
    '</style>',
    '</head>',
    '<body>',
    `<h1>${title}</h1>`,
    `<p>${fragment}</p>`,
    `<div class="lrp-legend"><span>${escapeXml(lo)}</span><span class="lrp-legend-bar"></span><span>${escapeXml(formatNumber(scale, decimals))}</span>` +
      `<span>(${escapeXml(normalize)}, colour map ${escapeXml(colormap)}, middle ${escapeXml(mid)}${normalize === 'symmetric' ? '; right: for the class, left: against' : ''})</span></div>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
