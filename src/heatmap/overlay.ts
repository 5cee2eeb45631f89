/** Blending a heatmap onto its input image, and top-k relevance masks, as pure tf ops. */
import * as tf from '@tensorflow/tfjs';
import { LrpArgumentError } from '../errors.js';
import { checkRelevance, reduceChannels } from './heatmap.js';

/** Options of {@link overlay}. */
export interface OverlayOptions {
  /** Weight of the heatmap (or of the blended colour) in 0..1 (default 0.5). */
  alpha?: number;
  /**
   * 'alpha' (default): (1−a)·image + a·heat. 'multiply': (1−a)·image + a·(image·heat).
   * 'screen': (1−a)·image + a·(1 − (1−image)(1−heat)).
   */
  mode?: 'alpha' | 'multiply' | 'screen';
}

/**
 * Blends an image [N,H,W,1] or [N,H,W,3] (0..1; gray is broadcast to RGB; N may be 1 for several
 * heatmaps of one image) with a heatmap [N,H,W,3] (float 0..1, or int32 0..255 as heatmap's
 * output 'int32'; an RGBA heatmap's alpha channel is dropped) → float32 [N,H,W,3] in 0..1.
 */
export function overlay(image: tf.Tensor, heat: tf.Tensor, options: OverlayOptions = {}): tf.Tensor4D {
  if (!(image instanceof tf.Tensor) || image.rank !== 4 || (image.shape[3] !== 1 && image.shape[3] !== 3)) {
    const got = image instanceof tf.Tensor ? `[${image.shape.join(',')}]` : typeof image;
    throw new LrpArgumentError('image', `expected shape [N,H,W,1] or [N,H,W,3] with values in 0..1, got ${got}; add the batch axis with image.expandDims(0).`);
  }
  if (!(heat instanceof tf.Tensor) || heat.rank !== 4 || (heat.shape[3] !== 3 && heat.shape[3] !== 4)) {
    const got = heat instanceof tf.Tensor ? `[${heat.shape.join(',')}]` : typeof heat;
    throw new LrpArgumentError('heat', `expected an RGB(A) heatmap [N,H,W,3] (from heatmap()), got ${got}.`);
  }
  const [n, h, w] = heat.shape;
  if (image.shape[1] !== h || image.shape[2] !== w || (image.shape[0] !== n && image.shape[0] !== 1)) {
    throw new LrpArgumentError(
      'heat',
      `shape [${heat.shape.join(',')}] does not match image [${image.shape.join(',')}]; N, H and W must agree (or the image has N = 1). ` +
        'Resize the relevance to the image with tf.image.resizeBilinear before heatmap().',
    );
  }
  const alpha = options.alpha ?? 0.5;
  if (typeof alpha !== 'number' || !(alpha >= 0 && alpha <= 1)) {
    throw new LrpArgumentError('options.alpha', `must be a number in [0, 1], got ${String(alpha)}.`);
  }
  const mode = options.mode ?? 'alpha';
  if (mode !== 'alpha' && mode !== 'multiply' && mode !== 'screen') {
    throw new LrpArgumentError('options.mode', `unknown blend mode ${JSON.stringify(mode)}; use 'alpha', 'multiply' or 'screen'.`);
  }
  return tf.tidy(() => {
    const img = tf.cast(image, 'float32');
    let hm = tf.slice(tf.cast(heat, 'float32'), [0, 0, 0, 0], [-1, -1, -1, 3]);
    if (heat.dtype === 'int32') hm = tf.div(hm, 255);
    const top = mode === 'alpha' ? hm : mode === 'multiply' ? tf.mul(img, hm) : tf.sub(1, tf.mul(tf.sub(1, img), tf.sub(1, hm)));
    const out = tf.add(tf.mul(img, 1 - alpha), tf.mul(top, alpha)); // broadcasts gray and N = 1
    return tf.clipByValue(tf.broadcastTo(out, [n, h, w, 3]), 0, 1) as tf.Tensor4D;
  });
}

/**
 * Binary float32 mask [N,H,W,1]: 1 on the round(fraction·H·W) (at least 1) pixels of largest
 * relevance (signed, after summing the channels) of each sample, 0 elsewhere. Exactly that many
 * per sample, ties broken by tf.topk (lower index first).
 */
export function topKMask(relevance: tf.Tensor, fraction: number): tf.Tensor4D {
  const rel = checkRelevance(relevance);
  if (typeof fraction !== 'number' || !(fraction > 0 && fraction <= 1)) {
    throw new LrpArgumentError('fraction', `must be a number in (0, 1], got ${String(fraction)}; e.g. 0.05 for the 5% most relevant pixels.`);
  }
  const [n, h, w] = rel.shape;
  const m = h * w;
  const k = Math.min(m, Math.max(1, Math.round(fraction * m)));
  return tf.tidy(() => {
    if (n === 0 || m === 0) return tf.zeros([n, h, w, 1]) as tf.Tensor4D;
    const flat = tf.reshape(reduceChannels(rel, 'sum'), [n, m]) as tf.Tensor2D;
    const cols = tf.reshape(tf.topk(flat, k, false).indices, [n * k, 1]);
    const rows = tf.reshape(tf.tile(tf.reshape(tf.range(0, n, 1, 'int32'), [n, 1]), [1, k]), [n * k, 1]);
    const mask = tf.scatterND(tf.concat([rows, cols], 1), tf.ones([n * k], 'float32'), [n, m]);
    return tf.reshape(mask, [n, h, w, 1]) as tf.Tensor4D;
  });
}

/**
 * Nearest-neighbour upscaling by an integer factor (each pixel becomes a factor×factor block,
 * exactly): [N,H,W,C] → [N,H·f,W·f,C], any dtype. Returns a new tensor (a clone for factor 1).
 */
export function upscale(image: tf.Tensor4D, factor: number): tf.Tensor4D {
  if (!(image instanceof tf.Tensor) || image.rank !== 4) {
    throw new LrpArgumentError('image', `expected a tf.Tensor4D [N,H,W,C], got ${image instanceof tf.Tensor ? `[${(image as tf.Tensor).shape.join(',')}]` : typeof image}.`);
  }
  checkFactor(factor, 'factor');
  const [n, h, w, c] = image.shape;
  if (factor === 1) return tf.clone(image);
  return tf.tidy(() => {
    // widen each row (rank-4 tiles only: every backend has them), then repeat the rows
    const cols = tf.tile(tf.reshape(image, [n * h, w, 1, c]), [1, 1, factor, 1]);
    const rows = tf.tile(tf.reshape(cols, [n, h, 1, w * factor * c]), [1, 1, factor, 1]);
    return tf.reshape(rows, [n, h * factor, w * factor, c]) as tf.Tensor4D;
  });
}

/** Checks an integer upscale factor ≥ 1. */
export function checkFactor(factor: unknown, argument: string): number {
  if (typeof factor !== 'number' || !Number.isInteger(factor) || factor < 1 || factor > 64) {
    throw new LrpArgumentError(argument, `must be an integer in 1..64, got ${String(factor)}; e.g. 4 to show 28×28 maps at 112×112.`);
  }
  return factor;
}

/**
 * The inner outline of a binary mask [N,H,W,1] (float 0/1): the mask's pixels that have a
 * non-mask pixel within `thickness` pixels (8-neighbourhood). Pixels outside the image do not
 * count as non-mask, so the image border is not outlined. Pure tf ops.
 */
export function maskOutline(mask: tf.Tensor4D, thickness = 1): tf.Tensor4D {
  if (!(mask instanceof tf.Tensor) || mask.rank !== 4 || mask.shape[3] !== 1) {
    throw new LrpArgumentError('mask', `expected a binary mask [N,H,W,1] (e.g. from topKMask), got ${mask instanceof tf.Tensor ? `[${(mask as tf.Tensor).shape.join(',')}]` : typeof mask}.`);
  }
  if (typeof thickness !== 'number' || !Number.isInteger(thickness) || thickness < 1 || thickness > 32) {
    throw new LrpArgumentError('thickness', `must be an integer in 1..32 px, got ${String(thickness)}.`);
  }
  return tf.tidy(() => {
    const m = tf.cast(tf.greater(mask, 0.5), 'float32') as tf.Tensor4D;
    const k = 2 * thickness + 1;
    const outsideNear = tf.maxPool(tf.sub(1, m) as tf.Tensor4D, [k, k], [1, 1], 'same');
    return tf.mul(m, outsideNear) as tf.Tensor4D;
  });
}

/** Options of {@link drawContour}. */
export interface ContourOptions {
  /** Fraction of pixels in the top-k mask whose outline is drawn (as topKMask), in (0, 1]. */
  fraction: number;
  /** Line colour as [r, g, b] in 0..1 (default [0, 0, 0], black). */
  color?: readonly [number, number, number];
  /** Line width in output pixels (default 1). */
  thickness?: number;
}

/** Checks contour options (also used by the grid and saveHeatmap). */
export function checkContour(options: unknown, argument = 'options.contour'): Required<ContourOptions> {
  if (typeof options !== 'object' || options === null) {
    throw new LrpArgumentError(argument, 'expected { fraction, color?, thickness? }, e.g. { fraction: 0.05 } to outline the 5% most relevant pixels.');
  }
  const o = options as ContourOptions;
  if (typeof o.fraction !== 'number' || !(o.fraction > 0 && o.fraction <= 1)) {
    throw new LrpArgumentError(`${argument}.fraction`, `must be a number in (0, 1], got ${String(o.fraction)}; e.g. 0.05 for the 5% most relevant pixels.`);
  }
  const color = o.color ?? [0, 0, 0];
  if (!Array.isArray(color) || color.length !== 3 || !color.every((v) => typeof v === 'number' && v >= 0 && v <= 1)) {
    throw new LrpArgumentError(`${argument}.color`, `expected [r, g, b] with values in 0..1, got ${JSON.stringify(color)}.`);
  }
  const thickness = o.thickness ?? 1;
  if (typeof thickness !== 'number' || !Number.isInteger(thickness) || thickness < 1 || thickness > 32) {
    throw new LrpArgumentError(`${argument}.thickness`, `must be an integer in 1..32 px, got ${String(thickness)}.`);
  }
  return { fraction: o.fraction, color: [color[0], color[1], color[2]], thickness };
}

/**
 * Draws the outline of the top-k relevance mask (topKMask(relevance, fraction)) onto an image:
 * image [N,H,W,1|3] (0..1, e.g. an overlay) whose H and W are the relevance's times an integer
 * factor (the mask is upscaled by nearest neighbour first, so the line follows the blocks of an
 * upscaled picture) → float32 [N,H,W,3]. N of the image may be 1 for several relevance maps.
 */
export function drawContour(image: tf.Tensor, relevance: tf.Tensor, options: ContourOptions): tf.Tensor4D {
  const rel = checkRelevance(relevance);
  if (!(image instanceof tf.Tensor) || image.rank !== 4 || (image.shape[3] !== 1 && image.shape[3] !== 3)) {
    throw new LrpArgumentError('image', `expected shape [N,H,W,1] or [N,H,W,3] with values in 0..1, got ${image instanceof tf.Tensor ? `[${image.shape.join(',')}]` : typeof image}.`);
  }
  const o = checkContour(options, 'options');
  const [n, h, w] = rel.shape;
  const [ni, hi, wi] = image.shape;
  const factor = h > 0 ? hi / h : 1;
  if (!Number.isInteger(factor) || factor < 1 || wi !== w * factor || (ni !== n && ni !== 1)) {
    throw new LrpArgumentError(
      'image',
      `shape [${image.shape.join(',')}] does not fit relevance [${rel.shape.join(',')}]: H and W must be the relevance's times one integer factor, N equal (or 1).`,
    );
  }
  return tf.tidy(() => {
    const mask = upscaleUnchecked(topKMask(rel, o.fraction), factor);
    const line = maskOutline(mask, o.thickness);
    const img = tf.cast(image, 'float32');
    const rgb = image.shape[3] === 1 ? tf.tile(img, [1, 1, 1, 3]) : img;
    const out = tf.add(tf.mul(rgb, tf.sub(1, line)), tf.mul(tf.tensor1d([...o.color], 'float32'), line));
    return tf.clipByValue(tf.broadcastTo(out, [n, hi, wi, 3]), 0, 1) as tf.Tensor4D;
  });
}

function upscaleUnchecked(t: tf.Tensor4D, factor: number): tf.Tensor4D {
  return factor === 1 ? t : upscale(t, factor);
}
