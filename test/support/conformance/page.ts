/**
 * The backend conformance page: in Chromium, on the backend named by `?backend=webgl|webgpu`, it
 * runs the sections of test/support/conformance/runner.ts (the same seeded models and calls as the
 * Node side) and hands the numbers back through `window.__conformance`:
 *
 *     await page.evaluate(() => window.__conformance.ready);          // backend set up
 *     await page.evaluate(() => window.__conformance.run('cases'));   // SectionResult
 *
 * Bundled with esbuild by test/support/conformance/build.ts; the zoo models are fetched from `zoo/`
 * next to the page (served read-only by the test). Small tensors run on the GPU too
 * (`WEBGL_CPU_FORWARD` / `WEBGPU_CPU_FORWARD` off: with them on, tfjs would compute most ops of
 * these small models on the CPU and the GPU kernels would go untested). On WebGPU a synchronous
 * read loses the device in Chromium, so the backend's `readSync` is replaced by one that throws:
 * a call that reads synchronously fails with a message instead of poisoning every later call.
 * tfjs-lrp's `guardWebGPUErrors()` turns the device's `uncapturederror` events (validation errors,
 * which tfjs ignores) into an LrpBackendError on the next read, and the page also collects them.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { guardWebGPUErrors } from '../../../src';
import { runSection } from './runner';
import type { Section, SectionResult } from './spec';

/** What the page sets up before any section runs. */
export interface PageInfo {
  readonly backend: string;
  /** e.g. 'WebGL 2' or 'WebGPU google/swiftshader'. */
  readonly detail: string;
}

/** The page's API on `window.__conformance`. */
export interface ConformanceApi {
  readonly ready: Promise<PageInfo>;
  run(section: Section, zoo?: readonly string[]): Promise<SectionResult>;
  numTensors(): number;
}

/** The part of a GPUDevice the page uses (the WebGPU types are not in the project's lib). */
interface DeviceLike {
  addEventListener(type: 'uncapturederror', listener: (event: Event & { error?: { message?: string } }) => void): void;
  readonly lost: Promise<{ readonly message: string; readonly reason?: string }>;
}

/** The part of tfjs' WebGPUBackend the page uses. */
interface WebGpuBackendLike {
  device: DeviceLike;
  adapterInfo?: { vendor?: string; architecture?: string };
  readSync(dataId: object): unknown;
}

const deviceErrors: string[] = [];

/** Sets the backend named in the URL and prepares it. */
async function setUp(): Promise<PageInfo> {
  const name = new URL(location.href).searchParams.get('backend') ?? 'webgl';
  if (name !== 'webgl' && name !== 'webgpu') throw new Error(`?backend=${name}: expected webgl or webgpu`);
  tf.env().set('WEBGL_CPU_FORWARD', false);
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  // ?shapesUniforms=1 (diagnostics only): tfjs' WEBGL_USE_SHAPES_UNIFORMS compiles far fewer
  // shaders, but with it tfjs 4.22 computed wrong values here (VGG logits off by 100 % after the
  // cases and gradients sections ran in the same page; right when run alone), so it stays off
  const shapes = new URL(location.href).searchParams.get('shapesUniforms');
  if (shapes !== null) tf.env().set('WEBGL_USE_SHAPES_UNIFORMS', shapes === '1');
  if (name === 'webgpu') {
    const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<object | null> } }).gpu;
    if (gpu === undefined) throw new Error('navigator.gpu is missing: launch Chromium with --enable-unsafe-webgpu and serve the page from 127.0.0.1');
    if ((await gpu.requestAdapter()) === null) throw new Error('navigator.gpu.requestAdapter() gave no adapter (try --use-webgpu-adapter=swiftshader)');
  }
  if (!(await tf.setBackend(name)) || tf.getBackend() !== name) throw new Error(`tf.setBackend('${name}') failed`);
  await tf.ready();
  if (name === 'webgl') return { backend: name, detail: `WebGL ${tf.env().getNumber('WEBGL_VERSION')}` };

  const backend = tf.backend() as unknown as WebGpuBackendLike;
  backend.device.addEventListener('uncapturederror', (event) => {
    const message = `WebGPU uncapturederror: ${event.error?.message ?? String(event)}`;
    deviceErrors.push(message);
    console.error(message);
  });
  void backend.device.lost.then((info) => {
    const message = `WebGPU device lost (${info.reason ?? 'unknown'}): ${info.message}`;
    deviceErrors.push(message);
    console.error(message);
  });
  backend.readSync = () => {
    throw new Error('synchronous read (dataSync/arraySync/readSync) on webgpu: it loses the device in Chromium; read with await data()');
  };
  // after the trap, so that the guard wraps it: a GPU error makes the next read throw LrpBackendError
  guardWebGPUErrors();
  const info = backend.adapterInfo;
  return { backend: name, detail: `WebGPU ${info?.vendor ?? '?'}/${info?.architecture ?? '?'}` };
}

const ready = setUp();
ready.catch(() => undefined); // reported through `ready` itself, not as an unhandled rejection

/** Loads a zoo model over HTTP, like a browser user would (model.json and its weight files). */
function loadZooModel(name: string): Promise<tf.LayersModel> {
  return tf.loadLayersModel(new URL(`zoo/${name}/model.json`, location.href).href);
}

const api: ConformanceApi = {
  ready,
  async run(section, zoo = []) {
    const info = await ready;
    const t0 = performance.now();
    const errorsBefore = deviceErrors.length;
    const { calls, fingerprints } = await runSection(section, { loadZooModel, zoo });
    return { backend: info.backend, calls, fingerprints, deviceErrors: deviceErrors.slice(errorsBefore), ms: performance.now() - t0 };
  },
  numTensors: () => tf.memory().numTensors,
};

(window as unknown as { __conformance: ConformanceApi }).__conformance = api;
