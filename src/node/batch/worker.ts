/**
 * Worker thread entry: its own tf engine, backend, model and explainer; explains the batches it
 * is sent (see ./workers). Started by WorkerPool, never imported by library code.
 */
import { isMainThread, parentPort } from 'worker_threads';
import * as tf from '@tensorflow/tfjs';
import { createExplainer, type Explainer } from '../../explain.js';
import { BACKEND_CHOICES, releaseBackend, selectBackend, type BackendChoice } from './backend.js';
import { computeBatch, type BatchJob, type PortableOptions } from './compute.js';
import { withoutWarnings } from './quiet.js';

/** The first message a worker receives. */
export interface WorkerInit {
  readonly type: 'init';
  readonly backend: BackendChoice | string;
  readonly artifacts: tf.io.ModelArtifacts;
  readonly options: PortableOptions;
  /**
   * A batch shape to explain once (zeros) before reporting ready: compiles kernels, builds
   * weight-derived tensors. Keep it small (explainDataset sends one item: a full batch of zeros
   * would cost a whole batch's memory in every worker before any item is read).
   */
  readonly warmup?: number[];
}

/** Messages a worker sends. */
export type WorkerReply =
  | { readonly type: 'ready'; readonly backend: string }
  | { readonly type: 'result'; readonly seq: number; readonly result: import('./compute.js').BatchNumbers }
  | { readonly type: 'error'; readonly seq: number; readonly name: string; readonly message: string };

if (!isMainThread && parentPort !== null) {
  const port = parentPort;
  let model: tf.LayersModel | tf.GraphModel | null = null;
  let explainer: Explainer | null = null;
  let output = 0;
  // tfjs' one-time "install tfjs-node" banner, once per worker, is noise here
  const warn = console.warn.bind(console);
  console.warn = (...args: unknown[]): void => {
    if (typeof args[0] === 'string' && args[0].includes('looks like you are running TensorFlow.js in Node.js')) return;
    warn(...args);
  };
  // messages are handled one after another (batches may be queued while one is explained)
  let chain: Promise<void> = Promise.resolve();
  port.on('message', (msg: WorkerInit | { type: 'batch'; seq: number; job: BatchJob } | { type: 'close' }) => {
    chain = chain.then(async () => {
      if (msg.type === 'init') {
        try {
          const choice = msg.backend;
          await selectBackend(((BACKEND_CHOICES as readonly string[]).includes(choice) ? choice : 'auto') as BackendChoice);
          // the main thread loaded this model first and showed its load warnings once
          const artifacts = msg.artifacts;
          // a graph model's artifacts say so (format 'graph-model'): see modelArtifacts()
          const loaded: tf.LayersModel | tf.GraphModel = await withoutWarnings<tf.LayersModel | tf.GraphModel>(() => (artifacts.format === 'graph-model' ? tf.loadGraphModel(tf.io.fromMemory(artifacts)) : tf.loadLayersModel(tf.io.fromMemory(artifacts))));
          model = loaded;
          explainer = createExplainer(loaded, msg.options);
          output = explainer.plan.graph.outputIndex;
          if (msg.warmup !== undefined) {
            // the same path as a real batch, twice (the first call builds, the second runs warm)
            for (let k = 0; k < 2; k++) {
              await computeBatch(explainer, model, { batchIndex: -1, indices: new Array<number>(msg.warmup[0]).fill(0), shape: msg.warmup.slice(1), data: new Float32Array(msg.warmup.reduce((a, b) => a * b, 1)), classes: new Array<'max'>(msg.warmup[0]).fill('max') }, output);
            }
          }
          port.postMessage({ type: 'ready', backend: tf.getBackend() } satisfies WorkerReply);
        } catch (e) {
          port.postMessage({ type: 'error', seq: -1, name: (e as Error).name, message: (e as Error).message } satisfies WorkerReply);
        }
      } else if (msg.type === 'batch') {
        try {
          if (explainer === null || model === null) throw new Error('worker not initialised');
          const result = await computeBatch(explainer, model, msg.job, output);
          port.postMessage({ type: 'result', seq: msg.seq, result } satisfies WorkerReply, [result.relevance.buffer as ArrayBuffer]);
        } catch (e) {
          port.postMessage({ type: 'error', seq: msg.seq, name: (e as Error).name, message: (e as Error).message } satisfies WorkerReply);
        }
      } else if (msg.type === 'close') {
        explainer?.dispose();
        model?.dispose();
        releaseBackend(tf.getBackend()); // a WebGPU device would keep the thread alive
        port.close();
      }
    });
  });
}
