/**
 * Rules by name, built from their definitions. The registry lives on a global so that two bundled
 * copies of tfjs-lrp share it (as tfjs does with kernels). Registering a name again replaces it
 * with a warning. A new built-in rule is its file (factory + definition) and one line in
 * {@link BUILTIN_RULE_DEFINITIONS}.
 */
import { LrpRuleError } from '../src/errors.js';
import { alphaBetaDefinition } from './alphaBeta.js';
import { epsilonDefinition, zeroDefinition } from './epsilon.js';
import { flatDefinition } from './flat.js';
import { gammaDefinition } from './gamma.js';
import { gradientDefinition } from './gradient.js';
import { normDefinition } from './norm.js';
import { passDefinition } from './pass.js';
import { productDefinition } from './product.js';
import type { Rule, RuleDefinition, RuleParameterName, RuleParameters, RuleParameterSpec } from './types.js';
import { uniformDefinition } from './uniform.js';
import { wSquareDefinition } from './wSquare.js';
import { zBoxDefinition } from './zBox.js';
import { zPlusDefinition } from './zPlus.js';

export type { RuleParameters } from './types.js';

/** Makes a rule from parameters. */
export type RuleFactory = (params: RuleParameters) => Rule;

/** The built-in rules, in the order they are listed (help, docs). */
export const BUILTIN_RULE_DEFINITIONS: readonly RuleDefinition[] = Object.freeze([
  epsilonDefinition,
  zeroDefinition,
  zPlusDefinition,
  alphaBetaDefinition,
  gammaDefinition,
  flatDefinition,
  wSquareDefinition,
  zBoxDefinition,
  passDefinition,
  normDefinition,
  gradientDefinition,
  uniformDefinition,
  productDefinition,
]);

// (a new key: older copies kept bare factories under 'tfjs-lrp.rules')
const KEY = Symbol.for('tfjs-lrp.ruleDefinitions');
type Holder = { [KEY]?: Map<string, RuleDefinition> };

function registry(): Map<string, RuleDefinition> {
  const holder = globalThis as unknown as Holder;
  if (holder[KEY] === undefined) holder[KEY] = new Map(BUILTIN_RULE_DEFINITIONS.map((d) => [d.name, d]));
  return holder[KEY] as Map<string, RuleDefinition>;
}

function isDefinition(value: unknown): value is RuleDefinition {
  const d = value as Partial<RuleDefinition> | null;
  return d !== null && typeof d === 'object' && typeof d.name === 'string' && d.name !== '' && typeof d.make === 'function' && Array.isArray(d.params);
}

/**
 * Registers (or replaces, with a warning) a rule: a {@link RuleDefinition} (described: it gets
 * checked options, CLI flags and a docs row), or a name and a bare factory.
 *
 * @example registerRule('myRule', (p) => templateRule('myRule', {}, spec))
 * @example registerRule({ ...epsilonDefinition, name: 'eps2', make: (p) => epsilonRule({ epsilon: p.epsilon ?? 0.01 }) })
 * @throws {LrpRuleError} when the name is empty or the factory is not a function
 */
export function registerRule(definition: RuleDefinition): void;
export function registerRule(name: string, factory: RuleFactory | RuleDefinition): void;
export function registerRule(nameOrDefinition: string | RuleDefinition, factory?: RuleFactory | RuleDefinition): void {
  let definition: RuleDefinition;
  if (typeof nameOrDefinition === 'string' && typeof factory === 'function' && nameOrDefinition !== '') {
    definition = Object.freeze({
      name: nameOrDefinition,
      summary: `registered with registerRule('${nameOrDefinition}', factory)`,
      appliesTo: 'unknown',
      params: [],
      firstLayer: false,
      references: {},
      make: factory,
    });
  } else if (typeof nameOrDefinition === 'string' && isDefinition(factory) && nameOrDefinition !== '') {
    definition = Object.freeze({ ...factory, name: nameOrDefinition });
  } else if (isDefinition(nameOrDefinition) && factory === undefined) {
    definition = nameOrDefinition;
  } else {
    const name = typeof nameOrDefinition === 'string' ? nameOrDefinition : String((nameOrDefinition as { name?: unknown } | null)?.name);
    throw new LrpRuleError(name, 'registerRule needs a RuleDefinition ({ name, summary, appliesTo, params, firstLayer, references, make }), or a non-empty name and a function (params) => Rule.');
  }
  if (registry().has(definition.name)) console.warn(`tfjs-lrp: rule '${definition.name}' is registered again; the new factory replaces the old one.`);
  registry().set(definition.name, definition);
}

/** Names of all registered rules (built-ins first). */
export function ruleNames(): string[] {
  return [...registry().keys()];
}

/** Every registered rule's definition, built-ins first (for checks, CLI flags and docs). */
export function ruleDefinitions(): readonly RuleDefinition[] {
  return [...registry().values()];
}

/** The definition of the rule registered under `name`, or undefined. */
export function ruleDefinition(name: string): RuleDefinition | undefined {
  return registry().get(name);
}

/**
 * Every rule parameter once (the first definition that lists it wins), in definition order:
 * the parameters explain accepts as options and the CLI as flags.
 */
export function ruleParameterSpecs(definitions: readonly RuleDefinition[] = ruleDefinitions()): readonly RuleParameterSpec[] {
  const seen = new Map<RuleParameterName, RuleParameterSpec>();
  for (const d of definitions) for (const p of d.params) if (!seen.has(p.name)) seen.set(p.name, p);
  return [...seen.values()];
}

/** Names of the rules that may be used as `options.firstLayer`. */
export function firstLayerRuleNames(): string[] {
  return ruleDefinitions().filter((d) => d.firstLayer).map((d) => d.name);
}

/** Makes the rule registered under `name`; unknown names throw with the list of known ones. */
export function makeRule(name: string, params: RuleParameters = {}): Rule {
  const definition = registry().get(name);
  if (definition === undefined) {
    throw new LrpRuleError(name, `Unknown rule '${name}'. Known rules: ${ruleNames().join(', ')}. Register your own with registerRule(name, factory).`);
  }
  return definition.make(params);
}

/** The required parameters of a rule that `params` lacks (in the definition's order). */
export function missingRequired(definition: RuleDefinition, params: RuleParameters): RuleParameterName[] {
  return definition.params.filter((p) => p.required === true && params[p.name] === undefined).map((p) => p.name);
}
