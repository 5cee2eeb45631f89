/** BatchNormalization: merged into the Dense/Conv before it when possible, else `pass`. */
import * as tf from '@tensorflow/tfjs';
import { LrpLayerError } from '../errors.js';
import { configOf, Layer, LayerAdapter, requiredWeight, weightOf } from './adapter.js';

/** Per-channel `scale` and `shift` of an inference-mode BatchNormalization: y = x·scale + shift. */
export function batchNormAffine(layer: Layer): { scale: tf.Tensor1D; shift: tf.Tensor1D } {
  const c = configOf(layer);
  const epsilon = Number(c.epsilon ?? 1e-3);
  const mean = requiredWeight(layer, 'moving_mean') as tf.Tensor1D;
  const variance = requiredWeight(layer, 'moving_variance') as tf.Tensor1D;
  const gamma = c.scale === false ? null : weightOf(layer, 'gamma');
  const beta = c.center === false ? null : weightOf(layer, 'beta');
  const inv = tf.rsqrt(tf.add(variance, epsilon));
  const scale = (gamma === null ? inv : tf.mul(inv, gamma)) as tf.Tensor1D;
  const shift = tf.sub(beta ?? tf.zerosLike(mean), tf.mul(mean, scale)) as tf.Tensor1D;
  return { scale, shift };
}

export const batchNormAdapter: LayerAdapter = {
  group: 'batchNorm',
  check: (layer, name) => {
    const raw = configOf(layer).axis;
    const axis = Array.isArray(raw) && raw.length === 1 ? raw[0] : raw;
    if (axis === undefined || axis === -1) return;
    // Keras (TF2) saves the channel axis as a positive index, often as a list: [3]
    const shapes = (layer as unknown as { inboundNodes: Array<{ inputShapes: unknown }> }).inboundNodes[0]?.inputShapes;
    const shape = (Array.isArray(shapes) && Array.isArray(shapes[0]) ? shapes[0] : shapes) as unknown[] | undefined;
    const rank = Array.isArray(shape) ? shape.length : undefined;
    if (rank === undefined || axis !== rank - 1) {
      throw new LrpLayerError(name, 'BatchNormalization', `Layer '${name}' (BatchNormalization) normalises axis ${JSON.stringify(raw)}; tfjs-lrp supports the last (channel) axis only.`);
    }
  },
  vjp: (layer, _inputs, _output, dy) => [tf.mul(dy, batchNormAffine(layer).scale)],
};
