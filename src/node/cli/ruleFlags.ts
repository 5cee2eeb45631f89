/**
 * The rule flags of the CLI (--rule, --composite, --epsilon, …) and their translation into
 * explain options. Built from the rule and composite definitions: one numeric flag per rule
 * parameter, with its description, default and minimum.
 */
import { compositeDefinitions, matchInWords, missingRequirements } from '../../../rules/composites.js';
import { firstLayerRuleNames, missingRequired, ruleDefinition, ruleNames, ruleParameterSpecs } from '../../../rules/registry.js';
import type { RuleDefinition, RuleParameterName, RuleParameters, RuleParameterSpec } from '../../../rules/types.js';
import type { PortableOptions } from '../batch/compute.js';
import { LrpUsageError, type FlagSpec, type ParsedArgs } from './args.js';

/** A default as the help shows it: `1e-6`, `0.25`, `2`. */
function shown(value: number): string {
  return value !== 0 && Math.abs(value) < 1e-3 ? value.toExponential() : String(value);
}

/** The CLI flag of a rule parameter: `--epsilon <e>`, `--low <v>`. */
export function parameterFlag(spec: RuleParameterSpec): FlagSpec {
  return {
    name: spec.name,
    type: 'number',
    value: spec.tensor === true ? '<v>' : `<${spec.name[0]}>`,
    description: spec.description,
    ...(spec.min !== undefined ? { min: spec.min } : {}),
    ...(spec.default !== undefined ? { default: shown(spec.default) } : {}),
  };
}

/** The rule parameters that have a CLI flag (every parameter of the registered rules). */
const PARAMETERS: readonly RuleParameterSpec[] = ruleParameterSpecs();

/** Flags that choose rules and their parameters (explain, aggregate, describe). */
export const RULE_FLAGS: FlagSpec[] = [
  { name: 'rule', type: 'string', value: '<name>', description: 'rule for every Dense/Conv layer', choices: ruleNames(), default: 'epsilon' },
  { name: 'composite', type: 'string', value: '<name>', description: 'a composite (overrides --rule)', choices: compositeDefinitions().map((c) => c.name) },
  ...PARAMETERS.map(parameterFlag),
  { name: 'first-layer', type: 'string', value: '<rule>', description: 'rule of the first Dense/Conv layer', choices: firstLayerRuleNames() },
  { name: 'layer-rule', type: 'string', value: '<layer=rule>', description: 'rule for a layer name or class, e.g. dense_2=epsilon', repeat: true },
  { name: 'unknown-layers', type: 'string', value: '<how>', description: 'layers without a rule', choices: ['error', 'gradient'], default: 'error' },
  { name: 'input-non-negative', type: 'boolean', description: 'declare every model input ≥ 0 (images with --scale 0..1 or 0..255, counts): z⁺, αβ and γ on a layer that reads the input then skip its split into x⁺ and x⁻ (the same numbers, fewer kernels)' },
  { name: 'output', type: 'string', value: '<k>', description: 'which output of a multi-output model: its index, or its name (output node of a graph model, output layer of a layers model)', default: '0' },
];

/** `pass --low <v> --high <v>, e.g. --low 0 --high 1 for images scaled to [0, 1]`. */
function passFlags(rule: RuleDefinition, missing: readonly RuleParameterName[]): string {
  const specs = rule.params.filter((p) => missing.includes(p.name));
  const example = specs.every((p) => p.example !== undefined) ? `, e.g. ${specs.map((p) => `--${p.name} ${String(p.example)}`).join(' ')}${rule.requirement !== undefined ? ` for ${rule.requirement.exampleFor}` : ''}` : '';
  return `pass ${specs.map((p) => `--${p.name} <v>`).join(' ')}${example}`;
}

function needs(rule: RuleDefinition, missing: readonly RuleParameterName[]): string {
  return rule.requirement?.what ?? missing.map((m) => `--${m}`).join(' and ');
}

/**
 * Checks, before any model is loaded, that the rule flags give every parameter the chosen rule,
 * composite, first-layer rule and layer rules require (e.g. z-box's input bounds).
 *
 * @throws {LrpUsageError} naming the first missing flag (e.g. `--low`), the flag that needs it
 *   and an example
 */
export function checkRuleFlags(args: ParsedArgs): void {
  const f = args.flags;
  const given: RuleParameters = Object.fromEntries(PARAMETERS.filter((p) => f[p.name] !== undefined).map((p) => [p.name, f[p.name]]));
  const firstLayer = f['first-layer'] as string | undefined;
  const check = (flag: string, name: string, where: string) => {
    const rule = ruleDefinition(name);
    if (rule === undefined) return; // unknown names are reported by the parser or the planner
    const missing = missingRequired(rule, given);
    if (missing.length > 0) throw new LrpUsageError(`--${missing[0]}`, `${flag}${where} and needs ${needs(rule, missing)}: ${passFlags(rule, missing)}.`);
  };
  const composite = f.composite as string | undefined;
  if (composite !== undefined) {
    const definition = compositeDefinitions().find((c) => c.name === composite);
    const first = definition === undefined ? undefined : missingRequirements(definition, given, firstLayer !== undefined)[0];
    if (first !== undefined) {
      throw new LrpUsageError(`--${first.missing[0]}`, `--composite ${composite} uses the ${first.rule.name} rule on ${matchInWords(first.entry.match)} and needs ${needs(first.rule, first.missing)}: ${passFlags(first.rule, first.missing)}.`);
    }
  } else {
    const rule = (f.rule as string | undefined) ?? 'epsilon';
    check(`--rule ${rule}`, rule, ' gives every Dense/Conv layer that rule');
  }
  if (firstLayer !== undefined) check(`--first-layer ${firstLayer}`, firstLayer, ' gives the first Dense/Conv layer that rule');
  for (const entry of (f['layer-rule'] as string[] | undefined) ?? []) {
    const m = /^([^=]+)=(.+)$/.exec(entry);
    if (m !== null) check(`--layer-rule ${entry}`, m[2].trim(), ` gives ${m[1].trim()} the ${m[2].trim()} rule`);
  }
}

/**
 * The explain options from the rule flags, after {@link checkRuleFlags}.
 *
 * @throws {LrpUsageError} for a malformed --layer-rule or a missing required parameter
 */
export function explainOptionsFromFlags(args: ParsedArgs): PortableOptions {
  checkRuleFlags(args);
  const f = args.flags;
  const o: Record<string, unknown> = {};
  if (f.rule !== undefined) o.rule = f.rule;
  if (f.composite !== undefined) o.composite = f.composite;
  for (const k of PARAMETERS.map((p) => p.name)) if (f[k] !== undefined) o[k] = f[k];
  // an index, or an output's name (resolved to its index once the model is loaded: resolveOutput)
  const output = f.output as string | undefined;
  if (output !== undefined) o.output = /^\d+$/.test(output) ? Number(output) : output;
  if (f['first-layer'] !== undefined) o.firstLayer = f['first-layer'];
  if (f['unknown-layers'] !== undefined) o.unknownLayers = f['unknown-layers'];
  if (f['input-non-negative'] === true) o.inputNonNegative = true;
  const lr = f['layer-rule'] as string[] | undefined;
  if (lr !== undefined) {
    const rules: Record<string, string> = {};
    for (const entry of lr) {
      const m = /^([^=]+)=(.+)$/.exec(entry);
      if (m === null) throw new LrpUsageError('--layer-rule', `expected <layer or class>=<rule>, e.g. dense_2=epsilon; got ${JSON.stringify(entry)}.`);
      rules[m[1].trim()] = m[2].trim();
    }
    o.layerRules = rules;
  }
  return o as PortableOptions;
}
