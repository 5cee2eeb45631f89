/**
 * Test helper: converts a built tfjs LayersModel (Sequential or functional, nested
 * Sequential/Model layers included) into the RefGraph of the float64 reference (lrp64.ts).
 * It only reads the model: class names, getConfig(), weights (dataSync -> Float64Array) and
 * the symbolic graph (model.inputs/outputs, tensor.sourceLayer, layer.inboundNodes).
 */
import * as tf from '@tensorflow/tfjs';
import { Arr, Padding, RefGraph, RefNode, RefOp } from './lrp64';
import { moreRefOp } from './more64';
import { bidirectional64, timeDistributedRecurrent64 } from './wrappers64';

type Layer = tf.layers.Layer;
type SymTensor = tf.SymbolicTensor;
type Config = Record<string, unknown>;

function toArr(t: tf.Tensor): Arr {
  return { shape: t.shape.slice(), data: Float64Array.from(t.dataSync()) };
}

/** The layer's weights by variable base name ('kernel', 'bias', 'gamma', ...). */
function weightsByName(layer: Layer): Map<string, Arr> {
  const vals = layer.getWeights();
  const out = new Map<string, Arr>();
  layer.weights.forEach((v, k) => {
    const base = v.originalName.split('/').pop() ?? v.originalName;
    out.set(base.replace(/_\d+$/, ''), toArr(vals[k]));
  });
  return out;
}

function need(w: Map<string, Arr>, key: string, layer: Layer): Arr {
  const a = w.get(key);
  if (a === undefined) throw new Error(`refGraphFromModel: layer '${layer.name}' has no weight '${key}'`);
  return a;
}

function num(cfg: Config, key: string, dflt?: number): number {
  const v = cfg[key];
  if (typeof v === 'number') return v;
  if (v == null && dflt !== undefined) return dflt;
  throw new Error(`refGraphFromModel: config '${key}' is not a number (${JSON.stringify(v)})`);
}

function optNum(cfg: Config, key: string): number | undefined {
  const v = cfg[key];
  return typeof v === 'number' ? v : undefined;
}

function nums(cfg: Config, key: string, n: number, dflt?: number[]): number[] {
  const v = cfg[key];
  if (typeof v === 'number') return new Array<number>(n).fill(v);
  if (Array.isArray(v) && v.every((e): e is number => typeof e === 'number')) {
    if (v.length === n) return v.slice();
    if (v.length === 1) return new Array<number>(n).fill(v[0]);
  }
  if (v == null && dflt !== undefined) return dflt.slice();
  throw new Error(`refGraphFromModel: config '${key}' is not ${n} numbers (${JSON.stringify(v)})`);
}

function str(cfg: Config, key: string, dflt?: string): string {
  const v = cfg[key];
  if (typeof v === 'string') return v;
  if (v == null && dflt !== undefined) return dflt;
  throw new Error(`refGraphFromModel: config '${key}' is not a string (${JSON.stringify(v)})`);
}

function bool(cfg: Config, key: string, dflt: boolean): boolean {
  const v = cfg[key];
  return typeof v === 'boolean' ? v : dflt;
}

function padding(cfg: Config): Padding {
  const p = str(cfg, 'padding', 'valid');
  if (p !== 'same' && p !== 'valid') throw new Error(`refGraphFromModel: padding '${p}' unsupported`);
  return p;
}

function pairs(cfg: Config, key: string): [[number, number], [number, number]] {
  const v = cfg[key];
  if (typeof v === 'number') return [[v, v], [v, v]];
  if (Array.isArray(v) && v.length === 2) {
    const p = (e: unknown): [number, number] => {
      if (typeof e === 'number') return [e, e];
      if (Array.isArray(e) && e.length === 2 && typeof e[0] === 'number' && typeof e[1] === 'number') {
        return [e[0], e[1]];
      }
      throw new Error(`refGraphFromModel: bad '${key}' ${JSON.stringify(v)}`);
    };
    return [p(v[0]), p(v[1])];
  }
  throw new Error(`refGraphFromModel: bad '${key}' ${JSON.stringify(v)}`);
}

function channelsLast(cfg: Config, layer: Layer): void {
  const f = cfg['dataFormat'];
  if (f != null && f !== 'channelsLast') {
    throw new Error(`refGraphFromModel: '${layer.name}' uses dataFormat ${String(f)}`);
  }
}

function convertLayer(layer: Layer, inputRanks: number[]): RefOp {
  const cls = layer.getClassName();
  const cfg = layer.getConfig() as Config;
  const w = (): Map<string, Arr> => weightsByName(layer);
  const useBias = bool(cfg, 'useBias', true);
  const activation = (): string => str(cfg, 'activation', 'linear');
  switch (cls) {
    case 'Dense': {
      const ws = w();
      return { type: 'dense', kernel: need(ws, 'kernel', layer), bias: useBias ? need(ws, 'bias', layer) : undefined, activation: activation() };
    }
    case 'Conv1D':
    case 'Conv2D': {
      channelsLast(cfg, layer);
      const d = cls === 'Conv1D' ? 1 : 2;
      const ws = w();
      return {
        type: cls === 'Conv1D' ? 'conv1d' : 'conv2d',
        kernel: need(ws, 'kernel', layer),
        bias: useBias ? need(ws, 'bias', layer) : undefined,
        strides: nums(cfg, 'strides', d, new Array<number>(d).fill(1)),
        padding: padding(cfg),
        dilation: nums(cfg, 'dilationRate', d, new Array<number>(d).fill(1)),
        activation: activation(),
      };
    }
    case 'DepthwiseConv2D': {
      channelsLast(cfg, layer);
      const ws = w();
      return {
        type: 'depthwiseConv2d',
        kernel: need(ws, 'depthwise_kernel', layer),
        bias: useBias ? need(ws, 'bias', layer) : undefined,
        strides: nums(cfg, 'strides', 2, [1, 1]),
        padding: padding(cfg),
        dilation: nums(cfg, 'dilationRate', 2, [1, 1]),
        activation: activation(),
      };
    }
    case 'Conv2DTranspose': {
      channelsLast(cfg, layer);
      const ws = w();
      return {
        type: 'conv2dTranspose',
        kernel: need(ws, 'kernel', layer),
        bias: useBias ? need(ws, 'bias', layer) : undefined,
        strides: nums(cfg, 'strides', 2, [1, 1]),
        padding: padding(cfg),
        activation: activation(),
      };
    }
    case 'SeparableConv2D': {
      channelsLast(cfg, layer);
      const ws = w();
      return {
        type: 'separableConv2d',
        depthwise: need(ws, 'depthwise_kernel', layer),
        pointwise: need(ws, 'pointwise_kernel', layer),
        bias: useBias ? need(ws, 'bias', layer) : undefined,
        strides: nums(cfg, 'strides', 2, [1, 1]),
        padding: padding(cfg),
        dilation: nums(cfg, 'dilationRate', 2, [1, 1]),
        activation: activation(),
      };
    }
    case 'MaxPooling1D':
    case 'MaxPooling2D':
    case 'AveragePooling1D':
    case 'AveragePooling2D': {
      channelsLast(cfg, layer);
      const dims = cls.endsWith('1D') ? 1 : 2;
      const pool = nums(cfg, 'poolSize', dims, new Array<number>(dims).fill(2));
      return {
        type: cls.startsWith('Max') ? 'maxPool' : 'avgPool',
        dims,
        pool,
        strides: nums(cfg, 'strides', dims, pool),
        padding: padding(cfg),
      };
    }
    case 'GlobalAveragePooling1D':
    case 'GlobalAveragePooling2D':
    case 'GlobalMaxPooling1D':
    case 'GlobalMaxPooling2D':
      channelsLast(cfg, layer);
      return { type: cls.startsWith('GlobalMax') ? 'globalMaxPool' : 'globalAvgPool', dims: cls.endsWith('1D') ? 1 : 2 };
    case 'Flatten':
      return { type: 'flatten' };
    case 'Reshape': {
      const t = cfg['targetShape'];
      if (!Array.isArray(t)) throw new Error(`refGraphFromModel: bad targetShape of '${layer.name}'`);
      return { type: 'reshape', targetShape: t.map((d: unknown) => (typeof d === 'number' ? d : -1)) };
    }
    case 'Permute':
      return { type: 'permute', dims: nums(cfg, 'dims', inputRanks[0] - 1) };
    case 'Dropout':
    case 'SpatialDropout1D':
    case 'SpatialDropout2D':
    case 'GaussianDropout':
    case 'GaussianNoise':
    case 'AlphaDropout':
      return { type: 'identity' };
    case 'Activation':
      return { type: 'activation', activation: str(cfg, 'activation') };
    case 'ReLU':
      return { type: 'activation', activation: 'relu', maxValue: optNum(cfg, 'maxValue') };
    case 'LeakyReLU':
      return { type: 'activation', activation: 'leakyRelu', alpha: num(cfg, 'alpha', 0.3) };
    case 'ELU':
      return { type: 'activation', activation: 'elu', alpha: num(cfg, 'alpha', 1) };
    case 'Softmax': {
      const axis = cfg['axis'];
      const a = Array.isArray(axis) && axis.length === 1 ? (axis[0] as unknown) : axis;
      return { type: 'activation', activation: 'softmax', axis: typeof a === 'number' ? a : 1 };
    }
    case 'BatchNormalization': {
      const axis = num(cfg, 'axis', -1);
      const rank = inputRanks[0];
      if (!(axis === -1 || axis === rank - 1)) {
        throw new Error(`refGraphFromModel: BatchNormalization '${layer.name}' on axis ${axis} (only the last axis)`);
      }
      const ws = w();
      return {
        type: 'batchNorm',
        gamma: bool(cfg, 'scale', true) ? need(ws, 'gamma', layer) : undefined,
        beta: bool(cfg, 'center', true) ? need(ws, 'beta', layer) : undefined,
        mean: need(ws, 'moving_mean', layer),
        variance: need(ws, 'moving_variance', layer),
        epsilon: num(cfg, 'epsilon', 1e-3),
      };
    }
    case 'Add':
      return { type: 'add' };
    case 'Concatenate':
      return { type: 'concatenate', axis: num(cfg, 'axis', -1) };
    case 'ZeroPadding2D':
      channelsLast(cfg, layer);
      return { type: 'zeroPadding2d', padding: pairs(cfg, 'padding') };
    case 'Cropping2D':
      channelsLast(cfg, layer);
      return { type: 'cropping2d', cropping: pairs(cfg, 'cropping') };
    case 'UpSampling2D': {
      channelsLast(cfg, layer);
      const interp = str(cfg, 'interpolation', 'nearest');
      if (interp !== 'nearest') throw new Error(`refGraphFromModel: UpSampling2D '${layer.name}' interpolation ${interp}`);
      const s = nums(cfg, 'size', 2, [2, 2]);
      return { type: 'upSampling2d', size: [s[0], s[1]] };
    }
    case 'Embedding':
      return { type: 'embedding', embeddings: need(w(), 'embeddings', layer) };
    case 'Average':
      return { type: 'average' };
    case 'Multiply':
      return { type: 'multiply' };
    case 'RepeatVector':
      return { type: 'repeatVector', n: num(cfg, 'n') };
    case 'TimeDistributed':
      return timeDistributed(layer, inputRanks);
    case 'Bidirectional':
      return { type: 'custom', impl: bidirectional64(layer) };
    default: {
      // the classes of LRP_RULES §9 (LayerNormalization, Dot, Conv3D, …): test/reference/more64.ts
      const more = moreRefOp(layer, inputRanks);
      if (more !== undefined) return more;
      throw new Error(`refGraphFromModel: unsupported layer class '${cls}' ('${layer.name}')`);
    }
  }
}

/**
 * TimeDistributed(inner) as the op it equals on [T, ...]: a Dense acts on the last axis at every
 * position already; a Conv1D at every step is a Conv2D with a 1 × k kernel over [T, L, C];
 * nested TimeDistributed recurses; a recurrent layer runs on every outer step (wrappers64.ts).
 * Other inner classes are not in the reference.
 */
function timeDistributed(layer: Layer, inputRanks: number[]): RefOp {
  const inner = (layer as unknown as { layer: Layer }).layer;
  const cls = inner.getClassName();
  if (cls === 'Dense' || cls === 'TimeDistributed') return convertLayer(inner, inputRanks.map((r) => r - 1));
  if (cls === 'LSTM' || cls === 'GRU' || cls === 'SimpleRNN') return { type: 'custom', impl: timeDistributedRecurrent64(layer) };
  if (cls === 'Conv1D') {
    const op = convertLayer(inner, inputRanks.map((r) => r - 1));
    if (op.type !== 'conv1d') throw new Error('refGraphFromModel: TimeDistributed(Conv1D)');
    return { ...op, type: 'conv2d', kernel: { shape: [1, ...op.kernel.shape], data: op.kernel.data }, strides: [1, ...op.strides], dilation: [1, ...op.dilation] };
  }
  throw new Error(`refGraphFromModel: TimeDistributed(${cls}) ('${layer.name}') is not in the reference`);
}

interface Ctx {
  /** symbolic input tensors of a nested model -> node name in the outer graph */
  bound: Map<SymTensor, string>;
  memo: Map<SymTensor, string>;
  prefix: string;
}

export function refGraphFromModel(model: tf.LayersModel): RefGraph {
  const nodes: RefNode[] = [];
  const used = new Set<string>();
  const uniqueName = (base: string, prefix: string): string => {
    let name = base;
    if (used.has(name)) name = prefix + base;
    let k = 1;
    while (used.has(name)) name = `${prefix}${base}_${k++}`;
    used.add(name);
    return name;
  };

  const resolve = (t: SymTensor, ctx: Ctx): string => {
    const b = ctx.bound.get(t);
    if (b !== undefined) return b;
    const m = ctx.memo.get(t);
    if (m !== undefined) return m;
    const layer = t.sourceLayer;
    const inbound = layer.inboundNodes[t.nodeIndex];
    let name: string;
    if (layer instanceof tf.LayersModel) {
      // nested Sequential / Model: bind its inputs to the outer tensors, walk its own graph
      const outer = inbound.inputTensors.map((x) => resolve(x, ctx));
      if (outer.length !== layer.inputs.length) throw new Error(`refGraphFromModel: nested '${layer.name}' input count`);
      const inner: Ctx = {
        bound: new Map(layer.inputs.map((x, k): [SymTensor, string] => [x, outer[k]])),
        memo: new Map(),
        prefix: `${ctx.prefix}${layer.name}/`,
      };
      name = resolve(layer.outputs[t.tensorIndex], inner);
    } else if (layer.getClassName() === 'InputLayer') {
      name = uniqueName(layer.name, ctx.prefix);
      nodes.push({ name, inputs: [], op: { type: 'input' } });
    } else {
      if (t.tensorIndex !== 0) throw new Error(`refGraphFromModel: multi-output layer '${layer.name}'`);
      const inputs = inbound.inputTensors.map((x) => resolve(x, ctx));
      const op = convertLayer(
        layer,
        inbound.inputTensors.map((x) => x.shape.length),
      );
      name = uniqueName(layer.name, ctx.prefix);
      nodes.push({ name, inputs, op });
    }
    ctx.memo.set(t, name);
    return name;
  };

  const top: Ctx = { bound: new Map(), memo: new Map(), prefix: '' };
  const inputs = model.inputs.map((t) => resolve(t, top));
  if (model.outputs.length !== 1) throw new Error('refGraphFromModel: only single-output models');
  const output = resolve(model.outputs[0], top);
  return { nodes, inputs, output };
}
