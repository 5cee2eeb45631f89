/**
 * αβ (and z⁺ = αβ with α = 1, β = 0) in one forward and one transposed map, for Dense, Conv1D and
 * Conv2D: maps whose kernel's input-channel axis is `rank − 2`, output-channel axis `rank − 1`,
 * and whose geometry depends on neither count. With the layer input `x` (or, when `x` may be
 * negative, `[x⁺, −x⁻] = [relu(x), relu(−x)]` joined on the channel axis: two non-negative
 * halves, so the kernel rows that read the second half are negated below):
 *
 * - one forward with the kernel `[W⁺ | W⁻]` (output channels; for `[x⁺, −x⁻]`:
 *   `[[W⁺ | W⁻]; [−W⁻ | −W⁺]]`) and the bias `[b⁺ + ε | b⁻ − ε]` gives `[stab(o₁ + o₂), stab(o₃ + o₄)]`
 *   directly: the first half ≥ ε, the second ≤ −ε, each an exact sum of same-sign terms (no
 *   cancellation; where o₃ + o₄ = 0 every x_i·W⁻_ij is 0, so −ε instead of zennit's +ε changes
 *   nothing);
 * - `g = [R, R] / that` (a broadcast division on a rank-3 view);
 * - one transposed map with `[αW⁺ | −βW⁻]` (for `[x⁺, −x⁻]`: `[[αW⁺ | −βW⁻]; [−αW⁻ | βW⁺]]`),
 *   then `x ⊙ c` (or `x⁺ ⊙ c[…, :C] + (−x⁻) ⊙ c[…, C:]`, which is `x⁺ ⊙ (W⁺ᵀg…) + x⁻ ⊙ (W⁻ᵀg…)`).
 *   Negating a kernel block and its input half changes no product's value or rounding.
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
  // kernel blocks: rows are the input parts (x, or x⁺ and −x⁻), columns the output halves
  const assemble = (rows: ReadonlyArray<ReadonlyArray<tf.Tensor>>) => tf.concat(rows.map((cols) => (cols.length === 1 ? cols[0] : tf.concat(cols.slice(), outAxis))), inAxis);
  // the rows that read the input's second half, −x⁻, are negated (see the file comment)
  const forwardKernel = derived(`forward ${tag}`, [kernel], () => {
    const [p, n] = [tf.relu(kernel), negativePart(kernel)];
    const rows = joinInput ? [[p, n], [tf.neg(n), tf.neg(p)]] : [[p, n]];
    return assemble(rows.map((r) => r.slice(0, halves)));
  });
  const transposeKernel = derived(`transpose ${tag}`, [kernel], () => {
    const [p, n] = [tf.relu(kernel), negativePart(kernel)];
    const scale = (t: tf.Tensor, f: number) => (f === 1 ? t : tf.mul(t, f));
    const rows = joinInput ? [[scale(p, alpha), scale(n, -beta)], [scale(n, -alpha), scale(p, beta)]] : [[scale(p, alpha), scale(n, -beta)]];
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

  const channels = x.shape[x.rank - 1];
  const input = joinInput ? signSplitInput(x, channels, kernel) : x;
  // saved by signSplitForward in the forward pass (x ≥ 0, β > 0), else computed here
  const denominators = ctx.saved?.[0] ?? map.apply(input, { kernel: forwardKernel, bias: shiftedBias });
  const g = halves === 1 ? tf.div(R, denominators) : tf.reshape(tf.div(tf.reshape(R, [-1, 1, units]), tf.reshape(denominators, [-1, 2, units])), denominators.shape);
  const c = map.transpose(g, transposeKernel, input.shape);
  if (!joinInput) return tf.mul(x, c);
  // x⁺ ⊙ c[…, :C] + (−x⁻) ⊙ c[…, C:]
  return sumChannelHalves(tf.mul(input, c), channels, kernel);
}

/**
 * Up to this many input channels (an image's 1–4, a few tabular features), `[x⁺, −x⁻]` and the
 * sum of the two channel halves are small matMuls (`[C, 2C]` and `[2C, C]` matrices), except on
 * WebGPU; above it two Pads and an Add, and {@link sumHalves}, whose cost per element does not grow
 * with C (a matMul's does: C = 784 at batch 32 on wasm, 2.5 ms against 0.2 ms). An RGB batch
 * [32, 32, 32, 3] on wasm: the input from two Pads and an Add 2.3 ms, from the matMul and a Relu
 * 0.3 ms (wasm's Concat and Slice copy element by element in JavaScript: 4.5–5 ms); [8, 32, 32, 3]
 * on WebGL: 3.7 → 1.5 ms. tfjs 4.22's WebGPU runs a matMul with so few terms per output slowly
 * ([8192, 3] × [3, 6]: 4–8 ms in Node, 21 ms in Chromium), and takes a Neg, a Concat and a Relu
 * (0.8–1.8 ms in Node, 2.9 in Chromium) and two Slices and an Add (1.4 and 2.7 ms, against the
 * [I; I] matMul's 5–7 and 22 ms) instead.
 */
const SMALL_MATMUL_CHANNELS = 16;

/** Whether this backend and channel count take the small matMuls of {@link SMALL_MATMUL_CHANNELS}. */
function bySmallMatMul(channels: number): boolean {
  return channels <= SMALL_MATMUL_CHANNELS && tf.getBackend() !== 'webgpu';
}

/** `[x⁺, −x⁻] = [relu(x), relu(−x)]` joined on the last axis (2C channels, both halves ≥ 0). */
function signSplitInput(x: tf.Tensor, channels: number, kernel: tf.Tensor): tf.Tensor {
  if (bySmallMatMul(channels)) {
    // x·[I | −I] is exact: one product by ±1 per output, the other terms are zeros
    const plusMinus = derived(`[I | −I] ${channels}`, [kernel], () => tf.concat([tf.eye(channels), tf.neg(tf.eye(channels))], 1));
    const both = tf.matMul(tf.reshape(x, [-1, channels]) as tf.Tensor2D, plusMinus as tf.Tensor2D);
    return tf.reshape(tf.relu(both), [...x.shape.slice(0, -1), 2 * channels]);
  }
  if (tf.getBackend() === 'webgpu') return tf.relu(tf.concat([x, tf.neg(x)], x.rank - 1));
  // wasm (tfjs 4.22) copies a Concat on the innermost axis element by element in JavaScript: two Pads
  const padLast = (t: tf.Tensor, before: number, after: number) => tf.pad(t, [...x.shape.slice(0, -1).map((): [number, number] => [0, 0]), [before, after]]);
  return tf.add(padLast(tf.relu(x), 0, channels), padLast(tf.relu(tf.neg(x)), channels, 0));
}

/** `t[…, :C] + t[…, C:]` of a tensor with 2C channels on its last axis. */
function sumChannelHalves(t: tf.Tensor, channels: number, kernel: tf.Tensor): tf.Tensor {
  const shape = [...t.shape.slice(0, -1), channels];
  if (bySmallMatMul(channels)) {
    // a [2C, C] matrix [I; I]
    const halvesMatrix = derived(`sum halves ${channels}`, [kernel], () => tf.concat([tf.eye(channels), tf.eye(channels)], 0));
    return tf.reshape(tf.matMul(tf.reshape(t, [-1, 2 * channels]) as tf.Tensor2D, halvesMatrix as tf.Tensor2D), shape);
  }
  return tf.reshape(sumHalves(tf.reshape(t, [-1, 2, channels])), shape);
}
