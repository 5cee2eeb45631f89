/**
 * Child process of test/webgpu.test.ts: sets up WebGPU in Node, runs a max pool on it, releases it,
 * sets it up and releases it again, then lets the garbage collector run (`node --expose-gc`) while
 * JavaScript keeps allocating. Prints `released cleanly` and exits 0 when Dawn survives that.
 */
import * as tf from '@tensorflow/tfjs';
import { releaseWebGPU, useWebGPU } from '../../src/node/webgpu';

async function poolOnWebGPU(): Promise<number> {
  await useWebGPU();
  const x = tf.randomUniform([4, 28, 28, 8], 0, 1, 'float32', 1) as tf.Tensor4D;
  const pooled = tf.maxPool(x, 2, 2, 'valid');
  const total = (await tf.sum(pooled).data())[0];
  tf.dispose([x, pooled]);
  releaseWebGPU();
  return total;
}

(async () => {
  const first = await poolOnWebGPU();
  const second = await poolOnWebGPU();
  await tf.setBackend('cpu');
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with node --expose-gc');
  for (let i = 0; i < 30; i++) {
    gc();
    const garbage = Array.from({ length: 100000 }, (_, k) => ({ k }));
    void garbage;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  console.log(`released cleanly (${first === second ? 'same sums' : `sums differ: ${first} ${second}`})`);
})();
