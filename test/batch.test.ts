/**
 * Batch explanation in Node (src/node/batch): exact aggregation and its merges, .npy files,
 * globs, shards, labels, atomic writes and logs, progress, and explainDataset (sources, bad
 * items, no leaks, shards, skip, workers = 2 equal to workers = 1) on the digits fixture.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { createExplainer, LrpArgumentError } from '../src';
import { explainDataset, loadModel, RelevanceAggregator, type ExplainedBatch } from '../src/node';
import { appendLineSync, readLog, writeFileAtomicSync } from '../src/node/batch/atomic';
import { ExactSums } from '../src/node/batch/exact';
import { expandGlob, globToRegExp, isGlob, resolveInputs } from '../src/node/batch/glob';
import { refsFromFiles, type ItemRef } from '../src/node/batch/items';
import { readLabels } from '../src/node/batch/labels';
import { decodeNpy, encodeNpy, NpyFile, readNpy } from '../src/node/batch/npy';
import { Progress } from '../src/node/batch/progress';
import { parseShard, shardItemCount } from '../src/node/batch/shard';
import { digitSet } from '../scripts/digits-data';
import { expectError, rng, useBackend } from './helpers';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-lrp-batch-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** float32 values of wide dynamic range and both signs (including subnormals and zeros). */
function wideValues(count: number, seed: number): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const u = r();
    if (u < 0.05) out[i] = 0;
    else if (u < 0.08) out[i] = (r() - 0.5) * 1e-40; // subnormal
    else out[i] = (r() < 0.5 ? -1 : 1) * r() * 10 ** Math.floor(r() * 40 - 25);
  }
  return out;
}

/** The exact sum of float32 values as a BigInt in units of 2^-149 (a slow, obvious reference). */
function exactBig(values: ArrayLike<number>): bigint {
  let s = BigInt(0);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < values.length; i++) {
    f[0] = values[i];
    const b = u[0];
    const e = (b >>> 23) & 0xff;
    const m = BigInt(e === 0 ? b & 0x7fffff : (b & 0x7fffff) | 0x800000);
    const v = m << BigInt(Math.max(e, 1) - 1);
    s += b >>> 31 ? -v : v;
  }
  return s;
}

describe('exact aggregation', () => {
  const shape = [3, 4, 2];
  const size = 24;
  const items = 300;
  const values = wideValues(items * size, 7);
  const classes = Array.from({ length: items }, (_, k) => k % 3);
  const scores = Array.from(wideValues(items, 8));
  const addRange = (agg: RelevanceAggregator, ks: number[]) => ks.forEach((k) => agg.add({ classIdx: classes[k], score: scores[k], relevance: values, offset: k * size }));

  test('per-element sums equal the exact (BigInt) sum rounded once, unlike float64 accumulation', () => {
    const agg = new RelevanceAggregator(shape);
    addRange(agg, Array.from({ length: items }, (_, k) => k));
    const s = agg.sums(1);
    let naiveDiffers = 0;
    for (let i = 0; i < size; i++) {
      const col = classes.map((c, k) => (c === 1 ? values[k * size + i] : NaN)).filter((v) => !Number.isNaN(v));
      const exact = Number(exactBig(col)) * 2 ** -149;
      expect(s.sum[i]).toBe(exact);
      expect(s.sumAbs[i]).toBe(Number(exactBig(col.map(Math.abs))) * 2 ** -149);
      expect(s.sumPositive[i]).toBe(Number(exactBig(col.filter((v) => v > 0))) * 2 ** -149);
      expect(s.sumNegative[i]).toBe(Number(exactBig(col.filter((v) => v < 0))) * 2 ** -149);
      // summing the same values in float64 in two orders does not always agree
      const fwd = col.reduce((a, b) => a + b, 0);
      const bwd = [...col].reverse().reduce((a, b) => a + b, 0);
      if (fwd !== bwd) naiveDiffers += 1;
    }
    expect(naiveDiffers).toBeGreaterThan(0); // the data is hard enough to catch an inexact sum
    expect(s.count).toBe(100);
    expect(agg.total).toBe(300);
    expect(agg.classIndices()).toEqual([0, 1, 2]);
  });

  test('aggregate statistics merge exactly: any partition, any order, through JSON', () => {
    const single = new RelevanceAggregator(shape, 'run');
    addRange(single, Array.from({ length: items }, (_, k) => k));
    const r = rng(11);
    for (let trial = 0; trial < 4; trial++) {
      const parts = [new RelevanceAggregator(shape, 'run'), new RelevanceAggregator(shape, 'run'), new RelevanceAggregator(shape, 'run')];
      const order = Array.from({ length: items }, (_, k) => k).sort(() => r() - 0.5);
      order.forEach((k) => addRange(parts[Math.floor(r() * 3)], [k]));
      const viaJson = parts.map((p) => RelevanceAggregator.fromJSON(JSON.parse(JSON.stringify(p.toJSON()))));
      const merged = viaJson[2].merge(viaJson[0]).merge(viaJson[1]);
      expect(merged.equals(single)).toBe(true);
      expect(JSON.stringify(merged.toJSON())).toBe(JSON.stringify(single.toJSON()));
      for (const c of [0, 1, 2]) {
        const a = merged.result(c);
        const b = single.result(c);
        expect(Array.from(a.mean)).toEqual(Array.from(b.mean));
        expect(Array.from(a.meanAbs)).toEqual(Array.from(b.meanAbs));
        expect(a.meanScore).toBe(b.meanScore);
      }
    }
  });

  test('means, score and relevance sums are consistent', () => {
    const agg = new RelevanceAggregator([2]);
    agg.add({ classIdx: 4, score: 3, relevance: new Float32Array([1, -2]) });
    agg.add({ classIdx: 4, score: -1, relevance: new Float32Array([0.5, 4]) });
    const r = agg.result(4);
    expect(Array.from(r.mean)).toEqual([0.75, 1]);
    expect(Array.from(r.meanAbs)).toEqual([0.75, 3]);
    expect(Array.from(r.meanPositive)).toEqual([0.75, 2]);
    expect(Array.from(r.meanNegative)).toEqual([0, -1]);
    expect(r.meanScore).toBe(1);
    expect(r.meanRelevanceSum).toBe(1.75);
    expect(agg.count(4)).toBe(2);
    expect(agg.count(0)).toBe(0);
  });

  test('many additions stay exact across normalisations', () => {
    const s = new ExactSums(1);
    const big = new Float32Array([3.4e38]);
    const bits = new Uint32Array(big.buffer);
    for (let k = 0; k < 3000; k++) s.addMagnitudes(bits, 0, false);
    expect(s.values()[0]).toBe(Number(exactBig(new Array(3000).fill(big[0]))) * 2 ** -149);
  });

  test('bad input and mismatched merges are refused', async () => {
    const agg = new RelevanceAggregator([2], 'a');
    await expectError(() => agg.add({ classIdx: 0, score: 1, relevance: new Float32Array([NaN, 1]) }), LrpArgumentError, /relevance/, /NaN/);
    await expectError(() => agg.add({ classIdx: -1, score: 1, relevance: new Float32Array(2) }), LrpArgumentError, /classIdx/);
    await expectError(() => agg.add({ classIdx: 0, score: 1, relevance: new Float32Array(1) }), LrpArgumentError, /needs 2 values/);
    await expectError(() => agg.merge(new RelevanceAggregator([3], 'a')), LrpArgumentError, /item shape \[3\]/);
    await expectError(() => agg.merge(new RelevanceAggregator([2], 'b')), LrpArgumentError, /different settings/);
    await expectError(() => RelevanceAggregator.fromJSON({ format: 'x' } as never), LrpArgumentError, /not a tfjs-lrp aggregate/);
    await expectError(() => agg.result(5), LrpArgumentError, /class 5 has no aggregated items/);
    expect(agg.total).toBe(0);
  });
});

describe('.npy files', () => {
  test('float32 arrays: header layout, bytes and round trip', () => {
    const data = Float32Array.from({ length: 24 }, (_, i) => i * 0.5 - 3);
    const buf = encodeNpy(data, [2, 3, 4]);
    expect(Array.from(buf.subarray(0, 8))).toEqual([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    const headerLen = buf.readUInt16LE(8);
    expect((10 + headerLen) % 64).toBe(0);
    const header = buf.subarray(10, 10 + headerLen).toString('latin1');
    expect(header).toMatch(/^\{'descr': '<f4', 'fortran_order': False, 'shape': \(2, 3, 4\), \} *\n$/);
    expect(buf.length).toBe(10 + headerLen + 96);
    expect(Buffer.compare(buf.subarray(10 + headerLen), Buffer.from(data.buffer))).toBe(0);
    const back = decodeNpy(buf);
    expect(back.shape).toEqual([2, 3, 4]);
    expect(Array.from(back.data)).toEqual(Array.from(data));
    expect(encodeNpy(new Float32Array([1, 2]), [2]).toString('latin1')).toContain("'shape': (2,)");
    const f64 = decodeNpy(encodeNpy(new Float64Array([0.1, 1e300]), [2]), 'x', true);
    expect(f64.descr).toBe('<f8');
    expect(Array.from(f64.data)).toEqual([0.1, 1e300]);
  });

  test('rows read one at a time; bad files are named', async () => {
    const file = path.join(tmp, 'rows.npy');
    fs.writeFileSync(file, encodeNpy(Float32Array.from({ length: 12 }, (_, i) => i), [3, 2, 2]));
    const npy = new NpyFile(file);
    expect(npy.rows).toBe(3);
    expect(npy.rowShape).toEqual([2, 2]);
    expect(Array.from(npy.row(2))).toEqual([8, 9, 10, 11]);
    npy.close();
    fs.writeFileSync(path.join(tmp, 'bad.npy'), 'not numpy');
    await expectError(() => readNpy(path.join(tmp, 'bad.npy')), LrpArgumentError, /not an \.npy file/);
    fs.writeFileSync(path.join(tmp, 'short.npy'), encodeNpy(new Float32Array(12), [3, 4]).subarray(0, 100));
    await expectError(() => new NpyFile(path.join(tmp, 'short.npy')), LrpArgumentError, /truncated/);
    await expectError(() => encodeNpy(new Float32Array(3), [2, 2]), LrpArgumentError, /needs 4/);
  });

  const numpy = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;
  (numpy ? test : test.skip)('numpy reads what we write and we read what numpy writes', () => {
    const file = path.join(tmp, 'ours.npy');
    fs.writeFileSync(file, encodeNpy(Float32Array.from([1.5, -2, 3.25, 0.125, 7, 8]), [2, 3]));
    const theirs = path.join(tmp, 'theirs.npy');
    const py = `import numpy as np; a = np.load(${JSON.stringify(file)}); print(a.dtype, a.shape, a.tolist()); np.save(${JSON.stringify(theirs)}, np.arange(6, dtype='<f8').reshape(3, 2) / 4)`;
    const out = spawnSync('python3', ['-c', py], { encoding: 'utf8' });
    expect(out.stderr).toBe('');
    expect(out.stdout.trim()).toBe('float32 (2, 3) [[1.5, -2.0, 3.25], [0.125, 7.0, 8.0]]');
    const back = readNpy(theirs);
    expect(back.shape).toEqual([3, 2]);
    expect(Array.from(back.data)).toEqual([0, 0.25, 0.5, 0.75, 1, 1.25]);
  });
});

describe('inputs, shards, labels, files', () => {
  test('globs: *, ?, ** and sorted ids relative to the common folder', () => {
    expect(globToRegExp('*.png').test('a.png')).toBe(true);
    expect(globToRegExp('*.png').test('d/a.png')).toBe(false);
    expect(globToRegExp('**/*.png').test('d/e/a.png')).toBe(true);
    expect(globToRegExp('**/*.png').test('a.png')).toBe(true);
    expect(globToRegExp('a?.npy').test('ab.npy')).toBe(true);
    expect(globToRegExp('a?.npy').test('abc.npy')).toBe(false);
    expect(globToRegExp('x/**').test('x/y/z')).toBe(true);
    const root = path.join(tmp, 'tree');
    for (const f of ['b.png', 'a.png', 'sub/c.png', 'sub/deep/d.png', 'sub/e.jpg', '.hidden.png', 'B.png']) {
      fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
      fs.writeFileSync(path.join(root, f), 'x');
    }
    expect(resolveInputs([root]).map((f) => f.id)).toEqual(['B.png', 'a.png', 'b.png', 'sub/c.png', 'sub/deep/d.png', 'sub/e.jpg']);
    expect(resolveInputs([`${root}/**/*.png`]).map((f) => f.id)).toEqual(['B.png', 'a.png', 'b.png', 'sub/c.png', 'sub/deep/d.png']);
    expect(resolveInputs([`${root}/sub/*.?pg`, path.join(root, 'a.png'), path.join(root, 'a.png')]).map((f) => f.id)).toEqual(['a.png', 'sub/e.jpg']);
    expect(() => resolveInputs([path.join(root, 'nope')])).toThrow(/does not exist/);
    expect(() => resolveInputs([`${root}/*.gif`])).toThrow(/matches no file/);
  });

  test('globs (tinyglobby): brace alternatives, ** at any depth, relative patterns; hidden entries skipped; code-point order', () => {
    const root = path.join(tmp, 'braces');
    for (const f of ['imgs/b.png', 'imgs/a.jpg', 'imgs/C.png', 'imgs/c.gif', 'imgs/sub/d.png', 'imgs/sub/deep/e.jpg', 'imgs/.hidden.png', 'imgs/.dot/f.png', 'other/g.png']) {
      fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
      fs.writeFileSync(path.join(root, f), 'x');
    }
    expect(isGlob('imgs/*.{png,jpg}')).toBe(true);
    expect(isGlob('imgs/{a,b}.png')).toBe(true);
    expect(isGlob('imgs/a.png')).toBe(false);
    expect(globToRegExp('*.{png,jpg}').test('a.jpg')).toBe(true);
    expect(globToRegExp('*.{png,jpg}').test('a.gif')).toBe(false);
    expect(resolveInputs(['imgs/*.{png,jpg}'], root).map((f) => f.id)).toEqual(['C.png', 'a.jpg', 'b.png']);
    expect(resolveInputs([`${root}/imgs/**/*.{png,jpg}`]).map((f) => f.id)).toEqual(['C.png', 'a.jpg', 'b.png', 'sub/d.png', 'sub/deep/e.jpg']);
    expect(resolveInputs(['imgs/**'], root).map((f) => f.id)).toEqual(['C.png', 'a.jpg', 'b.png', 'c.gif', 'sub/d.png', 'sub/deep/e.jpg']);
    expect(resolveInputs(['**/*.png'], root).map((f) => f.id)).toEqual(['imgs/C.png', 'imgs/b.png', 'imgs/sub/d.png', 'other/g.png']);
    expect(resolveInputs(['imgs/{a,b}.*', 'other/*'], root).map((f) => f.id)).toEqual(['imgs/a.jpg', 'imgs/b.png', 'other/g.png']);
    expect(expandGlob('imgs/sub/**/*.jpg', root)).toEqual({ base: path.join(root, 'imgs', 'sub'), files: [path.join(root, 'imgs', 'sub', 'deep', 'e.jpg')] });
    expect(() => resolveInputs(['imgs/*.{bmp,tif}'], root)).toThrow(/the pattern 'imgs\/\*\.\{bmp,tif\}' matches no file/);
  });

  test('shards: i/n parsing and item counts of batch-granular round robin', () => {
    expect(parseShard('2/3')).toEqual({ index: 2, count: 3 });
    expect(() => parseShard('3/3')).toThrow(/out of range/);
    expect(() => parseShard('1-3')).toThrow(/expected i\/n/);
    expect(() => parseShard('0/0')).toThrow(/at least 1/);
    // 10 items, batches of 3: b0 {0,1,2} b1 {3,4,5} b2 {6,7,8} b3 {9}
    expect([0, 1, 2].map((i) => shardItemCount(10, 3, { index: i, count: 3 }))).toEqual([4, 3, 3]);
    expect(shardItemCount(10, 3, null)).toBe(10);
  });

  test('labels: one class per line, or file,class CSV with a header', () => {
    fs.writeFileSync(path.join(tmp, 'l.txt'), '3\n1\n\n7\n');
    const byLine = readLabels(path.join(tmp, 'l.txt'));
    expect([byLine('a', 0), byLine('b', 1), byLine('d', 3)]).toEqual([3, 1, 7]);
    expect(String(byLine('c', 2))).toMatch(/no class for item 2/);
    fs.writeFileSync(path.join(tmp, 'l.csv'), 'file,class\nsub/a.png,4\nb.png,5\n');
    const csv = readLabels(path.join(tmp, 'l.csv'));
    expect([csv('sub/a.png', 0), csv('x/b.png', 1)]).toEqual([4, 5]);
    expect(String(csv('z.png', 2))).toMatch(/no class for it/);
    fs.writeFileSync(path.join(tmp, 'bad.txt'), '1\ncat\n');
    expect(() => readLabels(path.join(tmp, 'bad.txt'))).toThrow(/line 2: expected a class index/);
  });

  test('file items: .npy rows and JSON lines in order, bad files and bad lines become item errors', async () => {
    const dir = path.join(tmp, 'files');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'a.npy'), encodeNpy(Float32Array.from({ length: 8 }, (_, i) => i), [2, 4]));
    fs.writeFileSync(path.join(dir, 'b.jsonl'), '[1, 2, 3, 4]\n\n[[5, 6], [7, 8]]\n[1, null, 3, 4]\n[1, 2]\n{"x": 1}\nnot json\n');
    fs.writeFileSync(path.join(dir, 'c.npy'), encodeNpy(new Float32Array(6), [2, 3])); // rows of the wrong size
    fs.writeFileSync(path.join(dir, 'd.csv'), '1,2,3,4\n');
    const refs: ItemRef[] = [];
    for await (const r of refsFromFiles(resolveInputs([dir]), { size: 4, classOf: (id, k) => (k === 1 ? 7 : undefined) })) refs.push(r);
    expect(refs.map((r) => [r.index, r.id])).toEqual([[0, 'a.npy#0'], [1, 'a.npy#1'], [2, 'b.jsonl#0'], [3, 'b.jsonl#1'], [4, 'b.jsonl#2'], [5, 'b.jsonl#3'], [6, 'b.jsonl#4'], [7, 'b.jsonl#5'], [8, 'c.npy#0'], [9, 'c.npy#1'], [10, 'd.csv']]);
    expect(refs[1].classIdx).toBe(7);
    const load = async (k: number) => {
      try {
        return Array.from(await refs[k].load());
      } catch (e) {
        return (e as Error).message;
      }
    };
    expect(await load(1)).toEqual([4, 5, 6, 7]);
    expect(await load(3)).toEqual([5, 6, 7, 8]);
    expect(await load(4)).toMatch(/b\.jsonl#2: expected numbers or nested arrays of numbers, found null/);
    expect(await load(5)).toMatch(/b\.jsonl#3: holds 2 values, the model input needs 4/);
    expect(await load(6)).toMatch(/expected a JSON array of numbers, got object/);
    expect(await load(7)).toMatch(/b\.jsonl#5: not valid JSON/);
    expect(await load(8)).toMatch(/c\.npy#0: holds 3 values, the model input needs 4/);
    expect(await load(10)).toMatch(/d\.csv: not an image or array file/);
  });

  test('atomic writes and a done-log that survives a torn last line', () => {
    const f = path.join(tmp, 'atomic', 'x.json');
    writeFileAtomicSync(f, '{"a":1}');
    writeFileAtomicSync(f, '{"a":2}');
    expect(fs.readFileSync(f, 'utf8')).toBe('{"a":2}');
    expect(fs.readdirSync(path.dirname(f))).toEqual(['x.json']);
    const log = path.join(tmp, 'done.jsonl');
    appendLineSync(log, JSON.stringify({ batch: 0 }));
    appendLineSync(log, JSON.stringify({ batch: 1 }));
    fs.appendFileSync(log, '{"batch": 2, "ro'); // a kill in the middle of a write
    expect(readLog<{ batch: number }>(log).map((r) => r.batch)).toEqual([0, 1]);
    appendLineSync(log, JSON.stringify({ batch: 2 }));
    expect(readLog<{ batch: number }>(log).map((r) => r.batch)).toEqual([0, 1, 2]);
  });

  test('progress: a bar on a terminal, log lines otherwise, with rate and ETA', () => {
    let t = 0;
    const out: string[] = [];
    const sink = { write: (s: string) => out.push(s), isTTY: false };
    const p = new Progress(sink, 'auto', 100, 20, { now: () => t, intervalMs: 1000 });
    t = 2000;
    p.update(40, 2);
    expect(out.pop()).toBe('progress: 62/100 items, 2 failed  21.0 items/s  ETA 2s\n');
    const tty: string[] = [];
    const bar = new Progress({ write: (s: string) => tty.push(s), isTTY: true, columns: 80 }, 'auto', 10, 0, { now: () => t });
    t = 3000;
    bar.update(5);
    expect(tty[0]).toMatch(/^\r\[#+\.+\] 5\/10 items {2}5\.0 items\/s {2}ETA 1s/);
    bar.finish();
    expect(tty[tty.length - 1]).toBe('\n');
  });
});

describe('explainDataset on the digits model (wasm)', () => {
  let model: tf.LayersModel;
  const n = 20;
  const set = digitSet('heldOut');
  const pixels = set.pixels.subarray(0, n * 784);
  beforeAll(async () => {
    await useBackend('wasm');
    model = await loadModel(path.join(__dirname, '..', 'fixtures', 'digits'));
  });
  afterAll(async () => {
    model.dispose();
    await useBackend('cpu');
  });
  const items = () => Array.from({ length: n }, (_, k) => ({ id: `d${k}`, input: pixels.slice(k * 784, (k + 1) * 784) }));
  const collect = async (it: AsyncIterable<ExplainedBatch>) => {
    const out: ExplainedBatch[] = [];
    for await (const b of it) out.push(b);
    return out;
  };

  test('batches equal explainWithConservation on the same inputs; bad items are reported, not fatal', async () => {
    const list: unknown[] = items();
    const nan = pixels.slice(0, 784);
    nan[100] = NaN;
    list[3] = { id: 'nan', input: nan };
    list[9] = { id: 'short', input: new Float32Array(10) };
    list[12] = { id: 'badclass', input: pixels.slice(0, 784), classIdx: 12 };
    const before = tf.memory().numTensors;
    const batches = await collect(explainDataset(model, list as never, { composite: 'epsilonPlusFlat', batchSize: 8 }));
    expect(tf.memory().numTensors).toBe(before);
    expect(batches.map((b) => b.batchIndex)).toEqual([0, 1, 2]);
    expect(batches.map((b) => b.indices.length)).toEqual([7, 6, 4]);
    const errors = batches.flatMap((b) => b.errors);
    expect(errors.map((e) => [e.index, e.id])).toEqual([[3, 'nan'], [9, 'short'], [12, 'badclass']]);
    expect(errors[0].reason).toMatch(/value 100 is NaN/);
    expect(errors[1].reason).toMatch(/holds 10 values, the model input needs 784/);
    expect(errors[2].reason).toMatch(/class 12 is out of range/);
    // the same items in one call
    const b1 = batches[1];
    const x = tf.tensor4d(Float32Array.from(b1.indices.flatMap((k) => Array.from(pixels.subarray(k * 784, (k + 1) * 784)))), [b1.indices.length, 28, 28, 1]);
    const explainer = createExplainer(model, { composite: 'epsilonPlusFlat' });
    const { relevance, conservation } = await explainer.explainWithConservation(x, 'max');
    expect(Array.from(b1.relevance)).toEqual(Array.from((relevance as tf.Tensor).dataSync()));
    expect(b1.classIdx).toEqual(conservation.classIdx);
    expect(b1.scores).toEqual(conservation.score);
    expect(b1.conservation.inputSum).toEqual(conservation.inputSum);
    expect(b1.ids).toEqual(b1.indices.map((k) => `d${k}`));
    expect(b1.classIdx.filter((c, i) => c === set.labels[b1.indices[i]]).length).toBeGreaterThanOrEqual(5);
    tf.dispose([x, relevance as tf.Tensor]);
    explainer.dispose();
  });

  test('tensor items are read and disposed; tf.data sources; shards and skip select whole batches', async () => {
    const before = tf.memory().numTensors;
    const tensors = function* () {
      for (let k = 0; k < 6; k++) yield tf.tensor3d(pixels.slice(k * 784, (k + 1) * 784), [28, 28, 1]);
    };
    const viaTensors = await collect(explainDataset(model, tensors(), { batchSize: 4, classIdx: 2 }));
    expect(tf.memory().numTensors).toBe(before);
    expect(viaTensors.flatMap((b) => b.classIdx)).toEqual([2, 2, 2, 2, 2, 2]);
    const ds = tf.data.generator(tensors).map((v) => tf.mul(v as tf.Tensor, 1));
    const viaDataset = await collect(explainDataset(model, ds, { batchSize: 4, classIdx: 2, keepInputs: true }));
    expect(tf.memory().numTensors).toBe(before);
    expect(Array.from(viaDataset[1].relevance)).toEqual(Array.from(viaTensors[1].relevance));
    expect(Array.from(viaDataset[0].inputs as Float32Array)).toEqual(Array.from(pixels.subarray(0, 4 * 784)));
    const shard1 = await collect(explainDataset(model, items(), { batchSize: 3, shard: '1/3' }));
    expect(shard1.map((b) => b.indices)).toEqual([[3, 4, 5], [12, 13, 14]]);
    const skipped = await collect(explainDataset(model, items(), { batchSize: 8, skip: (b) => b !== 1 }));
    expect(skipped.map((b) => b.batchIndex)).toEqual([1]);
    // breaking out early cleans up
    for await (const b of explainDataset(model, items(), { batchSize: 2 })) {
      expect(b.batchIndex).toBe(0);
      break;
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  test('bad options are refused before anything is read', async () => {
    const run = (o: object) => collect(explainDataset(model, items(), o));
    await expectError(() => run({ batchSize: 0 }), LrpArgumentError, /batchSize/);
    await expectError(() => run({ classIdx: 10 }), LrpArgumentError, /classIdx/, /\[0, 9\]/);
    await expectError(() => run({ method: 'gradient' }), LrpArgumentError, /explainDataset explains with LRP/);
    const low = tf.scalar(0);
    await expectError(() => run({ workers: 2, low, composite: 'epsilonGammaBox', high: 1 }), LrpArgumentError, /cannot be sent to worker threads/);
    low.dispose();
    await expectError(() => run({ shard: '4/2' }), LrpArgumentError, /out of range/);
  });

  test('workers = 2 give exactly the results of one worker (and aggregate equally)', async () => {
    const opts = { composite: 'epsilonGammaBox' as const, low: 0, high: 1, batchSize: 4 };
    const one = await collect(explainDataset(model, items(), opts));
    const two = await collect(explainDataset(model, items(), { ...opts, workers: 2, backend: 'wasm' }));
    expect(two.map((b) => b.indices)).toEqual(one.map((b) => b.indices));
    two.forEach((b, i) => {
      expect(Buffer.compare(Buffer.from(b.relevance.buffer, b.relevance.byteOffset, b.relevance.byteLength), Buffer.from(one[i].relevance.buffer, one[i].relevance.byteOffset, one[i].relevance.byteLength))).toBe(0);
      expect(b.scores).toEqual(one[i].scores);
      expect(b.conservation).toEqual(one[i].conservation);
    });
    const a1 = new RelevanceAggregator([28, 28, 1]);
    const a2 = new RelevanceAggregator([28, 28, 1]);
    one.forEach((b) => a1.addBatch(b));
    [...two].reverse().forEach((b) => a2.addBatch(b));
    expect(a1.equals(a2)).toBe(true);
  }, 120000);
});
