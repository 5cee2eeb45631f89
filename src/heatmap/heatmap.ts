/**
 * Relevance → colour heatmaps as pure tf ops: channel reduction, per-sample (or shared)
 * normalisation with optional percentile clipping, quantisation to 256 levels and a colour-map
 * lookup (tf.gather) on the device. Works on every backend; no Node or browser APIs.
 */
import * as tf from '@tensorflow/tfjs';
import { LrpArgumentError } from '../errors.js';
import { checkColormap, colormapTable, isDiverging, MIDPOINT_INDEX, type ColormapName } from './colormaps.js';

/** How the channels of an [N,H,W,C] relevance are reduced to one map per sample. */
export type ChannelReduction = 'sum' | 'mean' | 'maxAbs' | number;

/** How relevance is scaled into the colour map. */
export type Normalization = 'symmetric' | 'absolute' | 'positive';

/** Options of {@link heatmap}. */
export interface HeatmapOptions {
  /**
   * Channel reduction (default 'sum'): 'sum', 'mean', 'maxAbs' (per pixel, the channel value of
   * largest magnitude, sign kept; ties go to the positive value) or a channel index to keep.
   */
  reduce?: ChannelReduction;
  /**
   * Normalisation (default 'symmetric'):
   * - 'symmetric': R / max|R|, in −1..1; 0 maps to the map's midpoint (index 128), −max to index 0
   *   (blue end), +max to index 255 (red end).
   * - 'absolute': |R| / max|R|, in 0..1.
   * - 'positive': max(R, 0) / max R, in 0..1.
   * With 'absolute' and 'positive', a diverging map is used from its midpoint up (0 → midpoint,
   * 1 → red end) and a sequential map ('gray', 'hot') over its whole range (0 → first colour).
   */
  normalize?: Normalization;
  /**
   * Percentile in (0, 100] of |R| (of max(R, 0) for 'positive') used as the scale instead of the
   * maximum (nearest-rank: the ⌈p/100·M⌉-th smallest of the M values); values beyond are clipped.
   * Computed on the device with tf.topk. When that percentile is 0 the maximum is used.
   */
  clipPercentile?: number;
  /** One scale for the whole batch instead of one per sample (default false). */
  shared?: boolean;
  /** Colour map (default 'bwr'). */
  colormap?: ColormapName;
  /** 'float' (default): float32 in 0..1; 'int32': 0..255. */
  output?: 'float' | 'int32';
  /** Append an opaque alpha channel (1, or 255 for 'int32'): RGBA, e.g. for ImageData. */
  alpha?: boolean;
}

/** Only the {@link HeatmapOptions} of a larger options object (grid, file and canvas options). */
export function heatmapOptionsOf(options: Omit<HeatmapOptions, 'alpha' | 'output'>): HeatmapOptions {
  return { reduce: options.reduce, normalize: options.normalize, clipPercentile: options.clipPercentile, shared: options.shared, colormap: options.colormap };
}

const REDUCTIONS = ['sum', 'mean', 'maxAbs'];
const NORMALIZATIONS = ['symmetric', 'absolute', 'positive'];

/** Checks the rank of a relevance argument ([N,H,W,C] or [N,H,W]). */
export function checkRelevance(relevance: unknown, argument = 'relevance'): tf.Tensor {
  if (!(relevance instanceof tf.Tensor)) {
    throw new LrpArgumentError(argument, 'expected a tf.Tensor of shape [N,H,W,C] or [N,H,W].');
  }
  if (relevance.rank !== 3 && relevance.rank !== 4) {
    throw new LrpArgumentError(
      argument,
      `expected shape [N,H,W,C] or [N,H,W], got [${relevance.shape.join(',')}] (rank ${relevance.rank}); ` +
        'for a single image [H,W] or [H,W,C] add the batch axis with relevance.expandDims(0).',
    );
  }
  return relevance;
}

/** Reduces [N,H,W,C] or [N,H,W] relevance to float32 [N,H,W]. Call inside tf.tidy. */
export function reduceChannels(relevance: tf.Tensor, reduce: ChannelReduction = 'sum', argument = 'options.reduce'): tf.Tensor3D {
  const r = relevance.rank === 3 ? relevance.expandDims(3) : relevance;
  const x = tf.cast(r, 'float32') as tf.Tensor4D;
  const channels = x.shape[3];
  if (typeof reduce === 'number') {
    if (!Number.isInteger(reduce) || reduce < 0 || reduce >= channels) {
      throw new LrpArgumentError(argument, `channel index ${reduce} is out of range; use an integer in 0..${channels - 1} or 'sum' | 'mean' | 'maxAbs'.`);
    }
    return tf.squeeze(tf.slice(x, [0, 0, 0, reduce], [-1, -1, -1, 1]), [3]) as tf.Tensor3D;
  }
  if (reduce === 'sum') return tf.sum(x, 3);
  if (reduce === 'mean') return tf.mean(x, 3);
  if (reduce === 'maxAbs') {
    const hi = tf.max(x, 3);
    const lo = tf.min(x, 3);
    return tf.where(tf.greater(tf.neg(lo), hi), lo, hi) as tf.Tensor3D;
  }
  throw new LrpArgumentError(argument, `unknown reduction ${JSON.stringify(reduce)}; use 'sum', 'mean', 'maxAbs' or a channel index.`);
}

function checkPercentile(p: unknown): number | undefined {
  if (p === undefined) return undefined;
  if (typeof p !== 'number' || !Number.isFinite(p) || p <= 0 || p > 100) {
    throw new LrpArgumentError('options.clipPercentile', `must be a number in (0, 100], got ${String(p)}; e.g. 99.5, or leave it out to scale by the maximum.`);
  }
  return p;
}

/**
 * The scale per sample ([N,1,1]) or shared ([1,1,1]) of non-negative magnitudes `mag` [N,H,W]:
 * the maximum, or the nearest-rank percentile (falling back to the maximum when it is 0);
 * 1 where everything is 0, so that an all-zero sample maps to zero's colour without NaN.
 */
function scaleOf(mag: tf.Tensor3D, shared: boolean, percentile: number | undefined): tf.Tensor3D {
  const [n, h, w] = mag.shape;
  const rows = shared ? 1 : n;
  const m = shared ? n * h * w : h * w;
  const flat = tf.reshape(mag, [rows, m]) as tf.Tensor2D;
  const max = tf.max(flat, 1) as tf.Tensor1D;
  let scale: tf.Tensor1D = max;
  if (percentile !== undefined && m > 0) {
    const rank = Math.min(m, Math.max(1, Math.ceil((percentile * m) / 100 - 1e-9)));
    const k = m - rank + 1; // the rank-th smallest is the k-th largest
    const kth = tf.squeeze(tf.slice(tf.topk(flat, k, true).values, [0, k - 1], [-1, 1]), [1]) as tf.Tensor1D;
    scale = tf.where(tf.greater(kth, 0), kth, max) as tf.Tensor1D;
  }
  scale = tf.where(tf.greater(scale, 0), scale, tf.onesLike(scale)) as tf.Tensor1D;
  return tf.reshape(scale, [rows, 1, 1]) as tf.Tensor3D;
}

/**
 * Colours relevance: [N,H,W,C] or [N,H,W] → [N,H,W,3] (or [N,H,W,4] with `alpha`), float32 in
 * 0..1 or int32 in 0..255. Red is positive relevance (for the class), blue negative (against).
 */
export function heatmap(relevance: tf.Tensor, options: HeatmapOptions = {}): tf.Tensor4D {
  const rel = checkRelevance(relevance);
  const normalize = options.normalize ?? 'symmetric';
  if (!NORMALIZATIONS.includes(normalize)) {
    throw new LrpArgumentError('options.normalize', `unknown normalisation ${JSON.stringify(normalize)}; use 'symmetric', 'absolute' or 'positive'.`);
  }
  const reduce = options.reduce ?? 'sum';
  if (typeof reduce !== 'number' && !REDUCTIONS.includes(reduce)) {
    throw new LrpArgumentError('options.reduce', `unknown reduction ${JSON.stringify(reduce)}; use 'sum', 'mean', 'maxAbs' or a channel index.`);
  }
  const percentile = checkPercentile(options.clipPercentile);
  const colormap = checkColormap(options.colormap ?? 'bwr', 'options.colormap');
  const output = options.output ?? 'float';
  if (output !== 'float' && output !== 'int32') {
    throw new LrpArgumentError('options.output', `unknown output ${JSON.stringify(output)}; use 'float' (0..1) or 'int32' (0..255).`);
  }
  const table = colormapTable(colormap);
  const diverging = isDiverging(colormap);

  return tf.tidy(() => {
    const r = reduceChannels(rel, reduce);
    let index: tf.Tensor;
    if (normalize === 'symmetric') {
      const v = tf.clipByValue(tf.div(r, scaleOf(tf.abs(r), options.shared === true, percentile)), -1, 1);
      // −1 → 0, 0 → 128 (the midpoint), +1 → 255
      const scaled = tf.where(tf.less(v, 0), tf.mul(v, MIDPOINT_INDEX), tf.mul(v, 255 - MIDPOINT_INDEX));
      index = tf.add(MIDPOINT_INDEX, tf.floor(tf.add(scaled, 0.5)));
    } else {
      const mag = (normalize === 'absolute' ? tf.abs(r) : tf.relu(r)) as tf.Tensor3D;
      const t = tf.clipByValue(tf.div(mag, scaleOf(mag, options.shared === true, percentile)), 0, 1);
      // diverging: 0 → 128, 1 → 255; sequential: 0 → 0, 1 → 255
      index = diverging ? tf.add(MIDPOINT_INDEX, tf.floor(tf.add(tf.mul(t, 255 - MIDPOINT_INDEX), 0.5))) : tf.floor(tf.add(tf.mul(t, 255), 0.5));
    }
    const idx = tf.cast(tf.clipByValue(index, 0, 255), 'int32');
    let rgb: tf.Tensor = tf.gather(tf.tensor2d(table, [256, 3], 'float32'), idx); // [N,H,W,3]
    if (options.alpha === true) rgb = tf.concat([rgb, tf.onesLike(tf.slice(rgb, [0, 0, 0, 0], [-1, -1, -1, 1]))], 3);
    if (output === 'int32') return tf.cast(tf.round(tf.mul(rgb, 255)), 'int32') as tf.Tensor4D;
    return rgb as tf.Tensor4D;
  });
}
