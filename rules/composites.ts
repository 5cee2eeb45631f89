/**
 * Composites: ordered (layer match → rule) lists; the first match wins (zennit composites.py).
 * Every composite implicitly ends with the shared base map of {@link baseEntries}. The built-in
 * composites are described as data ({@link CompositeDefinition}): their entries name rules of the
 * registry's built-in definitions.
 */
import { LrpRuleError } from '../src/errors.js';
import { GROUP_DEFAULTS, LAYER_GROUPS, type LayerGroup } from './groups.js';
import { normDefinition } from './norm.js';
import { passDefinition } from './pass.js';
import { BUILTIN_RULE_DEFINITIONS, missingRequired } from './registry.js';
import type { Rule, RuleDefinition, RuleParameterName, RuleParameters, RuleReferences } from './types.js';

/** Which layers an entry applies to. Every given field must match. */
export interface LayerMatch {
  /** Layer group, e.g. `'conv'`. */
  readonly group?: LayerGroup;
  /** Keras class name, e.g. `'Conv2D'`. */
  readonly className?: string;
  /** Layer name (nested models: `outer/inner`, or the bare layer name). */
  readonly layerName?: string;
  /** `'firstLinear'`: the first Dense/Conv in forward order; `'firstConv'`: the first Conv. */
  readonly position?: 'firstLinear' | 'firstConv';
}

/** One (match → rule) pair. A function is called only when a layer matches (lazy rules). */
export interface CompositeEntry {
  /** Which layers the entry applies to. */
  readonly match: LayerMatch;
  /** The rule, or a function that makes it when a layer first matches. */
  readonly rule: Rule | (() => Rule);
}

/** A named, ordered list of entries. */
export interface Composite {
  readonly kind: 'composite';
  readonly name: string;
  readonly entries: readonly CompositeEntry[];
}

/** Builds a composite descriptor. */
export function composite(name: string, entries: readonly CompositeEntry[]): Composite {
  return Object.freeze({ kind: 'composite' as const, name, entries: Object.freeze([...entries]) });
}

/** The base map every composite shares (after its own entries): the `'pass'`/`'norm'` rows of {@link GROUP_DEFAULTS}. */
export function baseEntries(params: RuleParameters): CompositeEntry[] {
  const rules = { pass: passDefinition.make(params), norm: normDefinition.make(params) };
  const entries: CompositeEntry[] = [];
  for (const group of LAYER_GROUPS) {
    const rule = GROUP_DEFAULTS[group].rule;
    if (rule === 'pass' || rule === 'norm') entries.push({ match: { group }, rule: rules[rule] });
  }
  return entries;
}

/** A composite that gives every Dense and Conv layer the same rule. */
export function singleRuleComposite(rule: Rule): Composite {
  return composite(rule.name, [
    { match: { group: 'dense' }, rule },
    { match: { group: 'conv' }, rule },
  ]);
}

/** One entry of a {@link CompositeDefinition}, as plain data. */
export interface CompositeEntrySpec {
  readonly match: LayerMatch;
  /** The name of a built-in rule, e.g. `'zPlus'`. */
  readonly rule: string;
  /** Parameters the composite fixes (options do not change them), e.g. `{ alpha: 2, beta: 1 }`. */
  readonly fixed?: Readonly<Partial<Record<RuleParameterName, number>>>;
}

/** A built-in composite described as data, with its factory (for docs, checks and CLI flags). */
export interface CompositeDefinition {
  /** The name, e.g. `'epsilonGammaBox'`. */
  readonly name: string;
  /** One line for tables and help. */
  readonly summary: string;
  /** Its own entries, in order (the base map of {@link GROUP_DEFAULTS} follows them). */
  readonly entries: readonly CompositeEntrySpec[];
  /** The options it reads: the parameters of its rules, less the fixed ones. */
  readonly params: readonly RuleParameterName[];
  /** The options it cannot do without (its rules' required parameters), e.g. `['low', 'high']`. */
  readonly requires: readonly RuleParameterName[];
  readonly references: RuleReferences;
  /** Builds the composite; a rule with required parameters is made (and checked) only when a layer matches. */
  make(params: RuleParameters): Composite;
}

function builtinRule(name: string): RuleDefinition {
  const d = BUILTIN_RULE_DEFINITIONS.find((r) => r.name === name);
  if (d === undefined) throw new LrpRuleError(name, `A composite names rule '${name}', which is not a built-in rule.`);
  return d;
}

/** A match in words, e.g. `the first Conv layer`, `conv layers`. */
export function matchInWords(m: LayerMatch): string {
  if (m.position === 'firstConv') return 'the first Conv layer';
  if (m.position === 'firstLinear') return 'the first Dense/Conv layer';
  if (m.layerName !== undefined) return `layer '${m.layerName}'`;
  if (m.className !== undefined) return `${m.className} layers`;
  return m.group !== undefined ? `the ${m.group} layers` : 'no layer';
}

/** The explain options a rule's missing required parameters ask for, e.g. `{ low, high }, e.g. { low: 0, high: 1 } for images…`. */
function optionsHint(d: RuleDefinition, missing: readonly RuleParameterName[]): string {
  const specs = d.params.filter((p) => missing.includes(p.name));
  const example = specs.every((p) => p.example !== undefined) ? `, e.g. { ${specs.map((p) => `${p.name}: ${String(p.example)}`).join(', ')} }${d.requirement !== undefined ? ` for ${d.requirement.exampleFor}` : ''}` : '';
  return `pass options { ${missing.join(', ')} }${example}`;
}

/**
 * Defines a composite from plain entries (built-in rule names). Its `params` and `requires` are
 * derived from the rules' definitions.
 */
export function defineComposite(name: string, summary: string, entries: readonly CompositeEntrySpec[], references: RuleReferences = {}): CompositeDefinition {
  const rules = entries.map((e) => builtinRule(e.rule));
  const params = new Set<RuleParameterName>();
  const requires = new Set<RuleParameterName>();
  rules.forEach((d, i) => {
    for (const p of d.params) {
      if (entries[i].fixed?.[p.name] !== undefined) continue;
      params.add(p.name);
      if (p.required === true) requires.add(p.name);
    }
  });
  const frozen = Object.freeze(entries.map((e) => Object.freeze({ ...e, match: Object.freeze({ ...e.match }) })));
  return Object.freeze({
    name,
    summary,
    entries: frozen,
    params: Object.freeze([...params]),
    requires: Object.freeze([...requires]),
    references,
    make(p: RuleParameters): Composite {
      return composite(name, frozen.map((e, i): CompositeEntry => {
        const d = rules[i];
        const q: RuleParameters = { ...p, ...e.fixed };
        if (!d.params.some((s) => s.required === true)) return { match: e.match, rule: d.make(q) };
        return {
          match: e.match,
          rule: () => {
            const missing = missingRequired(d, q);
            if (missing.length > 0) {
              const what = d.requirement?.what ?? missing.map((m) => `'${m}'`).join(' and ');
              throw new LrpRuleError(name, `Composite '${name}' uses the ${d.name} rule on ${matchInWords(e.match)} and needs ${what}: ${optionsHint(d, missing)}.`);
            }
            return d.make(q);
          },
        };
      }));
    },
  });
}

/** The built-in composites of LRP_RULES.md §3, in the order they are listed. */
export const BUILTIN_COMPOSITE_DEFINITIONS: readonly CompositeDefinition[] = Object.freeze([
  defineComposite('epsilonPlus', 'z⁺ for Conv layers, ε for Dense layers', [
    { match: { group: 'conv' }, rule: 'zPlus' },
    { match: { group: 'dense' }, rule: 'epsilon' },
  ], { zennit: 'EpsilonPlus' }),
  defineComposite('epsilonPlusFlat', 'epsilonPlus with the flat rule on the first Dense/Conv layer', [
    { match: { position: 'firstLinear' }, rule: 'flat' },
    { match: { group: 'conv' }, rule: 'zPlus' },
    { match: { group: 'dense' }, rule: 'epsilon' },
  ], { zennit: 'EpsilonPlusFlat' }),
  defineComposite('epsilonGammaBox', 'z-box on the first Conv layer, γ for the other Conv layers, ε for Dense layers', [
    { match: { position: 'firstConv' }, rule: 'zBox' },
    { match: { group: 'conv' }, rule: 'gamma' },
    { match: { group: 'dense' }, rule: 'epsilon' },
  ], { zennit: 'EpsilonGammaBox' }),
  defineComposite('epsilonAlpha2Beta1', 'αβ with α = 2, β = 1 for Conv layers, ε for Dense layers', [
    { match: { group: 'conv' }, rule: 'alphaBeta', fixed: { alpha: 2, beta: 1 } },
    { match: { group: 'dense' }, rule: 'epsilon' },
  ], { zennit: 'EpsilonAlpha2Beta1' }),
  defineComposite('epsilonAlpha2Beta1Flat', 'epsilonAlpha2Beta1 with the flat rule on the first Dense/Conv layer', [
    { match: { position: 'firstLinear' }, rule: 'flat' },
    { match: { group: 'conv' }, rule: 'alphaBeta', fixed: { alpha: 2, beta: 1 } },
    { match: { group: 'dense' }, rule: 'epsilon' },
  ], { zennit: 'EpsilonAlpha2Beta1Flat' }),
]);

/** One entry of a composite whose rule lacks required parameters, with what is missing. */
export interface MissingRequirement {
  readonly entry: CompositeEntrySpec;
  readonly rule: RuleDefinition;
  readonly missing: readonly RuleParameterName[];
}

/**
 * The entries of `definition` whose rule needs parameters that `params` lacks (before any model is
 * seen). `skipPositions`: leave out the position entries (`firstLayer` replaces them).
 */
export function missingRequirements(definition: CompositeDefinition, params: RuleParameters, skipPositions = false): MissingRequirement[] {
  const found: MissingRequirement[] = [];
  for (const entry of definition.entries) {
    if (skipPositions && entry.match.position !== undefined) continue;
    const rule = builtinRule(entry.rule);
    const missing = missingRequired(rule, { ...params, ...entry.fixed });
    if (missing.length > 0) found.push({ entry, rule, missing });
  }
  return found;
}

/** The built-in composites' definitions (for docs tables, checks and CLI flags). */
export function compositeDefinitions(): readonly CompositeDefinition[] {
  return BUILTIN_COMPOSITE_DEFINITIONS;
}

/** The built-in composites of LRP_RULES.md §3, by name. */
export const BUILTIN_COMPOSITES: Readonly<Record<string, (p: RuleParameters) => Composite>> = Object.freeze(
  Object.fromEntries(BUILTIN_COMPOSITE_DEFINITIONS.map((d) => [d.name, (p: RuleParameters) => d.make(p)])),
);

/** Names of the built-in composites. */
export const COMPOSITE_NAMES: string[] = BUILTIN_COMPOSITE_DEFINITIONS.map((d) => d.name);
