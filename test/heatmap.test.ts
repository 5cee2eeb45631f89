/** Heatmaps: colour maps, normalisation, percentile clipping, overlays, top-k masks; exact values, errors, no leaks. */
import * as tf from '@tensorflow/tfjs';
import { LrpArgumentError } from '../src';
import { COLORMAPS, colormapTable, heatmap, overlay, topKMask } from '../src/heatmap';
import type { ColormapName, HeatmapOptions } from '../src/heatmap';
import { reduceChannels } from '../src/heatmap/heatmap';
import { expectError, expectNoLeak, maxAbsDiff, useBackend } from './helpers';

beforeAll(async () => {
  await useBackend('cpu');
});

/** Runs heatmap and returns its pixels as rows of colour values (disposes the output). */
function colors(rel: tf.Tensor, options: HeatmapOptions = {}): number[][] {
  const out = heatmap(rel, options);
  const c = out.shape[3];
  const data = Array.from(out.dataSync());
  out.dispose();
  const rows: number[][] = [];
  for (let i = 0; i < data.length; i += c) rows.push(data.slice(i, i + c));
  return rows;
}

/** bwr at table index k: blue (0,0,1) → white at 128 → red (1,0,0). */
function bwr(k: number): number[] {
  if (k <= 128) return [k / 128, k / 128, 1];
  const w = (k - 128) / 127;
  return [1, 1 - w, 1 - w];
}

function expectRows(actual: number[][], expected: number[][], tol = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    expect(actual[i].length).toBe(expected[i].length);
    if (maxAbsDiff(actual[i], expected[i]) > tol) throw new Error(`pixel ${i}: got [${actual[i]}], expected [${expected[i]}]`);
  }
}

const line = (): tf.Tensor => tf.tensor3d([[[-2, -1, 0, 1, 2]]]); // [1,1,5]

describe('colour maps', () => {
  test('COLORMAPS lists every built-in map; each table has 256 rows of [r,g,b] in 0..1', () => {
    expect([...COLORMAPS]).toEqual(['bwr', 'seismic', 'coldnhot', 'coolwarm', 'gray', 'hot']);
    for (const name of COLORMAPS) {
      const t = colormapTable(name);
      expect(t.length).toBe(256);
      for (const row of t) {
        expect(row.length).toBe(3);
        for (const v of row) expect(v >= 0 && v <= 1).toBe(true);
      }
    }
  });

  test('pinned colours: ends and midpoints of every map', () => {
    const px = (name: ColormapName, k: number): number[] => colormapTable(name)[k].map((v) => Math.round(v * 255));
    expect(px('bwr', 0)).toEqual([0, 0, 255]);
    expect(px('bwr', 128)).toEqual([255, 255, 255]);
    expect(px('bwr', 255)).toEqual([255, 0, 0]);
    expect(px('bwr', 64)).toEqual([128, 128, 255]);
    expect(px('seismic', 0)).toEqual([0, 0, 208]);
    expect(px('seismic', 128)).toEqual([208, 208, 208]);
    expect(px('seismic', 255)).toEqual([208, 0, 0]);
    expect(px('coldnhot', 0)).toEqual([0, 255, 255]);
    expect(px('coldnhot', 128)).toEqual([0, 0, 0]);
    expect(px('coldnhot', 255)).toEqual([255, 255, 255]);
    expect(px('gray', 0)).toEqual([0, 0, 0]);
    expect(px('gray', 255)).toEqual([255, 255, 255]);
    expect(px('gray', 100)).toEqual([100, 100, 100]);
    expect(px('hot', 0)).toEqual([0, 0, 0]);
    expect(px('hot', 85)).toEqual([255, 0, 0]);
    expect(px('hot', 170)).toEqual([255, 255, 0]);
    expect(px('hot', 255)).toEqual([255, 255, 255]);
    // Moreland's published table: t = 0, 0.03125, 0.125, 0.25, 0.5, 1
    expect(px('coolwarm', 0)).toEqual([59, 76, 192]);
    expect(px('coolwarm', 8)).toEqual([68, 90, 204]);
    expect(px('coolwarm', 32)).toEqual([98, 130, 234]);
    expect(px('coolwarm', 64)).toEqual([141, 176, 254]);
    expect(px('coolwarm', 128)).toEqual([221, 221, 221]);
    expect(px('coolwarm', 255)).toEqual([180, 4, 38]);
  });

  test('red is positive, blue negative on every diverging map; tables are copies', () => {
    for (const name of ['bwr', 'seismic', 'coolwarm'] as const) {
      const t = colormapTable(name);
      expect(t[255][0]).toBeGreaterThan(t[255][2] + 0.5);
      expect(t[0][2]).toBeGreaterThan(t[0][0] + 0.5);
    }
    const t = colormapTable('bwr');
    t[0][0] = 42;
    expect(colormapTable('bwr')[0][0]).toBe(0);
  });
});

describe('heatmap', () => {
  test('symmetric (default, bwr): 0 → white, +max → red, −max → blue, halves in between', () => {
    const rel = line();
    expectRows(colors(rel), [bwr(0), bwr(64), bwr(128), bwr(192), bwr(255)]);
    expectRows(colors(rel), [[0, 0, 1], [0.5, 0.5, 1], [1, 1, 1], [1, 63 / 127, 63 / 127], [1, 0, 0]]);
    // 128 steps below zero, 127 above: −0.9 → 128 + ⌊−115.2 + 0.5⌋ = 13, +0.9 → 128 + ⌊114.3 + 0.5⌋ = 242
    const fine = tf.tensor3d([[[-10, -9, 9, 10]]]);
    expectRows(colors(fine), [bwr(0), bwr(13), bwr(242), bwr(255)]);
    tf.dispose([rel, fine]);
  });

  test('every colour map: 0 → its midpoint, +max → index 255, −max → index 0 (symmetric)', () => {
    const rel = tf.tensor3d([[[-5, 0, 5]]]);
    for (const name of COLORMAPS) {
      const t = colormapTable(name);
      expectRows(colors(rel, { colormap: name }), [t[0], t[128], t[255]]);
    }
    rel.dispose();
  });

  test('absolute and positive use the upper half of a diverging map, all of a sequential one', () => {
    const rel = line();
    expectRows(colors(rel, { normalize: 'absolute' }), [bwr(255), bwr(192), bwr(128), bwr(192), bwr(255)]);
    expectRows(colors(rel, { normalize: 'positive' }), [bwr(128), bwr(128), bwr(128), bwr(192), bwr(255)]);
    const g = (k: number): number[] => [k / 255, k / 255, k / 255];
    expectRows(colors(rel, { normalize: 'absolute', colormap: 'gray' }), [g(255), g(128), g(0), g(128), g(255)]);
    expectRows(colors(rel, { normalize: 'positive', colormap: 'gray' }), [g(0), g(0), g(0), g(128), g(255)]);
    expectRows(colors(rel, { colormap: 'gray' }), [g(0), g(64), g(128), g(192), g(255)]);
    rel.dispose();
  });

  test('clipPercentile: one hot pixel does not wash out the rest', () => {
    // 16 pixels: a hot 100, ±1, 0.5, zeros. p = 90 → nearest rank ⌈14.4⌉ = 15 → 2nd largest |R| = 1.
    const v = [100, 1, -1, 0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    const rel = tf.tensor4d(v, [1, 4, 4, 1]);
    const clipped = colors(rel, { clipPercentile: 90 });
    expectRows(clipped.slice(0, 5), [bwr(255), bwr(255), bwr(0), bwr(192), bwr(128)]);
    // without clipping the scale is 100: ±1 and 0.5 → indices 129, 127, 129, nearly white
    const plain = colors(rel);
    expectRows(plain.slice(0, 5), [bwr(255), bwr(129), bwr(127), bwr(129), bwr(128)]);
    // p = 100 is the maximum
    expectRows(colors(rel, { clipPercentile: 100 }), plain);
    // p = 50: the 8th smallest |R| is 0 → falls back to the maximum
    expectRows(colors(rel, { clipPercentile: 50 }), plain);
    // absolute and positive with clipping
    expectRows(colors(rel, { clipPercentile: 90, normalize: 'absolute' }).slice(0, 4), [bwr(255), bwr(255), bwr(255), bwr(192)]);
    // positive: values max(R,0) = 100, 1, 0, 0.5 → 2nd largest = 1
    expectRows(colors(rel, { clipPercentile: 90, normalize: 'positive' }).slice(0, 4), [bwr(255), bwr(255), bwr(128), bwr(192)]);
    rel.dispose();
  });

  test('per-sample vs shared scaling', () => {
    const rel = tf.tensor3d([[[-1, 1]], [[-4, 2]]]); // [2,1,2]
    expectRows(colors(rel), [bwr(0), bwr(255), bwr(0), bwr(192)]);
    expectRows(colors(rel, { shared: true }), [bwr(96), bwr(160), bwr(0), bwr(192)]);
    expectRows(colors(rel, { shared: true }).slice(0, 2), [[0.75, 0.75, 1], [1, 95 / 127, 95 / 127]]);
    // shared percentile over the batch's 4 values: p = 75 → rank 3 → |R| = 2
    expectRows(colors(rel, { shared: true, clipPercentile: 75 }), [bwr(64), bwr(192), bwr(0), bwr(255)]);
    rel.dispose();
  });

  test('an all-zero sample maps to the midpoint colour, without NaN', () => {
    const rel = tf.tensor3d([[[1, -1]], [[0, 0]]]);
    for (const opts of [{}, { clipPercentile: 50 }, { shared: false, normalize: 'absolute' as const }]) {
      const c = colors(rel, opts);
      for (const row of c) for (const x of row) expect(Number.isFinite(x)).toBe(true);
      expectRows(c.slice(2), [bwr(128), bwr(128)]);
    }
    expectRows(colors(rel, { colormap: 'coldnhot' }).slice(2), [[0, 0, 0], [0, 0, 0]]);
    expectRows(colors(rel, { normalize: 'positive', colormap: 'gray' }).slice(2), [[0, 0, 0], [0, 0, 0]]);
    const all = tf.zeros([1, 3, 3, 2]);
    expectRows(colors(all, { shared: true, clipPercentile: 99 }), Array.from({ length: 9 }, () => [1, 1, 1]));
    tf.dispose([rel, all]);
  });

  test('output float / int32 / alpha: dtypes, shapes, ranges and values', () => {
    const rel = tf.tensor4d([-2, -1, 0, 1, 2, 0.3], [1, 2, 3, 1]);
    const f = heatmap(rel);
    expect(f.dtype).toBe('float32');
    expect(f.shape).toEqual([1, 2, 3, 3]);
    const fd = f.dataSync();
    expect(Math.min(...fd)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...fd)).toBeLessThanOrEqual(1);
    const i = heatmap(rel, { output: 'int32' });
    expect(i.dtype).toBe('int32');
    expect(i.shape).toEqual([1, 2, 3, 3]);
    expect(Array.from(i.dataSync()).slice(0, 15)).toEqual([0, 0, 255, 128, 128, 255, 255, 255, 255, 255, 126, 126, 255, 0, 0]);
    const a = heatmap(rel, { alpha: true });
    expect(a.dtype).toBe('float32');
    expect(a.shape).toEqual([1, 2, 3, 4]);
    expectRows(colors(rel, { alpha: true }).slice(0, 3), [[0, 0, 1, 1], [0.5, 0.5, 1, 1], [1, 1, 1, 1]]);
    const ai = heatmap(rel, { alpha: true, output: 'int32' });
    expect(ai.dtype).toBe('int32');
    expect(ai.shape).toEqual([1, 2, 3, 4]);
    expect(Array.from(ai.dataSync()).slice(0, 8)).toEqual([0, 0, 255, 255, 128, 128, 255, 255]);
    tf.dispose([rel, f, i, a, ai]);
  });

  test('reduce modes: sum, mean, maxAbs (sign kept), channel index; rank 3 = one channel', () => {
    // two pixels × 3 channels: [1, -3, 1] and [2, 2, -1]
    const rel = tf.tensor4d([1, -3, 1, 2, 2, -1], [1, 1, 2, 3]);
    const red = (r: Parameters<typeof reduceChannels>[1]): number[] => {
      const t = reduceChannels(rel, r);
      const d = Array.from(t.dataSync());
      t.dispose();
      return d;
    };
    expect(red('sum')).toEqual([-1, 3]);
    const mean = red('mean');
    expect(mean[0]).toBeCloseTo(-1 / 3, 6);
    expect(mean[1]).toBe(1);
    expect(red('maxAbs')).toEqual([-3, 2]);
    expect(red(0)).toEqual([1, 2]);
    expect(red(2)).toEqual([1, -1]);
    // sum and mean: [-1, 3]/3 → index 128 + ⌊−42.67 + 0.5⌋ = 85, 255
    expectRows(colors(rel), [bwr(85), bwr(255)]);
    expectRows(colors(rel, { reduce: 'mean' }), [bwr(85), bwr(255)]);
    // maxAbs: [-3, 2]/3 → 0, 128 + ⌊84.67 + 0.5⌋ = 213
    expectRows(colors(rel, { reduce: 'maxAbs' }), [bwr(0), bwr(213)]);
    expectRows(colors(rel, { reduce: 0 }), [bwr(192), bwr(255)]);
    expectRows(colors(rel, { reduce: 2 }), [bwr(255), bwr(0)]);
    // ties in maxAbs go to the positive value
    const tie = tf.tensor4d([2, -2], [1, 1, 1, 2]);
    const t = reduceChannels(tie, 'maxAbs');
    expect(Array.from(t.dataSync())).toEqual([2]);
    // rank 3 is [N,H,W]: same colours as [N,H,W,1]
    const r3 = line();
    const r4 = r3.expandDims(3);
    expectRows(colors(r3), colors(r4));
    tf.dispose([rel, tie, t, r3, r4]);
  });

  test('int32 relevance is accepted', () => {
    const rel = tf.tensor3d([[[-2, 0, 2]]], undefined, 'int32');
    expectRows(colors(rel), [bwr(0), bwr(128), bwr(255)]);
    rel.dispose();
  });
});

describe('overlay', () => {
  const image = (): tf.Tensor => tf.tensor4d([0.2, 0.8], [1, 1, 2, 1]);
  const heat = (): tf.Tensor => tf.tensor4d([1, 0, 0, 0, 0, 1], [1, 1, 2, 3]);
  const blend = (opts: Parameters<typeof overlay>[2], img = image(), hm = heat()): number[][] => {
    const out = overlay(img, hm, opts);
    expect(out.shape).toEqual([1, 1, 2, 3]);
    expect(out.dtype).toBe('float32');
    const d = Array.from(out.dataSync());
    tf.dispose([out, img, hm]);
    return [d.slice(0, 3), d.slice(3, 6)];
  };

  test('alpha, multiply and screen blends by hand (gray image broadcast to RGB)', () => {
    expectRows(blend({ alpha: 0.25 }), [[0.4, 0.15, 0.15], [0.6, 0.6, 0.85]]);
    expectRows(blend({ alpha: 0.25, mode: 'multiply' }), [[0.2, 0.15, 0.15], [0.6, 0.6, 0.8]]);
    expectRows(blend({ alpha: 0.25, mode: 'screen' }), [[0.4, 0.2, 0.2], [0.8, 0.8, 0.85]]);
    // default alpha 0.5
    expectRows(blend({}), [[0.6, 0.1, 0.1], [0.4, 0.4, 0.9]]);
    expectRows(blend({ alpha: 0 }), [[0.2, 0.2, 0.2], [0.8, 0.8, 0.8]]);
    expectRows(blend({ alpha: 1 }), [[1, 0, 0], [0, 0, 1]]);
  });

  test('RGB image, int32 and RGBA heatmaps, one image for several heatmaps', () => {
    const rgb = tf.tensor4d([0, 0.5, 1, 1, 1, 1], [1, 1, 2, 3]);
    expectRows(blend({}, rgb), [[0.5, 0.25, 0.5], [0.5, 0.5, 1]]);
    const intHeat = tf.tensor4d([255, 0, 0, 255, 0, 0, 255, 255], [1, 1, 2, 4], 'int32');
    expectRows(blend({}, image(), intHeat), [[0.6, 0.1, 0.1], [0.4, 0.4, 0.9]]);
    const img = image();
    const two = tf.tensor4d([1, 0, 0, 0, 0, 1, 0, 0, 1, 1, 0, 0], [2, 1, 2, 3]);
    const out = overlay(img, two);
    expect(out.shape).toEqual([2, 1, 2, 3]);
    expectRows([Array.from(out.dataSync())], [[0.6, 0.1, 0.1, 0.4, 0.4, 0.9, 0.1, 0.1, 0.6, 0.9, 0.4, 0.4]]);
    tf.dispose([img, two, out]);
  });
});

describe('topKMask', () => {
  test('exactly round(fraction·H·W) ones per sample, on the largest (signed, channel-summed) pixels', () => {
    // [2, 4, 5, 2]: channel sum = pixel index p (sample 0) and −p (sample 1)
    const data: number[] = [];
    for (let s = 0; s < 2; s++) for (let p = 0; p < 20; p++) data.push(s === 0 ? p - 0.5 : -p - 0.5, 0.5);
    const rel = tf.tensor4d(data, [2, 4, 5, 2]);
    const m = topKMask(rel, 0.1);
    expect(m.shape).toEqual([2, 4, 5, 1]);
    expect(m.dtype).toBe('float32');
    const d = Array.from(m.dataSync());
    const ones = (s: number): number[] => d.slice(s * 20, s * 20 + 20).flatMap((v, i) => (v === 1 ? [i] : []));
    expect(ones(0)).toEqual([18, 19]);
    expect(ones(1)).toEqual([0, 1]);
    expect(d.filter((v) => v !== 0 && v !== 1)).toEqual([]);
    const count = (f: number): number[] => {
      const t = topKMask(rel, f);
      const v = Array.from(t.dataSync());
      t.dispose();
      return [v.slice(0, 20).reduce((a, b) => a + b, 0), v.slice(20).reduce((a, b) => a + b, 0)];
    };
    expect(count(0.05)).toEqual([1, 1]);
    expect(count(0.01)).toEqual([1, 1]); // at least one
    expect(count(0.5)).toEqual([10, 10]);
    expect(count(1)).toEqual([20, 20]);
    tf.dispose([rel, m]);
  });

  test('ties still give exactly k pixels; rank 3 accepted', () => {
    const rel = tf.zeros([1, 4, 5]);
    const m = topKMask(rel, 0.25);
    expect(m.shape).toEqual([1, 4, 5, 1]);
    expect(m.sum().dataSync()[0]).toBe(5);
    tf.dispose([rel, m]);
  });
});

describe('errors', () => {
  test('heatmap arguments', async () => {
    const rel = tf.zeros([1, 2, 2, 3]);
    const flat = tf.zeros([2, 2]);
    await expectError(() => heatmap(flat), LrpArgumentError, /Argument 'relevance'/, /\[N,H,W,C\] or \[N,H,W\]/, /got \[2,2\]/, /expandDims\(0\)/);
    await expectError(() => heatmap([1, 2] as unknown as tf.Tensor), LrpArgumentError, /Argument 'relevance'/, /tf\.Tensor/);
    await expectError(() => heatmap(rel, { colormap: 'jet' as ColormapName }), LrpArgumentError, /Argument 'options\.colormap'/, /unknown colour map "jet"/, /bwr, seismic, coldnhot, coolwarm, gray, hot/);
    for (const p of [0, -1, 100.5, NaN]) {
      await expectError(() => heatmap(rel, { clipPercentile: p }), LrpArgumentError, /Argument 'options\.clipPercentile'/, /\(0, 100\]/);
    }
    await expectError(() => heatmap(rel, { normalize: 'minmax' as 'symmetric' }), LrpArgumentError, /Argument 'options\.normalize'/, /'symmetric', 'absolute' or 'positive'/);
    await expectError(() => heatmap(rel, { reduce: 'max' as 'sum' }), LrpArgumentError, /Argument 'options\.reduce'/, /unknown reduction "max"/);
    await expectError(() => heatmap(rel, { reduce: 3 }), LrpArgumentError, /Argument 'options\.reduce'/, /channel index 3 is out of range/, /0\.\.2/);
    await expectError(() => heatmap(rel, { reduce: 0.5 }), LrpArgumentError, /Argument 'options\.reduce'/, /out of range/);
    await expectError(() => heatmap(rel, { output: 'uint8' as 'float' }), LrpArgumentError, /Argument 'options\.output'/, /'float' \(0\.\.1\) or 'int32' \(0\.\.255\)/);
    await expectError(() => colormapTable('viridis' as ColormapName), LrpArgumentError, /Argument 'name'/, /unknown colour map "viridis"/);
    tf.dispose([rel, flat]);
  });

  test('overlay arguments', async () => {
    const img = tf.zeros([1, 2, 2, 1]);
    const hm = tf.zeros([1, 2, 2, 3]);
    const small = tf.zeros([1, 2, 3, 3]);
    const img3 = tf.zeros([2, 2, 3]);
    const img2c = tf.zeros([1, 2, 2, 2]);
    const hm2c = tf.zeros([1, 2, 2, 2]);
    const hm2 = tf.zeros([2, 2, 2, 3]);
    const img2 = tf.zeros([3, 2, 2, 1]);
    await expectError(() => overlay(img, small), LrpArgumentError, /Argument 'heat'/, /\[1,2,3,3\] does not match image \[1,2,2,1\]/, /resizeBilinear/);
    await expectError(() => overlay(img2, hm2), LrpArgumentError, /Argument 'heat'/, /does not match/);
    await expectError(() => overlay(img3, hm), LrpArgumentError, /Argument 'image'/, /\[N,H,W,1\] or \[N,H,W,3\]/, /got \[2,2,3\]/);
    await expectError(() => overlay(img2c, hm), LrpArgumentError, /Argument 'image'/);
    await expectError(() => overlay(img, hm2c), LrpArgumentError, /Argument 'heat'/, /RGB\(A\) heatmap/);
    await expectError(() => overlay(img, hm, { alpha: 1.5 }), LrpArgumentError, /Argument 'options\.alpha'/, /\[0, 1\], got 1\.5/);
    await expectError(() => overlay(img, hm, { alpha: NaN }), LrpArgumentError, /Argument 'options\.alpha'/);
    await expectError(() => overlay(img, hm, { mode: 'add' as 'alpha' }), LrpArgumentError, /Argument 'options\.mode'/, /'alpha', 'multiply' or 'screen'/);
    tf.dispose([img, hm, small, img3, img2c, hm2c, hm2, img2]);
  });

  test('topKMask arguments', async () => {
    const rel = tf.zeros([1, 2, 2, 1]);
    const r5 = tf.zeros([1, 1, 2, 2, 1]);
    for (const f of [0, -0.1, 1.5, NaN]) {
      await expectError(() => topKMask(rel, f), LrpArgumentError, /Argument 'fraction'/, /\(0, 1\]/, /0\.05/);
    }
    await expectError(() => topKMask(r5, 0.1), LrpArgumentError, /Argument 'relevance'/, /rank 5/);
    tf.dispose([rel, r5]);
  });
});

describe('no leaks', () => {
  test('heatmap, overlay, topKMask, every option', async () => {
    const rel = tf.randomNormal([2, 6, 5, 3], 0, 1, 'float32', 7);
    const img = tf.randomUniform([2, 6, 5, 1], 0, 1, 'float32', 8);
    const optionSets: HeatmapOptions[] = [
      {},
      { normalize: 'absolute', colormap: 'hot', output: 'int32' },
      { normalize: 'positive', clipPercentile: 99.5, shared: true, alpha: true },
      { reduce: 'maxAbs', clipPercentile: 90, colormap: 'coolwarm' },
      { reduce: 1, shared: true, colormap: 'coldnhot', alpha: true, output: 'int32' },
      { reduce: 'mean', colormap: 'seismic' },
    ];
    for (const o of optionSets) await expectNoLeak(() => tf.dispose(heatmap(rel, o)));
    const hm = heatmap(rel);
    for (const mode of ['alpha', 'multiply', 'screen'] as const) await expectNoLeak(() => tf.dispose(overlay(img, hm, { mode })));
    await expectNoLeak(() => tf.dispose(topKMask(rel, 0.05)));
    tf.dispose([rel, img, hm]);
  });
});
