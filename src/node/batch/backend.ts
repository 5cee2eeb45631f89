/**
 * Backend choice for batch runs: 'auto' is `@tensorflow/tfjs-node` ('tensorflow') when it is
 * installed, else wasm (`@tensorflow/tfjs-backend-wasm`), else cpu; 'webgpu' is WebGPU through
 * Dawn (the `webgpu` package, see ../webgpu.ts), never chosen by 'auto' (on a machine without a
 * GPU it runs on a software rasterizer). Every optional package is loaded dynamically and never
 * required.
 */
import * as tf from '@tensorflow/tfjs';
import { LrpArgumentError } from '../../errors.js';
import { releaseWebGPU, useWebGPU } from '../webgpu.js';

/** What `--backend` accepts. */
export type BackendChoice = 'auto' | 'tensorflow' | 'wasm' | 'cpu' | 'webgpu';

/** The backend names `--backend` accepts. */
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'tensorflow', 'wasm', 'cpu', 'webgpu'];

/** The backend in use. */
export interface BackendInfo {
  /** tf's backend name: 'tensorflow', 'wasm', 'cpu', 'webgpu' (or another backend set by the caller). */
  readonly name: string;
  /** Whether the backend uses several cores by itself (then one worker is enough). */
  readonly multiThreaded: boolean;
  /** Why preferred backends were skipped (auto). */
  readonly skipped: string[];
  /** The WebGPU adapter in words (webgpu only). */
  readonly adapter?: string;
}

const PACKAGES: Record<string, string> = { tensorflow: '@tensorflow/tfjs-node', wasm: '@tensorflow/tfjs-backend-wasm' };

type Loadable = Exclude<BackendChoice, 'auto'>;

async function tryLoad(name: Loadable): Promise<string | null> {
  try {
    if (name !== 'cpu') {
      const pkg = PACKAGES[name]; // a variable: bundlers and tsc leave the optional packages alone
      await import(pkg);
    }
    if (!(await tf.setBackend(name))) return `${name}: tf.setBackend('${name}') failed`;
    await tf.ready();
    return tf.getBackend() === name ? null : `${name}: did not become the active backend`;
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0];
    return `${name}: ${name === 'cpu' ? msg : `${PACKAGES[name]} is not installed or did not load (${msg})`}`;
  }
}

/** Whether a backend name is multi-threaded by itself. */
export function isMultiThreaded(name: string): boolean {
  return name === 'tensorflow' || name === 'webgl' || name === 'webgpu';
}

/**
 * Sets the backend: 'auto' tries tensorflow (tfjs-node), then wasm, then cpu; a named backend
 * must load. 'webgpu' runs `useWebGPU()`: call `releaseBackend` when done, or Node does not
 * exit (Dawn keeps the process alive while its device lives).
 *
 * @throws {LrpArgumentError} (argument `--backend`) for an unknown name or a backend that does not load
 */
export async function selectBackend(choice: BackendChoice = 'auto'): Promise<BackendInfo> {
  if (!BACKEND_CHOICES.includes(choice)) {
    throw new LrpArgumentError('--backend', `unknown backend ${JSON.stringify(choice)}; choose one of ${BACKEND_CHOICES.join(', ')}.`);
  }
  if (choice === 'webgpu') {
    try {
      const info = await useWebGPU();
      return { name: 'webgpu', multiThreaded: true, skipped: [], adapter: info.adapter };
    } catch (e) {
      throw new LrpArgumentError('--backend', `webgpu: ${(e as Error).message} Or use --backend wasm.`);
    }
  }
  const order: Loadable[] = choice === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [choice];
  const skipped: string[] = [];
  for (const name of order) {
    const why = await tryLoad(name);
    if (why === null) return { name, multiThreaded: isMultiThreaded(name), skipped };
    skipped.push(why);
  }
  const hint = choice === 'tensorflow' ? ' Install it with `npm install @tensorflow/tfjs-node`, or use --backend wasm.' : choice === 'wasm' ? ' Install it with `npm install @tensorflow/tfjs-backend-wasm`, or use --backend cpu.' : '';
  throw new LrpArgumentError('--backend', `${skipped.join('; ')}.${hint}`);
}

/**
 * Releases what {@link selectBackend} set up that would keep Node alive: the WebGPU device (tf's
 * 'webgpu' backend is removed). Nothing to do for the other backends.
 */
export function releaseBackend(name: string): void {
  if (name === 'webgpu') releaseWebGPU();
}
