/**
 * The float64 steps of SpRAy that run on small arrays in plain JavaScript: the normalized graph
 * Laplacian of an affinity matrix, its eigen-decomposition (ml-matrix), the number of clusters
 * from the eigengap, and seeded k-means++ on the spectral embedding. Plain numbers in, plain
 * numbers out: no tf, so the results are the same on every backend and bit-for-bit repeatable.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

/** mulberry32: a small seeded PRNG giving floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Eigenvalues (ascending) and eigenvectors (column j of the row-major N×N `vectors` belongs to value j). */
export interface Eigen {
  readonly values: Float64Array;
  /** Row-major N×N; column j is the unit eigenvector of `values[j]`, its largest-magnitude entry made positive. */
  readonly vectors: Float64Array;
  readonly n: number;
}

/**
 * The symmetric normalized Laplacian `L = I − D^{-1/2} A D^{-1/2}` of a symmetric affinity
 * matrix `A` (row-major N×N, non-negative), with `D` the diagonal of the row sums (degrees). A
 * node of degree 0 gets `L_ii = 1` and no edges. Returns row-major N×N float64.
 */
export function normalizedLaplacian(affinity: ArrayLike<number>, n: number): Float64Array {
  const inv = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let d = 0;
    for (let j = 0; j < n; j++) d += affinity[i * n + j];
    inv[i] = d > 0 ? 1 / Math.sqrt(d) : 0;
  }
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) l[i * n + j] = (i === j ? 1 : 0) - affinity[i * n + j] * inv[i] * inv[j];
  }
  return l;
}

/**
 * Eigen-decomposition of a symmetric matrix (row-major N×N) with ml-matrix's
 * `EigenvalueDecomposition` (Householder tridiagonalisation + QL, O(N³)): values ascending,
 * each eigenvector's sign fixed (largest-magnitude entry positive) so the result is repeatable.
 */
export function symmetricEigen(matrix: ArrayLike<number>, n: number): Eigen {
  const rows: number[][] = [];
  for (let i = 0; i < n; i++) rows.push(Array.from({ length: n }, (_, j) => matrix[i * n + j]));
  const evd = new EigenvalueDecomposition(new Matrix(rows), { assumeSymmetric: true });
  const raw = evd.realEigenvalues;
  const v = evd.eigenvectorMatrix;
  const order = raw.map((_, j) => j).sort((a, b) => raw[a] - raw[b] || a - b);
  const values = Float64Array.from(order, (j) => raw[j]);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    let big = 0;
    for (let i = 0; i < n; i++) if (Math.abs(v.get(i, src)) > Math.abs(big)) big = v.get(i, src);
    const sign = big < 0 ? -1 : 1;
    for (let i = 0; i < n; i++) vectors[i * n + dst] = sign * v.get(i, src);
  });
  return { values, vectors, n };
}

/**
 * The number of clusters from the eigengap: the `k` in [minClusters, maxClusters] with the
 * largest gap `λ_k − λ_{k−1}` between the k-th and (k+1)-th smallest eigenvalues (0-based
 * `λ_0 ≤ λ_1 ≤ …`). k disconnected groups give k eigenvalues 0 and the largest gap after them.
 * The first of equal gaps wins (gaps within 1e-10 count as equal, so that the rounding noise
 * between equal eigenvalues, e.g. of a complete graph, does not choose).
 */
export function eigengapClusters(values: ArrayLike<number>, minClusters: number, maxClusters: number): { nClusters: number; gap: number } {
  let best = minClusters;
  let gap = -Infinity;
  for (let k = minClusters; k <= Math.min(maxClusters, values.length - 1); k++) {
    const g = values[k] - values[k - 1];
    if (g > gap + 1e-10) {
      gap = g;
      best = k;
    }
  }
  return { nClusters: best, gap };
}

/** What {@link kmeans} returns. */
export interface KMeansResult {
  /** Cluster of each point, 0…k−1, numbered by size (0 the largest; ties by first member). */
  readonly labels: Int32Array;
  /** Row-major k×dim centroids, in the order of the labels. */
  readonly centroids: Float64Array;
  /** Sum of squared distances of the points to their centroids. */
  readonly inertia: number;
}

/** Options of {@link kmeans}. */
export interface KMeansOptions {
  /** PRNG seed (default 0). */
  readonly seed?: number;
  /** Runs from different k-means++ starts; the one of least inertia wins (default 10). */
  readonly restarts?: number;
  /** Lloyd iterations at most per run (default 300). */
  readonly maxIterations?: number;
}

/**
 * Seeded k-means (Lloyd) with k-means++ starts on `n` points of dimension `dim` (row-major),
 * float64. The best of `restarts` runs; labels renumbered by cluster size so that the result
 * does not depend on the order the centroids were drawn in.
 */
export function kmeans(points: ArrayLike<number>, n: number, dim: number, k: number, options: KMeansOptions = {}): KMeansResult {
  const random = seededRandom(options.seed ?? 0);
  const restarts = options.restarts ?? 10;
  const maxIterations = options.maxIterations ?? 300;
  const dist = (i: number, c: Float64Array, j: number): number => {
    let s = 0;
    for (let d = 0; d < dim; d++) {
      const t = points[i * dim + d] - c[j * dim + d];
      s += t * t;
    }
    return s;
  };
  let best: { labels: Int32Array; centroids: Float64Array; inertia: number } | null = null;
  for (let run = 0; run < restarts; run++) {
    // k-means++: the first centre uniformly, each next one with probability ∝ squared distance
    const c = new Float64Array(k * dim);
    const first = Math.min(n - 1, Math.floor(random() * n));
    for (let d = 0; d < dim; d++) c[d] = points[first * dim + d];
    const near = new Float64Array(n).fill(Infinity);
    for (let j = 1; j < k; j++) {
      let total = 0;
      for (let i = 0; i < n; i++) {
        near[i] = Math.min(near[i], dist(i, c, j - 1));
        total += near[i];
      }
      let pick = n - 1;
      if (total > 0) {
        let r = random() * total;
        for (let i = 0; i < n; i++) {
          r -= near[i];
          if (r < 0) {
            pick = i;
            break;
          }
        }
      } else pick = Math.min(n - 1, Math.floor(random() * n));
      for (let d = 0; d < dim; d++) c[j * dim + d] = points[pick * dim + d];
    }
    const labels = new Int32Array(n).fill(-1);
    let inertia = 0;
    for (let it = 0; it < maxIterations; it++) {
      let changed = false;
      inertia = 0;
      for (let i = 0; i < n; i++) {
        let arg = 0;
        let m = Infinity;
        for (let j = 0; j < k; j++) {
          const s = dist(i, c, j);
          if (s < m) {
            m = s;
            arg = j;
          }
        }
        inertia += m;
        if (labels[i] !== arg) {
          labels[i] = arg;
          changed = true;
        }
      }
      if (!changed) break;
      const sums = new Float64Array(k * dim);
      const counts = new Float64Array(k);
      for (let i = 0; i < n; i++) {
        counts[labels[i]]++;
        for (let d = 0; d < dim; d++) sums[labels[i] * dim + d] += points[i * dim + d];
      }
      for (let j = 0; j < k; j++) {
        // an empty cluster keeps its centre
        if (counts[j] > 0) for (let d = 0; d < dim; d++) c[j * dim + d] = sums[j * dim + d] / counts[j];
      }
    }
    if (best === null || inertia < best.inertia - 1e-12 * Math.max(1, best.inertia)) best = { labels, centroids: c, inertia };
  }
  return relabelBySize(best as { labels: Int32Array; centroids: Float64Array; inertia: number }, k, dim);
}

/** Renumbers clusters by size (largest first; ties: the cluster whose first member comes first). */
function relabelBySize(r: { labels: Int32Array; centroids: Float64Array; inertia: number }, k: number, dim: number): KMeansResult {
  const counts = new Array<number>(k).fill(0);
  const firstAt = new Array<number>(k).fill(Infinity);
  r.labels.forEach((l, i) => {
    counts[l]++;
    firstAt[l] = Math.min(firstAt[l], i);
  });
  const order = counts.map((_, j) => j).sort((a, b) => counts[b] - counts[a] || firstAt[a] - firstAt[b]);
  const rename = new Int32Array(k);
  order.forEach((old, neu) => (rename[old] = neu));
  const centroids = new Float64Array(k * dim);
  order.forEach((old, neu) => centroids.set(r.centroids.subarray(old * dim, (old + 1) * dim), neu * dim));
  return { labels: r.labels.map((l) => rename[l]), centroids, inertia: r.inertia };
}
