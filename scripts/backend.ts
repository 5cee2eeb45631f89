/** Scripts: the wasm backend when it loads, else cpu. */
import * as tf from '@tensorflow/tfjs';

/** Sets wasm (one thread, SIMD) or falls back to cpu; returns the backend in use. */
export async function useBackend(): Promise<string> {
  try {
    require('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend('wasm'))) throw new Error('setBackend returned false');
    await tf.ready();
  } catch (err) {
    console.log(`(wasm backend unavailable: ${(err as Error).message}; using cpu)`);
    await tf.setBackend('cpu');
    await tf.ready();
  }
  return tf.getBackend();
}
