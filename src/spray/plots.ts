/**
 * SVG plots of a SpRAy result: the eigenvalue spectrum with the eigengap, and the 2-D embedding
 * coloured by cluster. Plain strings (no DOM, no tf): write them to a file or put them in a page.
 */

/** Cluster colours (Tableau 10), repeated past ten clusters. */
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

/** The colour of cluster `c` in the plots. */
function color(c: number): string {
  return PALETTE[c % PALETTE.length];
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const num = (v: number): string => (Math.round(v * 100) / 100).toString();

/** Options of {@link eigengapSvg}. */
export interface EigengapPlotOptions {
  /** Width in px (default 480). */
  readonly width?: number;
  /** Height in px (default 300). */
  readonly height?: number;
  /** Title (default "Eigenvalues of the normalized Laplacian"). */
  readonly title?: string;
}

/**
 * The smallest eigenvalues (ascending) as points, with the chosen gap — between the
 * `nClusters`-th and the next eigenvalue — marked by a red bracket and labelled.
 */
export function eigengapSvg(result: { readonly eigenvalues: ArrayLike<number>; readonly nClusters: number }, options: EigengapPlotOptions = {}): string {
  const width = options.width ?? 480;
  const height = options.height ?? 300;
  const title = options.title ?? 'Eigenvalues of the normalized Laplacian';
  const values = Array.from(result.eigenvalues);
  const m = { l: 48, r: 16, t: 32, b: 40 };
  const top = Math.max(1e-9, ...values) * 1.05;
  const x = (i: number) => m.l + ((i + 0.5) / Math.max(1, values.length)) * (width - m.l - m.r);
  const y = (v: number) => height - m.b - (Math.max(0, v) / top) * (height - m.t - m.b);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="${width / 2}" y="18" text-anchor="middle" font-size="13">${esc(title)}</text>`);
  out.push(`<line x1="${m.l}" y1="${height - m.b}" x2="${width - m.r}" y2="${height - m.b}" stroke="#333"/>`);
  out.push(`<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${height - m.b}" stroke="#333"/>`);
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    const v = t * top;
    out.push(`<text x="${m.l - 4}" y="${num(y(v) + 4)}" text-anchor="end">${v.toFixed(2)}</text>`);
  }
  values.forEach((v, i) => {
    if (i % Math.max(1, Math.ceil(values.length / 20)) === 0) out.push(`<text x="${num(x(i))}" y="${height - m.b + 14}" text-anchor="middle">${i + 1}</text>`);
    out.push(`<circle cx="${num(x(i))}" cy="${num(y(v))}" r="3.5" fill="${i < result.nClusters ? '#4e79a7' : '#999'}"><title>λ${i + 1} = ${v.toPrecision(4)}</title></circle>`);
  });
  const k = result.nClusters;
  if (k >= 1 && k < values.length) {
    const gx = (x(k - 1) + x(k)) / 2;
    out.push(`<line x1="${num(gx)}" y1="${num(y(values[k - 1]))}" x2="${num(gx)}" y2="${num(y(values[k]))}" stroke="#e15759" stroke-width="2"/>`);
    out.push(`<text x="${num(gx + 6)}" y="${num((y(values[k - 1]) + y(values[k])) / 2)}" fill="#e15759">eigengap: ${k} cluster${k === 1 ? '' : 's'} (${(values[k] - values[k - 1]).toFixed(3)})</text>`);
  }
  out.push(`<text x="${width / 2}" y="${height - 8}" text-anchor="middle">index (ascending)</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** Options of {@link scatterSvg}. */
export interface ScatterPlotOptions {
  /** Width and height in px (default 420). */
  readonly size?: number;
  /** Title (default "SpRAy embedding"). */
  readonly title?: string;
  /** A group per sample drawn as the marker's shape (0 circle, 1 cross, 2 square, …), e.g. tagged vs untagged. */
  readonly groups?: ArrayLike<number>;
  /** Legend names of the groups (index = group). */
  readonly groupNames?: readonly string[];
  /** A tooltip per sample (e.g. its file name). */
  readonly labels?: readonly string[];
}

/**
 * The 2-D embedding (row-major N×2) as a scatter plot, one colour per cluster, with a legend of
 * the cluster sizes (and of the marker groups when given).
 */
export function scatterSvg(result: { readonly embedding2d: ArrayLike<number>; readonly clusters: ArrayLike<number>; readonly nClusters: number }, options: ScatterPlotOptions = {}): string {
  const size = options.size ?? 420;
  const legend = 130;
  const width = size + legend;
  const n = result.clusters.length;
  const m = 24;
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < n; i++) {
    x0 = Math.min(x0, result.embedding2d[2 * i]);
    x1 = Math.max(x1, result.embedding2d[2 * i]);
    y0 = Math.min(y0, result.embedding2d[2 * i + 1]);
    y1 = Math.max(y1, result.embedding2d[2 * i + 1]);
  }
  const sx = (v: number) => m + ((v - x0) / (x1 - x0 || 1)) * (size - 2 * m);
  const sy = (v: number) => size - m - ((v - y0) / (y1 - y0 || 1)) * (size - 2 * m - 16);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${size}" viewBox="0 0 ${width} ${size}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="${width}" height="${size}" fill="white"/>`);
  out.push(`<text x="${size / 2}" y="16" text-anchor="middle" font-size="13">${esc(options.title ?? 'SpRAy embedding')}</text>`);
  out.push(`<rect x="${m / 2}" y="${m}" width="${size - m}" height="${size - 1.5 * m}" fill="none" stroke="#ccc"/>`);
  const marker = (g: number, cx: number, cy: number, fill: string, tip: string): string => {
    const t = tip === '' ? '' : `<title>${esc(tip)}</title>`;
    switch (g % 3) {
      case 1:
        return `<path d="M${num(cx - 3)} ${num(cy - 3)}L${num(cx + 3)} ${num(cy + 3)}M${num(cx - 3)} ${num(cy + 3)}L${num(cx + 3)} ${num(cy - 3)}" stroke="${fill}" stroke-width="1.6">${t}</path>`;
      case 2:
        return `<rect x="${num(cx - 3)}" y="${num(cy - 3)}" width="6" height="6" fill="none" stroke="${fill}" stroke-width="1.4">${t}</rect>`;
      default:
        return `<circle cx="${num(cx)}" cy="${num(cy)}" r="3" fill="${fill}" fill-opacity="0.75">${t}</circle>`;
    }
  };
  for (let i = 0; i < n; i++) {
    const g = options.groups === undefined ? 0 : options.groups[i];
    out.push(marker(g, sx(result.embedding2d[2 * i]), sy(result.embedding2d[2 * i + 1]), color(result.clusters[i]), options.labels?.[i] ?? `sample ${i}: cluster ${result.clusters[i]}`));
  }
  const sizes = new Array<number>(result.nClusters).fill(0);
  for (let i = 0; i < n; i++) sizes[result.clusters[i]]++;
  let ly = 40;
  for (let c = 0; c < result.nClusters; c++, ly += 16) {
    out.push(`<circle cx="${size + 10}" cy="${ly - 4}" r="5" fill="${color(c)}"/><text x="${size + 20}" y="${ly}">cluster ${c} (${sizes[c]})</text>`);
  }
  if (options.groupNames !== undefined) {
    ly += 8;
    options.groupNames.forEach((name, g) => {
      out.push(marker(g, size + 10, ly - 4, '#333', '') + `<text x="${size + 20}" y="${ly}">${esc(name)}</text>`);
      ly += 16;
    });
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}
