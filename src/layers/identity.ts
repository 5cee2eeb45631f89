/** Layers that are the identity at inference (Dropout and friends). */
import type { LayerAdapter } from './adapter.js';

export const identityAdapter: LayerAdapter = {
  group: 'identity',
  forward: (_layer, [x]) => x,
  vjp: (_layer, _inputs, _output, dy) => [dy],
  routesValues: true,
  nonNegative: (_layer, [nonNeg]) => nonNeg,
  note: 'identity at inference',
};
