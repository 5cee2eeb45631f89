/**
 * The README's zoo grid, built by the gallery's own function into a temp folder: a real
 * third-party model (../shared/zoo/mnist_cnn_aslamplr) explained with epsilonGammaBox on twelve
 * real mnist digits. Asserts numbers about the model, the relevance and the written picture.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { gridLayout } from '../src/heatmap';
import { buildColormapSwatch, buildZooGrid, GALLERY_DIGITS, ZOO_MODEL_DIR } from '../scripts/heatmap-gallery';
import { useBackend } from './helpers';

const sharp = require('sharp') as (input: string) => {
  raw(): { toBuffer(o: { resolveWithObject: true }): Promise<{ data: Buffer; info: { width: number; height: number; channels: number } }> };
};

const haveZoo = fs.existsSync(path.join(ZOO_MODEL_DIR, 'model.json'));
if (!haveZoo) {
  console.warn(`heatmap-gallery.test.ts: SKIPPED, the zoo model is missing (${ZOO_MODEL_DIR}); it ships with the repository's ../shared folder.`);
}

(haveZoo ? describe : describe.skip)('zoo grid (real model, real digits)', () => {
  let dir = '';
  beforeAll(async () => {
    await useBackend('cpu');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lrp-gallery-'));
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('predictions, conservation, relevance and the picture', async () => {
    const before = tf.memory().numTensors;
    const file = path.join(dir, 'zoo-grid.png');
    const report = await buildZooGrid(file);
    expect(tf.memory().numTensors).toBe(before);
    const n = GALLERY_DIGITS.length;
    expect(n).toBe(12);

    // the model reads the first ten (one per class) right, and the two chosen hard ones wrong
    expect(report.labels).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 2, 5]);
    expect(report.predicted.slice(0, 10)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(report.predicted.slice(10)).toEqual([7, 6]);
    for (let i = 0; i < 10; i++) expect(report.probability[i]).toBeGreaterThan(0.99);
    for (let i = 10; i < 12; i++) expect(report.probability[i]).toBeLessThan(0.8);

    // epsilonGammaBox nearly conserves the logit (biases absorb a little) and is mostly positive
    for (let i = 0; i < n; i++) {
      expect(Math.abs(report.relevanceSum[i] - report.logit[i]) / Math.abs(report.logit[i])).toBeLessThan(0.05);
      expect(report.positiveShare[i]).toBeGreaterThan(0.8);
      expect(report.maxAbs[i]).toBeGreaterThan(0.05);
    }
    // more evidence against (blue) where the model is wrong than where it is sure
    const meanShare = (a: number[]): number => a.reduce((s, v) => s + v, 0) / a.length;
    expect(meanShare(report.positiveShare.slice(10))).toBeLessThan(meanShare(report.positiveShare.slice(0, 10)));

    // the file: the layout's size, labels drawn, a non-uniform heatmap panel with red and blue
    const L = gridLayout(n, 28, 28, { scale: 4, samplesPerRow: 2, labels: true });
    expect([report.width, report.height]).toEqual([L.width, L.height]);
    expect([report.width, report.height]).toEqual([692, 830]);
    const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([692, 830]);
    const px = (x: number, y: number): number[] => {
      const i = (y * info.width + x) * info.channels;
      return [data[i], data[i + 1], data[i + 2]];
    };
    for (const i of [0, 11]) {
      const c = L.cells[i];
      let dark = 0;
      for (let y = c.labelY; y < c.panelY; y++) for (let x = c.x; x < c.x + L.cellWidth; x++) if (px(x, y)[0] < 60) dark++;
      expect(dark).toBeGreaterThan(100); // "true 0 / pred 0 (1.00)" in the 5×7 font at scale 2
      const colours = new Set<string>();
      let red = 0;
      let blue = 0;
      for (let y = c.panelY; y < c.panelY + L.panelHeight; y++) {
        for (let x = c.panelX[1]; x < c.panelX[1] + L.panelWidth; x++) {
          const [r, g, b] = px(x, y);
          colours.add(`${r},${g},${b}`);
          if (r > 200 && g < 100 && b < 100) red++;
          if (b > 200 && r < 150 && g < 150) blue++;
        }
      }
      expect(colours.size).toBeGreaterThan(40);
      expect(red).toBeGreaterThan(200); // strong evidence for the predicted class
      if (i === 11) expect(blue).toBeGreaterThan(16); // the 5 read as 6 has evidence against it
    }
  });

  test('colour map swatch', async () => {
    const file = path.join(dir, 'colormaps.png');
    const size = await buildColormapSwatch(file);
    const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([size.width, size.height]);
    // the first bar (bwr) starts blue and ends red
    const y = 8 + 14;
    const at = (x: number): number[] => Array.from(data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3));
    expect(at(8 + 96)).toEqual([0, 0, 255]);
    expect(at(8 + 96 + 511)).toEqual([255, 0, 0]);
  });
});
