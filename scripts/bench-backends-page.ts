/**
 * The page side of `npm run bench:backends` (bundled by esbuild with its own tf, the WebGL and
 * WebGPU backends and the engine from src/): `window.__benchBackends.speed(...)` and `.memory(...)`
 * run scripts/bench-backends-core.ts on the backend the page was opened with.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import * as lrp from '../src';
import { BenchModelName, measureMemory, measureSpeed, MemoryReport, SpeedReport } from './bench-backends-core';

/** What the page offers to the benchmark driver. */
export interface BenchPage {
  /** Sets the backend (webgl, webgpu, wasm, cpu) and describes the device. */
  init(backend: string): Promise<{ backend: string; device: string; tfjs: string }>;
  speed(model: BenchModelName, batch: number, minRounds: number, maxRounds: number, budgetMs: number): Promise<SpeedReport>;
  memory(model: BenchModelName, batch: number, setting: string): Promise<MemoryReport>;
}

function deviceOf(backend: string): string {
  if (backend === 'webgl') {
    const gl = document.createElement('canvas').getContext('webgl2');
    const ext = gl?.getExtension('WEBGL_debug_renderer_info');
    return gl !== null && gl !== undefined && ext !== null && ext !== undefined ? String(gl.getParameter(ext.UNMASKED_RENDERER_WEBGL)) : 'WebGL 2';
  }
  if (backend === 'webgpu') {
    const info = (tf.backend() as unknown as { adapterInfo?: { vendor?: string; architecture?: string } }).adapterInfo;
    return `WebGPU ${info?.vendor ?? ''} ${info?.architecture ?? ''}`.trim();
  }
  return backend;
}

const page: BenchPage = {
  async init(backend) {
    if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} did not initialise`);
    await tf.ready();
    tf.enableProdMode();
    // a GPU validation error becomes an LrpBackendError on the next read, never a wrong number
    if (backend === 'webgpu') lrp.guardWebGPUErrors();
    return { backend: tf.getBackend(), device: deviceOf(backend), tfjs: tf.version.tfjs };
  },
  speed: (model, batch, minRounds, maxRounds, budgetMs) => measureSpeed(tf, lrp, model, batch, { minRounds, maxRounds, budgetMs, now: () => performance.now() }),
  memory: (model, batch, setting) => measureMemory(tf, lrp, model, batch, setting),
};

(window as unknown as { __benchBackends: BenchPage }).__benchBackends = page;
