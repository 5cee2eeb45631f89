/** BatchNormalization: merged into the Dense/Conv before it when possible, else `pass`. */
import * as tf from '@tensorflow/tfjs';
import { LrpLayerError } from '../errors';
import { configOf, Layer, LayerAdapter, requiredWeight, weightOf } from './adapter';

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
    const axis = configOf(layer).axis;
    if (axis !== undefined && axis !== -1 && !(Array.isArray(axis) && axis.length === 1 && axis[0] === -1)) {
      const rank = layer.inputSpec?.[0]?.ndim;
      const last = rank === undefined ? undefined : rank - 1;
      if (axis !== last) {
        throw new LrpLayerError(name, 'BatchNormalization', `Layer '${name}' (BatchNormalization) normalises axis ${JSON.stringify(axis)}; tfjs-lrp supports the last (channel) axis only.`);
      }
    }
  },
  vjp: (layer, _inputs, _output, dy) => [tf.mul(dy, batchNormAffine(layer).scale)],
};
