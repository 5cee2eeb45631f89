/**
 * One batch explained: the work a worker thread (or the main thread, with one worker) does.
 * Inputs and results are plain typed arrays, so they cross thread boundaries cheaply.
 */
import * as tf from '@tensorflow/tfjs';
import type { Explainer } from '../../explain.js';
import type { ExplainOptions } from '../../options.js';
import type { LoadedModel } from '../loadModel.js';
import { isGraphModelLike } from './modelOutputs.js';
import { isFloat32Array } from './typed.js';

/** A batch ready to explain: the valid items of one index block. */
export interface BatchJob {
  readonly batchIndex: number;
  /** Global indices of the items (valid items only). */
  readonly indices: number[];
  /** Item shape without the batch axis. */
  readonly shape: number[];
  /** `indices.length × size` float32 values. */
  readonly data: Float32Array;
  /** Per item: the class, or 'max' for the top score. */
  readonly classes: Array<number | 'max'>;
}

/** The numbers of an explained batch. */
export interface BatchNumbers {
  readonly batchIndex: number;
  readonly classIdx: number[];
  readonly scores: number[];
  /** Relevance, `n × size` float32. */
  readonly relevance: Float32Array;
  readonly outputSum: number[];
  readonly inputSum: number[];
  readonly absorbed: number[];
  readonly relativeError: number[];
}

/** The options a worker can receive (names and numbers only: no functions, no tensors). */
export type PortableOptions = Omit<ExplainOptions, 'low' | 'high' | 'outputRelevance' | 'baseline'> & { low?: number; high?: number };

/**
 * The class list for a batch: a single 'max', or one number per item (mixed: 'max' resolved by a
 * forward pass, read asynchronously — no synchronous device read on any backend).
 */
async function resolveClasses(model: LoadedModel, x: tf.Tensor, classes: Array<number | 'max'>, output: number): Promise<number[] | 'max'> {
  if (classes.every((c) => c === 'max')) return 'max';
  if (classes.every((c) => c !== 'max')) return classes as number[];
  const argMax = tf.tidy(() => {
    // a graph model: execute returns the output nodes in model.outputs order
    const y = isGraphModelLike(model) ? model.execute(x) : model.predict(x);
    const out = Array.isArray(y) ? y[output] : (y as tf.Tensor);
    return tf.argMax(tf.reshape(out, [x.shape[0], -1]), 1);
  });
  let top: ArrayLike<number>;
  try {
    top = (await argMax.data()) as Int32Array;
  } finally {
    argMax.dispose();
  }
  return classes.map((c, k) => (c === 'max' ? top[k] : c));
}

/** Explains one batch with `explainer` (LRP, with conservation), leaving no tensor behind. */
export async function computeBatch(explainer: Explainer, model: LoadedModel, job: BatchJob, output = 0): Promise<BatchNumbers> {
  const n = job.indices.length;
  const x = tf.tensor(job.data, [n, ...job.shape], 'float32');
  let relevance: tf.Tensor | null = null;
  try {
    const cls = await resolveClasses(model, x, job.classes, output);
    const res = await explainer.explainWithConservation(x, cls);
    relevance = res.relevance as tf.Tensor;
    const data = await relevance.data();
    const rel = isFloat32Array(data) && data.byteOffset === 0 && data.buffer.byteLength === data.byteLength ? data : Float32Array.from(data as Float32Array);
    const c = res.conservation;
    return {
      batchIndex: job.batchIndex,
      classIdx: c.classIdx,
      scores: c.score,
      relevance: rel,
      outputSum: c.outputSum,
      inputSum: c.inputSum,
      absorbed: c.absorbed,
      relativeError: c.relativeError,
    };
  } finally {
    x.dispose();
    relevance?.dispose();
  }
}
