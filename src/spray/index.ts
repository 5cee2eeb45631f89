/**
 * `tfjs-lrp/spray`: Spectral Relevance Analysis (SpRAy) over the heatmaps of a data set: cluster
 * the explanations of one class to find the distinct strategies a model uses (e.g. a "Clever
 * Hans" shortcut), with the number of clusters from the eigengap, a 2-D embedding and SVG plots.
 *
 * @module tfjs-lrp/spray
 */
export { spray } from './spray.js';
export type { SprayOptions, SprayResult, SprayTransform, SprayNormalization, SprayAffinity } from './spray.js';
export { eigengapSvg, scatterSvg } from './plots.js';
export type { EigengapPlotOptions, ScatterPlotOptions } from './plots.js';
