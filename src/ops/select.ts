/**
 * Cropping and strided selection of NHWC tensors with a depthwise convolution by a one-hot
 * kernel (crops on WebGL: a Slice). The wasm backend implements Slice in JavaScript (tens of ms
 * for a large activation), while its depthwise convolution is native; a product with a one-hot kernel copies values exactly
 * (x·1 + Σ 0·y; inputs must be finite, so pad with {@link LOWEST} rather than −∞).
 */
import * as tf from '@tensorflow/tfjs';

/** The lowest finite float32: the "−∞" of max pooling's padding that stays finite. */
export const LOWEST = -3.4028234663852886e38;

function oneHotKernel(kh: number, kw: number, channels: number, row: number, col: number): tf.Tensor4D {
  const data = new Float32Array(kh * kw * channels);
  data.fill(1, (row * kw + col) * channels, (row * kw + col + 1) * channels);
  return tf.tensor4d(data, [kh, kw, channels, 1]);
}

/** `x[:, top : H − bottom, left : W − right, :]`. */
export function cropSpatial(x: tf.Tensor4D, top: number, bottom: number, left: number, right: number): tf.Tensor4D {
  if (top === 0 && bottom === 0 && left === 0 && right === 0) return x;
  if (top < 0 || bottom < 0 || left < 0 || right < 0) throw new Error(`internal: negative crop ${[top, bottom, left, right]}`);
  // WebGL's Slice is one copy shader: [4, 113, 113, 96] → 112×112 in Chromium (SwiftShader) 55 ms,
  // against 113 ms for the depthwise convolution (WebGPU in Node: Slice 42 ms, convolution 21 ms)
  if (tf.getBackend() === 'webgl') return tf.slice(x, [0, top, left, 0], [x.shape[0], x.shape[1] - top - bottom, x.shape[2] - left - right, x.shape[3]]);
  const kernel = oneHotKernel(top + bottom + 1, left + right + 1, x.shape[3], top, left);
  return tf.depthwiseConv2d(x, kernel, 1, 'valid');
}

/**
 * `x[:, i :: sh, j :: sw, :]` limited to `outH x outW` (the window offset (i, j) of every pooling
 * window of size `kh x kw`): a strided one-hot depthwise convolution.
 */
export function stridedView(x: tf.Tensor4D, i: number, j: number, kh: number, kw: number, sh: number, sw: number, outH: number, outW: number): tf.Tensor4D {
  const kernel = oneHotKernel(kh, kw, x.shape[3], i, j);
  const view = tf.depthwiseConv2d(x, kernel, [sh, sw], 'valid');
  if (view.shape[1] === outH && view.shape[2] === outW) return view;
  return cropSpatial(view, 0, view.shape[1] - outH, 0, view.shape[2] - outW);
}
