/**
 * Browser helpers: draw relevance on a canvas, or get it as ImageData / ImageBitmap. Importable
 * everywhere (browser APIs are looked up when a helper is called); heatmapRgba also runs in Node.
 */
export { drawHeatmap, toImageData, toImageBitmap } from './canvas.js';
export type { HeatmapCanvas } from './canvas.js';
export { heatmapRgba } from './pixels.js';
export type { BrowserHeatmapOptions, RgbaPixels } from './pixels.js';
