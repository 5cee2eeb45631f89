/**
 * Writes a SpRAy result as files (Node): clusters.json/.csv, eigenvalues.csv, eigengap.svg,
 * scatter.svg, cluster-means.png, clusters/cluster-<c>.png (the mean and the most typical
 * samples of each cluster) and index.md linking them.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { LrpArgumentError } from '../errors.js';
import type { ColormapName } from '../heatmap/colormaps.js';
import { heatmapGrid } from '../heatmap/grid.js';
import { eigengapSvg, scatterSvg } from '../spray/plots.js';
import type { SprayResult } from '../spray/spray.js';
import { writeAtomic, writeImage } from './image.js';

/** Options of {@link writeSprayReport}. */
export interface SprayReportOptions {
  /** A name per sample (e.g. its file), in clusters.json/.csv and the pictures' labels (default: the index). */
  readonly names?: readonly string[];
  /** Samples shown per cluster next to its mean (labelled with the last 8 characters of their names), the most typical first (nearest the cluster's centre in the spectral embedding; default 8). */
  readonly examples?: number;
  /** A marker group per sample for the scatter plot (e.g. 1 = tagged), with `groupNames` for its legend. */
  readonly groups?: ArrayLike<number>;
  /** Legend names of `groups`. */
  readonly groupNames?: readonly string[];
  /** Heatmap colours (default 'bwr'). */
  readonly colormap?: ColormapName;
  /** Colour scale of each heatmap: this percentile of |R| instead of the maximum (default 99.5). */
  readonly clipPercentile?: number;
  /** Integer upscale of the heatmaps in the pictures (default: panels of at least 96 px). */
  readonly scale?: number;
  /** A title line for index.md (default "SpRAy"). */
  readonly title?: string;
}

/** The files {@link writeSprayReport} wrote, relative to its folder. */
export interface SprayReportFiles {
  readonly json: string;
  readonly csv: string;
  readonly eigenvalues: string;
  readonly eigengap: string;
  readonly scatter: string;
  readonly index: string;
  /** cluster-means.png, or null when the items are not heatmap-shaped ([H, W] or [H, W, C]). */
  readonly means: string | null;
  /** clusters/cluster-<c>.png per cluster (empty when the items are not heatmap-shaped). */
  readonly clusters: string[];
}

const csvCell = (v: string | number): string => (typeof v === 'number' ? String(v) : /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

/** Per cluster, the sample indices ordered by distance to the cluster's centre in the spectral embedding (most typical first). */
function typicalOrder(result: SprayResult): number[][] {
  const k = result.nClusters;
  const n = result.samples;
  const centre = new Float64Array(k * k);
  result.clusters.forEach((c, i) => {
    for (let d = 0; d < k; d++) centre[c * k + d] += result.spectral[i * k + d] / result.clusterSizes[c];
  });
  const dist = (i: number): number => {
    const c = result.clusters[i];
    let s = 0;
    for (let d = 0; d < k; d++) s += (result.spectral[i * k + d] - centre[c * k + d]) ** 2;
    return s;
  };
  const members: number[][] = Array.from({ length: k }, () => []);
  for (let i = 0; i < n; i++) members[result.clusters[i]].push(i);
  return members.map((m) => m.map((i) => [i, dist(i)] as const).sort((a, b) => a[1] - b[1] || a[0] - b[0]).map(([i]) => i));
}

/**
 * Writes the report of `result` (from `spray(relevances, …)`) into `dir` (created if missing).
 * `relevances` are the ones spray() clustered, [N, ...item shape]; they are not disposed.
 * @returns the files written, relative to `dir`
 */
export async function writeSprayReport(dir: string, relevances: tf.Tensor, result: SprayResult, options: SprayReportOptions = {}): Promise<SprayReportFiles> {
  const n = result.samples;
  if (!(relevances instanceof tf.Tensor) || relevances.shape[0] !== n) throw new LrpArgumentError('relevances', `expected the ${n} heatmaps spray() clustered, [${n}, ...], got ${relevances instanceof tf.Tensor ? `[${relevances.shape.join(', ')}]` : typeof relevances}.`);
  const names = options.names ?? Array.from({ length: n }, (_, i) => String(i));
  if (names.length !== n) throw new LrpArgumentError('options.names', `expected ${n} names (one per sample), got ${names.length}.`);
  const examples = options.examples ?? 8;
  if (!Number.isInteger(examples) || examples < 0) throw new LrpArgumentError('options.examples', `must be an integer ≥ 0, got ${String(examples)}.`);
  fs.mkdirSync(path.join(dir, 'clusters'), { recursive: true });
  const write = (file: string, text: string) => writeAtomic(path.join(dir, file), Buffer.from(text, 'utf8'));

  const e = result.embedding2d;
  await write(
    'clusters.json',
    JSON.stringify(
      {
        samples: n,
        nClusters: result.nClusters,
        eigengapClusters: result.eigengapClusters,
        eigengap: result.eigengap,
        clusterSizes: result.clusterSizes,
        eigenvalues: Array.from(result.eigenvalues),
        features: result.features,
        options: result.options,
        items: names.map((name, i) => ({ index: i, name, cluster: result.clusters[i], x: e[2 * i], y: e[2 * i + 1] })),
      },
      null,
      1,
    ) + '\n',
  );
  await write('clusters.csv', ['index,name,cluster,x,y', ...names.map((name, i) => [i, name, result.clusters[i], e[2 * i], e[2 * i + 1]].map(csvCell).join(','))].join('\n') + '\n');
  await write('eigenvalues.csv', ['index,eigenvalue,gap_after', ...Array.from(result.eigenvalues, (v, i) => `${i + 1},${v},${i < result.eigengaps.length ? result.eigengaps[i] : ''}`)].join('\n') + '\n');
  await write('eigengap.svg', eigengapSvg(result));
  await write('scatter.svg', scatterSvg(result, { groups: options.groups, groupNames: options.groupNames, labels: names.map((name, i) => `${name}: cluster ${result.clusters[i]}`) }));

  const item = relevances.shape.slice(1);
  const pictures = item.length === 2 || item.length === 3;
  const common = { colormap: options.colormap ?? ('bwr' as const), clipPercentile: options.clipPercentile ?? 99.5, columns: ['heatmap'] as const, ...(options.scale !== undefined ? { scale: options.scale } : {}) };
  let means: string | null = null;
  const clusterFiles: string[] = [];
  if (pictures) {
    means = 'cluster-means.png';
    const grid = heatmapGrid({ ...common, relevance: result.clusterMeans, samplesPerRow: result.nClusters, labels: result.clusterSizes.map((s, c) => `c${c} (${s})`) });
    try {
      await writeImage(path.join(dir, means), grid);
    } finally {
      grid.dispose();
    }
    const order = typicalOrder(result);
    for (let c = 0; c < result.nClusters; c++) {
      const pick = order[c].slice(0, examples);
      const file = `clusters/cluster-${c}.png`;
      const grid = tf.tidy(() => {
        const mean = result.clusterMeans.slice([c], [1]);
        const rel = pick.length === 0 ? mean : tf.concat([mean, tf.gather(relevances, tf.tensor1d(pick, 'int32'))], 0);
        return heatmapGrid({ ...common, relevance: rel, samplesPerRow: rel.shape[0], labels: [`c${c} mean`, ...pick.map((i) => names[i].slice(-8))] });
      });
      try {
        await writeImage(path.join(dir, file), grid);
      } finally {
        grid.dispose();
      }
      clusterFiles.push(file);
    }
  }

  const md: string[] = [];
  md.push(`# ${options.title ?? 'SpRAy'}`, '');
  md.push(`${n} samples, ${result.nClusters} clusters (eigengap: ${result.eigengapClusters}, gap ${result.eigengap.toFixed(4)}); sizes ${result.clusterSizes.join(', ')}.`, '');
  md.push(`Options: ${Object.entries(result.options).map(([k, v]) => `${k} ${String(v)}`).join(', ')}; features ${result.features.shape.join('×')}.`, '');
  md.push('![eigenvalues](eigengap.svg) ![embedding](scatter.svg)', '');
  if (means !== null) md.push('Cluster means:', '', `![cluster means](${means})`, '');
  clusterFiles.forEach((f, c) => md.push(`## Cluster ${c} (${result.clusterSizes[c]} samples)`, '', `![cluster ${c}: mean and typical samples](${f})`, ''));
  md.push('Files: [clusters.json](clusters.json), [clusters.csv](clusters.csv), [eigenvalues.csv](eigenvalues.csv).', '');
  await write('index.md', md.join('\n'));
  return { json: 'clusters.json', csv: 'clusters.csv', eigenvalues: 'eigenvalues.csv', eigengap: 'eigengap.svg', scatter: 'scatter.svg', index: 'index.md', means, clusters: clusterFiles };
}
