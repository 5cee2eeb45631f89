import { LrpRuleError } from '../src/errors.js';

/** Checks that a rule parameter is a finite number ≥ 0 (or > 0). */
export function requireNonNegative(rule: string, param: string, value: number, strict = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (strict && value === 0)) {
    throw new LrpRuleError(rule, `Rule '${rule}': '${param}' must be a finite number ${strict ? '> 0' : '≥ 0'}, got ${String(value)}. Pass e.g. { ${param}: ${param === 'gamma' ? '0.25' : '1e-6'} }.`);
  }
  return value;
}
