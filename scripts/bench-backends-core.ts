/**
 * The measuring part of `npm run bench:backends`, written against a tf namespace and the tfjs-lrp
 * entry passed in, so that the same code runs in Node (cpu, wasm, WebGPU through Dawn) and in a
 * Chromium page (WebGL 2, WebGPU), each with its own tf.
 *
 * Speed: for one model, batch and backend, `model.predict` and a reused explainer
 * (`createExplainer(model, options).explain`) for each setting of {@link settingsOf} (bench-cnn:
 * the epsilon rule and the epsilonPlus, epsilonGammaBox and epsilonAlpha2Beta1 composites; the
 * MobileNet-v2-sized model: ε, epsilonGammaBox and epsilonPlusFlat), run in
 * interleaved rounds (predict, epsilon, epsilonPlus, ..., predict, ...), every call
 * read back with `await data()`; the ratio of a method is the median over the rounds of its time /
 * predict's time in the same round (a busy machine slows all methods of a round alike).
 *
 * Memory: the peak of `tf.memory().numBytes` during one predict and during one explain, measured
 * with `tf.profile` (which tracks the engine's byte count kernel by kernel), and the tensor count
 * before and after each call.
 */
import type * as TfNamespace from '@tensorflow/tfjs';
import type * as LrpNamespace from '../src';
import * as benchCnn from './bench-cnn';
import { mobileNetInput, mobileNetV2 } from './mobilenet-model';

type Tf = typeof TfNamespace;
type Lrp = Pick<typeof LrpNamespace, 'createExplainer'>;

/** The benchmark models. */
export type BenchModelName = 'bench-cnn' | 'mobilenet-v2';
export const BENCH_MODELS: readonly BenchModelName[] = ['bench-cnn', 'mobilenet-v2'];

/** The explained class of every sample. */
export const CLASS_IDX = benchCnn.CLASS_IDX;

/** The explain settings measured: name → options (inputs lie in [0, 1], the z-box bounds). */
export const SETTINGS: ReadonlyArray<readonly [string, LrpNamespace.ExplainOptions]> = [
  ['epsilon', { rule: 'epsilon' }],
  ['epsilonPlus', { composite: 'epsilonPlus' }],
  ['epsilonGammaBox', { composite: 'epsilonGammaBox', low: 0, high: 1 }],
  ['epsilonAlpha2Beta1', { composite: 'epsilonAlpha2Beta1' }],
  ['epsilonPlusFlat', { composite: 'epsilonPlusFlat' }],
  // the input declared ≥ 0 (options.inputNonNegative): the first layer's z⁺/αβ on x, not [x⁺, x⁻]
  ['epsilonPlus x≥0', { composite: 'epsilonPlus', inputNonNegative: true }],
  ['epsilonAlpha2Beta1 x≥0', { composite: 'epsilonAlpha2Beta1', inputNonNegative: true }],
];

/**
 * The settings timed per model: all four of issue #19's bench-cnn targets on bench-cnn, and
 * epsilonPlus and epsilonAlpha2Beta1 with the input declared ≥ 0 (`x≥0`: inputNonNegative); ε,
 * epsilonGammaBox and epsilonPlusFlat (#19's MobileNet target) on the MobileNet-v2-sized model
 * (minutes a call on cpu and the software GPUs).
 */
export function settingsOf(name: BenchModelName): ReadonlyArray<readonly [string, LrpNamespace.ExplainOptions]> {
  const names = name === 'bench-cnn' ? ['epsilon', 'epsilonPlus', 'epsilonGammaBox', 'epsilonAlpha2Beta1', 'epsilonPlus x≥0', 'epsilonAlpha2Beta1 x≥0'] : ['epsilon', 'epsilonGammaBox', 'epsilonPlusFlat'];
  return SETTINGS.filter(([s]) => names.includes(s));
}

/** One method's timing. */
export interface MethodTiming {
  readonly method: string;
  /** The first call (kernel compilation, weight-derived tensors). */
  readonly firstMs: number;
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  /** Median over the rounds of this method's time / predict's time in the same round. */
  readonly pairedRatio: number;
  /** Spread of the per-round ratios: the smallest and the largest. */
  readonly pairedRatioMin: number;
  readonly pairedRatioMax: number;
  /** The per-round ratios. */
  readonly ratios: number[];
}

/** The timings of one model, batch and backend. */
export interface SpeedReport {
  readonly model: BenchModelName;
  readonly batch: number;
  readonly backend: string;
  /** Timed rounds after the first calls; 0: the first calls are the measurement (slow cases). */
  readonly rounds: number;
  readonly timings: MethodTiming[];
  /** Change of `tf.memory().numTensors` over all timed rounds (0: nothing leaked). */
  readonly leakedTensors: number;
}

/** Peak memory of one predict and one explain. */
export interface MemoryReport {
  readonly model: BenchModelName;
  readonly batch: number;
  readonly backend: string;
  readonly setting: string;
  /** Bytes held by tensors before the calls (weights, the input). */
  readonly baselineBytes: number;
  readonly predictPeakBytes: number;
  readonly explainPeakBytes: number;
  /** explainPeakBytes / predictPeakBytes (both including the baseline). */
  readonly ratio: number;
  /** Peak bytes above the baseline: explain / predict. */
  readonly transientRatio: number;
  readonly tensorsBefore: number;
  readonly tensorsAfterPredict: number;
  readonly tensorsAfterExplain: number;
}

/** Builds a benchmark model and its seeded input on `tf`. */
export function buildBenchModel(tf: Tf, name: BenchModelName, batch: number): { model: TfNamespace.LayersModel; x: TfNamespace.Tensor } {
  if (name === 'bench-cnn') return { model: benchCnn.buildBenchCnn(tf), x: benchCnn.benchInput(tf, batch) };
  return { model: mobileNetV2(tf), x: mobileNetInput(tf, batch) };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Times predict and the explain settings on the active backend: one untimed first call each, one
 * warm-up, then interleaved rounds until `minRounds` are done and `budgetMs` is spent (at most
 * `maxRounds`). When the first calls alone take more than half the budget, there is no warm-up
 * and one round is enough; when they take more than the whole budget, they are the measurement
 * (`rounds` 0).
 */
export async function measureSpeed(
  tf: Tf,
  lrp: Lrp,
  name: BenchModelName,
  batch: number,
  opts: { minRounds: number; maxRounds: number; budgetMs: number; now: () => number },
): Promise<SpeedReport> {
  const { model, x } = buildBenchModel(tf, name, batch);
  const settings = settingsOf(name);
  const explainers = settings.map(([, options]) => lrp.createExplainer(model, options));
  try {
    const methods: Array<{ name: string; run: () => TfNamespace.Tensor }> = [
      { name: 'predict', run: () => model.predict(x) as TfNamespace.Tensor },
      ...settings.map(([setting], k) => ({ name: `explain ${setting}`, run: () => explainers[k].explain(x, CLASS_IDX) as TfNamespace.Tensor })),
    ];
    const once = async (run: () => TfNamespace.Tensor): Promise<number> => {
      const t0 = opts.now();
      const r = run();
      await r.data();
      const dt = opts.now() - t0;
      r.dispose();
      return dt;
    };
    const first: number[] = [];
    for (const m of methods) first.push(await once(m.run));
    // A slow case (MobileNet at batch 32 on cpu or a software GPU: minutes a round): when the
    // first calls alone took the whole budget they are the measurement (rounds = 0); when they took
    // half of it, no warm-up and one round.
    const firstTotal = first.reduce((a, b) => a + b, 0);
    const onlyFirst = firstTotal > opts.budgetMs;
    const slow = firstTotal > opts.budgetMs / 2;
    if (!slow) for (const m of methods) await once(m.run);
    const minRounds = slow ? 1 : opts.minRounds;
    const before = tf.memory().numTensors;
    const times: number[][] = methods.map(() => []);
    const start = opts.now();
    let rounds = 0;
    while (!onlyFirst && rounds < opts.maxRounds && (rounds < minRounds || opts.now() - start < opts.budgetMs)) {
      for (const [k, m] of methods.entries()) times[k].push(await once(m.run));
      rounds++;
    }
    if (onlyFirst) first.forEach((t, k) => times[k].push(t));
    const leakedTensors = tf.memory().numTensors - before;
    const timings = methods.map((m, k) => {
      const ratios = times[k].map((t, r) => t / times[0][r]);
      return {
        method: m.name,
        firstMs: first[k],
        medianMs: median(times[k]),
        minMs: Math.min(...times[k]),
        maxMs: Math.max(...times[k]),
        pairedRatio: median(ratios),
        pairedRatioMin: Math.min(...ratios),
        pairedRatioMax: Math.max(...ratios),
        ratios,
      };
    });
    return { model: name, batch, backend: tf.getBackend(), rounds, timings, leakedTensors };
  } finally {
    for (const e of explainers) e.dispose();
    tf.dispose(x);
    model.dispose();
  }
}

/**
 * Peak `tf.memory().numBytes` of one predict and of one explain (setting `setting`, a fresh
 * explainer disposed afterwards, so its weight-derived tensors count), each after a warm-up call.
 */
export async function measureMemory(tf: Tf, lrp: Lrp, name: BenchModelName, batch: number, setting = 'epsilon'): Promise<MemoryReport> {
  const options = (SETTINGS.find(([s]) => s === setting) ?? SETTINGS[0])[1];
  const { model, x } = buildBenchModel(tf, name, batch);
  try {
    const predictOnce = async (): Promise<void> => {
      const r = model.predict(x) as TfNamespace.Tensor;
      await r.data();
      r.dispose();
    };
    const explainOnce = async (): Promise<void> => {
      const explainer = lrp.createExplainer(model, options);
      try {
        const r = explainer.explain(x, CLASS_IDX) as TfNamespace.Tensor;
        await r.data();
        r.dispose();
      } finally {
        explainer.dispose();
      }
    };
    await predictOnce();
    await explainOnce();
    const baselineBytes = tf.memory().numBytes;
    const tensorsBefore = tf.memory().numTensors;
    // tf.profile's peakBytes starts from the bytes alive when it is called
    let predictPeakBytes = 0;
    let explainPeakBytes = 0;
    await tf.profile(async () => {
      await predictOnce();
      return [];
    }).then((p) => (predictPeakBytes = p.peakBytes));
    const tensorsAfterPredict = tf.memory().numTensors;
    await tf.profile(async () => {
      await explainOnce();
      return [];
    }).then((p) => (explainPeakBytes = p.peakBytes));
    const tensorsAfterExplain = tf.memory().numTensors;
    return {
      model: name,
      batch,
      backend: tf.getBackend(),
      setting,
      baselineBytes,
      predictPeakBytes,
      explainPeakBytes,
      ratio: explainPeakBytes / predictPeakBytes,
      transientRatio: (explainPeakBytes - baselineBytes) / Math.max(1, predictPeakBytes - baselineBytes),
      tensorsBefore,
      tensorsAfterPredict,
      tensorsAfterExplain,
    };
  } finally {
    tf.dispose(x);
    model.dispose();
  }
}
