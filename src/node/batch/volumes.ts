/**
 * Slice grids for volume inputs ([D, H, W, C] per item, e.g. an `.npy` of shape [N, D, H, W, C]):
 * the batch writer draws each item's relevance as one picture, a grid of its D depth slices
 * (heatmapGrid of tfjs-lrp/heatmap with one colour scale for the whole volume), with the input
 * slices beside them when the inputs are kept.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { heatmapGrid } from '../../heatmap/grid.js';
import { writeFileAtomicSync } from './atomic.js';
import { encodePng } from '../png.js';
import type { ExplainedBatch } from './explainDataset.js';
import type { DrawOptions } from './outputs.js';

/** Whether an item shape is a volume drawn as a grid of slices ([D, H, W, C]). */
export function isVolumeShape(shape: readonly number[]): boolean {
  return shape.length === 4;
}

/** Input values to 0..1 for display: min–max per volume (volumes have no pixel scale). */
function displayRange(values: Float32Array): Float32Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const span = hi > lo ? hi - lo : 1;
  return values.map((v) => (v - lo) / span);
}

/**
 * Writes one slice-grid PNG per item of a volume batch to `files[k]` (skipping undefined):
 * per depth slice d a cell labelled "z=d" (input | heatmap with the inputs, else the heatmap),
 * ⌈√D⌉ slices per row, one colour scale for all slices of a volume. Panels are enlarged by
 * `draw.upscale` when it is above 1, else to at least 96 px.
 */
export async function writeSliceGrids(batch: ExplainedBatch, files: ReadonlyArray<string | undefined>, draw: DrawOptions): Promise<void> {
  const [d, h, w, c] = batch.shape;
  const size = d * h * w * c;
  const labels = Array.from({ length: d }, (_, z) => `z=${z}`);
  for (let k = 0; k < files.length; k++) {
    const file = files[k];
    if (file === undefined) continue;
    const grid = tf.tidy(() => {
      const relevance = tf.tensor4d(batch.relevance.subarray(k * size, (k + 1) * size), [d, h, w, c]);
      const withInputs = batch.inputs !== undefined && (c === 1 || c === 3);
      const images = withInputs ? tf.tensor4d(displayRange((batch.inputs as Float32Array).subarray(k * size, (k + 1) * size)), [d, h, w, c]) : undefined;
      return heatmapGrid({
        relevance,
        images,
        columns: withInputs ? ['input', 'heatmap'] : ['heatmap'],
        labels,
        samplesPerRow: Math.ceil(Math.sqrt(d)),
        shared: true,
        colormap: draw.colormap,
        clipPercentile: draw.clipPercentile,
        scale: draw.upscale > 1 ? draw.upscale : undefined,
      });
    });
    try {
      const [gh, gw] = grid.shape;
      const values = await grid.data();
      const bytes = new Uint8Array(values.length);
      for (let i = 0; i < values.length; i++) {
        const b = Math.round(values[i] * 255);
        bytes[i] = b < 0 ? 0 : b > 255 ? 255 : b;
      }
      writeFileAtomicSync(path.resolve(file), encodePng(gw, gh, 3, bytes));
    } finally {
      grid.dispose();
    }
  }
}
