/** Heatmaps of relevance: colour maps, normalisation, overlays and top-k masks (pure tf ops). */
export { heatmap } from './heatmap';
export type { HeatmapOptions, ChannelReduction, Normalization } from './heatmap';
export { overlay, topKMask } from './overlay';
export type { OverlayOptions } from './overlay';
export { COLORMAPS, colormapTable } from './colormaps';
export type { ColormapName } from './colormaps';
export { rankFeatures, formatFeatureRanking, featureBarChartSvg } from './tabular';
export type { RankedFeature, RankOptions, Direction, FormatRankingOptions, BarChartOptions } from './tabular';
export { textHtml } from './text';
export type { TextHtmlOptions } from './text';
export type { RelevanceVector } from './values';
export { upscale, maskOutline, drawContour } from './overlay';
export type { ContourOptions } from './overlay';
export { heatmapGrid, gridLayout } from './grid';
export type { GridOptions, GridLayout, GridColumn, Rgb } from './grid';
export { renderText, measureText, glyph, hasGlyph, glyphCharacters, GLYPH_WIDTH, GLYPH_HEIGHT, GLYPH_ADVANCE } from './font';
export type { TextBitmap } from './font';
