/**
 * The calls of the backend conformance run, written once and run twice: in Chromium by the page
 * (test/support/conformance/page.ts, on WebGL 2 or WebGPU) and in Node by the jest test on the cpu
 * backend, so that both sides explain the same seeded models in the same order with the same
 * options. Every result is read asynchronously (`await t.data()`; never `dataSync`, which loses
 * the WebGPU device in Chromium), and every call is leak-checked (`tf.memory().numTensors` before
 * and after, results and explainer disposed).
 */
import * as tf from '@tensorflow/tfjs';
import { COMPOSITE_NAMES, createExplainer, explain } from '../../../src';
import type { ConservationReport, ExplainOptions, Relevance } from '../../../src';
import { CONFIGS } from '../../configs';
import { CONFIGS as FAMILY_CONFIGS, FAMILIES, HIGH, LOW, makeInputs, seededWeights } from '../../families';
import { uniform } from '../../helpers';
import { CASES, smallImageCnn } from '../../models';
import { maxPoolTranspose } from '../../../src/ops/pool';
import type { CallResult, ConservationNumbers, Fingerprint, Section } from './spec';
import { callKey, CONSERVATION_CONFIGS, CONTINUOUS_METHODS, FAMILY_INPUT_SEED, FAMILY_WEIGHT_SEED, fnv1a, GRADIENT_METHODS, MAX_POOL_TIES, ZOO_BATCH, ZOO_BATCH_OVERRIDE, ZOO_INPUT_SEED, zooOptions } from './spec';

/** Where the runner gets what differs between the page and Node. */
export interface RunnerEnv {
  /** Loads a model of ../shared/zoo by folder name (the page: over HTTP; Node: from disk). */
  loadZooModel(name: string): Promise<tf.LayersModel>;
  /** The zoo models to run (empty: none). */
  readonly zoo: readonly string[];
  /** Called after each call (progress, or a check of the device). */
  onCall?(result: CallResult): void;
}

/** What a section produced on the current backend. */
export interface RunnerOutput {
  readonly calls: CallResult[];
  readonly fingerprints: Fingerprint[];
}

const asList = (r: Relevance): tf.Tensor[] => (Array.isArray(r) ? r : [r]);
const input = (xs: tf.Tensor[]): tf.Tensor | tf.Tensor[] => (xs.length === 1 ? xs[0] : xs);

/** The typed array of a tensor's values, read asynchronously. */
async function values(t: tf.Tensor): Promise<Float32Array | Int32Array | Uint8Array> {
  return (await t.data()) as Float32Array | Int32Array | Uint8Array;
}

/** A fingerprint of every weight of `model` and of its inputs (async reads only). */
async function fingerprint(key: string, model: tf.LayersModel, inputs: tf.Tensor[]): Promise<Fingerprint> {
  const arrays: Array<Float32Array | Int32Array | Uint8Array> = [];
  for (const w of model.weights) arrays.push(await values(w.read()));
  for (const x of inputs) arrays.push(await values(x));
  return { key, hash: fnv1a(arrays), count: arrays.reduce((n, a) => n + a.length, 0) };
}

function numbers(report: ConservationReport): ConservationNumbers {
  return {
    classIdx: report.classIdx,
    score: report.score,
    outputSum: report.outputSum,
    inputSum: report.inputSum,
    absorbed: report.absorbed,
    layers: report.layers?.map((l) => ({ layer: l.layer, upper: l.upper, lower: l.lower })),
  };
}

/**
 * One explained call: a fresh explainer, `explain` or `explainWithConservation`, the relevance read
 * with `await data()`, everything disposed, and the tensor count compared with the one before.
 */
async function explainCall(key: string, model: tf.LayersModel, inputs: tf.Tensor[], classIdx: number[] | 'max', options: ExplainOptions, conservation: false | { perLayer: boolean }): Promise<CallResult> {
  const t0 = performance.now();
  const before = tf.memory().numTensors;
  const relevance: Array<CallResult['relevance'][number]> = [];
  let report: ConservationReport | undefined;
  let error: string | undefined;
  let explainer: ReturnType<typeof createExplainer> | null = null;
  try {
    explainer = createExplainer(model, options);
    let result: Relevance;
    if (conservation === false) result = explainer.explain(input(inputs), classIdx);
    else ({ relevance: result, conservation: report } = await explainer.explainWithConservation(input(inputs), classIdx, conservation));
    const list = asList(result);
    try {
      for (const t of list) relevance.push({ shape: t.shape.slice(), dtype: t.dtype as string, values: Array.from(await values(t)) });
    } finally {
      tf.dispose(list);
    }
  } catch (e) {
    error = `${(e as Error).name}: ${(e as Error).message}`;
    relevance.length = 0;
  } finally {
    explainer?.dispose();
  }
  const leaked = tf.memory().numTensors - before;
  return { key, relevance, conservation: report === undefined ? undefined : numbers(report), leaked, error, ms: performance.now() - t0 };
}

/** Whether the model (or a nested one) has an Embedding layer: its input is token ids. */
function hasEmbedding(model: tf.LayersModel): boolean {
  return model.layers.some((l) => l.getClassName() === 'Embedding' || ('layers' in l && hasEmbedding(l as unknown as tf.LayersModel)));
}

/** Runs `fn` over a freshly built model and disposes the model and inputs afterwards. */
async function withModel(model: tf.LayersModel, inputs: tf.Tensor[], fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } finally {
    tf.dispose(inputs);
    model.dispose();
  }
}

/** Runs one section on the current backend (set it first) and returns every call's result. */
export async function runSection(section: Section, env: RunnerEnv): Promise<RunnerOutput> {
  const calls: CallResult[] = [];
  const fingerprints: Fingerprint[] = [];
  const record = (r: CallResult): void => {
    calls.push(r);
    env.onCall?.(r);
  };

  if (section === 'cases' || section === 'gradients') {
    for (const testCase of CASES) {
      const { model, inputs } = testCase.build();
      const bounds = testCase.bounds ?? [-1, 1];
      await withModel(model, inputs, async () => {
        fingerprints.push(await fingerprint(callKey(section, testCase.name), model, inputs));
        if (section === 'cases') {
          // the conservation configs through explainWithConservation (per layer), the rest through explain
          for (const c of CONFIGS) {
            const conservation = CONSERVATION_CONFIGS.includes(c.label) ? { perLayer: true } : false;
            record(await explainCall(callKey(testCase.name, c.label), model, inputs, testCase.classes, c.options(bounds), conservation));
          }
        } else {
          const tokens = hasEmbedding(model);
          for (const [label, options] of GRADIENT_METHODS) {
            if (tokens && CONTINUOUS_METHODS.includes(label)) continue;
            record(await explainCall(callKey(testCase.name, label), model, inputs, testCase.classes, options, false));
          }
        }
      });
    }
  }

  if (section === 'families') {
    for (const family of FAMILIES) {
      const model = family.build(false);
      seededWeights(model, FAMILY_WEIGHT_SEED, false);
      const xs = makeInputs(model, family, FAMILY_INPUT_SEED, LOW, HIGH);
      await withModel(model, xs, async () => {
        fingerprints.push(await fingerprint(callKey(section, family.name), model, xs));
        // the model runs once first, as in test/architectures.test.ts (no lazy first-run tensors)
        const warm = asList(explain(model, input(xs), 'max'));
        await Promise.all(warm.map((t) => t.data()));
        tf.dispose(warm);
        for (const output of family.outputs ?? [0]) {
          for (const [label, options] of FAMILY_CONFIGS) {
            record(await explainCall(callKey(family.name, `output ${output}`, label), model, xs, 'max', { ...options, output }, { perLayer: false }));
          }
        }
      });
    }
  }

  if (section === 'zoo') {
    for (const name of env.zoo) {
      const model = await env.loadZooModel(name);
      const inputs = model.inputs.map((t, i) => uniform([ZOO_BATCH_OVERRIDE[name] ?? ZOO_BATCH, ...(t.shape.slice(1) as number[])], ZOO_INPUT_SEED + i, 0, 1));
      await withModel(model, inputs, async () => {
        fingerprints.push(await fingerprint(callKey(section, name), model, inputs));
        for (const composite of COMPOSITE_NAMES) {
          record(await explainCall(callKey(name, composite), model, inputs, 'max', zooOptions(composite, model.outputs.length), { perLayer: true }));
        }
      });
    }
  }
  if (section === 'ops') {
    for (const [kh, kw, sh, sw, h, w, padding] of MAX_POOL_TIES) {
      const key = callKey('maxPool ties', `${kh}×${kw}`, `stride ${sh}×${sw}`, `${h}×${w}`, padding);
      const t0 = performance.now();
      const before = tf.memory().numTensors;
      const made: tf.Tensor[] = [];
      let relevance: CallResult['relevance'] = [];
      let error: string | undefined;
      try {
        // six small integers, made in JavaScript (the same bits on every backend)
        const draws = uniform([2, h, w, 3], 11);
        made.push(draws);
        const u = (await values(draws)) as Float32Array;
        const x = tf.tensor4d(u.map((v) => Math.floor(3 * v)), [2, h, w, 3]);
        made.push(x);
        const pooled = tf.maxPool(x, [kh, kw], [sh, sw], padding);
        made.push(pooled);
        const dy = uniform(pooled.shape, 12) as tf.Tensor4D;
        made.push(dy);
        fingerprints.push({ key, hash: fnv1a([await values(x), await values(dy)]), count: x.size + dy.size });
        const r = tf.tidy(() => maxPoolTranspose(x, pooled, dy, [kh, kw], [sh, sw], padding));
        made.push(r);
        relevance = [{ shape: r.shape.slice(), dtype: r.dtype as string, values: Array.from(await values(r)) }];
      } catch (e) {
        error = `${(e as Error).name}: ${(e as Error).message}`;
        relevance = [];
      } finally {
        tf.dispose(made);
      }
      record({ key, relevance, leaked: tf.memory().numTensors - before, error, ms: performance.now() - t0 });
    }
    // the input declared ≥ 0 (options.inputNonNegative): the first conv's z⁺/αβ on x, and the sign
    // check on the device (a negated sample gets NaN relevance; read here through ops, since reading
    // the relevance itself throws)
    for (const composite of ['epsilonPlus', 'epsilonAlpha2Beta1'] as const) {
      const key = callKey('inputNonNegative', composite);
      const t0 = performance.now();
      const before = tf.memory().numTensors;
      const model = smallImageCnn();
      seededWeights(model, FAMILY_WEIGHT_SEED, false);
      const made: tf.Tensor[] = [];
      let relevance: CallResult['relevance'] = [];
      let error: string | undefined;
      try {
        // values in [0, 1] with zeros, then the first sample negated: made in JavaScript (the same
        // bits on every backend)
        const draws = uniform([2, 6, 6, 3], 13, -0.3, 1);
        made.push(draws);
        const good = Array.from((await values(draws)) as Float32Array, (v) => Math.max(v, 0));
        const x = tf.tensor4d([...good, ...good.slice(0, 6 * 6 * 3).map((v) => (v === 0 ? 0 : -v))], [3, 6, 6, 3]);
        made.push(x);
        fingerprints.push({ key, hash: fnv1a([await values(x)]), count: x.size });
        const explainer = createExplainer(model, { composite, inputNonNegative: true });
        let r: tf.Tensor;
        try {
          r = explainer.explain(x, [0, 1, 2]) as tf.Tensor;
        } finally {
          explainer.dispose();
        }
        made.push(r);
        const goodRows = tf.slice(r, [0, 0, 0, 0], [2, -1, -1, -1]);
        const nanCounts = tf.tidy(() => tf.sum(tf.cast(tf.isNaN(tf.reshape(r, [3, -1])), 'float32'), 1));
        made.push(goodRows, nanCounts);
        relevance = [];
        for (const t of [goodRows, nanCounts]) relevance = [...relevance, { shape: t.shape.slice(), dtype: t.dtype as string, values: Array.from(await values(t)) }];
      } catch (e) {
        error = `${(e as Error).name}: ${(e as Error).message}`;
        relevance = [];
      } finally {
        tf.dispose(made);
        model.dispose();
      }
      record({ key, relevance, leaked: tf.memory().numTensors - before, error, ms: performance.now() - t0 });
    }
  }
  return { calls, fingerprints };
}
