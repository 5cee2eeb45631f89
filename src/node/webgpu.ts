/**
 * WebGPU in Node through Dawn (the `webgpu` npm package): one awaited call that makes tfjs'
 * 'webgpu' backend work on a real GPU (Vulkan, Metal, D3D12) or, on a Linux machine without one,
 * on Mesa's software OpenGL (llvmpipe).
 *
 * What {@link useWebGPU} does, and why:
 *  1. loads Dawn's native binding. `webgpu` is an ES module package; from CommonJS (dist/cjs,
 *     ts-jest) `require('webgpu')` fails, so its `dist/<platform>-<arch>.dawn.node` binary is
 *     required directly (it is what the package's index.js loads); where `require` is missing (ES
 *     modules) the package itself is imported;
 *  2. installs Dawn's globals (GPUBufferUsage, …) and `navigator.gpu`, which tfjs' WebGPU backend
 *     reads;
 *  3. finds an adapter: Dawn's default backend first (on Linux only when the Vulkan loader
 *     libvulkan.so.1 exists, to spare the warning Dawn prints otherwise), then Dawn's OpenGL
 *     backend at WebGPU's 'compatibility' feature level (`EGL_PLATFORM=surfaceless` is set when
 *     unset, so that Mesa needs no display). tfjs' own factory asks for a default adapter only
 *     and gets none there, so a factory of our own is registered under the name 'webgpu' (tfjs'
 *     kernels are registered per backend name);
 *  4. requests a device with the adapter's own values of the limits that decide whether tfjs'
 *     kernels fit ({@link WEBGPU_LIMIT_NAMES}; WebGPU's default of 8 storage buffers per shader
 *     stage makes `tf.addN` of 8 or more tensors fail);
 *  5. sets the backend and installs {@link guardWebGPUErrors}, so a GPU validation error becomes
 *     an {@link LrpBackendError} on the next read instead of wrong numbers.
 *
 * Only asynchronous reads work (`data()`, `array()`): tfjs reads synchronously through an
 * OffscreenCanvas, which Node does not have.
 *
 * Call {@link releaseWebGPU} when done: Dawn keeps the process alive (and polling) while its
 * device lives, so a script that does not release it never exits.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { LrpEnvironmentError } from '../errors.js';
import { guardWebGPUErrors, WEBGPU_LIMIT_NAMES, webgpuLimits } from '../backends/webgpu.js';
import type { WebGPULimits } from '../backends/webgpu.js';

/** WebGPU's feature levels: 'core' (full WebGPU) or 'compatibility' (runs on OpenGL ES / GL). */
export type WebGPUFeatureLevel = 'core' | 'compatibility';

/** One way to find an adapter: Dawn's instance flags and the requested feature level. */
export interface WebGPUAttempt {
  /** Flags for Dawn's `create()`, e.g. `['backend=opengl']` or `['backend=vulkan']`; `[]`: Dawn's default backend. */
  readonly dawnFlags: readonly string[];
  /** The feature level requested from `navigator.gpu.requestAdapter`. */
  readonly featureLevel: WebGPUFeatureLevel;
}

/** Options of {@link useWebGPU}. */
export interface UseWebGPUOptions {
  /**
   * The ways to find an adapter, tried in order until one gives an adapter. Default: Dawn's
   * default backend at 'core' (on Linux only when libvulkan.so.1 is installed), then
   * `['backend=opengl']` at 'compatibility' (Linux).
   */
  readonly attempts?: readonly WebGPUAttempt[];
  /** `powerPreference` of the adapter request. Default `'high-performance'`. */
  readonly powerPreference?: 'low-power' | 'high-performance';
  /** Install {@link guardWebGPUErrors} on the backend. Default `true`. */
  readonly guard?: boolean;
}

/** What {@link useWebGPU} set up. */
export interface WebGPUInfo {
  /** The tf backend name: always `'webgpu'`. */
  readonly backend: 'webgpu';
  /** The adapter in words, e.g. `'llvmpipe (LLVM 15.0.6, 256 bits) — OpenGL version 4.5 (Core Profile) Mesa 22.3.6'`. */
  readonly adapter: string;
  /** The attempt that found the adapter (Dawn flags and feature level). */
  readonly attempt: WebGPUAttempt;
  /** The device's limits that matter for tfjs (as requested from the adapter). */
  readonly limits: WebGPULimits;
}

/** The npm packages this needs, and how to install them. */
const PACKAGES = ['webgpu', '@tensorflow/tfjs-backend-webgpu'] as const;
const INSTALL = 'npm install webgpu @tensorflow/tfjs-backend-webgpu';
const LINUX_HINT =
  'On Linux without a Vulkan GPU driver, Dawn runs on Mesa\'s software OpenGL: install the Debian/Ubuntu packages libegl-mesa0 libegl-dev libgl1-mesa-dri ' +
  '(`apt-get install libegl-mesa0 libegl-dev libgl1-mesa-dri`) and run with EGL_PLATFORM=surfaceless (set automatically when unset).';

/** Minimal shapes of Dawn's objects (its type package is not a dependency). */
interface GpuAdapterLike {
  readonly limits: Readonly<Record<string, number>>;
  readonly features: { has(name: string): boolean };
  readonly info?: { readonly vendor?: string; readonly architecture?: string; readonly device?: string; readonly description?: string };
  requestDevice(descriptor: { requiredLimits: Record<string, number>; requiredFeatures: string[] }): Promise<GpuDeviceLike>;
}
interface GpuDeviceLike {
  readonly limits: unknown;
  destroy(): void;
}
interface GpuLike {
  requestAdapter(options?: { featureLevel?: string; powerPreference?: string }): Promise<GpuAdapterLike | null>;
}
interface DawnModule {
  create(flags: string[]): GpuLike;
  readonly globals: Record<string, unknown>;
}
interface WebGPUBackendModule {
  WebGPUBackend: new (device: GpuDeviceLike, adapterInfo: unknown) => tf.KernelBackend;
}

/** The last setup, reused while its backend is still registered (jest loads tfjs anew per file). */
let current: { info: WebGPUInfo; backend: tf.KernelBackend | undefined; device: GpuDeviceLike } | null = null;

/**
 * Dawn's instances (`create(flags)`), one per set of flags, kept for the life of the process and
 * reused by every {@link useWebGPU}. Dawn crashes when the garbage collector frees an instance whose
 * adapters or devices were used (measured on Dawn's OpenGL backend: after {@link releaseWebGPU} and
 * a `gc()`, 10 of 10 runs of a small script died with SIGSEGV, SIGABRT (`std::system_error`, a
 * mutex assertion) or hung; with the instance kept, 8 of 8 exited normally). A kept instance does
 * not keep Node alive.
 */
const dawnInstances = new Map<string, GpuLike>();

/** `import()` that tsc leaves alone when it compiles to CommonJS (it would become `require`). */
const importModule = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<unknown>;

function missing(pkg: string, cause: unknown): LrpEnvironmentError {
  const why = (cause as Error | undefined)?.message?.split('\n')[0] ?? String(cause);
  return new LrpEnvironmentError(pkg, `useWebGPU() needs the npm package '${pkg}', which is not installed or did not load (${why}). Install it with \`${INSTALL}\`.`);
}

/** Dawn's native module: the binary required directly (CommonJS), else the ES module package. */
async function loadDawn(): Promise<DawnModule> {
  if (typeof require === 'function') {
    let dir: string | null = null;
    try {
      dir = path.dirname(require.resolve('webgpu/package.json'));
    } catch (e) {
      throw missing('webgpu', e);
    }
    const arch = process.platform === 'darwin' ? 'universal' : process.arch;
    const binary = path.join(dir, 'dist', `${process.platform}-${arch}.dawn.node`);
    if (fs.existsSync(binary)) {
      try {
        return require(binary) as DawnModule;
      } catch (e) {
        throw new LrpEnvironmentError('webgpu', `Dawn's binary ${binary} did not load (${(e as Error).message.split('\n')[0]}). Reinstall it with \`${INSTALL}\`.`);
      }
    }
  }
  try {
    return (await importModule('webgpu')) as DawnModule;
  } catch (e) {
    throw missing('webgpu', e);
  }
}

async function loadBackendPackage(): Promise<WebGPUBackendModule> {
  const pkg = PACKAGES[1]; // a variable: bundlers and tsc leave the optional package alone
  try {
    return (typeof require === 'function' ? require(pkg) : await importModule(pkg)) as WebGPUBackendModule;
  } catch (e) {
    throw missing(pkg, e);
  }
}

function vulkanLoaderPresent(): boolean {
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu', '/lib64'];
  return dirs.some((d) => fs.existsSync(path.join(d, 'libvulkan.so.1')));
}

/** The default attempts on this platform (see {@link UseWebGPUOptions.attempts}). */
export function defaultWebGPUAttempts(): WebGPUAttempt[] {
  if (process.platform !== 'linux') return [{ dawnFlags: [], featureLevel: 'core' }];
  const opengl: WebGPUAttempt = { dawnFlags: ['backend=opengl'], featureLevel: 'compatibility' };
  return vulkanLoaderPresent() ? [{ dawnFlags: [], featureLevel: 'core' }, opengl] : [opengl];
}

function describeAdapter(adapter: GpuAdapterLike): string {
  const info = adapter.info ?? {};
  const parts = [info.vendor, info.architecture, info.device, info.description].filter((s): s is string => typeof s === 'string' && s.length > 0);
  return parts.length > 0 ? [...new Set(parts)].join(' — ') : 'unknown adapter';
}

/**
 * Makes tfjs' 'webgpu' backend work in Node through Dawn and sets it as the active backend (see
 * the file comment for the steps). Calling it again while the backend is registered only sets it
 * again and returns the same info. Call {@link releaseWebGPU} when done, or Node does not exit.
 *
 * @returns the adapter, the attempt that found it, and the device limits in use
 * @throws {LrpEnvironmentError} when `webgpu` or `@tensorflow/tfjs-backend-webgpu` is not
 *   installed (naming the install command), or when no adapter is found (on Linux with the Mesa
 *   packages to install)
 */
export async function useWebGPU(options: UseWebGPUOptions = {}): Promise<WebGPUInfo> {
  if (current !== null && tf.findBackend('webgpu') === current.backend && current.backend !== undefined) {
    await setWebGPU(options.guard ?? true);
    return current.info;
  }
  releaseWebGPU(); // a setup whose backend was removed by someone else: free its device
  if (process.platform === 'linux' && process.env.EGL_PLATFORM === undefined) process.env.EGL_PLATFORM = 'surfaceless';
  const backendModule = await loadBackendPackage(); // before navigator.gpu exists: it then registers no factory of its own
  const dawn = await loadDawn();
  Object.assign(globalThis, dawn.globals);

  const attempts = options.attempts ?? defaultWebGPUAttempts();
  const tried: string[] = [];
  let found: { gpu: GpuLike; adapter: GpuAdapterLike; attempt: WebGPUAttempt } | null = null;
  for (const attempt of attempts) {
    const key = JSON.stringify(attempt.dawnFlags);
    const gpu = dawnInstances.get(key) ?? dawn.create([...attempt.dawnFlags]);
    dawnInstances.set(key, gpu);
    const adapter = await gpu.requestAdapter({ featureLevel: attempt.featureLevel, powerPreference: options.powerPreference ?? 'high-performance' });
    tried.push(`[${attempt.dawnFlags.join(', ')}] at '${attempt.featureLevel}'`);
    if (adapter !== null) {
      found = { gpu, adapter, attempt };
      break;
    }
  }
  if (found === null) {
    throw new LrpEnvironmentError(
      'navigator.gpu.requestAdapter',
      `useWebGPU() found no WebGPU adapter (tried Dawn flags ${tried.join(', then ')}).${process.platform === 'linux' ? ` ${LINUX_HINT}` : ' Check the GPU driver, or pass options.attempts.'}`,
    );
  }
  const { gpu, adapter, attempt } = found;
  const requiredLimits: Record<string, number> = {};
  for (const key of WEBGPU_LIMIT_NAMES) if (typeof adapter.limits[key] === 'number') requiredLimits[key] = adapter.limits[key];
  const requiredFeatures = ['timestamp-query'].filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });

  const nav = ((globalThis as { navigator?: object }).navigator ?? {}) as object;
  if ((globalThis as { navigator?: object }).navigator === undefined) Object.defineProperty(globalThis, 'navigator', { value: nav, configurable: true, writable: true });
  Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, writable: true });

  if (tf.findBackendFactory('webgpu') !== null) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => new backendModule.WebGPUBackend(device, adapter.info), 1);
  current = { info: { backend: 'webgpu', adapter: describeAdapter(adapter), attempt, limits: webgpuLimits(device) }, backend: undefined, device };
  await setWebGPU(options.guard ?? true);
  current.backend = tf.findBackend('webgpu') ?? undefined;
  return current.info;
}

async function setWebGPU(guard: boolean): Promise<void> {
  if (!(await tf.setBackend('webgpu')) || tf.getBackend() !== 'webgpu') {
    throw new LrpEnvironmentError('webgpu', `tf.setBackend('webgpu') failed after the WebGPU device was created. Reinstall with \`${INSTALL}\` (the versions must match @tensorflow/tfjs).`);
  }
  await tf.ready();
  if (guard) guardWebGPUErrors();
}

/**
 * Releases what {@link useWebGPU} set up, so that Node can exit: removes tf's 'webgpu' backend
 * (its tensors are gone; when it was active, tf falls back to the registered backend of highest
 * priority), destroys the Dawn device and removes `navigator.gpu`. A later `useWebGPU()` sets
 * everything up again.
 *
 * @returns whether there was something to release
 */
export function releaseWebGPU(): boolean {
  if (current === null) return false;
  const { device, backend } = current;
  current = null;
  if (backend !== undefined && tf.findBackend('webgpu') === backend) tf.removeBackend('webgpu');
  device.destroy();
  const nav = (globalThis as { navigator?: { gpu?: unknown } }).navigator;
  if (nav !== undefined && Object.getOwnPropertyDescriptor(nav, 'gpu')?.configurable === true) delete nav.gpu;
  return true;
}
