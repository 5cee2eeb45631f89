/**
 * Rules by name. The registry lives on a global so that two bundled copies of tfjs-lrp share it
 * (as tfjs does with kernels). Registering a name again replaces it with a warning.
 */
import type * as tf from '@tensorflow/tfjs';
import { LrpRuleError } from '../src/errors.js';
import { alphaBetaRule } from './alphaBeta.js';
import { epsilonRule, zeroRule } from './epsilon.js';
import { flatRule } from './flat.js';
import { gammaRule } from './gamma.js';
import { gradientRule } from './gradient.js';
import { normRule } from './norm.js';
import { passRule } from './pass.js';
import type { Rule } from './types.js';
import { wSquareRule } from './wSquare.js';
import { zBoxRule } from './zBox.js';
import { zPlusRule } from './zPlus.js';

/** Parameters a rule factory may read (each rule documents its defaults). */
export interface RuleParameters {
  readonly epsilon?: number;
  readonly alpha?: number;
  readonly beta?: number;
  readonly gamma?: number;
  readonly stabilizer?: number;
  readonly low?: number | tf.Tensor;
  readonly high?: number | tf.Tensor;
}

/** Makes a rule from parameters. */
export type RuleFactory = (params: RuleParameters) => Rule;

const KEY = Symbol.for('tfjs-lrp.rules');
type Holder = { [KEY]?: Map<string, RuleFactory> };

function registry(): Map<string, RuleFactory> {
  const holder = globalThis as unknown as Holder;
  if (holder[KEY] === undefined) {
    holder[KEY] = new Map<string, RuleFactory>([
      ['epsilon', (p) => epsilonRule({ epsilon: p.epsilon })],
      ['zero', () => zeroRule()],
      ['zPlus', (p) => zPlusRule({ stabilizer: p.stabilizer })],
      ['alphaBeta', (p) => alphaBetaRule({ alpha: p.alpha, beta: p.beta, stabilizer: p.stabilizer })],
      ['gamma', (p) => gammaRule({ gamma: p.gamma, stabilizer: p.stabilizer })],
      ['flat', (p) => flatRule({ stabilizer: p.stabilizer })],
      ['wSquare', (p) => wSquareRule({ stabilizer: p.stabilizer })],
      ['zBox', (p) => zBoxRule({ low: p.low as number, high: p.high as number, stabilizer: p.stabilizer })],
      ['pass', () => passRule()],
      ['norm', (p) => normRule({ stabilizer: p.stabilizer })],
      ['gradient', () => gradientRule()],
    ]);
  }
  return holder[KEY] as Map<string, RuleFactory>;
}

/** Registers (or replaces, with a warning) a rule factory under a name. */
export function registerRule(name: string, factory: RuleFactory): void {
  if (typeof name !== 'string' || name === '' || typeof factory !== 'function') {
    throw new LrpRuleError(String(name), 'registerRule(name, factory) needs a non-empty name and a function (params) => Rule.');
  }
  if (registry().has(name)) console.warn(`tfjs-lrp: rule '${name}' is registered again; the new factory replaces the old one.`);
  registry().set(name, factory);
}

/** Names of all registered rules. */
export function ruleNames(): string[] {
  return [...registry().keys()];
}

/** Makes the rule registered under `name`; unknown names throw with the list of known ones. */
export function makeRule(name: string, params: RuleParameters = {}): Rule {
  const factory = registry().get(name);
  if (factory === undefined) {
    throw new LrpRuleError(name, `Unknown rule '${name}'. Known rules: ${ruleNames().join(', ')}. Register your own with registerRule(name, factory).`);
  }
  return factory(params);
}
