/** Activation layers: relevance passes through them unchanged (rule `pass`). */
import { configOf, Layer, LayerAdapter } from './adapter.js';

const NON_NEGATIVE = new Set(['relu', 'relu6', 'sigmoid', 'softmax', 'softplus', 'hardSigmoid', 'hard_sigmoid', 'exponential']);

/** Whether an activation's output is never negative. */
export function isNonNegativeActivation(name: string): boolean {
  return NON_NEGATIVE.has(name);
}

function activationAdapter(name: (layer: Layer) => string): LayerAdapter {
  return {
    group: 'activation',
    activationName: name,
    nonNegative: (layer) => isNonNegativeActivation(name(layer)),
    note: 'activation: relevance passes unchanged',
  };
}

export const activationLayerAdapter = activationAdapter((layer) => String(configOf(layer).activation ?? 'linear'));
export const reluAdapter = activationAdapter((layer) => (configOf(layer).maxValue != null ? 'relu6' : 'relu'));
export const leakyReluAdapter = activationAdapter(() => 'leakyRelu');
export const preluAdapter = activationAdapter(() => 'prelu');
export const eluAdapter = activationAdapter(() => 'elu');
export const thresholdedReluAdapter = activationAdapter(() => 'relu');
export const softmaxAdapter = activationAdapter(() => 'softmax');
