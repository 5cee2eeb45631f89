/** Layers that join branches: Add (proportional split, `norm`) and Concatenate (split back). */
import * as tf from '@tensorflow/tfjs';
import { configOf, LayerAdapter } from './adapter.js';

export const addAdapter: LayerAdapter = {
  group: 'add',
  vjp: (_layer, inputs, _output, dy) => inputs.map(() => dy),
  nonNegative: (_layer, nonNeg) => nonNeg.every(Boolean),
  note: 'norm: split in proportion to the branches',
};

export const concatenateAdapter: LayerAdapter = {
  group: 'concatenate',
  vjp: (layer, inputs, _output, dy) => {
    const rank = inputs[0].rank;
    const axis = Number(configOf(layer).axis ?? -1);
    const a = axis < 0 ? rank + axis : axis;
    return tf.split(dy, inputs.map((x) => x.shape[a]), a);
  },
  nonNegative: (_layer, nonNeg) => nonNeg.every(Boolean),
  note: 'relevance split back to the inputs',
};
