/**
 * The CLI's rule flags are built from the rule and composite definitions: every rule parameter has
 * a flag that reaches the explain options, and a rule, composite, first-layer or layer rule that
 * needs parameters the flags lack is a usage error in CLI words, before any model is loaded.
 */
import { BUILTIN_RULE_DEFINITIONS, COMPOSITE_NAMES, firstLayerRuleNames, ruleDefinitions, ruleNames, ruleParameterSpecs } from '../src';
import { LrpUsageError, parseArgs, type CommandSpec } from '../src/node/cli/args';
import { checkRuleFlags, explainOptionsFromFlags, RULE_FLAGS } from '../src/node/cli/ruleFlags';
import { knownOptions } from '../src/plan';

const SPEC: CommandSpec = { name: 'explain', summary: 'test', usage: 'explain [options]', flags: RULE_FLAGS, examples: [] };
const options = (...argv: string[]) => explainOptionsFromFlags(parseArgs(SPEC, argv));

/** The usage error of `argv`, asserting its type and flag. */
function usageError(argument: string, ...argv: string[]): string {
  let caught: unknown = null;
  try {
    options(...argv);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(LrpUsageError);
  expect((caught as LrpUsageError).argument).toBe(argument);
  return (caught as Error).message;
}

describe('rule parameter flags', () => {
  test('every parameter of every rule definition has a numeric flag with its description, default and minimum', () => {
    const specs = ruleParameterSpecs(ruleDefinitions());
    expect(specs.map((s) => s.name).sort()).toEqual(['alpha', 'beta', 'epsilon', 'gamma', 'high', 'low', 'stabilizer']);
    for (const definition of BUILTIN_RULE_DEFINITIONS) {
      for (const p of definition.params) {
        const flag = RULE_FLAGS.find((f) => f.name === p.name);
        expect(flag).toBeDefined();
        expect(flag?.type).toBe('number');
        expect(flag?.min).toBe(specs.find((s) => s.name === p.name)?.min);
        if (p.default !== undefined) expect(Number(flag?.default)).toBe(p.default);
        else expect(flag?.default).toBeUndefined();
      }
    }
    expect(RULE_FLAGS.find((f) => f.name === 'epsilon')?.default).toBe('1e-6');
    expect(RULE_FLAGS.find((f) => f.name === 'gamma')?.default).toBe('0.25');
    expect(RULE_FLAGS.find((f) => f.name === 'epsilon')?.description).toBe('ε of the epsilon rule');
  });

  test('every parameter flag reaches the explain options, and planModel accepts it as an option', () => {
    const known = knownOptions();
    for (const p of ruleParameterSpecs()) {
      // bounds go in pairs (z-box); the value is the parameter's own minimum or default + 0.5
      const value = (p.default ?? p.min ?? 0) + 0.5;
      const argv = [`--${p.name}`, String(value), ...(p.name === 'low' ? ['--high', '9'] : p.name === 'high' ? ['--low', '-9'] : [])];
      const o = options(...argv) as Record<string, unknown>;
      expect(o[p.name]).toBe(value);
      expect(known).toContain(p.name);
    }
  });

  test('a parameter below its minimum is a usage error naming the flag', () => {
    expect(() => options('--epsilon', '-1')).toThrow(LrpUsageError);
    expect(() => options('--epsilon', '-1')).toThrow(/'--epsilon': must be at least 0, got -1/);
    expect(options('--epsilon', '0')).toEqual({ epsilon: 0 });
  });

  test('the choices of --rule, --composite and --first-layer are the registered names', () => {
    expect(RULE_FLAGS.find((f) => f.name === 'rule')?.choices).toEqual(ruleNames());
    expect(RULE_FLAGS.find((f) => f.name === 'composite')?.choices).toEqual(COMPOSITE_NAMES);
    expect(RULE_FLAGS.find((f) => f.name === 'first-layer')?.choices).toEqual(firstLayerRuleNames());
    expect(firstLayerRuleNames()).toEqual(['flat', 'wSquare', 'zBox']);
    expect(() => options('--first-layer', 'gamma')).toThrow(/'--first-layer': expected one of flat, wSquare, zBox/);
  });
});

describe('required parameters (the z-box bounds) in CLI words', () => {
  test('--composite epsilonGammaBox without bounds names --low, the rule, the layer and an example', () => {
    const message = usageError('--low', '--composite', 'epsilonGammaBox');
    expect(message).toBe("Argument '--low': --composite epsilonGammaBox uses the zBox rule on the first Conv layer and needs the input bounds: pass --low <v> --high <v>, e.g. --low 0 --high 1 for images scaled to [0, 1].");
  });

  test('one bound given: the error names the other one only', () => {
    const message = usageError('--high', '--composite', 'epsilonGammaBox', '--low', '0');
    expect(message).toMatch(/pass --high <v>, e\.g\. --high 1 for images/);
    expect(message).not.toMatch(/--low <v>/);
  });

  test('--rule zBox, --first-layer zBox and --layer-rule x=zBox need the bounds too', () => {
    expect(usageError('--low', '--rule', 'zBox')).toMatch(/--rule zBox gives every Dense\/Conv layer that rule and needs the input bounds: pass --low <v> --high <v>/);
    expect(usageError('--low', '--first-layer', 'zBox')).toMatch(/--first-layer zBox gives the first Dense\/Conv layer that rule and needs the input bounds/);
    expect(usageError('--low', '--layer-rule', 'conv1=zBox')).toMatch(/--layer-rule conv1=zBox gives conv1 the zBox rule and needs the input bounds/);
  });

  test('--input-non-negative declares the input ≥ 0 (options.inputNonNegative); absent, the option is absent', () => {
    expect(options('--composite', 'epsilonPlus', '--input-non-negative')).toEqual({ composite: 'epsilonPlus', inputNonNegative: true });
    expect(options('--composite', 'epsilonPlus')).toEqual({ composite: 'epsilonPlus' });
    expect(knownOptions()).toContain('inputNonNegative');
  });

  test('with the bounds, or with --first-layer replacing the z-box entry, the options are made', () => {
    expect(options('--composite', 'epsilonGammaBox', '--low', '0', '--high', '1')).toEqual({ composite: 'epsilonGammaBox', low: 0, high: 1 });
    expect(options('--composite', 'epsilonGammaBox', '--first-layer', 'flat')).toEqual({ composite: 'epsilonGammaBox', firstLayer: 'flat' });
    expect(options('--rule', 'zBox', '--low', '-1', '--high', '1', '--gamma', '0.5')).toEqual({ rule: 'zBox', low: -1, high: 1, gamma: 0.5 });
    // composites and rules without required parameters need nothing
    for (const name of COMPOSITE_NAMES.filter((c) => c !== 'epsilonGammaBox')) expect(() => options('--composite', name)).not.toThrow();
    expect(() => checkRuleFlags(parseArgs(SPEC, []))).not.toThrow();
  });
});
