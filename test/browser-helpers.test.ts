/**
 * The browser helpers in Node (no browser): heatmapRgba's bytes against heatmap()/overlay(),
 * sample selection, resizing, errors, leaks; drawHeatmap/toImageData/toImageBitmap refuse with
 * LrpEnvironmentError where the browser API is missing, and work against a stand-in canvas and
 * ImageData. The real-browser checks are in browser.test.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { LrpArgumentError, LrpEnvironmentError, LrpError } from '../src';
import { drawHeatmap, heatmap, heatmapRgba, overlay, toImageBitmap, toImageData } from '../src/heatmap';
import { expectError, expectNoLeak, useBackend } from './helpers';

beforeAll(async () => {
  await useBackend('cpu');
});

/** A fixed relevance batch [2,3,4,1]: sample 0 has +4 at (0,1), −2 at (2,3), 0 at (1,1). */
function relevance(): tf.Tensor4D {
  const a = [0.5, 4, -1, 0, 1, 0, 2, -0.5, 0.25, 3, 1, -2];
  const b = a.map((v) => -v);
  return tf.tensor4d([...a, ...b], [2, 3, 4, 1]);
}

/** heatmap()'s int32 RGB of one sample, as rows of [r,g,b]. */
function expectedRgb(rel: tf.Tensor, sample: number, options: Parameters<typeof heatmap>[1] = {}): number[][] {
  const h = heatmap(rel, { ...options, output: 'int32' });
  const all = Array.from(h.dataSync());
  h.dispose();
  const [, hh, ww] = rel.shape;
  const px = hh * ww;
  const rows: number[][] = [];
  for (let i = 0; i < px; i++) rows.push(all.slice((sample * px + i) * 3, (sample * px + i) * 3 + 3));
  return rows;
}

function rgbaRows(data: Uint8ClampedArray): number[][] {
  const rows: number[][] = [];
  for (let i = 0; i < data.length; i += 4) rows.push(Array.from(data.slice(i, i + 4)));
  return rows;
}

describe('heatmapRgba', () => {
  test('bytes equal heatmap() colours with an opaque alpha, for the chosen sample', async () => {
    const r = relevance();
    for (const sample of [0, 1]) {
      const px = await heatmapRgba(r, { sample, colormap: 'bwr' });
      expect([px.width, px.height]).toEqual([4, 3]);
      expect(px.data).toBeInstanceOf(Uint8ClampedArray);
      const want = expectedRgb(r, sample, { colormap: 'bwr' }).map((c) => [...c, 255]);
      expect(rgbaRows(px.data)).toEqual(want);
    }
    // the known points: +max → red, 0 → white, −max/2 → halfway to blue
    const px0 = rgbaRows((await heatmapRgba(r)).data);
    expect(px0[1]).toEqual([255, 0, 0, 255]);
    expect(px0[5]).toEqual([255, 255, 255, 255]);
    expect(px0[11]).toEqual([128, 128, 255, 255]);
    r.dispose();
  });

  test('colour options pass through (colormap, normalize, clipPercentile, reduce)', async () => {
    const r = tf.tensor4d([1, -1, 2, -2, 3, -3, 4, -4], [1, 2, 2, 2]);
    for (const options of [{ colormap: 'coolwarm' as const }, { normalize: 'absolute' as const, colormap: 'hot' as const }, { clipPercentile: 50 }, { reduce: 'maxAbs' as const }, { reduce: 1 }]) {
      const px = await heatmapRgba(r, options);
      expect(rgbaRows(px.data)).toEqual(expectedRgb(r, 0, options).map((c) => [...c, 255]));
    }
    r.dispose();
  });

  test('[H,W] and [N,H,W] relevance; width/height resize with nearest (sharp squares) or bilinear', async () => {
    const r2 = tf.tensor2d([[1, -1], [0, 0.5]]);
    const small = rgbaRows((await heatmapRgba(r2)).data);
    const big = await heatmapRgba(r2, { width: 6, height: 4 });
    expect([big.width, big.height]).toEqual([6, 4]);
    const rows = rgbaRows(big.data);
    for (let y = 0; y < 4; y++) for (let x = 0; x < 6; x++) expect(rows[y * 6 + x]).toEqual(small[Math.floor(y / 2) * 2 + Math.floor(x / 3)]);
    const smooth = rgbaRows((await heatmapRgba(r2, { width: 4, height: 4, resize: 'bilinear' })).data);
    expect(smooth[1]).not.toEqual(smooth[0]); // blended between the red and the blue square
    expect(smooth[0]).toEqual([255, 0, 0, 255]);
    const r3 = tf.tensor3d([[[1, 0]], [[0, -1]]]); // [N=2,H=1,W=2]
    expect(rgbaRows((await heatmapRgba(r3, { sample: 1 })).data)).toEqual([[255, 255, 255, 255], [0, 0, 255, 255]]);
    tf.dispose([r2, r3]);
  });

  test("overlay blends onto the image as overlay() does; the heatmap is resized to a larger image", async () => {
    const r = relevance();
    const image = tf.tidy(() => tf.linspace(0, 1, 24).reshape([2, 3, 4, 1]));
    const px = rgbaRows((await heatmapRgba(r, { sample: 1, overlay: { image, alpha: 0.7, mode: 'multiply' } })).data);
    const want = tf.tidy(() => {
      const heat = heatmap(r, {});
      const o = overlay(image, heat, { alpha: 0.7, mode: 'multiply' });
      return tf.round(tf.mul(tf.slice(o, [1, 0, 0, 0], [1, -1, -1, -1]), 255));
    });
    const w = Array.from(want.dataSync());
    want.dispose();
    expect(px.map((p) => p.slice(0, 3)).flat()).toEqual(w);
    // a 6×8 image: the 3×4 heatmap is upscaled ×2 (nearest) to it
    const big = tf.ones([6, 8, 1]);
    const out = await heatmapRgba(r, { overlay: { image: big, alpha: 1 } });
    expect([out.width, out.height]).toEqual([8, 6]);
    const rows = rgbaRows(out.data);
    const small = expectedRgb(r, 0);
    for (let y = 0; y < 6; y++) for (let x = 0; x < 8; x++) expect(rows[y * 8 + x].slice(0, 3)).toEqual(small[Math.floor(y / 2) * 4 + Math.floor(x / 2)]);
    tf.dispose([r, image, big]);
  });

  test("from: 'heatmap' takes colours as they are (int32 0..255 or float 0..1, RGB or RGBA)", async () => {
    const r = relevance();
    const heatInt = heatmap(r, { output: 'int32', alpha: true });
    const heatFloat = heatmap(r, { colormap: 'coldnhot' });
    const a = rgbaRows((await heatmapRgba(heatInt, { from: 'heatmap', sample: 1 })).data);
    expect(a).toEqual(expectedRgb(r, 1).map((c) => [...c, 255]));
    const b = rgbaRows((await heatmapRgba(heatFloat, { from: 'heatmap' })).data);
    expect(b).toEqual(expectedRgb(r, 0, { colormap: 'coldnhot' }).map((c) => [...c, 255]));
    const translucent = tf.tensor3d([[[255, 0, 0, 128]]], [1, 1, 4], 'int32');
    expect(Array.from((await heatmapRgba(translucent, { from: 'heatmap' })).data)).toEqual([255, 0, 0, 128]);
    tf.dispose([r, heatInt, heatFloat, translucent]);
  });

  test('leaks no tensors (plain, overlay, resize, heatmap input)', async () => {
    const r = relevance();
    const image = tf.ones([1, 3, 4, 1]);
    await expectNoLeak(() => heatmapRgba(r, { sample: 1 }));
    await expectNoLeak(() => heatmapRgba(r, { overlay: { image }, width: 9, height: 7, resize: 'bilinear' }));
    const colours = tf.zeros([2, 2, 3]);
    await expectNoLeak(() => heatmapRgba(colours, { from: 'heatmap' }));
    tf.dispose([r, image, colours]);
  });

  test('bad input: typed errors that name the argument, no leaks', async () => {
    const r = relevance();
    await expectError(() => heatmapRgba([1, 2] as unknown as tf.Tensor), LrpArgumentError, /'input'/, /tf\.Tensor/);
    const vector = tf.zeros([5]);
    await expectError(() => heatmapRgba(vector), LrpArgumentError, /'input'/, /\[N,H,W,C\]/);
    await expectError(() => heatmapRgba(r, { sample: 2 }), LrpArgumentError, /options\.sample/, /out of range/, /2 sample/);
    await expectError(() => heatmapRgba(r, { sample: -1 }), LrpArgumentError, /options\.sample/);
    await expectError(() => heatmapRgba(r, { width: 0 }), LrpArgumentError, /options\.width/);
    await expectError(() => heatmapRgba(r, { height: 2.5 }), LrpArgumentError, /options\.height/);
    await expectError(() => heatmapRgba(r, { resize: 'cubic' as 'nearest' }), LrpArgumentError, /options\.resize/, /nearest/);
    await expectError(() => heatmapRgba(r, { from: 'colors' as 'heatmap' }), LrpArgumentError, /options\.from/);
    await expectError(() => heatmapRgba(r, { from: 'heatmap' }), LrpArgumentError, /'input'/, /\[N,H,W,3\|4\]/);
    await expectError(() => heatmapRgba(r, { colormap: 'jet' as 'bwr' }), LrpArgumentError, /colormap/);
    const wrongImage = tf.zeros([1, 3, 4, 2]);
    await expectError(() => heatmapRgba(r, { overlay: { image: wrongImage } }), LrpArgumentError, /options\.overlay\.image/);
    const gray = tf.zeros([1, 3, 4, 1]);
    await expectError(() => heatmapRgba(r, { overlay: { image: gray, alpha: 2 } }), LrpArgumentError, /options\.alpha/);
    tf.dispose([r, wrongImage, vector, gray]);
  });
});

describe('browser-only helpers in Node', () => {
  test('toImageData, toImageBitmap and drawHeatmap throw LrpEnvironmentError naming the API and the alternative', async () => {
    expect(typeof (globalThis as Record<string, unknown>).ImageData).toBe('undefined');
    const r = relevance();
    const canvas = { width: 1, height: 1, getContext: () => ({ putImageData: () => undefined }) } as unknown as HTMLCanvasElement;
    const e1 = await expectError(() => toImageData(r), LrpEnvironmentError, /toImageData\(\) needs the browser API ImageData/, /heatmapRgba\(\)/);
    expect(e1).toBeInstanceOf(LrpError);
    expect((e1 as LrpEnvironmentError).api).toBe('ImageData');
    expect(e1.name).toBe('LrpEnvironmentError');
    await expectError(() => toImageBitmap(r), LrpEnvironmentError, /createImageBitmap/);
    await expectError(() => drawHeatmap(canvas, r), LrpEnvironmentError, /drawHeatmap\(\) needs the browser API ImageData/);
    r.dispose();
  });

  describe('with stand-ins for ImageData, createImageBitmap and a canvas', () => {
    class FakeImageData {
      constructor(
        readonly data: Uint8ClampedArray,
        readonly width: number,
        readonly height: number,
      ) {}
    }
    const g = globalThis as Record<string, unknown>;
    beforeAll(() => {
      g.ImageData = FakeImageData;
      g.createImageBitmap = async (img: FakeImageData) => ({ width: img.width, height: img.height, source: img });
    });
    afterAll(() => {
      delete g.ImageData;
      delete g.createImageBitmap;
    });

    function fakeCanvas(context: '2d' | 'webgl' = '2d'): { canvas: HTMLCanvasElement; puts: Array<{ img: FakeImageData; x: number; y: number; w: number; h: number }> } {
      const puts: Array<{ img: FakeImageData; x: number; y: number; w: number; h: number }> = [];
      const c = {
        width: 300,
        height: 150,
        getContext(kind: string) {
          if (kind !== context) return null;
          return { putImageData: (img: FakeImageData, x: number, y: number) => puts.push({ img, x, y, w: c.width, h: c.height }) };
        },
      };
      return { canvas: c as unknown as HTMLCanvasElement, puts };
    }

    test('drawHeatmap resizes the canvas to the picture and puts heatmapRgba bytes at (0,0)', async () => {
      const r = relevance();
      const { canvas, puts } = fakeCanvas();
      const drawn = await drawHeatmap(canvas, r, { sample: 1, width: 8, height: 6 });
      expect([canvas.width, canvas.height]).toEqual([8, 6]);
      expect(puts.length).toBe(1);
      expect(puts[0]).toMatchObject({ x: 0, y: 0, w: 8, h: 6 });
      expect(puts[0].img).toBe(drawn);
      const want = await heatmapRgba(r, { sample: 1, width: 8, height: 6 });
      expect(Array.from(drawn.data)).toEqual(Array.from(want.data));
      await expectNoLeak(() => drawHeatmap(canvas, r));
      r.dispose();
    });

    test('toImageData and toImageBitmap carry the same bytes and size', async () => {
      const r = relevance();
      const img = await toImageData(r, { colormap: 'seismic' });
      expect(img).toBeInstanceOf(FakeImageData);
      expect([img.width, img.height]).toEqual([4, 3]);
      expect(Array.from(img.data)).toEqual(Array.from((await heatmapRgba(r, { colormap: 'seismic' })).data));
      const bmp = (await toImageBitmap(r)) as unknown as { width: number; height: number; source: FakeImageData };
      expect([bmp.width, bmp.height]).toEqual([4, 3]);
      expect(Array.from(bmp.source.data)).toEqual(Array.from((await heatmapRgba(r)).data));
      r.dispose();
    });

    test('drawHeatmap refuses a non-canvas and a canvas without a 2D context, before any work', async () => {
      const r = relevance();
      await expectError(() => drawHeatmap({} as HTMLCanvasElement, r), LrpArgumentError, /'canvas'/, /HTMLCanvasElement or OffscreenCanvas/);
      await expectError(() => drawHeatmap(null as unknown as HTMLCanvasElement, r), LrpArgumentError, /'canvas'/, /null/);
      const { canvas, puts } = fakeCanvas('webgl');
      await expectError(() => drawHeatmap(canvas, r), LrpArgumentError, /'canvas'/, /no 2D context/, /fresh canvas/);
      expect(puts.length).toBe(0);
      expect([canvas.width, canvas.height]).toEqual([300, 150]);
      r.dispose();
    });
  });
});
