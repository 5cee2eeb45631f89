/**
 * Float64 plain-loop reference for recurrent layers, written from LRP_RULES.md §8 (independent of
 * src/: no tf ops, one sample and one element at a time). Layers: LSTM, GRU (resetAfter false),
 * SimpleRNN, and stacks of their cells; masks; goBackwards; returnSequences; returnState.
 */

/** One cell, weights as plain arrays (Keras layout: kernel [F, G·H], recurrent [H, G·H]). */
export interface RefCell {
  readonly kind: 'lstm' | 'gru' | 'simple';
  readonly units: number;
  readonly kernel: number[][];
  readonly recurrent: number[][];
  readonly bias: number[] | null;
  readonly activation: string;
  readonly recurrentActivation: string;
  /** Flat's n_j per output unit of a gate map when it is not the whole input (ConvLSTM2D: the receptive field). */
  readonly fanIn?: number[];
}

/** A recurrent layer. */
export interface RefRecurrent {
  readonly cells: RefCell[];
  readonly returnSequences: boolean;
  readonly returnState: boolean;
  readonly goBackwards: boolean;
}

/** The linear rules of LRP_RULES.md §1 (no z-box). */
export type RefLinearRule =
  | { readonly name: 'epsilon'; readonly epsilon: number }
  | { readonly name: 'zPlus'; readonly stabilizer: number }
  | { readonly name: 'alphaBeta'; readonly alpha: number; readonly beta: number; readonly stabilizer: number }
  | { readonly name: 'gamma'; readonly gamma: number; readonly stabilizer: number }
  | { readonly name: 'flat'; readonly stabilizer: number }
  | { readonly name: 'wSquare'; readonly stabilizer: number };

/** `d + ε·s(d)`, s(0) = +1. */
export function stab64(d: number, eps: number): number {
  return d + eps * (d >= 0 ? 1 : -1);
}

/** The keras activations used in the tests. */
export function act64(name: string, x: number): number {
  switch (name) {
    case 'tanh':
      return Math.tanh(x);
    case 'sigmoid':
      return 1 / (1 + Math.exp(-x));
    case 'hardSigmoid':
      return Math.max(0, Math.min(1, 0.2 * x + 0.5));
    case 'relu':
      return Math.max(0, x);
    case 'linear':
      return x;
    default:
      throw new Error(`reference: activation ${name}`);
  }
}

/** ε of the splits inside the cell: the Epsilon ε, else the rule's stabilizer. */
export function cellEps(rule: RefLinearRule): number {
  return rule.name === 'epsilon' ? rule.epsilon : rule.stabilizer;
}

const pos = (v: number) => Math.max(v, 0);
const neg = (v: number) => Math.min(v, 0);

/**
 * One linear map `z_j = Σ_i a_i w[i][j] + b_j` with upper relevance R (one sample): lower
 * relevance of every input a_i under the rule (LRP_RULES.md §1).
 */
export function linearRule64(rule: RefLinearRule, a: number[], w: number[][], b: number[] | null, R: number[], fanIn?: number[]): number[] {
  const n = a.length;
  const m = R.length;
  const bias = (j: number) => (b === null ? 0 : b[j]);
  const out = new Array<number>(n).fill(0);
  for (let j = 0; j < m; j++) {
    let z = bias(j);
    let zp = pos(bias(j));
    let zn = neg(bias(j));
    let w2 = bias(j) * bias(j);
    for (let i = 0; i < n; i++) {
      const c = a[i] * w[i][j];
      z += c;
      zp += pos(c);
      zn += neg(c);
      w2 += w[i][j] * w[i][j];
    }
    for (let i = 0; i < n; i++) {
      const c = a[i] * w[i][j];
      let r = 0;
      switch (rule.name) {
        case 'epsilon':
          r = (c / stab64(z, rule.epsilon)) * R[j];
          break;
        case 'zPlus':
          r = (pos(c) / stab64(zp, rule.stabilizer)) * R[j];
          break;
        case 'alphaBeta':
          r = (rule.alpha * pos(c) / stab64(zp, rule.stabilizer) - rule.beta * neg(c) / stab64(zn, rule.stabilizer)) * R[j];
          break;
        case 'gamma':
          if (z > 0) r = ((c + rule.gamma * pos(c)) / stab64(z + rule.gamma * zp, rule.stabilizer)) * R[j];
          else if (z < 0) r = ((c + rule.gamma * neg(c)) / stab64(z + rule.gamma * zn, rule.stabilizer)) * R[j];
          break;
        case 'flat':
          // every input of the receptive field (a dense map: all of them; a convolution's unrolled
          // matrix: the non-zero entries, as the seeded random weights are never exactly 0)
          r = fanIn === undefined ? R[j] / stab64(n, rule.stabilizer) : w[i][j] === 0 ? 0 : R[j] / stab64(fanIn[j], rule.stabilizer);
          break;
        case 'wSquare':
          r = ((w[i][j] * w[i][j]) / stab64(w2, rule.stabilizer)) * R[j];
          break;
      }
      out[i] += r;
    }
  }
  return out;
}

function block(mat: number[][], from: number, size: number): number[][] {
  return mat.map((row) => row.slice(from, from + size));
}

function matVec(a: number[], w: number[][], b: number[] | null, from: number, size: number): number[] {
  const z = new Array<number>(size).fill(0);
  for (let j = 0; j < size; j++) {
    let s = b === null ? 0 : b[from + j];
    for (let i = 0; i < a.length; i++) s += a[i] * w[i][from + j];
    z[j] = s;
  }
  return z;
}

interface StepRecord {
  readonly x: number[];
  readonly hPrev: number[];
  readonly cPrev: number[];
  // lstm
  readonly i?: number[];
  readonly f?: number[];
  readonly g?: number[];
  readonly c?: number[];
  // gru
  readonly zg?: number[];
  readonly r?: number[];
  readonly n?: number[];
  readonly h?: number[];
}

/** Forward of one sample: outputs (main, then states in tfjs order) and per-step records. */
export function recurrentForward64(layer: RefRecurrent, x: number[][], mask: boolean[] | null): { main: number[] | number[][]; states: number[][]; steps: Array<Array<StepRecord | null>> } {
  const T = x.length;
  const order = Array.from({ length: T }, (_, t) => (layer.goBackwards ? T - 1 - t : t));
  const h = layer.cells.map((c) => new Array<number>(c.units).fill(0));
  const c = layer.cells.map((cell) => new Array<number>(cell.units).fill(0));
  const steps: Array<Array<StepRecord | null>> = [];
  const outs: number[][] = [];
  for (const pos of order) {
    if (mask !== null && !mask[pos]) {
      steps.push(layer.cells.map(() => null));
      outs.push(h[h.length - 1].slice());
      continue;
    }
    let input = x[pos];
    const recs: StepRecord[] = [];
    layer.cells.forEach((cell, k) => {
      const H = cell.units;
      const hPrev = h[k];
      const cPrev = c[k];
      if (cell.kind === 'lstm') {
        const z = (q: number) => matVec(input, cell.kernel, cell.bias, q * H, H).map((v, j) => v + matVec(hPrev, cell.recurrent, null, q * H, H)[j]);
        const i = z(0).map((v) => act64(cell.recurrentActivation, v));
        const f = z(1).map((v) => act64(cell.recurrentActivation, v));
        const g = z(2).map((v) => act64(cell.activation, v));
        const o = z(3).map((v) => act64(cell.recurrentActivation, v));
        const cNew = cPrev.map((cp, j) => f[j] * cp + i[j] * g[j]);
        const hNew = cNew.map((cv, j) => o[j] * act64(cell.activation, cv));
        recs.push({ x: input, hPrev, cPrev, i, f, g, c: cNew });
        h[k] = hNew;
        c[k] = cNew;
      } else if (cell.kind === 'gru') {
        const xz = matVec(input, cell.kernel, cell.bias, 0, H);
        const xr = matVec(input, cell.kernel, cell.bias, H, H);
        const xh = matVec(input, cell.kernel, cell.bias, 2 * H, H);
        const hz = matVec(hPrev, cell.recurrent, null, 0, H);
        const hr = matVec(hPrev, cell.recurrent, null, H, H);
        const zg = xz.map((v, j) => act64(cell.recurrentActivation, v + hz[j]));
        const r = xr.map((v, j) => act64(cell.recurrentActivation, v + hr[j]));
        const rh = hPrev.map((v, m) => r[m] * v);
        const hn = matVec(rh, cell.recurrent, null, 2 * H, H);
        const n = xh.map((v, j) => act64(cell.activation, v + hn[j]));
        const hNew = n.map((nv, j) => zg[j] * hPrev[j] + (1 - zg[j]) * nv);
        recs.push({ x: input, hPrev, cPrev, zg, r, n, h: hNew });
        h[k] = hNew;
      } else {
        const z = matVec(input, cell.kernel, cell.bias, 0, H).map((v, j) => v + matVec(hPrev, cell.recurrent, null, 0, H)[j]);
        const hNew = z.map((v) => act64(cell.activation, v));
        recs.push({ x: input, hPrev, cPrev });
        h[k] = hNew;
      }
      input = h[k];
    });
    steps.push(recs);
    outs.push(h[h.length - 1].slice());
  }
  const states: number[][] = [];
  for (let k = layer.cells.length - 1; k >= 0; k--) {
    states.push(h[k]);
    if (layer.cells[k].kind === 'lstm') states.push(c[k]);
  }
  return { main: layer.returnSequences ? outs : outs[T - 1], states, steps };
}

/**
 * LRP of one sample through the layer (§8). `Rmain`: relevance of the main output ([T][H] with
 * returnSequences, else [H]); `Rstates`: relevance of the returned states (tfjs order) or null.
 * Returns the relevance of x ([T][F], original positions).
 */
export function recurrentLrp64(layer: RefRecurrent, x: number[][], mask: boolean[] | null, rule: RefLinearRule, Rmain: number[] | number[][], Rstates: Array<number[] | null>): number[][] {
  const T = x.length;
  const K = layer.cells.length;
  const eps = cellEps(rule);
  const { steps } = recurrentForward64(layer, x, mask);
  const order = Array.from({ length: T }, (_, t) => (layer.goBackwards ? T - 1 - t : t));
  const zero = (n: number) => new Array<number>(n).fill(0);
  const Rh = layer.cells.map((c) => zero(c.units));
  const Rc = layer.cells.map((c) => zero(c.units));
  let s = 0;
  for (let k = K - 1; k >= 0; k--) {
    const rh = Rstates[s++];
    if (rh) rh.forEach((v, j) => (Rh[k][j] += v));
    if (layer.cells[k].kind === 'lstm') {
      const rc = Rstates[s++];
      if (rc) rc.forEach((v, j) => (Rc[k][j] += v));
    }
  }
  const Rx = x.map((row) => zero(row.length));
  for (let t = T - 1; t >= 0; t--) {
    // relevance of the output at processing step t
    const top = Rh[K - 1];
    if (layer.returnSequences) (Rmain as number[][])[t].forEach((v, j) => (top[j] += v));
    else if (t === T - 1) (Rmain as number[]).forEach((v, j) => (top[j] += v));
    const recs = steps[t];
    const pos = order[t];
    for (let k = K - 1; k >= 0; k--) {
      const rec = recs[k];
      if (rec === null) continue; // masked: the states' relevance passes to the previous states unchanged
      const cell = layer.cells[k];
      const H = cell.units;
      let rx: number[];
      if (cell.kind === 'lstm') {
        const RcT = Rc[k].map((v, j) => v + Rh[k][j]); // R(c_t) += R(h_t)
        const cNew = rec.c as number[];
        const RcPrev = RcT.map((v, j) => ((rec.f as number[])[j] * rec.cPrev[j] / stab64(cNew[j], eps)) * v);
        const Rg = RcT.map((v, j) => ((rec.i as number[])[j] * (rec.g as number[])[j] / stab64(cNew[j], eps)) * v);
        const w = [...block(cell.kernel, 2 * H, H), ...block(cell.recurrent, 2 * H, H)];
        const b = cell.bias === null ? null : cell.bias.slice(2 * H, 3 * H);
        const r = linearRule64(rule, [...rec.x, ...rec.hPrev], w, b, Rg, cell.fanIn);
        rx = r.slice(0, rec.x.length);
        Rh[k] = r.slice(rec.x.length);
        Rc[k] = RcPrev;
      } else if (cell.kind === 'gru') {
        const hNew = rec.h as number[];
        const zg = rec.zg as number[];
        const n = rec.n as number[];
        const r = rec.r as number[];
        const RhDirect = Rh[k].map((v, j) => ((zg[j] * rec.hPrev[j]) / stab64(hNew[j], eps)) * v);
        const Rn = Rh[k].map((v, j) => (((1 - zg[j]) * n[j]) / stab64(hNew[j], eps)) * v);
        // effective weights [W_n; diag(r) U_n]
        const un = block(cell.recurrent, 2 * H, H).map((row, m) => row.map((v) => r[m] * v));
        const w = [...block(cell.kernel, 2 * H, H), ...un];
        const b = cell.bias === null ? null : cell.bias.slice(2 * H, 3 * H);
        const res = linearRule64(rule, [...rec.x, ...rec.hPrev], w, b, Rn);
        rx = res.slice(0, rec.x.length);
        Rh[k] = res.slice(rec.x.length).map((v, j) => v + RhDirect[j]);
      } else {
        const w = [...cell.kernel, ...cell.recurrent];
        const res = linearRule64(rule, [...rec.x, ...rec.hPrev], w, cell.bias, Rh[k]);
        rx = res.slice(0, rec.x.length);
        Rh[k] = res.slice(rec.x.length);
      }
      if (k > 0) rx.forEach((v, j) => (Rh[k - 1][j] += v));
      else Rx[pos] = rx;
    }
  }
  return Rx;
}

/** A 2-D convolution (NHWC, kernel [kh][kw][cin][cout]) as a dense matrix [inH·inW·cin][outH·outW·cout], and per output position the number of in-bounds taps. */
export function unrollConv64(kernel: number[][][][], inH: number, inW: number, strides: [number, number], dilation: [number, number], padding: 'same' | 'valid'): { w: number[][]; outH: number; outW: number; taps: number[] } {
  const kh = kernel.length;
  const kw = kernel[0].length;
  const cin = kernel[0][0].length;
  const cout = kernel[0][0][0].length;
  const outSize = (n: number, k: number, s: number, d: number) => (padding === 'same' ? Math.ceil(n / s) : Math.ceil((n - (k - 1) * d) / s));
  const outH = outSize(inH, kh, strides[0], dilation[0]);
  const outW = outSize(inW, kw, strides[1], dilation[1]);
  const padBefore = (n: number, out: number, k: number, s: number, d: number) => (padding === 'same' ? Math.floor(Math.max((out - 1) * s + (k - 1) * d + 1 - n, 0) / 2) : 0);
  const pt = padBefore(inH, outH, kh, strides[0], dilation[0]);
  const pl = padBefore(inW, outW, kw, strides[1], dilation[1]);
  const w = Array.from({ length: inH * inW * cin }, () => new Array<number>(outH * outW * cout).fill(0));
  const taps = new Array<number>(outH * outW).fill(0);
  for (let oy = 0; oy < outH; oy++) {
    for (let ox = 0; ox < outW; ox++) {
      for (let ky = 0; ky < kh; ky++) {
        for (let kx = 0; kx < kw; kx++) {
          const iy = oy * strides[0] + ky * dilation[0] - pt;
          const ix = ox * strides[1] + kx * dilation[1] - pl;
          if (iy < 0 || iy >= inH || ix < 0 || ix >= inW) continue;
          taps[oy * outW + ox] += 1;
          for (let ci = 0; ci < cin; ci++) {
            for (let co = 0; co < cout; co++) w[(iy * inW + ix) * cin + ci][(oy * outW + ox) * cout + co] += kernel[ky][kx][ci][co];
          }
        }
      }
    }
  }
  return { w, outH, outW, taps };
}

/**
 * A ConvLSTM2D cell as the dense LSTM cell it equals on flattened NHWC states (LRP_RULES.md §8:
 * the LSTM formulas with the convolutions as the linear maps). Kernels as Keras stores them:
 * [kh][kw][cin][4·filters] and [kh][kw][filters][4·filters], gates i, f, c, o.
 */
export function convLstmCell64(kernel: number[][][][], recurrent: number[][][][], bias: number[] | null, inH: number, inW: number, strides: [number, number], dilation: [number, number], padding: 'same' | 'valid', activation: string, recurrentActivation: string): RefCell {
  const filters = recurrent[0][0].length;
  const gate = (k: number[][][][], q: number) => k.map((a) => a.map((b) => b.map((c) => c.slice(q * filters, (q + 1) * filters))));
  const xs = [0, 1, 2, 3].map((q) => unrollConv64(gate(kernel, q), inH, inW, strides, dilation, padding));
  const { outH, outW } = xs[0];
  const hs = [0, 1, 2, 3].map((q) => unrollConv64(gate(recurrent, q), outH, outW, [1, 1], [1, 1], 'same'));
  const nout = outH * outW * filters;
  const join = (parts: number[][][]) => parts[0].map((_, i) => parts.flatMap((p) => p[i]));
  const cin = kernel[0][0].length;
  const fanIn: number[] = [];
  for (let p = 0; p < outH * outW; p++) for (let f = 0; f < filters; f++) fanIn.push(xs[0].taps[p] * cin + hs[0].taps[p] * filters);
  return {
    kind: 'lstm',
    units: nout,
    kernel: join(xs.map((u) => u.w)),
    recurrent: join(hs.map((u) => u.w)),
    bias: bias === null ? null : [0, 1, 2, 3].flatMap((q) => Array.from({ length: outH * outW }, () => bias.slice(q * filters, (q + 1) * filters)).flat()),
    activation,
    recurrentActivation,
    fanIn,
  };
}
