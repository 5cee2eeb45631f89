/**
 * Argument checks shared by the evaluation functions (internal). Every check runs before any
 * tensor is made and throws {@link LrpArgumentError} naming the argument and the fix.
 */
import * as tf from '@tensorflow/tfjs';
import { LrpArgumentError } from '../errors.js';

/** Whether `value` is a live tf.Tensor (also one made by another copy of tfjs). */
function isTensor(value: unknown): value is tf.Tensor {
  return value instanceof tf.Tensor || (value !== null && typeof value === 'object' && 'shape' in value && 'dtype' in value && 'dataId' in value);
}

/** Checks that `value` is a live numeric tensor of rank ≥ `minRank` with a non-empty batch. */
export function checkTensor(argument: string, value: unknown, minRank: number, expected: string): tf.Tensor {
  if (!isTensor(value)) {
    throw new LrpArgumentError(argument, `expected a tf.Tensor ${expected}, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}.`);
  }
  if (value.isDisposed) throw new LrpArgumentError(argument, 'the tensor is disposed.');
  if (value.dtype === 'string' || value.dtype === 'complex64') throw new LrpArgumentError(argument, `dtype ${value.dtype} is not supported; pass float32 (or int32, bool).`);
  if (value.rank < minRank) {
    throw new LrpArgumentError(argument, `expected ${expected}, got shape [${value.shape.join(', ')}]. The first axis is the batch: for one sample, add it with x.expandDims(0).`);
  }
  if (value.shape[0] === 0) throw new LrpArgumentError(argument, 'the batch is empty.');
  return value;
}

/** Checks an optional options object. */
export function checkOptions(argument: string, options: unknown, known: readonly string[]): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new LrpArgumentError(argument, `expected an options object, got ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}.`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new LrpArgumentError(`${argument}.${key}`, `unknown option. Known options: ${known.join(', ')}.`);
  }
}

/** A positive integer option (or its default). */
export function positiveInteger(argument: string, value: unknown, fallback: number): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new LrpArgumentError(argument, `must be a positive integer, got ${JSON.stringify(value)}.`);
  return v;
}

/** A finite number option (or its default). */
export function finiteNumber(argument: string, value: unknown, fallback: number): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new LrpArgumentError(argument, `must be a finite number, got ${JSON.stringify(value)}.`);
  return v;
}

/** An integer seed option (or its default). */
export function seedOption(argument: string, value: unknown, fallback: number): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new LrpArgumentError(argument, `must be an integer, got ${JSON.stringify(value)}.`);
  return v;
}

/** A fraction in (0, 1] (or its default). */
export function fraction(argument: string, value: unknown, fallback: number): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > 1) throw new LrpArgumentError(argument, `must be a fraction in (0, 1] (e.g. 0.1 for the top 10%), got ${JSON.stringify(value)}.`);
  return v;
}

export { checkClassIdx } from '../checks.js';

/** Mean of the finite entries (NaN when there are none). */
export function finiteMean(values: readonly number[]): number {
  let sum = 0;
  let count = 0;
  for (const v of values) {
    if (Number.isFinite(v)) {
      sum += v;
      count++;
    }
  }
  return count === 0 ? NaN : sum / count;
}
