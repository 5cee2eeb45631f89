/**
 * WebGPU in Node (src/node/webgpu.ts) and the WebGPU error guard (src/backends/webgpu.ts): a GPU
 * validation error becomes an LrpBackendError on the next read instead of garbage, a synchronous
 * read says to read asynchronously, the device has the limits tfjs needs (tf.addN of 12 tensors
 * is right), and the guard refuses a backend without a device. Runs where WebGPU can run in Node
 * (test/helpers.ts' WEBGPU_IN_NODE); the cpu part always runs.
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { guardWebGPUErrors, LrpBackendError, LrpEnvironmentError, webgpuLimits } from '../src';
import { releaseWebGPU, useWebGPU } from '../src/node';
import { useBackend, WEBGPU_IN_NODE } from './helpers';

test('on cpu, the guard and the limits refuse with an LrpEnvironmentError naming the active backend', async () => {
  await useBackend('cpu');
  expect(() => guardWebGPUErrors()).toThrow(LrpEnvironmentError);
  expect(() => guardWebGPUErrors()).toThrow(/active backend is 'cpu'.*useWebGPU\(\)/s);
  expect(() => webgpuLimits()).toThrow(/'webgpu' backend/);
  expect(webgpuLimits({ limits: { maxStorageBuffersPerShaderStage: 10 } }).maxStorageBuffersPerShaderStage).toBe(10);
});

// Dawn crashed (SIGSEGV, SIGABRT) or hung when the garbage collector freed the instance of a released
// device: 10 of 10 runs of this child before useWebGPU kept its instances (src/node/webgpu.ts)
(WEBGPU_IN_NODE ? test : test.skip)('useWebGPU → releaseWebGPU twice, then garbage collection: the process exits normally', () => {
  const child = path.join(__dirname, 'support', 'webgpu-release-child.ts');
  const r = spawnSync(process.execPath, ['--expose-gc', '-r', 'ts-node/register/transpile-only', child], { cwd: path.join(__dirname, '..'), encoding: 'utf8', timeout: 120000, env: { ...process.env, EGL_PLATFORM: process.env.EGL_PLATFORM ?? 'surfaceless' } });
  expect({ status: r.status, signal: r.signal, stdout: r.stdout.trim().split('\n').pop() }).toEqual({ status: 0, signal: null, stdout: 'released cleanly (same sums)' });
});

(WEBGPU_IN_NODE ? describe : describe.skip)('webgpu in Node', () => {
  beforeAll(async () => {
    await useBackend('webgpu');
  });

  test('useWebGPU(): info with the adapter and the limits; a second call reuses the backend', async () => {
    const info = await useWebGPU();
    expect(info.backend).toBe('webgpu');
    expect(info.adapter.length).toBeGreaterThan(0);
    expect(info.limits.maxStorageBuffersPerShaderStage).toBeGreaterThanOrEqual(8);
    expect(webgpuLimits()).toEqual(info.limits);
    const backend = tf.backend();
    expect(await useWebGPU()).toBe(info);
    expect(tf.backend()).toBe(backend);
    expect(guardWebGPUErrors()).toBe(guardWebGPUErrors()); // idempotent
  });

  test('tf.addN over 12 tensors is right (the device has the adapter\'s storage-buffer limit)', async () => {
    const xs = Array.from({ length: 12 }, (_, i) => tf.fill([3000], i + 1));
    const sum = tf.addN(xs);
    const values = await sum.data();
    expect(values.every((v) => v === 78)).toBe(true);
    tf.dispose([...xs, sum]);
  });

  test('a GPU validation error (rank-6 pad: invalid WGSL) rejects the next read with an LrpBackendError, once', async () => {
    const x = tf.ones([1, 1, 1, 2, 2, 2]);
    const y = tf.pad(x, [[0, 0], [0, 0], [0, 1], [1, 0], [0, 0], [0, 1]]);
    let caught: unknown = null;
    try {
      await y.data();
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(LrpBackendError);
    const err = caught as LrpBackendError;
    expect(err.backend).toBe('webgpu');
    expect(err.gpuMessage).toMatch(/WGSL|PadProgram/);
    expect(err.message).toMatch(/cpu backend to confirm/);
    expect(guardWebGPUErrors().pending).toBeNull(); // cleared once reported
    const z = tf.add(x, 1);
    expect(Array.from(await z.data())).toEqual(new Array(8).fill(2));
    tf.dispose([x, y, z]);
  });

  test('a synchronous read of a GPU tensor is an LrpBackendError that says to read asynchronously', () => {
    const big = tf.add(tf.ones([5000]), 1); // large enough to run on the GPU
    expect(() => big.dataSync()).toThrow(LrpBackendError);
    expect(() => big.dataSync()).toThrow(/await tensor\.data\(\)/);
    big.dispose();
  });

  test('releaseWebGPU() removes the backend; useWebGPU() sets it up again', async () => {
    expect(releaseWebGPU()).toBe(true);
    expect(tf.findBackend('webgpu')).toBeNull();
    expect(releaseWebGPU()).toBe(false);
    await useBackend('webgpu');
    const x = tf.add(tf.ones([3000]), 2);
    expect((await x.data())[0]).toBe(3);
    x.dispose();
  });
});
