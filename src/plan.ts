/**
 * Plan: which rule for which node. Order of precedence (first match wins): `layerRules`,
 * `firstLayer`, the composite's entries, the shared base map, the layer adapter's default.
 */
import { baseEntries, BUILTIN_COMPOSITES, COMPOSITE_NAMES, Composite, CompositeEntry, LayerMatch, singleRuleComposite } from '../rules/composites.js';
import { gradientRule } from '../rules/gradient.js';
import { makeRule, RuleParameters, ruleNames } from '../rules/registry.js';
import type { Rule } from '../rules/types.js';
import { canonize, CanonicalGraph } from './canonize.js';
import { LrpArgumentError, LrpLayerError, LrpRuleError } from './errors.js';
import type { GraphNode } from './graph.js';
import type { LayerGroup } from './layers/group.js';
import { introspect } from './introspect.js';
import { gradientComposite, METHODS } from './methods.js';
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
}

const KNOWN_OPTIONS = new Set(['method', 'steps', 'baseline', 'blurSigma', 'noiseLevel', 'samples', 'seed', 'maxBatch', 'rule', 'epsilon', 'alpha', 'beta', 'gamma', 'stabilizer', 'composite', 'low', 'high', 'firstLayer', 'layerRules', 'output', 'outputRelevance', 'unknownLayers', 'checkInput']);

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

function checkNumber(options: ExplainOptions, key: 'epsilon' | 'alpha' | 'beta' | 'gamma' | 'stabilizer'): void {
  const v = options[key];
  if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) {
    throw new LrpArgumentError(`options.${key}`, `must be a finite number ≥ 0, got ${String(v)}.`);
  }
}

function compositeFrom(options: ExplainOptions, params: RuleParameters): Composite {
  const c = options.composite;
  if (c === undefined) return singleRuleComposite(ruleFrom(options.rule ?? 'epsilon', 'options.rule', params));
  if (typeof c === 'string') {
    const factory = BUILTIN_COMPOSITES[c];
    if (factory === undefined) throw new LrpRuleError(c, `Unknown composite '${c}'. Known composites: ${COMPOSITE_NAMES.join(', ')}. Or pass a composite object made with composite(name, entries).`);
    return factory(params);
  }
  if (c !== null && typeof c === 'object' && c.kind === 'composite' && Array.isArray(c.entries)) return c;
  throw new LrpArgumentError('options.composite', `expected a composite name (${COMPOSITE_NAMES.join(', ')}) or a composite object, got ${JSON.stringify(c)}.`);
}

function matches(match: LayerMatch, node: GraphNode, firsts: { linear: string | null; conv: string | null }): boolean {
  if (match.group !== undefined && match.group !== groupOf(node)) return false;
  if (match.className !== undefined && match.className !== node.className) return false;
  if (match.layerName !== undefined && match.layerName !== node.name && match.layerName !== node.layer.name) return false;
  if (match.position === 'firstLinear' && node.id !== firsts.linear) return false;
  if (match.position === 'firstConv' && node.id !== firsts.conv) return false;
  return match.group !== undefined || match.className !== undefined || match.layerName !== undefined || match.position !== undefined;
}

/** Layers already warned about (the gradient fallback warns once per layer, not per call). */
const warnedLayers = new WeakSet<object>();

const GRADIENT_GROUPS: readonly LayerGroup[] = ['maxPool', 'concatenate', 'reshape', 'embedding'];

/** Introspects, canonizes and assigns a rule to every node. */
export function planModel(model: unknown, options: ExplainOptions = {}): ModelPlan {
  if (options === null || typeof options !== 'object') throw new LrpArgumentError('options', `expected an options object, got ${String(options)}.`);
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) throw new LrpArgumentError(`options.${key}`, `unknown option. Known options: ${[...KNOWN_OPTIONS].join(', ')}.`);
  }
  (['epsilon', 'alpha', 'beta', 'gamma', 'stabilizer'] as const).forEach((k) => checkNumber(options, k));
  if (options.firstLayer !== undefined && !['flat', 'wSquare', 'zBox'].includes(options.firstLayer)) {
    throw new LrpArgumentError('options.firstLayer', `must be 'flat', 'wSquare' or 'zBox', got ${JSON.stringify(options.firstLayer)}.`);
  }
  if (options.unknownLayers !== undefined && options.unknownLayers !== 'error' && options.unknownLayers !== 'gradient') {
    throw new LrpArgumentError('options.unknownLayers', `must be 'error' or 'gradient', got ${JSON.stringify(options.unknownLayers)}.`);
  }
  const params: RuleParameters = options;
  const method = options.method ?? 'lrp';
  if (!METHODS.includes(method)) throw new LrpArgumentError('options.method', `unknown method ${JSON.stringify(method)}; expected one of ${METHODS.join(', ')}.`);
  if (method !== 'lrp') {
    for (const key of ['rule', 'composite', 'firstLayer', 'layerRules'] as const) {
      if (options[key] !== undefined) throw new LrpArgumentError(`options.${key}`, `applies to method 'lrp' only; method '${method}' uses the plain gradient of every layer.`);
    }
  }

  const graph0 = introspect(model);
  const output = options.output ?? 0;
  if (!Number.isInteger(output) || output < 0 || output >= graph0.outputs.length) {
    throw new LrpArgumentError('options.output', `must be an integer in [0, ${graph0.outputs.length - 1}] (the model has ${graph0.outputs.length} output${graph0.outputs.length === 1 ? '' : 's'}), got ${String(output)}.`);
  }
  const graph = canonize(graph0, output);

  const composite = method === 'lrp' ? compositeFrom(options, params) : gradientComposite();
  const entries: Array<CompositeEntry & { source: string }> = [];
  const userEntries = Object.entries(options.layerRules ?? {});
  for (const [key, value] of userEntries) {
    const rule = ruleFrom(value, `options.layerRules['${key}']`, params);
    entries.push({ match: { layerName: key }, rule, source: `layerRules['${key}']` });
    entries.push({ match: { className: key }, rule, source: `layerRules['${key}']` });
  }
  if (options.firstLayer !== undefined) {
    const first = options.firstLayer;
    entries.push({ match: { position: 'firstLinear' }, rule: () => makeRule(first, params), source: `firstLayer '${first}'` });
  }
  for (const e of composite.entries) {
    // firstLayer replaces the composite's own first-layer rule (e.g. epsilonGammaBox's z-box)
    if (options.firstLayer !== undefined && e.match.position !== undefined) continue;
    entries.push({ ...e, source: `composite ${composite.name} (${describeMatch(e.match)})` });
  }
  for (const e of baseEntries(params)) entries.push({ ...e, source: `base map (${describeMatch(e.match)})` });

  const linearNodes = graph.nodes.filter((n) => n.op.kind === 'linear');
  const firsts = {
    linear: linearNodes[0]?.id ?? null,
    conv: linearNodes.find((n) => groupOf(n) === 'conv')?.id ?? null,
  };
  const used = new Set<string>();
  const planned: PlannedNode[] = graph.nodes.map((node) => {
    const inputNonNegative = node.inputs.map((k) => graph.nonNegative.get(k) ?? false);
    const splitPart = node.op.kind === 'activation';
    const hit = entries.find((e) => (!splitPart || e.match.layerName === undefined || e.match.layerName === node.name) && (!splitPart || e.match.className === undefined) && matches(e.match, node, firsts));
    let rule: Rule;
    let reason: string;
    if (hit !== undefined) {
      rule = typeof hit.rule === 'function' ? hit.rule() : hit.rule;
      reason = hit.source;
      if (hit.source.startsWith('layerRules')) used.add(hit.source);
    } else if (node.adapter.defaultRule !== undefined) {
      rule = node.adapter.defaultRule();
      reason = `registered rule for ${node.className}`;
    } else if (GRADIENT_GROUPS.includes(groupOf(node))) {
      rule = gradientRule();
      reason = node.adapter.note ?? 'relevance moves with the values';
    } else if (options.unknownLayers === 'gradient') {
      if (!warnedLayers.has(node.layer)) {
        warnedLayers.add(node.layer);
        console.warn(`tfjs-lrp: layer '${node.name}' (${node.className}) has no LRP rule; falling back to its gradient (options.unknownLayers = 'gradient').`);
      }
      rule = gradientRule();
      reason = 'no rule: gradient fallback';
    } else {
      throw new LrpLayerError(node.name, node.className, `No rule for layer '${node.name}' (${node.className}). Map it in options.layerRules (e.g. { '${node.layer.name}': 'pass' } or { '${node.className}': 'gradient' }), register one for the class with registerLayerRule('${node.className}', rule), or pass options.unknownLayers = 'gradient'.`);
    }
    if (rule.appliesTo === 'linear' && node.op.kind !== 'linear') {
      throw new LrpRuleError(rule.name, `Rule '${rule.name}' applies to Dense/Conv layers only, but ${reason} gives it to layer '${node.name}' (${node.className}). Use 'pass', 'norm' or 'gradient' there.`);
    }
    const activation = node.op.kind === 'activation' ? node.op.activation.name : node.adapter.activationName?.(node.layer);
    if (activation === 'softmax' && reason.startsWith('base map')) {
      throw new LrpLayerError(node.name, node.className, `Layer '${node.name}' (${node.className}) applies softmax inside the network; tfjs-lrp strips a softmax only when it is the final activation. If passing relevance through it unchanged is what you want, map it: options.layerRules = { '${node.layer.name}': 'pass' }.`);
    }
    return { node, rule, reason, inputNonNegative };
  });
  for (const [key] of userEntries) {
    if (!used.has(`layerRules['${key}']`)) {
      const names = graph.nodes.map((n) => n.name).join(', ');
      throw new LrpArgumentError(`options.layerRules['${key}']`, `matches no layer name or class of the explained part of the model. Layers: ${names}.`);
    }
  }

  const shape = graph.outputShapes[output].slice(1);
  if (shape.some((d) => d === null)) {
    throw new LrpArgumentError('options.output', `output ${output} has an undefined dimension [${shape.join(',')}]; tfjs-lrp explains outputs of a fixed size.`);
  }
  const outputShape = shape as number[];
  return { graph, nodes: planned, composite: composite.name, outputShape, outputSize: outputShape.reduce((a, b) => a * b, 1) };
}

function describeMatch(m: LayerMatch): string {
  return [m.position, m.group && `group ${m.group}`, m.className, m.layerName].filter(Boolean).join(', ');
}
