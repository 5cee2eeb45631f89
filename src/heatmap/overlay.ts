/** Blending a heatmap onto its input image, and top-k relevance masks, as pure tf ops. */
import * as tf from '@tensorflow/tfjs';
import { LrpArgumentError } from '../errors';
import { checkRelevance, reduceChannels } from './heatmap';

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
