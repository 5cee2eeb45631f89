/**
 * WebGPU diagnostics, for any environment (a browser, or Node through Dawn): an error guard that
 * turns the GPU's silent failures into a typed error, and the device limits that matter.
 *
 * Why a guard: a WebGPU implementation reports validation errors (an invalid WGSL shader, a
 * pipeline over a device limit) only as `uncapturederror` events on the device, and a lost device
 * only through `device.lost`. tfjs listens to neither, so the failing op returns zeros or stale
 * memory and the caller reads garbage without an exception. The guard records such an error and
 * rejects (or throws on) the next read of any tensor with an {@link LrpBackendError}.
 *
 * The backend is duck-typed (`tf.backend().device`): '@tensorflow/tfjs-backend-webgpu' is an
 * optional dependency and is never imported here, so a bundle of tfjs-lrp does not pull it in.
 */
import * as tf from '@tensorflow/tfjs';
import { LrpBackendError, LrpEnvironmentError } from '../errors.js';

/** The WebGPU device limits that decide whether tfjs' kernels fit (see {@link webgpuLimits}). */
export interface WebGPULimits {
  /**
   * Storage buffers one shader may bind. tfjs binds one per input of an op plus the output, so
   * `tf.addN` of many tensors needs more than WebGPU's default of 8; request the adapter's value.
   */
  readonly maxStorageBuffersPerShaderStage: number;
  /** Largest storage buffer binding (bytes): the largest tensor an op can read or write. */
  readonly maxStorageBufferBindingSize: number;
  /** Largest buffer (bytes). */
  readonly maxBufferSize: number;
  /** Workgroups per dispatch dimension. */
  readonly maxComputeWorkgroupsPerDimension: number;
  /** Invocations per workgroup. */
  readonly maxComputeInvocationsPerWorkgroup: number;
  /** Workgroup shared memory (bytes), used by tfjs' tiled matMul/conv kernels. */
  readonly maxComputeWorkgroupStorageSize: number;
  /** Workgroup size in x (tfjs' MatMulReduceProgram uses 256; WebGPU's default is 128 in compatibility mode). */
  readonly maxComputeWorkgroupSizeX: number;
  /** Workgroup size in y. */
  readonly maxComputeWorkgroupSizeY: number;
  /** Workgroup size in z. */
  readonly maxComputeWorkgroupSizeZ: number;
}

/** The limit names of {@link WebGPULimits}, in its order (what a device should request). */
export const WEBGPU_LIMIT_NAMES: ReadonlyArray<keyof WebGPULimits> = [
  'maxStorageBuffersPerShaderStage',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupsPerDimension',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
];

/** A guard installed by {@link guardWebGPUErrors} on one backend instance. */
export interface WebGPUErrorGuard {
  /** The tf backend name the guard was installed for (normally `'webgpu'`). */
  readonly backend: string;
  /** The error waiting to be reported on the next read, or `null`. */
  readonly pending: LrpBackendError | null;
  /** Throws the pending error, if any (a validation error is cleared by reporting it; a lost device stays). */
  check(): void;
  /** Stops listening and restores the backend's own `read`/`readSync`. */
  remove(): void;
}

/** The part of a GPUDevice used here (structural, so that no WebGPU type package is needed). */
interface DeviceLike {
  readonly limits?: unknown;
  readonly lost?: Promise<{ readonly reason?: string; readonly message?: string }>;
  addEventListener?(type: string, listener: (event: unknown) => void): void;
  removeEventListener?(type: string, listener: (event: unknown) => void): void;
}

type Read = (dataId: object) => Promise<tf.backend_util.BackendValues>;
type ReadSync = (dataId: object) => tf.backend_util.BackendValues;

/** The part of tfjs' WebGPUBackend used here. */
interface WebGPUBackendLike {
  device: DeviceLike;
  read: Read;
  readSync: ReadSync;
}

/** Shared through the backend object, so two bundled copies of tfjs-lrp install one guard. */
const GUARD = Symbol.for('tfjs-lrp.webgpuErrorGuard');

const ADVICE_VALIDATION =
  'A WebGPU kernel was rejected by the device (an invalid shader or a pipeline over a device limit), so the op that ran it produced no valid result. ' +
  'Run the same call on the cpu backend to confirm, and report the op named above; webgpuLimits() shows the device limits in use.';
const ADVICE_LOST = "The GPU device was lost; every tensor on it is gone. Set the backend again (tf.removeBackend('webgpu'), then register and set it) or restart the process.";
const ADVICE_SYNC = 'Synchronous reads (dataSync, arraySync, tf.Tensor.toString) need OffscreenCanvas, which WebGPU in Node does not have: read with `await tensor.data()` or `await tensor.array()`.';

function asWebGPU(backend: unknown): WebGPUBackendLike | null {
  if (backend === null || typeof backend !== 'object') return null;
  const b = backend as Partial<WebGPUBackendLike>;
  const device = b.device;
  if (device === null || typeof device !== 'object' || typeof b.read !== 'function' || typeof b.readSync !== 'function') return null;
  return b as WebGPUBackendLike;
}

/** The active backend as a WebGPU backend, or an error naming what is active instead. */
function activeWebGPU(caller: string): WebGPUBackendLike {
  const b = asWebGPU(tf.backend());
  if (b === null) {
    throw new LrpEnvironmentError(
      'WebGPU',
      `${caller}() needs the tfjs 'webgpu' backend to be active, but the active backend is '${tf.getBackend()}' (it has no GPU device). ` +
        "Call `await tf.setBackend('webgpu')` first (in Node: `await useWebGPU()` from 'tfjs-lrp/node').",
    );
  }
  return b;
}

function messageOf(event: unknown): string {
  const error = (event as { error?: { message?: unknown } } | null)?.error;
  return typeof error?.message === 'string' ? error.message : String(error ?? event);
}

/**
 * Watches the active tfjs WebGPU backend for GPU errors and makes them visible: the device's
 * `uncapturederror` events and the loss of the device are recorded, and the next read of any
 * tensor (`data()`, `array()`, `dataSync()`, …) rejects or throws an {@link LrpBackendError}
 * carrying the first GPU message (later ones are counted), instead of returning garbage. A
 * validation error is cleared once reported; a lost device (other than one destroyed on purpose
 * by `tf.removeBackend`) stays reported. A synchronous read that fails because Node has no
 * OffscreenCanvas becomes an LrpBackendError that says to read asynchronously.
 *
 * Idempotent: a second call for the same backend instance returns the installed guard. Call it
 * after every `tf.setBackend('webgpu')` that creates a new backend instance (`useWebGPU()` in
 * Node does it for you).
 *
 * @returns the guard (to check explicitly or remove it)
 * @throws {LrpEnvironmentError} when the active backend is not a WebGPU backend (no `.device`)
 */
export function guardWebGPUErrors(): WebGPUErrorGuard {
  const backend = activeWebGPU('guardWebGPUErrors');
  const holder = backend as unknown as Record<symbol, WebGPUErrorGuard | undefined>;
  const existing = holder[GUARD];
  if (existing !== undefined) return existing;

  const name = tf.getBackend();
  const device = backend.device;
  let first: string | null = null;
  let more = 0;
  let lost: LrpBackendError | null = null;
  let removed = false;

  const pendingError = (): LrpBackendError | null => {
    if (lost !== null) return lost;
    if (first === null) return null;
    const extra = more > 0 ? `\n(and ${more} later error${more > 1 ? 's' : ''}, most of them consequences of the first)` : '';
    return new LrpBackendError(name, first + extra, ADVICE_VALIDATION);
  };
  const check = (): void => {
    const error = pendingError();
    if (error === null) return;
    first = null;
    more = 0;
    throw error;
  };

  const onError = (event: unknown): void => {
    if (first === null) first = messageOf(event);
    else more += 1;
  };
  device.addEventListener?.('uncapturederror', onError);
  void device.lost?.then((info) => {
    if (!removed && info.reason !== 'destroyed') lost = new LrpBackendError(name, `device lost (${info.reason ?? 'unknown'}): ${info.message ?? ''}`, ADVICE_LOST);
  });

  const ownRead = backend.read;
  const ownReadSync = backend.readSync;
  // Own properties shadow the prototype's methods; remove() deletes them again.
  // Checked after the backend's own read: the read submits the queued work, and the device
  // reports the errors of that work (synchronously, in Dawn and browsers) before the mapping
  // resolves, so one report carries the root cause and its consequences together.
  backend.read = async function guardedRead(this: WebGPUBackendLike, dataId: object) {
    let values: tf.backend_util.BackendValues;
    try {
      values = await ownRead.call(this, dataId);
    } catch (e) {
      check(); // a recorded GPU error is the better explanation
      throw e;
    }
    check();
    return values;
  };
  backend.readSync = function guardedReadSync(this: WebGPUBackendLike, dataId: object) {
    let values: tf.backend_util.BackendValues;
    try {
      values = ownReadSync.call(this, dataId);
    } catch (e) {
      check();
      if (e instanceof ReferenceError && /OffscreenCanvas/.test(e.message)) throw new LrpBackendError(name, e.message, ADVICE_SYNC, `The '${name}' backend cannot read a tensor synchronously here (nothing was computed wrong)`);
      throw e;
    }
    check();
    return values;
  };

  const guard: WebGPUErrorGuard = {
    backend: name,
    get pending() {
      return pendingError();
    },
    check,
    remove() {
      if (removed) return;
      removed = true;
      device.removeEventListener?.('uncapturederror', onError);
      delete (backend as Partial<WebGPUBackendLike>).read;
      delete (backend as Partial<WebGPUBackendLike>).readSync;
      delete holder[GUARD];
    },
  };
  holder[GUARD] = guard;
  return guard;
}

/**
 * The limits of a WebGPU device that decide whether tfjs' kernels fit, for diagnostics (see
 * {@link WebGPULimits}). A device gets WebGPU's defaults unless it requested more, e.g. 8 storage
 * buffers per shader stage where the adapter may offer 16 or more.
 *
 * @param device a GPUDevice or GPUAdapter (anything with `.limits`); default: the device of the
 *   active tfjs 'webgpu' backend
 * @throws {LrpEnvironmentError} without `device` when the active backend is not a WebGPU backend
 */
export function webgpuLimits(device?: { readonly limits: unknown }): WebGPULimits {
  const source = device ?? activeWebGPU('webgpuLimits').device;
  const limits = (source.limits ?? {}) as Record<string, unknown>;
  const out: Record<string, number> = {};
  for (const key of WEBGPU_LIMIT_NAMES) {
    const v = limits[key];
    out[key] = typeof v === 'number' ? v : Number.NaN;
  }
  return out as unknown as WebGPULimits;
}
