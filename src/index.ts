/**
 * tfjs-lrp: Layer-wise Relevance Propagation for TensorFlow.js LayersModels.
 * Public exports only.
 */
export { explain, explainWithConservation, createExplainer, describe, describePlan, formatPlan } from './explain.js';
export type { ClassIndex, Relevance, Explainer, ConservationReport, LayerConservation, PlanRow } from './explain.js';
export type { ExplainOptions, RuleName, CompositeName } from './options.js';
export type { ModelPlan, PlannedNode } from './plan.js';
export { LrpError, LrpArgumentError, LrpRuleError, LrpLayerError, LrpModelError, LrpLoadError, LrpEnvironmentError } from './errors.js';
export { registerLayer, registerLayerRule, unregisterLayer, layerClassNames } from './layers/registry.js';
export type { LayerAdapter, LinearPart, LinearLayerSpec, ActivationFn } from './layers/adapter.js';
export type { LayerGroup } from './layers/group.js';
export type { LinearMap, LinearParams } from './ops/linear.js';
export { registerRule, makeRule, ruleNames } from '../rules/registry.js';
export type { RuleParameters, RuleFactory } from '../rules/registry.js';
export { composite, BUILTIN_COMPOSITES, COMPOSITE_NAMES } from '../rules/composites.js';
export type { Composite, CompositeEntry, LayerMatch } from '../rules/composites.js';
export { epsilonRule, zeroRule } from '../rules/epsilon.js';
export { zPlusRule } from '../rules/zPlus.js';
export { alphaBetaRule } from '../rules/alphaBeta.js';
export { gammaRule } from '../rules/gamma.js';
export { flatRule } from '../rules/flat.js';
export { wSquareRule } from '../rules/wSquare.js';
export { zBoxRule } from '../rules/zBox.js';
export { passRule } from '../rules/pass.js';
export { normRule } from '../rules/norm.js';
export { gradientRule } from '../rules/gradient.js';
export { templateRule, keepParams, mapParams, positivePart, negativePart } from '../rules/template.js';
export type { TemplateSpec, ModifiedForward, ParamModifier, InputModifier, CustomInput } from '../rules/template.js';
export type { Rule, LinearRule, LayerRule, LinearRuleContext, LayerRuleContext, RuleParam } from '../rules/types.js';
export { METHODS } from './methods.js';
export type { AttributionMethod, GradientMethodOptions } from './methods.js';
export * from './backends/index.js';
