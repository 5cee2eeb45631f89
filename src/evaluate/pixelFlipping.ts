/**
 * Pixel flipping / region perturbation (Samek et al. 2017, "Evaluating the visualization of
 * what a deep neural network has learned", IEEE TNNLS 28(11)): perturb the image regions a
 * relevance map ranks most relevant first, step by step, and record how fast the model's score
 * for the explained class falls. A map that finds the evidence makes the score fall fast (large
 * AOPC); a random ordering is the reference it has to beat.
 */
import * as tf from '@tensorflow/tfjs';
import { LrpArgumentError } from '../errors.js';
import type { ClassIndex } from '../explain.js';
import { runForward } from '../forward.js';
import { ModelPlan, planModel } from '../plan.js';
import { checkClassIdx, checkOptions, checkTensor, finiteNumber, positiveInteger, seedOption } from './validate.js';

/** How perturbed patches are replaced. */
export type Perturbation = 'baseline' | 'mean' | 'uniform';

/** Options of {@link pixelFlipping}. */
export interface PixelFlippingOptions {
  /**
   * Side of the square, non-overlapping patches (regions) in pixels; a patch covers all channels.
   * Patches at the right and bottom border are smaller when the side does not divide H or W.
   * Default 1 (single pixels); 2–4 is recommended for 28×28 digits.
   */
  readonly patchSize?: number;
  /**
   * Perturbation steps after the unperturbed input. Without `patchesPerStep`: default 20, at most
   * the number of patches, and after `k` steps `ceil(k · P / steps)` of the `P` patches are
   * perturbed (about `P / steps` more per step; all after the last). With `patchesPerStep`:
   * default `ceil(P / patchesPerStep)` (until every patch is perturbed); fewer steps stop early.
   */
  readonly steps?: number;
  /** Perturb exactly this many more patches per step (capped at all patches). Default: spread evenly (see `steps`). */
  readonly patchesPerStep?: number;
  /**
   * The replacement of a perturbed pixel: `'baseline'` (the constant `value`, default), `'mean'`
   * (the sample's mean over all its pixels and channels), or `'uniform'` (noise drawn once per
   * pixel and channel, uniform in [min, max] of the sample, seeded by `seed`).
   */
  readonly perturbation?: Perturbation;
  /** The constant of `perturbation: 'baseline'`. Default 0. */
  readonly value?: number;
  /** Seed of the random ordering, of the order among patches with equal relevance, and of the `'uniform'` noise. Default 0. */
  readonly seed?: number;
  /** Also run a random (seeded) ordering of the patches, the reference. Default true. */
  readonly random?: boolean;
  /** Which output of a multi-output model to score. Default 0. */
  readonly output?: number;
}

/** The score curve of one patch ordering. */
export interface PixelFlippingCurve {
  /** Per sample, the score after k = 0..L steps (`scores[i][0]` is the unperturbed score). */
  readonly scores: number[][];
  /** Per step, the mean score over the samples. */
  readonly meanScores: number[];
  /**
   * Per sample the area over the perturbation curve, as in Samek et al. 2017 (eq. 12):
   * `AOPC = 1/(L+1) · Σ_{k=0..L} (f(x) − f(x_k))` (the k = 0 term is 0). In logit units;
   * larger means the score fell faster.
   */
  readonly aopc: number[];
  /** Mean of `aopc` over the samples. */
  readonly meanAopc: number;
  /** Per sample `f(x) − f(x_L)`: the score drop after the last step. */
  readonly finalDrop: number[];
  /** Mean of `finalDrop` over the samples. */
  readonly meanFinalDrop: number;
}

/** The result of {@link pixelFlipping}: plain numbers. */
export interface PixelFlippingReport {
  /** The scored class per sample. */
  readonly classIdx: number[];
  /** Patches per image (`P`). */
  readonly numPatches: number;
  /** Side of a patch in pixels. */
  readonly patchSize: number;
  /** Number of steps `L` (the curves have L + 1 points). */
  readonly steps: number;
  /** Patches perturbed after k = 0..L steps. */
  readonly perturbed: number[];
  /** `perturbed / numPatches` per step: the x-axis of the curves. */
  readonly fraction: number[];
  /** Patches perturbed in the order of the relevance map: highest summed relevance first. */
  readonly mostRelevantFirst: PixelFlippingCurve;
  /** The same for a seeded random order of the patches; `null` with `random: false`. */
  readonly random: PixelFlippingCurve | null;
}

const OPTION_KEYS = ['patchSize', 'steps', 'patchesPerStep', 'perturbation', 'value', 'seed', 'random', 'output'] as const;
const PERTURBATIONS: readonly Perturbation[] = ['baseline', 'mean', 'uniform'];

/** The explained output (pre-softmax) of a batch `x` as `[M, outputSize]`: one forward pass (inside a tidy). */
function logitsOf(plan: ModelPlan, x: tf.Tensor): tf.Tensor2D {
  const logits = runForward(plan, [x]).tensors.get(plan.graph.explained) as tf.Tensor;
  return tf.reshape(logits, [x.shape[0], plan.outputSize]);
}

/** Each row's score for its class (`classes` int32 `[M]`), as `[M]`. */
function scoresOf(flat: tf.Tensor2D, classes: tf.Tensor1D): tf.Tensor1D {
  const oneHot = tf.equal(tf.reshape(tf.range(0, flat.shape[1], 1, 'int32'), [1, -1]), tf.reshape(classes, [-1, 1]));
  return tf.sum(tf.where(oneHot, flat, tf.zerosLike(flat)), 1) as tf.Tensor1D;
}

/**
 * Position of each patch in the ordering given by `keys` (larger key first): int32 `[N, P]`.
 * Ties are broken in the order of `tieBreak` (a permutation of the patches, int32 `[P]`): the
 * keys are permuted by it before a stable top-k (cpu, wasm: equal keys keep their order).
 */
function rankOf(keys: tf.Tensor2D, tieBreak: tf.Tensor1D): tf.Tensor2D {
  const p = keys.shape[1];
  const positions = tf.topk(tf.gather(keys, tieBreak, 1), p).indices;
  const order: tf.Tensor = tf.gather(tieBreak, positions); // order[i, j] = the patch at position j
  // the inverse permutation: sorting the positions by patch index
  return tf.topk(tf.neg(tf.cast(order, 'float32')), p).indices as tf.Tensor2D;
}

function curveOf(scores: number[][]): PixelFlippingCurve {
  const n = scores.length;
  const points = scores[0].length;
  const meanScores = Array.from({ length: points }, (_, k) => scores.reduce((s, row) => s + row[k], 0) / n);
  const aopc = scores.map((row) => row.reduce((s, v) => s + (row[0] - v), 0) / points);
  const finalDrop = scores.map((row) => row[0] - row[points - 1]);
  const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  return { scores, meanScores, aopc, meanAopc: mean(aopc), finalDrop, meanFinalDrop: mean(finalDrop) };
}

/** The checked input images and relevance map of {@link pixelFlipping}. */
interface CheckedMaps {
  readonly x: tf.Tensor4D;
  readonly r: tf.Tensor;
  readonly n: number;
  readonly h: number;
  readonly w: number;
}

/** The resolved options of {@link pixelFlipping}: patch grid, steps, perturbation, seed. */
interface Settings {
  readonly patchSize: number;
  /** Patch rows and columns (the border patches may be smaller). */
  readonly ph: number;
  readonly pw: number;
  readonly numPatches: number;
  readonly steps: number;
  readonly perturbed: number[];
  readonly perturbation: Perturbation;
  readonly value: number;
  readonly seed: number;
  readonly withRandom: boolean;
}

/** The set-up tensors: per-pixel rank in each ordering, replacement values, the stacked batch. */
interface Setup {
  /** int32 `[orderings · N, H, W, 1]`: the position of each pixel's patch in its ordering. */
  readonly pixelRank: tf.Tensor;
  /** `[orderings · N, H, W, C]`: what a perturbed pixel becomes. */
  readonly replacement: tf.Tensor;
  /** `[orderings · N, H, W, C]`: the input, once per ordering. */
  readonly images: tf.Tensor;
  /** `[1]`: 1 when the relevance is finite everywhere, else 0. */
  readonly finite: tf.Tensor;
}

/** Step 1: `input` must be float32 images `[N, H, W, C]`, `relevance` the same shape or `[N, H, W]`. */
function checkMaps(input: tf.Tensor, relevance: tf.Tensor): CheckedMaps {
  const x = checkTensor('input', input, 1, 'of image shape [N, H, W, C]');
  if (x.rank !== 4) {
    throw new LrpArgumentError('input', `pixelFlipping perturbs image patches and needs images [N, H, W, C], got shape [${x.shape.join(', ')}]. For one image add the batch axis (x.expandDims(0)); for a grey image without channels add one (x.expandDims(-1)).`);
  }
  const [n, h, w] = x.shape;
  const r = checkTensor('relevance', relevance, 1, `of the input's shape [${x.shape.join(', ')}] or [${[n, h, w].join(', ')}]`);
  const sameShape = r.rank === 4 && r.shape.every((d, i) => d === x.shape[i]);
  const summed = r.rank === 3 && r.shape.every((d, i) => d === x.shape[i]);
  if (!sameShape && !summed) {
    throw new LrpArgumentError('relevance', `shape [${r.shape.join(', ')}] does not match the input [${x.shape.join(', ')}]; pass the map explain() returned for this input (or its channel sum [${[n, h, w].join(', ')}]).`);
  }
  if (x.dtype !== 'float32') throw new LrpArgumentError('input', `images must be float32 to be perturbed, got ${x.dtype}.`);
  return { x: x as tf.Tensor4D, r, n, h, w };
}

/** Step 2: the options, checked and with their defaults, for images of `h`×`w`. */
function resolveSettings(options: PixelFlippingOptions, h: number, w: number): Settings {
  const patchSize = positiveInteger('options.patchSize', options.patchSize, 1);
  if (patchSize > Math.min(h, w)) throw new LrpArgumentError('options.patchSize', `must be at most the image's smaller side ${Math.min(h, w)} (images ${h}×${w}), got ${patchSize}.`);
  const ph = Math.ceil(h / patchSize);
  const pw = Math.ceil(w / patchSize);
  const numPatches = ph * pw;
  let steps: number;
  let perturbed: number[];
  if (options.patchesPerStep !== undefined) {
    const per = positiveInteger('options.patchesPerStep', options.patchesPerStep, 1);
    steps = positiveInteger('options.steps', options.steps, Math.ceil(numPatches / per));
    perturbed = Array.from({ length: steps + 1 }, (_, k) => Math.min(numPatches, k * per));
  } else {
    steps = Math.min(numPatches, positiveInteger('options.steps', options.steps, 20));
    perturbed = Array.from({ length: steps + 1 }, (_, k) => Math.ceil((k * numPatches) / steps));
  }
  const perturbation = options.perturbation ?? 'baseline';
  if (!PERTURBATIONS.includes(perturbation)) throw new LrpArgumentError('options.perturbation', `must be one of ${PERTURBATIONS.map((p) => `'${p}'`).join(', ')}, got ${JSON.stringify(options.perturbation)}.`);
  if (options.value !== undefined && perturbation !== 'baseline') throw new LrpArgumentError('options.value', `applies to perturbation 'baseline' only (perturbation is '${perturbation}').`);
  const value = finiteNumber('options.value', options.value, 0);
  const seed = seedOption('options.seed', options.seed, 0);
  if (options.random !== undefined && typeof options.random !== 'boolean') throw new LrpArgumentError('options.random', `must be true or false, got ${JSON.stringify(options.random)}.`);
  const withRandom = options.random ?? true;
  return { patchSize, ph, pw, numPatches, steps, perturbed, perturbation, value, seed, withRandom };
}

/** Step 3: the library's plan of `model` (one image input that fits `x`); checks `classIdx`. */
function planFor(model: tf.LayersModel, x: tf.Tensor4D, classIdx: ClassIndex, output: number | undefined): ModelPlan {
  const plan = planModel(model, { method: 'gradient', ...(output === undefined ? {} : { output }) });
  const specs = plan.graph.inputs;
  if (specs.length !== 1) throw new LrpArgumentError('model', `pixelFlipping needs a model with one image input; this one has ${specs.length} (${specs.map((s) => s.name).join(', ')}).`);
  const spec = specs[0].shape;
  if (spec.length !== 4 || spec.some((d, i) => i > 0 && d !== null && d !== x.shape[i])) {
    throw new LrpArgumentError('input', `shape [${x.shape.join(', ')}] does not fit the model's input [${spec.map((d) => d ?? 'batch').join(', ')}].`);
  }
  checkClassIdx(classIdx, plan.outputSize, x.shape[0]);
  return plan;
}

/** Which patch each pixel belongs to (row-major patch index), `[H · W]`. */
function pixelPatches(h: number, w: number, s: Settings): Int32Array {
  const pixelPatch = new Int32Array(h * w);
  for (let y = 0; y < h; y++) for (let v = 0; v < w; v++) pixelPatch[y * w + v] = Math.floor(y / s.patchSize) * s.pw + Math.floor(v / s.patchSize);
  return pixelPatch;
}

/** What perturbed pixels become, `[N, H, W, C]` (inside a tidy). */
function replacementOf(x: tf.Tensor4D, s: Settings): tf.Tensor {
  const n = x.shape[0];
  const flat = tf.reshape(x, [n, -1]);
  if (s.perturbation === 'baseline') return tf.fill(x.shape, s.value);
  if (s.perturbation === 'mean') return tf.broadcastTo(tf.reshape(tf.mean(flat, 1), [n, 1, 1, 1]), x.shape);
  const lo = tf.reshape(tf.min(flat, 1), [n, 1, 1, 1]);
  const hi = tf.reshape(tf.max(flat, 1), [n, 1, 1, 1]);
  return tf.add(lo, tf.mul(tf.sub(hi, lo), tf.randomUniform(x.shape, 0, 1, 'float32', s.seed + 7919)));
}

/** Step 4 (tf ops): rank the patches by summed relevance (and at random), stack the batch per ordering. */
function setUp(m: CheckedMaps, s: Settings): Setup {
  const { x, r, n, h, w } = m;
  const { patchSize, ph, pw, numPatches, seed, withRandom } = s;
  const orderings = withRandom ? 2 : 1;
  const pixelPatch = pixelPatches(h, w, s);
  return tf.tidy(() => {
    const rel = tf.cast(r, 'float32');
    const map = (r.rank === 4 ? tf.sum(rel, 3) : rel) as tf.Tensor3D;
    const padded = tf.pad(map, [[0, 0], [0, ph * patchSize - h], [0, pw * patchSize - w]]);
    const patchRelevance = tf.sum(tf.reshape(padded, [n, ph, patchSize, pw, patchSize]), [2, 4]).reshape([n, numPatches]) as tf.Tensor2D;
    const tieBreak = tf.topk(tf.randomUniform([numPatches], 0, 1, 'float32', seed + 1), numPatches).indices as tf.Tensor1D;
    const ranks = [rankOf(patchRelevance, tieBreak)];
    if (withRandom) ranks.push(rankOf(tf.randomUniform([n, numPatches], 0, 1, 'float32', seed) as tf.Tensor2D, tieBreak));
    const pixelRank = tf.reshape(tf.gather(tf.concat(ranks, 0), tf.tensor1d(pixelPatch, 'int32'), 1), [orderings * n, h, w, 1]);
    const stack = (t: tf.Tensor) => (orderings === 1 ? tf.clone(t) : tf.concat([t, t], 0));
    const finite = tf.cast(tf.all(tf.isFinite(rel)), 'float32');
    return { pixelRank, replacement: stack(replacementOf(x, s)), images: stack(x), finite: tf.reshape(finite, [1]) };
  });
}

/** Step 5: the unperturbed images (N): the class per sample (which fixes `'max'`) and its score. */
function scoreUnperturbed(plan: ModelPlan, x: tf.Tensor4D, classIdx: ClassIndex): { classes: tf.Tensor1D; score: tf.Tensor1D } {
  const n = x.shape[0];
  return tf.tidy(() => {
    const flat = logitsOf(plan, x);
    const classes = (classIdx === 'max' ? tf.argMax(flat, 1) : typeof classIdx === 'number' ? tf.fill([n], classIdx, 'int32') : tf.tensor1d(classIdx as number[], 'int32')) as tf.Tensor1D;
    return { classes: tf.cast(classes, 'int32') as tf.Tensor1D, score: scoresOf(flat, classes) };
  });
}

/** Step 6: the score after perturbing the first `perturbed` patches of each ordering: one forward pass for the whole stacked batch. */
function scoreStep(plan: ModelPlan, setup: Setup, classes: tf.Tensor1D, perturbed: number): tf.Tensor1D {
  return tf.tidy(() => {
    const mask = tf.less(setup.pixelRank, tf.scalar(perturbed, 'int32'));
    const images = tf.where(tf.broadcastTo(mask, setup.images.shape), setup.replacement, setup.images);
    return scoresOf(logitsOf(plan, images), classes);
  });
}

/**
 * Step 7: the report from the values read back: `N` unperturbed scores, `steps` blocks of
 * `orderings · N` scores, `N` classes, and the finiteness flag of the relevance.
 */
function reportOf(values: Float32Array, n: number, s: Settings): PixelFlippingReport {
  if (values[values.length - 1] !== 1) throw new LrpArgumentError('relevance', 'contains NaN or Infinity; the patch ranking is undefined. Clean the map first.');
  const { steps, perturbed, numPatches, patchSize, withRandom } = s;
  const m = (withRandom ? 2 : 1) * n;
  const scoreAt = (k: number, row: number) => (k === 0 ? values[row % n] : values[n + (k - 1) * m + row]);
  const curve = (ordering: number) => curveOf(Array.from({ length: n }, (_, i) => Array.from({ length: steps + 1 }, (_, k) => scoreAt(k, ordering * n + i))));
  const classOffset = n + steps * m;
  return {
    classIdx: Array.from(values.subarray(classOffset, classOffset + n)),
    numPatches,
    patchSize,
    steps,
    perturbed,
    fraction: perturbed.map((p) => p / numPatches),
    mostRelevantFirst: curve(0),
    random: withRandom ? curve(1) : null,
  };
}

/**
 * Region perturbation (pixel flipping, Samek et al. 2017) for image inputs `[N, H, W, C]`.
 *
 * The image is cut into non-overlapping `patchSize × patchSize` patches; each sample's patches
 * are ranked by their summed relevance (over pixels and channels; signed, most positive first;
 * equal sums, e.g. of patches without relevance, in a seeded random order, the same for every
 * sample, so that a map's ties do not sweep the image row by row). Step k perturbs the first
 * `perturbed[k]` patches of the ranking (see `steps`, `patchesPerStep`, `perturbation`) and
 * records the score. The same is done for a seeded random ranking, the reference a useful
 * map beats: its curve falls faster, its AOPC is larger.
 *
 * The score is the pre-softmax logit of the class: the explained output of the library's plan
 * of the model (a final softmax or sigmoid stripped, as `explain` does), run by the library's
 * forward pass. Every step runs ONE forward pass for the whole batch, both orderings together
 * (`2N` images; `N` for the unperturbed step): `steps + 1` passes in all, never one per sample.
 * Everything up to the end runs as tf ops; the scores are read once at the end.
 *
 * @param model a `tf.LayersModel` with one image input (never modified)
 * @param input images `[N, H, W, C]` (float32)
 * @param classIdx the class to score: one for all samples, one per sample, or `'max'` (each
 *   sample's top logit on the unperturbed image)
 * @param relevance the map to evaluate: `[N, H, W, C]` like `input`, or `[N, H, W]`
 * @param options patches, steps, perturbation, seed, random reference (see {@link PixelFlippingOptions})
 * @returns the curves, AOPC and final drops, per sample and averaged, for both orderings
 * @throws LrpArgumentError for a non-image input, a relevance of another shape, a bad class or
 *   option, a multi-input model, or NaN/Infinity in the relevance; LrpModelError/LrpLayerError
 *   for models the library cannot run
 */
export async function pixelFlipping(model: tf.LayersModel, input: tf.Tensor, classIdx: ClassIndex, relevance: tf.Tensor, options: PixelFlippingOptions = {}): Promise<PixelFlippingReport> {
  checkOptions('options', options, OPTION_KEYS);
  const maps = checkMaps(input, relevance);
  const settings = resolveSettings(options, maps.h, maps.w);
  const plan = planFor(model, maps.x, classIdx, options.output);

  const held: tf.Tensor[] = [];
  const keep = <T extends tf.Tensor>(t: T): T => {
    held.push(t);
    return t;
  };
  try {
    const setup = setUp(maps, settings);
    held.push(setup.pixelRank, setup.replacement, setup.images, setup.finite);
    const first = scoreUnperturbed(plan, maps.x, classIdx);
    held.push(first.classes, first.score);
    const classes = keep(settings.withRandom ? (tf.concat([first.classes, first.classes]) as tf.Tensor1D) : first.classes);
    // steps 1..L: one forward pass per step for all samples and both orderings
    const stepScores: tf.Tensor1D[] = [];
    for (let k = 1; k <= settings.steps; k++) stepScores.push(keep(scoreStep(plan, setup, classes, settings.perturbed[k])));
    // everything is read back at once
    const packed = keep(tf.tidy(() => tf.concat([first.score, ...stepScores, tf.cast(first.classes, 'float32'), setup.finite])));
    return reportOf((await packed.data()) as Float32Array, maps.n, settings);
  } finally {
    tf.dispose(held);
  }
}
