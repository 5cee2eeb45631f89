/**
 * A pool of worker threads, each with its own tf engine, backend, model and explainer: the way to
 * use every core with a single-threaded backend (wasm, cpu). Batches go to whichever worker is
 * free; each batch is explained whole by one worker, so results equal a single-threaded run.
 */
import * as path from 'path';
import { createRequire } from 'module';
import { Worker } from 'worker_threads';
import * as tf from '@tensorflow/tfjs';
import { LrpError } from '../../errors.js';
import type { LoadedModel } from '../loadModel.js';
import type { BatchJob, BatchNumbers, PortableOptions } from './compute.js';
import type { WorkerInit, WorkerReply } from './worker.js';

/** Where the worker script is, and how to start it (TypeScript sources need ts-node). */
export function workerScript(): { file: string; execArgv: string[] } {
  if (typeof __filename === 'string' && typeof __dirname === 'string') {
    const fromSource = __filename.endsWith('.ts');
    return { file: path.join(__dirname, fromSource ? 'worker.ts' : 'worker.js'), execArgv: fromSource ? ['-r', 'ts-node/register/transpile-only'] : [] };
  }
  // ES module build: no __dirname; the CommonJS build of the same package holds the worker
  const req = createRequire(path.join(process.cwd(), 'noop.js'));
  return { file: path.join(path.dirname(req.resolve('tfjs-lrp/node')), 'batch', 'worker.js'), execArgv: [] };
}

/**
 * The model as in-memory artifacts (topology + one weight buffer), to send to workers; a graph
 * model's artifacts keep `format: 'graph-model'`, which tells the worker how to load them.
 */
export async function modelArtifacts(model: LoadedModel): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | null = null;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const a = saved as unknown as tf.io.ModelArtifacts;
  const wd = a.weightData as ArrayBuffer | ArrayBuffer[] | undefined;
  if (Array.isArray(wd)) {
    const total = wd.reduce((n, b) => n + b.byteLength, 0);
    const all = new Uint8Array(total);
    let o = 0;
    for (const b of wd) {
      all.set(new Uint8Array(b), o);
      o += b.byteLength;
    }
    return { ...a, weightData: all.buffer };
  }
  return a;
}

interface Slot {
  readonly worker: Worker;
  /** Jobs sent to this worker, oldest first (it explains them in order). */
  readonly jobs: Array<{ seq: number; resolve(r: BatchNumbers): void; reject(e: Error): void }>;
}

/**
 * Jobs in flight per worker: the next batch waits in the worker while it explains the current
 * one, so a worker never idles for a round trip through the (busy) main thread.
 */
const JOBS_PER_WORKER = 2;

/** Worker threads explaining batches. */
export class WorkerPool {
  /** The backend every worker uses. */
  readonly backend: string;
  private readonly slots: Slot[];
  private readonly queue: Array<{ seq: number; job: BatchJob; resolve(r: BatchNumbers): void; reject(e: Error): void }> = [];
  private failure: Error | null = null;
  private seq = 0;
  private closed = false;

  private constructor(slots: Slot[], backend: string) {
    this.slots = slots;
    this.backend = backend;
  }

  /**
   * Starts `count` workers on `backend` with the model and options; resolves when every worker
   * has loaded the model (and explained one batch of zeros of shape `warmup`, if given, so that
   * start-up costs are paid before the first real batch; one item is enough, and costs a batch's
   * memory only for that one item).
   */
  static async start(count: number, artifacts: tf.io.ModelArtifacts, backend: string, options: PortableOptions, warmup?: number[]): Promise<WorkerPool> {
    const { file, execArgv } = workerScript();
    const slots: Slot[] = [];
    const backends: string[] = [];
    try {
      await Promise.all(
        Array.from({ length: count }, async () => {
          const worker = new Worker(file, { execArgv, stdout: false, stderr: false });
          const slot: Slot = { worker, jobs: [] };
          slots.push(slot);
          const ready = await new Promise<string>((resolve, reject) => {
            const onMessage = (m: WorkerReply) => {
              worker.off('error', onError);
              if (m.type === 'ready') resolve(m.backend);
              else reject(new LrpError(`A worker failed to start: ${m.type === 'error' ? `${m.name}: ${m.message}` : 'unexpected message'}`));
            };
            const onError = (e: Error) => reject(new LrpError(`A worker failed to start: ${e.message}`));
            worker.once('message', onMessage);
            worker.once('error', onError);
            const init: WorkerInit = { type: 'init', backend, artifacts, options, warmup };
            worker.postMessage(init);
          });
          backends.push(ready);
        }),
      );
    } catch (e) {
      await Promise.all(slots.map((s) => s.worker.terminate()));
      throw e;
    }
    const pool = new WorkerPool(slots, backends[0]);
    for (const slot of slots) pool.listen(slot);
    return pool;
  }

  /** Number of workers. */
  get size(): number {
    return this.slots.length;
  }

  private listen(slot: Slot): void {
    slot.worker.on('message', (m: WorkerReply) => {
      const job = slot.jobs[0];
      if (job === undefined || (m.type !== 'result' && m.type !== 'error') || m.seq !== job.seq) return;
      slot.jobs.shift();
      if (m.type === 'result') job.resolve(m.result);
      else {
        const err = new LrpError(`Explaining a batch failed in a worker: ${m.name}: ${m.message}`);
        err.name = m.name;
        job.reject(err);
      }
      this.dispatch();
    });
    const fail = (e: Error) => {
      if (this.closed) return;
      this.failure = this.failure ?? new LrpError(`A worker thread stopped: ${e.message}`);
      for (const j of slot.jobs.splice(0)) j.reject(this.failure);
      for (const q of this.queue.splice(0)) q.reject(this.failure);
    };
    slot.worker.on('error', fail);
    slot.worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
  }

  private dispatch(): void {
    // fill the least busy worker first, up to JOBS_PER_WORKER each
    for (;;) {
      if (this.queue.length === 0) return;
      let slot: Slot | null = null;
      for (const s of this.slots) if (s.jobs.length < JOBS_PER_WORKER && (slot === null || s.jobs.length < slot.jobs.length)) slot = s;
      if (slot === null) return;
      const next = this.queue.shift() as (typeof this.queue)[number];
      slot.jobs.push({ seq: next.seq, resolve: next.resolve, reject: next.reject });
      slot.worker.postMessage({ type: 'batch', seq: next.seq, job: next.job }, [next.job.data.buffer as ArrayBuffer]);
    }
  }

  /** Explains a batch on the next free worker. The job's data buffer is transferred (unusable after). */
  run(job: BatchJob): Promise<BatchNumbers> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new LrpError('The worker pool is closed.'));
    return new Promise((resolve, reject) => {
      this.queue.push({ seq: this.seq++, job, resolve, reject });
      this.dispatch();
    });
  }

  /** Stops every worker. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const q of this.queue.splice(0)) q.reject(new LrpError('The worker pool was closed.'));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
