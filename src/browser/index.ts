/**
 * Browser helpers: draw relevance on a canvas, or get it as ImageData / ImageBitmap. Importable
 * everywhere (browser APIs are looked up when a helper is called); heatmapRgba also runs in Node.
 */
export { drawHeatmap, toImageData, toImageBitmap } from './canvas';
export type { HeatmapCanvas } from './canvas';
export { heatmapRgba } from './pixels';
export type { BrowserHeatmapOptions, RgbaPixels } from './pixels';
