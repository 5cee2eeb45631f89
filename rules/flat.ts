import * as tf from '@tensorflow/tfjs';
import { derived } from '../src/ops/derived.js';
import { divideStabilized, STABILIZER_PARAM } from './stabilize.js';
import { mapParams, templateRule } from './template.js';
import type { LinearRule, LinearRuleContext, RuleDefinition } from './types.js';
import type { StabilizerOptions } from './zPlus.js';
import { requireNonNegative } from './validate.js';

/**
 * Flat (zennit `Flat`): input and weights replaced by ones, bias zero; relevance is spread
 * evenly over each receptive field (padding positions do not count).
 */
export function flatRule(options: StabilizerOptions = {}): LinearRule {
  const stabilizer = requireNonNegative('flat', 'stabilizer', options.stabilizer ?? 1e-6);
  return templateRule('flat', { stabilizer }, {
    forwards: [{ input: 'ones', params: mapParams('ones', (t) => tf.onesLike(t), true) }],
    gradients: (R, [o]) => [divideStabilized(R, o as tf.Tensor, stabilizer)],
    reducer: 'gradient',
  }, (ctx) => flatByCounts(ctx, stabilizer));
}

/** Maps whose kernel is `[...spatial, Cin, Cout]` on channels-last inputs `[N, ...spatial, Cin]`. */
const CHANNELS_LAST_MAPS: ReadonlySet<string> = new Set(['dense', 'conv1d', 'conv2d']);

/**
 * The flat rule without a single full-size convolution, for Dense, Conv1D and Conv2D (null for
 * other maps: the template). With ones as input and kernel, every output channel at a position
 * has the same denominator `o = Cin · (number of unpadded inputs in its receptive field)`, which
 * depends on shapes only (kept per input shape, like a weight-derived tensor); so
 * `Σ_j R_j / stab(o_j) = (Σ_j R_j) / stab(o)`, and the transpose with a ones kernel is the same
 * for every input channel: one one-channel transpose of `Σ_j R_j / stab(o)`, broadcast to `Cin`.
 * The template's numbers up to float32 summation order (MobileNet-v2's first layer, wasm,
 * batch 8: 185 ms → see docs/backends.md).
 */
function flatByCounts(ctx: LinearRuleContext, stabilizer: number): tf.Tensor | null {
  const { map, x, R } = ctx;
  const kernel = ctx.params.kernel;
  const cin = x.shape[x.rank - 1];
  if (!CHANNELS_LAST_MAPS.has(map.kind) || x.rank > 4 || kernel.shape[kernel.rank - 2] !== cin) return null;
  const ones = derived('flatOnes', [kernel], () => tf.ones([...kernel.shape.slice(0, -2), 1, 1]));
  const one = [1, ...x.shape.slice(1, -1), 1];
  const denominator = derived(`flatCounts:${one.join('x')}`, [kernel], () => tf.mul(map.apply(tf.ones(one), { kernel: ones, bias: null }), cin));
  const g = divideStabilized(tf.sum(R, -1, true), denominator, stabilizer);
  const c = map.transpose(g, ones, [x.shape[0], ...x.shape.slice(1, -1), 1]);
  // broadcast by a product with ones: Tile (tf.broadcastTo) takes ~9x longer on wasm
  return tf.mul(c, derived(`flatSpread:${cin}`, [kernel], () => tf.ones([cin])));
}

/** The flat rule, described (see {@link RuleDefinition}). */
export const flatDefinition: RuleDefinition = Object.freeze<RuleDefinition>({
  name: 'flat',
  summary: 'flat: relevance spread evenly over each receptive field (input and weights as ones)',
  appliesTo: 'linear',
  params: [STABILIZER_PARAM],
  firstLayer: true,
  references: { zennit: 'Flat', paper: 'Lapuschkin et al. 2019, Nature Communications' },
  make: (p) => flatRule({ stabilizer: p.stabilizer }),
});
