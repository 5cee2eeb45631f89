/**
 * Composites: ordered (layer match → rule) lists; the first match wins (zennit composites.py).
 * Every composite implicitly ends with the shared base map of {@link baseEntries}.
 */
import type { LayerGroup } from '../src/layers/group.js';
import { LrpRuleError } from '../src/errors.js';
import { alphaBetaRule } from './alphaBeta.js';
import { epsilonRule } from './epsilon.js';
import { flatRule } from './flat.js';
import { gammaRule } from './gamma.js';
import { normRule } from './norm.js';
import { passRule } from './pass.js';
import type { RuleParameters } from './registry.js';
import type { Rule } from './types.js';
import { zBoxRule } from './zBox.js';
import { zPlusRule } from './zPlus.js';

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
  readonly match: LayerMatch;
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

/** The base map every composite shares (after its own entries). */
export function baseEntries(params: RuleParameters): CompositeEntry[] {
  const norm = normRule({ stabilizer: params.stabilizer });
  const pass = passRule();
  return [
    { match: { group: 'activation' }, rule: pass },
    { match: { group: 'add' }, rule: norm },
    { match: { group: 'avgPool' }, rule: norm },
    { match: { group: 'batchNorm' }, rule: pass },
    { match: { group: 'identity' }, rule: pass },
  ];
}

/** A composite that gives every Dense and Conv layer the same rule. */
export function singleRuleComposite(rule: Rule): Composite {
  return composite(rule.name, [
    { match: { group: 'dense' }, rule },
    { match: { group: 'conv' }, rule },
  ]);
}

function denseEpsilon(p: RuleParameters): Rule {
  return epsilonRule({ epsilon: p.epsilon ?? 1e-6 });
}

function zBoxFor(name: string, p: RuleParameters): Rule {
  if (p.low === undefined || p.high === undefined) {
    throw new LrpRuleError(name, `Composite '${name}' uses the z-box rule on the first Conv layer and needs its input bounds: pass options { low, high }, e.g. { low: 0, high: 1 } for images in [0, 1] or the normalised range of your preprocessing.`);
  }
  return zBoxRule({ low: p.low, high: p.high, stabilizer: p.stabilizer });
}

/** The built-in composites of LRP_RULES.md §3, by name. */
export const BUILTIN_COMPOSITES: Readonly<Record<string, (p: RuleParameters) => Composite>> = {
  epsilonPlus: (p) => composite('epsilonPlus', [
    { match: { group: 'conv' }, rule: zPlusRule({ stabilizer: p.stabilizer }) },
    { match: { group: 'dense' }, rule: denseEpsilon(p) },
  ]),
  epsilonPlusFlat: (p) => composite('epsilonPlusFlat', [
    { match: { position: 'firstLinear' }, rule: flatRule({ stabilizer: p.stabilizer }) },
    { match: { group: 'conv' }, rule: zPlusRule({ stabilizer: p.stabilizer }) },
    { match: { group: 'dense' }, rule: denseEpsilon(p) },
  ]),
  epsilonGammaBox: (p) => composite('epsilonGammaBox', [
    { match: { position: 'firstConv' }, rule: () => zBoxFor('epsilonGammaBox', p) },
    { match: { group: 'conv' }, rule: gammaRule({ gamma: p.gamma ?? 0.25, stabilizer: p.stabilizer }) },
    { match: { group: 'dense' }, rule: denseEpsilon(p) },
  ]),
  epsilonAlpha2Beta1: (p) => composite('epsilonAlpha2Beta1', [
    { match: { group: 'conv' }, rule: alphaBetaRule({ alpha: 2, beta: 1, stabilizer: p.stabilizer }) },
    { match: { group: 'dense' }, rule: denseEpsilon(p) },
  ]),
  epsilonAlpha2Beta1Flat: (p) => composite('epsilonAlpha2Beta1Flat', [
    { match: { position: 'firstLinear' }, rule: flatRule({ stabilizer: p.stabilizer }) },
    { match: { group: 'conv' }, rule: alphaBetaRule({ alpha: 2, beta: 1, stabilizer: p.stabilizer }) },
    { match: { group: 'dense' }, rule: denseEpsilon(p) },
  ]),
};

/** Names of the built-in composites. */
export const COMPOSITE_NAMES = Object.keys(BUILTIN_COMPOSITES);
