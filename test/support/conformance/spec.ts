/**
 * What the backend conformance run explains, shared by the page (test/support/conformance/page.ts, in
 * Chromium on WebGL 2 / WebGPU) and the jest test (test/browser-backends.test.ts, on Node's cpu
 * backend and the float64 reference): the same lists, seeds and options on both sides, and the
 * shape of the results the page hands back. No tensors are made here.
 */
import type { ExplainOptions } from '../../../src';

/** The GPU backends under test (the page's `?backend=`). */
export const GPU_BACKENDS = ['webgl', 'webgpu'] as const;
export type GpuBackend = (typeof GPU_BACKENDS)[number];

/**
 * The gradient methods, with small step / sample counts (SwiftShader is slow) and a fixed seed, so
 * that every backend evaluates exactly the same points. IG's steps equal SmoothGrad's samples, so
 * both evaluate the same batch size and WebGL compiles its shaders once for the two.
 */
export const GRADIENT_METHODS: ReadonlyArray<readonly [string, ExplainOptions]> = [
  ['gradient', { method: 'gradient' }],
  ['gradientXInput', { method: 'gradientXInput' }],
  ['integratedGradients', { method: 'integratedGradients', steps: 2 }],
  ['smoothGrad', { method: 'smoothGrad', samples: 2, noiseLevel: 0.2, seed: 3 }],
];

/** Methods that move the input continuously: they refuse token inputs (an Embedding's ids). */
export const CONTINUOUS_METHODS: readonly string[] = ['integratedGradients', 'smoothGrad'];

/**
 * Labels of test/configs.ts `CONFIGS` that the exactness section runs through
 * `explainWithConservation` (per layer) instead of `explain`, so that their conservation numbers
 * are compared too: a conserving rule, one that creates relevance, and a composite with z-box.
 */
export const CONSERVATION_CONFIGS: readonly string[] = ['epsilon 1e-6', 'alphaBeta 2/1', 'epsilonGammaBox'];

/** Seeds of the architecture families (as test/architectures.test.ts: weights 1234, inputs 99). */
export const FAMILY_WEIGHT_SEED = 1234;
export const FAMILY_INPUT_SEED = 99;

/** The real models of ../shared/zoo (as test/loadModel.test.ts). */
export const ZOO_MODELS: readonly string[] = ['tfjs_examples_abalone', 'mnist_cnn_aslamplr', 'ml5_doodlenet', 'tensorspace_lenet', 'ml5_crepe', 'ml5_cvae_quickdraw'];
/** Batch of the zoo inputs: uniform [0, 1) with seed 100 + input index (as test/loadModel.test.ts). */
export const ZOO_BATCH = 2;
export const ZOO_INPUT_SEED = 100;
/**
 * Smaller batches where SwiftShader needs minutes: ml5_crepe's first layer (Conv2D 512×1, stride
 * 4, 128 filters on 1024 samples) is explained by a correlation of the zero-inserted relevance with
 * the flipped kernel, which on WebGL is a 1024 × 65536 im2col matrix per sample (537 MB at batch
 * 2); at batch 2 crepe alone took 185 s on WebGL and 212 s on WebGPU.
 */
export const ZOO_BATCH_OVERRIDE: Readonly<Record<string, number>> = { ml5_crepe: 1 };

/** The explain options of a zoo model: the composite, z-box bounds [0, 1], the last output. */
export function zooOptions(composite: string, outputs: number): ExplainOptions {
  return { composite: composite as ExplainOptions['composite'], low: 0, high: 1, output: outputs - 1 };
}

/** Conservation numbers as plain arrays (per sample; per layer: Σ upper, Σ lower). */
export interface ConservationNumbers {
  readonly classIdx: number[];
  readonly score: number[];
  readonly outputSum: number[];
  readonly inputSum: number[];
  readonly absorbed: number[];
  /** Per layer in forward order, when asked: `layer` and its `upper` / `lower` sums per sample. */
  readonly layers?: ReadonlyArray<{ readonly layer: string; readonly upper: number[]; readonly lower: number[] }>;
}

/** One explained call, as the page (or Node) hands it back. */
export interface CallResult {
  /** `case / config` (see {@link callKey}). */
  readonly key: string;
  /** One entry per model input: the relevance values, shape and dtype. */
  readonly relevance: ReadonlyArray<{ readonly shape: number[]; readonly dtype: string; readonly values: number[] }>;
  readonly conservation?: ConservationNumbers;
  /** `tf.memory().numTensors` after the call (results disposed) minus before. */
  readonly leaked: number;
  /** The error message when the call threw (then relevance is empty). */
  readonly error?: string;
  /** Wall time of the call, ms (reading the results included). */
  readonly ms: number;
}

/** The key of a call: `group / item / variant`. */
export function callKey(...parts: Array<string | number>): string {
  return parts.join(' / ');
}

/** A fingerprint of a model's weights and inputs, to check that the page built the same model as Node. */
export interface Fingerprint {
  readonly key: string;
  /** FNV-1a over the float32 bits of every weight, then every input. */
  readonly hash: string;
  readonly count: number;
}

/** What one page section returns. */
export interface SectionResult {
  readonly backend: string;
  readonly calls: CallResult[];
  readonly fingerprints: Fingerprint[];
  /** Messages of the WebGPU device's `uncapturederror` events, and other page-side errors. */
  readonly deviceErrors: string[];
  readonly ms: number;
}

/**
 * The page sections: the exactness suite (every case × config; conservation for
 * {@link CONSERVATION_CONFIGS}), the gradient methods, the architecture families, the zoo, and
 * engine ops whose GPU paths differ from cpu's (max-pool relevance with ties, {@link MAX_POOL_TIES};
 * the input declared ≥ 0 and its sign check).
 */
export const SECTIONS = ['cases', 'gradients', 'families', 'zoo', 'ops'] as const;
export type Section = (typeof SECTIONS)[number];

/**
 * FNV-1a (32 bit) over the IEEE float32 bits of a list of arrays: equal only for bitwise equal
 * values (int32 values hash by their own bits).
 */
export function fnv1a(arrays: ReadonlyArray<Float32Array | Int32Array | Uint8Array>): string {
  let h = 0x811c9dc5;
  for (const a of arrays) {
    const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    for (let i = 0; i < bytes.length; i++) {
      h ^= bytes[i];
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  }
  return h.toString(16).padStart(8, '0');
}

/**
 * Max-pool geometries of the 'ops' section (window kh × kw, strides sh × sw, input h × w, padding):
 * windows that tile the input (one shader per window on WebGPU, one per position on WebGL) and
 * windows that overlap, skip rows or reach into the padding (the general shader), on inputs of
 * six small integers, so that many windows hold tied maxima (about 31% of 2×2 windows) and a
 * wrong tie rule moves whole values of dy.
 */
export const MAX_POOL_TIES: ReadonlyArray<readonly [number, number, number, number, number, number, 'same' | 'valid']> = [
  [2, 2, 2, 2, 8, 8, 'valid'],
  [2, 2, 2, 2, 16, 12, 'valid'],
  [3, 3, 3, 3, 9, 6, 'valid'],
  [1, 2, 1, 2, 4, 6, 'valid'],
  [2, 2, 2, 2, 8, 6, 'same'],
  [2, 2, 2, 2, 7, 7, 'valid'],
  [3, 2, 3, 2, 7, 7, 'valid'],
  [3, 3, 2, 2, 9, 11, 'same'],
  [3, 3, 1, 1, 7, 7, 'same'],
  [2, 2, 3, 3, 8, 8, 'valid'],
  [3, 2, 2, 1, 8, 7, 'same'],
];
