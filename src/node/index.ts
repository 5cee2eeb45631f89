/**
 * `tfjs-lrp/node`: everything of `tfjs-lrp`, plus what only works in Node (reading models from
 * disk). Browser bundles import `tfjs-lrp`, which never reaches this file.
 *
 * @module tfjs-lrp/node
 */
export * from '../index.js';
export { loadModel } from './loadModel.js';
export type { LoadedModel, LoadModelOptions } from './loadModel.js';
export { readImages, readImage, writeImage, LrpImageError } from './image.js';
export type { ReadImageOptions, WriteImageOptions, PixelScaling } from './image.js';
export { saveHeatmap, saveGrid } from './heatmap.js';
export type { SaveHeatmapOptions, SaveGridOptions } from './heatmap.js';
export * from './batch/index.js';
export { useWebGPU, releaseWebGPU, defaultWebGPUAttempts } from './webgpu.js';
export type { UseWebGPUOptions, WebGPUInfo, WebGPUAttempt, WebGPUFeatureLevel } from './webgpu.js';
export { collectReferenceSamples, conceptHeatmaps, cropToSupport, writeConceptReport } from './concepts.js';
export type { ReferenceSampleOptions, ReferenceSample, ChannelReferences, ReferenceSamples, ConceptReportOptions, CropBox } from './concepts.js';
export { writeSprayReport } from './spray.js';
export type { SprayReportOptions, SprayReportFiles } from './spray.js';
