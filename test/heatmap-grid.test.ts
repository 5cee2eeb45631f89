/** Grid images, the bitmap font, upscaling and contours: exact pixels, layout, errors, no leaks (pure tf ops). */
import * as tf from '@tensorflow/tfjs';
import { LrpArgumentError } from '../src';
import { drawContour, gridLayout, heatmap, heatmapGrid, maskOutline, measureText, overlay, renderText, topKMask, upscale } from '../src/heatmap';
import { glyph, glyphCharacters, GLYPH_ADVANCE, GLYPH_HEIGHT, GLYPH_WIDTH, hasGlyph } from '../src/heatmap/font';
import { BACKENDS, expectError, expectNoLeak, maxAbsDiff, uniform, useBackend } from './helpers';

/** Pixels [y0, y0+h) × [x0, x0+w) of an [H,W,3] image as a flat array, read asynchronously (does not dispose img). */
async function region(img: tf.Tensor3D, y0: number, x0: number, h: number, w: number): Promise<Float32Array> {
  return sampleOf(tf.slice(img, [y0, x0, 0], [h, w, 3]));
}

/** Sample i of a batch [N,…] as a flat array, read asynchronously (does not dispose batch). */
async function sample(batch: tf.Tensor, i: number): Promise<Float32Array> {
  return sampleOf(tf.slice(batch, [i, 0, 0, 0], [1, -1, -1, -1]));
}

/** The values of t as a fresh Float32Array (every backend: an asynchronous read); disposes t. */
async function sampleOf(t: tf.Tensor): Promise<Float32Array> {
  try {
    return Float32Array.from(await t.data());
  } finally {
    t.dispose();
  }
}

function pixel(data: Float32Array, width: number, y: number, x: number): number[] {
  const i = (y * width + x) * 3;
  return [data[i], data[i + 1], data[i + 2]];
}

describe('bitmap font', () => {
  test('every glyph is a well-formed 5×8 bitmap; letters, digits and punctuation are covered', () => {
    const chars = glyphCharacters();
    for (const c of '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz .,:;()[]/-+_%!?\'"=<>#*&|') expect(hasGlyph(c)).toBe(true);
    expect(chars.length).toBeGreaterThanOrEqual(90);
    for (const c of chars) {
      const g = glyph(c);
      expect(g.length).toBe(GLYPH_WIDTH * GLYPH_HEIGHT);
      const ink = g.reduce((a, b) => a + b, 0);
      if (c === ' ') expect(ink).toBe(0);
      else expect(ink).toBeGreaterThan(0);
    }
    // distinct shapes for look-alikes
    const key = (c: string): string => Array.from(glyph(c)).join('');
    for (const [a, b] of [['0', 'O'], ['1', 'l'], ['1', 'I'], ['5', 'S'], ['8', 'B'], ['.', ','], ['(', '[']]) expect(key(a)).not.toBe(key(b));
    // descenders use the 8th row, capitals do not
    expect(Array.from(glyph('g').slice(7 * GLYPH_WIDTH)).some((v) => v === 1)).toBe(true);
    expect(Array.from(glyph('A').slice(7 * GLYPH_WIDTH)).every((v) => v === 0)).toBe(true);
    // unknown characters: an empty box
    expect(Array.from(glyph('ü'))).toEqual(Array.from(glyph('\u2603')));
    expect(glyph('ü')[0]).toBe(1);
    expect(glyph('ü')[GLYPH_WIDTH + 1]).toBe(0);
  });

  test('renderText: glyph pixels at their positions, scaled blocks, widths, truncation', () => {
    const t = renderText('1A', 1);
    expect([t.width, t.height]).toEqual([11, 8]);
    // '1' row 0 is ..#.. ; 'A' row 3 is #####
    expect(Array.from(t.data.slice(0, 5))).toEqual([0, 0, 1, 0, 0]);
    expect(t.data[5]).toBe(0); // the spacing column
    expect(Array.from(t.data.slice(3 * 11 + 6, 3 * 11 + 11))).toEqual([1, 1, 1, 1, 1]);
    const s = renderText('1', 3);
    expect([s.width, s.height]).toEqual([15, 24]);
    for (let y = 0; y < 3; y++) expect(Array.from(s.data.slice(y * 15, y * 15 + 15))).toEqual([0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
    expect(measureText('hello', 2)).toBe((5 * GLYPH_ADVANCE - 1) * 2);
    expect(measureText('')).toBe(0);
    const cut = renderText('abcdefghij', 1, 6 * 5 - 1);
    expect(cut.width).toBe(29); // 5 characters: 'abc..'
    expect(Array.from(cut.data.slice(6 * 29 + 18, 6 * 29 + 23))).toEqual(Array.from(glyph('.').slice(6 * 5, 7 * 5)));
  });
});

describe.each(BACKENDS)('grid, upscale, contour (%s)', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  test('upscale: each pixel an exact factor×factor block, any dtype', async () => {
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6], [1, 2, 3, 1], 'int32');
    const u = upscale(x, 2);
    expect(u.shape).toEqual([1, 4, 6, 1]);
    expect(u.dtype).toBe('int32');
    expect(Array.from(await u.data())).toEqual([1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 4, 4, 5, 5, 6, 6]);
    const rgb = uniform([2, 3, 2, 3], 5, 0, 1) as tf.Tensor4D;
    const big = upscale(rgb, 3);
    const ref = tf.image.resizeNearestNeighbor(rgb, [9, 6]);
    expect(maxAbsDiff(await big.data(), await ref.data())).toBe(0);
    tf.dispose([x, u, rgb, big, ref]);
  });

  test('maskOutline: the inner boundary of a square; image borders are not outlined', async () => {
    const m = tf.buffer([1, 6, 6, 1]);
    for (let y = 1; y <= 4; y++) for (let x = 1; x <= 4; x++) m.set(1, 0, y, x, 0);
    for (let y = 0; y < 6; y++) m.set(1, 0, y, 5, 0); // a column touching the right border
    const mask = m.toTensor() as tf.Tensor4D;
    const o = maskOutline(mask);
    const got = Array.from(await o.data());
    // the square's inside (2..3 × 2..3) is not outline; its border is; the right column is only outlined where it touches 0s
    const at = (y: number, x: number): number => got[y * 6 + x];
    expect([at(2, 2), at(2, 3), at(3, 2), at(3, 3)]).toEqual([0, 0, 0, 0]);
    expect([at(1, 1), at(1, 4), at(4, 1), at(4, 4), at(1, 2)]).toEqual([1, 1, 1, 1, 1]);
    expect([at(0, 5), at(5, 5), at(2, 5)]).toEqual([1, 1, 0]); // (2,5): its neighbours (1..3, 4) are 1
    // the square's ring of 12 minus (2,4), (3,4) (the column beside them fills their neighbourhood),
    // plus (0,5), (1,5), (4,5), (5,5) of the column
    expect([at(2, 4), at(3, 4)]).toEqual([0, 0]);
    expect(got.reduce((a, b) => a + b, 0)).toBe(10 + 4);
    const thick = maskOutline(mask, 2);
    expect((await thick.data())[2 * 6 + 2]).toBe(1);
    tf.dispose([mask, o, thick]);
  });

  test('drawContour: the outline of the top-k mask, upscaled, in the chosen colour', async () => {
    const rel = tf.tensor4d([0, 0, 0, 0, 0, 9, 8, 0, 0, 7, 6, 0, 0, 0, 0, 0], [1, 4, 4, 1]);
    const img = tf.fill([1, 8, 8, 3], 0.5);
    const out = drawContour(img, rel, { fraction: 4 / 16, color: [0, 1, 0] });
    expect(out.shape).toEqual([1, 8, 8, 3]);
    const d = (await out.data()) as Float32Array;
    const px = (y: number, x: number): number[] => Array.from(d.slice((y * 8 + x) * 3, (y * 8 + x) * 3 + 3));
    // the mask is the 2×2 centre → 4×4 block at 2..5; its border is green, its inside and outside grey
    expect(px(2, 2)).toEqual([0, 1, 0]);
    expect(px(5, 3)).toEqual([0, 1, 0]);
    expect(px(3, 3)).toEqual([0.5, 0.5, 0.5]);
    expect(px(1, 1)).toEqual([0.5, 0.5, 0.5]);
    let green = 0;
    for (let i = 0; i < 64; i++) if (d[i * 3 + 1] === 1) green++;
    expect(green).toBe(12);
    tf.dispose([rel, img, out]);
  });

  test('grid: shape from gridLayout; panels are exactly input | heatmap | overlay, upscaled', async () => {
    const rel = uniform([2, 5, 4, 1], 11);
    const images = uniform([2, 5, 4, 1], 12, 0, 1);
    const scale = 3;
    const grid = heatmapGrid({ images, relevance: rel, scale, separator: 1, colormap: 'coolwarm', alpha: 0.4, mode: 'multiply' });
    const L = gridLayout(2, 5, 4, { scale, separator: 1 });
    expect(grid.shape).toEqual([L.height, L.width, 3]);
    expect([L.width, L.height]).toEqual([1 + 3 * (12 + 1), 1 + 2 * (15 + 1)]);
    expect(L.cells[1].panelX).toEqual([1, 14, 27]);
    expect(L.cells[1].panelY).toBe(1 + 16);
    expect(grid.dtype).toBe('float32');
    const heat = heatmap(rel, { colormap: 'coolwarm' });
    const expected = [
      upscale(tf.tile(images, [1, 1, 1, 3]) as tf.Tensor4D, scale),
      upscale(heat, scale),
      upscale(overlay(images, heat, { alpha: 0.4, mode: 'multiply' }), scale),
    ];
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 3; j++) {
        const got = await region(grid, L.cells[i].panelY, L.cells[i].panelX[j], 15, 12);
        const want = await sample(expected[j], i);
        expect(maxAbsDiff(got, want)).toBeLessThan(1e-6);
      }
    }
    // separators are the background (white)
    const gap = await region(grid, 0, 0, L.height, 1);
    expect(Math.min(...gap)).toBe(1);
    tf.dispose([rel, images, grid, heat, ...expected]);
  });

  test('grid labels: the font\'s pixels at the layout\'s text position, ink and background colours', async () => {
    const rel = uniform([2, 28, 28, 1], 3);
    const labels = ['7 (0.98)', 'true 1 / pred 1'];
    const grid = heatmapGrid({ relevance: rel, labels, scale: 2, textColor: [1, 0, 0], background: [0, 0, 1] });
    const L = gridLayout(2, 28, 28, { scale: 2, columns: 1, labels: true });
    expect(L.fontScale).toBe(1); // 56 px panels
    expect(L.labelHeight).toBe(GLYPH_HEIGHT + 4);
    expect(grid.shape).toEqual([L.height, L.width, 3]);
    for (let i = 0; i < 2; i++) {
      const text = renderText(labels[i], L.fontScale, L.cellWidth - 2 * (L.cells[i].textX - L.cells[i].x));
      const strip = await region(grid, L.cells[i].labelY, 0, L.labelHeight, L.width);
      let ink = 0;
      for (let y = 0; y < L.labelHeight; y++) {
        for (let x = 0; x < L.width; x++) {
          const ty = y - (L.cells[i].textY - L.cells[i].labelY);
          const tx = x - L.cells[i].textX;
          const on = ty >= 0 && ty < text.height && tx >= 0 && tx < text.width && text.data[ty * text.width + tx] === 1;
          expect(pixel(strip, L.width, y, x)).toEqual(on ? [1, 0, 0] : [0, 0, 1]);
          if (on) ink++;
        }
      }
      expect(ink).toBe(text.data.reduce((a, b) => a + b, 0));
      expect(ink).toBeGreaterThan(40);
    }
    // '7' row 0 is ##### at the text origin of row 0
    const first = await region(grid, L.cells[0].textY, L.cells[0].textX, 1, 6);
    expect([0, 1, 2, 3, 4, 5].map((x) => pixel(first, 6, 0, x)[0])).toEqual([1, 1, 1, 1, 1, 0]);
    // fontScale 2 for panels ≥ 64 px, and the labels are larger
    expect(gridLayout(1, 28, 28, { scale: 4, labels: true }).labelHeight).toBe(2 * GLYPH_HEIGHT + 8);
    tf.dispose([rel, grid]);
  });

  test('grid options: columns subset, default scale, N = 1 image for a batch, contour on the overlay', async () => {
    const rel = uniform([3, 8, 8, 1], 21);
    const img = uniform([1, 8, 8, 3], 22, 0, 1);
    const g = heatmapGrid({ relevance: rel, images: img, columns: ['overlay', 'input'], contour: { fraction: 0.1, color: [0, 1, 0] } });
    const L = gridLayout(3, 8, 8, { columns: 2 });
    expect(L.scale).toBe(12); // ceil(96 / 8)
    expect(g.shape).toEqual([L.height, L.width, 3]);
    const green = async (y0: number, x0: number): Promise<number> => {
      const r = await region(g, y0, x0, 96, 96);
      let k = 0;
      for (let p = 0; p < r.length; p += 3) if (r[p] === 0 && r[p + 1] === 1 && r[p + 2] === 0) k++;
      return k;
    };
    expect(await green(L.cells[0].panelY, L.cells[0].panelX[0])).toBeGreaterThan(20); // the overlay has the contour
    expect(await green(L.cells[0].panelY, L.cells[0].panelX[1])).toBe(0); // the input has none
    const only = heatmapGrid({ relevance: rel });
    expect(only.shape).toEqual([2 + 3 * 98, 2 + 98, 3]);
    tf.dispose([rel, img, g, only]);
  });

  test('samplesPerRow: blocks side by side, 4 separators apart, blank cells filled with the background', async () => {
    const rel = uniform([5, 3, 4, 1], 51);
    const images = uniform([5, 3, 4, 3], 52, 0, 1);
    const labels = ['a', 'b', 'c', 'd', 'e'];
    const grid = heatmapGrid({ relevance: rel, images, labels, samplesPerRow: 2, scale: 2, separator: 1, background: [0, 1, 0] });
    const L = gridLayout(5, 3, 4, { scale: 2, separator: 1, samplesPerRow: 2, labels: true });
    expect(grid.shape).toEqual([L.height, L.width, 3]);
    expect(L.cellWidth).toBe(3 * 8 + 2);
    expect(L.cellGap).toBe(4);
    expect(L.width).toBe(2 + 2 * 26 + 4);
    expect(L.height).toBe(1 + 3 * (12 + 6 + 1));
    expect(L.cells[3].x).toBe(1 + 26 + 4);
    expect(L.cells[3].labelY).toBe(1 + 19);
    const heat = heatmap(rel);
    const up = upscale(heat, 2);
    for (let i = 0; i < 5; i++) {
      const got = await region(grid, L.cells[i].panelY, L.cells[i].panelX[1], 6, 8);
      const want = await sample(up, i);
      expect(maxAbsDiff(got, want)).toBeLessThan(1e-6);
      // the label's glyph at the cell's text position: ink (0.1 grey) where the font has a pixel, background elsewhere
      const text = renderText(labels[i], L.fontScale);
      const at = await region(grid, L.cells[i].textY, L.cells[i].textX, text.height, text.width);
      for (let k = 0; k < text.data.length; k++) {
        expect(at[3 * k + 1]).toBeCloseTo(text.data[k] === 1 ? 0.1 : 1, 6);
      }
    }
    // the sixth cell (blank) and the gaps are background
    const blank = await region(grid, L.cells[4].labelY, L.cells[4].x + L.cellWidth + L.cellGap, 18, 26);
    for (let p = 0; p < blank.length; p += 3) expect([blank[p], blank[p + 1], blank[p + 2]]).toEqual([0, 1, 0]);
    const gap = await region(grid, 0, L.cells[0].x + L.cellWidth, L.height, L.cellGap);
    for (let p = 0; p < gap.length; p += 3) expect(gap[p + 1]).toBe(1);
    tf.dispose([rel, images, grid, heat, up]);
  });

  test('errors', async () => {
    const rel = tf.zeros([2, 4, 4, 1]);
    const img = tf.zeros([2, 4, 4, 1]);
    const [tall, flat, big] = [tf.zeros([2, 5, 4, 1]), tf.zeros([4]), tf.zeros([2, 6, 6, 3])];
    await expectError(() => heatmapGrid({ relevance: rel, labels: ['a'] }), LrpArgumentError, /labels/, /2 strings/);
    await expectError(() => heatmapGrid({ relevance: rel, columns: ['input'] }), LrpArgumentError, /images/);
    await expectError(() => heatmapGrid({ relevance: rel, images: tall }), LrpArgumentError, /images/, /does not match/);
    await expectError(() => heatmapGrid({ relevance: rel, images: img, columns: ['nope' as never] }), LrpArgumentError, /columns/);
    await expectError(() => heatmapGrid({ relevance: rel, scale: 1.5 }), LrpArgumentError, /scale/);
    await expectError(() => heatmapGrid({ relevance: rel, background: [2, 0, 0] }), LrpArgumentError, /background/);
    await expectError(() => heatmapGrid({ relevance: rel, images: img, alpha: 2 }), LrpArgumentError, /alpha/);
    await expectError(() => heatmapGrid({ relevance: rel, contour: { fraction: 0 } }), LrpArgumentError, /contour\.fraction/);
    await expectError(() => heatmapGrid({ relevance: flat } as never), LrpArgumentError, /relevance/);
    await expectError(() => drawContour(big, rel, { fraction: 0.1 }), LrpArgumentError, /integer factor/);
    await expectError(() => upscale(img as tf.Tensor4D, 0), LrpArgumentError, /factor/);
    await expectError(() => maskOutline(img as tf.Tensor4D, 0), LrpArgumentError, /thickness/);
    tf.dispose([rel, img, tall, flat, big]);
  });

  test('no leaks', async () => {
    const rel = uniform([2, 6, 6, 3], 31);
    const img = uniform([2, 6, 6, 3], 32, 0, 1);
    await expectNoLeak(() => tf.dispose(heatmapGrid({ relevance: rel, images: img, labels: ['a', 'b'], contour: { fraction: 0.2 }, clipPercentile: 90 })));
    await expectNoLeak(() => tf.dispose([upscale(img as tf.Tensor4D, 2), tf.tidy(() => maskOutline(topKMask(rel, 0.2))), drawContour(img, rel, { fraction: 0.3 })]));
    tf.dispose([rel, img]);
  });
});
