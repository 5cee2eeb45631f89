/**
 * LayerNormalization: a linear layer with its statistic held constant (AttnLRP; Ali et al. 2022),
 * `W_ik = γ_i (δ_ik − 1/n) / σ` on the last axis with σ from the forward pass, so the Dense
 * group's rule applies to it (epsilon in the built-in composites). See src/ops/layerNorm.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { LrpLayerError } from '../errors.js';
import { layerNormKernel, layerNormMap } from '../ops/layerNorm.js';
import { configOf, Layer, LayerAdapter, weightOf } from './adapter.js';

/** The rank of the layer's (first) input, from its first inbound node; undefined when unknown. */
export function inputRankOf(layer: Layer): number | undefined {
  const shapes = (layer as unknown as { inboundNodes: Array<{ inputShapes: unknown }> }).inboundNodes[0]?.inputShapes;
  const shape = (Array.isArray(shapes) && Array.isArray(shapes[0]) ? shapes[0] : shapes) as unknown[] | undefined;
  return Array.isArray(shape) ? shape.length : undefined;
}

function checkLayerNorm(layer: Layer, name: string): void {
  const raw = configOf(layer).axis;
  const axes = (Array.isArray(raw) ? raw : [raw ?? -1]) as unknown[];
  const rank = inputRankOf(layer);
  const last = axes.length === 1 && (axes[0] === -1 || (rank !== undefined && axes[0] === rank - 1));
  if (!last) {
    throw new LrpLayerError(name, 'LayerNormalization', `Layer '${name}' (LayerNormalization) normalises axes ${JSON.stringify(raw)}; tfjs-lrp explains LayerNormalization over the last axis only (axis: -1). Reshape so that the normalised values lie on the last axis.`);
  }
}

export const layerNormalizationAdapter: LayerAdapter = {
  group: 'dense',
  check: checkLayerNorm,
  linear: (layer) => {
    const c = configOf(layer);
    const epsilon = Number(c.epsilon ?? 1e-3);
    const gamma = (): tf.Tensor | null => (c.scale === false ? null : weightOf(layer, 'gamma'));
    const beta = (): tf.Tensor | null => (c.center === false ? null : weightOf(layer, 'beta'));
    return {
      parts: [
        {
          part: null,
          map: layerNormMap(epsilon),
          params: () => {
            throw new LrpLayerError(layer.name, 'LayerNormalization', `internal: LayerNormalization '${layer.name}' needs its input for its parameters (paramsFor).`);
          },
          paramsFor: (x) => ({ kernel: layerNormKernel(x, gamma(), epsilon), bias: beta() }),
        },
      ],
      activation: null,
    };
  },
  note: 'Dense rule on the normalisation with σ held constant',
};
