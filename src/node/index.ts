/**
 * `tfjs-lrp/node`: everything of `tfjs-lrp`, plus what only works in Node (reading models from
 * disk). Browser bundles import `tfjs-lrp`, which never reaches this file.
 */
export * from '../index';
export { loadModel } from './loadModel';
export { readImages, readImage, writeImage, LrpImageError } from './image';
export type { ReadImageOptions, WriteImageOptions, PixelScaling } from './image';
export { saveHeatmap, saveGrid } from './heatmap';
export type { SaveHeatmapOptions, SaveGridOptions } from './heatmap';
export * from './batch';
export { useWebGPU, releaseWebGPU, defaultWebGPUAttempts } from './webgpu';
export type { UseWebGPUOptions, WebGPUInfo, WebGPUAttempt, WebGPUFeatureLevel } from './webgpu';
