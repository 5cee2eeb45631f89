/**
 * Conv3D and Conv3DTranspose (the §1 rules in three dimensions, first-layer rules as for Conv2D),
 * and the 3-D pooling layers (MaxPooling3D: the gradient; AveragePooling3D: norm), on NDHWC volumes.
 */
import { LrpLayerError } from '../errors.js';
import type { PaddingMode } from '../ops/conv.js';
import { Conv3DConfig, conv3dMap, conv3dTransposeMap } from '../ops/conv3d.js';
import type { LinearMap } from '../ops/linear.js';
import { configOf, Layer, LayerAdapter, requireChannelsLast, requiredWeight, tupleOf, weightOf } from './adapter.js';
import { fusedActivation } from './linear.js';

function config3d(layer: Layer): Conv3DConfig {
  const c = configOf(layer);
  const [kd, kh, kw] = tupleOf(c.kernelSize, 3, 1);
  const [sd, sh, sw] = tupleOf(c.strides, 3, 1);
  return { kernelSize: [kd, kh, kw], strides: [sd, sh, sw], padding: String(c.padding ?? 'valid') as PaddingMode };
}

function check3d(layer: Layer, name: string): void {
  requireChannelsLast(layer, name);
  const c = configOf(layer);
  const cls = layer.getClassName();
  if (c.padding !== undefined && c.padding !== 'same' && c.padding !== 'valid') {
    throw new LrpLayerError(name, cls, `Layer '${name}' (${cls}) has padding '${String(c.padding)}'; supported: same, valid.`);
  }
  const dilation = tupleOf(c.dilationRate, 3, 1);
  if (dilation.some((d) => d !== 1)) {
    throw new LrpLayerError(name, cls, `Layer '${name}' (${cls}) has dilation [${dilation.join(',')}]; tfjs' 3-D transposed convolution (tf.conv3dTranspose, the layer's Jacobian) takes no dilation, so tfjs-lrp explains ${cls} with dilation 1 only. Rebuild the layer with dilationRate 1.`);
  }
}

function spec3d(layer: Layer, map: LinearMap) {
  return {
    parts: [{ part: null, map, params: () => ({ kernel: requiredWeight(layer, 'kernel'), bias: weightOf(layer, 'bias') }) }],
    activation: fusedActivation(layer),
  };
}

/** Conv3D: the §1 rules with the 3-D convolution as the layer map. */
export const conv3dAdapter: LayerAdapter = {
  group: 'conv',
  check: check3d,
  linear: (layer) => spec3d(layer, conv3dMap(config3d(layer))),
  note: 'LRP rule on the pre-activation',
};

/**
 * Conv3DTranspose: the §1 rules with the transposed 3-D convolution as the layer map. Refused on
 * wasm, whose Conv3DBackpropInputV2 is wrong in tfjs 4.22 (LrpBackendError).
 */
export const conv3dTransposeAdapter: LayerAdapter = {
  group: 'conv',
  check: check3d,
  linear: (layer) => {
    const config = config3d(layer);
    // tfjs-layers' deconvLength: 'same' n·s, 'valid' n·s + max(k − s, 0)
    const size = (n: number, a: number): number => (config.padding === 'same' ? n * config.strides[a] : n * config.strides[a] + Math.max(config.kernelSize[a] - config.strides[a], 0));
    return spec3d(layer, conv3dTransposeMap(config, (s) => [size(s[0], 0), size(s[1], 1), size(s[2], 2)], layer.name));
  },
  note: 'LRP rule on the pre-activation',
};

const passesSign = (_: Layer, nonNeg: readonly boolean[]): boolean => nonNeg[0];

/** MaxPooling3D: all relevance of a window to its maximum (the layer's gradient, tfjs' MaxPool3DGrad). */
export const maxPooling3dAdapter: LayerAdapter = {
  group: 'maxPool',
  check: requireChannelsLast,
  nonNegative: passesSign,
  note: 'relevance to the window maximum',
};

/** AveragePooling3D: norm with the layer's own Jacobian (tfjs' AvgPool3DGrad). */
export const averagePooling3dAdapter: LayerAdapter = {
  group: 'avgPool',
  check: requireChannelsLast,
  nonNegative: passesSign,
  note: 'norm: in proportion to the values',
};
