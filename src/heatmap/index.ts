/**
 * `tfjs-lrp/heatmap`: pictures of relevance. Colour maps, normalisation, overlays and top-k masks
 * (pure tf ops), grids, tabular and text views, and the browser canvas helpers.
 *
 * @module tfjs-lrp/heatmap
 */
export { heatmap } from './heatmap.js';
export type { HeatmapOptions, ChannelReduction, Normalization } from './heatmap.js';
export { overlay, topKMask } from './overlay.js';
export type { OverlayOptions } from './overlay.js';
export { COLORMAPS, colormapTable } from './colormaps.js';
export type { ColormapName } from './colormaps.js';
export { rankFeatures, formatFeatureRanking, featureBarChartSvg } from './tabular.js';
export type { RankedFeature, RankOptions, Direction, FormatRankingOptions, BarChartOptions } from './tabular.js';
export { textHtml } from './text.js';
export type { TextHtmlOptions } from './text.js';
export type { RelevanceVector } from './values.js';
export { upscale, maskOutline, drawContour } from './overlay.js';
export type { ContourOptions } from './overlay.js';
export { heatmapGrid, gridLayout } from './grid.js';
export type { GridOptions, GridLayout, GridCell, GridColumn, Rgb } from './grid.js';
export { renderText, measureText, glyph, hasGlyph, glyphCharacters, GLYPH_WIDTH, GLYPH_HEIGHT, GLYPH_ADVANCE } from './font.js';
export type { TextBitmap } from './font.js';
export { drawHeatmap, toImageData, toImageBitmap, heatmapRgba } from '../browser/index.js';
export type { BrowserHeatmapOptions, RgbaPixels, HeatmapCanvas } from '../browser/index.js';
