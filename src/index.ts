/**
 * tfjs-lrp: Layer-wise Relevance Propagation for TensorFlow.js LayersModels.
 * Public exports only.
 */
export { explain, explainWithConservation, createExplainer, describe, describePlan, formatPlan } from './explain';
export type { ClassIndex, Relevance, Explainer, ConservationReport, LayerConservation, PlanRow } from './explain';
export type { ExplainOptions, RuleName, CompositeName } from './options';
export type { ModelPlan, PlannedNode } from './plan';
export { LrpError, LrpArgumentError, LrpRuleError, LrpLayerError, LrpModelError, LrpLoadError, LrpEnvironmentError } from './errors';
export { registerLayer, registerLayerRule, unregisterLayer, layerClassNames } from './layers/registry';
export type { LayerAdapter, LinearPart, LinearLayerSpec, ActivationFn } from './layers/adapter';
export type { LayerGroup } from './layers/group';
export type { LinearMap, LinearParams } from './ops/linear';
export { registerRule, makeRule, ruleNames } from '../rules/registry';
export type { RuleParameters, RuleFactory } from '../rules/registry';
export { composite, BUILTIN_COMPOSITES, COMPOSITE_NAMES } from '../rules/composites';
export type { Composite, CompositeEntry, LayerMatch } from '../rules/composites';
export { epsilonRule, zeroRule } from '../rules/epsilon';
export { zPlusRule } from '../rules/zPlus';
export { alphaBetaRule } from '../rules/alphaBeta';
export { gammaRule } from '../rules/gamma';
export { flatRule } from '../rules/flat';
export { wSquareRule } from '../rules/wSquare';
export { zBoxRule } from '../rules/zBox';
export { passRule } from '../rules/pass';
export { normRule } from '../rules/norm';
export { gradientRule } from '../rules/gradient';
export { templateRule, keepParams, mapParams, positivePart, negativePart } from '../rules/template';
export type { TemplateSpec, ModifiedForward, ParamModifier, InputModifier, CustomInput } from '../rules/template';
export type { Rule, LinearRule, LayerRule, LinearRuleContext, LayerRuleContext, RuleParam } from '../rules/types';
export { compare, crossValidate } from './evaluate/compare';
export type { CompareOptions, ComparisonMeans, ComparisonReport, CrossValidateOptions } from './evaluate/compare';
export { relevanceInMask } from './evaluate/mask';
export type { MaskReport } from './evaluate/mask';
export { pixelFlipping } from './evaluate/pixelFlipping';
export type { Perturbation, PixelFlippingOptions, PixelFlippingCurve, PixelFlippingReport } from './evaluate/pixelFlipping';
export { METHODS } from './methods';
export type { AttributionMethod, GradientMethodOptions } from './methods';
export { heatmap, overlay, topKMask, COLORMAPS, colormapTable } from './heatmap';
export type { HeatmapOptions, ChannelReduction, Normalization, OverlayOptions, ColormapName } from './heatmap';
export { rankFeatures, formatFeatureRanking, featureBarChartSvg, textHtml } from './heatmap';
export type { RankedFeature, RankOptions, Direction, FormatRankingOptions, BarChartOptions, TextHtmlOptions, RelevanceVector } from './heatmap';
export { heatmapGrid, gridLayout, drawContour, maskOutline, upscale, renderText, measureText } from './heatmap';
export type { GridOptions, GridLayout, GridColumn, Rgb, ContourOptions, TextBitmap } from './heatmap';
export { drawHeatmap, toImageData, toImageBitmap, heatmapRgba } from './browser';
export type { BrowserHeatmapOptions, RgbaPixels, HeatmapCanvas } from './browser';
export * from './backends';
