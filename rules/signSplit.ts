/**
 * αβ (and z⁺ = αβ with α = 1, β = 0) in one forward and one transposed map, for Dense, Conv1D and
 * Conv2D: maps whose kernel's input-channel axis is `rank − 2`, output-channel axis `rank − 1`,
 * and whose geometry depends on neither count. With the layer input `x` (or `[x⁺, x⁻]` joined on
 * the channel axis when `x` may be negative):
 *
 * - one forward with the kernel `[W⁺ | W⁻]` (output channels; for `[x⁺, x⁻]`:
 *   `[[W⁺ | W⁻]; [W⁻ | W⁺]]`) and the bias `[b⁺ + ε | b⁻ − ε]` gives `[stab(o₁ + o₂), stab(o₃ + o₄)]`
 *   directly: the first half ≥ ε, the second ≤ −ε, each an exact sum of same-sign terms (no
 *   cancellation; where o₃ + o₄ = 0 every x_i·W⁻_ij is 0, so −ε instead of zennit's +ε changes
 *   nothing);
 * - `g = [R, R] / that` (a broadcast division on a rank-3 view);
 * - one transposed map with `[αW⁺ | −βW⁻]` (for `[x⁺, x⁻]`: `[[αW⁺ | −βW⁻]; [αW⁻ | −βW⁺]]`),
 *   then `x ⊙ c` (or `x⁺ ⊙ c[…, :C] + x⁻ ⊙ c[…, C:]`).
 *
 * The same numbers as the template's four forwards and four transposes; two kernels calls of
 * twice the channels instead, and all weight-derived kernels cached (`derived()`).
 */
import * as tf from '@tensorflow/tfjs';
import { derived } from '../src/ops/derived.js';
import { negativePart } from './template.js';
import type { LinearForward, LinearForwardContext, LinearRuleContext } from './types.js';

/** Map kinds whose kernel is `[..., in, out]` and whose geometry ignores the channel counts. */
const JOINABLE: ReadonlySet<string> = new Set(['dense', 'conv1d', 'conv2d']);

/** The cached kernels and bias of the joined maps (see the file comment). */
function joinedParams(kernel: tf.Tensor, bias: tf.Tensor | null, alpha: number, beta: number, stabilizer: number, joinInput: boolean) {
  const inAxis = kernel.rank - 2;
  const outAxis = kernel.rank - 1;
  const units = kernel.shape[outAxis];
  const halves = beta === 0 ? 1 : 2;
  const tag = `αβ ${alpha} ${beta} ${stabilizer} ${joinInput ? '±' : '+'}`;
  // kernel blocks: rows are the input parts (x, or x⁺ and x⁻), columns the output halves
  const assemble = (rows: ReadonlyArray<ReadonlyArray<tf.Tensor>>) => tf.concat(rows.map((cols) => (cols.length === 1 ? cols[0] : tf.concat(cols.slice(), outAxis))), inAxis);
  const forwardKernel = derived(`forward ${tag}`, [kernel], () => {
    const [p, n] = [tf.relu(kernel), negativePart(kernel)];
    const rows = joinInput ? [[p, n], [n, p]] : [[p, n]];
    return assemble(rows.map((r) => r.slice(0, halves)));
  });
  const transposeKernel = derived(`transpose ${tag}`, [kernel], () => {
    const [p, n] = [tf.relu(kernel), negativePart(kernel)];
    const scale = (t: tf.Tensor, f: number) => (f === 1 ? t : tf.mul(t, f));
    const rows = joinInput ? [[scale(p, alpha), scale(n, -beta)], [scale(n, alpha), scale(p, -beta)]] : [[scale(p, alpha), scale(n, -beta)]];
    return assemble(rows.map((r) => r.slice(0, halves)));
  });
  const shiftedBias = derived(`bias ${tag}`, bias === null ? [kernel] : [kernel, bias], () => {
    const b = bias ?? tf.zeros([units]);
    const parts = [tf.add(tf.relu(b), stabilizer), tf.sub(negativePart(b), stabilizer)];
    return halves === 1 ? parts[0] : tf.concat(parts, 0);
  });
  return { units, halves, forwardKernel, transposeKernel, shiftedBias };
}

/**
 * The forward pass's z of an αβ layer (β > 0) with `x ≥ 0`, from the joined forward itself:
 * `z = (o₁ + ε) + (o₃ − ε)`, each half an exact same-sign sum, so z is as accurate as the map's
 * own; the halves are saved for {@link signSplitRelevance}. One map of twice the output channels
 * replaces the map for z and the rule's own forward. Null for other layers and inputs.
 */
export function signSplitForward(ctx: LinearForwardContext, alpha: number, beta: number, stabilizer: number): LinearForward | null {
  const { x, map } = ctx;
  const { kernel, bias } = ctx.params;
  if (beta === 0 || !ctx.xNonNegative || !JOINABLE.has(map.kind) || x.rank > 4) return null;
  const { units, forwardKernel, shiftedBias } = joinedParams(kernel, bias, alpha, beta, stabilizer, false);
  const denominators = map.apply(x, { kernel: forwardKernel, bias: shiftedBias });
  const z = tf.reshape(sumHalves(tf.reshape(denominators, [-1, 2, units])), [...denominators.shape.slice(0, -1), units]);
  return { z, saved: [denominators] };
}

/**
 * `t[:, 0, :] + t[:, 1, :]` of a `[m, 2, u]` tensor: one addition per element, the same number as
 * a Sum over axis 1. A Sum over that middle axis is what wasm does fastest (0.6 ms on
 * [8192, 2, 32] against 1.9 ms for two Slices and an Add), and what WebGPU does slowest: tfjs
 * 4.22 reduces it with one workgroup per output, 168 ms in Node (Dawn, Mesa llvmpipe) and
 * 4.4 s in Chromium (SwiftShader) against 4.4 and 13 ms for the Slices and Add (WebGL: 14 and
 * 15 ms).
 */
function sumHalves(t: tf.Tensor): tf.Tensor {
  if (tf.getBackend() !== 'webgpu') return tf.sum(t, 1);
  return tf.add(tf.slice(t, [0, 0, 0], [-1, 1, -1]), tf.slice(t, [0, 1, 0], [-1, 1, -1]));
}

/**
 * αβ relevance of a Dense/Conv1D/Conv2D layer (see the file comment), or null for other maps
 * (and inputs of rank > 4).
 */
export function signSplitRelevance(ctx: LinearRuleContext, alpha: number, beta: number, stabilizer: number): tf.Tensor | null {
  const { x, R, map } = ctx;
  const { kernel, bias } = ctx.params;
  if (!JOINABLE.has(map.kind) || x.rank > 4) return null;
  const joinInput = !ctx.xNonNegative;
  const { units, halves, forwardKernel, transposeKernel, shiftedBias } = joinedParams(kernel, bias, alpha, beta, stabilizer, joinInput);

  // [x⁺, x⁻] as a sum of two pads: on wasm (tfjs 4.22) Concat and Split on the innermost axis copy
  // element by element in JavaScript (~11 and ~5 ms for a [32, 32, 32, 3] image batch)
  const channels = x.shape[x.rank - 1];
  const padLast = (t: tf.Tensor, before: number, after: number) => tf.pad(t, [...x.shape.slice(0, -1).map((): [number, number] => [0, 0]), [before, after]]);
  const input = joinInput ? tf.add(padLast(tf.relu(x), 0, channels), padLast(negativePart(x), channels, 0)) : x;
  // saved by signSplitForward in the forward pass (x ≥ 0, β > 0), else computed here
  const denominators = ctx.saved?.[0] ?? map.apply(input, { kernel: forwardKernel, bias: shiftedBias });
  const g = halves === 1 ? tf.div(R, denominators) : tf.reshape(tf.div(tf.reshape(R, [-1, 1, units]), tf.reshape(denominators, [-1, 2, units])), denominators.shape);
  const c = map.transpose(g, transposeKernel, input.shape);
  if (!joinInput) return tf.mul(x, c);
  // x⁺ ⊙ c[…, :C] + x⁻ ⊙ c[…, C:]: the halves summed by a [2C, C] matrix [I; I] (a small matMul)
  const halvesMatrix = derived(`sum halves ${channels}`, [kernel], () => tf.concat([tf.eye(channels), tf.eye(channels)], 0));
  return tf.reshape(tf.matMul(tf.reshape(tf.mul(input, c), [-1, 2 * channels]) as tf.Tensor2D, halvesMatrix as tf.Tensor2D), x.shape);
}
