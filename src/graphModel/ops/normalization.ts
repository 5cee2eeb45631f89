/**
 * `FusedBatchNorm`/`FusedBatchNormV3` (x, scale, offset, mean, variance): merged by canonize into
 * the linear op right before it (LRP_RULES §4), otherwise relevance passes unchanged (as an
 * unmerged BatchNormalization). The op layer carries the four constants as `gamma`, `beta`,
 * `moving_mean`, `moving_variance` weights and the `epsilon` config, as a Keras BatchNormalization.
 */
import * as tf from '@tensorflow/tfjs';
import { LrpLayerError } from '../../errors.js';
import type { LayerAdapter } from '../../layers/adapter.js';
import { attr, OpLayer, opLayer, requiredConstant } from '../opLayer.js';

function affine(layer: OpLayer): { scale: tf.Tensor; shift: tf.Tensor } {
  const [gamma, beta, mean, variance] = [1, 2, 3, 4].map((i) => requiredConstant(layer, i, ['scale', 'offset', 'mean', 'variance'][i - 1]).value());
  const eps = Number(attr<number>(layer, 'epsilon') ?? 1e-3);
  const scale = tf.mul(gamma, tf.rsqrt(tf.add(variance, eps)));
  return { scale, shift: tf.sub(beta, tf.mul(mean, scale)) };
}

/** The BatchNormalization-like view of the op layer (weights and config) that canonize's merge reads. */
export function batchNormView(layer: OpLayer): { weights: Array<{ name: string; read(): tf.Tensor }>; getConfig(): Record<string, unknown> } {
  const names = ['gamma', 'beta', 'moving_mean', 'moving_variance'];
  return {
    weights: names.map((name, i) => ({ name: `${layer.name}/${name}`, read: () => (layer.operands[i + 1] as NonNullable<OpLayer['operands'][number]>).value() })),
    getConfig: () => ({ epsilon: Number(attr<number>(layer, 'epsilon') ?? 1e-3), scale: true, center: true, axis: -1 }),
  };
}

/** `FusedBatchNorm`, `FusedBatchNormV3` (inference mode, NHWC). */
export const fusedBatchNormOp: LayerAdapter = {
  group: 'batchNorm',
  check: (layer) => {
    const op = opLayer(layer);
    const format = String(attr<string>(op, 'dataFormat') ?? 'nhwc').toLowerCase();
    if (format !== 'nhwc') throw new LrpLayerError(op.name, op.op, `Node '${op.name}' (${op.op}) uses data format ${format.toUpperCase()}; tfjs-lrp explains NHWC (channels-last) graphs only.`);
    if (attr<boolean>(op, 'isTraining') === true) throw new LrpLayerError(op.name, op.op, `Node '${op.name}' (${op.op}) is in training mode (batch statistics); tfjs-lrp explains inference graphs. Convert the model for inference.`);
    for (let i = 1; i <= 4; i++) requiredConstant(op, i, ['scale', 'offset', 'mean', 'variance'][i - 1]);
  },
  forward: (layer, [x]) => {
    const { scale, shift } = affine(opLayer(layer));
    return tf.add(tf.mul(x, scale), shift);
  },
  vjp: (layer, _inputs, _output, dy) => [tf.mul(dy, affine(opLayer(layer)).scale)],
  note: 'merged into the linear op before it; otherwise relevance passes unchanged',
};
