/**
 * Picks the page's TensorFlow.js backend: webgl when the browser has WebGL, else wasm (binaries
 * served next to the page, see vite.config.mts), else cpu. `?backend=wasm` (or cpu, webgl) in the
 * URL forces one.
 */
import * as tf from '@tensorflow/tfjs';

export interface BackendInfo {
  /** The backend in use: 'webgl', 'wasm' or 'cpu'. */
  readonly name: string;
  /** A short human description, e.g. 'WebGL 2' or 'WebAssembly, SIMD'. */
  readonly detail: string;
}

const ORDER = ['webgl', 'wasm', 'cpu'] as const;

async function tryBackend(name: string): Promise<boolean> {
  try {
    if (name === 'wasm') {
      // loaded only when needed: a separate chunk
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      wasm.setWasmPaths(new URL('wasm/', document.baseURI).href);
    }
    if (!(await tf.setBackend(name))) return false;
    await tf.ready();
    return tf.getBackend() === name;
  } catch (err) {
    console.info(`backend ${name} unavailable: ${(err as Error).message}`);
    return false;
  }
}

function describe(name: string): string {
  if (name === 'webgl') return `WebGL ${tf.env().getNumber('WEBGL_VERSION')}`;
  if (name === 'wasm') return `WebAssembly${tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? ', SIMD' : ''}`;
  return 'JavaScript';
}

/** Sets the first backend that works (the forced one first) and describes it. */
export async function chooseBackend(forced: string | null): Promise<BackendInfo> {
  const order = forced !== null && (ORDER as readonly string[]).includes(forced) ? [forced, ...ORDER.filter((b) => b !== forced)] : [...ORDER];
  for (const name of order) {
    if (await tryBackend(name)) return { name, detail: describe(name) };
  }
  throw new Error('no TensorFlow.js backend could be initialised');
}
