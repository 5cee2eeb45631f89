/**
 * Backend choice for batch runs: `@tensorflow/tfjs-node` ('tensorflow') when it is installed,
 * else wasm (`@tensorflow/tfjs-backend-wasm`), else cpu. Both optional packages are loaded
 * dynamically and never required.
 */
import * as tf from '@tensorflow/tfjs';
import { LrpArgumentError } from '../../errors';

/** What `--backend` accepts. */
export type BackendChoice = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

/** The backend names `--backend` accepts. */
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

/** The backend in use. */
export interface BackendInfo {
  /** tf's backend name: 'tensorflow', 'wasm', 'cpu' (or another backend set by the caller). */
  readonly name: string;
  /** Whether the backend uses several cores by itself (then one worker is enough). */
  readonly multiThreaded: boolean;
  /** Why preferred backends were skipped (auto). */
  readonly skipped: string[];
}

const PACKAGES: Record<string, string> = { tensorflow: '@tensorflow/tfjs-node', wasm: '@tensorflow/tfjs-backend-wasm' };

async function tryLoad(name: 'tensorflow' | 'wasm' | 'cpu'): Promise<string | null> {
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
 * must load.
 *
 * @throws {LrpArgumentError} (argument `--backend`) for an unknown name or a backend that does not load
 */
export async function selectBackend(choice: BackendChoice = 'auto'): Promise<BackendInfo> {
  if (!BACKEND_CHOICES.includes(choice)) {
    throw new LrpArgumentError('--backend', `unknown backend ${JSON.stringify(choice)}; choose one of ${BACKEND_CHOICES.join(', ')}.`);
  }
  const order: Array<'tensorflow' | 'wasm' | 'cpu'> = choice === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [choice];
  const skipped: string[] = [];
  for (const name of order) {
    const why = await tryLoad(name);
    if (why === null) return { name, multiThreaded: isMultiThreaded(name), skipped };
    skipped.push(why);
  }
  const hint = choice === 'tensorflow' ? ' Install it with `npm install @tensorflow/tfjs-node`, or use --backend wasm.' : choice === 'wasm' ? ' Install it with `npm install @tensorflow/tfjs-backend-wasm`, or use --backend cpu.' : '';
  throw new LrpArgumentError('--backend', `${skipped.join('; ')}.${hint}`);
}
