/**
 * Independent float64 reference implementation of LRP for the tests of tfjs-lrp.
 *
 * Written from /work/shared/LRP_RULES.md (zennit 1.0.0 conventions) with plain for-loops over
 * Float64Array. It deliberately does NOT use tf ops, autograd, or anything from src/: every
 * linear layer (Dense, Conv1D/2D, DepthwiseConv2D, Conv2DTranspose, both halves of
 * SeparableConv2D) is enumerated once into an explicit list of connections
 *     output element j  <-  { (input element i, weight index w) }
 * (padding positions are simply not connections, which is exactly "the padded zeros are added
 * after the input modifier"), and every rule of §1 is then written as its explicit formula over
 * z_ij = x_i * W_ij and sums over the receptive field RF(j).
 *
 * Layouts: row-major, batch first, channels last (NHWC / NWC), Keras kernel layouts.
 */

// ------------------------------------------------------------------------------------------
// Public types
// ------------------------------------------------------------------------------------------

export interface Arr {
  shape: number[];
  data: Float64Array;
}

export type RefRule =
  | { name: 'epsilon'; epsilon: number } // epsilon 0 == LRP-0
  | { name: 'zPlus'; stabilizer?: number }
  | { name: 'alphaBeta'; alpha: number; beta: number; stabilizer?: number }
  | { name: 'gamma'; gamma: number; stabilizer?: number }
  | { name: 'flat'; stabilizer?: number }
  | { name: 'wSquare'; stabilizer?: number }
  // low/high: scalar, or an Arr broadcast (numpy-style, right-aligned) to the layer's input
  // shape without the batch dim (an Arr with a leading batch dim of 1 or N also works).
  | { name: 'zBox'; low: number | Arr; high: number | Arr; stabilizer?: number };

export type Padding = 'same' | 'valid';

export type RefOp =
  | { type: 'input' }
  | { type: 'dense'; kernel: Arr /* [in,out] */; bias?: Arr; activation: string }
  | {
      type: 'conv1d' | 'conv2d';
      kernel: Arr /* [k,cin,cout] | [kh,kw,cin,cout] */;
      bias?: Arr;
      strides: number[];
      padding: Padding;
      dilation: number[];
      activation: string;
    }
  | {
      type: 'depthwiseConv2d';
      kernel: Arr /* [kh,kw,cin,mult] */;
      bias?: Arr;
      strides: number[];
      padding: Padding;
      dilation: number[];
      activation: string;
    }
  | {
      type: 'conv2dTranspose';
      kernel: Arr /* Keras layout [kh,kw,cout,cin] */;
      bias?: Arr;
      strides: number[];
      padding: Padding;
      activation: string;
    }
  | {
      type: 'separableConv2d';
      depthwise: Arr /* [kh,kw,cin,mult] */;
      pointwise: Arr /* [1,1,cin*mult,cout] */;
      bias?: Arr;
      strides: number[];
      padding: Padding;
      dilation?: number[];
      activation: string;
    }
  | { type: 'batchNorm'; gamma?: Arr; beta?: Arr; mean: Arr; variance: Arr; epsilon: number } // last axis
  | {
      type: 'activation';
      activation: string;
      alpha?: number;
      maxValue?: number;
      axis?: number /* softmax axis over the full shape incl. batch; default -1 */;
    }
  | { type: 'maxPool' | 'avgPool'; dims: 1 | 2; pool: number[]; strides: number[]; padding: Padding }
  | { type: 'globalMaxPool' | 'globalAvgPool'; dims: 1 | 2 }
  | { type: 'flatten' }
  | { type: 'reshape'; targetShape: number[] /* without batch; one entry may be -1 */ }
  | { type: 'permute'; dims: number[] /* Keras, 1-based, without batch */ }
  | { type: 'identity' } // dropout etc.
  | { type: 'add' }
  | { type: 'concatenate'; axis: number /* over the full shape incl. batch; may be negative */ }
  | { type: 'zeroPadding2d'; padding: [[number, number], [number, number]] }
  | { type: 'cropping2d'; cropping: [[number, number], [number, number]] }
  | { type: 'upSampling2d'; size: [number, number] }
  | { type: 'embedding'; embeddings: Arr /* [vocab, dim] */ }
  | { type: 'custom'; impl: CustomRefOp }
  | { type: 'average' } // Keras Average: mean of equal-shaped inputs (Norm, §9)
  | { type: 'multiply' } // Keras Multiply: product of equal-shaped inputs (uniform R/n, §9)
  | { type: 'repeatVector'; n: number }; // [F] -> [n, F] (gradient: copies summed, §8)

/**
 * A layer written outside this file (test/reference/more64.ts: LayerNormalization, Dot, Conv3D,
 * …): its own float64 forward and LRP step, each written from LRP_RULES.md in plain loops.
 * `linearGroup` marks a layer that takes the Dense/Conv rule of the composite (refRules).
 */
export interface CustomRefOp {
  readonly linearGroup?: 'dense' | 'conv';
  forward(xs: Arr[]): Arr;
  /** Lower relevance, one Arr per input. `rule`: the node's rule when it is linear. */
  lrp(xs: Arr[], y: Arr, R: Arr, ctx: { rule: RefRule | undefined; stabilizer: number }): Arr[];
}

export interface RefNode {
  name: string;
  inputs: string[];
  op: RefOp;
}

export interface RefGraph {
  nodes: RefNode[]; // topological order
  inputs: string[];
  output: string;
}

export interface Lrp64Options {
  /** Stabilizer of the Norm rule (avg pooling, Add). Default 1e-6. */
  stabilizer?: number;
  /** 'logit' (default): R_out = one_hot(c) * score; 'one': R_out = one_hot(c). */
  outputRelevance?: 'logit' | 'one';
  /**
   * §10 conditional relevance (CRP): per node name, the channels (last axis) whose relevance that
   * node passes on; relevance in flight on paths bypassing the node is dropped there.
   */
  conditions?: Record<string, number[]>;
  /** §10 starting inside: the pass starts at `node` with one_hot(channel[n]) ⊙ its output (classIdx ignored). */
  start?: { node: string; channel: number[] };
}

export interface Lrp64Result {
  /** Relevance per graph input (same shape as that input; an embedding's integer input: [N,T]). */
  relevance: Arr[];
  /** Per sample: the explained (pre-softmax/sigmoid) score of the selected class. */
  score: number[];
  /** Per sample: sum of the initial relevance (score, or 1 for outputRelevance 'one'). */
  outputSum: number[];
  /** Per sample: sum of the relevance over all graph inputs. */
  inputSum: number[];
  /** Relevance arriving at each node's output (sum over its consumers), for nodes that get any. */
  nodeRelevance: Map<string, Arr>;
  /** Relevance each node hands to each of its inputs (one Arr per entry of node.inputs). */
  layerIn: Map<string, Arr[]>;
  /** All forward values (see forward64). */
  values: Map<string, Arr>;
  /** Names of the BatchNorm nodes merged into their preceding linear node (§4). */
  mergedBatchNorms: string[];
}

export const LINEAR_TYPES = [
  'dense',
  'conv1d',
  'conv2d',
  'depthwiseConv2d',
  'conv2dTranspose',
  'separableConv2d',
] as const;
export type LinearType = (typeof LINEAR_TYPES)[number];
type LinearOp = Extract<RefOp, { type: LinearType }>;

export function isLinearOp(op: RefOp): op is LinearOp {
  return (LINEAR_TYPES as readonly string[]).includes(op.type);
}

/** Conv group of LRP_RULES.md §3 (everything linear except Dense). */
export function isConvOp(op: RefOp): boolean {
  return isLinearOp(op) && op.type !== 'dense';
}

/** Key of a linear node's pre-activation in the map returned by forward64. */
export const preKey = (name: string): string => `${name}/preactivation`;
/** Key of a separable conv's intermediate (depthwise output) in the map returned by forward64. */
export const depthwiseKey = (name: string): string => `${name}/depthwise`;
/** Rules key of the pointwise part of a separable conv (falls back to the node's own rule). */
export const pointwiseKey = (name: string): string => `${name}/pointwise`;

// ------------------------------------------------------------------------------------------
// Small array helpers
// ------------------------------------------------------------------------------------------

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function makeArr(shape: number[], data?: ArrayLike<number>): Arr {
  const n = numel(shape);
  const out = new Float64Array(n);
  if (data !== undefined) {
    if (data.length !== n) throw new Error(`makeArr: ${data.length} values for shape [${shape}]`);
    for (let i = 0; i < n; i++) out[i] = data[i];
  }
  return { shape: shape.slice(), data: out };
}

function zerosLike(a: Arr): Arr {
  return makeArr(a.shape);
}

function get(values: Map<string, Arr>, key: string): Arr {
  const v = values.get(key);
  if (v === undefined) throw new Error(`reference: no value for '${key}'`);
  return v;
}

const pos = (a: number): number => (a > 0 ? a : 0); // a⁺ = clamp(min=0)
const neg = (a: number): number => (a < 0 ? a : 0); // a⁻ = clamp(max=0)

/** zennit stabilizer: d + eps * s(d), s(d) = +1 if d >= 0 else -1 (sign(0) = +1). */
export function stab(d: number, eps: number): number {
  const s = d >= 0 ? 1 : -1;
  return d + eps * s;
}

/** Numpy-style right-aligned broadcast of a scalar or Arr to `shape`; returns the flat data. */
export function broadcastTo(v: number | Arr, shape: number[]): Float64Array {
  const n = numel(shape);
  const out = new Float64Array(n);
  if (typeof v === 'number') {
    out.fill(v);
    return out;
  }
  const r = shape.length;
  const vr = v.shape.length;
  if (vr > r) throw new Error(`broadcastTo: [${v.shape}] has more dims than [${shape}]`);
  const vShape: number[] = [];
  for (let k = 0; k < r - vr; k++) vShape.push(1);
  vShape.push(...v.shape);
  for (let k = 0; k < r; k++) {
    if (vShape[k] !== 1 && vShape[k] !== shape[k]) {
      throw new Error(`broadcastTo: cannot broadcast [${v.shape}] to [${shape}]`);
    }
  }
  const idx = new Array<number>(r).fill(0);
  for (let flat = 0; flat < n; flat++) {
    // decompose flat into idx (row-major)
    let rem = flat;
    for (let k = r - 1; k >= 0; k--) {
      idx[k] = rem % shape[k];
      rem = Math.floor(rem / shape[k]);
    }
    let src = 0;
    for (let k = 0; k < r; k++) src = src * vShape[k] + (vShape[k] === 1 ? 0 : idx[k]);
    out[flat] = v.data[src];
  }
  return out;
}

// ------------------------------------------------------------------------------------------
// Convolution geometry (TensorFlow conventions)
// ------------------------------------------------------------------------------------------

/** Output length and padding-before of a conv/pool along one dim (TF 'same'/'valid'). */
function convGeometry(
  inLen: number,
  k: number,
  s: number,
  d: number,
  padding: Padding,
): { out: number; before: number } {
  const eff = (k - 1) * d + 1;
  if (padding === 'same') {
    const out = Math.ceil(inLen / s);
    const total = Math.max((out - 1) * s + eff - inLen, 0);
    return { out, before: Math.floor(total / 2) };
  }
  const out = Math.floor((inLen - eff) / s) + 1;
  if (out <= 0) throw new Error(`reference: 'valid' window ${eff} larger than input ${inLen}`);
  return { out, before: 0 };
}

// ------------------------------------------------------------------------------------------
// Linear layers as explicit connection lists
// ------------------------------------------------------------------------------------------

export interface Conn {
  i: number; // input element (per-sample flat index; padding positions never appear)
  w: number; // weight index into W
}

/** One linear map x -> z (per sample): z_j = b[biasOf[j]] + Σ_{(i,w) ∈ conns[j]} x_i W_w. */
export interface LinearMap {
  inShape: number[]; // per sample
  outShape: number[]; // per sample
  W: Float64Array;
  b: Float64Array; // one per output channel
  wChannel: Int32Array; // output channel of every weight (for BatchNorm merging)
  conns: Conn[][];
  biasOf: Int32Array; // output channel of every output element
}

function biasData(bias: Arr | undefined, channels: number): Float64Array {
  if (bias === undefined) return new Float64Array(channels);
  if (bias.data.length !== channels) throw new Error('reference: bias length mismatch');
  return Float64Array.from(bias.data);
}

/** Dense acting on the last axis, at every position of an input of any rank. */
function denseMap(inShape: number[], kernel: Arr, bias: Arr | undefined): LinearMap {
  const [nIn, nOut] = kernel.shape;
  if (inShape[inShape.length - 1] !== nIn) throw new Error('reference: dense input size mismatch');
  const positions = numel(inShape) / nIn;
  const outShape = [...inShape.slice(0, -1), nOut];
  const conns: Conn[][] = [];
  const biasOf = new Int32Array(positions * nOut);
  for (let p = 0; p < positions; p++) {
    for (let o = 0; o < nOut; o++) {
      const list: Conn[] = [];
      for (let k = 0; k < nIn; k++) list.push({ i: p * nIn + k, w: k * nOut + o });
      conns.push(list);
      biasOf[p * nOut + o] = o;
    }
  }
  const wChannel = new Int32Array(nIn * nOut);
  for (let w = 0; w < wChannel.length; w++) wChannel[w] = w % nOut;
  return {
    inShape: inShape.slice(),
    outShape,
    W: Float64Array.from(kernel.data),
    b: biasData(bias, nOut),
    wChannel,
    conns,
    biasOf,
  };
}

/** Conv2D (gather): input (oh*sh + th*dh - padTop, ow*sw + tw*dw - padLeft). */
function conv2dMap(
  inShape: number[],
  kernel: Arr,
  bias: Arr | undefined,
  strides: number[],
  padding: Padding,
  dilation: number[],
): LinearMap {
  const [H, Wd, Cin] = inShape;
  const [KH, KW, kCin, Cout] = kernel.shape;
  if (kCin !== Cin) throw new Error('reference: conv input channels mismatch');
  const gh = convGeometry(H, KH, strides[0], dilation[0], padding);
  const gw = convGeometry(Wd, KW, strides[1], dilation[1], padding);
  const OH = gh.out;
  const OW = gw.out;
  const conns: Conn[][] = [];
  const biasOf = new Int32Array(OH * OW * Cout);
  for (let oh = 0; oh < OH; oh++) {
    for (let ow = 0; ow < OW; ow++) {
      for (let co = 0; co < Cout; co++) {
        const list: Conn[] = [];
        for (let th = 0; th < KH; th++) {
          const ih = oh * strides[0] + th * dilation[0] - gh.before;
          if (ih < 0 || ih >= H) continue; // padding: not a connection
          for (let tw = 0; tw < KW; tw++) {
            const iw = ow * strides[1] + tw * dilation[1] - gw.before;
            if (iw < 0 || iw >= Wd) continue;
            for (let ci = 0; ci < Cin; ci++) {
              list.push({ i: (ih * Wd + iw) * Cin + ci, w: ((th * KW + tw) * Cin + ci) * Cout + co });
            }
          }
        }
        conns.push(list);
        biasOf[(oh * OW + ow) * Cout + co] = co;
      }
    }
  }
  const wChannel = new Int32Array(kernel.data.length);
  for (let w = 0; w < wChannel.length; w++) wChannel[w] = w % Cout;
  return {
    inShape: inShape.slice(),
    outShape: [OH, OW, Cout],
    W: Float64Array.from(kernel.data),
    b: biasData(bias, Cout),
    wChannel,
    conns,
    biasOf,
  };
}

/** Conv1D as a Conv2D over [1, T, C] with a [1, k, cin, cout] kernel (same flat layouts). */
function conv1dMap(
  inShape: number[],
  kernel: Arr,
  bias: Arr | undefined,
  strides: number[],
  padding: Padding,
  dilation: number[],
): LinearMap {
  const m = conv2dMap(
    [1, inShape[0], inShape[1]],
    { shape: [1, ...kernel.shape], data: kernel.data },
    bias,
    [1, strides[0]],
    padding,
    [1, dilation[0]],
  );
  return { ...m, inShape: inShape.slice(), outShape: m.outShape.slice(1) };
}

/** DepthwiseConv2D: output channel ci*mult + m sees input channel ci only. */
function depthwiseMap(
  inShape: number[],
  kernel: Arr,
  bias: Arr | undefined,
  strides: number[],
  padding: Padding,
  dilation: number[],
): LinearMap {
  const [H, Wd, Cin] = inShape;
  const [KH, KW, kCin, M] = kernel.shape;
  if (kCin !== Cin) throw new Error('reference: depthwise input channels mismatch');
  const Cout = Cin * M;
  const gh = convGeometry(H, KH, strides[0], dilation[0], padding);
  const gw = convGeometry(Wd, KW, strides[1], dilation[1], padding);
  const OH = gh.out;
  const OW = gw.out;
  const conns: Conn[][] = [];
  const biasOf = new Int32Array(OH * OW * Cout);
  for (let oh = 0; oh < OH; oh++) {
    for (let ow = 0; ow < OW; ow++) {
      for (let ci = 0; ci < Cin; ci++) {
        for (let m = 0; m < M; m++) {
          const co = ci * M + m;
          const list: Conn[] = [];
          for (let th = 0; th < KH; th++) {
            const ih = oh * strides[0] + th * dilation[0] - gh.before;
            if (ih < 0 || ih >= H) continue;
            for (let tw = 0; tw < KW; tw++) {
              const iw = ow * strides[1] + tw * dilation[1] - gw.before;
              if (iw < 0 || iw >= Wd) continue;
              list.push({ i: (ih * Wd + iw) * Cin + ci, w: ((th * KW + tw) * Cin + ci) * M + m });
            }
          }
          conns.push(list);
          biasOf[(oh * OW + ow) * Cout + co] = co;
        }
      }
    }
  }
  const wChannel = new Int32Array(kernel.data.length);
  for (let w = 0; w < wChannel.length; w++) wChannel[w] = w % Cout; // [.., cin, mult] -> ci*M+m
  return {
    inShape: inShape.slice(),
    outShape: [OH, OW, Cout],
    W: Float64Array.from(kernel.data),
    b: biasData(bias, Cout),
    wChannel,
    conns,
    biasOf,
  };
}

/**
 * Conv2DTranspose, built by scatter loops: input (ih, iw, ci) adds x * K[th,tw,co,ci] to
 * output (ih*sh + th - padTop, iw*sw + tw - padLeft, co). Output size as tfjs deconvLength:
 * 'same' in*s, 'valid' in*s + max(k - s, 0). The padding is that of the forward conv mapping
 * the output size back to the input size (TF: conv2d_backprop_input).
 */
function conv2dTransposeMap(
  inShape: number[],
  kernel: Arr,
  bias: Arr | undefined,
  strides: number[],
  padding: Padding,
): LinearMap {
  const [H, Wd, Cin] = inShape;
  const [KH, KW, Cout, kCin] = kernel.shape;
  if (kCin !== Cin) throw new Error('reference: conv2dTranspose input channels mismatch');
  const [sh, sw] = strides;
  const OH = padding === 'same' ? H * sh : H * sh + Math.max(KH - sh, 0);
  const OW = padding === 'same' ? Wd * sw : Wd * sw + Math.max(KW - sw, 0);
  const gh = convGeometry(OH, KH, sh, 1, padding);
  const gw = convGeometry(OW, KW, sw, 1, padding);
  if (gh.out !== H || gw.out !== Wd) throw new Error('reference: conv2dTranspose geometry');
  const conns: Conn[][] = [];
  for (let j = 0; j < OH * OW * Cout; j++) conns.push([]);
  const biasOf = new Int32Array(OH * OW * Cout);
  for (let j = 0; j < biasOf.length; j++) biasOf[j] = j % Cout;
  for (let ih = 0; ih < H; ih++) {
    for (let iw = 0; iw < Wd; iw++) {
      for (let ci = 0; ci < Cin; ci++) {
        for (let th = 0; th < KH; th++) {
          const oh = ih * sh + th - gh.before;
          if (oh < 0 || oh >= OH) continue;
          for (let tw = 0; tw < KW; tw++) {
            const ow = iw * sw + tw - gw.before;
            if (ow < 0 || ow >= OW) continue;
            for (let co = 0; co < Cout; co++) {
              conns[(oh * OW + ow) * Cout + co].push({
                i: (ih * Wd + iw) * Cin + ci,
                w: ((th * KW + tw) * Cout + co) * Cin + ci,
              });
            }
          }
        }
      }
    }
  }
  const wChannel = new Int32Array(kernel.data.length);
  for (let w = 0; w < wChannel.length; w++) wChannel[w] = Math.floor(w / Cin) % Cout;
  return {
    inShape: inShape.slice(),
    outShape: [OH, OW, Cout],
    W: Float64Array.from(kernel.data),
    b: biasData(bias, Cout),
    wChannel,
    conns,
    biasOf,
  };
}

const mapCache = new WeakMap<RefNode, Map<string, LinearMap[]>>();

/** The linear map(s) of a linear node for a per-sample input shape (separable: [dw, pw]). */
function linearMaps(node: RefNode, inShape: number[]): LinearMap[] {
  let perNode = mapCache.get(node);
  if (perNode === undefined) {
    perNode = new Map();
    mapCache.set(node, perNode);
  }
  const key = inShape.join(',');
  const hit = perNode.get(key);
  if (hit !== undefined) return hit;
  const op = node.op;
  let maps: LinearMap[];
  switch (op.type) {
    case 'dense':
      maps = [denseMap(inShape, op.kernel, op.bias)];
      break;
    case 'conv1d':
      maps = [conv1dMap(inShape, op.kernel, op.bias, op.strides, op.padding, op.dilation)];
      break;
    case 'conv2d':
      maps = [conv2dMap(inShape, op.kernel, op.bias, op.strides, op.padding, op.dilation)];
      break;
    case 'depthwiseConv2d':
      maps = [depthwiseMap(inShape, op.kernel, op.bias, op.strides, op.padding, op.dilation)];
      break;
    case 'conv2dTranspose':
      maps = [conv2dTransposeMap(inShape, op.kernel, op.bias, op.strides, op.padding)];
      break;
    case 'separableConv2d': {
      const dw = depthwiseMap(inShape, op.depthwise, undefined, op.strides, op.padding, op.dilation ?? [1, 1]);
      const [, , cm, cout] = op.pointwise.shape;
      const pwKernel: Arr = { shape: [cm, cout], data: op.pointwise.data }; // 1x1 conv == dense per position
      maps = [dw, denseMap(dw.outShape, pwKernel, op.bias)];
      break;
    }
    default:
      throw new Error(`reference: '${node.name}' is not a linear node`);
  }
  perNode.set(key, maps);
  return maps;
}

/** z[n, j] = b_j + Σ_{(i,w)} x[n, i] W_w for the whole batch. */
export function linearForward(lm: LinearMap, x: Arr): Arr {
  const N = x.shape[0];
  const nIn = numel(lm.inShape);
  const nOut = numel(lm.outShape);
  if (numel(x.shape.slice(1)) !== nIn) throw new Error('reference: linear input size mismatch');
  const out = makeArr([N, ...lm.outShape]);
  for (let n = 0; n < N; n++) {
    for (let j = 0; j < nOut; j++) {
      let z = lm.b[lm.biasOf[j]];
      for (const c of lm.conns[j]) z += x.data[n * nIn + c.i] * lm.W[c.w];
      out.data[n * nOut + j] = z;
    }
  }
  return out;
}

/** §4: W' = W * scale (per output channel), b' = (b - mean) * scale + beta. */
function mergeBatchNorm(lm: LinearMap, bn: Extract<RefOp, { type: 'batchNorm' }>): LinearMap {
  const C = lm.b.length;
  if (bn.mean.data.length !== C) throw new Error('reference: BatchNorm size mismatch');
  const scale = new Float64Array(C);
  const b = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const g = bn.gamma === undefined ? 1 : bn.gamma.data[c];
    const beta = bn.beta === undefined ? 0 : bn.beta.data[c];
    scale[c] = g / Math.sqrt(bn.variance.data[c] + bn.epsilon);
    b[c] = (lm.b[c] - bn.mean.data[c]) * scale[c] + beta;
  }
  const W = new Float64Array(lm.W.length);
  for (let w = 0; w < W.length; w++) W[w] = lm.W[w] * scale[lm.wChannel[w]];
  return { ...lm, W, b };
}

// ------------------------------------------------------------------------------------------
// The rules of §1, one explicit formula each (per sample, per output unit j)
// ------------------------------------------------------------------------------------------

/**
 * Lower relevance of one linear map for one rule. x: [N, ...inShape], R: [N, ...outShape].
 * Returns [N, ...inShape].
 */
export function applyRule(rule: RefRule, lm: LinearMap, x: Arr, R: Arr): Arr {
  const N = x.shape[0];
  const nIn = numel(lm.inShape);
  const nOut = numel(lm.outShape);
  const out = zerosLike(x);
  const W = lm.W;
  const bOf = (j: number): number => lm.b[lm.biasOf[j]];
  let low: Float64Array | undefined;
  let high: Float64Array | undefined;
  if (rule.name === 'zBox') {
    low = broadcastTo(rule.low, x.shape);
    high = broadcastTo(rule.high, x.shape);
  }
  for (let n = 0; n < N; n++) {
    const xo = n * nIn;
    const ro = n * nOut;
    for (let j = 0; j < nOut; j++) {
      const Rj = R.data[ro + j];
      const conns = lm.conns[j];
      const bj = bOf(j);
      switch (rule.name) {
        case 'epsilon': {
          // R_i = x_i W_ij R_j / stab_eps(z_j),  z_j = Σ_i x_i W_ij + b_j  (bias included)
          let z = bj;
          for (const c of conns) z += x.data[xo + c.i] * W[c.w];
          const g = Rj / stab(z, rule.epsilon);
          for (const c of conns) out.data[xo + c.i] += x.data[xo + c.i] * W[c.w] * g;
          break;
        }
        case 'zPlus': {
          // z⁺_ij = x⁺_i W⁺_ij + x⁻_i W⁻_ij ; R_i = z⁺_ij / stab(Σ_i z⁺_ij + b⁺_j) R_j
          const eps = rule.stabilizer ?? 1e-6;
          let d = pos(bj);
          for (const c of conns) {
            const xi = x.data[xo + c.i];
            d += pos(xi) * pos(W[c.w]) + neg(xi) * neg(W[c.w]);
          }
          const g = Rj / stab(d, eps);
          for (const c of conns) {
            const xi = x.data[xo + c.i];
            out.data[xo + c.i] += (pos(xi) * pos(W[c.w]) + neg(xi) * neg(W[c.w])) * g;
          }
          break;
        }
        case 'alphaBeta': {
          const { alpha, beta } = rule;
          if (!(alpha >= 0 && beta >= 0 && alpha - beta === 1)) {
            throw new Error(`reference: AlphaBeta needs alpha, beta >= 0 and alpha - beta = 1 (got ${alpha}, ${beta})`);
          }
          const eps = rule.stabilizer ?? 1e-6;
          // positive part: x⁺W⁺ + x⁻W⁻ (+ b⁺); negative part: x⁺W⁻ + x⁻W⁺ (+ b⁻)
          let dPos = pos(bj);
          let dNeg = neg(bj);
          for (const c of conns) {
            const xi = x.data[xo + c.i];
            dPos += pos(xi) * pos(W[c.w]) + neg(xi) * neg(W[c.w]);
            dNeg += pos(xi) * neg(W[c.w]) + neg(xi) * pos(W[c.w]);
          }
          const gPos = Rj / stab(dPos, eps);
          const gNeg = Rj / stab(dNeg, eps);
          for (const c of conns) {
            const xi = x.data[xo + c.i];
            const zp = pos(xi) * pos(W[c.w]) + neg(xi) * neg(W[c.w]);
            const zn = pos(xi) * neg(W[c.w]) + neg(xi) * pos(W[c.w]);
            out.data[xo + c.i] += alpha * zp * gPos - beta * zn * gNeg;
          }
          break;
        }
        case 'gamma': {
          const gm = rule.gamma;
          const eps = rule.stabilizer ?? 1e-6;
          // the sign of the unmodified z_j selects the branch; z_j == 0 passes nothing
          let z = bj;
          for (const c of conns) z += x.data[xo + c.i] * W[c.w];
          const maskPos = z > 0 ? 1 : 0;
          const maskNeg = z < 0 ? 1 : 0;
          // o1 + o2 = Σ x⁺(W+γW⁺) + x⁻(W+γW⁻) + (b + γb⁺);  o3 + o4 = Σ x⁺(W+γW⁻) + x⁻(W+γW⁺) + (b + γb⁻)
          let dPos = bj + gm * pos(bj);
          let dNeg = bj + gm * neg(bj);
          for (const c of conns) {
            const xi = x.data[xo + c.i];
            const w = W[c.w];
            dPos += pos(xi) * (w + gm * pos(w)) + neg(xi) * (w + gm * neg(w));
            dNeg += pos(xi) * (w + gm * neg(w)) + neg(xi) * (w + gm * pos(w));
          }
          const gPos = maskPos * (Rj / stab(dPos, eps)); // mask multiplies after the division
          const gNeg = maskNeg * (Rj / stab(dNeg, eps));
          for (const c of conns) {
            const xi = x.data[xo + c.i];
            const w = W[c.w];
            out.data[xo + c.i] +=
              (pos(xi) * (w + gm * pos(w)) + neg(xi) * (w + gm * neg(w))) * gPos +
              (pos(xi) * (w + gm * neg(w)) + neg(xi) * (w + gm * pos(w))) * gNeg;
          }
          break;
        }
        case 'flat': {
          // ones input, ones weights, no bias: n_j = |RF(j)| (real positions only); R_i = Σ_j R_j / stab(n_j)
          const eps = rule.stabilizer ?? 1e-6;
          let nj = 0;
          for (let k = 0; k < conns.length; k++) nj += 1 * 1;
          const g = Rj / stab(nj, eps);
          for (const c of conns) out.data[xo + c.i] += 1 * g;
          break;
        }
        case 'wSquare': {
          // ones input, squared weights AND squared bias in the denominator; reducer = gradient
          const eps = rule.stabilizer ?? 1e-6;
          let d = bj * bj;
          for (const c of conns) d += W[c.w] * W[c.w];
          const g = Rj / stab(d, eps);
          for (const c of conns) out.data[xo + c.i] += W[c.w] * W[c.w] * g;
          break;
        }
        case 'zBox': {
          const eps = rule.stabilizer ?? 1e-6;
          if (low === undefined || high === undefined) throw new Error('unreachable');
          // o1 = x W + b, o2 = l W⁺ + b⁺, o3 = h W⁻ + b⁻; g = R / stab(o1 - o2 - o3)
          let o1 = bj;
          let o2 = pos(bj);
          let o3 = neg(bj);
          for (const c of conns) {
            o1 += x.data[xo + c.i] * W[c.w];
            o2 += low[xo + c.i] * pos(W[c.w]);
            o3 += high[xo + c.i] * neg(W[c.w]);
          }
          const g = Rj / stab(o1 - o2 - o3, eps);
          for (const c of conns) {
            const num = x.data[xo + c.i] * W[c.w] - low[xo + c.i] * pos(W[c.w]) - high[xo + c.i] * neg(W[c.w]);
            out.data[xo + c.i] += num * g;
          }
          break;
        }
        default: {
          const never: never = rule;
          throw new Error(`reference: unknown rule ${JSON.stringify(never)}`);
        }
      }
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------------
// Non-linear / non-parametric layers
// ------------------------------------------------------------------------------------------

const SELU_ALPHA = 1.6732632423543772;
const SELU_SCALE = 1.0507009873554805;

function sigmoid(v: number): number {
  return 1 / (1 + Math.exp(-v));
}
function softplus(v: number): number {
  return v > 0 ? v + Math.log1p(Math.exp(-v)) : Math.log1p(Math.exp(v));
}

export function activate(name: string, x: Arr, p: { alpha?: number; maxValue?: number; axis?: number }): Arr {
  if (name === 'softmax') return softmax(x, p.axis ?? -1);
  const f = ((): ((v: number) => number) => {
    switch (name) {
      case 'linear':
        return (v) => v;
      case 'relu': {
        const mv = p.maxValue;
        return mv === undefined ? (v) => Math.max(v, 0) : (v) => Math.min(Math.max(v, 0), mv);
      }
      case 'relu6':
        return (v) => Math.min(Math.max(v, 0), 6);
      case 'leakyRelu': {
        const a = p.alpha ?? 0.3;
        return (v) => (v >= 0 ? v : a * v);
      }
      case 'elu': {
        const a = p.alpha ?? 1;
        return (v) => (v > 0 ? v : a * (Math.exp(v) - 1));
      }
      case 'selu':
        return (v) => SELU_SCALE * (v > 0 ? v : SELU_ALPHA * (Math.exp(v) - 1));
      case 'sigmoid':
        return sigmoid;
      case 'hardSigmoid':
        return (v) => Math.min(Math.max(0.2 * v + 0.5, 0), 1);
      case 'softplus':
        return softplus;
      case 'softsign':
        return (v) => v / (1 + Math.abs(v));
      case 'tanh':
        return Math.tanh;
      case 'swish':
        return (v) => v * sigmoid(v);
      case 'mish':
        return (v) => v * Math.tanh(softplus(v));
      default:
        throw new Error(`reference: unsupported activation '${name}'`);
    }
  })();
  const out = zerosLike(x);
  for (let k = 0; k < x.data.length; k++) out.data[k] = f(x.data[k]);
  return out;
}

function softmax(x: Arr, axisIn: number): Arr {
  const r = x.shape.length;
  const axis = axisIn < 0 ? r + axisIn : axisIn;
  const outer = numel(x.shape.slice(0, axis));
  const len = x.shape[axis];
  const inner = numel(x.shape.slice(axis + 1));
  const out = zerosLike(x);
  for (let o = 0; o < outer; o++) {
    for (let q = 0; q < inner; q++) {
      let mx = -Infinity;
      for (let a = 0; a < len; a++) mx = Math.max(mx, x.data[(o * len + a) * inner + q]);
      let s = 0;
      for (let a = 0; a < len; a++) s += Math.exp(x.data[(o * len + a) * inner + q] - mx);
      for (let a = 0; a < len; a++) {
        const k = (o * len + a) * inner + q;
        out.data[k] = Math.exp(x.data[k] - mx) / s;
      }
    }
  }
  return out;
}

function batchNormForward(op: Extract<RefOp, { type: 'batchNorm' }>, x: Arr): Arr {
  const C = x.shape[x.shape.length - 1];
  const out = zerosLike(x);
  for (let k = 0; k < x.data.length; k++) {
    const c = k % C;
    const g = op.gamma === undefined ? 1 : op.gamma.data[c];
    const b = op.beta === undefined ? 0 : op.beta.data[c];
    out.data[k] = ((x.data[k] - op.mean.data[c]) / Math.sqrt(op.variance.data[c] + op.epsilon)) * g + b;
  }
  return out;
}

/** Pooling windows (per sample): for each output element, its real input elements in row-major window order. */
interface Windows {
  outShape: number[];
  windows: number[][];
}

function poolWindows(op: Extract<RefOp, { type: 'maxPool' | 'avgPool' | 'globalMaxPool' | 'globalAvgPool' }>, inShape: number[]): Windows {
  // 1-D pooling is 2-D pooling over [1, T, C]
  const shape2 = op.dims === 1 ? [1, inShape[0], inShape[1]] : inShape;
  const [H, Wd, C] = shape2;
  if (!('pool' in op)) {
    // global pooling: one window per channel, all positions in row-major order
    const windows: number[][] = [];
    for (let c = 0; c < C; c++) {
      const list: number[] = [];
      for (let h = 0; h < H; h++) for (let w = 0; w < Wd; w++) list.push((h * Wd + w) * C + c);
      windows.push(list);
    }
    return { outShape: [C], windows };
  }
  const pool = op.dims === 1 ? [1, op.pool[0]] : op.pool;
  const strides = op.dims === 1 ? [1, op.strides[0]] : op.strides;
  const gh = convGeometry(H, pool[0], strides[0], 1, op.padding);
  const gw = convGeometry(Wd, pool[1], strides[1], 1, op.padding);
  const windows: number[][] = [];
  for (let oh = 0; oh < gh.out; oh++) {
    for (let ow = 0; ow < gw.out; ow++) {
      for (let c = 0; c < C; c++) {
        const list: number[] = [];
        for (let th = 0; th < pool[0]; th++) {
          const ih = oh * strides[0] + th - gh.before;
          if (ih < 0 || ih >= H) continue;
          for (let tw = 0; tw < pool[1]; tw++) {
            const iw = ow * strides[1] + tw - gw.before;
            if (iw < 0 || iw >= Wd) continue;
            list.push((ih * Wd + iw) * C + c);
          }
        }
        windows.push(list);
      }
    }
  }
  const outShape = op.dims === 1 ? [gw.out, C] : [gh.out, gw.out, C];
  return { outShape, windows };
}

/** Index map (per sample) for value-moving layers: out[j] = in_{srcInput[j]}[src[j]] (src -1: zero). */
interface IndexMap {
  outShape: number[];
  src: Int32Array;
  srcInput: Int32Array;
}

function unravel(flat: number, shape: number[]): number[] {
  const idx = new Array<number>(shape.length);
  let rem = flat;
  for (let k = shape.length - 1; k >= 0; k--) {
    idx[k] = rem % shape[k];
    rem = Math.floor(rem / shape[k]);
  }
  return idx;
}

function ravel(idx: number[], shape: number[]): number {
  let f = 0;
  for (let k = 0; k < shape.length; k++) f = f * shape[k] + idx[k];
  return f;
}

function indexMap(op: RefOp, inShapes: number[][]): IndexMap {
  const s0 = inShapes[0];
  const identity = (outShape: number[]): IndexMap => {
    const n = numel(outShape);
    const src = new Int32Array(n);
    for (let j = 0; j < n; j++) src[j] = j;
    return { outShape, src, srcInput: new Int32Array(n) };
  };
  switch (op.type) {
    case 'identity':
      return identity(s0.slice());
    case 'flatten':
      return identity([numel(s0)]);
    case 'reshape': {
      const t = op.targetShape.slice();
      const known = t.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
      const free = t.indexOf(-1);
      if (free >= 0) t[free] = numel(s0) / known;
      if (numel(t) !== numel(s0)) throw new Error('reference: reshape size mismatch');
      return identity(t);
    }
    case 'permute': {
      const outShape = op.dims.map((d) => s0[d - 1]);
      const n = numel(outShape);
      const src = new Int32Array(n);
      for (let j = 0; j < n; j++) {
        const o = unravel(j, outShape);
        const inIdx = new Array<number>(s0.length);
        for (let k = 0; k < op.dims.length; k++) inIdx[op.dims[k] - 1] = o[k];
        src[j] = ravel(inIdx, s0);
      }
      return { outShape, src, srcInput: new Int32Array(n) };
    }
    case 'concatenate': {
      const rank = s0.length + 1; // incl. batch
      const axis = (op.axis < 0 ? rank + op.axis : op.axis) - 1; // per-sample axis
      if (axis < 0) throw new Error('reference: concatenate along the batch axis');
      const outShape = s0.slice();
      outShape[axis] = inShapes.reduce((a, s) => a + s[axis], 0);
      const n = numel(outShape);
      const src = new Int32Array(n);
      const srcInput = new Int32Array(n);
      for (let j = 0; j < n; j++) {
        const o = unravel(j, outShape);
        let a = o[axis];
        let k = 0;
        while (a >= inShapes[k][axis]) {
          a -= inShapes[k][axis];
          k++;
        }
        const inIdx = o.slice();
        inIdx[axis] = a;
        src[j] = ravel(inIdx, inShapes[k]);
        srcInput[j] = k;
      }
      return { outShape, src, srcInput };
    }
    case 'zeroPadding2d':
    case 'cropping2d': {
      const [H, Wd, C] = s0;
      const sgn = op.type === 'zeroPadding2d' ? 1 : -1;
      const [[t, b], [l, r]] = op.type === 'zeroPadding2d' ? op.padding : op.cropping;
      const OH = H + sgn * (t + b);
      const OW = Wd + sgn * (l + r);
      const outShape = [OH, OW, C];
      const n = numel(outShape);
      const src = new Int32Array(n);
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          const ih = oh - sgn * t;
          const iw = ow - sgn * l;
          for (let c = 0; c < C; c++) {
            const j = (oh * OW + ow) * C + c;
            src[j] = ih < 0 || ih >= H || iw < 0 || iw >= Wd ? -1 : (ih * Wd + iw) * C + c;
          }
        }
      }
      return { outShape, src, srcInput: new Int32Array(n) };
    }
    case 'upSampling2d': {
      const [H, Wd, C] = s0;
      const [sh, sw] = op.size;
      const outShape = [H * sh, Wd * sw, C];
      const n = numel(outShape);
      const src = new Int32Array(n);
      for (let oh = 0; oh < H * sh; oh++) {
        for (let ow = 0; ow < Wd * sw; ow++) {
          for (let c = 0; c < C; c++) {
            src[(oh * Wd * sw + ow) * C + c] = (Math.floor(oh / sh) * Wd + Math.floor(ow / sw)) * C + c;
          }
        }
      }
      return { outShape, src, srcInput: new Int32Array(n) };
    }
    case 'repeatVector': {
      const F = numel(s0);
      const outShape = [op.n, ...s0];
      const n = numel(outShape);
      const src = new Int32Array(n);
      for (let j = 0; j < n; j++) src[j] = j % F;
      return { outShape, src, srcInput: new Int32Array(n) };
    }
    default:
      throw new Error(`reference: no index map for '${op.type}'`);
  }
}

const MOVING_TYPES = new Set([
  'identity',
  'flatten',
  'reshape',
  'permute',
  'concatenate',
  'zeroPadding2d',
  'cropping2d',
  'upSampling2d',
  'repeatVector',
]);

// ------------------------------------------------------------------------------------------
// Forward
// ------------------------------------------------------------------------------------------

/**
 * Float64 forward pass. Returns every node's output under its name; for linear nodes also the
 * pre-activation under preKey(name); for separable convs the depthwise output under
 * depthwiseKey(name).
 */
export function forward64(graph: RefGraph, inputs: Arr[]): Map<string, Arr> {
  if (inputs.length !== graph.inputs.length) throw new Error('forward64: wrong number of inputs');
  const values = new Map<string, Arr>();
  for (const node of graph.nodes) {
    const op = node.op;
    const xs = node.inputs.map((nm) => get(values, nm));
    const x = xs[0];
    let y: Arr;
    if (op.type === 'input') {
      const k = graph.inputs.indexOf(node.name);
      if (k < 0) throw new Error(`forward64: input node '${node.name}' not in graph.inputs`);
      y = { shape: inputs[k].shape.slice(), data: Float64Array.from(inputs[k].data) };
    } else if (isLinearOp(op)) {
      const maps = linearMaps(node, x.shape.slice(1));
      let h = x;
      for (let k = 0; k < maps.length; k++) {
        h = linearForward(maps[k], h);
        if (k === 0 && maps.length === 2) values.set(depthwiseKey(node.name), h);
      }
      values.set(preKey(node.name), h);
      y = activate(op.activation, h, {});
    } else {
      switch (op.type) {
        case 'batchNorm':
          y = batchNormForward(op, x);
          break;
        case 'activation':
          y = activate(op.activation, x, op);
          break;
        case 'maxPool':
        case 'avgPool':
        case 'globalMaxPool':
        case 'globalAvgPool': {
          const { outShape, windows } = poolWindows(op, x.shape.slice(1));
          const N = x.shape[0];
          const nIn = numel(x.shape.slice(1));
          y = makeArr([N, ...outShape]);
          for (let n = 0; n < N; n++) {
            for (let j = 0; j < windows.length; j++) {
              const win = windows[j];
              let v: number;
              if (op.type === 'maxPool' || op.type === 'globalMaxPool') {
                v = -Infinity;
                for (const i of win) v = Math.max(v, x.data[n * nIn + i]);
              } else {
                v = 0;
                for (const i of win) v += x.data[n * nIn + i];
                v /= win.length;
              }
              y.data[n * windows.length + j] = v;
            }
          }
          break;
        }
        case 'add': {
          y = zerosLike(x);
          for (const a of xs) {
            if (a.data.length !== x.data.length) throw new Error('reference: add needs equal shapes');
            for (let k = 0; k < a.data.length; k++) y.data[k] += a.data[k];
          }
          break;
        }
        case 'average':
        case 'multiply': {
          y = { shape: x.shape.slice(), data: Float64Array.from(x.data) };
          for (const a of xs.slice(1)) {
            if (a.data.length !== x.data.length) throw new Error(`reference: ${op.type} needs equal shapes`);
            for (let k = 0; k < a.data.length; k++) y.data[k] = op.type === 'average' ? y.data[k] + a.data[k] : y.data[k] * a.data[k];
          }
          if (op.type === 'average') for (let k = 0; k < y.data.length; k++) y.data[k] /= xs.length;
          break;
        }
        case 'custom':
          y = op.impl.forward(xs);
          break;
        case 'embedding': {
          const [V, D] = op.embeddings.shape;
          y = makeArr([...x.shape, D]);
          for (let t = 0; t < x.data.length; t++) {
            const tok = Math.round(x.data[t]);
            if (tok < 0 || tok >= V) throw new Error(`reference: token ${tok} out of range`);
            for (let d = 0; d < D; d++) y.data[t * D + d] = op.embeddings.data[tok * D + d];
          }
          break;
        }
        default: {
          if (!MOVING_TYPES.has(op.type)) throw new Error(`reference: unsupported op '${op.type}'`);
          const im = indexMap(op, xs.map((a) => a.shape.slice(1)));
          const N = x.shape[0];
          const nOut = numel(im.outShape);
          y = makeArr([N, ...im.outShape]);
          for (let n = 0; n < N; n++) {
            for (let j = 0; j < nOut; j++) {
              if (im.src[j] < 0) continue;
              const a = xs[im.srcInput[j]];
              const nIn = numel(a.shape.slice(1));
              y.data[n * nOut + j] = a.data[n * nIn + im.src[j]];
            }
          }
        }
      }
    }
    values.set(node.name, y);
  }
  return values;
}

// ------------------------------------------------------------------------------------------
// LRP
// ------------------------------------------------------------------------------------------

const STRIPPED = new Set(['softmax', 'sigmoid']);

/**
 * Float64 LRP per LRP_RULES.md. classIdx[n] indexes the flattened (per-sample) output.
 * rules: RefRule per linear node name (separable: optional extra key pointwiseKey(name)).
 */
export function lrp64(
  graph: RefGraph,
  inputs: Arr[],
  classIdx: number[],
  rules: Record<string, RefRule>,
  opts: Lrp64Options = {},
): Lrp64Result {
  const normEps = opts.stabilizer ?? 1e-6;
  const values = forward64(graph, inputs);
  const byName = new Map(graph.nodes.map((n) => [n.name, n]));
  const node = (nm: string): RefNode => {
    const v = byName.get(nm);
    if (v === undefined) throw new Error(`reference: no node '${nm}'`);
    return v;
  };
  const consumers = new Map<string, string[]>();
  for (const n of graph.nodes) {
    for (const i of n.inputs) consumers.set(i, [...(consumers.get(i) ?? []), n.name]);
  }

  // §4 BatchNorm merging: BN whose only input is a linear node with activation 'linear' that
  // feeds nothing but this BN.
  const mergedBN = new Map<string, Extract<RefOp, { type: 'batchNorm' }>>(); // linear name -> BN op
  const mergedBatchNorms: string[] = [];
  for (const n of graph.nodes) {
    if (n.op.type !== 'batchNorm' || n.inputs.length !== 1) continue;
    const src = node(n.inputs[0]);
    const cons = consumers.get(src.name) ?? [];
    if (isLinearOp(src.op) && src.op.activation === 'linear' && cons.length === 1 && src.name !== graph.output) {
      mergedBN.set(src.name, n.op);
      mergedBatchNorms.push(n.name);
    }
  }

  // the score: pre-activation of a final softmax/sigmoid
  const outNode = node(graph.output);
  let scoreArr: Arr;
  if (outNode.op.type === 'activation' && STRIPPED.has(outNode.op.activation)) {
    scoreArr = get(values, outNode.inputs[0]);
  } else if (isLinearOp(outNode.op) && STRIPPED.has(outNode.op.activation)) {
    scoreArr = get(values, preKey(outNode.name));
  } else {
    scoreArr = get(values, outNode.name);
  }
  const N = scoreArr.shape[0];
  const nOut = numel(scoreArr.shape.slice(1));
  if (classIdx.length !== N) throw new Error('lrp64: classIdx needs one entry per sample');
  const R0 = zerosLike(scoreArr);
  const score: number[] = [];
  const outputSum: number[] = [];
  for (let n = 0; n < N; n++) {
    const c = classIdx[n];
    if (!(c >= 0 && c < nOut)) throw new Error(`lrp64: class ${c} out of range`);
    const s = scoreArr.data[n * nOut + c];
    score.push(s);
    const r = opts.outputRelevance === 'one' ? 1 : s;
    R0.data[n * nOut + c] = r;
    outputSum.push(r);
  }

  const nodeRelevance = new Map<string, Arr>();
  const layerIn = new Map<string, Arr[]>();
  if (opts.start === undefined) nodeRelevance.set(graph.output, R0);
  else {
    const act = get(values, opts.start.node);
    const C = act.shape[act.shape.length - 1];
    const per = numel(act.shape.slice(1));
    const Rs = zerosLike(act);
    for (let k = 0; k < act.data.length; k++) if (k % C === opts.start.channel[Math.floor(k / per)]) Rs.data[k] = act.data[k];
    nodeRelevance.set(opts.start.node, Rs);
  }
  const accumulate = (nm: string, r: Arr): void => {
    const prev = nodeRelevance.get(nm);
    if (prev === undefined) {
      nodeRelevance.set(nm, { shape: r.shape.slice(), data: Float64Array.from(r.data) });
    } else {
      if (prev.data.length !== r.data.length) throw new Error(`reference: relevance shape mismatch at '${nm}'`);
      for (let k = 0; k < r.data.length; k++) prev.data[k] += r.data[k];
    }
  };
  const ruleFor = (key: string, fallback?: string): RefRule => {
    const r = rules[key] ?? (fallback === undefined ? undefined : rules[fallback]);
    if (r === undefined) throw new Error(`lrp64: no rule for linear node '${fallback ?? key}'`);
    return r;
  };

  for (let q = graph.nodes.length - 1; q >= 0; q--) {
    const n = graph.nodes[q];
    let R = nodeRelevance.get(n.name);
    if (R === undefined || n.op.type === 'input') continue;
    const kept = opts.conditions?.[n.name];
    if (kept !== undefined) {
      // §10: only the kept channels pass on; relevance in flight elsewhere (bypassing paths) is dropped
      for (let m = 0; m < q; m++) nodeRelevance.get(graph.nodes[m].name)?.data.fill(0);
      const C = R.shape[R.shape.length - 1];
      R = { shape: R.shape.slice(), data: R.data.map((v, k) => (kept.includes(k % C) ? v : 0)) };
    }
    const op = n.op;
    const xs = n.inputs.map((nm) => get(values, nm));
    const x = xs[0];
    let rin: Arr[];
    if (isLinearOp(op)) {
      // fused activation: Pass, so R at the pre-activation is R
      let maps = linearMaps(n, x.shape.slice(1));
      const bn = mergedBN.get(n.name);
      if (bn !== undefined) {
        const last = maps.length - 1;
        maps = maps.map((m, k) => (k === last ? mergeBatchNorm(m, bn) : m));
        // sanity: the merged layer reproduces the BN output
        let h = x;
        for (const m of maps) h = linearForward(m, h);
        const bnOut = get(values, (consumers.get(n.name) ?? [])[0]);
        for (let k = 0; k < h.data.length; k++) {
          if (Math.abs(h.data[k] - bnOut.data[k]) > 1e-9 * (1 + Math.abs(bnOut.data[k]))) {
            throw new Error(`reference: merged BatchNorm of '${n.name}' does not reproduce the BN output`);
          }
        }
      }
      if (maps.length === 1) {
        rin = [applyRule(ruleFor(n.name), maps[0], x, R)];
      } else {
        const mid = get(values, depthwiseKey(n.name));
        const rMid = applyRule(ruleFor(pointwiseKey(n.name), n.name), maps[1], mid, R);
        rin = [applyRule(ruleFor(n.name), maps[0], x, rMid)];
      }
    } else {
      switch (op.type) {
        case 'batchNorm':
        case 'activation':
          rin = [{ shape: R.shape.slice(), data: Float64Array.from(R.data) }]; // Pass
          break;
        case 'maxPool':
        case 'globalMaxPool': {
          // plain gradient: all of R_j to the first maximum in row-major window order
          const { windows } = poolWindows(op, x.shape.slice(1));
          const nIn = numel(x.shape.slice(1));
          const r = zerosLike(x);
          for (let s = 0; s < N; s++) {
            for (let j = 0; j < windows.length; j++) {
              let best = -1;
              let bestV = -Infinity;
              for (const i of windows[j]) {
                if (best < 0 || x.data[s * nIn + i] > bestV) {
                  best = i;
                  bestV = x.data[s * nIn + i];
                }
              }
              if (best >= 0) r.data[s * nIn + best] += R.data[s * windows.length + j];
            }
          }
          rin = [r];
          break;
        }
        case 'avgPool':
        case 'globalAvgPool': {
          // Norm: R_i = x_i * Σ_{j ∋ i} (1/k_j) R_j / stab(mean_j), k_j = real window size
          const { windows } = poolWindows(op, x.shape.slice(1));
          const nIn = numel(x.shape.slice(1));
          const r = zerosLike(x);
          for (let s = 0; s < N; s++) {
            for (let j = 0; j < windows.length; j++) {
              const win = windows[j];
              let mean = 0;
              for (const i of win) mean += x.data[s * nIn + i];
              mean /= win.length;
              const g = R.data[s * windows.length + j] / stab(mean, normEps);
              for (const i of win) r.data[s * nIn + i] += x.data[s * nIn + i] * (1 / win.length) * g;
            }
          }
          rin = [r];
          break;
        }
        case 'add': {
          // Norm: R_k = in_k * R / stab(Σ_k in_k)
          rin = xs.map(zerosLike);
          for (let k = 0; k < R.data.length; k++) {
            let sum = 0;
            for (const a of xs) sum += a.data[k];
            const g = R.data[k] / stab(sum, normEps);
            for (let m = 0; m < xs.length; m++) rin[m].data[k] = xs[m].data[k] * g;
          }
          break;
        }
        case 'average': {
          // Norm (§9): R_k = (in_k / n) * R / stab(mean)
          rin = xs.map(zerosLike);
          for (let k = 0; k < R.data.length; k++) {
            let mean = 0;
            for (const a of xs) mean += a.data[k];
            mean /= xs.length;
            const g = R.data[k] / stab(mean, normEps);
            for (let m = 0; m < xs.length; m++) rin[m].data[k] = (xs[m].data[k] / xs.length) * g;
          }
          break;
        }
        case 'multiply':
          // uniform (§9, AttnLRP): each of the n inputs gets R / n
          rin = xs.map((a) => ({ shape: a.shape.slice(), data: R.data.map((r) => r / xs.length) }));
          break;
        case 'custom':
          rin = op.impl.lrp(xs, get(values, n.name), R, { rule: rules[n.name], stabilizer: normEps });
          break;
        case 'embedding': {
          // relevance of a token = sum over its embedding vector
          const D = op.embeddings.shape[1];
          const r = zerosLike(x);
          for (let t = 0; t < x.data.length; t++) {
            for (let d = 0; d < D; d++) r.data[t] += R.data[t * D + d];
          }
          rin = [r];
          break;
        }
        default: {
          if (!MOVING_TYPES.has(op.type)) throw new Error(`reference: no LRP for op '${op.type}'`);
          // gradient of a value-moving layer: relevance moves back with the values (copies summed)
          const im = indexMap(op, xs.map((a) => a.shape.slice(1)));
          const nO = numel(im.outShape);
          rin = xs.map(zerosLike);
          for (let s = 0; s < N; s++) {
            for (let j = 0; j < nO; j++) {
              if (im.src[j] < 0) continue;
              const k = im.srcInput[j];
              const nIn = numel(xs[k].shape.slice(1));
              rin[k].data[s * nIn + im.src[j]] += R.data[s * nO + j];
            }
          }
        }
      }
    }
    layerIn.set(n.name, rin);
    for (let k = 0; k < n.inputs.length; k++) accumulate(n.inputs[k], rin[k]);
  }

  const relevance = graph.inputs.map((nm) => nodeRelevance.get(nm) ?? zerosLike(get(values, nm)));
  const inputSum: number[] = [];
  for (let s = 0; s < N; s++) {
    let t = 0;
    for (const r of relevance) {
      const per = numel(r.shape.slice(1));
      for (let k = 0; k < per; k++) t += r.data[s * per + k];
    }
    inputSum.push(t);
  }
  return { relevance, score, outputSum, inputSum, nodeRelevance, layerIn, values, mergedBatchNorms };
}

// ------------------------------------------------------------------------------------------
// Composites (§3)
// ------------------------------------------------------------------------------------------

export interface RefRuleSpec {
  rule?: 'epsilon' | 'zero' | 'zPlus' | 'alphaBeta' | 'gamma';
  epsilon?: number;
  alpha?: number;
  beta?: number;
  gamma?: number;
  /** stabilizer of the zPlus/alphaBeta/gamma/flat/wSquare/zBox rules (default 1e-6) */
  stabilizer?: number;
  composite?: 'epsilonPlus' | 'epsilonPlusFlat' | 'epsilonGammaBox' | 'epsilonAlpha2Beta1' | 'epsilonAlpha2Beta1Flat';
  firstLayer?: 'flat' | 'wSquare' | 'zBox';
  low?: number | Arr;
  high?: number | Arr;
}

/**
 * Rule per linear node, as the table of LRP_RULES.md §3. A separable conv that gets a
 * first-layer rule gets it for its depthwise part (key = node name) and the Conv rule for its
 * pointwise part (key pointwiseKey(name)).
 */
export function refRules(graph: RefGraph, spec: RefRuleSpec): Record<string, RefRule> {
  if (spec.rule !== undefined && spec.composite !== undefined) {
    throw new Error('refRules: give either rule or composite');
  }
  const st = spec.stabilizer;
  const withStab = <T extends RefRule>(r: T): T => (st === undefined || r.name === 'epsilon' ? r : { ...r, stabilizer: st });
  const eps = spec.epsilon ?? 1e-6;
  const epsilonRule: RefRule = { name: 'epsilon', epsilon: eps };
  const zBoxRule = (): RefRule => {
    if (spec.low === undefined || spec.high === undefined) throw new Error('refRules: zBox needs low and high');
    return withStab({ name: 'zBox', low: spec.low, high: spec.high });
  };
  const firstRule = (kind: 'flat' | 'wSquare' | 'zBox'): RefRule =>
    kind === 'zBox' ? zBoxRule() : withStab({ name: kind });

  let convRule: RefRule;
  let denseRule: RefRule;
  let first: { rule: RefRule; convOnly: boolean } | undefined;
  if (spec.composite !== undefined) {
    denseRule = epsilonRule;
    switch (spec.composite) {
      case 'epsilonPlus':
        convRule = withStab({ name: 'zPlus' });
        break;
      case 'epsilonPlusFlat':
        convRule = withStab({ name: 'zPlus' });
        first = { rule: withStab({ name: 'flat' }), convOnly: false };
        break;
      case 'epsilonGammaBox':
        convRule = withStab({ name: 'gamma', gamma: spec.gamma ?? 0.25 });
        first = { rule: zBoxRule(), convOnly: true };
        break;
      case 'epsilonAlpha2Beta1':
        convRule = withStab({ name: 'alphaBeta', alpha: 2, beta: 1 });
        break;
      case 'epsilonAlpha2Beta1Flat':
        convRule = withStab({ name: 'alphaBeta', alpha: 2, beta: 1 });
        first = { rule: withStab({ name: 'flat' }), convOnly: false };
        break;
      default: {
        const never: never = spec.composite;
        throw new Error(`refRules: unknown composite ${String(never)}`);
      }
    }
  } else {
    const rule = spec.rule ?? 'epsilon';
    switch (rule) {
      case 'epsilon':
        convRule = epsilonRule;
        break;
      case 'zero':
        convRule = { name: 'epsilon', epsilon: 0 };
        break;
      case 'zPlus':
        convRule = withStab({ name: 'zPlus' });
        break;
      case 'alphaBeta':
        convRule = withStab({ name: 'alphaBeta', alpha: spec.alpha ?? 2, beta: spec.beta ?? 1 });
        break;
      case 'gamma':
        convRule = withStab({ name: 'gamma', gamma: spec.gamma ?? 0.25 });
        break;
      default: {
        const never: never = rule;
        throw new Error(`refRules: unknown rule ${String(never)}`);
      }
    }
    denseRule = convRule;
  }
  // an explicit firstLayer option overrides a composite's own first-layer rule
  if (spec.firstLayer !== undefined) first = { rule: firstRule(spec.firstLayer), convOnly: false };

  const out: Record<string, RefRule> = {};
  let firstName: string | undefined;
  for (const n of graph.nodes) {
    const customGroup = n.op.type === 'custom' ? n.op.impl.linearGroup : undefined;
    if (!isLinearOp(n.op) && customGroup === undefined) continue;
    const conv = isConvOp(n.op) || customGroup === 'conv';
    out[n.name] = conv ? convRule : denseRule;
    if (first !== undefined && firstName === undefined && (!first.convOnly || conv)) {
      firstName = n.name;
      out[n.name] = first.rule;
      if (n.op.type === 'separableConv2d') out[pointwiseKey(n.name)] = convRule;
    }
  }
  return out;
}
