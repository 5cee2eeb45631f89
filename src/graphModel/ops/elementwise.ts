/**
 * Element-wise ops: activations (`Relu`, `Relu6`, `Elu`, `LeakyRelu`, `Sigmoid`, `Tanh`, `Softmax`,
 * `Selu`, `Softplus`, `Prelu`, and `x * Sigmoid(x)` collapsed into one swish node) pass relevance;
 * `Add`/`AddV2`/`AddN`/`BiasAdd`/`Sub` of graph tensors split it in proportion (norm, as Add); with a
 * constant operand they, `Mul` and `RealDiv` are affine preprocessing (pass, as Rescaling); `Mul` of
 * two graph tensors is the uniform rule (as Multiply); `Maximum`/`Minimum` select (as the Keras
 * layers), or with a constant operand act as an activation.
 */
import * as tf from '@tensorflow/tfjs';
import { LrpLayerError } from '../../errors.js';
import { isNonNegativeActivation } from '../../layers/activations.js';
import type { Layer, LayerAdapter } from '../../layers/adapter.js';
import { sumToShape } from '../../ops/broadcast.js';
import { attr, operandValues, OpLayer, opLayer, tensorOperands } from '../opLayer.js';

// ---- activations ------------------------------------------------------------------------------

function activationOp(name: string | ((layer: OpLayer) => string), apply: (layer: OpLayer, x: tf.Tensor[]) => tf.Tensor): LayerAdapter {
  const nameOf = (layer: Layer) => (typeof name === 'string' ? name : name(opLayer(layer)));
  return {
    group: 'activation',
    activationName: nameOf,
    forward: (layer, inputs) => apply(opLayer(layer), operandValues(opLayer(layer), inputs)),
    nonNegative: (layer) => isNonNegativeActivation(nameOf(layer)),
    note: 'activation: relevance passes unchanged',
  };
}

export const reluOp = activationOp('relu', (_, [x]) => tf.relu(x));
export const relu6Op = activationOp('relu6', (_, [x]) => tf.relu6(x));
export const eluOp = activationOp('elu', (_, [x]) => tf.elu(x));
export const seluOp = activationOp('selu', (_, [x]) => tf.selu(x));
export const softplusOp = activationOp('softplus', (_, [x]) => tf.softplus(x));
export const leakyReluOp = activationOp('leakyRelu', (layer, [x]) => tf.leakyRelu(x, Number(attr<number>(layer, 'alpha') ?? 0.2)));
export const sigmoidOp = activationOp('sigmoid', (_, [x]) => tf.sigmoid(x));
export const tanhOp = activationOp('tanh', (_, [x]) => tf.tanh(x));
export const softmaxOp = activationOp('softmax', (_, [x]) => tf.softmax(x));
export const preluOp = activationOp('prelu', (_, [x, alpha]) => tf.prelu(x, alpha));
/** `x * Sigmoid(x)` (the introspector collapses the pair into one node with the Mul's name). */
export const swishOp = activationOp('swish', (_, [x]) => tf.mul(x, tf.sigmoid(x)));

// ---- arithmetic ---------------------------------------------------------------------------------

const signOf = (_: Layer, nonNeg: readonly boolean[]): boolean => nonNeg.every(Boolean);

/** `Add`, `AddV2`, `BiasAdd` and `AddN` of graph tensors (norm, as Add); with a constant: a bias (pass). */
export function addOp(layer: OpLayer): LayerAdapter {
  const tensors = tensorOperands(layer);
  const forward = (l: Layer, inputs: tf.Tensor[]) => operandValues(opLayer(l), inputs).reduce((a, b) => tf.add(a, b));
  if (tensors.length < layer.operands.length) {
    return {
      group: 'identity',
      forward,
      vjp: (_l, inputs, _o, dy) => inputs.map((x) => sumToShape(dy, x.shape)),
      note: 'a constant added (bias): relevance passes unchanged',
    };
  }
  return { group: 'add', forward, vjp: (_l, inputs, _o, dy) => inputs.map((x) => sumToShape(dy, x.shape)), nonNegative: signOf, note: 'norm: split in proportion to the branches' };
}

/** `Sub`: of two graph tensors a norm split (`a − b`), with a constant operand a shift (pass). */
export function subOp(layer: OpLayer): LayerAdapter {
  const tensors = tensorOperands(layer);
  const forward = (l: Layer, inputs: tf.Tensor[]) => {
    const [a, b] = operandValues(opLayer(l), inputs);
    return tf.sub(a, b);
  };
  // the sign of each graph operand in a − b
  const signs = tensors.map((i) => (i === 0 ? 1 : -1));
  const vjp = (_l: Layer, inputs: tf.Tensor[], _o: tf.Tensor, dy: tf.Tensor) => inputs.map((x, k) => sumToShape(signs[k] === 1 ? dy : tf.neg(dy), x.shape));
  if (tensors.length === 1) return { group: 'identity', forward, vjp, note: 'a constant subtracted (affine): relevance passes unchanged' };
  return { group: 'add', forward, vjp, note: 'norm: split in proportion to the branches (a − b)' };
}

/** `Mul`: by a constant, a scaling (pass, as Rescaling); of two graph tensors, the uniform rule (as Multiply). */
export function mulOp(layer: OpLayer): LayerAdapter {
  const tensors = tensorOperands(layer);
  const forward = (l: Layer, inputs: tf.Tensor[]) => {
    const [a, b] = operandValues(opLayer(l), inputs);
    return tf.mul(a, b);
  };
  if (tensors.length === 1) {
    return {
      group: 'identity',
      forward,
      vjp: (l, inputs, _o, dy) => {
        const c = opLayer(l).operands.find((o) => o !== null);
        return [sumToShape(tf.mul(dy, c?.value() ?? 1), inputs[0].shape)];
      },
      note: 'scaled by a constant (affine): relevance passes unchanged',
    };
  }
  return {
    group: 'multiply',
    forward,
    vjp: (_l, [a, b], _o, dy) => [sumToShape(tf.mul(dy, b), a.shape), sumToShape(tf.mul(dy, a), b.shape)],
    nonNegative: signOf,
    note: 'uniform: each multiplied input gets R/n',
  };
}

/** `RealDiv` (`Div`) by a constant (pass, as Rescaling). */
export function divOp(layer: OpLayer): LayerAdapter {
  const tensors = tensorOperands(layer);
  if (tensors.length !== 1 || tensors[0] !== 0) {
    return {
      group: 'other',
      check: () => {
        throw new LrpLayerError(layer.name, layer.op, `Node '${layer.name}' (${layer.op}) divides ${tensors[0] === 1 ? 'a constant by a graph tensor' : 'two graph tensors'}; tfjs-lrp explains division by a constant only (affine preprocessing). Map the node in options.layerRules (e.g. { '${layer.name}': 'gradient' }).`);
      },
    };
  }
  return {
    group: 'identity',
    forward: (l, inputs) => {
      const [a, b] = operandValues(opLayer(l), inputs);
      return tf.div(a, b);
    },
    vjp: (l, [x], _o, dy) => [sumToShape(tf.div(dy, (opLayer(l).operands[1] as NonNullable<OpLayer['operands'][number]>).value()), x.shape)],
    note: 'divided by a constant (affine): relevance passes unchanged',
  };
}

// ---- Maximum / Minimum ---------------------------------------------------------------------------

/** `dy` to the first input equal to `output` at each element (as the Keras Maximum/Minimum). */
function firstWinner(inputs: readonly tf.Tensor[], output: tf.Tensor, dy: tf.Tensor): tf.Tensor[] {
  let taken = tf.zerosLike(output);
  return inputs.map((x) => {
    const wins = tf.mul(tf.cast(tf.equal(x, output), 'float32'), tf.sub(1, taken));
    taken = tf.add(taken, wins);
    return sumToShape(tf.mul(dy, wins), x.shape);
  });
}

/** `Maximum`/`Minimum`: of graph tensors the winner takes all; with a constant, an activation (pass). */
export function selectOp(layer: OpLayer): LayerAdapter {
  const fn = layer.op === 'Maximum' ? tf.maximum : tf.minimum;
  const forward = (l: Layer, inputs: tf.Tensor[]) => {
    const [a, b] = operandValues(opLayer(l), inputs);
    return fn(a, b);
  };
  if (tensorOperands(layer).length === 1) {
    return { group: 'activation', forward, note: 'clipped at a constant (an activation): relevance passes unchanged' };
  }
  return { group: 'maxPool', forward, vjp: (_l, inputs, output, dy) => firstWinner(inputs, output, dy), nonNegative: signOf, note: 'relevance to the input that gave the value (first on ties)' };
}
