/**
 * Linear ops: `Conv2D`, `_FusedConv2D`, `DepthwiseConv2dNative`, `FusedDepthwiseConv2dNative`,
 * `MatMul`, `_FusedMatMul`, `Conv2DBackpropInput`. Each maps onto the LinearMaps of
 * src/ops/linear.ts with its kernel and bias from the graph's constants; a fused activation is
 * split off by canonize (like a Dense/Conv layer's `activation`).
 */
import * as tf from '@tensorflow/tfjs';
import { LrpLayerError } from '../../errors.js';
import type { ActivationFn, Layer, LayerAdapter, LinearLayerSpec } from '../../layers/adapter.js';
import type { PaddingMode } from '../../ops/conv.js';
import { derived } from '../../ops/derived.js';
import { conv2dMap, conv2dTransposeMap, ConvConfig, denseMap, depthwiseConv2dMap, LinearMap, LinearParams } from '../../ops/linear.js';
import { attr, constantNumbers, OpLayer, opLayer, requiredConstant } from '../opLayer.js';

/** The activation of a `fused_ops` name (lower case, as the converter parses it), or `null`. */
function fusedActivationOf(layer: OpLayer, name: string): ActivationFn | null {
  switch (name) {
    case 'relu':
      return { name: 'relu', apply: (x) => tf.relu(x) };
    case 'relu6':
      return { name: 'relu6', apply: (x) => tf.relu6(x) };
    case 'elu':
      return { name: 'elu', apply: (x) => tf.elu(x) };
    case 'sigmoid':
      return { name: 'sigmoid', apply: (x) => tf.sigmoid(x) };
    case 'tanh':
      return { name: 'tanh', apply: (x) => tf.tanh(x) };
    case 'leakyrelu': {
      const alpha = Number(attr<number>(layer, 'leakyreluAlpha') ?? 0.2);
      return { name: 'leakyRelu', apply: (x) => tf.leakyRelu(x, alpha) };
    }
    case 'prelu': {
      // args: [bias, alpha]
      const alpha = requiredConstant(layer, 3, 'PReLU alpha');
      return { name: 'prelu', apply: (x) => tf.prelu(x, alpha.value()) };
    }
    default:
      throw new LrpLayerError(layer.name, layer.op, `Node '${layer.name}' (${layer.op}) fuses '${name}', which tfjs-lrp does not know. Supported fused ops: BiasAdd, Relu, Relu6, Elu, LeakyRelu, Sigmoid, Tanh, Prelu.`);
  }
}

/** The fused ops of a `_Fused*` op: whether a bias is added, and the activation. */
function fusedOps(layer: OpLayer): { bias: boolean; activation: ActivationFn | null } {
  const ops = (attr<string[]>(layer, 'fusedOps') ?? []).map((s) => String(s).toLowerCase());
  if (ops.includes('fusedbatchnorm')) {
    throw new LrpLayerError(layer.name, layer.op, `Node '${layer.name}' (${layer.op}) fuses FusedBatchNorm, which tfjs 4.22's converter does not run either (model.execute throws). Convert the model with the BatchNorm folded into the convolution (the converter's default).`);
  }
  const bias = ops.includes('biasadd');
  const rest = ops.filter((o) => o !== 'biasadd');
  if (rest.length > 1) throw new LrpLayerError(layer.name, layer.op, `Node '${layer.name}' (${layer.op}) fuses [${ops.join(', ')}]; tfjs-lrp explains at most a BiasAdd and one activation.`);
  return { bias, activation: rest.length === 0 ? null : fusedActivationOf(layer, rest[0]) };
}

/** Throws unless the op is NHWC with 'same'/'valid' padding. */
function checkConvAttrs(layer: OpLayer): void {
  const format = String(attr<string>(layer, 'dataFormat') ?? 'nhwc').toLowerCase();
  if (format !== 'nhwc') {
    throw new LrpLayerError(layer.name, layer.op, `Node '${layer.name}' (${layer.op}) uses data format ${format.toUpperCase()}; tfjs-lrp explains NHWC (channels-last) graphs only, as tfjs runs them. Convert the model from a channels-last Keras/TF model.`);
  }
  const pad = String(attr<string>(layer, 'pad') ?? 'valid').toLowerCase();
  if (pad !== 'same' && pad !== 'valid') {
    throw new LrpLayerError(layer.name, layer.op, `Node '${layer.name}' (${layer.op}) uses padding '${pad}' (explicit_paddings); tfjs-lrp explains 'SAME' and 'VALID' padding only. Re-export the model with padding 'same'/'valid', or an explicit Pad node before a 'VALID' convolution.`);
  }
}

function convConfig(layer: OpLayer, kernelShape: readonly number[]): ConvConfig {
  const strides = attr<number[]>(layer, 'strides') ?? [1, 1, 1, 1];
  const dilations = attr<number[]>(layer, 'dilations') ?? [1, 1, 1, 1];
  return {
    kernelSize: [kernelShape[0], kernelShape[1]],
    strides: [strides[1], strides[2]],
    dilation: [dilations[1], dilations[2]],
    padding: String(attr<string>(layer, 'pad') ?? 'valid').toLowerCase() as PaddingMode,
  };
}

function requireTensorInput(layer: OpLayer, index: number, what: string): void {
  if (layer.operands[index] !== null) {
    throw new LrpLayerError(layer.name, layer.op, `Node '${layer.name}' (${layer.op}): its ${what} (input ${index}) is a constant and its other operand is computed; tfjs-lrp explains ${layer.op} of a graph tensor by a constant weight only.`);
  }
}

/** Kernel shape of a constant operand (known from the weight specs, else the tensor). */
function shapeOf(layer: OpLayer, index: number, what: string): number[] {
  const c = requiredConstant(layer, index, what);
  // (a folded constant's shape: computed once here, the tensor released at once)
  return [...(c.shape ?? tf.tidy(() => c.value().shape))];
}

/** The bias of a linear op: its fused BiasAdd argument, or a folded BiasAdd/AddV2 after it. */
function biasOf(layer: OpLayer, fusedBias: boolean, argIndex: number): tf.Tensor | null {
  if (fusedBias) {
    const own = requiredConstant(layer, argIndex, 'bias').value();
    return layer.foldedBias === null ? own : tf.add(own, layer.foldedBias.value());
  }
  return layer.foldedBias === null ? null : layer.foldedBias.value();
}

function spec(map: LinearMap, params: () => LinearParams, activation: ActivationFn | null): LinearLayerSpec {
  return { parts: [{ part: null, map, params }], activation };
}

const note = 'LRP rule on the pre-activation';

/** `Conv2D` and `_FusedConv2D` (x, filter, …args). */
export const conv2dOpAdapter: LayerAdapter = {
  group: 'conv',
  note,
  check: (layer) => {
    const op = opLayer(layer);
    checkConvAttrs(op);
    requireTensorInput(op, 0, 'input');
    requiredConstant(op, 1, 'filter');
    if (op.op.startsWith('_Fused')) fusedOps(op);
  },
  linear: (layer: Layer) => {
    const op = opLayer(layer);
    const fused = op.op.startsWith('_Fused') ? fusedOps(op) : { bias: false, activation: null };
    const filter = requiredConstant(op, 1, 'filter');
    return spec(conv2dMap(convConfig(op, shapeOf(op, 1, 'filter'))), () => ({ kernel: filter.value(), bias: biasOf(op, fused.bias, 2) }), fused.activation);
  },
};

/** `DepthwiseConv2dNative` and `FusedDepthwiseConv2dNative` (x, filter [kh, kw, C, multiplier], …args). */
export const depthwiseOpAdapter: LayerAdapter = {
  group: 'conv',
  note,
  check: conv2dOpAdapter.check,
  linear: (layer: Layer) => {
    const op = opLayer(layer);
    const fused = op.op.startsWith('Fused') ? fusedOps(op) : { bias: false, activation: null };
    const filter = requiredConstant(op, 1, 'filter');
    return spec(depthwiseConv2dMap(convConfig(op, shapeOf(op, 1, 'filter'))), () => ({ kernel: filter.value(), bias: biasOf(op, fused.bias, 2) }), fused.activation);
  },
};

/** `MatMul` and `_FusedMatMul` (a: the graph tensor [N, K], b: the constant weight, `transpose_b` honoured). */
export const matMulOpAdapter: LayerAdapter = {
  group: 'dense',
  note,
  check: (layer) => {
    const op = opLayer(layer);
    requireTensorInput(op, 0, 'left operand');
    requiredConstant(op, 1, 'weight');
    if (attr<boolean>(op, 'transposeA') === true) {
      throw new LrpLayerError(op.name, op.op, `Node '${op.name}' (${op.op}) has transpose_a: its batch axis would be contracted; tfjs-lrp explains x·W with the batch on the first axis of x only.`);
    }
    if (op.op.startsWith('_Fused')) fusedOps(op);
  },
  linear: (layer: Layer) => {
    const op = opLayer(layer);
    const fused = op.op.startsWith('_Fused') ? fusedOps(op) : { bias: false, activation: null };
    const w = requiredConstant(op, 1, 'weight');
    const transposeB = attr<boolean>(op, 'transposeB') === true;
    const kernel = () => {
      const value = w.value();
      return transposeB ? derived('transposeB', [value], () => tf.transpose(value)) : value;
    };
    return spec(denseMap(), () => ({ kernel: kernel(), bias: biasOf(op, fused.bias, 2) }), fused.activation);
  },
};

/** `Conv2DBackpropInput` (input_sizes, filter [kh, kw, outC, inC], out_backprop): Conv2DTranspose. */
export const conv2dBackpropInputOpAdapter: LayerAdapter = {
  group: 'conv',
  note,
  check: (layer) => {
    const op = opLayer(layer);
    checkConvAttrs(op);
    requireTensorInput(op, 2, 'out_backprop');
    requiredConstant(op, 1, 'filter');
    constantNumbers(op, 0, 'input_sizes');
    const d = attr<number[]>(op, 'dilations') ?? [1, 1, 1, 1];
    if (d.some((v) => v !== 1)) throw new LrpLayerError(op.name, op.op, `Node '${op.name}' (Conv2DBackpropInput) with dilations [${d.join(',')}] is not supported; use dilation 1.`);
  },
  linear: (layer: Layer) => {
    const op = opLayer(layer);
    const sizes = constantNumbers(op, 0, 'input_sizes');
    const filter = requiredConstant(op, 1, 'filter');
    const map = conv2dTransposeMap(convConfig(op, shapeOf(op, 1, 'filter')), () => [sizes[1], sizes[2]]);
    return spec(map, () => ({ kernel: filter.value(), bias: biasOf(op, false, -1) }), null);
  },
};

/** Whether an op is linear with a bias that a following BiasAdd may be folded into (no fused bias, no fused activation). */
export function canFoldBias(layer: OpLayer): boolean {
  const linearOps = ['Conv2D', 'DepthwiseConv2dNative', 'MatMul', 'Conv2DBackpropInput', '_FusedConv2D', 'FusedDepthwiseConv2dNative', '_FusedMatMul'];
  if (!linearOps.includes(layer.op) || layer.foldedBias !== null) return false;
  if (!layer.op.startsWith('_Fused') && !layer.op.startsWith('Fused')) return true;
  const ops = (attr<string[]>(layer, 'fusedOps') ?? []).map((s) => String(s).toLowerCase());
  return ops.every((o) => o === 'biasadd');
}
