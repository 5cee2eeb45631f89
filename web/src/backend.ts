/**
 * Picks the page's TensorFlow.js backend: webgl when the browser has WebGL, else wasm (binaries
 * served next to the page, see vite.config.mts), else cpu. `?backend=wasm` (or cpu, webgl) in the
 * URL forces one. `?backend=webgpu` (only when asked: never in the automatic order) loads
 * @tensorflow/tfjs-backend-webgpu as a separate chunk and installs tfjs-lrp's WebGPU error guard,
 * so a GPU validation error surfaces as an LrpBackendError instead of wrong numbers; it falls back
 * to the automatic order where the browser has no WebGPU.
 */
import * as tf from '@tensorflow/tfjs';
import { guardWebGPUErrors } from 'tfjs-lrp';

export interface BackendInfo {
  /** The backend in use: 'webgpu', 'webgl', 'wasm' or 'cpu'. */
  readonly name: string;
  /** A short human description, e.g. 'WebGL 2' or 'WebAssembly, SIMD'. */
  readonly detail: string;
}

const ORDER = ['webgl', 'wasm', 'cpu'] as const;
/** Backends used only when the URL asks for them. */
const ON_REQUEST = ['webgpu'] as const;

async function tryBackend(name: string): Promise<boolean> {
  try {
    if (name === 'wasm') {
      // loaded only when needed: a separate chunk
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      wasm.setWasmPaths(new URL('wasm/', document.baseURI).href);
    }
    if (name === 'webgpu') {
      if (!('gpu' in navigator)) throw new Error('navigator.gpu is missing (WebGPU needs a secure context and a browser that has it)');
      await import('@tensorflow/tfjs-backend-webgpu'); // registers the backend; a separate chunk
    }
    if (!(await tf.setBackend(name))) return false;
    await tf.ready();
    if (tf.getBackend() !== name) return false;
    // tfjs ignores the device's validation errors: make the next read throw instead of returning garbage
    if (name === 'webgpu') guardWebGPUErrors();
    return true;
  } catch (err) {
    console.info(`backend ${name} unavailable: ${(err as Error).message}`);
    return false;
  }
}

function describe(name: string): string {
  if (name === 'webgpu') return 'WebGPU';
  if (name === 'webgl') return `WebGL ${tf.env().getNumber('WEBGL_VERSION')}`;
  if (name === 'wasm') return `WebAssembly${tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? ', SIMD' : ''}`;
  return 'JavaScript';
}

/** Sets the first backend that works (the forced one first) and describes it. */
export async function chooseBackend(forced: string | null): Promise<BackendInfo> {
  const known: readonly string[] = [...ORDER, ...ON_REQUEST];
  const order = forced !== null && known.includes(forced) ? [forced, ...ORDER.filter((b) => b !== forced)] : [...ORDER];
  for (const name of order) {
    if (await tryBackend(name)) return { name, detail: describe(name) };
  }
  throw new Error('no TensorFlow.js backend could be initialised');
}
