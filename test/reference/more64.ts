/**
 * Float64 reference for the layer classes of LRP_RULES.md §9 (issue #15): LayerNormalization,
 * Dot, Maximum/Minimum, Conv3D, Conv3DTranspose, MaxPooling3D/AveragePooling3D, Rescaling,
 * CenterCrop and CategoryEncoding. Plain loops over Float64Array, written from the formulas of §9
 * (not from the engine); plugged into lrp64 as `custom` ops. Linear layers (LayerNormalization,
 * the 3-D convolutions) are enumerated into explicit connection lists and evaluated with lrp64's
 * own `applyRule`, so every rule of §1 applies to them unchanged.
 */
import * as tf from '@tensorflow/tfjs';
import { activate, applyRule, Arr, Conn, CustomRefOp, LinearMap, linearForward, makeArr, numel, RefOp, stab } from './lrp64';

const copy = (a: Arr): Arr => ({ shape: a.shape.slice(), data: Float64Array.from(a.data) });
const zeros = (a: Arr): Arr => makeArr(a.shape.slice());

/** One sample of a batch, as a batch of one. */
function sample(a: Arr, n: number): Arr {
  const per = numel(a.shape.slice(1));
  return { shape: [1, ...a.shape.slice(1)], data: a.data.slice(n * per, (n + 1) * per) };
}

function putSample(into: Arr, n: number, a: Arr): void {
  const per = numel(into.shape.slice(1));
  into.data.set(a.data, n * per);
}

// ------------------------------------------------------------------------------------------
// LayerNormalization (§9): W_ik = γ_i (δ_ik − 1/n) / σ per sample and position, Dense rule
// ------------------------------------------------------------------------------------------

/** LayerNormalization over the last axis: y = γ (x − μ)/σ + β, σ = sqrt(var + ε) (population variance). */
export function layerNorm64(gamma: Arr | undefined, beta: Arr | undefined, epsilon: number): CustomRefOp {
  const sigmas = (x: Arr): { n: number; P: number; mu: Float64Array; sigma: Float64Array } => {
    const n = x.shape[x.shape.length - 1];
    const P = x.data.length / n;
    const mu = new Float64Array(P);
    const sigma = new Float64Array(P);
    for (let p = 0; p < P; p++) {
      let m = 0;
      for (let k = 0; k < n; k++) m += x.data[p * n + k];
      m /= n;
      let v = 0;
      for (let k = 0; k < n; k++) v += (x.data[p * n + k] - m) ** 2;
      v /= n;
      mu[p] = m;
      sigma[p] = Math.sqrt(v + epsilon);
    }
    return { n, P, mu, sigma };
  };
  const g = (i: number): number => (gamma === undefined ? 1 : gamma.data[i]);
  return {
    linearGroup: 'dense',
    forward([x]) {
      const { n, P, mu, sigma } = sigmas(x);
      const y = zeros(x);
      for (let p = 0; p < P; p++) {
        for (let i = 0; i < n; i++) y.data[p * n + i] = (g(i) * (x.data[p * n + i] - mu[p])) / sigma[p] + (beta === undefined ? 0 : beta.data[i]);
      }
      return y;
    },
    lrp([x], _y, R, { rule }) {
      if (rule === undefined) throw new Error('more64: LayerNormalization needs a rule');
      const N = x.shape[0];
      const inShape = x.shape.slice(1);
      const out = zeros(x);
      for (let s = 0; s < N; s++) {
        const xs = sample(x, s);
        const { n, P, sigma } = sigmas(xs);
        // the explicit matrix of this sample: connections (p, k) -> (p, i), weight p·n² + k·n + i
        const W = new Float64Array(P * n * n);
        const conns: Conn[][] = [];
        const biasOf = new Int32Array(P * n);
        for (let p = 0; p < P; p++) {
          for (let i = 0; i < n; i++) {
            const list: Conn[] = [];
            for (let k = 0; k < n; k++) {
              const w = p * n * n + k * n + i;
              W[w] = (g(i) * ((i === k ? 1 : 0) - 1 / n)) / sigma[p];
              list.push({ i: p * n + k, w });
            }
            conns.push(list);
            biasOf[p * n + i] = i;
          }
        }
        const wChannel = new Int32Array(W.length);
        for (let w = 0; w < W.length; w++) wChannel[w] = w % n;
        const b = beta === undefined ? new Float64Array(n) : Float64Array.from(beta.data);
        const lm: LinearMap = { inShape, outShape: inShape, W, b, wChannel, conns, biasOf };
        putSample(out, s, applyRule(rule, lm, xs, sample(R, s)));
      }
      return [out];
    },
  };
}

// ------------------------------------------------------------------------------------------
// Dot (§9): R(a_i b_i) = a_i b_i / stab(z) R, half to each factor; normalize: norms constant
// ------------------------------------------------------------------------------------------

/** Dot of two inputs of rank 2 ([N, D]) or 3 ([N, P, D] / [N, D, P]) on `axes` (batch axis 0). */
export function dot64(axes: [number, number], normalize: boolean): CustomRefOp {
  // per sample: a as rows [P][D], b as rows [Q][D] (the contracted axis last)
  const rows = (x: Arr, s: number, axis: number): number[][] => {
    if (x.shape.length === 2) {
      const D = x.shape[1];
      return [Array.from(x.data.slice(s * D, (s + 1) * D))];
    }
    const [, A, B] = x.shape;
    const at = (i: number, j: number): number => x.data[s * A * B + i * B + j];
    const out: number[][] = [];
    if (axis === 2) for (let i = 0; i < A; i++) out.push(Array.from({ length: B }, (_, j) => at(i, j)));
    else for (let j = 0; j < B; j++) out.push(Array.from({ length: A }, (_, i) => at(i, j)));
    return out;
  };
  // index of element (row r, d) of `rows` in the flat sample
  const flatIndex = (x: Arr, axis: number, r: number, d: number): number => {
    if (x.shape.length === 2) return d;
    const B = x.shape[2];
    return axis === 2 ? r * B + d : d * B + r;
  };
  const norms = (rs: number[][]): number[] => rs.map((r) => (normalize ? Math.sqrt(Math.max(r.reduce((t, v) => t + v * v, 0), 1e-7)) : 1));
  const outShape = (a: Arr, b: Arr): number[] => (a.shape.length === 2 ? [a.shape[0], 1] : [a.shape[0], rows(a, 0, axes[0]).length, rows(b, 0, axes[1]).length]);
  return {
    forward([a, b]) {
      const N = a.shape[0];
      const y = makeArr(outShape(a, b));
      let o = 0;
      for (let s = 0; s < N; s++) {
        const ra = rows(a, s, axes[0]);
        const rb = rows(b, s, axes[1]);
        const [na, nb] = [norms(ra), norms(rb)];
        for (let p = 0; p < ra.length; p++) {
          for (let q = 0; q < rb.length; q++) {
            let z = 0;
            for (let d = 0; d < ra[p].length; d++) z += (ra[p][d] / na[p]) * (rb[q][d] / nb[q]);
            y.data[o++] = z;
          }
        }
      }
      return y;
    },
    lrp([a, b], y, R, { stabilizer }) {
      const N = a.shape[0];
      const [ra0, rb0] = [zeros(a), zeros(b)];
      const perA = numel(a.shape.slice(1));
      const perB = numel(b.shape.slice(1));
      let o = 0;
      for (let s = 0; s < N; s++) {
        const ra = rows(a, s, axes[0]);
        const rb = rows(b, s, axes[1]);
        const [na, nb] = [norms(ra), norms(rb)];
        for (let p = 0; p < ra.length; p++) {
          for (let q = 0; q < rb.length; q++) {
            const g = R.data[o] / stab(y.data[o], stabilizer);
            o++;
            for (let d = 0; d < ra[p].length; d++) {
              const term = (ra[p][d] / na[p]) * (rb[q][d] / nb[q]) * g;
              ra0.data[s * perA + flatIndex(a, axes[0], p, d)] += term / 2;
              rb0.data[s * perB + flatIndex(b, axes[1], q, d)] += term / 2;
            }
          }
        }
      }
      return [ra0, rb0];
    },
  };
}

// ------------------------------------------------------------------------------------------
// Maximum / Minimum (§9): winner-take-all, first input on ties
// ------------------------------------------------------------------------------------------

export function select64(kind: 'max' | 'min'): CustomRefOp {
  const better = (v: number, best: number): boolean => (kind === 'max' ? v > best : v < best);
  const winner = (xs: Arr[], k: number): number => {
    let w = 0;
    for (let m = 1; m < xs.length; m++) if (better(xs[m].data[k], xs[w].data[k])) w = m;
    return w;
  };
  return {
    forward(xs) {
      const y = zeros(xs[0]);
      for (let k = 0; k < y.data.length; k++) y.data[k] = xs[winner(xs, k)].data[k];
      return y;
    },
    lrp(xs, _y, R) {
      const out = xs.map(zeros);
      for (let k = 0; k < R.data.length; k++) out[winner(xs, k)].data[k] = R.data[k];
      return out;
    },
  };
}

// ------------------------------------------------------------------------------------------
// 3-D convolutions and pooling (TensorFlow geometry)
// ------------------------------------------------------------------------------------------

/** TensorFlow padding: output length and zeros before, for one axis. */
function axisGeometry(inLen: number, k: number, s: number, padding: 'same' | 'valid'): { out: number; before: number } {
  if (padding === 'valid') return { out: Math.floor((inLen - k) / s) + 1, before: 0 };
  const out = Math.ceil(inLen / s);
  const total = Math.max((out - 1) * s + k - inLen, 0);
  return { out, before: Math.floor(total / 2) };
}

/**
 * Every (input position, output position, tap) of a stride-s 3-D correlation from a volume of
 * `inSize` to one of `outSize` (row-major flat spatial indices), padding positions left out.
 */
function taps3d(inSize: number[], k: number[], s: number[], padding: 'same' | 'valid'): { outSize: number[]; list: Array<[number, number, number]> } {
  const geo = [0, 1, 2].map((a) => axisGeometry(inSize[a], k[a], s[a], padding));
  const outSize = geo.map((g) => g.out);
  const list: Array<[number, number, number]> = [];
  for (let od = 0; od < outSize[0]; od++) {
    for (let oh = 0; oh < outSize[1]; oh++) {
      for (let ow = 0; ow < outSize[2]; ow++) {
        for (let td = 0; td < k[0]; td++) {
          const id = od * s[0] + td - geo[0].before;
          if (id < 0 || id >= inSize[0]) continue;
          for (let th = 0; th < k[1]; th++) {
            const ih = oh * s[1] + th - geo[1].before;
            if (ih < 0 || ih >= inSize[1]) continue;
            for (let tw = 0; tw < k[2]; tw++) {
              const iw = ow * s[2] + tw - geo[2].before;
              if (iw < 0 || iw >= inSize[2]) continue;
              list.push([(id * inSize[1] + ih) * inSize[2] + iw, (od * outSize[1] + oh) * outSize[2] + ow, (td * k[1] + th) * k[2] + tw]);
            }
          }
        }
      }
    }
  }
  return { outSize, list };
}

/** A linear op from its connection list builder, with fused activation. */
function linearOp(group: 'conv', build: (inShape: number[]) => LinearMap, activation: string): CustomRefOp {
  return {
    linearGroup: group,
    forward([x]) {
      return activate(activation, linearForward(build(x.shape.slice(1)), x), {});
    },
    lrp([x], _y, R, { rule }) {
      if (rule === undefined) throw new Error('more64: a linear layer needs a rule');
      // the fused activation passes (§7): the rule acts on the pre-activation
      return [applyRule(rule, build(x.shape.slice(1)), x, R)];
    },
  };
}

/** Conv3D, Keras kernel [kd, kh, kw, Cin, Cout]. */
export function conv3d64(kernel: Arr, bias: Arr | undefined, strides: number[], padding: 'same' | 'valid', activation: string): CustomRefOp {
  const [kd, kh, kw, Cin, Cout] = kernel.shape;
  return linearOp(
    'conv',
    (inShape) => {
      const { outSize, list } = taps3d(inShape.slice(0, 3), [kd, kh, kw], strides, padding);
      const conns: Conn[][] = Array.from({ length: numel(outSize) * Cout }, () => []);
      for (const [i, o, t] of list) {
        for (let co = 0; co < Cout; co++) for (let ci = 0; ci < Cin; ci++) conns[o * Cout + co].push({ i: i * Cin + ci, w: (t * Cin + ci) * Cout + co });
      }
      const biasOf = new Int32Array(conns.length).map((_, j) => j % Cout);
      const wChannel = new Int32Array(kernel.data.length).map((_, w) => w % Cout);
      return { inShape, outShape: [...outSize, Cout], W: Float64Array.from(kernel.data), b: bias === undefined ? new Float64Array(Cout) : Float64Array.from(bias.data), wChannel, conns, biasOf };
    },
    activation,
  );
}

/**
 * Conv3DTranspose, Keras kernel [kd, kh, kw, filters, Cin]: the transpose of the Conv3D (same
 * kernel, strides and padding) from the output volume (size: 'same' n·s, 'valid' n·s + max(k − s, 0))
 * to the input volume.
 */
export function conv3dTranspose64(kernel: Arr, bias: Arr | undefined, strides: number[], padding: 'same' | 'valid', activation: string): CustomRefOp {
  const [kd, kh, kw, Cout, Cin] = kernel.shape;
  const k = [kd, kh, kw];
  return linearOp(
    'conv',
    (inShape) => {
      const outSize = [0, 1, 2].map((a) => (padding === 'same' ? inShape[a] * strides[a] : inShape[a] * strides[a] + Math.max(k[a] - strides[a], 0)));
      // the forward Conv3D maps outSize -> inShape; the transposed layer scatters back along it
      const { outSize: back, list } = taps3d(outSize, k, strides, padding);
      if (back.some((v, a) => v !== inShape[a])) throw new Error('more64: Conv3DTranspose geometry mismatch');
      const conns: Conn[][] = Array.from({ length: numel(outSize) * Cout }, () => []);
      for (const [o, i, t] of list) {
        for (let co = 0; co < Cout; co++) for (let ci = 0; ci < Cin; ci++) conns[o * Cout + co].push({ i: i * Cin + ci, w: (t * Cout + co) * Cin + ci });
      }
      const biasOf = new Int32Array(conns.length).map((_, j) => j % Cout);
      const wChannel = new Int32Array(kernel.data.length).map((_, w) => Math.floor(w / Cin) % Cout);
      return { inShape, outShape: [...outSize, Cout], W: Float64Array.from(kernel.data), b: bias === undefined ? new Float64Array(Cout) : Float64Array.from(bias.data), wChannel, conns, biasOf };
    },
    activation,
  );
}

/** MaxPooling3D (gradient: to the first maximum in window order) and AveragePooling3D (Norm). */
export function pool3d64(kind: 'max' | 'avg', pool: number[], strides: number[], padding: 'same' | 'valid'): CustomRefOp {
  const windows = (shape: number[]): { outShape: number[]; wins: number[][] } => {
    const [D, H, W, C] = shape;
    const { outSize, list } = taps3d([D, H, W], pool, strides, padding);
    const bySpatial: number[][] = Array.from({ length: numel(outSize) }, () => []);
    for (const [i, o] of list) bySpatial[o].push(i);
    const wins: number[][] = [];
    for (const sp of bySpatial) for (let c = 0; c < C; c++) wins.push(sp.map((i) => i * C + c));
    return { outShape: [...outSize, C], wins };
  };
  return {
    forward([x]) {
      const { outShape, wins } = windows(x.shape.slice(1));
      const N = x.shape[0];
      const per = numel(x.shape.slice(1));
      const y = makeArr([N, ...outShape]);
      for (let s = 0; s < N; s++) {
        wins.forEach((win, j) => {
          const vals = win.map((i) => x.data[s * per + i]);
          y.data[s * wins.length + j] = kind === 'max' ? Math.max(...vals) : vals.reduce((a, b) => a + b, 0) / vals.length;
        });
      }
      return y;
    },
    lrp([x], y, R, { stabilizer }) {
      const { wins } = windows(x.shape.slice(1));
      const N = x.shape[0];
      const per = numel(x.shape.slice(1));
      const r = zeros(x);
      for (let s = 0; s < N; s++) {
        wins.forEach((win, j) => {
          const Rj = R.data[s * wins.length + j];
          if (kind === 'max') {
            let best = win[0];
            for (const i of win) if (x.data[s * per + i] > x.data[s * per + best]) best = i;
            r.data[s * per + best] += Rj;
          } else {
            const g = Rj / stab(y.data[s * wins.length + j], stabilizer);
            for (const i of win) r.data[s * per + i] += (x.data[s * per + i] / win.length) * g;
          }
        });
      }
      return [r];
    },
  };
}

// ------------------------------------------------------------------------------------------
// Preprocessing layers (§9)
// ------------------------------------------------------------------------------------------

/** Rescaling y = s·x + o: Pass. */
export function rescaling64(scale: number, offset: number): CustomRefOp {
  return {
    forward([x]) {
      const y = zeros(x);
      for (let k = 0; k < y.data.length; k++) y.data[k] = scale * x.data[k] + offset;
      return y;
    },
    lrp: (_xs, _y, R) => [copy(R)],
  };
}

/**
 * CenterCrop to h × w as tfjs-layers 4.22 computes it (nearest-neighbour crop-and-resize of the
 * centred box: row i reads round(y1·(H−1) + i·(y2−y1)(H−1)/(h−1))); relevance: the gradient.
 */
export function centerCrop64(h: number, w: number): CustomRefOp {
  const sources = (H: number, W: number): { rows: number[]; cols: number[] } => {
    const hBuf = H !== h ? Math.floor((H - h) / 2) : 0;
    let wBuf = W !== w ? Math.floor((W - w) / 2) : 0;
    if (W !== w && wBuf === 0) wBuf = 1;
    const axis = (size: number, crop: number, buf: number): number[] => {
      const y1 = buf / size;
      const y2 = (crop + buf) / size;
      return Array.from({ length: crop }, (_, i) => Math.round(crop > 1 ? y1 * (size - 1) + (i * (y2 - y1) * (size - 1)) / (crop - 1) : 0.5 * (y1 + y2) * (size - 1)));
    };
    return { rows: axis(H, h, hBuf), cols: axis(W, w, wBuf) };
  };
  const walk = (x: Arr, fn: (s: number, src: number, dst: number) => void): number[] => {
    const [N, H, W, C] = x.shape;
    const { rows, cols } = sources(H, W);
    for (let s = 0; s < N; s++) {
      for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) for (let c = 0; c < C; c++) fn(s, ((s * H + rows[i]) * W + cols[j]) * C + c, ((s * h + i) * w + j) * C + c);
    }
    return [N, h, w, C];
  };
  return {
    forward([x]) {
      const y = makeArr([x.shape[0], h, w, x.shape[3]]);
      walk(x, (_s, src, dst) => {
        y.data[dst] = x.data[src];
      });
      return y;
    },
    lrp([x], _y, R) {
      const r = zeros(x);
      walk(x, (_s, src, dst) => {
        r.data[src] += R.data[dst];
      });
      return [r];
    },
  };
}

/**
 * CategoryEncoding of integer tokens [N, T] (or [N]) into K entries: multiHot (0/1), count, or
 * oneHot (T = 1). A token position gets the relevance of its category entry divided by the
 * number of positions holding that token in the sample.
 */
export function categoryEncoding64(numTokens: number, mode: 'oneHot' | 'multiHot' | 'count'): CustomRefOp {
  const counts = (x: Arr, s: number): Float64Array => {
    const T = numel(x.shape.slice(1));
    const c = new Float64Array(numTokens);
    for (let t = 0; t < T; t++) c[Math.round(x.data[s * T + t])] += 1;
    return c;
  };
  return {
    forward([x]) {
      const N = x.shape[0];
      const y = makeArr([N, numTokens]);
      for (let s = 0; s < N; s++) {
        const c = counts(x, s);
        for (let k = 0; k < numTokens; k++) y.data[s * numTokens + k] = mode === 'count' ? c[k] : c[k] > 0 ? 1 : 0;
      }
      return y;
    },
    lrp([x], _y, R) {
      const N = x.shape[0];
      const T = numel(x.shape.slice(1));
      const r = zeros(x);
      for (let s = 0; s < N; s++) {
        const c = counts(x, s);
        for (let t = 0; t < T; t++) {
          const k = Math.round(x.data[s * T + t]);
          r.data[s * T + t] = R.data[s * numTokens + k] / c[k];
        }
      }
      return [r];
    },
  };
}

// ------------------------------------------------------------------------------------------
// From a tfjs layer (used by fromModel.ts for the classes above)
// ------------------------------------------------------------------------------------------

function arr(t: tf.Tensor): Arr {
  return { shape: t.shape.slice(), data: Float64Array.from(t.dataSync()) };
}

function weight(layer: tf.layers.Layer, name: string): Arr | undefined {
  const vals = layer.getWeights();
  const k = layer.weights.findIndex((v) => (v.originalName.split('/').pop() ?? '').replace(/_\d+$/, '') === name);
  return k < 0 ? undefined : arr(vals[k]);
}

function triple(v: unknown, dflt: number): number[] {
  if (typeof v === 'number') return [v, v, v];
  if (Array.isArray(v) && v.length === 3) return v.map(Number);
  if (Array.isArray(v) && v.length === 1) return [Number(v[0]), Number(v[0]), Number(v[0])];
  return [dflt, dflt, dflt];
}

/** The RefOp of a layer class of this file, or undefined for other classes. */
export function moreRefOp(layer: tf.layers.Layer, inputRanks: number[]): RefOp | undefined {
  const cfg = layer.getConfig() as Record<string, unknown>;
  const custom = (impl: CustomRefOp): RefOp => ({ type: 'custom', impl });
  const padding = (): 'same' | 'valid' => (cfg.padding === 'same' ? 'same' : 'valid');
  const activation = String(cfg.activation ?? 'linear');
  switch (layer.getClassName()) {
    case 'LayerNormalization':
      return custom(layerNorm64(cfg.scale === false ? undefined : weight(layer, 'gamma'), cfg.center === false ? undefined : weight(layer, 'beta'), Number(cfg.epsilon ?? 1e-3)));
    case 'Dot': {
      const raw = cfg.axes;
      const axis = (k: number): number => {
        const a = Number(Array.isArray(raw) ? raw[k] : raw);
        return a < 0 ? a + inputRanks[k] : a;
      };
      return custom(dot64([axis(0), axis(1)], cfg.normalize === true));
    }
    case 'Maximum':
      return custom(select64('max'));
    case 'Minimum':
      return custom(select64('min'));
    case 'Conv3D':
      return custom(conv3d64(weight(layer, 'kernel') as Arr, cfg.useBias === false ? undefined : weight(layer, 'bias'), triple(cfg.strides, 1), padding(), activation));
    case 'Conv3DTranspose':
      return custom(conv3dTranspose64(weight(layer, 'kernel') as Arr, cfg.useBias === false ? undefined : weight(layer, 'bias'), triple(cfg.strides, 1), padding(), activation));
    case 'MaxPooling3D':
    case 'AveragePooling3D': {
      const pool = triple(cfg.poolSize, 2);
      return custom(pool3d64(layer.getClassName() === 'MaxPooling3D' ? 'max' : 'avg', pool, cfg.strides == null ? pool : triple(cfg.strides, 1), padding()));
    }
    case 'Rescaling':
      return custom(rescaling64(Number(cfg.scale ?? 1), Number(cfg.offset ?? 0)));
    case 'CenterCrop':
      return custom(centerCrop64(Number(cfg.height), Number(cfg.width)));
    case 'CategoryEncoding':
      return custom(categoryEncoding64(Number(cfg.numTokens), String(cfg.outputMode ?? 'multiHot') as 'oneHot' | 'multiHot' | 'count'));
    default:
      return undefined;
  }
}
