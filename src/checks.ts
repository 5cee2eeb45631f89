/** Argument checks shared by the public calls (no tensors made). */
import { LrpArgumentError } from './errors.js';

/** Checks a class index argument against `classes` scores per sample and `batch` samples. */
export function checkClassIdx(classIdx: unknown, classes: number, batch: number): void {
  const check = (c: unknown, where: string) => {
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 0 || c >= classes) {
      throw new LrpArgumentError(where, `must be an integer in [0, ${classes - 1}] (the explained output has ${classes} score${classes === 1 ? '' : 's'} per sample), got ${JSON.stringify(c)}.`);
    }
  };
  if (classIdx === 'max') return;
  if (typeof classIdx === 'number') return check(classIdx, 'classIdx');
  if (Array.isArray(classIdx)) {
    if (classIdx.length !== batch) {
      throw new LrpArgumentError('classIdx', `has ${classIdx.length} entries but the batch has ${batch} samples; pass one class per sample, a single number, or 'max'.`);
    }
    classIdx.forEach((c, i) => check(c, `classIdx[${i}]`));
    return;
  }
  throw new LrpArgumentError('classIdx', `expected a class number, an array with one class per sample, or 'max', got ${JSON.stringify(classIdx)}.`);
}
