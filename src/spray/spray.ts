/**
 * SpRAy, Spectral Relevance Analysis (Lapuschkin et al. 2019, "Unmasking Clever Hans predictors
 * and assessing what machines really learn"): cluster the heatmaps of a data set to find the
 * distinct strategies a model uses for one class, e.g. a shortcut ("Clever Hans") next to the
 * intended features.
 *
 * Steps: (1) preprocess each heatmap (sum the channels, optional |R| or max(R, 0), average- or
 * max-pool by an integer factor, flatten, normalise per sample); (2) squared Euclidean distances
 * between all pairs and the k-nearest-neighbour affinity graph, symmetrised — tf ops, batched;
 * (3) the normalized Laplacian `I − D^{-1/2} A D^{-1/2}` and its eigen-decomposition in float64
 * (ml-matrix: tfjs has no eigen-decomposition); (4) the number of clusters from the largest
 * eigengap; (5) seeded k-means++ on the rows of the first eigenvectors (normalised to unit
 * length, Ng–Jordan–Weiss); (6) a 2-D embedding from the first two non-trivial eigenvectors
 * (Laplacian eigenmap) for a scatter plot; (7) the mean relevance of each cluster (tf ops).
 */
import * as tf from '@tensorflow/tfjs';
import { LrpArgumentError } from '../errors.js';
import { eigengapClusters, kmeans, normalizedLaplacian, seededRandom, symmetricEigen } from './spectral.js';
import { UMAP } from 'umap-js';

/** How a heatmap's values are transformed before pooling. */
export type SprayTransform = 'none' | 'abs' | 'positive';
/** How each preprocessed heatmap is scaled before the distances. */
export type SprayNormalization = 'l2' | 'maxAbs' | 'none';
/** The edge weights of the k-nearest-neighbour graph. */
export type SprayAffinity = 'binary' | 'gaussian';

/** Options of {@link spray}; every field has a default. */
export interface SprayOptions {
  /**
   * The shape of one item when the relevances are given as flat arrays, e.g. `[28, 28, 1]`
   * (default: `[length]`, a plain vector, which is not pooled). Ignored for a tensor.
   */
  readonly itemShape?: readonly number[];
  /**
   * Integer pooling factor for heatmaps [H, W] or [H, W, C]: windows of f×f with stride f
   * ('same' padding, output ceil(H/f) × ceil(W/f)). Default: the smallest f that makes both
   * sides at most 16 (2 for 28×28). 1: no pooling. Items of another rank are never pooled.
   */
  readonly downsample?: number;
  /** Pooling: 'avg' (default) or 'max'. */
  readonly pooling?: 'avg' | 'max';
  /** Before pooling: 'none' (default, the signed relevance), 'abs' (|R|) or 'positive' (max(R, 0)). */
  readonly transform?: SprayTransform;
  /** Per sample after pooling: 'l2' (unit Euclidean norm, default), 'maxAbs' (max |v| = 1) or 'none'. An all-zero heatmap stays zero. */
  readonly normalize?: SprayNormalization;
  /** Neighbours per sample in the affinity graph (default min(10, N − 1)). */
  readonly neighbors?: number;
  /**
   * Edge weights (default 'binary'): 'binary' connects i and j (weight 1) when j is among the
   * k nearest neighbours of i or i among those of j; 'gaussian' weighs such an edge
   * `exp(−d²_ij / σ²)` with σ² the mean squared distance to the k-th neighbour.
   */
  readonly affinity?: SprayAffinity;
  /** Fewest clusters the eigengap may choose (default 2: one cluster is no analysis). */
  readonly minClusters?: number;
  /** Most clusters the eigengap may choose (default min(10, N − 1)). */
  readonly maxClusters?: number;
  /** A fixed number of clusters instead of the eigengap's choice (the eigenvalues are still reported). */
  readonly clusters?: number;
  /** Smallest eigenvalues reported (default max(20, maxClusters + 1), at most N). */
  readonly eigenvalues?: number;
  /** Seed of k-means++ (default 0). The same inputs and seed give the same result. */
  readonly seed?: number;
  /** k-means runs from different starts; the least inertia wins (default 10). */
  readonly restarts?: number;
  /**
   * The 2-D embedding for the scatter plot (default 'umap'): 'umap' (umap-js on the same kNN
   * graph, seeded: shows the structure inside clusters too) or 'spectral' (eigenvectors 2 and 3,
   * a Laplacian eigenmap: no extra work, but a disconnected graph collapses whole clusters to a point).
   */
  readonly embedding?: 'umap' | 'spectral';
}

/** What {@link spray} returns. `clusterMeans` is a tensor the caller disposes. */
export interface SprayResult {
  /** Number of samples N. */
  readonly samples: number;
  /** Cluster of each sample, 0 … nClusters − 1, numbered by size (0 the largest). */
  readonly clusters: Int32Array;
  /** Number of clusters (the eigengap's choice, or `options.clusters`). */
  readonly nClusters: number;
  /** The eigengap's choice, also when `options.clusters` overrides it. */
  readonly eigengapClusters: number;
  /** Samples per cluster. */
  readonly clusterSizes: number[];
  /** The smallest eigenvalues of the normalized Laplacian, ascending (in [0, 2]). */
  readonly eigenvalues: Float64Array;
  /** `eigengaps[i] = eigenvalues[i + 1] − eigenvalues[i]`; the gap after k eigenvalues is `eigengaps[k − 1]`. */
  readonly eigengaps: Float64Array;
  /** The gap that chose the eigengap's number of clusters. */
  readonly eigengap: number;
  /** 2-D embedding, row-major N×2, for a scatter plot: UMAP, or the first two non-trivial eigenvectors scaled by D^{-1/2} (`options.embedding`). */
  readonly embedding2d: Float64Array;
  /** Spectral embedding k-means ran on, row-major N×nClusters (rows of unit length). */
  readonly spectral: Float64Array;
  /** k-means inertia on the spectral embedding. */
  readonly inertia: number;
  /** Mean relevance of each cluster, [nClusters, ...item shape], of the relevances as given (not preprocessed). A cluster with no samples is 0. */
  readonly clusterMeans: tf.Tensor;
  /** Shape of one preprocessed (pooled) heatmap, and the length of its flattened vector. */
  readonly features: { readonly shape: number[]; readonly length: number };
  /** The options as used, defaults filled in. */
  readonly options: Required<Omit<SprayOptions, 'itemShape' | 'clusters'>> & { readonly clusters: number | null };
}

function intOption(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new LrpArgumentError(`options.${name}`, `must be an integer in [${min}, ${max}] here, got ${String(value)}.`);
  }
  return value;
}

function choice<T extends string>(name: string, value: T | undefined, allowed: readonly T[]): T {
  if (value === undefined) return allowed[0];
  if (!allowed.includes(value)) throw new LrpArgumentError(`options.${name}`, `must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(value)}.`);
  return value;
}

/** The relevances as one float32 tensor [N, ...item shape] (a new tensor the caller disposes). */
function asTensor(relevances: tf.Tensor | readonly ArrayLike<number>[], itemShape: readonly number[] | undefined): tf.Tensor {
  if (relevances instanceof tf.Tensor) {
    if (relevances.rank < 2) throw new LrpArgumentError('relevances', `must have a batch axis: [N, ...item shape] with N ≥ 3, got shape [${relevances.shape.join(', ')}].`);
    return relevances.toFloat();
  }
  if (!Array.isArray(relevances) || relevances.length === 0) throw new LrpArgumentError('relevances', 'must be a tf.Tensor [N, ...] or a non-empty array of per-sample arrays (one heatmap each).');
  const length = relevances[0].length;
  const shape = itemShape ?? [length];
  const size = shape.reduce((a, b) => a * b, 1);
  if (shape.some((d) => !Number.isInteger(d) || d < 1) || size !== length) {
    throw new LrpArgumentError('options.itemShape', `[${shape.join(', ')}] does not fit samples of ${length} values; give the shape of one heatmap, e.g. [28, 28, 1].`);
  }
  const flat = new Float32Array(relevances.length * length);
  relevances.forEach((r, i) => {
    if (r.length !== length) throw new LrpArgumentError('relevances', `sample ${i} has ${r.length} values, sample 0 has ${length}: every heatmap must have the same size.`);
    flat.set(r, i * length);
  });
  return tf.tensor(flat, [relevances.length, ...shape]);
}

/** Step 1: transform, pool and normalise: [N, D] float32, and the pooled shape of one item. */
function features(x: tf.Tensor, o: { transform: SprayTransform; pooling: 'avg' | 'max'; factor: number; normalize: SprayNormalization }): { f: tf.Tensor2D; shape: number[] } {
  return tf.tidy(() => {
    const n = x.shape[0];
    const item = x.shape.slice(1);
    const spatial = item.length === 2 || item.length === 3;
    let r: tf.Tensor = spatial ? x.reshape([n, item[0], item[1], item.length === 3 ? item[2] : 1]).sum(-1, true) : x;
    if (o.transform === 'abs') r = r.abs();
    else if (o.transform === 'positive') r = r.relu();
    if (spatial && o.factor > 1) {
      const r4 = r as tf.Tensor4D;
      r = o.pooling === 'avg' ? tf.avgPool(r4, o.factor, o.factor, 'same') : tf.maxPool(r4, o.factor, o.factor, 'same');
    }
    const shape = spatial ? r.shape.slice(1, 3) : item;
    let f = r.reshape([n, -1]) as tf.Tensor2D;
    if (o.normalize !== 'none') {
      const scale = o.normalize === 'l2' ? f.square().sum(1, true).sqrt() : f.abs().max(1, true);
      f = f.div(tf.where(scale.greater(0), scale, tf.onesLike(scale)));
    }
    return { f, shape };
  });
}

/** Step 2: the symmetric kNN affinity matrix [N, N] (tf ops). */
function knnAffinity(f: tf.Tensor2D, k: number, affinity: SprayAffinity): { a: tf.Tensor2D; indices: tf.Tensor2D; distances: tf.Tensor2D } {
  return tf.tidy(() => {
    const n = f.shape[0];
    const sq = f.square().sum(1);
    // squared distances; the diagonal made huge so that no sample is its own neighbour
    const gram = tf.matMul(f, f, false, true);
    const d = tf.relu(sq.expandDims(1).add(sq.expandDims(0)).sub(gram.mul(2))).add(tf.eye(n).mul(1e30)) as tf.Tensor2D;
    const { values, indices } = tf.topk(d.neg(), k);
    const rows = tf.range(0, n, 1, 'int32').expandDims(1).tile([1, k]);
    const at = tf.stack([rows.reshape([-1]), indices.reshape([-1])], 1) as tf.Tensor2D;
    let w: tf.Tensor1D;
    if (affinity === 'binary') w = tf.ones([n * k]);
    else {
      const dk = values.neg();
      const sigma2 = dk.slice([0, k - 1], [n, 1]).mean();
      w = dk.div(tf.where(sigma2.greater(0), sigma2, tf.onesLike(sigma2))).neg().exp().reshape([-1]);
    }
    const a = tf.scatterND(at, w, [n, n]) as tf.Tensor2D;
    return { a: tf.maximum(a, a.transpose()) as tf.Tensor2D, indices: indices as tf.Tensor2D, distances: values.neg().sqrt() as tf.Tensor2D };
  });
}

/**
 * UMAP (umap-js, seeded) of the features `f` (row-major N×D) on a precomputed kNN graph (each
 * sample's k nearest others, at most N − 2, Euclidean distances; the sample itself is put first,
 * as UMAP expects).
 */
function umap2d(f: Float32Array, n: number, indices: Int32Array, distances: Float32Array, k: number, seed: number): Float64Array {
  const d = f.length / n;
  // umap-js needs more samples than neighbours (the sample itself included): at most N − 2 others
  const used = Math.max(1, Math.min(k, n - 2));
  const rows = Array.from({ length: n }, (_, i) => Array.from(f.subarray(i * d, (i + 1) * d)));
  const knnIndices = Array.from({ length: n }, (_, i) => [i, ...Array.from(indices.subarray(i * k, i * k + used))]);
  const knnDistances = Array.from({ length: n }, (_, i) => [0, ...Array.from(distances.subarray(i * k, i * k + used))]);
  const umap = new UMAP({ nComponents: 2, nNeighbors: used + 1, random: seededRandom(seed ^ 0x5eed) });
  umap.setPrecomputedKNN(knnIndices, knnDistances);
  const y = umap.fit(rows);
  return Float64Array.from(y.flat());
}

/**
 * Spectral Relevance Analysis over a set of heatmaps (one class, one model): which groups of
 * samples the model explains alike, how many there are (eigengap), a 2-D picture of them and
 * each group's mean heatmap. Asynchronous: the affinity matrix is read with `await data()`.
 * Memory and time grow as N² (distances, affinity) and N³ (the eigen-decomposition in float64
 * JavaScript): on the cpu backend about 1 s for N = 500 and 12 s for N = 1000, plus 2–3 s for
 * the UMAP embedding.
 *
 * @param relevances `[N, ...item shape]`, e.g. [N, 28, 28, 1] from `explain`, or N arrays
 *   (with `options.itemShape`); N ≥ 3. Not disposed.
 * @throws LrpArgumentError for a bad argument or option (it names the option and the range).
 */
export async function spray(relevances: tf.Tensor | readonly ArrayLike<number>[], options: SprayOptions = {}): Promise<SprayResult> {
  const x = asTensor(relevances, options.itemShape);
  try {
    const n = x.shape[0];
    if (n < 3) throw new LrpArgumentError('relevances', `SpRAy needs at least 3 samples, got ${n}.`);
    const item = x.shape.slice(1);
    const spatial = item.length === 2 || item.length === 3;
    const autoFactor = spatial ? Math.max(1, Math.ceil(Math.max(item[0], item[1]) / 16)) : 1;
    const factor = intOption('downsample', options.downsample, autoFactor, 1, spatial ? Math.max(item[0], item[1]) : 1);
    const pooling = choice('pooling', options.pooling, ['avg', 'max'] as const);
    const transform = choice('transform', options.transform, ['none', 'abs', 'positive'] as const);
    const normalize = choice('normalize', options.normalize, ['l2', 'maxAbs', 'none'] as const);
    const affinity = choice('affinity', options.affinity, ['binary', 'gaussian'] as const);
    const embedding = choice('embedding', options.embedding, ['umap', 'spectral'] as const);
    const neighbors = intOption('neighbors', options.neighbors, Math.min(10, n - 1), 1, n - 1);
    const maxClusters = intOption('maxClusters', options.maxClusters, Math.min(10, n - 1), 1, n - 1);
    const minClusters = intOption('minClusters', options.minClusters, Math.min(2, maxClusters), 1, maxClusters);
    const fixed = options.clusters === undefined ? null : intOption('clusters', options.clusters, 2, 1, n - 1);
    const nEigen = intOption('eigenvalues', options.eigenvalues, Math.min(n, Math.max(20, maxClusters + 1)), Math.min(n, maxClusters + 1), n);
    const seed = intOption('seed', options.seed, 0, 0, 2 ** 32 - 1);
    const restarts = intOption('restarts', options.restarts, 10, 1, 1000);

    const { f, shape } = features(x, { transform, pooling, factor, normalize });
    const { a, indices, distances } = knnAffinity(f, neighbors, affinity);
    let aData: Float32Array;
    let fData: Float32Array | null = null;
    let knn: { indices: Int32Array; distances: Float32Array } | null = null;
    try {
      aData = (await a.data()) as Float32Array;
      if (embedding === 'umap') {
        fData = (await f.data()) as Float32Array;
        knn = { indices: (await indices.data()) as Int32Array, distances: (await distances.data()) as Float32Array };
      }
    } finally {
      tf.dispose([a, f, indices, distances]);
    }
    const eig = symmetricEigen(normalizedLaplacian(aData, n), n);
    const { nClusters: chosen, gap } = eigengapClusters(eig.values, minClusters, maxClusters);
    const k = fixed ?? chosen;

    // spectral embedding: the first k eigenvectors, rows normalised to unit length (Ng–Jordan–Weiss)
    const spectral = new Float64Array(n * k);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < k; j++) s += eig.vectors[i * n + j] ** 2;
      const norm = s > 0 ? Math.sqrt(s) : 1;
      for (let j = 0; j < k; j++) spectral[i * k + j] = eig.vectors[i * n + j] / norm;
    }
    const km = kmeans(spectral, n, k, k, { seed, restarts });

    // UMAP on the kNN graph, or the Laplacian eigenmap: eigenvectors 1 and 2 of L_sym times
    // D^{-1/2} (those of the random-walk Laplacian)
    const embedding2d = new Float64Array(n * 2);
    if (fData !== null && knn !== null) embedding2d.set(umap2d(fData, n, knn.indices, knn.distances, neighbors, seed));
    else {
      for (let i = 0; i < n; i++) {
        let deg = 0;
        for (let j = 0; j < n; j++) deg += aData[i * n + j];
        const s = deg > 0 ? 1 / Math.sqrt(deg) : 0;
        embedding2d[i * 2] = eig.vectors[i * n + 1] * s;
        embedding2d[i * 2 + 1] = eig.vectors[i * n + 2] * s;
      }
    }

    const clusterSizes = new Array<number>(k).fill(0);
    km.labels.forEach((l) => clusterSizes[l]++);
    const clusterMeans = tf.tidy(() => {
      // one-hot [N, k]ᵀ × [N, D]: a matMul, which every backend has (wasm lacks UnsortedSegmentSum)
      const members = tf.oneHot(tf.tensor1d(km.labels, 'int32'), k).toFloat();
      const sums = tf.matMul(members, x.reshape([n, -1]), true, false);
      const counts = tf.tensor2d(clusterSizes.map((c) => Math.max(c, 1)), [k, 1]);
      return sums.div(counts).reshape([k, ...item]);
    });
    const values = eig.values.slice(0, nEigen);
    return {
      samples: n,
      clusters: km.labels,
      nClusters: k,
      eigengapClusters: chosen,
      clusterSizes,
      eigenvalues: values,
      eigengaps: values.slice(1).map((v, i) => v - values[i]),
      eigengap: gap,
      embedding2d,
      spectral,
      inertia: km.inertia,
      clusterMeans,
      features: { shape, length: shape.reduce((p, q) => p * q, 1) },
      options: { downsample: factor, pooling, transform, normalize, neighbors, affinity, embedding, minClusters, maxClusters, clusters: fixed, eigenvalues: nEigen, seed, restarts },
    };
  } finally {
    x.dispose();
  }
}
