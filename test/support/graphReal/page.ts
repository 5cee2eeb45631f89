/**
 * The page of test/graph-real-browser.test.ts: explains the real graph models of
 * @vladmandic/human (served under `models/`, loaded with tf.loadGraphModel over HTTP as a browser
 * user would) on WebGL 2 or WebGPU (`?backend=`), reading every value asynchronously. Bundled
 * with esbuild by the test.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { createExplainer, guardWebGPUErrors, type ExplainOptions } from '../../../src';

/** One explanation the test asks for. */
export interface GraphRealJob {
  /** Model file name under models/ without .json, e.g. 'emotion'. */
  readonly model: string;
  readonly shape: number[];
  readonly data: number[];
  readonly options: ExplainOptions;
}

/** What the page answers per job. */
export interface GraphRealResult {
  readonly model: string;
  readonly shape: number[];
  readonly values: number[];
  /** Tensors left after the explainer and the relevance were disposed (0: no leak). */
  readonly leaked: number;
  readonly ms: number;
}

/** `window.__graphReal`. */
export interface GraphRealApi {
  readonly ready: Promise<string>;
  run(jobs: readonly GraphRealJob[]): Promise<GraphRealResult[]>;
}

async function setUp(): Promise<string> {
  const name = new URL(location.href).searchParams.get('backend') ?? 'webgl';
  if (name !== 'webgl' && name !== 'webgpu') throw new Error(`?backend=${name}: expected webgl or webgpu`);
  tf.env().set('WEBGL_CPU_FORWARD', false);
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  if (name === 'webgpu') {
    const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<object | null> } }).gpu;
    if (gpu === undefined || (await gpu.requestAdapter()) === null) throw new Error('no WebGPU adapter: launch Chromium with --enable-unsafe-webgpu --use-webgpu-adapter=swiftshader');
  }
  if (!(await tf.setBackend(name)) || tf.getBackend() !== name) throw new Error(`tf.setBackend('${name}') failed`);
  await tf.ready();
  if (name === 'webgpu') guardWebGPUErrors();
  return name;
}

const ready = setUp();
ready.catch(() => undefined);

const api: GraphRealApi = {
  ready,
  async run(jobs) {
    await ready;
    const out: GraphRealResult[] = [];
    for (const job of jobs) {
      const t0 = performance.now();
      const model = await tf.loadGraphModel(new URL(`models/${job.model}.json`, location.href).href);
      const x = tf.tensor(job.data, job.shape, 'float32');
      const before = tf.memory().numTensors;
      const explainer = createExplainer(model, job.options);
      const r = explainer.explain(x, 'max') as tf.Tensor;
      const values = Array.from(await r.data());
      const shape = r.shape.slice();
      r.dispose();
      explainer.dispose();
      const leaked = tf.memory().numTensors - before;
      x.dispose();
      model.dispose();
      out.push({ model: job.model, shape, values, leaked, ms: performance.now() - t0 });
    }
    return out;
  },
};

(window as unknown as { __graphReal: GraphRealApi }).__graphReal = api;
