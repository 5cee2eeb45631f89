/**
 * Linear layer maps: the forward `z = f(x; W, b)` of a Dense or convolution layer with any
 * parameters (rules modify them), and its transpose `Wᵀ g` with respect to the input. Rules are
 * written against this interface only, so one rule works for every linear layer type.
 */
import * as tf from '@tensorflow/tfjs';
import { derived } from './derived.js';
import { axisPadding, conv2dTransposeByCorrelation, Conv2DGeometry, depthwiseTransposeByCorrelation, PaddingMode } from './conv.js';

/** Kernel and bias of a linear layer (bias `null` when the layer has none). */
export interface LinearParams {
  readonly kernel: tf.Tensor;
  readonly bias: tf.Tensor | null;
}

/** The layer map of a linear layer, parameterised by the (possibly modified) parameters. */
export interface LinearMap {
  /** `'dense'`, `'conv1d'`, `'conv2d'`, `'depthwiseConv2d'` or `'conv2dTranspose'`. */
  readonly kind: string;
  /** Which rule group the layer belongs to in composites. */
  readonly group: 'dense' | 'conv';
  /** `f(x; W, b)`. */
  apply(x: tf.Tensor, params: LinearParams): tf.Tensor;
  /**
   * Optional: `max(f(x; W, b), 0)` in the map's own kernel (a fused convolution or matMul, as
   * `model.predict` runs a layer with a ReLU), with the same numbers as `apply` followed by a ReLU.
   * The forward pass uses it for a layer whose ReLU it may apply early (see
   * `ModelPlan.rectifiedLinear`). Absent: the ReLU stays a kernel of its own.
   */
  applyRectified?(x: tf.Tensor, params: LinearParams): tf.Tensor;
  /** `Wᵀ g`: the vector-Jacobian product with respect to the input, shaped like `inputShape`. */
  transpose(g: tf.Tensor, kernel: tf.Tensor, inputShape: readonly number[]): tf.Tensor;
  /** Multiplies the kernel by a per-output-channel scale (BatchNorm merging). */
  scaleKernel(kernel: tf.Tensor, scale: tf.Tensor1D): tf.Tensor;
  /**
   * The layer's true vector-Jacobian product at input `x`, for maps whose `transpose` holds a
   * statistic of `x` constant (LayerNormalization's σ): what the gradient rule and the gradient
   * methods use. Absent: `transpose` is the Jacobian.
   */
  vjp?(x: tf.Tensor, g: tf.Tensor, params: LinearParams): tf.Tensor;
}

function addBias(z: tf.Tensor, bias: tf.Tensor | null): tf.Tensor {
  return bias === null ? z : tf.add(z, bias);
}

/** Dense on the last axis of an input of any rank ≥ 2. */
export function denseMap(): LinearMap {
  return {
    kind: 'dense',
    group: 'dense',
    // on a 2-D view, the bias inside the matMul at every rank (as tfjs-layers' Dense computes it)
    apply(x, { kernel, bias }) {
      const flat = (x.rank === 2 ? x : tf.reshape(x, [-1, x.shape[x.rank - 1]])) as tf.Tensor2D;
      const z = bias === null ? tf.matMul(flat, kernel as tf.Tensor2D) : tf.fused.matMul({ a: flat, b: kernel as tf.Tensor2D, bias });
      return x.rank === 2 ? z : tf.reshape(z, [...x.shape.slice(0, -1), kernel.shape[1] as number]);
    },
    applyRectified(x, { kernel, bias }) {
      const flat = (x.rank === 2 ? x : tf.reshape(x, [-1, x.shape[x.rank - 1]])) as tf.Tensor2D;
      const a = tf.fused.matMul({ a: flat, b: kernel as tf.Tensor2D, bias: bias ?? undefined, activation: 'relu' });
      return x.rank === 2 ? a : tf.reshape(a, [...x.shape.slice(0, -1), kernel.shape[1] as number]);
    },
    transpose(g, kernel, inputShape) {
      const flat = tf.reshape(g, [-1, kernel.shape[1] as number]) as tf.Tensor2D;
      // an explicit transpose: wasm's matMul with transposeB is ~2.5x slower
      const transposed = derived('transposed', [kernel], () => tf.transpose(kernel)) as tf.Tensor2D;
      return tf.reshape(tf.matMul(flat, transposed), [...inputShape]);
    },
    scaleKernel(kernel, scale) {
      return tf.mul(kernel, scale);
    },
  };
}

/** Geometry of a 1-D or 2-D convolution as configured in the layer. */
export interface ConvConfig {
  readonly kernelSize: readonly number[];
  readonly strides: readonly number[];
  readonly dilation: readonly number[];
  readonly padding: PaddingMode;
}

function geometry2d(config: ConvConfig, inH: number, inW: number): Conv2DGeometry {
  const [kh, kw] = config.kernelSize;
  const [sh, sw] = config.strides;
  const [dh, dw] = config.dilation;
  return {
    kernelSize: [kh, kw],
    strides: [sh, sw],
    dilation: [dh, dw],
    pads: [axisPadding(inH, kh, sh, dh, config.padding), axisPadding(inW, kw, sw, dw, config.padding)],
  };
}

function conv2dForward(x: tf.Tensor4D, kernel: tf.Tensor4D, bias: tf.Tensor | null, config: ConvConfig, rectified = false): tf.Tensor4D {
  const strides: [number, number] = [config.strides[0], config.strides[1]];
  const dilations: [number, number] = [config.dilation[0], config.dilation[1]];
  const pad = config.padding;
  if (bias === null && !rectified) return tf.conv2d(x, kernel, strides, pad, 'NHWC', dilations);
  return tf.fused.conv2d({ x, filter: kernel, strides, pad, dataFormat: 'NHWC', dilations, bias: bias ?? undefined, ...(rectified ? { activation: 'relu' as const } : {}) });
}

/** Conv2D on NHWC inputs. */
export function conv2dMap(config: ConvConfig): LinearMap {
  return {
    kind: 'conv2d',
    group: 'conv',
    apply(x, { kernel, bias }) {
      return conv2dForward(x as tf.Tensor4D, kernel as tf.Tensor4D, bias, config);
    },
    applyRectified(x, { kernel, bias }) {
      return conv2dForward(x as tf.Tensor4D, kernel as tf.Tensor4D, bias, config, true);
    },
    transpose(g, kernel, inputShape) {
      const geo = geometry2d(config, inputShape[1], inputShape[2]);
      return conv2dTransposeByCorrelation(g as tf.Tensor4D, kernel as tf.Tensor4D, inputShape[1], inputShape[2], geo);
    },
    scaleKernel(kernel, scale) {
      return tf.mul(kernel, scale);
    },
  };
}

/** Conv1D on NWC inputs, computed as a Conv2D of height 1. */
export function conv1dMap(config: ConvConfig): LinearMap {
  const as2d: ConvConfig = {
    kernelSize: [1, config.kernelSize[0]],
    strides: [1, config.strides[0]],
    dilation: [1, config.dilation[0]],
    padding: config.padding,
  };
  const inner = conv2dMap(as2d);
  const kernel2d = (k: tf.Tensor) => derived('as2d', [k], () => tf.expandDims(k, 0));
  return {
    kind: 'conv1d',
    group: 'conv',
    apply(x, { kernel, bias }) {
      const z = inner.apply(tf.expandDims(x, 1), { kernel: kernel2d(kernel), bias });
      return tf.squeeze(z, [1]);
    },
    applyRectified(x, { kernel, bias }) {
      const a = (inner.applyRectified as NonNullable<LinearMap['applyRectified']>)(tf.expandDims(x, 1), { kernel: kernel2d(kernel), bias });
      return tf.squeeze(a, [1]);
    },
    transpose(g, kernel, inputShape) {
      const r = inner.transpose(tf.expandDims(g, 1), kernel2d(kernel), [inputShape[0], 1, inputShape[1], inputShape[2]]);
      return tf.squeeze(r, [1]);
    },
    scaleKernel(kernel, scale) {
      return tf.mul(kernel, scale);
    },
  };
}

/** DepthwiseConv2D on NHWC inputs; kernel [kh, kw, Cin, depthMultiplier]. */
export function depthwiseConv2dMap(config: ConvConfig): LinearMap {
  return {
    kind: 'depthwiseConv2d',
    group: 'conv',
    apply(x, { kernel, bias }) {
      const strides: [number, number] = [config.strides[0], config.strides[1]];
      const dilations: [number, number] = [config.dilation[0], config.dilation[1]];
      const z = tf.depthwiseConv2d(x as tf.Tensor4D, kernel as tf.Tensor4D, strides, config.padding, 'NHWC', dilations);
      return addBias(z, bias);
    },
    transpose(g, kernel, inputShape) {
      const geo = geometry2d(config, inputShape[1], inputShape[2]);
      return depthwiseTransposeByCorrelation(g as tf.Tensor4D, kernel as tf.Tensor4D, inputShape[1], inputShape[2], geo);
    },
    scaleKernel(kernel, scale) {
      const [, , cin, mult] = kernel.shape;
      return tf.mul(kernel, tf.reshape(scale, [cin, mult]));
    },
  };
}

/**
 * Conv2DTranspose on NHWC inputs; Keras kernel [kh, kw, filters, Cin]. Its forward is the
 * transpose of a Conv2D with the same kernel on the output, and its transpose is that Conv2D.
 */
export function conv2dTransposeMap(config: ConvConfig, outputSize: (inH: number, inW: number) => [number, number]): LinearMap {
  const asConv = conv2dMap(config);
  return {
    kind: 'conv2dTranspose',
    group: 'conv',
    apply(x, { kernel, bias }) {
      const x4 = x as tf.Tensor4D;
      const [outH, outW] = outputSize(x4.shape[1], x4.shape[2]);
      const geo = geometry2d(config, outH, outW);
      const z = conv2dTransposeByCorrelation(x4, kernel as tf.Tensor4D, outH, outW, geo);
      return addBias(z, bias);
    },
    transpose(g, kernel) {
      return asConv.apply(g, { kernel, bias: null });
    },
    scaleKernel(kernel, scale) {
      return tf.mul(kernel, tf.reshape(scale, [-1, 1]));
    },
  };
}
