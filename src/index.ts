/**
 * tfjs-lrp: Layer-wise Relevance Propagation for TensorFlow.js LayersModels.
 * Public exports only.
 *
 * @module tfjs-lrp
 */
export { explain, explainWithConservation, createExplainer, describe } from './explain.js';
export type { ClassIndex, Relevance, Explainer, ConservationReport, LayerConservation } from './explain.js';
export type { ExplainableModel } from './explainable.js';
export { isGraphModel } from './graphModel/introspect.js';
export { registerOp, unregisterOp, opNames } from './graphModel/registry.js';
export type { OpAdapter } from './graphModel/registry.js';
export type { OpLayer, OpConstant } from './graphModel/opLayer.js';
export { explainCacheInfo, releaseExplainCache, setExplainCacheSize } from './explainCache.js';
export type { ExplainCacheInfo } from './explainCache.js';
export { explainLayers, conceptRelevance, channelSums, layerOutputKeys } from './concepts.js';
export type { LayerChannel, ConceptTarget, LayerRelevanceOptions, LayerRelevance } from './concepts.js';
export { describePlan, formatPlan } from './planFormat.js';
export type { PlanRow } from './planFormat.js';
export type { ExplainOptions, RuleName, CompositeName } from './options.js';
export type { ModelPlan, PlannedNode } from './plan.js';
export type { CanonicalGraph } from './canonize.js';
export type { GraphNode, GraphInput, ModelGraph, NodeOp } from './graph.js';
export { LrpError, LrpArgumentError, LrpRuleError, LrpLayerError, LrpModelError, LrpLoadError, LrpEnvironmentError } from './errors.js';
export { registerLayer, registerLayerRule, unregisterLayer, layerClassNames, layerTable } from './layers/registry.js';
export type { LayerTableRow } from './layers/registry.js';
export type { Layer, LayerAdapter, LinearPart, LinearLayerSpec, ActivationFn, LayerCall, ExpandedLayer, InnerLinearCapability, InnerLinearContext, InnerLinearForward } from './layers/adapter.js';
export type { LayerGroup, GroupDefault } from '../rules/groups.js';
export { GROUP_DEFAULTS, LAYER_GROUPS, LINEAR_GROUPS } from '../rules/groups.js';
export type { LinearMap, LinearParams } from './ops/linear.js';
export { registerRule, makeRule, ruleNames, ruleDefinitions, ruleDefinition, ruleParameterSpecs, firstLayerRuleNames, BUILTIN_RULE_DEFINITIONS } from '../rules/registry.js';
export type { RuleParameters, RuleFactory } from '../rules/registry.js';
export { composite, defineComposite, compositeDefinitions, BUILTIN_COMPOSITES, BUILTIN_COMPOSITE_DEFINITIONS, COMPOSITE_NAMES } from '../rules/composites.js';
export type { Composite, CompositeEntry, LayerMatch, CompositeDefinition, CompositeEntrySpec } from '../rules/composites.js';
export { epsilonRule, zeroRule, epsilonDefinition, zeroDefinition } from '../rules/epsilon.js';
export type { EpsilonOptions } from '../rules/epsilon.js';
export { zPlusRule, zPlusDefinition } from '../rules/zPlus.js';
export type { StabilizerOptions } from '../rules/zPlus.js';
export { alphaBetaRule, alphaBetaDefinition } from '../rules/alphaBeta.js';
export type { AlphaBetaOptions } from '../rules/alphaBeta.js';
export { gammaRule, gammaDefinition } from '../rules/gamma.js';
export type { GammaOptions } from '../rules/gamma.js';
export { flatRule, flatDefinition } from '../rules/flat.js';
export { wSquareRule, wSquareDefinition } from '../rules/wSquare.js';
export { zBoxRule, zBoxDefinition } from '../rules/zBox.js';
export type { ZBoxOptions } from '../rules/zBox.js';
export { passRule, passDefinition } from '../rules/pass.js';
export { normRule, normDefinition } from '../rules/norm.js';
export { gradientRule, gradientDefinition } from '../rules/gradient.js';
export { uniformRule, uniformDefinition } from '../rules/uniform.js';
export { templateRule, proportionalTemplateRule, keepParams, mapParams, positivePart, negativePart } from '../rules/template.js';
export type { TemplateSpec, ModifiedForward, ParamModifier, InputModifier, CustomInput } from '../rules/template.js';
export type { Rule, LinearRule, LayerRule, LinearRuleContext, LinearForwardContext, LinearForward, LayerRuleContext, RuleParam, RuleDefinition, RuleParameterSpec, RuleParameterName, RuleReferences } from '../rules/types.js';
export { METHODS } from './methods.js';
export type { AttributionMethod, GradientMethodOptions } from './methods.js';
export * from './backends/index.js';
