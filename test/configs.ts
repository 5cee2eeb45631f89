/**
 * The rule and composite configurations of the exactness suite (engine options and the same spec
 * for the float64 reference): shared by test/rules.test.ts and the backend conformance runs.
 */
import type { ExplainOptions } from '../src';
import type { RefRuleSpec } from './reference/lrp64';

/** Options for the engine and the same spec for the reference. */
export interface Config {
  readonly label: string;
  readonly options: (bounds: [number, number]) => ExplainOptions;
  readonly spec: (bounds: [number, number]) => RefRuleSpec;
}

const same = (o: ExplainOptions & RefRuleSpec): Pick<Config, 'options' | 'spec'> => ({ options: () => o as ExplainOptions, spec: () => o as RefRuleSpec });

export const CONFIGS: Config[] = [
  { label: 'epsilon 1e-6', ...same({ rule: 'epsilon' }) },
  { label: 'epsilon 0.25', ...same({ rule: 'epsilon', epsilon: 0.25 }) },
  { label: 'zPlus', ...same({ rule: 'zPlus' }) },
  { label: 'alphaBeta 2/1', ...same({ rule: 'alphaBeta', alpha: 2, beta: 1 }) },
  { label: 'alphaBeta 1/0', ...same({ rule: 'alphaBeta', alpha: 1, beta: 0 }) },
  { label: 'gamma 0.25', ...same({ rule: 'gamma', gamma: 0.25 }) },
  { label: 'gamma 1 + flat first', ...same({ rule: 'gamma', gamma: 1, firstLayer: 'flat' }) },
  { label: 'epsilon + wSquare first', ...same({ rule: 'epsilon', firstLayer: 'wSquare' }) },
  { label: 'zPlus + zBox first', options: ([low, high]) => ({ rule: 'zPlus', firstLayer: 'zBox', low, high }), spec: ([low, high]) => ({ rule: 'zPlus', firstLayer: 'zBox', low, high }) },
  { label: 'epsilonPlus', ...same({ composite: 'epsilonPlus' }) },
  { label: 'epsilonPlusFlat', ...same({ composite: 'epsilonPlusFlat' }) },
  { label: 'epsilonGammaBox', options: ([low, high]) => ({ composite: 'epsilonGammaBox', low, high }), spec: ([low, high]) => ({ composite: 'epsilonGammaBox', low, high }) },
  { label: 'epsilonAlpha2Beta1', ...same({ composite: 'epsilonAlpha2Beta1' }) },
  { label: 'epsilonAlpha2Beta1Flat', ...same({ composite: 'epsilonAlpha2Beta1Flat' }) },
];

