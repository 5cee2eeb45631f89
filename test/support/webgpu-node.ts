/**
 * WebGPU in Node for the test suites (Dawn through the `webgpu` package, see src/node/webgpu.ts):
 * whether it can run here, decided synchronously (the suites build their describe blocks from
 * test/helpers.ts' BACKENDS at load time), and the set-up/release around a test file.
 *
 * Node only: test/helpers.ts loads this file through a variable, so the browser bundle of the
 * conformance page (which includes helpers.ts) never meets `fs`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { releaseWebGPU, useWebGPU } from '../../src/node/webgpu';

/**
 * Mesa reads EGL_PLATFORM from the real environment, but jest gives each test file a copy of
 * `process.env` whose writes reach no C code, and its `module.createRequire` is jest's own. The
 * real process is the one of the realm jest runs in, reached through a function of that realm
 * (jest passes Node's own setImmediate into the test context). Outside jest it is `process`.
 * (`npm test` and .ci/run also set EGL_PLATFORM before jest starts.)
 */
function setRealEnv(name: string, value: string): void {
  if (process.env[name] !== undefined) return;
  process.env[name] = value;
  try {
    const outer = (setImmediate as unknown as { constructor: FunctionConstructor }).constructor('return process')() as NodeJS.Process;
    if (outer.env[name] === undefined) outer.env[name] = value;
  } catch {
    // not in jest, or a realm without process: process.env above is the real one
  }
}

/** Whether the webgpu runs are included, and why (or why not). */
export interface WebGPUAvailability {
  readonly available: boolean;
  readonly reason: string;
}

const LIB_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu', '/lib64'];
const hasLib = (name: string): boolean => [...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...LIB_DIRS].some((d) => fs.existsSync(path.join(d, name)));

/**
 * `TFJS_LRP_WEBGPU=1` / `=0` forces the answer; otherwise WebGPU runs when `webgpu` and
 * `@tensorflow/tfjs-backend-webgpu` resolve and, on Linux, Mesa's EGL (libEGL.so and
 * libEGL_mesa.so.0, from the Debian packages libegl-dev and libegl-mesa0) or a Vulkan loader is
 * installed.
 */
export function webgpuAvailability(): WebGPUAvailability {
  const forced = process.env.TFJS_LRP_WEBGPU;
  if (forced === '1' || forced === '0') return { available: forced === '1', reason: `TFJS_LRP_WEBGPU=${forced}` };
  for (const pkg of ['webgpu/package.json', '@tensorflow/tfjs-backend-webgpu']) {
    try {
      require.resolve(pkg);
    } catch {
      return { available: false, reason: `the npm package ${pkg.replace('/package.json', '')} is not installed (npm install webgpu @tensorflow/tfjs-backend-webgpu)` };
    }
  }
  if (process.platform === 'linux' && !(hasLib('libEGL.so') && hasLib('libEGL_mesa.so.0')) && !hasLib('libvulkan.so.1')) {
    return { available: false, reason: "neither Mesa's EGL nor a Vulkan loader is installed (apt-get install libegl-dev libegl-mesa0 libgl1-mesa-dri)" };
  }
  return { available: true, reason: 'webgpu packages and a GPU library found' };
}

/** Makes Mesa find a display-less EGL platform in this jest worker (see {@link setRealEnv}). */
export function prepareWebGPUEnv(): void {
  if (process.platform === 'linux') setRealEnv('EGL_PLATFORM', 'surfaceless');
}

/** Sets up WebGPU (once per test file); test/helpers.ts releases the device after the file, so Node can exit. */
export async function useWebGPUForTests(): Promise<void> {
  prepareWebGPUEnv();
  await useWebGPU();
}

/** Releases the Dawn device (after a test file): Dawn keeps the process alive while it lives. */
export function releaseWebGPUForTests(): void {
  releaseWebGPU();
}
