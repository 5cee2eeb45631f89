/**
 * Pure-JavaScript helpers of the non-image views (tabular, text): reading relevance vectors,
 * colouring single values exactly as heatmap() does, and escaping text for HTML/SVG.
 * No tensor is created here; a tf.Tensor argument is only read.
 */
import * as tf from '@tensorflow/tfjs';
import { LrpArgumentError, LrpBackendError } from '../errors.js';
import { checkColormap, colormapTable, isDiverging, MIDPOINT_INDEX, type ColormapName } from './colormaps.js';
import type { Normalization } from './heatmap.js';

/** A relevance vector: a plain array, a typed array, or a tf.Tensor1D (read, never disposed). */
export type RelevanceVector = readonly number[] | Float32Array | Float64Array | tf.Tensor1D;

/**
 * Reads a relevance vector into a fresh Float64Array; every value must be a finite number. A
 * tf.Tensor1D is read synchronously (dataSync): on a backend that reads asynchronously only
 * (webgpu in Node), pass `await relevance.data()` instead of the tensor.
 * @param relevance the values
 * @param argument the argument name used in errors
 * @throws {LrpArgumentError} for a wrong type, rank or value, and for a tensor whose backend
 *   cannot read synchronously (the message says to pass `await relevance.data()`)
 */
export function readVector(relevance: unknown, argument = 'relevance'): Float64Array {
  let values: ArrayLike<unknown>;
  if (relevance instanceof tf.Tensor) {
    if (relevance.rank !== 1) {
      throw new LrpArgumentError(
        argument,
        `expected a tf.Tensor1D, got shape [${relevance.shape.join(',')}]; for one sample of a batch use relevance.slice([i, 0], [1, -1]).reshape([-1]).`,
      );
    }
    if (relevance.isDisposed) throw new LrpArgumentError(argument, 'the tensor is disposed; pass it before disposing it.');
    values = readTensorSync(relevance, argument);
  } else if (Array.isArray(relevance) || relevance instanceof Float32Array || relevance instanceof Float64Array) {
    values = relevance as ArrayLike<unknown>;
  } else {
    throw new LrpArgumentError(argument, `expected an array of numbers, a Float32Array or a tf.Tensor1D, got ${describeValue(relevance)}.`);
  }
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new LrpArgumentError(argument, `value ${i} is ${describeValue(v)}; every relevance must be a finite number (check the explanation for NaN/Inf).`);
    }
    out[i] = v;
  }
  return out;
}

/**
 * `tensor.dataSync()`; where the tensor's backend cannot read synchronously (webgpu in Node has
 * no OffscreenCanvas), an LrpArgumentError that names the asynchronous remedy. Other errors (a
 * GPU error the backend reported) pass unchanged.
 */
function readTensorSync(tensor: tf.Tensor, argument: string): ArrayLike<number> {
  try {
    return tensor.dataSync() as ArrayLike<number>;
  } catch (e) {
    const syncUnsupported =
      (e instanceof LrpBackendError && /OffscreenCanvas/.test(e.gpuMessage)) || (e instanceof ReferenceError && /OffscreenCanvas/.test(e.message));
    if (!syncUnsupported) throw e;
    const backend = e instanceof LrpBackendError ? e.backend : 'webgpu';
    throw new LrpArgumentError(
      argument,
      `this function reads a tf.Tensor1D synchronously, which the '${backend}' backend cannot do here (no OffscreenCanvas in Node). ` +
        `On an asynchronous backend (webgpu) pass \`await ${argument}.data()\` (a Float32Array) instead of the tensor.`,
    );
  }
}

/** A short description of a value for error messages. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  return typeof v;
}

/** Escapes text for HTML/XML content and attribute values: & < > " '. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;'));
}

/** Round half to even, as tf.round. */
function roundHalfEven(x: number): number {
  const base = Math.floor(x);
  const d = x - base;
  if (d < 0.5) return base;
  if (d > 0.5) return base + 1;
  return base % 2 === 0 ? base : base + 1;
}

const byteCache = new Map<ColormapName, number[][]>();

/**
 * The colour map as 256 rows of [r, g, b] bytes, exactly as heatmap(…, { output: 'int32' })
 * computes them (float32 table × 255, rounded half to even).
 */
export function colormapBytes(name: ColormapName): number[][] {
  let bytes = byteCache.get(name);
  if (bytes === undefined) {
    bytes = colormapTable(name).map((row) => row.map((v) => roundHalfEven(Math.fround(Math.fround(v) * 255))));
    byteCache.set(name, bytes);
  }
  return bytes.map((row) => row.slice());
}

/** `#rrggbb` of a byte triple. */
export function hexColor(rgb: readonly number[]): string {
  return `#${rgb.map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

/** Options of {@link colorIndices}: the scaling options of heatmap() for one vector. */
export interface VectorScaleOptions {
  normalize?: Normalization;
  clipPercentile?: number;
  colormap?: ColormapName;
}

/** The checked percentile (undefined when not given). */
export function checkClipPercentile(p: unknown, argument = 'options.clipPercentile'): number | undefined {
  if (p === undefined) return undefined;
  if (typeof p !== 'number' || !Number.isFinite(p) || p <= 0 || p > 100) {
    throw new LrpArgumentError(argument, `must be a number in (0, 100], got ${String(p)}; e.g. 99.5, or leave it out to scale by the maximum.`);
  }
  return p;
}

/** The checked normalisation (default 'symmetric'). */
export function checkNormalization(n: unknown, argument = 'options.normalize'): Normalization {
  const v = n ?? 'symmetric';
  if (v !== 'symmetric' && v !== 'absolute' && v !== 'positive') {
    throw new LrpArgumentError(argument, `unknown normalisation ${JSON.stringify(v)}; use 'symmetric', 'absolute' or 'positive'.`);
  }
  return v;
}

/**
 * The scale heatmap() uses for one sample of magnitudes (float32 values, ≥ 0): the maximum, or
 * the nearest-rank percentile (the maximum where that is 0); 1 where everything is 0.
 */
export function vectorScale(mag: Float32Array, percentile: number | undefined): number {
  let max = 0;
  for (const v of mag) if (v > max) max = v;
  let scale = max;
  const m = mag.length;
  if (percentile !== undefined && m > 0) {
    const rank = Math.min(m, Math.max(1, Math.ceil((percentile * m) / 100 - 1e-9)));
    const sorted = Float32Array.from(mag).sort();
    const kth = sorted[rank - 1];
    scale = kth > 0 ? kth : max;
  }
  return scale > 0 ? scale : 1;
}

/**
 * Colour-table indices (0..255) of the values, computed as heatmap() computes them for one sample
 * (float32 arithmetic, same scale, rounding and clipping), so that colours agree exactly.
 * @returns the indices and the scale used (the value that maps to the ends of the map)
 */
export function colorIndices(values: ArrayLike<number>, options: VectorScaleOptions = {}): { indices: number[]; scale: number } {
  const normalize = checkNormalization(options.normalize);
  const percentile = checkClipPercentile(options.clipPercentile);
  const colormap = checkColormap(options.colormap ?? 'bwr', 'options.colormap');
  const f = Float32Array.from(values);
  const fr = Math.fround;
  const clip = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x));
  const indices: number[] = [];
  if (normalize === 'symmetric') {
    const scale = fr(vectorScale(f.map(Math.abs), percentile));
    for (const r of f) {
      const v = clip(fr(r / scale), -1, 1);
      const scaled = v < 0 ? fr(v * MIDPOINT_INDEX) : fr(v * (255 - MIDPOINT_INDEX));
      indices.push(clip(MIDPOINT_INDEX + Math.floor(fr(scaled + 0.5)), 0, 255));
    }
    return { indices, scale };
  }
  const mag = f.map((r) => (normalize === 'absolute' ? Math.abs(r) : Math.max(r, 0)));
  const scale = fr(vectorScale(mag, percentile));
  const diverging = isDiverging(colormap);
  for (const m of mag) {
    const t = clip(fr(m / scale), 0, 1);
    const k = diverging ? MIDPOINT_INDEX + Math.floor(fr(fr(t * (255 - MIDPOINT_INDEX)) + 0.5)) : Math.floor(fr(fr(t * 255) + 0.5));
    indices.push(clip(k, 0, 255));
  }
  return { indices, scale };
}

/** Formats a number with a fixed number of decimals, without "-0.000". */
export function formatNumber(v: number, decimals: number): string {
  const s = v.toFixed(decimals);
  return /^-0\.?0*$/.test(s) ? s.slice(1) : s;
}

/** Checks an optional non-negative integer option. */
export function checkCount(v: unknown, argument: string, min = 0): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new LrpArgumentError(argument, `must be an integer ≥ ${min}, got ${describeValue(v)}.`);
  }
  return v;
}
