import { LrpLayerError } from '../src/errors.js';
import type { LayerRule, RuleDefinition } from './types.js';

/** Pass: relevance goes through unchanged (activations, merged BatchNorm, dropout). */
export function passRule(): LayerRule {
  const rule: LayerRule = {
    kind: 'rule' as const,
    name: 'pass',
    params: {},
    appliesTo: 'any' as const,
    followsLayerMap: true,
    relevance(ctx) {
      const [x] = ctx.inputs;
      if (ctx.inputs.length !== 1 || x.size !== ctx.R.size) {
        throw new LrpLayerError(ctx.layerName, ctx.className, `Rule 'pass' on layer '${ctx.layerName}' (${ctx.className}) needs one input of the output's size; this layer has ${ctx.inputs.length} input(s) of shapes ${ctx.inputs.map((t) => `[${t.shape.join(',')}]`).join(', ')}. Map it to 'gradient' or 'norm' in options.layerRules.`);
      }
      return [ctx.R.reshape(x.shape)];
    },
  };
  return Object.freeze(rule);
}

/** The pass rule, described (see {@link RuleDefinition}). */
export const passDefinition: RuleDefinition = Object.freeze<RuleDefinition>({
  name: 'pass',
  summary: 'pass: relevance goes through unchanged (activations, dropout, BatchNorm)',
  appliesTo: 'any',
  params: [],
  firstLayer: false,
  references: { zennit: 'Pass' },
  make: () => passRule(),
});
