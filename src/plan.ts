/**
 * Plan: which rule for which node. Order of precedence (first match wins): `layerRules`,
 * `firstLayer`, the composite's entries, the rule registered for the layer's class, the group's
 * default of `GROUP_DEFAULTS` (rules/groups.ts), then `options.unknownLayers`.
 */
import { baseEntries, BUILTIN_COMPOSITES, COMPOSITE_NAMES, Composite, CompositeEntry, LayerMatch, singleRuleComposite } from '../rules/composites.js';
import { GROUP_DEFAULTS } from '../rules/groups.js';
import { gradientDefinition } from '../rules/gradient.js';
import { normDefinition } from '../rules/norm.js';
import { passDefinition } from '../rules/pass.js';
import { uniformDefinition } from '../rules/uniform.js';
import { firstLayerRuleNames, makeRule, RuleParameters, ruleNames, ruleParameterSpecs } from '../rules/registry.js';
import type { Rule, RuleDefinition, RuleParameterSpec } from '../rules/types.js';
import { canonize, CanonicalGraph } from './canonize.js';
import { checkNotDisposed } from './checks.js';
import { LrpArgumentError, LrpLayerError, LrpRuleError } from './errors.js';
import type { GraphNode } from './graph.js';
import type { LayerGroup } from './layers/group.js';
import { introspect } from './introspect.js';
import { outputIndexOf } from './graphModel/output.js';
import { isOpNode } from './graphModel/opLayer.js';
import { gradientComposite, METHODS } from './methods.js';
import { inactiveZeroKeys, rectifiedLinearNodes } from './relevanceSupport.js';
import type { ExplainOptions } from './options.js';

/** One node with its rule. */
export interface PlannedNode {
  readonly node: GraphNode;
  readonly rule: Rule;
  /** Why this rule: e.g. `composite epsilonPlus (group conv)`, `layerRules['fc1']`. */
  readonly reason: string;
  /** Per input: whether it is known to be ≥ 0 (rules skip x⁻ terms then). */
  readonly inputNonNegative: readonly boolean[];
}

/** Everything decided before any tensor is touched. */
export interface ModelPlan {
  readonly graph: CanonicalGraph;
  readonly nodes: readonly PlannedNode[];
  /** Name of the composite (or single rule) in use. */
  readonly composite: string;
  /** Shape of the explained output without the batch axis. */
  readonly outputShape: readonly number[];
  /** Number of scores per sample (product of `outputShape`). */
  readonly outputSize: number;
  /**
   * Keys of the tensors whose relevance is known to be zero wherever they are ≤ 0 when the pass
   * starts at the explained output (src/relevanceSupport.ts); the rules of the Dense/Conv nodes
   * that produce them get `upperZeroWhereInactive`.
   */
  readonly inactiveZero: ReadonlySet<string>;
  /**
   * Ids of the Dense/Conv nodes whose ReLU the forward pass of an explanation applies inside the
   * layer's own kernel, recording `max(z, 0)` as the node's output (src/relevanceSupport.ts): the
   * layer then costs what it costs in `model.predict`. Only for passes from the explained output,
   * and only where the node's output is in `inactiveZero`.
   */
  readonly rectifiedLinear: ReadonlySet<string>;
}

/** Default of `options.batchSize`: samples per forward/backward pass, as `model.predict`'s. */
export const DEFAULT_BATCH_SIZE = 32;

/** The options that are not rule parameters (those come from the rule definitions). */
const OTHER_OPTIONS: readonly string[] = ['method', 'steps', 'baseline', 'blurSigma', 'noiseLevel', 'samples', 'seed', 'maxBatch', 'rule', 'composite', 'firstLayer', 'layerRules', 'output', 'outputRelevance', 'unknownLayers', 'checkInput', 'inputNonNegative', 'batchSize'];

/** Every option name `planModel` accepts: the parameters of the registered rules and the others. */
export function knownOptions(): string[] {
  return [...new Set([...OTHER_OPTIONS, ...ruleParameterSpecs().map((p) => p.name)])];
}

/** `'a', 'b' or 'c'`. */
function orList(names: readonly string[]): string {
  const quoted = names.map((n) => `'${n}'`);
  return quoted.length <= 1 ? quoted.join('') : `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}`;
}

/** The group a node matches in composites. */
export function groupOf(node: GraphNode): LayerGroup {
  switch (node.op.kind) {
    case 'linear':
      return node.op.part.map.group;
    case 'activation':
      return 'activation';
    case 'merged':
      return 'batchNorm';
    default:
      return node.adapter.group;
  }
}

function isRule(value: unknown): value is Rule {
  const v = value as Partial<Rule> | null;
  return v !== null && typeof v === 'object' && v.kind === 'rule' && typeof v.name === 'string' && typeof v.relevance === 'function' && (v.appliesTo === 'linear' || v.appliesTo === 'any');
}

function ruleFrom(value: unknown, argument: string, params: RuleParameters): Rule {
  if (isRule(value)) return value;
  if (typeof value === 'string') return makeRule(value, params);
  throw new LrpArgumentError(argument, `expected a rule name (${ruleNames().join(', ')}) or a rule object, got ${JSON.stringify(value)}.`);
}

/** Checks one rule parameter option against its definition: a finite number ≥ min (or a tensor where allowed). */
function checkParameter(spec: RuleParameterSpec, value: unknown): void {
  if (value === undefined) return;
  if (typeof value === 'number' && Number.isFinite(value) && (spec.min === undefined || value >= spec.min)) return;
  const v = value as { shape?: unknown } | null;
  if (spec.tensor === true && typeof v === 'object' && v !== null && Array.isArray(v.shape)) return;
  const number = `a finite number${spec.min !== undefined ? ` ≥ ${spec.min}` : ''}`;
  throw new LrpArgumentError(`options.${spec.name}`, `must be ${number}${spec.tensor === true ? ' or a tf.Tensor broadcastable to the input' : ''} (${spec.description}), got ${String(value)}.`);
}

/** Step 1: checks the options before anything is introspected (no tensors made). */
export function checkOptions(options: ExplainOptions): void {
  if (options === null || typeof options !== 'object') throw new LrpArgumentError('options', `expected an options object, got ${String(options)}.`);
  const known = knownOptions();
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new LrpArgumentError(`options.${key}`, `unknown option. Known options: ${known.join(', ')}.`);
  }
  const values = options as Readonly<Record<string, unknown>>;
  for (const spec of ruleParameterSpecs()) checkParameter(spec, values[spec.name]);
  if (options.firstLayer !== undefined) {
    const allowed = firstLayerRuleNames();
    if (!allowed.includes(options.firstLayer)) throw new LrpArgumentError('options.firstLayer', `must be ${orList(allowed)} (the rules made for the first layer), got ${JSON.stringify(options.firstLayer)}.`);
  }
  if (options.unknownLayers !== undefined && options.unknownLayers !== 'error' && options.unknownLayers !== 'gradient') {
    throw new LrpArgumentError('options.unknownLayers', `must be 'error' or 'gradient', got ${JSON.stringify(options.unknownLayers)}.`);
  }
  const size = options.batchSize;
  if (size !== undefined && (typeof size !== 'number' || !Number.isInteger(size) || size < 1)) {
    throw new LrpArgumentError('options.batchSize', `must be a positive integer (samples per forward/backward pass; default ${DEFAULT_BATCH_SIZE}), got ${JSON.stringify(size)}.`);
  }
  const declared = options.inputNonNegative;
  if (declared !== undefined && typeof declared !== 'boolean') {
    throw new LrpArgumentError('options.inputNonNegative', `must be true or false (true declares every model input ≥ 0), got ${JSON.stringify(declared)}.`);
  }
  const method = options.method ?? 'lrp';
  if (!METHODS.includes(method)) throw new LrpArgumentError('options.method', `unknown method ${JSON.stringify(method)}; expected one of ${METHODS.join(', ')}.`);
  if (method !== 'lrp') {
    for (const key of ['rule', 'composite', 'firstLayer', 'layerRules', 'inputNonNegative'] as const) {
      if (options[key] !== undefined) throw new LrpArgumentError(`options.${key}`, `applies to method 'lrp' only; method '${method}' uses the plain gradient of every layer.`);
    }
  }
}

/** Step 2: the composite of the options (a built-in name, a composite object, or the single `rule`). */
export function compositeFrom(options: ExplainOptions, params: RuleParameters): Composite {
  if ((options.method ?? 'lrp') !== 'lrp') return gradientComposite();
  const c = options.composite;
  if (c === undefined) return singleRuleComposite(ruleFrom(options.rule ?? 'epsilon', 'options.rule', params));
  if (typeof c === 'string') {
    // (an own name only: 'constructor' or 'toString' are not composites)
    const factory = Object.prototype.hasOwnProperty.call(BUILTIN_COMPOSITES, c) ? BUILTIN_COMPOSITES[c] : undefined;
    if (factory === undefined) throw new LrpRuleError(c, `Unknown composite '${c}'. Known composites: ${COMPOSITE_NAMES.join(', ')}. Or pass a composite object made with composite(name, entries).`);
    return factory(params);
  }
  if (c !== null && typeof c === 'object' && c.kind === 'composite' && Array.isArray(c.entries)) return c;
  throw new LrpArgumentError('options.composite', `expected a composite name (${COMPOSITE_NAMES.join(', ')}) or a composite object, got ${JSON.stringify(c)}.`);
}

/** An entry of the plan with where it comes from (`layerRules['fc1']`, `composite epsilonPlus (group conv)`, …). */
interface SourcedEntry extends CompositeEntry {
  readonly source: string;
}

/** Step 3: the entries in order of precedence: `layerRules`, `firstLayer`, the composite's own entries. */
export function planEntries(options: ExplainOptions, composite: Composite, params: RuleParameters): SourcedEntry[] {
  const entries: SourcedEntry[] = [];
  for (const [key, value] of Object.entries(options.layerRules ?? {})) {
    const rule = ruleFrom(value, `options.layerRules['${key}']`, params);
    entries.push({ match: { layerName: key }, rule, source: `layerRules['${key}']` });
    entries.push({ match: { className: key }, rule, source: `layerRules['${key}']` });
  }
  const first = options.firstLayer;
  if (first !== undefined) entries.push({ match: { position: 'firstLinear' }, rule: () => makeRule(first, params), source: `firstLayer '${first}'` });
  for (const e of composite.entries) {
    // firstLayer replaces the composite's own first-layer rule (e.g. epsilonGammaBox's z-box)
    if (first !== undefined && e.match.position !== undefined) continue;
    entries.push({ ...e, source: `composite ${composite.name} (${describeMatch(e.match)})` });
  }
  return entries;
}

function matches(match: LayerMatch, node: GraphNode, firsts: FirstLayers): boolean {
  if (match.group !== undefined && match.group !== groupOf(node)) return false;
  if (match.className !== undefined && match.className !== node.className) return false;
  if (match.layerName !== undefined && match.layerName !== node.name && match.layerName !== node.layer.name) return false;
  if (match.position === 'firstLinear' && node.id !== firsts.linear) return false;
  if (match.position === 'firstConv' && node.id !== firsts.conv) return false;
  return match.group !== undefined || match.className !== undefined || match.layerName !== undefined || match.position !== undefined;
}

/** The ids of the first Dense/Conv and the first Conv node (forward order). */
interface FirstLayers {
  readonly linear: string | null;
  readonly conv: string | null;
}

/** What {@link ruleForNode} needs besides the node. */
interface RuleContext {
  readonly entries: readonly SourcedEntry[];
  /** The base map (the `'pass'`/`'norm'` rows of GROUP_DEFAULTS). */
  readonly base: readonly SourcedEntry[];
  readonly firsts: FirstLayers;
  readonly unknownLayers: 'error' | 'gradient';
  readonly params: RuleParameters;
}

/** Layers already warned about (the gradient fallback warns once per layer, not per call). */
const warnedLayers = new WeakSet<object>();

/** The first entry that matches the node (a split activation matches its own name only, never the class). */
function findEntry(entries: readonly SourcedEntry[], node: GraphNode, firsts: FirstLayers): SourcedEntry | undefined {
  const splitPart = node.op.kind === 'activation';
  return entries.find((e) => (!splitPart || e.match.layerName === undefined || e.match.layerName === node.name) && (!splitPart || e.match.className === undefined) && matches(e.match, node, firsts));
}

/** Step 4: the rule of one node and why (first match wins; see the module comment). */
export function ruleForNode(node: GraphNode, ctx: RuleContext): { rule: Rule; reason: string; source: string | null } {
  const hit = findEntry(ctx.entries, node, ctx.firsts);
  if (hit !== undefined) return { rule: typeof hit.rule === 'function' ? hit.rule() : hit.rule, reason: hit.source, source: hit.source };
  // (a class's rule is for its own nodes: not for an activation split from it or a merged BatchNorm)
  if (node.adapter.defaultRule !== undefined && (node.op.kind === 'layer' || node.op.kind === 'linear')) return { rule: node.adapter.defaultRule(ctx.params, node.layer), reason: `registered rule for ${node.className}`, source: null };
  const base = findEntry(ctx.base, node, ctx.firsts);
  if (base !== undefined) return { rule: typeof base.rule === 'function' ? base.rule() : base.rule, reason: base.source, source: null };
  const group = groupOf(node);
  const fallback = GROUP_DEFAULTS[group].rule;
  if (fallback !== null) return { rule: makeDefault(fallback, ctx.params), reason: node.adapter.note ?? GROUP_DEFAULTS[group].why, source: null };
  if (ctx.unknownLayers === 'gradient') {
    if (!warnedLayers.has(node.layer)) {
      warnedLayers.add(node.layer);
      console.warn(`tfjs-lrp: layer '${node.name}' (${node.className}) has no LRP rule; falling back to its gradient (options.unknownLayers = 'gradient').`);
    }
    return { rule: makeDefault('gradient', ctx.params), reason: 'no rule: gradient fallback', source: null };
  }
  throw new LrpLayerError(node.name, node.className, `No rule for layer '${node.name}' (${node.className}). Map it in options.layerRules (e.g. { '${node.layer.name}': 'pass' } or { '${node.className}': 'gradient' }), ${isOpNode(node) ? `teach tfjs-lrp the op with registerOp('${node.className}', { group: 'other', defaultRule: () => rule })` : `register one for the class with registerLayerRule('${node.className}', rule)`}, or pass options.unknownLayers = 'gradient'${isOpNode(node) ? ` (its gradient through the converter's own ${node.className} op)` : ''}.`);
}

/** A group default by name, from the built-in definitions (a re-registered name does not change defaults). */
function makeDefault(name: 'pass' | 'norm' | 'gradient' | 'uniform', params: RuleParameters): Rule {
  return BUILTIN_DEFAULTS[name].make(params);
}

const BUILTIN_DEFAULTS: Readonly<Record<'pass' | 'norm' | 'gradient' | 'uniform', RuleDefinition>> = { pass: passDefinition, norm: normDefinition, gradient: gradientDefinition, uniform: uniformDefinition };

/** Step 5: a rule must fit its node (Dense/Conv rules on Dense/Conv only). */
function checkRuleFits(node: GraphNode, rule: Rule, reason: string): void {
  // (a recurrent layer applies a Dense rule to the linear maps inside it: adapter.innerLinear)
  if (rule.appliesTo === 'linear' && node.op.kind !== 'linear' && !(node.op.kind === 'layer' && node.adapter.innerLinear !== undefined)) {
    throw new LrpRuleError(rule.name, `Rule '${rule.name}' applies to Dense/Conv layers only, but ${reason} gives it to layer '${node.name}' (${node.className}). Use 'pass', 'norm' or 'gradient' there.`);
  }
  // (a softmax inside the network, e.g. attention weights, passes like every activation: LRP_RULES §9)
}

/** Introspects, canonizes and assigns a rule to every node. */
export function planModel(model: unknown, options: ExplainOptions = {}): ModelPlan {
  checkOptions(options);
  const params: RuleParameters = options;
  const graph0 = introspect(model);
  checkNotDisposed(model);
  const output = outputIndexOf(model, options.output) ?? 0;
  if (!Number.isInteger(output) || output < 0 || output >= graph0.outputs.length) {
    throw new LrpArgumentError('options.output', `must be an integer in [0, ${graph0.outputs.length - 1}] (the model has ${graph0.outputs.length} output${graph0.outputs.length === 1 ? '' : 's'}), got ${String(output)}.`);
  }
  const graph = canonize(graph0, output, options.inputNonNegative === true);

  const composite = compositeFrom(options, params);
  const linearNodes = graph.nodes.filter((n) => n.op.kind === 'linear');
  const ctx: RuleContext = {
    entries: planEntries(options, composite, params),
    base: baseEntries(params).map((e) => ({ ...e, source: `base map (${describeMatch(e.match)})` })),
    firsts: { linear: linearNodes[0]?.id ?? null, conv: linearNodes.find((n) => groupOf(n) === 'conv')?.id ?? null },
    unknownLayers: options.unknownLayers ?? 'error',
    params,
  };
  const used = new Set<string>();
  const nodes: PlannedNode[] = graph.nodes.map((node) => {
    const { rule, reason, source } = ruleForNode(node, ctx);
    if (source !== null) used.add(source);
    checkRuleFits(node, rule, reason);
    return { node, rule, reason, inputNonNegative: node.inputs.map((k) => graph.nonNegative.get(k) ?? false) };
  });
  for (const key of Object.keys(options.layerRules ?? {})) {
    if (!used.has(`layerRules['${key}']`)) {
      const names = graph.nodes.map((n) => n.name).join(', ');
      throw new LrpArgumentError(`options.layerRules['${key}']`, `matches no layer name or class of the explained part of the model. Layers: ${names}.`);
    }
  }
  const outputShape = outputShapeOf(graph, output);
  const inactiveZero = inactiveZeroKeys(graph, nodes, graph.explained);
  return { graph, nodes, composite: composite.name, outputShape, outputSize: outputShape.reduce((a, b) => a * b, 1), inactiveZero, rectifiedLinear: rectifiedLinearNodes(nodes, inactiveZero) };
}

/** The explained output's shape without the batch axis; it must be fixed. */
function outputShapeOf(graph: CanonicalGraph, output: number): number[] {
  const shape = graph.outputShapes[output].slice(1);
  if (shape.some((d) => d === null)) {
    throw new LrpArgumentError('options.output', `output ${output} has an undefined dimension [${shape.join(',')}]; tfjs-lrp explains outputs of a fixed size.`);
  }
  return shape as number[];
}

function describeMatch(m: LayerMatch): string {
  return [m.position, m.group && `group ${m.group}`, m.className, m.layerName].filter(Boolean).join(', ');
}
