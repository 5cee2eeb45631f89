/** Image files in Node (sharp): exact PNG round trips, JPEG within tolerance, reading with resize/scale/channels, typed errors naming the file, no leaks. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { LrpArgumentError, LrpError, LrpLoadError } from '../src';
import { heatmap, heatmapGrid } from '../src/heatmap';
import { LrpImageError, readImage, readImages, saveGrid, saveHeatmap, writeImage } from '../src/node';
import { gridLayout } from '../src/heatmap/grid';
import { BACKENDS, expectError, expectNoLeak, uniform, useBackend } from './helpers';

const sharp = require('sharp') as (input: string | Buffer, o?: object) => {
  raw(): { toBuffer(o: { resolveWithObject: true }): Promise<{ data: Buffer; info: { width: number; height: number; channels: number } }> };
  png(): { toBuffer(): Promise<Buffer> };
  jpeg(o?: object): { toBuffer(): Promise<Buffer> };
  metadata(): Promise<{ format: string; width: number; height: number; channels: number }>;
};

let dir = '';
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lrp-image-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Raw decoded pixels of a file. */
async function rawPixels(file: string): Promise<{ data: number[]; width: number; height: number; channels: number }> {
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  return { data: Array.from(data), width: info.width, height: info.height, channels: info.channels };
}

/** Writes a PNG with the given raw pixels (bytes). */
async function pngFile(name: string, width: number, height: number, channels: number, bytes: number[]): Promise<string> {
  const file = path.join(dir, name);
  fs.writeFileSync(file, await sharp(Buffer.from(bytes), { raw: { width, height, channels } }).png().toBuffer());
  return file;
}

const tempFiles = (): string[] => fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'));

describe.each(BACKENDS)('writing (%s)', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  test('saveHeatmap PNG read back gives exactly heatmap(…, int32) pixels', async () => {
    const rel = uniform([1, 6, 7, 2], 41);
    for (const colormap of ['bwr', 'coldnhot', 'hot'] as const) {
      const file = path.join(dir, `heat-${backend}-${colormap}.png`);
      const written = await saveHeatmap(file, rel, { colormap, clipPercentile: 95 });
      expect(written).toEqual([file]);
      const expected = heatmap(rel, { colormap, clipPercentile: 95, output: 'int32' });
      const got = await rawPixels(file);
      expect([got.height, got.width, got.channels]).toEqual([6, 7, 3]);
      expect(got.data).toEqual(Array.from(await expected.data()));
      expected.dispose();
    }
    rel.dispose();
    expect(tempFiles()).toEqual([]);
  });

  test('saveHeatmap with overlay, nearest upscale and a batch pattern: exact pixels per file', async () => {
    const rel = uniform([3, 4, 5, 1], 42);
    const img = uniform([3, 4, 5, 1], 43, 0, 1);
    const files = await saveHeatmap(path.join(dir, `ov-${backend}-{i}.png`), rel, { image: img, alpha: 0.3, mode: 'screen', scale: 3 });
    expect(files.map((f) => path.basename(f))).toEqual([0, 1, 2].map((i) => `ov-${backend}-${i}.png`));
    const ov = tf.tidy(() => {
      const { overlay } = require('../src/heatmap') as typeof import('../src/heatmap');
      return tf.cast(tf.round(tf.mul(overlay(img, heatmap(rel), { alpha: 0.3, mode: 'screen' }), 255)), 'int32');
    });
    const ref = (await ov.array()) as number[][][][];
    for (let i = 0; i < 3; i++) {
      const got = await rawPixels(files[i]);
      expect([got.height, got.width]).toEqual([12, 15]);
      for (let y = 0; y < 12; y++) {
        for (let x = 0; x < 15; x++) {
          const p = (y * 15 + x) * 3;
          expect(got.data.slice(p, p + 3)).toEqual(ref[i][Math.floor(y / 3)][Math.floor(x / 3)]);
        }
      }
    }
    tf.dispose([rel, img, ov]);
  });

  test('JPEG: right size, colours within tolerance on flat regions', async () => {
    // 4 blocks of 16×16: +max (red), −max (blue), 0 (white), +half
    const blocks = [1, -1, 0, 0.5];
    const rel = tf.tidy(() => upscaleBlocks(blocks));
    const file = path.join(dir, `heat-${backend}.jpg`);
    await saveHeatmap(file, rel, { quality: 95 });
    const meta = await sharp(file).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 32, 32]);
    const got = await rawPixels(file);
    const expected = heatmap(rel, { output: 'int32' });
    const ref = await expected.data();
    let worst = 0;
    for (const [by, bx] of [[0, 0], [0, 1], [1, 0], [1, 1]]) {
      for (let y = by * 16 + 3; y < by * 16 + 13; y++) {
        for (let x = bx * 16 + 3; x < bx * 16 + 13; x++) {
          for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(got.data[(y * 32 + x) * 3 + c] - ref[(y * 32 + x) * 3 + c]));
        }
      }
    }
    expect(worst).toBeLessThanOrEqual(8);
    tf.dispose([rel, expected]);
  });

  test('writeImage: [H,W,C] and [1,H,W,C], float 0..1 and int32 0..255 (clipped), gray and RGBA; format option', async () => {
    const f = tf.tensor3d([0, 0.5, 1, 2, -1, 0.25], [2, 3, 1]);
    await writeImage(path.join(dir, 'gray.png'), f);
    const g = await rawPixels(path.join(dir, 'gray.png'));
    expect([g.width, g.height]).toEqual([3, 2]);
    expect((await sharp(path.join(dir, 'gray.png')).metadata()).channels).toBe(1); // a grayscale file
    expect(g.data.filter((_, i) => i % g.channels === 0)).toEqual([0, 128, 255, 255, 0, 64]);
    const rgba = tf.tensor4d([255, 0, 0, 128, 0, 300, 0, 255], [1, 1, 2, 4], 'int32');
    await writeImage(path.join(dir, 'rgba.png'), rgba);
    expect((await rawPixels(path.join(dir, 'rgba.png'))).data).toEqual([255, 0, 0, 128, 0, 255, 0, 255]);
    await writeImage(path.join(dir, 'noext'), f, { format: 'png' });
    expect((await sharp(path.join(dir, 'noext')).metadata()).format).toBe('png');
    await writeImage(path.join(dir, 'rgba.jpeg'), rgba);
    expect((await sharp(path.join(dir, 'rgba.jpeg')).metadata()).channels).toBe(3);
    tf.dispose([f, rgba]);
  });

  test('saveGrid writes the heatmapGrid picture, exactly (PNG)', async () => {
    const rel = uniform([2, 7, 7, 1], 44);
    const img = uniform([2, 7, 7, 1], 45, 0, 1);
    const file = path.join(dir, `grid-${backend}.png`);
    const info = await saveGrid(file, { images: img, relevance: rel, labels: ['3 (0.91)', 'x'], scale: 2 });
    const L = gridLayout(2, 7, 7, { scale: 2, labels: true });
    expect(info).toEqual({ path: file, width: L.width, height: L.height });
    const grid = heatmapGrid({ images: img, relevance: rel, labels: ['3 (0.91)', 'x'], scale: 2 });
    const ref = tf.tidy(() => tf.cast(tf.round(tf.mul(grid, 255)), 'int32'));
    expect((await rawPixels(file)).data).toEqual(Array.from(await ref.data()));
    tf.dispose([rel, img, grid, ref]);
  });

  test('no leaks on success and on error paths', async () => {
    const rel = uniform([2, 4, 4, 1], 46);
    const img = uniform([2, 4, 4, 1], 47, 0, 1);
    await expectNoLeak(() => saveHeatmap(path.join(dir, 'leak-{i}.png'), rel, { image: img, scale: 2, contour: { fraction: 0.2 } }));
    await expectNoLeak(() => saveGrid(path.join(dir, 'leak.png'), { images: img, relevance: rel, labels: ['a', 'b'] }));
    const one = img.slice([0, 0, 0, 0], [1, -1, -1, -1]);
    const wrong = tf.zeros([2, 5, 5, 1]);
    await expectNoLeak(() => writeImage(path.join(dir, 'leak.jpg'), one));
    // missing folders are created; a file where a folder should be is an error
    fs.writeFileSync(path.join(dir, 'blocker'), 'x');
    await expectError(() => saveHeatmap(path.join(dir, 'blocker', 'x-{i}.png'), rel), LrpImageError, /blocker/, /a file of that name is in the way/);
    await expectError(() => saveGrid(path.join(dir, 'blocker', 'g.png'), { relevance: rel }), LrpImageError, /blocker/);
    await expectNoLeak(() => saveGrid(path.join(dir, 'made', 'for', 'g.png'), { relevance: rel }));
    expect(fs.existsSync(path.join(dir, 'made', 'for', 'g.png'))).toBe(true);
    fs.rmSync(path.join(dir, 'blocker'));
    await expectError(() => saveHeatmap(path.join(dir, 'x-{i}.png'), rel, { image: wrong }), LrpArgumentError);
    expect(tempFiles()).toEqual([]);
    tf.dispose([rel, img, one, wrong]);
  });
});

/** [1, 32, 32, 1] relevance made of four constant 16×16 blocks. */
function upscaleBlocks(values: number[]): tf.Tensor4D {
  const small = tf.tensor4d(values, [1, 2, 2, 1]);
  return tf.image.resizeNearestNeighbor(small, [32, 32]) as tf.Tensor4D;
}

describe('writing: argument errors', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  test('batch without {i}, unknown extension, bad shapes, dtype, NaN, quality', async () => {
    const rel = tf.zeros([2, 3, 3, 1]);
    const two = tf.zeros([2, 3, 3, 3]);
    const bool = tf.zeros([3, 3, 1], 'bool');
    const nan = tf.tensor3d([NaN], [1, 1, 1]);
    const ok = tf.zeros([3, 3, 3]);
    await expectError(() => saveHeatmap(path.join(dir, 'batch.png'), rel), LrpArgumentError, /path/, /2 samples/, /\{i\}/);
    await expectError(() => saveHeatmap(path.join(dir, 'x.gif'), rel), LrpArgumentError, /\.png, \.jpg or \.jpeg/);
    await expectError(() => writeImage(path.join(dir, 'x.png'), two), LrpArgumentError, /\[2,3,3,3\]/, /one image per sample/);
    await expectError(() => writeImage(path.join(dir, 'x.png'), bool), LrpArgumentError, /bool/);
    await expectError(() => writeImage(path.join(dir, 'x.png'), nan), LrpArgumentError, /NaN/);
    await expectError(() => writeImage(path.join(dir, 'x.jpg'), ok, { quality: 0 }), LrpArgumentError, /quality/);
    await expectError(() => writeImage(path.join(dir, 'x.png'), ok, { format: 'bmp' as never }), LrpArgumentError, /format/);
    expect(fs.existsSync(path.join(dir, 'x.png'))).toBe(false);
    tf.dispose([rel, two, bool, nan, ok]);
  });
});

describe.each(BACKENDS)('reading (%s)', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  test('exact values: 0..1, 0..255, -1..1, {mean, std}; gray → 1 or 3 channels', async () => {
    const file = await pngFile(`g-${backend}.png`, 3, 2, 1, [0, 51, 102, 153, 204, 255]);
    const a = await readImage(file, { channels: 1 });
    expect(a.shape).toEqual([1, 2, 3, 1]);
    expect(Array.from(await a.data())).toEqual([0, 51, 102, 153, 204, 255].map((v) => Math.fround(v / 255)));
    const b = await readImage(file, { channels: 1, scale: '0..255' });
    expect(Array.from(await b.data())).toEqual([0, 51, 102, 153, 204, 255]);
    const c = await readImage(file, { channels: 1, scale: '-1..1' });
    const cd = Array.from(await c.data());
    expect(cd[0]).toBe(-1);
    expect(cd[5]).toBe(1);
    expect(cd[3]).toBeCloseTo(153 / 127.5 - 1, 6);
    const d = await readImage(file, { scale: { mean: [0.5, 0.2, 0], std: [0.25, 1, 2] } });
    expect(d.shape).toEqual([1, 2, 3, 3]);
    const dd = Array.from(await d.data());
    expect(dd.slice(9, 12).map((v) => Number(v.toFixed(5)))).toEqual([(0.6 - 0.5) / 0.25, 0.6 - 0.2, 0.6 / 2].map((v) => Number(v.toFixed(5))));
    tf.dispose([a, b, c, d]);
  });

  test('resize (nearest, exact), model input shape, RGBA flattened onto the background, several files', async () => {
    const file = await pngFile(`rgba-${backend}.png`, 2, 1, 4, [255, 0, 0, 255, 0, 0, 255, 0]);
    const x = await readImages(file, { height: 2, width: 4, kernel: 'nearest' });
    expect(x.shape).toEqual([1, 2, 4, 3]);
    // left half red, right half transparent → white
    expect(Array.from(await x.data())).toEqual([1, 0, 0, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 1, 1, 1, 1, 1, 1]);
    const black = await readImages(file, { background: '#000000' });
    expect(Array.from(await black.data())).toEqual([1, 0, 0, 0, 0, 0]);
    const model = { inputs: [{ shape: [null, 4, 4, 1] }] };
    const gray = await pngFile(`g4-${backend}.png`, 2, 2, 1, [0, 255, 255, 0]);
    const m = await readImages([gray, gray, file], { model, kernel: 'nearest' });
    expect(m.shape).toEqual([3, 4, 4, 1]);
    expect(Array.from((await m.data()).slice(0, 4))).toEqual([0, 0, 1, 1]);
    const lenet = await readImages(gray, { model: { inputs: [{ shape: [null, 28, 28] }] } });
    expect(lenet.shape).toEqual([1, 28, 28, 1]);
    tf.dispose([x, black, m, lenet]);
  });

  test('typed errors that name the file: missing, text, truncated PNG and JPEG, folder, different sizes', async () => {
    const text = path.join(dir, 'notes.png');
    fs.writeFileSync(text, 'hello, this is not a picture\n');
    const good = await pngFile(`ok-${backend}.png`, 4, 4, 3, new Array(48).fill(100));
    const pngBytes = fs.readFileSync(good);
    const badPng = path.join(dir, 'truncated.png');
    fs.writeFileSync(badPng, pngBytes.subarray(0, 40));
    const jpg = await sharp(Buffer.from(new Array(64 * 64 * 3).fill(0).map((_, i) => (i * 7) % 256)), { raw: { width: 64, height: 64, channels: 3 } }).jpeg().toBuffer();
    const badJpg = path.join(dir, 'truncated.jpg');
    fs.writeFileSync(badJpg, jpg.subarray(0, Math.floor(jpg.length / 2)));
    const other = await pngFile('five.png', 5, 5, 1, new Array(25).fill(0));

    const e1 = await expectError(() => readImages([good, path.join(dir, 'nope.png')]), LrpImageError, /nope\.png/, /no such file/);
    expect((e1 as LrpImageError).file).toBe(path.join(dir, 'nope.png'));
    expect(e1).toBeInstanceOf(LrpLoadError);
    await expectError(() => readImage(text), LrpImageError, /notes\.png/, /not an image/);
    await expectError(() => readImage(badPng), LrpImageError, /truncated\.png/);
    await expectError(() => readImage(badJpg), LrpImageError, /truncated\.jpg/, /truncated or corrupt/);
    await expectError(() => readImage(dir), LrpImageError, /folder/);
    await expectError(() => readImages([good, other]), LrpImageError, /five\.png is 5×5/, /height, width/);
    await expectError(() => readImages([]), LrpArgumentError, /paths/);
    await expectError(() => readImages(good, { height: 4 }), LrpArgumentError, /width/);
    await expectError(() => readImages(good, { channels: 2 as never }), LrpArgumentError, /channels/);
    await expectError(() => readImages(good, { scale: { mean: [1, 2], std: 1 } }), LrpArgumentError, /scale\.mean/);
    await expectError(() => readImages(good, { scale: 'x' as never }), LrpArgumentError, /scale/);
    await expectError(() => readImages(good, { model: { inputs: [{ shape: [null, 8] }] } }), LrpArgumentError, /model/);
    // the right files still read fine, and the decoded size is the resized one
    const ok = await readImages([good, other], { height: 3, width: 2 });
    expect(ok.shape).toEqual([2, 3, 2, 3]);
    await expectNoLeak(async () => tf.dispose(await readImages([good, good], { height: 3, width: 2, channels: 1 })));
    ok.dispose();
  });
});

describe('sharp missing', () => {
  test('a clear LrpError that says npm install sharp', async () => {
    let mod: typeof import('../src/node/image') | undefined;
    jest.isolateModules(() => {
      jest.doMock('@tensorflow/tfjs', () => tf); // the same tf, not a second copy
      jest.doMock('sharp', () => {
        throw new Error("Cannot find module 'sharp'");
      });
      mod = require('../src/node/image') as typeof import('../src/node/image');
    });
    const err = await mod!.readImages(path.join(dir, 'whatever.png')).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe('LrpError');
    expect((err as Error).message).toMatch(/npm install sharp/);
    expect((err as Error).message).toMatch(/Cannot find module 'sharp'/);
    jest.dontMock('sharp');
    jest.dontMock('@tensorflow/tfjs');
    expect(LrpError).toBeDefined();
  });
});
