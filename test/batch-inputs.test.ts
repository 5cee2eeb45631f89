/**
 * Hostile and edge-case inputs of batch runs (issue #17): .npy headers that lie about their size
 * or are long (v2/v3), folders with link cycles, items whose output files would collide, the
 * workers' warm-up memory, pictures too large to draw and input sets with nothing to explain.
 * Each test reproduces a defect of the code before the fix (a hang, a raw error, a shared file,
 * a wasted allocation, a manifest left behind, a silent "0 explained").
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { LrpArgumentError } from '../src';
import { explainDataset, loadModel, writeImage } from '../src/node';
import { resolveInputs, walkFiles } from '../src/node/batch/glob';
import { countItems, refsFromFiles, type ItemRef } from '../src/node/batch/items';
import { decodeNpy, encodeNpy, encodeNpyHeader, NPY_MAX_HEADER_BYTES, NpyFile, readNpy } from '../src/node/batch/npy';
import { checkPictureSize, MAX_PICTURE_SIDE, MAX_UPSCALE, outputStems, stemFunction, writeAggregate } from '../src/node/batch/outputs';
import { RelevanceAggregator } from '../src/node/batch/aggregator';
import { shardItemCount } from '../src/node/batch/shard';
import { WorkerPool } from '../src/node/batch/workers';
import { main } from '../src/node/cli/main';
import { digitSet } from '../scripts/digits-data';
import { expectError } from './helpers';

const ROOT = path.join(__dirname, '..');
const MODEL = path.join(ROOT, 'fixtures', 'digits');
const set = digitSet('heldOut');
let tmp: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-lrp-inputs-'));
});
afterAll(async () => {
  fs.rmSync(tmp, { recursive: true, force: true });
  await tf.setBackend('cpu');
});

/** Runs main() in this process (cwd: the temporary folder), capturing its output. */
async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, cwd: tmp });
  return { code, stdout, stderr };
}

/** A folder under the temporary folder, created empty. */
function folder(name: string): string {
  const dir = path.join(tmp, name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** An .npy file (format `major`.0) whose header text is padded with spaces to `headerBytes` bytes. */
function npyWithHeader(major: 1 | 2 | 3, shape: number[], data: Float32Array, headerBytes: number): Buffer {
  const prefix = major === 1 ? 10 : 12;
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '<f4', 'fortran_order': False, 'shape': ${tuple}, }`;
  dict += ' '.repeat(headerBytes - dict.length - 1) + '\n';
  const head = Buffer.alloc(prefix);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]).copy(head);
  head[6] = major;
  if (major === 1) head.writeUInt16LE(dict.length, 8);
  else head.writeUInt32LE(dict.length, 8);
  return Buffer.concat([head, Buffer.from(dict, major === 3 ? 'utf8' : 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

describe('.npy headers (2b)', () => {
  test('a header claiming 10^15 rows is refused at once, naming the file, the claim and the real size; --shard 0/2 counts in constant time', async () => {
    const file = path.join(folder('huge'), 'huge.npy');
    fs.writeFileSync(file, Buffer.concat([encodeNpyHeader([1e15, 28, 28, 1]), Buffer.alloc(784 * 4 * 3)]));
    const t0 = Date.now();
    const err = await expectError(() => new NpyFile(file), LrpArgumentError, /huge\.npy/, /1000000000000000, 28, 28, 1/, /784000000000000000 values/, /the file has 9536 bytes/);
    expect(err.message).toMatch(/truncated or its header is wrong/);
    expect(await countItems(file)).toBe(1); // one failing item, not 10^15
    // the shard count is arithmetic: no loop over 3·10^13 batches
    expect(shardItemCount(1e15, 32, { index: 0, count: 2 })).toBe(5e14);
    expect([0, 1, 2].map((i) => shardItemCount(10, 3, { index: i, count: 3 }))).toEqual([4, 3, 3]);
    expect([0, 1, 2, 3].map((i) => shardItemCount(10, 3, { index: i, count: 4 }))).toEqual([3, 3, 3, 1]);
    expect([0, 1].map((i) => shardItemCount(0, 3, { index: i, count: 2 }))).toEqual([0, 0]);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  test('the CLI with --shard 0/2 on a lying .npy finishes: the file is one failed item naming the claim, the other inputs are explained', async () => {
    const dir = folder('huge-cli');
    fs.writeFileSync(path.join(dir, 'huge.npy'), Buffer.concat([encodeNpyHeader([1e15, 28, 28, 1]), Buffer.alloc(100)]));
    fs.writeFileSync(path.join(dir, 'ok.npy'), encodeNpy(set.pixels.slice(0, 3 * 784), [3, 28, 28, 1]));
    const t0 = Date.now();
    const r = await cli('explain', '-m', MODEL, '-i', dir, '-o', 'out-huge', '--shard', '0/2', '--batch', '2', '--backend', 'cpu', '-q', '--no-heatmap');
    expect(Date.now() - t0).toBeLessThan(30000);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(1);
    const errors = fs.readFileSync(path.join(tmp, 'out-huge', 'errors.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { index: number; file: string; reason: string });
    expect(errors.map((e) => [e.index, e.file])).toEqual([[0, 'huge.npy']]);
    expect(errors[0].reason).toMatch(/huge\.npy: is truncated or its header is wrong: its header claims shape \(1000000000000000, 28, 28, 1\)/);
    expect(errors[0].reason).toMatch(/the file has 228 bytes/);
    const summary = JSON.parse(fs.readFileSync(path.join(tmp, 'out-huge', 'summary.json'), 'utf8')) as { items: Array<{ file: string }> };
    expect(summary.items.map((i) => i.file)).toEqual(['ok.npy#0']); // batch 0 = items 0, 1 (huge.npy, ok.npy#0); batch 1 is shard 1's
  });

  test('version 2.0 and 3.0 headers longer than 4 KB are read (any length the format allows, up to the documented cap)', () => {
    const dir = folder('v2');
    const data = Float32Array.from({ length: 12 }, (_, i) => i / 4);
    for (const [major, bytes] of [[2, 5000], [3, 70000], [1, 60000]] as const) {
      const file = path.join(dir, `v${major}-${bytes}.npy`);
      fs.writeFileSync(file, npyWithHeader(major, [3, 4], data, bytes));
      const npy = new NpyFile(file);
      expect(npy.rows).toBe(3);
      expect(npy.header.dataOffset).toBe((major === 1 ? 10 : 12) + bytes);
      expect(Array.from(npy.row(2))).toEqual([2, 2.25, 2.5, 2.75]);
      npy.close();
      expect(Array.from(readNpy(file).data)).toEqual(Array.from(data));
    }
    expect(NPY_MAX_HEADER_BYTES).toBe(1 << 20);
  });

  test('a header length over the cap, a header past the end of the file, bytes after the data and rows of 0 values are refused, each named', async () => {
    const dir = folder('bad-headers');
    const over = npyWithHeader(2, [3, 4], new Float32Array(12), 100);
    over.writeUInt32LE(0xfffffff0, 8);
    fs.writeFileSync(path.join(dir, 'over.npy'), over);
    await expectError(() => new NpyFile(path.join(dir, 'over.npy')), LrpArgumentError, /over\.npy/, /header of 4294967280 bytes; at most 1048576 are read/);
    await expectError(() => decodeNpy(over, 'buf'), LrpArgumentError, /at most 1048576/);
    const past = npyWithHeader(2, [3, 4], new Float32Array(12), 100);
    past.writeUInt32LE(500000, 8);
    fs.writeFileSync(path.join(dir, 'past.npy'), past);
    await expectError(() => new NpyFile(path.join(dir, 'past.npy')), LrpArgumentError, /truncated \.npy header: it claims 500000 bytes of header, the file has 160 bytes/);
    fs.writeFileSync(path.join(dir, 'extra.npy'), Buffer.concat([encodeNpy(new Float32Array(12), [3, 4]), Buffer.alloc(8)]));
    await expectError(() => new NpyFile(path.join(dir, 'extra.npy')), LrpArgumentError, /has bytes after its data or its header is wrong/, /the file has 184 bytes/);
    fs.writeFileSync(path.join(dir, 'zero.npy'), encodeNpyHeader([1e15, 0]));
    await expectError(() => new NpyFile(path.join(dir, 'zero.npy')), LrpArgumentError, /holds 1000000000000000 rows of 0 values/);
    expect(await countItems(path.join(dir, 'zero.npy'))).toBe(1);
  });
});

describe('folder cycles (2c)', () => {
  /** a.png, sub/b.png and the given links (name → target, relative to the folder). */
  function tree(name: string, links: Record<string, string>): string {
    const dir = folder(name);
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.writeFileSync(path.join(dir, 'a.png'), 'x');
    fs.writeFileSync(path.join(dir, 'sub', 'b.png'), 'x');
    for (const [link, target] of Object.entries(links)) fs.symlinkSync(target, path.join(dir, link), 'dir');
    return dir;
  }

  test('one and two links of a folder to itself: the walk ends at once with the right items, each skipped link noted', () => {
    const cases: Array<Record<string, string>> = [{ self: '.' }, { loop1: '.', loop2: '.' }, { loop1: '.', loop2: '.', 'sub/up': '..' }];
    for (const links of cases) {
      const dir = tree(`cycle-${Object.keys(links).length}`, links);
      const notes: string[] = [];
      const t0 = Date.now();
      expect(resolveInputs([dir], tmp, { onNote: (l) => notes.push(l) }).map((f) => f.id)).toEqual(['a.png', 'sub/b.png']);
      expect(Date.now() - t0).toBeLessThan(1000);
      expect(notes).toHaveLength(Object.keys(links).length);
      for (const note of notes) expect(note).toMatch(/skipped .*: a link to its own ancestor .* \(a cycle\)/);
      // the same through a glob (tinyglobby follows links; each real folder is read once)
      const globNotes: string[] = [];
      expect(resolveInputs([`${dir}/**/*.png`], tmp, { onNote: (l) => globNotes.push(l) }).map((f) => f.id)).toEqual(['a.png', 'sub/b.png']);
      expect(globNotes.length).toBeGreaterThan(0);
      for (const note of globNotes) expect(note).toMatch(/skipped .* reached through a link: the folder was read already/);
    }
  });

  test('links that reach a folder many ways (2^20 paths) read each folder once: the real path wins', () => {
    const dir = folder('dag');
    for (let i = 0; i <= 20; i++) {
      fs.mkdirSync(path.join(dir, `f${String(i).padStart(2, '0')}`));
      fs.writeFileSync(path.join(dir, `f${String(i).padStart(2, '0')}`, 'x.png'), 'x');
    }
    for (let i = 0; i < 20; i++) for (const l of ['a', 'b']) fs.symlinkSync(path.join('..', `f${String(i + 1).padStart(2, '0')}`), path.join(dir, `f${String(i).padStart(2, '0')}`, l), 'dir');
    const notes: string[] = [];
    const t0 = Date.now();
    const ids = walkFiles(dir, (l) => notes.push(l));
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(ids).toEqual(Array.from({ length: 21 }, (_, i) => `f${String(i).padStart(2, '0')}/x.png`));
    expect(notes).toHaveLength(40);
    expect(notes[0]).toMatch(/f00\/a: a link to the folder already read as .*f01$/);
    const t1 = Date.now();
    const globbed = resolveInputs([`${dir}/**/*.png`], tmp, { onNote: () => undefined });
    expect(Date.now() - t1).toBeLessThan(2000);
    expect(globbed).toHaveLength(21); // one path per real folder (depth-first, code-point order)
    expect(new Set(globbed.map((f) => fs.realpathSync(f.file))).size).toBe(21);
  });

  test('a link to a folder outside the input is followed once; a dangling link is listed (and fails as an item later)', () => {
    const outside = folder('outside');
    fs.writeFileSync(path.join(outside, 'c.png'), 'x');
    const dir = tree('outer-links', { ext: outside, ext2: outside });
    fs.symlinkSync(path.join(tmp, 'nowhere'), path.join(dir, 'gone.png'));
    const notes: string[] = [];
    expect(resolveInputs([dir], tmp, { onNote: (l) => notes.push(l) }).map((f) => f.id)).toEqual(['a.png', 'ext/c.png', 'gone.png', 'sub/b.png']);
    expect(notes).toEqual([expect.stringMatching(/ext2: a link to the folder already read as .*ext$/)]);
  });
});

describe('output names (3)', () => {
  test('row 0 of a.npy and the image a/0.png get different files; other names stay as before (resume of earlier runs)', () => {
    const files = ['a.npy', 'a/0.png', 'b.npy', 'c/d.png'].map((id) => ({ file: path.join(tmp, id), id }));
    const stem = stemFunction(outputStems(files));
    expect(['a.npy#0', 'a.npy#1', 'a/0.png', 'b.npy#0', 'c/d.png'].map(stem)).toEqual(['a.npy/0', 'a.npy/1', 'a/0', 'b/0', 'c/d']);
    // equal stems keep their extension, then the whole id: never two the same
    const same = ['a.png', 'a.jpg', 'a_png.gif', 'x.npy', 'x.jsonl', 'x_npy/3.png'].map((id) => ({ file: path.join(tmp, id), id }));
    const names = outputStems(same);
    expect([...names.values()]).toEqual(['a.png', 'a_jpg', 'a_png.gif', 'x.npy', 'x_jsonl', 'x_npy/3']);
    expect(new Set(names.values()).size).toBe(same.length);
  });

  test('explain on a.npy (2 rows) and a/0.png writes 3 heatmaps and 3 relevance files, one per item, each its own', async () => {
    const dir = folder('collide');
    fs.writeFileSync(path.join(dir, 'a.npy'), encodeNpy(set.pixels.slice(0, 2 * 784), [2, 28, 28, 1]));
    fs.mkdirSync(path.join(dir, 'a'));
    const img = tf.tensor3d(set.pixels.slice(5 * 784, 6 * 784), [28, 28, 1]);
    await writeImage(path.join(dir, 'a', '0.png'), img);
    img.dispose();
    const r = await cli('explain', '-m', MODEL, '-i', dir, '-o', 'out-collide', '--save-relevance', '--backend', 'cpu', '--workers', '1', '-q');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = path.join(tmp, 'out-collide');
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as { items: Array<{ file: string; heatmap: string; relevance: string; relevanceSum: number }> };
    expect(summary.items.map((i) => [i.file, i.heatmap, i.relevance])).toEqual([
      ['a.npy#0', 'heatmaps/a.npy/0.png', 'relevance/a.npy/0.npy'],
      ['a.npy#1', 'heatmaps/a.npy/1.png', 'relevance/a.npy/1.npy'],
      ['a/0.png', 'heatmaps/a/0.png', 'relevance/a/0.npy'],
    ]);
    for (const item of summary.items) {
      expect(fs.existsSync(path.join(out, item.heatmap))).toBe(true);
      const rel = Array.from(readNpy(path.join(out, item.relevance)).data);
      expect(rel.reduce((a, b) => a + b, 0)).toBeCloseTo(item.relevanceSum, 3);
    }
    expect(summary.items[0].relevanceSum).not.toBeCloseTo(summary.items[2].relevanceSum, 3);
  });
});

describe('worker warm-up memory (7)', () => {
  test('each worker warms up on one item, not a full --batch of zeros (batch 5000, 10 items)', async () => {
    const model = await loadModel(MODEL);
    const start = jest.spyOn(WorkerPool, 'start');
    try {
      const items = Array.from({ length: 10 }, (_, k) => set.pixels.slice(k * 784, (k + 1) * 784));
      const t0 = Date.now();
      const batches = [];
      for await (const b of explainDataset(model, items, { batchSize: 5000, workers: 1, workerThreads: true, backend: 'cpu', inputShape: [28, 28, 1] })) batches.push(b);
      expect(batches.map((b) => b.indices.length)).toEqual([10]);
      expect(start).toHaveBeenCalledTimes(1);
      expect(start.mock.calls[0][4]).toEqual([1, 28, 28, 1]);
      expect(Date.now() - t0).toBeLessThan(60000);
    } finally {
      start.mockRestore();
      model.dispose();
    }
  });
});

describe('usage errors before anything is written (8)', () => {
  beforeAll(() => {
    fs.writeFileSync(path.join(tmp, 'three.npy'), encodeNpy(set.pixels.slice(0, 3 * 784), [3, 28, 28, 1]));
  });

  test('--upscale 300 on 28x28 inputs is a usage error naming the size and the largest factor; nothing is written; the corrected command runs', async () => {
    const r = await cli('explain', '-m', MODEL, '-i', 'three.npy', '-o', 'out-upscale', '--upscale', '300', '--backend', 'cpu', '-q');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--upscale/);
    expect(r.stderr).toMatch(/300 would draw 8400x8400-pixel pictures of the 28x28 inputs; the factor is at most 64 and pictures at most 8192 pixels a side: use --upscale 64 or less/);
    expect(fs.existsSync(path.join(tmp, 'out-upscale'))).toBe(false);
    const huge = await cli('explain', '-m', MODEL, '-i', 'three.npy', '-o', 'out-upscale', '--upscale', '100000', '-q');
    expect(huge.code).toBe(2);
    expect(huge.stderr).toMatch(/100000 would draw 2800000x2800000-pixel pictures/);
    const ok = await cli('explain', '-m', MODEL, '-i', 'three.npy', '-o', 'out-upscale', '--upscale', '3', '--backend', 'cpu', '--workers', '1', '-q');
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/3 explained/);
  });

  test('a folder input with a link to itself: the CLI notes the skipped link in its own output (not a stray warning) and explains each item once', async () => {
    const dir = folder('linked-run');
    fs.writeFileSync(path.join(dir, 'x.npy'), encodeNpy(set.pixels.slice(0, 3 * 784), [3, 28, 28, 1]));
    fs.symlinkSync('.', path.join(dir, 'self'), 'dir');
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const r = await cli('explain', '-m', MODEL, '-i', 'linked-run', '-o', 'out-linked', '--backend', 'cpu', '--workers', '1', '--no-heatmap', '--progress', 'none');
      expect(r.code).toBe(0);
      expect(`${r.stdout}${r.stderr}`).toMatch(/note: skipped .*self: a link to its own ancestor .* \(a cycle\)/);
      expect(r.stdout).toMatch(/3 explained/);
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
  });

  test('writeAggregate into a folder that holds an older aggregate removes the class folders the new one does not have', async () => {
    const dir = folder('agg-stale');
    for (const c of [3, 7]) {
      fs.mkdirSync(path.join(dir, `class-${c}`));
      fs.writeFileSync(path.join(dir, `class-${c}`, 'mean.npy'), 'old');
    }
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'kept');
    const agg = new RelevanceAggregator([2, 2]);
    agg.add({ classIdx: 3, score: 1, relevance: Float32Array.from([1, 2, 3, 4]) });
    await writeAggregate(dir, agg, { colormap: 'bwr', upscale: 1, alpha: 0.5 });
    expect(fs.readdirSync(dir).sort()).toEqual(['class-3', 'classes.json', 'notes.txt', 'state.json']);
    expect(decodeNpy(fs.readFileSync(path.join(dir, 'class-3', 'mean.npy'))).data).toEqual(Float32Array.from([1, 2, 3, 4]));
  });

  test('a run writes nothing outside --out: every other file under the working folder keeps its bytes and time, and no file appears beside them', async () => {
    const dir = folder('outside-check');
    fs.writeFileSync(path.join(dir, 'in.npy'), encodeNpy(set.pixels.slice(0, 5 * 784), [5, 28, 28, 1]));
    fs.writeFileSync(path.join(dir, 'labels.txt'), '1\n2\n3\n4\n5\n');
    const snapshot = (): string[] => {
      const rows: string[] = [];
      const walk = (d: string): void => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
          const p = path.join(d, e.name);
          if (p === path.join(dir, 'out')) continue;
          if (e.isDirectory()) walk(p);
          else rows.push(`${path.relative(tmp, p)} ${fs.lstatSync(p).size} ${fs.lstatSync(p).mtimeMs}`);
        }
      };
      walk(tmp);
      return rows.sort();
    };
    const before = snapshot();
    const r = await cli('explain', '-m', MODEL, '-i', 'outside-check/in.npy', '--class', 'outside-check/labels.txt', '-o', 'outside-check/out', '--aggregate', '--save-relevance', '--backend', 'cpu', '--workers', '1', '-q');
    expect(r.code).toBe(0);
    expect(fs.readdirSync(path.join(dir, 'out')).sort()).toEqual(expect.arrayContaining(['aggregate', 'heatmaps', 'relevance', 'summary.json']));
    expect(snapshot()).toEqual(before);
  });

  test('checkPictureSize: the factor at most MAX_UPSCALE, the side times the factor at most MAX_PICTURE_SIDE', async () => {
    expect([MAX_PICTURE_SIDE, MAX_UPSCALE]).toEqual([8192, 64]);
    expect(() => checkPictureSize([28, 28, 1], 64)).not.toThrow();
    expect(() => checkPictureSize([100], 64)).not.toThrow(); // not a picture: the factor only
    await expectError(() => checkPictureSize([100], 65), LrpArgumentError, /65 is too large; the factor is at most 64/);
    await expectError(() => checkPictureSize([28, 28], 65), LrpArgumentError, /1820x1820/, /use --upscale 64 or less/);
    await expectError(() => checkPictureSize([224, 300, 3], 28), LrpArgumentError, /--upscale/, /6272x8400/, /use --upscale 27 or less/);
    await expectError(() => checkPictureSize([10000, 10], 1, 'draw.upscale'), LrpArgumentError, /draw\.upscale/, /use no draw\.upscale/);
  });

  test('inputs with nothing to explain exit 2 naming the inputs and the supported files; nothing is written', async () => {
    const text = folder('text-only');
    fs.writeFileSync(path.join(text, 'notes.txt'), 'hello\n');
    fs.writeFileSync(path.join(text, 'data.csv'), '1,2\n');
    fs.writeFileSync(path.join(tmp, 'empty.npy'), encodeNpy(new Float32Array(0), [0, 28, 28, 1]));
    fs.writeFileSync(path.join(tmp, 'blank.jsonl'), '\n  \n');
    const cases: Array<[string[], RegExp]> = [
      [['text-only'], /text-only' holds 2 files \(data\.csv, notes\.txt\), none of them an image or array file: nothing to explain/],
      [['empty.npy', 'blank.jsonl'], /empty\.npy', '.*blank\.jsonl' hold no item: nothing to explain \(blank\.jsonl: no line, empty\.npy: 0 rows\)/],
      [['nothing/*.png'], /the pattern '.*nothing\/\*\.png' matches no file/],
    ];
    for (const [inputs, message] of cases) {
      const r = await cli('explain', '-m', MODEL, ...inputs.flatMap((i) => ['-i', i]), '-o', 'out-empty', '-q');
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(/Supported: images \(\.png, \.jpg, \.jpeg, \.webp, \.gif, \.tif, \.tiff\), arrays \(\.npy: one item per row\) and JSON lines \(\.jsonl, \.ndjson/);
      expect(fs.existsSync(path.join(tmp, 'out-empty'))).toBe(false);
    }
    const help = await cli('explain', '--help');
    expect(help.stdout).toMatch(/2 usage error[^]*inputs with nothing to explain/);
  });

  test('file items carry a content hash of the bytes they were read from (sha1 of the .npy row, the JSON line)', async () => {
    const dir = folder('hashes');
    fs.writeFileSync(path.join(dir, 'r.npy'), encodeNpy(Float32Array.from([1, 2, 3, 4, 1, 2, 3, 4]), [2, 4]));
    fs.writeFileSync(path.join(dir, 's.jsonl'), '[1, 2, 3, 4]\n[1,2,3,4]\n');
    const refs: ItemRef[] = [];
    for await (const r of refsFromFiles(resolveInputs([dir]), { size: 4 })) refs.push(r);
    for (const r of refs) await r.load();
    const h = refs.map((r) => r.contentHash);
    expect(h.every((x) => typeof x === 'string' && /^[0-9a-f]{40}$/.test(x))).toBe(true);
    expect(h[0]).toBe(h[1]); // same row bytes
    expect(h[2]).not.toBe(h[3]); // different line text
  });
});
