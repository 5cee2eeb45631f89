/** Dense and convolution layers: the layers LRP rules apply to. */
import * as tf from '@tensorflow/tfjs';
import { LrpLayerError } from '../errors.js';
import type { PaddingMode } from '../ops/conv.js';
import { conv1dMap, conv2dMap, conv2dTransposeMap, ConvConfig, denseMap, depthwiseConv2dMap, LinearMap } from '../ops/linear.js';
import { ActivationFn, configOf, Layer, LayerAdapter, LinearLayerSpec, LinearPart, requireChannelsLast, requiredWeight, tupleOf, weightOf } from './adapter.js';

/** The fused activation of a Dense/Conv layer, or null for `linear`. */
export function fusedActivation(layer: Layer): ActivationFn | null {
  const name = configOf(layer).activation;
  const fn = (layer as unknown as { activation?: { apply(x: tf.Tensor): tf.Tensor } }).activation;
  if (name === undefined || name === null || name === 'linear' || fn === undefined) return null;
  return { name: String(name), apply: (x) => fn.apply(x) };
}

function part(part: string | null, map: LinearMap, kernelName: string, layer: Layer, withBias: boolean): LinearPart {
  return {
    part,
    map,
    params: () => ({ kernel: requiredWeight(layer, kernelName), bias: withBias ? weightOf(layer, 'bias') : null }),
  };
}

function convConfig(layer: Layer, rank: 1 | 2): ConvConfig {
  const c = configOf(layer);
  const padding = String(c.padding ?? 'valid') as PaddingMode;
  return {
    kernelSize: tupleOf(c.kernelSize, rank, 1),
    strides: tupleOf(c.strides, rank, 1),
    dilation: tupleOf(c.dilationRate, rank, 1),
    padding,
  };
}

function checkConv(layer: Layer, name: string): void {
  requireChannelsLast(layer, name);
  const padding = configOf(layer).padding;
  if (padding === 'causal') {
    throw new LrpLayerError(name, layer.getClassName(), `Layer '${name}' (${layer.getClassName()}) uses causal padding, which tfjs-layers does not implement (model.predict fails on it too). Pad the sequence on the left with a ZeroPadding1D-style Reshape/Concatenate and use padding 'valid'.`);
  }
  if (padding !== undefined && padding !== 'same' && padding !== 'valid') {
    throw new LrpLayerError(name, layer.getClassName(), `Layer '${name}' (${layer.getClassName()}) has padding '${String(padding)}'; supported: same, valid.`);
  }
}

function linearAdapter(group: 'dense' | 'conv', spec: (layer: Layer) => LinearLayerSpec, check?: (layer: Layer, name: string) => void): LayerAdapter {
  return { group, linear: spec, check, note: 'LRP rule on the pre-activation' };
}

export const denseAdapter = linearAdapter('dense', (layer) => ({
  parts: [part(null, denseMap(), 'kernel', layer, true)],
  activation: fusedActivation(layer),
}));

export const conv1dAdapter = linearAdapter('conv', (layer) => ({
  parts: [part(null, conv1dMap(convConfig(layer, 1)), 'kernel', layer, true)],
  activation: fusedActivation(layer),
}), checkConv);

export const conv2dAdapter = linearAdapter('conv', (layer) => ({
  parts: [part(null, conv2dMap(convConfig(layer, 2)), 'kernel', layer, true)],
  activation: fusedActivation(layer),
}), checkConv);

export const depthwiseConv2dAdapter = linearAdapter('conv', (layer) => ({
  parts: [part(null, depthwiseConv2dMap(convConfig(layer, 2)), 'depthwise_kernel', layer, true)],
  activation: fusedActivation(layer),
}), checkConv);

export const separableConv2dAdapter = linearAdapter('conv', (layer) => ({
  parts: [
    part('depthwise', depthwiseConv2dMap(convConfig(layer, 2)), 'depthwise_kernel', layer, false),
    part('pointwise', conv2dMap({ kernelSize: [1, 1], strides: [1, 1], dilation: [1, 1], padding: 'valid' }), 'pointwise_kernel', layer, true),
  ],
  activation: fusedActivation(layer),
}), checkConv);

export const conv2dTransposeAdapter = linearAdapter('conv', (layer) => {
  const config = convConfig(layer, 2);
  const outputSize = (inH: number, inW: number): [number, number] => {
    // tfjs-layers' deconvLength: 'same' n·s, 'valid' n·s + max(k − s, 0)
    const size = (n: number, a: number) =>
      config.padding === 'same' ? n * config.strides[a] : n * config.strides[a] + Math.max(config.kernelSize[a] - config.strides[a], 0);
    return [size(inH, 0), size(inW, 1)];
  };
  return {
    parts: [part(null, conv2dTransposeMap(config, outputSize), 'kernel', layer, true)],
    activation: fusedActivation(layer),
  };
}, (layer, name) => {
  checkConv(layer, name);
  const c = convConfig(layer, 2);
  if (c.dilation.some((d) => d !== 1)) {
    throw new LrpLayerError(name, layer.getClassName(), `Layer '${name}' (Conv2DTranspose) with dilation [${c.dilation.join(',')}] is not supported; use dilation 1.`);
  }
});
