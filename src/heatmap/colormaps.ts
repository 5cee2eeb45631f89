/**
 * Colour maps for relevance heatmaps, as 256-entry lookup tables of [r, g, b] in 0..1.
 *
 * Diverging maps put their midpoint (the colour of zero relevance) at index 128, as zennit does:
 * index 0 is −max (the blue end, relevance against), index 255 is +max (the red end, for).
 * Pure JavaScript: no tensors, no Node or browser APIs.
 */
import { LrpArgumentError } from '../errors.js';

/** Names of the built-in colour maps. */
export const COLORMAPS = ['bwr', 'seismic', 'coldnhot', 'coolwarm', 'gray', 'hot'] as const;

/** A built-in colour map name. */
export type ColormapName = (typeof COLORMAPS)[number];

/** Index of the midpoint (zero relevance) of every diverging map. */
export const MIDPOINT_INDEX = 128;

type Rgb = [number, number, number];

/** Diverging maps: zero sits at index 128; 'absolute' and 'positive' use their upper half. */
const DIVERGING: ReadonlySet<ColormapName> = new Set<ColormapName>(['bwr', 'seismic', 'coldnhot', 'coolwarm']);

/** Whether `name` is a diverging map (midpoint = zero) rather than a sequential one (index 0 = zero). */
export function isDiverging(name: ColormapName): boolean {
  return DIVERGING.has(name);
}

function hex(h: string): Rgb {
  const s = h.length === 3 ? h.split('').map((c) => c + c).join('') : h;
  return [parseInt(s.slice(0, 2), 16) / 255, parseInt(s.slice(2, 4), 16) / 255, parseInt(s.slice(4, 6), 16) / 255];
}

/**
 * Builds a table from zennit-style nodes: `'00f,80:fff,f00'` — comma-separated hex colours, an
 * optional `II:` prefix pins a node to table index 0xII; unpinned nodes are spread evenly between
 * their pinned neighbours (the first and last node are pinned to 0 and 255). Linear in sRGB.
 */
function fromNodes(spec: string): Rgb[] {
  const parts = spec.split(',');
  const colors = parts.map((p) => hex(p.includes(':') ? p.split(':')[1] : p));
  const pos: (number | null)[] = parts.map((p) => (p.includes(':') ? parseInt(p.split(':')[0], 16) : null));
  pos[0] = pos[0] ?? 0;
  pos[pos.length - 1] = pos[pos.length - 1] ?? 255;
  let last = 0;
  for (let i = 1; i < pos.length; i++) {
    const pi = pos[i];
    if (pi === null) continue;
    const p0 = pos[last] as number;
    for (let j = last + 1; j < i; j++) pos[j] = p0 + ((pi - p0) * (j - last)) / (i - last);
    last = i;
  }
  const at = pos as number[];
  const table: Rgb[] = [];
  for (let k = 0; k < 256; k++) {
    let s = 0;
    while (s < at.length - 2 && k > at[s + 1]) s++;
    const span = at[s + 1] - at[s];
    const w = span > 0 ? Math.min(1, Math.max(0, (k - at[s]) / span)) : 0;
    const a = colors[s];
    const b = colors[s + 1];
    table.push([a[0] + (b[0] - a[0]) * w, a[1] + (b[1] - a[1]) * w, a[2] + (b[2] - a[2]) * w]);
  }
  return table;
}

// ---- Moreland's diverging map (Moreland 2009, "Diverging Color Maps for Scientific Visualization"):
// interpolation in Msh space (polar CIELAB), through an unsaturated white of M = 88.
const REF_WHITE: Rgb = [0.9505, 1.0, 1.089];

function srgbToLinear(c: number): number {
  return c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
}
function linearToSrgb(c: number): number {
  return c <= 0.0031308 ? 12.92 * c : 1.055 * Math.pow(c, 1 / 2.4) - 0.055;
}

function rgbToMsh(rgb: Rgb): Rgb {
  const [r, g, b] = rgb.map(srgbToLinear);
  const xyz: Rgb = [0.4124 * r + 0.3576 * g + 0.1805 * b, 0.2126 * r + 0.7152 * g + 0.0722 * b, 0.0193 * r + 0.1192 * g + 0.9505 * b];
  const f = (t: number): number => (t > 0.008856 ? Math.cbrt(t) : 7.787 * t + 16 / 116);
  const [fx, fy, fz] = xyz.map((v, i) => f(v / REF_WHITE[i]));
  const L = 116 * fy - 16;
  const A = 500 * (fx - fy);
  const B = 200 * (fy - fz);
  const M = Math.sqrt(L * L + A * A + B * B);
  return [M, Math.acos(L / M), Math.atan2(B, A)];
}

function mshToRgb(msh: Rgb): Rgb {
  const [M, s, h] = msh;
  const L = M * Math.cos(s);
  const A = M * Math.sin(s) * Math.cos(h);
  const B = M * Math.sin(s) * Math.sin(h);
  const fy = (L + 16) / 116;
  const finv = (t: number): number => (t * t * t > 0.008856 ? t * t * t : (t - 16 / 116) / 7.787);
  const X = REF_WHITE[0] * finv(A / 500 + fy);
  const Y = REF_WHITE[1] * finv(fy);
  const Z = REF_WHITE[2] * finv(fy - B / 200);
  const lin: Rgb = [3.2406 * X - 1.5372 * Y - 0.4986 * Z, -0.9689 * X + 1.8758 * Y + 0.0415 * Z, 0.0557 * X - 0.204 * Y + 1.057 * Z];
  return lin.map((c) => Math.min(1, Math.max(0, linearToSrgb(c)))) as Rgb;
}

function adjustHue(M: number, s: number, h: number, mUnsat: number): number {
  if (M >= mUnsat) return h;
  const spin = (s * Math.sqrt(mUnsat * mUnsat - M * M)) / (M * Math.sin(s));
  return h > -Math.PI / 3 ? h + spin : h - spin;
}

function morelandAt(c1: Rgb, c2: Rgb, t: number): Rgb {
  let [m1, s1, h1] = rgbToMsh(c1);
  let [m2, s2, h2] = rgbToMsh(c2);
  let w = t;
  if (s1 > 0.05 && s2 > 0.05 && Math.abs(h1 - h2) > Math.PI / 3) {
    const mMid = Math.max(m1, m2, 88);
    if (w < 0.5) {
      [m2, s2, h2] = [mMid, 0, 0];
      w = 2 * w;
    } else {
      [m1, s1, h1] = [mMid, 0, 0];
      w = 2 * w - 1;
    }
  }
  if (s1 < 0.05 && s2 > 0.05) h1 = adjustHue(m2, s2, h2, m1);
  else if (s2 < 0.05 && s1 > 0.05) h2 = adjustHue(m1, s1, h1, m2);
  return mshToRgb([(1 - w) * m1 + w * m2, (1 - w) * s1 + w * s2, (1 - w) * h1 + w * h2]);
}

function coolwarm(): Rgb[] {
  const cool = hex('3b4cc0'); // (59, 76, 192)
  const warm = hex('b40426'); // (180, 4, 38)
  const table: Rgb[] = [];
  for (let k = 0; k < 256; k++) {
    // index 128 is the exact midpoint (t = 0.5), as for the other diverging maps
    const t = k <= MIDPOINT_INDEX ? (0.5 * k) / MIDPOINT_INDEX : 0.5 + (0.5 * (k - MIDPOINT_INDEX)) / (255 - MIDPOINT_INDEX);
    table.push(k === MIDPOINT_INDEX ? morelandAt(cool, warm, 0.5) : morelandAt(cool, warm, t));
  }
  return table;
}

const BUILDERS: Record<ColormapName, () => Rgb[]> = {
  // zennit's node strings (zennit/image.py CMAPS)
  bwr: () => fromNodes('00f,80:fff,f00'),
  seismic: () => fromNodes('0000d0,80:d0d0d0,d00000'),
  coldnhot: () => fromNodes('0ff,00f,80:000,f00,ff0,fff'),
  gray: () => fromNodes('000,fff'),
  hot: () => fromNodes('000,f00,ff0,fff'),
  coolwarm,
};

const cache = new Map<ColormapName, Rgb[]>();

/** Throws LrpArgumentError unless `name` is a built-in colour map; returns it typed. */
export function checkColormap(name: unknown, argument = 'colormap'): ColormapName {
  if (typeof name !== 'string' || !(COLORMAPS as readonly string[]).includes(name)) {
    throw new LrpArgumentError(argument, `unknown colour map ${JSON.stringify(name)}; use one of ${COLORMAPS.join(', ')}.`);
  }
  return name as ColormapName;
}

/** The colour map as 256 rows of [r, g, b] in 0..1 (a fresh copy; e.g. for documentation swatches). */
export function colormapTable(name: ColormapName): number[][] {
  const n = checkColormap(name, 'name');
  let table = cache.get(n);
  if (table === undefined) {
    table = BUILDERS[n]();
    cache.set(n, table);
  }
  return table.map((row) => [row[0], row[1], row[2]]);
}
