/**
 * SpRAy (src/spray, `tfjs-lrp/spray`), its report (src/node/spray.ts) and `tfjs-lrp spray`:
 * - the spectral part against a float64 plain-loop reference (test/reference/spray64.ts: pooling,
 *   kNN affinity, normalized Laplacian, Jacobi eigenvalues) and a closed form (k disconnected
 *   cliques of m samples: k eigenvalues 0, the rest m/(m − 1), eigengap k);
 * - determinism, leaks, typed argument errors;
 * - the story: class-7 relevance of held-out sevens, half of them tagged, explained by the
 *   Clever Hans model: SpRAy puts the tagged ones into their own cluster (purity > 90%), whose
 *   mean relevance sits in the tag region; for the control model no cluster mean does;
 * - the command line on saved relevance and explaining on the fly, and its usage errors.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { createExplainer, LrpArgumentError, type ExplainOptions } from '../src';
import { eigengapSvg, scatterSvg, spray, type SprayOptions } from '../src/spray';
import { eigengapClusters, kmeans, normalizedLaplacian, symmetricEigen } from '../src/spray/spectral';
import { loadModel, writeSprayReport } from '../src/node';
import { encodeNpy } from '../src/node/batch/npy';
import { digitSet } from '../scripts/digits-data';
import { TAG_CLASS, tagRegionMask, taggedSet } from '../scripts/clever-hans-data';
import { seededRandom } from '../scripts/random';
import { features64, jacobiEigenvalues, knnAffinity64, laplacian64 } from './reference/spray64';
import { runCli } from './support/cli';
import { expectError, useBackend } from './helpers';

const ROOT = path.join(__dirname, '..');

beforeAll(async () => {
  await useBackend('cpu');
});

/** `groups` groups of `size` heatmaps [h, w, c]: a random pattern per group plus noise of relative size `noise`. */
function groupedHeatmaps(groups: number, size: number, shape: [number, number, number], noise: number, seed: number): { samples: Float32Array[]; truth: number[] } {
  const random = seededRandom(seed);
  const len = shape[0] * shape[1] * shape[2];
  const patterns = Array.from({ length: groups }, () => Float32Array.from({ length: len }, () => random() * 2 - 1));
  const samples: Float32Array[] = [];
  const truth: number[] = [];
  for (let g = 0; g < groups; g++) {
    for (let i = 0; i < size; i++) {
      samples.push(patterns[g].map((v) => v + noise * (random() * 2 - 1)));
      truth.push(g);
    }
  }
  return { samples, truth };
}

/** Share of samples in their cluster's majority group. */
function purity(clusters: ArrayLike<number>, truth: ArrayLike<number>): number {
  const counts = new Map<string, number>();
  const best = new Map<number, number>();
  for (let i = 0; i < clusters.length; i++) {
    const key = `${clusters[i]}:${truth[i]}`;
    const c = (counts.get(key) ?? 0) + 1;
    counts.set(key, c);
    best.set(clusters[i], Math.max(best.get(clusters[i]) ?? 0, c));
  }
  return [...best.values()].reduce((a, b) => a + b, 0) / clusters.length;
}

describe('spectral part vs the float64 reference', () => {
  test.each([
    ['binary', 'none', 'avg', 'l2'],
    ['gaussian', 'abs', 'max', 'maxAbs'],
    ['binary', 'positive', 'avg', 'none'],
  ] as const)('affinity %s, transform %s, pooling %s, normalize %s: eigenvalues match Jacobi on the reference Laplacian', async (affinity, transform, pooling, normalize) => {
    const shape: [number, number, number] = [9, 7, 2]; // odd sides: 'same' padding at the edges
    const { samples, truth } = groupedHeatmaps(3, 10, shape, 0.9, 11);
    const options: SprayOptions = { itemShape: shape, downsample: 2, neighbors: 5, affinity, transform, pooling, normalize, eigenvalues: 30 };
    const result = await spray(samples, options);
    result.clusterMeans.dispose();
    const f = features64(samples, shape, { factor: 2, pooling, transform, normalize });
    expect(result.features).toEqual({ shape: [5, 4], length: 20 });
    const ref = jacobiEigenvalues(laplacian64(knnAffinity64(f, 5, affinity)));
    const err = Math.max(...ref.map((v, i) => Math.abs(v - result.eigenvalues[i])));
    // binary: the same graph, so only the float64 eigensolvers differ (measured 7e-15); gaussian: float32 weights (8e-8)
    expect(err).toBeLessThan(affinity === 'binary' ? 1e-10 : 1e-6);
    expect(ref[0]).toBeCloseTo(0, 10); // the constant direction D^{1/2}·1
    expect(Math.max(...ref)).toBeLessThanOrEqual(2 + 1e-12);
    // the eigengap choice of the reference spectrum
    let k = 2;
    for (let j = 2; j <= 10; j++) if (ref[j] - ref[j - 1] > ref[k] - ref[k - 1]) k = j;
    expect(result.eigengapClusters).toBe(k);
    expect(result.eigengaps[k - 1]).toBeCloseTo(ref[k] - ref[k - 1], 4);
    if (result.nClusters === 3) expect(purity(result.clusters, truth)).toBeGreaterThan(0.9);
  });

  test('k disconnected cliques: k zero eigenvalues, the rest m/(m − 1), eigengap k, clusters = cliques', async () => {
    for (const [groups, m] of [[3, 5], [4, 6], [2, 8]]) {
      const { samples, truth } = groupedHeatmaps(groups, m, [4, 4, 1], 0.02, 100 + groups);
      const result = await spray(samples, { itemShape: [4, 4, 1], downsample: 1, neighbors: m - 1 });
      result.clusterMeans.dispose();
      const values = Array.from(result.eigenvalues);
      const n = groups * m;
      expect(values.length).toBe(Math.min(n, 20));
      values.forEach((v, i) => expect(Math.abs(v - (i < groups ? 0 : m / (m - 1)))).toBeLessThan(1e-10));
      expect(result.nClusters).toBe(groups);
      expect(result.eigengap).toBeCloseTo(m / (m - 1), 10);
      expect(purity(result.clusters, truth)).toBe(1);
      expect(result.clusterSizes).toEqual(new Array(groups).fill(m));
    }
    // the Laplacian eigenmap of 3 cliques: eigenvectors 2 and 3 lie in the zero eigenspace, spanned
    // by D^{1/2}·1 of each clique, so D^{-1/2}·u is constant on a clique: 3 distinct points
    const { samples } = groupedHeatmaps(3, 5, [4, 4, 1], 0.02, 103);
    const r = await spray(samples, { itemShape: [4, 4, 1], downsample: 1, neighbors: 4, embedding: 'spectral' });
    r.clusterMeans.dispose();
    const points = Array.from({ length: 15 }, (_, i) => [r.embedding2d[2 * i], r.embedding2d[2 * i + 1]]);
    for (let i = 0; i < 15; i++) {
      const same = points[Math.floor(i / 5) * 5];
      expect(Math.hypot(points[i][0] - same[0], points[i][1] - same[1])).toBeLessThan(1e-9);
    }
    expect(Math.min(...[0, 5, 10].flatMap((a) => [0, 5, 10].filter((b) => b > a).map((b) => Math.hypot(points[a][0] - points[b][0], points[a][1] - points[b][1]))))).toBeGreaterThan(0.05);
  });

  test('normalizedLaplacian, symmetricEigen, eigengapClusters, kmeans on small closed forms', () => {
    // path graph 0-1-2: L = [[1, -1/√2, 0], [-1/√2, 1, -1/√2], [0, -1/√2, 1]], eigenvalues 0, 1, 2
    const l = normalizedLaplacian([0, 1, 0, 1, 0, 1, 0, 1, 0], 3);
    expect(l[1]).toBeCloseTo(-Math.SQRT1_2, 15);
    const e = symmetricEigen(l, 3);
    Array.from(e.values).forEach((v, i) => expect(v).toBeCloseTo(i, 12));
    // eigenvector of 0 is D^{1/2}·1 / norm = [1, √2, 1] / 2, sign positive
    expect(Array.from({ length: 3 }, (_, i) => e.vectors[i * 3])).toEqual([0.5, Math.SQRT1_2, 0.5].map((v) => expect.closeTo(v, 12)));
    expect(eigengapClusters([0, 0, 0, 1, 1.1], 2, 4)).toEqual({ nClusters: 3, gap: 1 });
    expect(eigengapClusters([0, 0.5, 0.6, 0.7], 1, 3)).toEqual({ nClusters: 1, gap: 0.5 });
    const km = kmeans([0, 0, 0.1, 0, 10, 10, 10.1, 10, 10, 10.2], 5, 2, 2, { seed: 3 });
    expect(Array.from(km.labels)).toEqual([1, 1, 0, 0, 0]); // numbered by size
    expect(km.inertia).toBeCloseTo(0.005 + 0.05 * (2 / 3), 10);
  });
});

describe('spray(): determinism, inputs, leaks, errors', () => {
  const shape: [number, number, number] = [8, 8, 1];
  const data = groupedHeatmaps(3, 12, shape, 1.2, 5);

  test('same input and seed: the same result, from arrays and from a tensor; cluster means are the means', async () => {
    const x = tf.tensor4d(Float32Array.from(data.samples.flatMap((s) => Array.from(s))), [36, 8, 8, 1]);
    const a = await spray(x, { seed: 7 });
    const b = await spray(data.samples, { itemShape: shape, seed: 7 });
    for (const key of ['clusters', 'eigenvalues', 'embedding2d', 'spectral'] as const) expect(Array.from(b[key])).toEqual(Array.from(a[key]));
    expect(b.nClusters).toBe(a.nClusters);
    expect(a.clusterMeans.shape).toEqual([a.nClusters, 8, 8, 1]);
    const means = await a.clusterMeans.data();
    let err = 0;
    for (let c = 0; c < a.nClusters; c++) {
      const members = data.samples.filter((_, i) => a.clusters[i] === c);
      for (let p = 0; p < 64; p++) err = Math.max(err, Math.abs(members.reduce((s, m) => s + m[p], 0) / members.length - means[c * 64 + p]));
    }
    expect(err).toBeLessThan(1e-6);
    expect(a.options).toMatchObject({ downsample: 1, neighbors: 10, minClusters: 2, maxClusters: 10, seed: 7, clusters: null });
    tf.dispose([x, a.clusterMeans, b.clusterMeans]);
  });

  test('a fixed number of clusters overrides the eigengap; the eigengap choice is still reported', async () => {
    const r = await spray(data.samples, { itemShape: shape, clusters: 5 });
    expect(r.nClusters).toBe(5);
    expect(r.clusterSizes.reduce((p, q) => p + q, 0)).toBe(36);
    expect(r.clusterMeans.shape[0]).toBe(5);
    expect(r.eigengapClusters).toBeGreaterThanOrEqual(2);
    r.clusterMeans.dispose();
  });

  test('no tensor leaks (the returned clusterMeans is the only new tensor)', async () => {
    const x = tf.tensor4d(Float32Array.from(data.samples.flatMap((s) => Array.from(s))), [36, 8, 8, 1]);
    (await spray(x, { affinity: 'gaussian' })).clusterMeans.dispose();
    const before = tf.memory().numTensors;
    const r = await spray(x, { affinity: 'gaussian', transform: 'abs', pooling: 'max', downsample: 3 });
    expect(tf.memory().numTensors).toBe(before + 1);
    r.clusterMeans.dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  test('typed errors name the argument and the allowed range, and leak nothing', async () => {
    const x = tf.zeros([4, 8, 8, 1]);
    await expectError(() => spray(x, { neighbors: 4 }), LrpArgumentError, /options\.neighbors/, /\[1, 3\]/);
    await expectError(() => spray(x, { transform: 'square' as 'abs' }), LrpArgumentError, /options\.transform/, /'abs'/);
    await expectError(() => spray(x, { maxClusters: 2, minClusters: 3 }), LrpArgumentError, /options\.minClusters/);
    const two = tf.zeros([2, 3]);
    await expectError(() => spray(two, {}), LrpArgumentError, /at least 3 samples/);
    two.dispose();
    await expectError(() => spray([[1, 2], [3, 4], [5, 6]], { itemShape: [3] }), LrpArgumentError, /options\.itemShape/);
    await expectError(() => spray([[1, 2], [3, 4], [5]], {}), LrpArgumentError, /sample 2 has 1 values/);
    x.dispose();
  });

  test('small sets (N = 3, N = 11 with the default k = 10 = N − 1): finite UMAP embedding, every sample clustered', async () => {
    for (const n of [3, 11]) {
      const r = await spray(data.samples.slice(0, n), { itemShape: shape });
      r.clusterMeans.dispose();
      expect(r.clusters.length).toBe(n);
      expect(r.nClusters).toBe(2);
      expect(Array.from(r.embedding2d).every(Number.isFinite)).toBe(true);
      expect(r.eigenvalues.length).toBe(n);
    }
  });

  test('plots: one marker per sample, the chosen gap labelled', async () => {
    const r = await spray(data.samples, { itemShape: shape });
    r.clusterMeans.dispose();
    const scatter = scatterSvg(r, { groups: data.truth.map((t) => t % 2), groupNames: ['even', 'odd'] });
    expect(scatter.startsWith('<svg')).toBe(true);
    expect((scatter.match(/<title>sample /g) ?? []).length).toBe(36);
    expect(scatter).toContain(`cluster 0 (${r.clusterSizes[0]})`);
    const gap = eigengapSvg(r);
    expect((gap.match(/<circle/g) ?? []).length).toBe(r.eigenvalues.length);
    expect(gap).toContain(`eigengap: ${r.nClusters} clusters`);
  });
});

/** Class-7 relevance of the held-out sevens, the first half tagged, for one model. */
async function sevensRelevance(fixture: string, options: ExplainOptions): Promise<{ relevance: tf.Tensor; tagged: number[] }> {
  const held = digitSet('heldOut');
  const taggedImages = taggedSet('heldOut', 'asTrained', held);
  const idx: number[] = [];
  for (let i = 0; i < held.count; i++) if (held.labels[i] === TAG_CLASS) idx.push(i);
  const half = Math.floor(idx.length / 2);
  const pixels = new Float32Array(idx.length * 784);
  idx.forEach((i, k) => pixels.set((k < half ? taggedImages : held).pixels.subarray(i * 784, (i + 1) * 784), k * 784));
  const model = await loadModel(path.join(ROOT, 'fixtures', fixture));
  const explainer = createExplainer(model, options);
  const x = tf.tensor4d(pixels, [idx.length, 28, 28, 1]);
  try {
    return { relevance: explainer.explain(x, TAG_CLASS) as tf.Tensor, tagged: idx.map((_, k) => (k < half ? 1 : 0)) };
  } finally {
    x.dispose();
    explainer.dispose();
    model.dispose();
  }
}

/** Per cluster: Σ_region |mean R| / Σ |mean R| of its members' relevance (float64, from the relevances, not from clusterMeans). */
async function tagShares(relevance: tf.Tensor, clusters: Int32Array, k: number): Promise<number[]> {
  const r = await relevance.data();
  const mask = tagRegionMask();
  return Array.from({ length: k }, (_, c) => {
    const mean = new Float64Array(784);
    let count = 0;
    clusters.forEach((l, i) => {
      if (l !== c) return;
      count++;
      for (let p = 0; p < 784; p++) mean[p] += r[i * 784 + p];
    });
    let inside = 0;
    let total = 0;
    for (let p = 0; p < 784; p++) {
      total += Math.abs(mean[p] / count);
      inside += (Math.abs(mean[p] / count) * mask[p]);
    }
    return inside / total;
  });
}

describe('the story: SpRAy finds the Clever Hans strategy', () => {
  const rule: ExplainOptions = { composite: 'epsilonPlusFlat' };

  test('Clever Hans model: the tagged sevens form their own cluster (purity > 90%) whose mean relevance sits on the tag; control: no cluster mean does', async () => {
    const ch = await sevensRelevance('clever-hans', rule);
    const control = await sevensRelevance('clever-hans-control', rule);
    try {
      const a = await spray(ch.relevance);
      const b = await spray(control.relevance);
      tf.dispose([a.clusterMeans, b.clusterMeans]);
      const chPurity = purity(a.clusters, ch.tagged);
      const chShares = await tagShares(ch.relevance, a.clusters, a.nClusters);
      const controlShares = await tagShares(control.relevance, b.clusters, b.nClusters);
      // the tag cluster: the one holding most tagged sevens
      const tagCluster = chShares.indexOf(Math.max(...chShares));
      const taggedIn = a.clusters.filter((c, i) => c === tagCluster && ch.tagged[i] === 1).length;
      const area = 25 / 784; // the tag region (5×5) is 3.2% of the image
      console.log(
        `SpRAy story (${a.samples} held-out sevens, ${ch.tagged.filter((t) => t === 1).length} tagged, epsilonPlusFlat): ` +
          `Clever Hans: ${a.nClusters} clusters (sizes ${a.clusterSizes.join('/')}, eigengap ${a.eigengap.toFixed(3)}), purity ${(100 * chPurity).toFixed(1)}%, ` +
          `tag-region share of |mean R| per cluster ${chShares.map((s) => (100 * s).toFixed(1) + '%').join(', ')}; ` +
          `control: ${b.nClusters} clusters (sizes ${b.clusterSizes.join('/')}), purity ${(100 * purity(b.clusters, control.tagged)).toFixed(1)}%, shares ${controlShares.map((s) => (100 * s).toFixed(1) + '%').join(', ')}`,
      );
      expect(chPurity).toBeGreaterThan(0.9);
      expect(taggedIn / ch.tagged.filter((t) => t === 1).length).toBeGreaterThan(0.9);
      expect(chShares[tagCluster]).toBeGreaterThan(0.5); // > 15× the area
      expect(Math.max(...controlShares)).toBeLessThan(0.1); // < 3× the area
      expect(Math.max(...controlShares)).toBeLessThan(chShares[tagCluster] / 5);
      expect(Math.max(...controlShares)).toBeLessThan(3 * area);
    } finally {
      tf.dispose([ch.relevance, control.relevance]);
    }
  }, 120000);
});

describe('report and command line', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-lrp-spray-'));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('writeSprayReport writes the json/csv, the plots, the cluster pictures and the index', async () => {
    const data = groupedHeatmaps(3, 6, [8, 8, 1], 0.3, 9);
    const x = tf.tensor4d(Float32Array.from(data.samples.flatMap((s) => Array.from(s))), [18, 8, 8, 1]);
    const r = await spray(x, { neighbors: 4 });
    const before = tf.memory().numTensors;
    const files = await writeSprayReport(path.join(tmp, 'report'), x, r, { examples: 3, names: data.truth.map((t, i) => `g${t}-${i}`) });
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, r.clusterMeans]);
    expect(files.clusters).toEqual(['clusters/cluster-0.png', 'clusters/cluster-1.png', 'clusters/cluster-2.png']);
    for (const f of [files.json, files.csv, files.eigenvalues, files.eigengap, files.scatter, files.index, files.means as string, ...files.clusters]) expect(fs.statSync(path.join(tmp, 'report', f)).size).toBeGreaterThan(0);
    const json = JSON.parse(fs.readFileSync(path.join(tmp, 'report', 'clusters.json'), 'utf8')) as { items: Array<{ name: string; cluster: number }>; nClusters: number };
    expect(json.nClusters).toBe(3);
    expect(json.items.map((it) => it.cluster)).toEqual(Array.from(r.clusters));
    expect(fs.readFileSync(path.join(tmp, 'report', 'clusters.csv'), 'utf8').split('\n')[1]).toMatch(/^0,g0-0,\d,/);
    expect(fs.readFileSync(path.join(tmp, 'report', 'index.md'), 'utf8')).toContain('![cluster 2: mean and typical samples](clusters/cluster-2.png)');
  });

  test('tfjs-lrp spray --relevance <folder of .npy>: the same clusters as spray()', async () => {
    const data = groupedHeatmaps(3, 5, [6, 6, 1], 0.05, 21);
    const dir = path.join(tmp, 'rel', 'relevance');
    fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
    data.samples.forEach((s, i) => fs.writeFileSync(path.join(dir, i < 8 ? '' : 'sub', `item-${String(i).padStart(2, '0')}.npy`), encodeNpy(s, [6, 6, 1])));
    const res = await runCli(tmp, ['spray', '--relevance', 'rel/relevance', '--out', 'sp', '--neighbors', '4', '--quiet']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/spray: 3 clusters .* sizes 5, 5, 5/);
    const rows = fs.readFileSync(path.join(tmp, 'sp', 'clusters.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
    expect(rows.map((r) => r[1])).toEqual(data.samples.map((_, i) => `${i < 8 ? '' : 'sub/'}item-${String(i).padStart(2, '0')}.npy`));
    const direct = await spray(data.samples, { itemShape: [6, 6, 1], neighbors: 4 });
    direct.clusterMeans.dispose();
    expect(rows.map((r) => Number(r[2]))).toEqual(Array.from(direct.clusters));
    expect(purity(direct.clusters, data.truth)).toBe(1);
    for (const f of ['eigengap.svg', 'scatter.svg', 'cluster-means.png', 'clusters/cluster-2.png', 'index.md', 'eigenvalues.csv']) expect(fs.existsSync(path.join(tmp, 'sp', f))).toBe(true);
    // one .npy with a row per heatmap
    fs.writeFileSync(path.join(tmp, 'all.npy'), encodeNpy(Float32Array.from(data.samples.flatMap((s) => Array.from(s))), [15, 6, 6, 1]));
    const res2 = await runCli(tmp, ['spray', '-r', 'all.npy', '--out', 'sp2', '-k', '4', '--clusters', '2', '-q']);
    expect(res2.code).toBe(0);
    expect(res2.stdout).toMatch(/spray: 2 clusters/);
    expect(fs.readFileSync(path.join(tmp, 'sp2', 'clusters.csv'), 'utf8')).toContain('all.npy#14');
  });

  test('tfjs-lrp spray --model --input --class 7 explains first and separates tagged from untagged sevens', async () => {
    const held = digitSet('heldOut');
    const tagged = taggedSet('heldOut', 'asTrained', held);
    const idx: number[] = [];
    for (let i = 0; i < held.count && idx.length < 40; i++) if (held.labels[i] === TAG_CLASS) idx.push(i);
    const pixels = new Float32Array(idx.length * 784);
    idx.forEach((i, k) => pixels.set((k % 2 === 0 ? tagged : held).pixels.subarray(i * 784, (i + 1) * 784), k * 784));
    fs.writeFileSync(path.join(tmp, 'sevens.npy'), encodeNpy(pixels, [idx.length, 28, 28, 1]));
    const res = await runCli(tmp, ['spray', '-m', path.join(ROOT, 'fixtures', 'clever-hans'), '-i', 'sevens.npy', '--class', '7', '--composite', 'epsilonPlusFlat', '--backend', 'cpu', '--workers', '1', '--out', 'otf', '--quiet']);
    expect(res.code).toBe(0);
    expect(fs.existsSync(path.join(tmp, 'otf', 'explain', 'summary.json'))).toBe(true);
    const rows = fs.readFileSync(path.join(tmp, 'otf', 'clusters.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
    expect(rows.length).toBe(40);
    // in item order (from explain's summary.json), named by input row; row k is tagged when k is even
    expect(rows.map((r) => r[1])).toEqual(idx.map((_, k) => `sevens.npy#${k}`));
    const truth = rows.map((_, k) => k % 2);
    expect(purity(rows.map((r) => Number(r[2])), truth)).toBeGreaterThan(0.9);
  }, 120000);

  test('usage errors exit 2 with a message naming the flag', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['spray', '--out', 'x'], /--relevance.*is required/],
      [['spray', '-r', 'all.npy', '-m', 'fixtures/x', '--out', 'x'], /exclude each other/],
      [['spray', '-r', 'nope', '--out', 'x'], /'nope' does not exist/],
      [['spray', '-r', 'all.npy'], /--out.*is required/],
      [['spray', '-r', 'all.npy', '--out', 'x', '--neighbors', '15'], /--neighbors.*\[1, 14\]/],
      [['spray', '-r', 'all.npy', '--out', 'x', '--transform', 'square'], /--transform/],
      [['spray', '-r', 'all.npy', '--out', 'x', '--clip', '0'], /--clip/],
    ];
    fs.writeFileSync(path.join(tmp, 'all.npy'), encodeNpy(new Float32Array(15 * 36).map((_, i) => Math.sin(i)), [15, 6, 6, 1]));
    fs.mkdirSync(path.join(tmp, 'empty'), { recursive: true });
    fs.mkdirSync(path.join(tmp, 'mixed'), { recursive: true });
    fs.writeFileSync(path.join(tmp, 'mixed', 'a.npy'), encodeNpy(new Float32Array(4), [2, 2]));
    fs.writeFileSync(path.join(tmp, 'mixed', 'b.npy'), encodeNpy(new Float32Array(4), [2, 2]));
    fs.writeFileSync(path.join(tmp, 'mixed', 'c.npy'), encodeNpy(new Float32Array(6), [2, 3]));
    cases.push([['spray', '-r', 'empty', '--out', 'x'], /holds no \.npy file/], [['spray', '-r', 'mixed', '--out', 'x'], /'c\.npy' has shape \[2, 3\]/], [['spray', '-r', 'mixed/a.npy', 'mixed/b.npy', '--out', 'x'], /./]);
    for (const [argv, pattern] of cases) {
      const res = await runCli(tmp, argv);
      expect({ argv, code: res.code }).toEqual({ argv, code: 2 });
      expect(res.stderr).toMatch(pattern);
    }
    const help = await runCli(tmp, ['spray', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: tfjs-lrp spray/);
    expect(help.stdout).toMatch(/Spectral Relevance Analysis/);
    expect(help.stdout).toMatch(/\nExamples:\n {2}tfjs-lrp /);
    expect(help.stdout).toMatch(/Exit status: 0 done; 1 .*; 2 usage error/);
    for (const flag of ['--relevance', '--neighbors', '--clusters', '--max-clusters', '--downsample', '--seed', '--model', '--composite']) expect(help.stdout).toContain(flag);
    expect((await runCli(tmp, ['--help'])).stdout).toMatch(/spray\s+SpRAy/);
  });
});
