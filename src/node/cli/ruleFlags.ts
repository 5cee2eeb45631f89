/**
 * The rule flags of the CLI (--rule, --composite, --epsilon, …) and their translation into
 * explain options.
 */
import { COMPOSITE_NAMES } from '../../../rules/composites.js';
import { ruleNames } from '../../../rules/registry.js';
import type { PortableOptions } from '../batch/compute.js';
import { LrpUsageError, type FlagSpec, type ParsedArgs } from './args.js';

/** Flags that choose rules and their parameters (explain, aggregate, describe). */
export const RULE_FLAGS: FlagSpec[] = [
  { name: 'rule', type: 'string', value: '<name>', description: 'rule for every Dense/Conv layer', choices: ruleNames(), default: 'epsilon' },
  { name: 'composite', type: 'string', value: '<name>', description: 'a composite (overrides --rule)', choices: COMPOSITE_NAMES },
  { name: 'epsilon', type: 'number', value: '<e>', description: 'ε of the epsilon rule', default: '1e-6' },
  { name: 'gamma', type: 'number', value: '<g>', description: 'γ of the gamma rule', default: '0.25' },
  { name: 'alpha', type: 'number', value: '<a>', description: 'α of the alphaBeta rule', default: '2' },
  { name: 'beta', type: 'number', value: '<b>', description: 'β of the alphaBeta rule', default: '1' },
  { name: 'stabilizer', type: 'number', value: '<s>', description: 'denominator stabilizer', default: '1e-6' },
  { name: 'low', type: 'number', value: '<v>', description: 'lowest input value (z-box, epsilonGammaBox)' },
  { name: 'high', type: 'number', value: '<v>', description: 'highest input value (z-box, epsilonGammaBox)' },
  { name: 'first-layer', type: 'string', value: '<rule>', description: 'rule of the first Dense/Conv layer', choices: ['flat', 'wSquare', 'zBox'] },
  { name: 'layer-rule', type: 'string', value: '<layer=rule>', description: 'rule for a layer name or class, e.g. dense_2=epsilon', repeat: true },
  { name: 'unknown-layers', type: 'string', value: '<how>', description: 'layers without a rule', choices: ['error', 'gradient'], default: 'error' },
  { name: 'output', type: 'int', value: '<k>', description: 'which output of a multi-output model', min: 0, default: '0' },
];

/** The explain options from the rule flags. */
export function explainOptionsFromFlags(args: ParsedArgs): PortableOptions {
  const f = args.flags;
  const o: Record<string, unknown> = {};
  if (f.rule !== undefined) o.rule = f.rule;
  if (f.composite !== undefined) o.composite = f.composite;
  for (const k of ['epsilon', 'gamma', 'alpha', 'beta', 'stabilizer', 'low', 'high', 'output']) if (f[k] !== undefined) o[k] = f[k];
  if (f['first-layer'] !== undefined) o.firstLayer = f['first-layer'];
  if (f['unknown-layers'] !== undefined) o.unknownLayers = f['unknown-layers'];
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

