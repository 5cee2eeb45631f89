/**
 * Everything in one module: the entry of the browser files (dist/browser/tfjs-lrp.min.js with the
 * global `tfjsLrp`, and tfjs-lrp.esm.min.js) for pages without a bundler. With a bundler, import
 * `tfjs-lrp`, `tfjs-lrp/heatmap` and `tfjs-lrp/evaluate` instead, so a page ships what it uses.
 */
export * from './index.js';
export * from './heatmap/index.js';
export * from './evaluate/index.js';
