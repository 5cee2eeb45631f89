/**
 * The preprocessing layers of tfjs-layers: Rescaling (pass), CenterCrop (the gradient: relevance
 * moves with the pixels, cropped-away pixels get 0), CategoryEncoding (relevance by token position,
 * shared equally among positions with the same token), and the two that tfjs 4.22 cannot run inside
 * a model (Resizing, RandomWidth): typed errors that name the tfjs limitation.
 */
import * as tf from '@tensorflow/tfjs';
import { LrpLayerError } from '../errors.js';
import { applyLayer, configOf, Layer, LayerAdapter } from './adapter.js';

// ---- Rescaling -------------------------------------------------------------------------------

/** Rescaling (`y = scale·x + offset`, constants): relevance passes; its Jacobian is `scale`. */
export const rescalingAdapter: LayerAdapter = {
  group: 'identity',
  vjp: (layer, _inputs, _output, dy) => [tf.mul(dy, Number(configOf(layer).scale ?? 1))],
  nonNegative: (layer, [nonNeg]) => {
    const c = configOf(layer);
    return nonNeg && Number(c.scale ?? 1) >= 0 && Number(c.offset ?? 0) >= 0;
  },
  note: 'affine rescaling: relevance passes unchanged',
};

// ---- CenterCrop ------------------------------------------------------------------------------

function cropTarget(layer: Layer): [number, number] {
  const c = configOf(layer);
  return [Number(c.height), Number(c.width)];
}

function checkCropInput(layer: Layer, x: tf.Tensor): void {
  const [h, w] = cropTarget(layer);
  const [, H, W] = x.shape as number[];
  if (x.rank !== 4 || H < h || W < w) {
    throw new LrpLayerError(layer.name, 'CenterCrop', `Layer '${layer.name}' (CenterCrop) gets an input of shape [${x.shape.join(',')}], smaller than its ${h}×${w} crop; tfjs-layers then resizes bilinearly instead of cropping, which tfjs-lrp does not explain. Give it [N, H, W, C] images of at least ${h}×${w}.`);
  }
}

/**
 * Where each output row and column of the crop comes from: the layer run on a probe whose first
 * channel holds the row index and whose second the column index (tfjs' CenterCrop samples with
 * nearest-neighbour crop-and-resize, so this follows it exactly), as one-hot matrices
 * `[h, H]` and `[w, W]`.
 */
function cropSources(layer: Layer, H: number, W: number): { rows: tf.Tensor2D; cols: tf.Tensor2D } {
  const rowIds = tf.tile(tf.reshape(tf.range(0, H), [1, H, 1, 1]), [1, 1, W, 1]);
  const colIds = tf.tile(tf.reshape(tf.range(0, W), [1, 1, W, 1]), [1, H, 1, 1]);
  const out = applyLayer(layer, [tf.concat([rowIds, colIds], 3)]) as tf.Tensor4D;
  const [, h, w] = out.shape;
  const rowOf = tf.reshape(tf.slice(out, [0, 0, 0, 0], [1, h, 1, 1]), [h]);
  const colOf = tf.reshape(tf.slice(out, [0, 0, 0, 1], [1, 1, w, 1]), [w]);
  const oneHot = (v: tf.Tensor, depth: number): tf.Tensor2D => tf.cast(tf.oneHot(tf.cast(tf.round(v), 'int32') as tf.Tensor1D, depth), 'float32') as tf.Tensor2D;
  return { rows: oneHot(rowOf, H), cols: oneHot(colOf, W) };
}

/** Sums `dy` [N, h, w, C] back onto [N, H, W, C] at the sources (two one-hot products, rank ≤ 3). */
function scatterCrop(dy: tf.Tensor4D, rows: tf.Tensor2D, cols: tf.Tensor2D): tf.Tensor4D {
  const [n, h, w, c] = dy.shape;
  const [H, W] = [rows.shape[1], cols.shape[1]];
  // columns: [w, N·h·C] → [W, N·h·C]
  const byCol = tf.reshape(tf.transpose(tf.reshape(dy, [n * h, w, c]), [1, 0, 2]), [w, n * h * c]);
  const widened = tf.matMul(cols, byCol as tf.Tensor2D, true, false); // [W, N·h·C]
  const back = tf.transpose(tf.reshape(widened, [W, n * h, c]), [1, 0, 2]); // [N·h, W, C]
  // rows: [h, N·W·C] → [H, N·W·C]
  const byRow = tf.reshape(tf.transpose(tf.reshape(back, [n, h, W * c]), [1, 0, 2]), [h, n * W * c]);
  const heightened = tf.matMul(rows, byRow as tf.Tensor2D, true, false); // [H, N·W·C]
  return tf.reshape(tf.transpose(tf.reshape(heightened, [H, n, W * c]), [1, 0, 2]), [n, H, W, c]) as tf.Tensor4D;
}

/** CenterCrop: the gradient (each output pixel's relevance to its source pixel). */
export const centerCropAdapter: LayerAdapter = {
  group: 'reshape',
  forward: (layer, [x]) => {
    checkCropInput(layer, x);
    return applyLayer(layer, [x]);
  },
  vjp: (layer, [x], _output, dy) => {
    checkCropInput(layer, x);
    const [, H, W] = x.shape as number[];
    const { rows, cols } = cropSources(layer, H, W);
    return [scatterCrop(dy as tf.Tensor4D, rows, cols)];
  },
  nonNegative: (_layer, [nonNeg]) => nonNeg,
  note: 'relevance moves with the pixels (cropped-away pixels get 0)',
};

// ---- CategoryEncoding ------------------------------------------------------------------------

type EncodingMode = 'oneHot' | 'multiHot' | 'count';

function encodingMode(layer: Layer): EncodingMode {
  return String(configOf(layer).outputMode ?? 'multiHot') as EncodingMode;
}

function checkEncoding(layer: Layer, name: string): void {
  const mode = String(configOf(layer).outputMode ?? 'multiHot');
  if (mode !== 'oneHot' && mode !== 'multiHot' && mode !== 'count') {
    throw new LrpLayerError(name, 'CategoryEncoding', `Layer '${name}' (CategoryEncoding) has outputMode '${mode}'; tfjs-lrp explains 'oneHot', 'multiHot' and 'count' (tfjs' 'tfIdf' needs weights the layer cannot be given inside a model, and 'int' passes the integers on unchanged).`);
  }
}

/**
 * `[N, T, K]` one-hot of the tokens (an input [N] counts as T = 1), in float arithmetic,
 * `max(1 − |id − k|, 0)` for integer ids: tfjs 4.22's WebGPU fails to compile the int32 transpose
 * that tf.oneHot's result meets in the reductions.
 */
function tokenOneHot(layer: Layer, tokens: tf.Tensor): tf.Tensor3D {
  const k = Number(configOf(layer).numTokens);
  const n = tokens.shape[0];
  const ids = tf.reshape(tf.round(tokens.dtype === 'float32' ? tokens : tf.cast(tokens, 'float32')), [n, -1, 1]);
  return tf.relu(tf.sub(1, tf.abs(tf.sub(ids, tf.range(0, k))))) as tf.Tensor3D;
}

/**
 * CategoryEncoding: its own forward (tfjs' call reads the token range back synchronously), and as
 * its "Jacobian" the relevance by position: a position gets the relevance of the category it
 * switched on, divided by the number of positions holding that token in the sample.
 */
export const categoryEncodingAdapter: LayerAdapter = {
  group: 'embedding',
  check: checkEncoding,
  forward: (layer, [tokens]) => {
    const oneHot = tokenOneHot(layer, tokens);
    return encodingMode(layer) === 'count' ? tf.sum(oneHot, 1) : tf.max(oneHot, 1);
  },
  vjp: (layer, [tokens], _output, dy) => {
    const oneHot = tokenOneHot(layer, tokens);
    const counts = tf.maximum(tf.sum(oneHot, 1, true), 1); // [N, 1, K]
    const share = tf.div(tf.reshape(dy, [dy.shape[0], 1, -1]), counts);
    return [tf.reshape(tf.sum(tf.mul(oneHot, share), 2), tokens.shape)];
  },
  nonNegative: () => true,
  note: 'a token position gets the relevance of its category (shared by equal tokens)',
};

// ---- layers tfjs 4.22 cannot run inside a model ------------------------------------------------

function refused(reason: (name: string) => string): LayerAdapter {
  return {
    group: 'other',
    check: (layer, name) => {
      throw new LrpLayerError(name, layer.getClassName(), reason(name));
    },
    note: 'refused: tfjs 4.22 cannot run this layer inside a model',
  };
}

/** Resizing: tfjs-layers 4.22 cannot run it in a model (see the message). */
export const resizingAdapter: LayerAdapter = refused(
  (name) =>
    `Layer '${name}' (Resizing) cannot run inside a tfjs-layers 4.22 model: its call() hands the input list to tf.image.resize without unwrapping it ("x must be rank 3 or 4, but got rank 1"), so model.predict fails on it too. Resize the images before the model (tf.image.resizeBilinear or resizeNearestNeighbor) and drop the layer. tfjs-lrp gives Resizing its rule (bilinear: norm; nearest: gradient) once tfjs can run it.`,
);

/** RandomWidth: random at inference, and it cannot run in a model either. */
export const randomWidthAdapter: LayerAdapter = refused(
  (name) =>
    `Layer '${name}' (RandomWidth) cannot be explained: in tfjs-layers 4.22 it resizes the width by a new random factor on every call, at inference too, and its call() fails inside a model like Resizing's ("x must be rank 3 or 4"). It is a training-time augmentation: explain a copy of the model without it.`,
);
