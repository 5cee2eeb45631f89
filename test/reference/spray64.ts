/**
 * A float64 plain-loop reference of SpRAy's spectral part (no tf, no ml-matrix), written from the
 * description in docs/spray.md: preprocessing (channel sum, |R| / max(R, 0), 'same' pooling,
 * per-sample normalisation), squared distances, the symmetrised kNN affinity, the normalized
 * Laplacian I − D^{-1/2} A D^{-1/2}, and its eigenvalues by the cyclic Jacobi method.
 */

/** Preprocessed features of heatmaps [H, W, C] (row-major per sample), as the reference computes them. */
export function features64(
  samples: readonly ArrayLike<number>[],
  shape: readonly [number, number, number],
  o: { factor: number; pooling: 'avg' | 'max'; transform: 'none' | 'abs' | 'positive'; normalize: 'l2' | 'maxAbs' | 'none' },
): number[][] {
  const [h, w, c] = shape;
  const oh = Math.ceil(h / o.factor);
  const ow = Math.ceil(w / o.factor);
  // 'same' padding: the padding before is half the total (floor), as in TensorFlow
  const padY = Math.floor(Math.max((oh - 1) * o.factor + o.factor - h, 0) / 2);
  const padX = Math.floor(Math.max((ow - 1) * o.factor + o.factor - w, 0) / 2);
  return samples.map((s) => {
    const plane: number[] = [];
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let v = 0;
        for (let ch = 0; ch < c; ch++) v += s[(y * w + x) * c + ch];
        plane.push(o.transform === 'abs' ? Math.abs(v) : o.transform === 'positive' ? Math.max(v, 0) : v);
      }
    }
    const f: number[] = [];
    for (let py = 0; py < oh; py++) {
      for (let px = 0; px < ow; px++) {
        let sum = 0;
        let count = 0;
        let max = -Infinity;
        for (let y = py * o.factor - padY; y < py * o.factor - padY + o.factor; y++) {
          for (let x = px * o.factor - padX; x < px * o.factor - padX + o.factor; x++) {
            if (y < 0 || y >= h || x < 0 || x >= w) continue;
            sum += plane[y * w + x];
            count++;
            max = Math.max(max, plane[y * w + x]);
          }
        }
        f.push(o.pooling === 'avg' ? sum / count : max);
      }
    }
    if (o.normalize === 'none') return f;
    const scale = o.normalize === 'l2' ? Math.sqrt(f.reduce((a, v) => a + v * v, 0)) : Math.max(...f.map(Math.abs));
    return scale > 0 ? f.map((v) => v / scale) : f;
  });
}

/** The symmetrised kNN affinity (N×N): binary, or exp(−d²/σ²) with σ² the mean squared distance to the k-th neighbour. */
export function knnAffinity64(f: readonly number[][], k: number, affinity: 'binary' | 'gaussian'): number[][] {
  const n = f.length;
  const d = f.map((a) => f.map((b) => a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0)));
  const nearest = d.map((row, i) =>
    row
      .map((v, j) => [v, j] as const)
      .filter(([, j]) => j !== i)
      .sort((p, q) => p[0] - q[0] || p[1] - q[1])
      .slice(0, k),
  );
  const sigma2 = nearest.reduce((s, nb) => s + nb[k - 1][0], 0) / n;
  const a = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  nearest.forEach((nb, i) => {
    for (const [dist, j] of nb) {
      const wgt = affinity === 'binary' ? 1 : Math.exp(-dist / (sigma2 > 0 ? sigma2 : 1));
      a[i][j] = Math.max(a[i][j], wgt);
      a[j][i] = Math.max(a[j][i], wgt);
    }
  });
  return a;
}

/** I − D^{-1/2} A D^{-1/2}. */
export function laplacian64(a: readonly number[][]): number[][] {
  const deg = a.map((row) => row.reduce((s, v) => s + v, 0));
  return a.map((row, i) => row.map((v, j) => (i === j ? 1 : 0) - (deg[i] > 0 && deg[j] > 0 ? v / Math.sqrt(deg[i] * deg[j]) : 0)));
}

/** Eigenvalues of a symmetric matrix, ascending, by cyclic Jacobi rotations (to ~1e-14). */
export function jacobiEigenvalues(matrix: readonly number[][]): number[] {
  const n = matrix.length;
  const a = matrix.map((row) => row.slice());
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p][q] ** 2;
    if (off < 1e-26) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (Math.abs(a[p][q]) < 1e-300) continue;
        const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let r = 0; r < n; r++) {
          const arp = a[r][p];
          const arq = a[r][q];
          a[r][p] = c * arp - s * arq;
          a[r][q] = s * arp + c * arq;
        }
        for (let r = 0; r < n; r++) {
          const apr = a[p][r];
          const aqr = a[q][r];
          a[p][r] = c * apr - s * aqr;
          a[q][r] = s * apr + c * aqr;
        }
      }
    }
  }
  return a.map((row, i) => row[i]).sort((x, y) => x - y);
}
