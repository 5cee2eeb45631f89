/**
 * Relevance inside a ground-truth region: how much of the positive relevance falls inside a
 * binary mask (e.g. the object's segmentation, or the pixels of a planted pattern), next to the
 * mask's share of the area (what a map spread uniformly would score).
 */
import * as tf from '@tensorflow/tfjs';
import { LrpArgumentError } from '../errors.js';
import { checkTensor, finiteMean } from './validate.js';

/** Relevance mass inside a mask, per sample (first axis) as plain numbers, and the means. */
export interface MaskReport {
  /** Number of samples. */
  readonly samples: number;
  /**
   * Per sample `Σ max(R, 0) · mask / Σ max(R, 0)`: the fraction of the positive relevance that
   * lies inside the mask, in [0, 1]. NaN where a sample has no positive relevance.
   */
  readonly inside: number[];
  /** Per sample the fraction of the sample's elements inside the mask (the mask broadcast to the relevance's shape). */
  readonly area: number[];
  /** Means over the samples (`inside` skips NaN entries; NaN when all are NaN). */
  readonly mean: { readonly inside: number; readonly area: number };
}

/**
 * The fraction of each sample's positive relevance that lies inside a binary mask, and the
 * mask's area fraction. `inside` well above `area` means the relevance concentrates on the
 * region; `inside ≈ area` is what a map spread evenly would give.
 *
 * The mask is broadcast to the relevance's shape: either without the batch axis (one mask for
 * all samples, rank = relevance rank − 1) or with it (rank = relevance rank, first axis N or 1);
 * each axis must equal the relevance's or be 1 (e.g. `[H, W, 1]` for relevance `[N, H, W, C]`).
 * Computed with tf ops; the few numbers are read once at the end. Nothing is disposed.
 *
 * @param relevance relevance `[N, ...]`
 * @param mask 0/1 values (any numeric dtype or bool), broadcastable as described
 * @throws LrpArgumentError when a tensor is missing or disposed, the mask cannot be broadcast,
 *   the mask holds values other than 0 and 1, or the relevance holds NaN/Infinity
 */
export async function relevanceInMask(relevance: tf.Tensor, mask: tf.Tensor): Promise<MaskReport> {
  const r = checkTensor('relevance', relevance, 2, 'of shape [batch, ...] (rank ≥ 2)');
  const m = checkTensor('mask', mask, 1, "broadcastable to the relevance's shape");
  const n = r.shape[0];
  const perSample = r.shape.slice(1);
  const withBatch = m.rank === r.rank;
  if (!withBatch && m.rank !== r.rank - 1) {
    throw new LrpArgumentError('mask', `shape [${m.shape.join(', ')}] cannot be broadcast to the relevance's [${r.shape.join(', ')}]: give rank ${r.rank - 1} (one mask for all samples, e.g. [${perSample.join(', ')}]) or rank ${r.rank} (one per sample); use 1 for an axis to broadcast (e.g. a channel axis: mask.expandDims(-1)).`);
  }
  const target = withBatch ? r.shape : perSample;
  const bad = m.shape.findIndex((d, i) => d !== target[i] && d !== 1);
  if (bad >= 0) {
    throw new LrpArgumentError('mask', `shape [${m.shape.join(', ')}] cannot be broadcast to the relevance's [${r.shape.join(', ')}]: axis ${bad} is ${m.shape[bad]}, it must be ${target[bad]} or 1.`);
  }

  const packed = tf.tidy(() => {
    const x = tf.cast(r, 'float32');
    const m0 = tf.cast(m, 'float32');
    const mb = tf.broadcastTo(withBatch ? m0 : tf.expandDims(m0, 0), r.shape);
    const binary = tf.cast(tf.all(tf.logicalOr(tf.equal(m0, 0), tf.equal(m0, 1))), 'float32');
    const finite = tf.cast(tf.all(tf.isFinite(x)), 'float32');
    const pos = tf.reshape(tf.relu(x), [n, -1]);
    const flatMask = tf.reshape(mb, [n, -1]);
    const insideSum = tf.sum(tf.mul(pos, flatMask), 1);
    const total = tf.sum(pos, 1);
    const area = tf.mean(flatMask, 1);
    return tf.concat([insideSum, total, area, tf.stack([binary, finite])]);
  });
  let values: Float32Array;
  try {
    values = (await packed.data()) as Float32Array;
  } finally {
    packed.dispose();
  }
  if (values[3 * n] !== 1) throw new LrpArgumentError('mask', 'must hold only 0 and 1 (a binary mask); threshold it first, e.g. tf.greater(mask, 0.5).');
  if (values[3 * n + 1] !== 1) throw new LrpArgumentError('relevance', 'contains NaN or Infinity; clean the map first.');
  const inside: number[] = [];
  const area: number[] = [];
  for (let i = 0; i < n; i++) {
    const total = values[n + i];
    inside.push(total > 0 ? Math.min(1, values[i] / total) : NaN);
    area.push(values[2 * n + i]);
  }
  return { samples: n, inside, area, mean: { inside: finiteMean(inside), area: finiteMean(area) } };
}
