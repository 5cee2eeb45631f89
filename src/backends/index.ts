/**
 * Backend diagnostics shared by every environment (browser pages and Node): the WebGPU error
 * guard and the device limits. Never imports a backend package.
 */
export { guardWebGPUErrors, webgpuLimits, WEBGPU_LIMIT_NAMES } from './webgpu.js';
export type { WebGPUErrorGuard, WebGPULimits } from './webgpu.js';
/** The error the guard raises (defined with the others in src/errors.ts). */
export { LrpBackendError } from '../errors.js';
