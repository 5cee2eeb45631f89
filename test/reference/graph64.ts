/**
 * Float64 reference LRP for graph models (issue #18): reads the graph-model JSON (GraphDef nodes
 * with op, inputs and attributes) and its weights directly, without tf, and turns every op into
 * the float64 primitives of lrp64.ts (plain loops, written from LRP_RULES.md), so graph models are
 * checked op by op against the same formulas as layers models:
 *
 * - `Conv2D`, `_FusedConv2D` (fused BiasAdd and activation), `DepthwiseConv2dNative`,
 *   `FusedDepthwiseConv2dNative`, `MatMul` / `_FusedMatMul` (a `transpose_b` kernel is
 *   transposed; `transpose_a` is refused) -> the linear ops of lrp64 (the rules of §1 on the
 *   pre-activation; a fused activation is its own node, Pass).
 * - `BiasAdd`, and `Add`/`AddV2` of a constant, right after a linear op (or after shape-only ops
 *   `Squeeze`/`ExpandDims`/`Reshape` that keep the channel axis, as Keras' Conv1D emits them) whose
 *   output feeds nothing else: the bias of that linear op (so it sits in the rule's denominator,
 *   as the layer's own bias does). Elsewhere an affine constant op (`Mul`/`Add`/`AddV2`/`Sub`/
 *   `RealDiv` by a constant, e.g. a standalone BatchNorm as Mul + Add, Rescaling): Pass (§9).
 * - `FusedBatchNorm`/`FusedBatchNormV3` -> lrp64's batchNorm (merged into a preceding linear op
 *   by lrp64 itself, §4; otherwise Pass).
 * - `AddV2`/`Add`/`AddN` of tensors -> Norm (add); `Mul` of two tensors -> uniform (R/2 each,
 *   summed over broadcast copies).
 * - `Relu`, `Relu6`, `Elu`, `Selu`, `LeakyRelu`, `Sigmoid`, `Tanh`, `Softplus`, `Softsign`,
 *   `Softmax` -> activations (Pass; a final Softmax/Sigmoid is stripped by lrp64).
 * - `MaxPool` / `AvgPool` -> pooling (gradient / Norm), `Mean` / `Max` over the spatial axes
 *   (keep_dims false) -> global pooling, `Reshape`, `Squeeze`, `ExpandDims`, `Pad`, `ConcatV2`,
 *   `StridedSlice` (unit strides), `Identity` -> value-moving ops (gradient).
 *
 * The output is the input of the signature's `Identity` node (or a named node). Rules per linear
 * node (first-layer rules on the first linear op in topological order) come from lrp64's refRules.
 */
import { Arr, CustomRefOp, makeArr, numel, RefGraph, RefNode, RefOp, Padding } from './lrp64';

/** One GraphDef node (as in the graph-model JSON). */
interface GNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, Record<string, unknown>>;
}

/** The parts of tf.io.ModelArtifacts this reference reads (plain JSON and bytes). */
export interface GraphArtifacts {
  modelTopology?: unknown;
  weightSpecs?: Array<{ name: string; shape: number[]; dtype: string }>;
  weightData?: ArrayBuffer | ArrayBuffer[];
  userDefinedMetadata?: unknown;
}

const text = (s: unknown): string => (typeof s === 'string' ? atob(s) : '');

/** The constants of the graph by node name (float32/int32 weights decoded from the buffer). */
function decodeWeights(a: GraphArtifacts): Map<string, Arr> {
  const out = new Map<string, Arr>();
  const buffers = a.weightData === undefined ? [] : Array.isArray(a.weightData) ? a.weightData : [a.weightData];
  const total = buffers.reduce((s, b) => s + b.byteLength, 0);
  const all = new Uint8Array(total);
  let o = 0;
  for (const b of buffers) {
    all.set(new Uint8Array(b), o);
    o += b.byteLength;
  }
  let offset = 0;
  for (const spec of a.weightSpecs ?? []) {
    const n = numel(spec.shape);
    if (spec.dtype !== 'float32' && spec.dtype !== 'int32') throw new Error(`graph64: weight '${spec.name}' has dtype ${spec.dtype}`);
    const bytes = all.slice(offset, offset + 4 * n).buffer;
    const data = spec.dtype === 'float32' ? new Float32Array(bytes) : new Int32Array(bytes);
    out.set(spec.name, makeArr(spec.shape.slice(), data));
    offset += 4 * n;
  }
  return out;
}

const tensorName = (input: string): string => input.replace(/^\^/, '').replace(/:\d+$/, '');

function ints(node: GNode, key: string): number[] {
  const v = node.attr?.[key] as { list?: { i?: string[] } } | undefined;
  return (v?.list?.i ?? []).map(Number);
}
function strAttr(node: GNode, key: string): string {
  return text((node.attr?.[key] as { s?: string } | undefined)?.s);
}
function strList(node: GNode, key: string): string[] {
  const v = node.attr?.[key] as { list?: { s?: string[] } } | undefined;
  return (v?.list?.s ?? []).map(text);
}
function boolAttr(node: GNode, key: string): boolean {
  return (node.attr?.[key] as { b?: boolean } | undefined)?.b === true;
}
function floatAttr(node: GNode, key: string, dflt: number): number {
  const f = (node.attr?.[key] as { f?: number } | undefined)?.f;
  return typeof f === 'number' ? f : dflt;
}
function intAttr(node: GNode, key: string, dflt: number): number {
  const i = (node.attr?.[key] as { i?: string } | undefined)?.i;
  return i === undefined ? dflt : Number(i);
}

/** TF activation op -> lrp64 activation name. */
const ACTIVATIONS: Record<string, string> = {
  Relu: 'relu',
  Relu6: 'relu6',
  Elu: 'elu',
  Selu: 'selu',
  LeakyRelu: 'leakyRelu',
  Sigmoid: 'sigmoid',
  Tanh: 'tanh',
  Softplus: 'softplus',
  Softsign: 'softsign',
  Softmax: 'softmax',
};

const LINEAR_OPS = new Set(['Conv2D', '_FusedConv2D', 'DepthwiseConv2dNative', 'FusedDepthwiseConv2dNative', 'MatMul', '_FusedMatMul']);
const SHAPE_ONLY_OPS = new Set(['Squeeze', 'ExpandDims', 'Reshape', 'Identity']);

/**
 * A value-moving op written as an index map per sample (`src[j]`: the input element of output
 * element j, −1 for none): forward copies, LRP moves the relevance back (gradient).
 */
function movingOp(outShapeOf: (inShape: number[]) => number[], srcOf: (inShape: number[], outShape: number[]) => Int32Array): CustomRefOp {
  return {
    forward([x]) {
      const inShape = x.shape.slice(1);
      const outShape = outShapeOf(inShape);
      const src = srcOf(inShape, outShape);
      const N = x.shape[0];
      const nIn = numel(inShape);
      const nOut = numel(outShape);
      const y = makeArr([N, ...outShape]);
      for (let n = 0; n < N; n++) for (let j = 0; j < nOut; j++) if (src[j] >= 0) y.data[n * nOut + j] = x.data[n * nIn + src[j]];
      return y;
    },
    lrp([x], y, R) {
      const inShape = x.shape.slice(1);
      const outShape = y.shape.slice(1);
      const src = srcOf(inShape, outShape);
      const N = x.shape[0];
      const nIn = numel(inShape);
      const nOut = numel(outShape);
      const r = makeArr(x.shape.slice());
      for (let n = 0; n < N; n++) for (let j = 0; j < nOut; j++) if (src[j] >= 0) r.data[n * nIn + src[j]] += R.data[n * nOut + j];
      return [r];
    },
  };
}

const identitySrc = (_in: number[], out: number[]): Int32Array => Int32Array.from({ length: numel(out) }, (_, j) => j);

/** y = x ⊙ s + o with constants broadcast over the trailing axes: forward exact, relevance Pass (§9). */
function affineOp(kind: 'Mul' | 'Add' | 'Sub' | 'RealDiv', c: Arr, constFirst: boolean): CustomRefOp {
  return {
    forward([x]) {
      const y = makeArr(x.shape.slice());
      const per = numel(c.shape);
      for (let k = 0; k < x.data.length; k++) {
        const v = x.data[k];
        const w = c.data[per === 1 ? 0 : k % per];
        y.data[k] = kind === 'Mul' ? v * w : kind === 'Add' ? v + w : kind === 'Sub' ? (constFirst ? w - v : v - w) : constFirst ? w / v : v / w;
      }
      return y;
    },
    lrp(_xs, _y, R) {
      return [{ shape: R.shape.slice(), data: Float64Array.from(R.data) }];
    },
  };
}

/** For each element of `out` (full shapes incl. batch), the element of `inShape` broadcast (numpy, right-aligned) onto it. */
function broadcastSrc(out: number[], inShape: number[]): Int32Array {
  const shape = [...new Array<number>(out.length - inShape.length).fill(1), ...inShape];
  const src = new Int32Array(numel(out));
  for (let j = 0; j < src.length; j++) {
    let rem = j;
    let flat = 0;
    let mul = 1;
    for (let k = out.length - 1; k >= 0; k--) {
      const o = rem % out[k];
      rem = Math.floor(rem / out[k]);
      if (shape[k] !== 1) flat += o * mul;
      mul *= shape[k];
    }
    src[j] = flat;
  }
  return src;
}

/**
 * `Mul` of two tensors (broadcasting, as the converter emits Keras' Multiply of a feature map and
 * a [N, 1, 1, C] gate): the uniform rule (§9): each factor gets R/2, summed over the positions a
 * broadcast factor was copied to.
 */
const broadcastMultiply: CustomRefOp = {
  forward(xs) {
    const rank = Math.max(...xs.map((x) => x.shape.length));
    const out = new Array<number>(rank).fill(1);
    for (const x of xs) x.shape.forEach((d, k) => (out[k + rank - x.shape.length] = Math.max(out[k + rank - x.shape.length], d)));
    const y = makeArr(out);
    y.data.fill(1);
    for (const x of xs) {
      const src = broadcastSrc(out, x.shape);
      for (let j = 0; j < src.length; j++) y.data[j] *= x.data[src[j]];
    }
    return y;
  },
  lrp(xs, y, R) {
    return xs.map((x) => {
      const src = broadcastSrc(y.shape, x.shape);
      const r = makeArr(x.shape.slice());
      for (let j = 0; j < src.length; j++) r.data[src[j]] += R.data[j] / xs.length;
      return r;
    });
  },
};

/** Topological order of the non-constant nodes reachable from `outputs`. */
function topoOrder(byName: Map<string, GNode>, outputs: string[], isConst: (n: string) => boolean): GNode[] {
  const order: GNode[] = [];
  const state = new Map<string, 1 | 2>();
  const visit = (name: string): void => {
    if (isConst(name) || state.get(name) === 2) return;
    if (state.get(name) === 1) throw new Error(`graph64: cycle at '${name}'`);
    state.set(name, 1);
    const n = byName.get(name);
    if (n === undefined) throw new Error(`graph64: no node '${name}'`);
    for (const i of n.input ?? []) if (!i.startsWith('^')) visit(tensorName(i));
    state.set(name, 2);
    order.push(n);
  };
  outputs.forEach(visit);
  return order;
}

/** Options of {@link refGraphFromArtifacts}. */
export interface Graph64Options {
  /** The output to explain: an index into the signature's outputs (default 0) or a node name. */
  readonly output?: number | string;
}

/**
 * The RefGraph (lrp64) of a graph model's JSON and weights; nodes keep their TF names (fused
 * activations: `<name>/activation`), so rules given per node name apply to the TF op.
 */
export function refGraphFromArtifacts(artifacts: GraphArtifacts, opts: Graph64Options = {}): RefGraph {
  const topo = artifacts.modelTopology as { node?: GNode[] } | undefined;
  const gnodes = topo?.node ?? [];
  const byName = new Map(gnodes.map((n) => [n.name, n]));
  const weights = decodeWeights(artifacts);
  const isConst = (name: string): boolean => byName.get(name)?.op === 'Const';
  const constOf = (name: string): Arr => {
    const w = weights.get(tensorName(name));
    if (w === undefined) throw new Error(`graph64: '${name}' is not a constant with weights`);
    return w;
  };
  const placeholders = gnodes.filter((n) => n.op === 'Placeholder').map((n) => n.name);
  // signature order of inputs/outputs when present
  const sig = (artifacts.userDefinedMetadata as { signature?: { inputs?: Record<string, { name: string }>; outputs?: Record<string, { name: string }> } } | undefined)?.signature;
  const inputs = sig?.inputs !== undefined ? Object.values(sig.inputs).map((v) => tensorName(v.name)) : placeholders;
  let outputName: string;
  if (typeof opts.output === 'string') outputName = opts.output;
  else {
    // the signature's outputs, else (as tfjs) the nodes nothing consumes
    const consumed = new Set(gnodes.flatMap((n) => (n.input ?? []).map(tensorName)));
    const outs = sig?.outputs !== undefined ? Object.values(sig.outputs).map((v) => tensorName(v.name)) : gnodes.filter((n) => n.op !== 'Const' && !consumed.has(n.name)).map((n) => n.name);
    if (outs.length === 0) throw new Error('graph64: no outputs; name the output node');
    outputName = outs[opts.output ?? 0];
  }
  // the explained tensor: what the output Identity returns
  const unwrap = (name: string): string => {
    const n = byName.get(name);
    return n !== undefined && n.op === 'Identity' && (n.input ?? []).length === 1 ? unwrap(tensorName((n.input as string[])[0])) : name;
  };
  const output = unwrap(outputName);
  const order = topoOrder(byName, [output, ...inputs], isConst);

  const consumers = new Map<string, string[]>();
  for (const n of order) for (const i of n.input ?? []) if (!i.startsWith('^')) consumers.set(tensorName(i), [...(consumers.get(tensorName(i)) ?? []), n.name]);
  const soleUse = (name: string): boolean => (consumers.get(name) ?? []).length === 1 && name !== output;

  const nodes: RefNode[] = [];
  const refOf = new Map<string, RefNode>(); // TF name -> the RefNode that holds its value
  const alias = new Map<string, string>(); // TF name -> RefNode name
  const ref = (name: string): string => {
    const t = tensorName(name);
    const a = alias.get(t);
    if (a === undefined) throw new Error(`graph64: '${t}' has no value (constant used as a tensor?)`);
    return a;
  };
  const push = (name: string, ins: string[], op: RefOp): void => {
    const node: RefNode = { name, inputs: ins, op };
    nodes.push(node);
    refOf.set(name, node);
    alias.set(name, name);
  };

  /** The linear RefNode a bias after `name` may join: through sole-use shape-only ops, channel axis kept. */
  const biasTarget = (name: string): RefNode | undefined => {
    const n = byName.get(name);
    if (n === undefined || !soleUse(name)) return undefined;
    if (LINEAR_OPS.has(n.op)) {
      const r = refOf.get(name);
      return r !== undefined && (r.op.type === 'conv2d' || r.op.type === 'depthwiseConv2d' || r.op.type === 'dense') && r.op.bias === undefined ? r : undefined;
    }
    if (SHAPE_ONLY_OPS.has(n.op) && n.op !== 'Reshape') return biasTarget(tensorName((n.input as string[])[0]));
    return undefined;
  };

  const convPadding = (n: GNode): Padding => {
    const p = strAttr(n, 'padding');
    if (p === 'SAME') return 'same';
    if (p === 'VALID') return 'valid';
    throw new Error(`graph64: '${n.name}' padding ${p}`);
  };
  const nhwc = (n: GNode): void => {
    const f = strAttr(n, 'data_format');
    if (f !== '' && f !== 'NHWC') throw new Error(`graph64: '${n.name}' data_format ${f}`);
  };

  for (const n of order) {
    const ins = (n.input ?? []).filter((i) => !i.startsWith('^')).map(tensorName);
    const tensorIns = ins.filter((i) => !isConst(i));
    const constIns = ins.filter(isConst);
    const fusedActivation = (): void => {
      const fused = strList(n, 'fused_ops');
      if (fused.length === 0) return;
      if (fused[0] !== 'BiasAdd') throw new Error(`graph64: '${n.name}' fused_ops ${fused.join(',')}`);
      if (fused.length === 2) {
        const act = ACTIVATIONS[fused[1]];
        if (act === undefined) throw new Error(`graph64: '${n.name}' fused activation ${fused[1]}`);
        // the linear part keeps the TF name (rules by node name), its activation follows as a node of its own
        const node = nodes[nodes.length - 1];
        push(`${n.name}/activation`, [node.name], { type: 'activation', activation: act, alpha: floatAttr(n, 'leakyrelu_alpha', 0.2) });
        alias.set(n.name, `${n.name}/activation`);
      }
    };
    switch (n.op) {
      case 'Placeholder':
        push(n.name, [], { type: 'input' });
        break;
      case 'Conv2D':
      case '_FusedConv2D':
      case 'DepthwiseConv2dNative':
      case 'FusedDepthwiseConv2dNative': {
        nhwc(n);
        const s = ints(n, 'strides');
        const d = ints(n, 'dilations');
        const bias = n.op.startsWith('Fused') || n.op === '_FusedConv2D' ? constOf(ins[2]) : undefined;
        const common = { kernel: constOf(ins[1]), bias, strides: [s[1], s[2]], padding: convPadding(n), dilation: d.length === 4 ? [d[1], d[2]] : [1, 1], activation: 'linear' };
        push(n.name, [ref(ins[0])], n.op.includes('epthwise') ? { type: 'depthwiseConv2d', ...common } : { type: 'conv2d', ...common });
        fusedActivation();
        break;
      }
      case 'MatMul':
      case '_FusedMatMul': {
        if (boolAttr(n, 'transpose_a')) throw new Error(`graph64: '${n.name}' transpose_a`);
        let kernel = constOf(ins[1]);
        if (boolAttr(n, 'transpose_b')) {
          const [o, i] = kernel.shape;
          const t = makeArr([i, o]);
          for (let a = 0; a < o; a++) for (let b = 0; b < i; b++) t.data[b * o + a] = kernel.data[a * i + b];
          kernel = t;
        }
        push(n.name, [ref(ins[0])], { type: 'dense', kernel, bias: n.op === '_FusedMatMul' ? constOf(ins[2]) : undefined, activation: 'linear' });
        fusedActivation();
        break;
      }
      case 'BiasAdd':
      case 'Add':
      case 'AddV2':
      case 'Mul':
      case 'Sub':
      case 'RealDiv': {
        if (constIns.length === 0) {
          if (n.op === 'Mul') push(n.name, tensorIns.map(ref), { type: 'custom', impl: broadcastMultiply });
          else if (n.op === 'Add' || n.op === 'AddV2') push(n.name, tensorIns.map(ref), { type: 'add' });
          else throw new Error(`graph64: '${n.name}' ${n.op} of two tensors`);
          break;
        }
        if (tensorIns.length !== 1) throw new Error(`graph64: '${n.name}' ${n.op} of constants only`);
        const c = constOf(constIns[0]);
        const target = n.op === 'BiasAdd' || n.op === 'Add' || n.op === 'AddV2' ? biasTarget(tensorIns[0]) : undefined;
        if (target !== undefined && c.shape.length === 1) {
          // the bias of the linear op before (it sits in the rule's denominator)
          (target.op as { bias?: Arr }).bias = c;
          alias.set(n.name, ref(tensorIns[0]));
          break;
        }
        push(n.name, [ref(tensorIns[0])], { type: 'custom', impl: affineOp(n.op === 'BiasAdd' || n.op === 'AddV2' ? 'Add' : (n.op as 'Mul' | 'Add' | 'Sub' | 'RealDiv'), c, ins.indexOf(constIns[0]) === 0) });
        break;
      }
      case 'AddN':
        push(n.name, tensorIns.map(ref), { type: 'add' });
        break;
      case 'FusedBatchNorm':
      case 'FusedBatchNormV3': {
        nhwc(n);
        push(n.name, [ref(ins[0])], { type: 'batchNorm', gamma: constOf(ins[1]), beta: constOf(ins[2]), mean: constOf(ins[3]), variance: constOf(ins[4]), epsilon: floatAttr(n, 'epsilon', 1e-3) });
        break;
      }
      case 'Relu':
      case 'Relu6':
      case 'Elu':
      case 'Selu':
      case 'LeakyRelu':
      case 'Sigmoid':
      case 'Tanh':
      case 'Softplus':
      case 'Softsign':
      case 'Softmax':
        push(n.name, [ref(ins[0])], { type: 'activation', activation: ACTIVATIONS[n.op], alpha: floatAttr(n, 'alpha', 0.2) });
        break;
      case 'MaxPool':
      case 'AvgPool': {
        nhwc(n);
        const k = ints(n, 'ksize');
        const s = ints(n, 'strides');
        push(n.name, [ref(ins[0])], { type: n.op === 'MaxPool' ? 'maxPool' : 'avgPool', dims: 2, pool: [k[1], k[2]], strides: [s[1], s[2]], padding: convPadding(n) });
        break;
      }
      case 'Mean':
      case 'Max': {
        const axes = Array.from(constOf(ins[1]).data);
        if (boolAttr(n, 'keep_dims')) throw new Error(`graph64: '${n.name}' keep_dims`);
        const dims = axes.join(',') === '1,2' ? 2 : axes.join(',') === '1' ? 1 : 0;
        if (dims === 0) throw new Error(`graph64: '${n.name}' ${n.op} over axes ${axes.join(',')}`);
        push(n.name, [ref(ins[0])], { type: n.op === 'Mean' ? 'globalAvgPool' : 'globalMaxPool', dims });
        break;
      }
      case 'Reshape': {
        const shape = Array.from(constOf(ins[1]).data);
        push(n.name, [ref(ins[0])], { type: 'reshape', targetShape: shape.slice(1) });
        break;
      }
      case 'Squeeze': {
        const axes = ints(n, 'squeeze_dims');
        push(n.name, [ref(ins[0])], { type: 'custom', impl: movingOp((s) => s.filter((_d, k) => !axes.includes(k + 1)), identitySrc) });
        break;
      }
      case 'ExpandDims': {
        const axis = constOf(ins[1]).data[0];
        push(n.name, [ref(ins[0])], {
          type: 'custom',
          impl: movingOp((s) => {
            const a = axis < 0 ? s.length + 2 + axis : axis; // over the full shape incl. batch
            const out = s.slice();
            out.splice(a - 1, 0, 1);
            return out;
          }, identitySrc),
        });
        break;
      }
      case 'Pad':
      case 'PadV2': {
        const p = Array.from(constOf(ins[1]).data);
        if (p.length !== 8 || p[0] !== 0 || p[1] !== 0 || p[6] !== 0 || p[7] !== 0) throw new Error(`graph64: '${n.name}' pads the batch or channel axis`);
        if (n.op === 'PadV2' && constOf(ins[2]).data[0] !== 0) throw new Error(`graph64: '${n.name}' pads with a non-zero value`);
        push(n.name, [ref(ins[0])], { type: 'zeroPadding2d', padding: [[p[2], p[3]], [p[4], p[5]]] });
        break;
      }
      case 'ConcatV2':
        push(n.name, tensorIns.map(ref), { type: 'concatenate', axis: constOf(ins[ins.length - 1]).data[0] });
        break;
      case 'StridedSlice': {
        const [b, e, st] = [1, 2, 3].map((k) => Array.from(constOf(ins[k]).data));
        const bm = intAttr(n, 'begin_mask', 0);
        const em = intAttr(n, 'end_mask', 0);
        if (st.some((v) => v !== 1) || intAttr(n, 'shrink_axis_mask', 0) !== 0 || intAttr(n, 'new_axis_mask', 0) !== 0 || intAttr(n, 'ellipsis_mask', 0) !== 0 || (bm & 1) === 0 || (em & 1) === 0) throw new Error(`graph64: '${n.name}' StridedSlice beyond unit strides on non-batch axes`);
        const range = (s: number[]): Array<[number, number]> => s.map((d, k) => [(bm >> (k + 1)) & 1 ? 0 : b[k + 1] < 0 ? d + b[k + 1] : b[k + 1], (em >> (k + 1)) & 1 ? d : e[k + 1] < 0 ? d + e[k + 1] : Math.min(d, e[k + 1])]);
        push(n.name, [ref(ins[0])], {
          type: 'custom',
          impl: movingOp(
            (s) => range(s).map(([lo, hi]) => hi - lo),
            (s, out) => {
              const r = range(s);
              const src = new Int32Array(numel(out));
              for (let j = 0; j < src.length; j++) {
                let rem = j;
                let flat = 0;
                let mul = 1;
                for (let k = out.length - 1; k >= 0; k--) {
                  const o = rem % out[k];
                  rem = Math.floor(rem / out[k]);
                  flat += (o + r[k][0]) * mul;
                  mul *= s[k];
                }
                src[j] = flat;
              }
              return src;
            },
          ),
        });
        break;
      }
      case 'Identity':
        alias.set(n.name, ref(ins[0]));
        break;
      default:
        throw new Error(`graph64: op ${n.op} ('${n.name}') is not in the reference`);
    }
  }
  return { nodes, inputs: inputs.map((i) => ref(i)), output: ref(output) };
}
