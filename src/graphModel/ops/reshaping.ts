/**
 * Ops that move values around: `Reshape`, `Squeeze`, `ExpandDims`, `Identity`, `Pad`, `PadV2`,
 * `MirrorPad`, `ConcatV2`, `StridedSlice`, `Slice`, `Transpose` (the gradient: relevance moves with
 * the values). Their shape-like operands are constants read on the host.
 */
import * as tf from '@tensorflow/tfjs';
import { LrpLayerError } from '../../errors.js';
import { vjpByGradient, type Layer, type LayerAdapter } from '../../layers/adapter.js';
import { attr, constantNumbers, operandValues, OpLayer, opLayer, tensorOperands } from '../opLayer.js';

const passesSign = (_: unknown, nonNeg: readonly boolean[]): boolean => nonNeg.every(Boolean);
const note = 'relevance moves with the values';

/** The target of a `Reshape`, its batch entry kept free (-1) unless another entry is. */
function reshapeTarget(layer: OpLayer, x: tf.Tensor): number[] {
  const shape = constantNumbers(layer, 1, 'shape');
  if (shape[0] !== -1 && !shape.includes(-1)) return [x.shape[0], ...shape.slice(1)];
  return shape;
}

/** `Reshape` (x, shape). */
export const reshapeOp: LayerAdapter = {
  group: 'reshape',
  check: (layer) => {
    const op = opLayer(layer);
    const shape = constantNumbers(op, 1, 'shape');
    if (shape[0] !== -1 && shape.slice(1).includes(-1)) {
      throw new LrpLayerError(op.name, op.op, `Node '${op.name}' (Reshape) to [${shape.join(',')}] fixes the batch axis and leaves another free: the samples would mix. tfjs-lrp explains reshapes that keep the batch axis.`);
    }
  },
  forward: (layer, [x]) => tf.reshape(x, reshapeTarget(opLayer(layer), x)),
  vjp: (_layer, [x], _output, dy) => [tf.reshape(dy, x.shape)],
  routesValues: true,
  nonNegative: passesSign,
  note,
};

/** `Squeeze` (attribute axis / squeeze_dims). */
export const squeezeOp: LayerAdapter = {
  group: 'reshape',
  forward: (layer, [x]) => {
    const axes = attr<number[]>(opLayer(layer), 'axis') ?? [];
    return tf.squeeze(x, axes.length === 0 ? x.shape.flatMap((d, i) => (d === 1 && i > 0 ? [i] : [])) : axes);
  },
  vjp: (_layer, [x], _output, dy) => [tf.reshape(dy, x.shape)],
  routesValues: true,
  nonNegative: passesSign,
  note,
};

/** `ExpandDims` (x, axis). */
export const expandDimsOp: LayerAdapter = {
  group: 'reshape',
  check: (layer) => void constantNumbers(opLayer(layer), 1, 'axis'),
  forward: (layer, [x]) => tf.expandDims(x, constantNumbers(opLayer(layer), 1, 'axis')[0]),
  vjp: (_layer, [x], _output, dy) => [tf.reshape(dy, x.shape)],
  routesValues: true,
  nonNegative: passesSign,
  note,
};

/** `Identity`, `StopGradient`, `Snapshot` (the introspector usually skips them). */
export const identityOp: LayerAdapter = {
  group: 'identity',
  forward: (_layer, [x]) => x,
  vjp: (_layer, _inputs, _output, dy) => [dy],
  routesValues: true,
  nonNegative: (_layer, [nonNeg]) => nonNeg,
  note: 'identity',
};

function paddings(layer: OpLayer, rank: number): Array<[number, number]> {
  const flat = constantNumbers(layer, 1, 'paddings');
  return Array.from({ length: rank }, (_, i) => [flat[2 * i], flat[2 * i + 1]] as [number, number]);
}

function checkPad(layer: Layer): void {
  const op = opLayer(layer);
  const flat = constantNumbers(op, 1, 'paddings');
  if (flat[0] !== 0 || flat[1] !== 0) throw new LrpLayerError(op.name, op.op, `Node '${op.name}' (${op.op}) pads the batch axis; tfjs-lrp explains each sample on its own.`);
}

/** `Pad`, `PadV2` (x, paddings[, value]), `MirrorPad` (x, paddings; mode). */
export const padOp: LayerAdapter = {
  group: 'reshape',
  check: checkPad,
  forward: (layer, inputs) => {
    const op = opLayer(layer);
    const [x, , value] = operandValues(op, inputs);
    const p = paddings(op, x.rank);
    if (op.op === 'MirrorPad') return tf.mirrorPad(x, p, String(attr<string>(op, 'mode') ?? 'reflect').toLowerCase() as 'reflect' | 'symmetric');
    if (op.op === 'PadV2' && value !== undefined) {
      const v = op.operands[2]?.values;
      if (v != null) return tf.pad(x, p, v[0]);
      return tf.add(tf.pad(tf.sub(x, value), p), value);
    }
    return tf.pad(x, p);
  },
  vjp: (layer, [x], _output, dy) => {
    const op = opLayer(layer);
    if (op.op === 'MirrorPad') return vjpByGradient(([t]) => tf.mirrorPad(t, paddings(op, x.rank), String(attr<string>(op, 'mode') ?? 'reflect').toLowerCase() as 'reflect' | 'symmetric'), [x], dy);
    const p = paddings(op, x.rank);
    return [tf.slice(dy, p.map(([before]) => before), x.shape)];
  },
  nonNegative: passesSign,
  note: 'relevance of the padding dropped; the rest moves with the values',
};

/** `ConcatV2` (x1 … xn, axis); constant pieces get no relevance. */
export const concatOp: LayerAdapter = {
  group: 'concatenate',
  check: (layer) => {
    const op = opLayer(layer);
    const axis = constantNumbers(op, op.operands.length - 1, 'axis')[0];
    if (axis === 0) throw new LrpLayerError(op.name, op.op, `Node '${op.name}' (ConcatV2) concatenates along the batch axis; tfjs-lrp explains each sample on its own.`);
  },
  forward: (layer, inputs) => {
    const op = opLayer(layer);
    const all = operandValues(op, inputs);
    const axis = constantNumbers(op, op.operands.length - 1, 'axis')[0];
    return tf.concat(all.slice(0, -1), axis);
  },
  vjp: (layer, inputs, _output, dy) => {
    const op = opLayer(layer);
    const all = operandValues(op, inputs).slice(0, -1);
    const raw = constantNumbers(op, op.operands.length - 1, 'axis')[0];
    const axis = raw < 0 ? raw + dy.rank : raw;
    const pieces = tf.split(dy, all.map((t) => t.shape[axis]), axis);
    const tensors = tensorOperands(op);
    return tensors.map((i) => pieces[i]);
  },
  nonNegative: passesSign,
  note: 'relevance split back to the inputs',
};

/** `StridedSlice` (x, begin, end, strides; masks). */
export const stridedSliceOp: LayerAdapter = {
  group: 'reshape',
  check: (layer) => {
    const op = opLayer(layer);
    for (const [i, what] of [[1, 'begin'], [2, 'end'], [3, 'strides']] as const) constantNumbers(op, i, what);
    const masks = ['beginMask', 'endMask', 'ellipsisMask', 'newAxisMask', 'shrinkAxisMask'].map((m) => Number(attr<number>(op, m) ?? 0));
    const [b, e, s] = [1, 2, 3].map((i) => constantNumbers(op, i, 'slice'));
    const keepsBatch = (masks[2] & 1) !== 0 || (((masks[0] & 1) !== 0 || b[0] === 0) && ((masks[1] & 1) !== 0 || e[0] === -1 || e[0] >= 2 ** 30) && s[0] === 1 && (masks[4] & 1) === 0 && (masks[3] & 1) === 0);
    if (!keepsBatch) throw new LrpLayerError(op.name, op.op, `Node '${op.name}' (StridedSlice) slices the batch axis (begin [${b.join(',')}], end [${e.join(',')}]); tfjs-lrp explains slices that keep every sample.`);
  },
  forward: (layer, [x]) => stridedSlice(opLayer(layer), x),
  vjp: (layer, [x], _output, dy) => [vjpBySelection((t) => stridedSlice(opLayer(layer), t), x, dy)],
  nonNegative: passesSign,
  note,
};

/**
 * `Jᵀ dy` of an op that only picks elements of `x` (tfjs has no StridedSlice gradient): the op
 * applied to the element indices says where each output element comes from; `dy` is scattered
 * back there (summed where an element is picked more than once).
 */
function vjpBySelection(select: (t: tf.Tensor) => tf.Tensor, x: tf.Tensor, dy: tf.Tensor): tf.Tensor {
  const picked = select(tf.reshape(tf.range(0, x.size, 1, 'int32'), x.shape));
  const scattered = tf.scatterND(tf.reshape(picked, [-1, 1]), tf.reshape(dy, [-1]), [x.size]);
  return tf.reshape(scattered, x.shape);
}

function stridedSlice(op: OpLayer, x: tf.Tensor): tf.Tensor {
  const [b, e, s] = [1, 2, 3].map((i) => constantNumbers(op, i, 'slice'));
  const m = (name: string) => Number(attr<number>(op, name) ?? 0);
  return tf.stridedSlice(x, b, e, s, m('beginMask'), m('endMask'), m('ellipsisMask'), m('newAxisMask'), m('shrinkAxisMask'));
}

/** `Slice` (x, begin, size). */
export const sliceOp: LayerAdapter = {
  group: 'reshape',
  check: (layer) => {
    const op = opLayer(layer);
    const [b, s] = [constantNumbers(op, 1, 'begin'), constantNumbers(op, 2, 'size')];
    if (b[0] !== 0 || s[0] !== -1) throw new LrpLayerError(op.name, op.op, `Node '${op.name}' (Slice) slices the batch axis; tfjs-lrp explains slices that keep every sample.`);
  },
  forward: (layer, [x]) => {
    const op = opLayer(layer);
    return tf.slice(x, constantNumbers(op, 1, 'begin'), constantNumbers(op, 2, 'size'));
  },
  vjp: (layer, [x], _output, dy) => {
    const begin = constantNumbers(opLayer(layer), 1, 'begin');
    return [tf.pad(dy, x.shape.map((d, i) => [begin[i], d - begin[i] - dy.shape[i]] as [number, number]))];
  },
  nonNegative: passesSign,
  note,
};

/** `Transpose` (x, perm) keeping the batch axis first. */
export const transposeOp: LayerAdapter = {
  group: 'reshape',
  check: (layer) => {
    const op = opLayer(layer);
    const perm = constantNumbers(op, 1, 'perm');
    if (perm[0] !== 0) throw new LrpLayerError(op.name, op.op, `Node '${op.name}' (Transpose) moves the batch axis (perm [${perm.join(',')}]); tfjs-lrp explains transposes that keep the batch axis first.`);
  },
  forward: (layer, [x]) => tf.transpose(x, constantNumbers(opLayer(layer), 1, 'perm')),
  vjp: (layer, _inputs, _output, dy) => {
    const perm = constantNumbers(opLayer(layer), 1, 'perm');
    return [tf.transpose(dy, perm.map((_, i) => perm.indexOf(i)))];
  },
  nonNegative: passesSign,
  note,
};
