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
