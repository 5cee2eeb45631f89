import type { LayerRule, RuleDefinition } from './types.js';

/**
 * Gradient: `R_in = Jᵀ R`, relevance moves with the values (max pooling: to the window
 * maximum; reshape, concatenation, padding, up-sampling; an embedding's vectors summed).
 */
export function gradientRule(): LayerRule {
  const rule: LayerRule = {
    kind: 'rule' as const,
    name: 'gradient',
    params: {},
    appliesTo: 'any' as const,
    followsLayerMap: true,
    relevance: (ctx) => ctx.vjp(ctx.R),
  };
  return Object.freeze(rule);
}

/** The gradient rule, described (see {@link RuleDefinition}). */
export const gradientDefinition: RuleDefinition = Object.freeze<RuleDefinition>({
  name: 'gradient',
  summary: 'gradient: Jᵀ R, relevance moves with the values (max pooling, reshape, concatenation)',
  appliesTo: 'any',
  params: [],
  firstLayer: false,
  references: { zennit: 'Gradient' },
  make: () => gradientRule(),
});
