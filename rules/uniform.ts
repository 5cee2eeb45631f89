import * as tf from '@tensorflow/tfjs';
import { LrpLayerError } from '../src/errors.js';
import { sumToShape } from '../src/ops/broadcast.js';
import type { LayerRule, RuleDefinition } from './types.js';

/**
 * Uniform (AttnLRP, Achtibat et al. 2024): each of the n inputs of an element-wise product gets
 * `R / n`, whatever the values (for `Multiply` of non-constant inputs, and a Bidirectional `mul`
 * merge). Conservative. An input broadcast by the layer gets the sum over its copies.
 */
export function uniformRule(): LayerRule {
  const rule: LayerRule = {
    kind: 'rule' as const,
    name: 'uniform',
    params: {},
    appliesTo: 'any' as const,
    relevance(ctx) {
      const bad = ctx.inputs.filter((x) => !broadcastsTo(x.shape, ctx.R.shape));
      if (bad.length > 0) {
        throw new LrpLayerError(ctx.layerName, ctx.className, `Rule 'uniform' on layer '${ctx.layerName}' (${ctx.className}) needs element-wise inputs that broadcast to the output [${ctx.R.shape.join(',')}]; this layer has inputs of shapes ${ctx.inputs.map((t) => `[${t.shape.join(',')}]`).join(', ')}. It is the rule of Multiply; map this layer to its own rule (e.g. 'epsilon', 'gradient' or 'norm') in options.layerRules.`);
      }
      const share = tf.div(ctx.R, ctx.inputs.length);
      return ctx.inputs.map((x) => sumToShape(share, x.shape));
    },
  };
  return Object.freeze(rule);
}

/** Whether Keras broadcasts an input of `shape` to `out` (a lower rank is expanded at axis 1, then axes of size 1 broadcast). */
function broadcastsTo(shape: readonly number[], out: readonly number[]): boolean {
  const extra = out.length - shape.length;
  if (extra < 0) return false;
  const expanded = shape.length === 0 ? [] : [shape[0], ...new Array<number>(extra).fill(1), ...shape.slice(1)];
  if (shape.length === 0) return true;
  return expanded.every((d, i) => d === out[i] || d === 1);
}

/** The uniform rule, described (see {@link RuleDefinition}). */
export const uniformDefinition: RuleDefinition = Object.freeze<RuleDefinition>({
  name: 'uniform',
  summary: 'uniform: each of the n inputs of a product gets R/n (Multiply)',
  appliesTo: 'any',
  params: [],
  firstLayer: false,
  references: { paper: 'Achtibat et al. 2024, ICML (AttnLRP)' },
  make: () => uniformRule(),
});
