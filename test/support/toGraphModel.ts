/**
 * Test fixture generator: turns a built tf.LayersModel into the graph-model artifacts that
 * `tensorflowjs_converter --output_format tfjs_graph_model` emits for the same Keras model saved
 * as a SavedModel (Grappler-optimised inference graph), so the tests can check that a graph model
 * explains like its layers twin (issue #18, point 3). Modelled on real converter output
 * (node_modules/@vladmandic/human/models/emotion.json, antispoof.json, liveness.json):
 *
 * - Conv2D / DepthwiseConv2D / Dense with a bias -> `_FusedConv2D` / `FusedDepthwiseConv2dNative` /
 *   `_FusedMatMul` with `fused_ops` [BiasAdd] or [BiasAdd, <activation>] (`num_args` 1) when a
 *   Relu / Relu6 / Elu / LeakyRelu follows (the layer's own activation or a ReLU / LeakyReLU /
 *   Activation layer that is the only consumer); without a bias: plain `Conv2D` /
 *   `DepthwiseConv2dNative` / `MatMul` and the activation as its own op (TF fuses only
 *   Conv + BiasAdd + activation; tfjs cannot run fused_ops without BiasAdd).
 * - BatchNormalization right after such a layer (linear activation, only consumer) is folded into
 *   its weights (W·s, (b − mean)·s + β, s = γ / √(var + ε)), as the converter's batch-norm folding
 *   does; the folded layer always has a bias (the BN offset). Elsewhere: `Mul` + `AddV2` with
 *   constant scale and offset (what Grappler leaves in an inference graph), or `FusedBatchNormV3`
 *   (option `batchNorm: 'fused'`).
 * - SeparableConv2D -> `DepthwiseConv2dNative` + pointwise `_FusedConv2D` (bias, activation).
 * - Conv1D -> `ExpandDims` + `Conv2D` (1 × k kernel) + `Squeeze` (+ `BiasAdd`, activation op), as
 *   Keras builds it; MaxPooling1D / AveragePooling1D -> `ExpandDims` + `MaxPool` / `AvgPool` + `Squeeze`.
 * - MaxPooling2D -> `MaxPool`, AveragePooling2D -> `AvgPool`, GlobalAveragePooling1D/2D -> `Mean`,
 *   GlobalMaxPooling1D/2D -> `Max`, Flatten / Reshape -> `Reshape` (constant shape, batch −1),
 *   ZeroPadding2D -> `Pad`, Add -> `AddV2` (`AddN` for more than two), Multiply -> `Mul`,
 *   Concatenate -> `ConcatV2`, Rescaling -> `Mul` + `AddV2` constants, CenterCrop ->
 *   `StridedSlice`, ReLU / Activation / LeakyReLU / ELU / Softmax layers -> `Relu`, `Relu6`,
 *   `LeakyRelu`, `Elu`, `Sigmoid`, `Tanh`, `Softmax`, … ; Dropout and friends vanish (inference).
 * - Every model output gets an `Identity` node (`Identity`, `Identity_1`, …) named in the
 *   signature, as converted Keras SavedModels have; inputs are `Placeholder`s named after the
 *   Keras inputs. Nested Sequential / Model layers are inlined.
 *
 * Layer classes without a converter counterpart the engine covers (Embedding -> GatherV2,
 * recurrent layers -> While loops, Conv3D, Dense on rank > 2 -> Tensordot, Conv2DTranspose ->
 * a batch-dependent output shape built from Shape/StridedSlice/Pack, Dot, LayerNormalization)
 * throw {@link UnconvertibleLayerError} naming the layer.
 *
 * Reads the weights asynchronously (any backend). Never changes the model.
 */
import * as tf from '@tensorflow/tfjs';

/** Options of {@link toGraphModelArtifacts}. */
export interface ToGraphModelOptions {
  /**
   * How a BatchNormalization that cannot be folded into a preceding Conv/Dense is emitted:
   * 'mulAdd' (default) `Mul` + `AddV2` with constants, 'fused' one `FusedBatchNormV3`.
   */
  readonly batchNorm?: 'mulAdd' | 'fused';
  /**
   * Fuse BiasAdd and the activation into the linear op (default true). false: `Conv2D` /
   * `DepthwiseConv2dNative` / `MatMul` + `BiasAdd` + the activation op, as an unoptimised graph.
   */
  readonly fuse?: boolean;
  /** Fold a BatchNormalization that follows a Conv/Dense into its weights (default true). */
  readonly foldBatchNorm?: boolean;
}

/** A layer class the generator has no converter counterpart for. */
export class UnconvertibleLayerError extends Error {
  constructor(
    readonly layerName: string,
    readonly className: string,
    why: string,
  ) {
    super(`toGraphModel: layer '${layerName}' (${className}) does not convert: ${why}`);
    this.name = 'UnconvertibleLayerError';
  }
}

// ---------------------------------------------------------------------------------------------
// TF GraphDef JSON, as the converter writes it
// ---------------------------------------------------------------------------------------------

/** One attribute value of a GraphDef node (the protobuf JSON mapping the converter writes). */
export type TfAttr =
  | { type: string }
  | { s: string }
  | { i: string }
  | { f: number }
  | { b: boolean }
  | { list: { i?: string[]; s?: string[]; f?: number[] } }
  | { shape: { dim?: Array<{ size: string }> } }
  | { tensor: { dtype: string; tensorShape: { dim?: Array<{ size: string }> } } };

/** One GraphDef node. */
export interface TfNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, TfAttr>;
}

const b64 = (s: string): string => btoa(s);
const DT_FLOAT = { type: 'DT_FLOAT' };
const DT_INT32 = { type: 'DT_INT32' };
const sAttr = (s: string): TfAttr => ({ s: b64(s) });
const iList = (v: number[]): TfAttr => ({ list: { i: v.map(String) } });
const sList = (v: string[]): TfAttr => ({ list: { s: v.map(b64) } });
const dims = (shape: number[]): { dim?: Array<{ size: string }> } => (shape.length === 0 ? {} : { dim: shape.map((d) => ({ size: String(d) })) });

interface ConstWeight {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  data: Float32Array | Int32Array;
}

/** Collects nodes and constant weights with unique names. */
class GraphBuilder {
  readonly nodes: TfNode[] = [];
  readonly weights: ConstWeight[] = [];
  private readonly names = new Set<string>();

  unique(base: string): string {
    let name = base;
    for (let k = 1; this.names.has(name); k++) name = `${base}_${k}`;
    this.names.add(name);
    return name;
  }

  constant(base: string, data: ArrayLike<number>, shape: number[], dtype: 'float32' | 'int32' = 'float32'): string {
    const name = this.unique(base);
    const dt = dtype === 'float32' ? 'DT_FLOAT' : 'DT_INT32';
    this.nodes.push({ name, op: 'Const', attr: { value: { tensor: { dtype: dt, tensorShape: dims(shape) } }, dtype: { type: dt } } });
    this.weights.push({ name, shape, dtype, data: dtype === 'float32' ? Float32Array.from(data) : Int32Array.from(data) });
    return name;
  }

  op(base: string, op: string, input: string[], attr: Record<string, TfAttr> = {}): string {
    const name = this.unique(base);
    this.nodes.push({ name, op, input, attr });
    return name;
  }
}

// ---------------------------------------------------------------------------------------------
// The layers model, flattened (nested models inlined)
// ---------------------------------------------------------------------------------------------

type Sym = tf.SymbolicTensor;
type Config = Record<string, unknown>;

interface FlatNode {
  /** Unique id (the layer name, prefixed inside nested models). */
  readonly id: string;
  readonly layer: tf.layers.Layer;
  readonly cls: string;
  readonly cfg: Config;
  /** Ids of the producing flat nodes. */
  readonly inputs: string[];
  /** Static output shape (batch dim null). */
  readonly shape: Array<number | null>;
  /** Weights by base name ('kernel', 'bias', 'gamma', …). */
  weights: Map<string, { data: Float32Array; shape: number[] }>;
}

interface Flat {
  nodes: FlatNode[];
  inputs: string[];
  outputs: string[];
}

function flatten(model: tf.LayersModel): Flat {
  const nodes: FlatNode[] = [];
  const used = new Set<string>();
  interface Ctx {
    bound: Map<Sym, string>;
    memo: Map<Sym, string>;
    prefix: string;
  }
  const resolve = (t: Sym, ctx: Ctx): string => {
    const b = ctx.bound.get(t) ?? ctx.memo.get(t);
    if (b !== undefined) return b;
    const layer = t.sourceLayer;
    const inbound = layer.inboundNodes[t.nodeIndex];
    let id: string;
    if (layer instanceof tf.LayersModel) {
      const outer = inbound.inputTensors.map((x) => resolve(x, ctx));
      const inner: Ctx = { bound: new Map(layer.inputs.map((x, k): [Sym, string] => [x, outer[k]])), memo: new Map(), prefix: `${ctx.prefix}${layer.name}/` };
      id = resolve(layer.outputs[t.tensorIndex], inner);
    } else {
      if (t.tensorIndex !== 0) throw new UnconvertibleLayerError(layer.name, layer.getClassName(), 'layers with several outputs are not covered');
      const inputs = layer.getClassName() === 'InputLayer' ? [] : inbound.inputTensors.map((x) => resolve(x, ctx));
      let base = `${ctx.prefix}${layer.name}`;
      for (let k = 1; used.has(base); k++) base = `${ctx.prefix}${layer.name}_${k}`;
      used.add(base);
      id = base;
      nodes.push({ id, layer, cls: layer.getClassName(), cfg: layer.getConfig() as Config, inputs, shape: t.shape.slice(), weights: new Map() });
    }
    ctx.memo.set(t, id);
    return id;
  };
  const top: Ctx = { bound: new Map(), memo: new Map(), prefix: '' };
  const inputs = model.inputs.map((t) => resolve(t, top));
  const outputs = model.outputs.map((t) => resolve(t, top));
  return { nodes, inputs, outputs };
}

async function readWeights(flat: Flat): Promise<void> {
  for (const n of flat.nodes) {
    const values = n.layer.getWeights();
    const datas = await Promise.all(values.map((v) => v.data()));
    n.layer.weights.forEach((w, k) => {
      const base = (w.originalName ?? w.name).split('/').pop() ?? w.name;
      n.weights.set(base.replace(/_\d+$/, ''), { data: Float32Array.from(datas[k]), shape: values[k].shape.slice() });
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Emission
// ---------------------------------------------------------------------------------------------

/** Activation name (Keras) -> TF op. */
const ACTIVATION_OPS: Record<string, string> = {
  relu: 'Relu',
  relu6: 'Relu6',
  elu: 'Elu',
  selu: 'Selu',
  sigmoid: 'Sigmoid',
  tanh: 'Tanh',
  softmax: 'Softmax',
  softplus: 'Softplus',
  softsign: 'Softsign',
};
/** Activations Grappler fuses into _FusedConv2D / _FusedMatMul (and tfjs can run fused). */
const FUSABLE = new Set(['Relu', 'Relu6', 'Elu', 'LeakyRelu']);
const IDENTITY_CLASSES = new Set(['Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'Masking']);
const LINEAR_CLASSES = new Set(['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D', 'Dense', 'Conv1D']);

interface ActivationOp {
  op: string;
  alpha?: number;
}

const str = (cfg: Config, key: string, dflt: string): string => (typeof cfg[key] === 'string' ? (cfg[key] as string) : dflt);
const pair = (v: unknown, n = 2): number[] => (typeof v === 'number' ? new Array<number>(n).fill(v) : Array.isArray(v) ? (v as number[]).slice() : new Array<number>(n).fill(1));

/** The TF op of a standalone activation layer (or a layer's fused activation); undefined: identity. */
function activationOf(node: FlatNode): ActivationOp | undefined {
  const { cls, cfg } = node;
  const fail = (why: string): never => {
    throw new UnconvertibleLayerError(node.layer.name, cls, why);
  };
  switch (cls) {
    case 'ReLU': {
      const maxValue = cfg.maxValue;
      if (maxValue == null) return { op: 'Relu' };
      if (maxValue === 6) return { op: 'Relu6' };
      return fail(`maxValue ${String(maxValue)} (only 6 -> Relu6)`);
    }
    case 'LeakyReLU':
      return { op: 'LeakyRelu', alpha: typeof cfg.alpha === 'number' ? cfg.alpha : 0.3 };
    case 'ELU':
      return { op: 'Elu' };
    case 'Softmax':
      return { op: 'Softmax' };
    default: {
      const act = str(cfg, 'activation', 'linear');
      if (act === 'linear') return undefined;
      const op = ACTIVATION_OPS[act];
      if (op === undefined) return fail(`activation '${act}' has no single TF op here`);
      return { op };
    }
  }
}

const isActivationLayer = (n: FlatNode): boolean => n.cls === 'ReLU' || n.cls === 'LeakyReLU' || n.cls === 'ELU' || n.cls === 'Activation';

interface Emitted {
  /** flat id -> TF node name holding its value */
  readonly names: Map<string, string>;
}

/** Builds the graph-model artifacts of a layers model (see the file comment). */
export async function toGraphModelArtifacts(model: tf.LayersModel, opts: ToGraphModelOptions = {}): Promise<tf.io.ModelArtifacts> {
  const fuse = opts.fuse ?? true;
  const foldBn = opts.foldBatchNorm ?? true;
  const flat = flatten(model);
  await readWeights(flat);
  const g = new GraphBuilder();
  const byId = new Map(flat.nodes.map((n) => [n.id, n]));
  const consumers = new Map<string, FlatNode[]>();
  for (const n of flat.nodes) for (const i of n.inputs) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const isOutput = (id: string): boolean => flat.outputs.includes(id);
  const soleConsumer = (id: string): FlatNode | undefined => {
    const c = consumers.get(id) ?? [];
    return c.length === 1 && !isOutput(id) ? c[0] : undefined;
  };
  const emitted: Emitted = { names: new Map() };
  const absorbed = new Set<string>();
  const scope = (id: string): string => `StatefulPartitionedCall/model/${id}`;
  const nameOf = (id: string): string => {
    const v = emitted.names.get(id);
    if (v === undefined) throw new Error(`toGraphModel: '${id}' has no emitted value`);
    return v;
  };
  const need = (n: FlatNode, key: string): { data: Float32Array; shape: number[] } => {
    const w = n.weights.get(key);
    if (w === undefined) throw new Error(`toGraphModel: layer '${n.id}' has no weight '${key}'`);
    return w;
  };

  // placeholders
  for (const id of flat.inputs) {
    const n = byId.get(id) as FlatNode;
    const dtype = (n.layer as unknown as { dtype?: string }).dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT';
    const shape = n.shape.map((d) => (d == null ? -1 : d));
    emitted.names.set(id, g.op(id, 'Placeholder', [], { shape: { shape: dims(shape) }, dtype: { type: dtype } }));
  }
  // placeholders carry no input list
  for (const node of g.nodes) if (node.op === 'Placeholder') delete node.input;

  const emitActivation = (base: string, x: string, act: ActivationOp): string => {
    const attr: Record<string, TfAttr> = { T: DT_FLOAT };
    if (act.op === 'LeakyRelu') attr.alpha = { f: act.alpha ?? 0.2 };
    return g.op(`${base}/${act.op}`, act.op, [x], attr);
  };

  /** Emits a linear layer (with folding and fusion); returns the id whose value the last op holds. */
  const emitLinear = (n: FlatNode): void => {
    const x = nameOf(n.inputs[0]);
    const cfg = n.cfg;
    const useBias = cfg.useBias !== false;
    // kernel(s) and bias, as Float32Array with shapes; the output channel is the last kernel axis
    // (for a depthwise kernel [kh, kw, cin, mult]: the flattened cin·mult)
    let kernelKey = 'kernel';
    if (n.cls === 'DepthwiseConv2D') kernelKey = 'depthwise_kernel';
    if (n.cls === 'SeparableConv2D') kernelKey = 'pointwise_kernel';
    const k0 = need(n, kernelKey);
    let kernel = Float32Array.from(k0.data);
    const kShape = k0.shape.slice();
    const outC = n.cls === 'DepthwiseConv2D' ? kShape[2] * kShape[3] : kShape[kShape.length - 1];
    let bias: Float32Array | undefined = useBias ? Float32Array.from(need(n, 'bias').data) : undefined;
    let last = n;
    const ownAct = activationOf(n);

    // fold a following BatchNormalization
    const bnNode = soleConsumer(n.id);
    if (foldBn && ownAct === undefined && bnNode !== undefined && bnNode.cls === 'BatchNormalization' && n.cls !== 'Conv1D') {
      const eps = typeof bnNode.cfg.epsilon === 'number' ? bnNode.cfg.epsilon : 1e-3;
      const gamma = bnNode.weights.get('gamma')?.data;
      const beta = bnNode.weights.get('beta')?.data;
      const mean = need(bnNode, 'moving_mean').data;
      const variance = need(bnNode, 'moving_variance').data;
      const scale = new Float64Array(outC);
      for (let c = 0; c < outC; c++) scale[c] = (gamma === undefined ? 1 : gamma[c]) / Math.sqrt(variance[c] + eps);
      kernel = kernel.map((v, k) => v * scale[k % outC]);
      const b = new Float32Array(outC);
      for (let c = 0; c < outC; c++) b[c] = ((bias === undefined ? 0 : bias[c]) - mean[c]) * scale[c] + (beta === undefined ? 0 : beta[c]);
      bias = b;
      absorbed.add(bnNode.id);
      last = bnNode;
    }
    // fuse a following activation layer
    let fusedAct = ownAct !== undefined && FUSABLE.has(ownAct.op) ? ownAct : undefined;
    const next = soleConsumer(last.id);
    if (ownAct === undefined && next !== undefined && isActivationLayer(next)) {
      const a = activationOf(next);
      if (a !== undefined && FUSABLE.has(a.op)) {
        fusedAct = a;
        absorbed.add(next.id);
        last = next;
      }
    }
    const afterAct = ownAct !== undefined && !FUSABLE.has(ownAct.op) ? ownAct : undefined; // softmax, sigmoid, tanh, …
    const base = scope(last.id);
    const dilations = pair(cfg.dilationRate);
    const strides = pair(cfg.strides);
    const padding = str(cfg, 'padding', 'valid').toUpperCase();
    const convAttr = (): Record<string, TfAttr> => ({
      T: DT_FLOAT,
      data_format: sAttr('NHWC'),
      strides: iList([1, strides[0], strides[1], 1]),
      dilations: iList([1, dilations[0], dilations[1], 1]),
      padding: sAttr(padding),
      explicit_paddings: { list: {} },
    });
    const fusedAttr = (a: Record<string, TfAttr>, activation: ActivationOp | undefined): Record<string, TfAttr> => {
      const out: Record<string, TfAttr> = { ...a, fused_ops: sList(activation === undefined ? ['BiasAdd'] : ['BiasAdd', activation.op]), num_args: { i: '1' }, epsilon: { f: 0 } };
      if (activation?.op === 'LeakyRelu') out.leakyrelu_alpha = { f: activation.alpha ?? 0.2 };
      return out;
    };
    const finish = (y: string, unfusedBiasAndAct: boolean): string => {
      let out = y;
      if (unfusedBiasAndAct) {
        if (bias !== undefined) out = g.op(`${scope(n.id)}/BiasAdd`, 'BiasAdd', [out, g.constant(`${scope(n.id)}/BiasAdd/ReadVariableOp`, bias, [outC])], { T: DT_FLOAT, data_format: sAttr('NHWC') });
        if (fusedAct !== undefined) out = emitActivation(base, out, fusedAct);
      }
      if (afterAct !== undefined) out = emitActivation(base, out, afterAct);
      return out;
    };

    let y: string;
    switch (n.cls) {
      case 'Dense': {
        if (n.shape.length !== 2) throw new UnconvertibleLayerError(n.layer.name, n.cls, 'Dense on a rank > 2 input becomes Tensordot (Reshape/MatMul/Reshape with Shape ops)');
        const w = g.constant(`${scope(n.id)}/MatMul/ReadVariableOp`, kernel, kShape);
        const mmAttr = { T: DT_FLOAT, transpose_a: { b: false }, transpose_b: { b: false } };
        if (fuse && bias !== undefined) {
          const b = g.constant(`${scope(n.id)}/BiasAdd/ReadVariableOp`, bias, [outC]);
          y = finish(g.op(`${base}/${fusedAct === undefined ? 'BiasAdd' : fusedAct.op}`, '_FusedMatMul', [x, w, b], fusedAttr(mmAttr, fusedAct)), false);
        } else {
          y = finish(g.op(`${scope(n.id)}/MatMul`, 'MatMul', [x, w], mmAttr), true);
        }
        break;
      }
      case 'Conv2D':
      case 'DepthwiseConv2D': {
        const op = n.cls === 'Conv2D' ? 'Conv2D' : 'DepthwiseConv2dNative';
        const w = g.constant(`${scope(n.id)}/${op === 'Conv2D' ? 'Conv2D' : 'depthwise'}/ReadVariableOp`, kernel, kShape);
        const attr = convAttr();
        if (fuse && bias !== undefined) {
          const b = g.constant(`${scope(n.id)}/BiasAdd/ReadVariableOp`, bias, [outC]);
          y = finish(g.op(`${base}/${fusedAct === undefined ? 'BiasAdd' : fusedAct.op}`, op === 'Conv2D' ? '_FusedConv2D' : 'FusedDepthwiseConv2dNative', [x, w, b], fusedAttr(attr, fusedAct)), false);
        } else {
          y = finish(g.op(`${scope(n.id)}/${op}`, op, [x, w], attr), true);
        }
        break;
      }
      case 'SeparableConv2D': {
        const dw = need(n, 'depthwise_kernel');
        const dwName = g.constant(`${scope(n.id)}/separable_conv2d/ReadVariableOp`, dw.data, dw.shape);
        const mid = g.op(`${scope(n.id)}/separable_conv2d/depthwise`, 'DepthwiseConv2dNative', [x, dwName], convAttr());
        const w = g.constant(`${scope(n.id)}/separable_conv2d/ReadVariableOp_1`, kernel, kShape);
        const pwAttr: Record<string, TfAttr> = { ...convAttr(), strides: iList([1, 1, 1, 1]), dilations: iList([1, 1, 1, 1]), padding: sAttr('VALID') };
        if (fuse && bias !== undefined) {
          const b = g.constant(`${scope(n.id)}/BiasAdd/ReadVariableOp`, bias, [outC]);
          y = finish(g.op(`${base}/${fusedAct === undefined ? 'BiasAdd' : fusedAct.op}`, '_FusedConv2D', [mid, w, b], fusedAttr(pwAttr, fusedAct)), false);
        } else {
          y = finish(g.op(`${scope(n.id)}/separable_conv2d`, 'Conv2D', [mid, w], pwAttr), true);
        }
        break;
      }
      case 'Conv1D': {
        // Keras: expand_dims(x, 1) -> conv2d with a [1, k, cin, cout] kernel -> squeeze([1]) -> BiasAdd
        const ex = g.op(`${scope(n.id)}/Conv1D/ExpandDims`, 'ExpandDims', [x, g.constant(`${scope(n.id)}/Conv1D/ExpandDims/dim`, [1], [], 'int32')], { T: DT_FLOAT, Tdim: DT_INT32 });
        const w = g.constant(`${scope(n.id)}/Conv1D/ExpandDims_1`, kernel, [1, ...kShape]);
        const s = pair(cfg.strides, 1)[0];
        const d = pair(cfg.dilationRate, 1)[0];
        const conv = g.op(`${scope(n.id)}/Conv1D`, 'Conv2D', [ex, w], { ...convAttr(), strides: iList([1, 1, s, 1]), dilations: iList([1, 1, d, 1]) });
        const sq = g.op(`${scope(n.id)}/Conv1D/Squeeze`, 'Squeeze', [conv], { T: DT_FLOAT, squeeze_dims: iList([1]) });
        y = finish(sq, true);
        break;
      }
      default:
        throw new Error(`toGraphModel: not linear: ${n.cls}`);
    }
    emitted.names.set(last.id, y);
    if (last !== n) emitted.names.set(n.id, y); // (only reachable through `last`: sole consumers)
  };

  // (a Reshape's config, not its output shape: tfjs 4.22's CenterCrop writes its own output size into its input's shape)
  const targetShape = (n: FlatNode): number[] => (Array.isArray(n.cfg.targetShape) ? (n.cfg.targetShape as number[]) : (n.shape.slice(1) as number[]));
  const reshapeTo = (n: FlatNode, x: string, target: number[]): string =>
    g.op(`${scope(n.id)}/Reshape`, 'Reshape', [x, g.constant(`${scope(n.id)}/Const`, [-1, ...target], [target.length + 1], 'int32')], { T: DT_FLOAT, Tshape: DT_INT32 });

  const emitOther = (n: FlatNode): string => {
    const xs = n.inputs.map(nameOf);
    const x = xs[0];
    const cfg = n.cfg;
    const base = scope(n.id);
    const fail = (why: string): never => {
      throw new UnconvertibleLayerError(n.layer.name, n.cls, why);
    };
    const poolAttr = (op: string, pool: number[], strides: number[], padding: string): Record<string, TfAttr> => ({ T: DT_FLOAT, data_format: sAttr('NHWC'), ksize: iList([1, ...pool, 1]), strides: iList([1, ...strides, 1]), padding: sAttr(padding.toUpperCase()), ...(op === 'MaxPool' ? { explicit_paddings: { list: {} } } : {}) });
    switch (n.cls) {
      case 'Activation':
      case 'ReLU':
      case 'LeakyReLU':
      case 'ELU':
      case 'Softmax': {
        const a = activationOf(n);
        return a === undefined ? x : emitActivation(base, x, a);
      }
      case 'BatchNormalization': {
        const C = n.shape[n.shape.length - 1] as number;
        const axis = cfg.axis;
        if (!(axis === -1 || axis === n.shape.length - 1 || (Array.isArray(axis) && axis.length === 1 && (axis[0] === -1 || axis[0] === n.shape.length - 1)))) fail('BatchNormalization on an axis other than the last');
        const eps = typeof cfg.epsilon === 'number' ? cfg.epsilon : 1e-3;
        const gamma = n.weights.get('gamma')?.data ?? new Float32Array(C).fill(1);
        const beta = n.weights.get('beta')?.data ?? new Float32Array(C);
        const mean = need(n, 'moving_mean').data;
        const variance = need(n, 'moving_variance').data;
        if (opts.batchNorm === 'fused') {
          const ins = [x, g.constant(`${base}/ReadVariableOp`, gamma, [C]), g.constant(`${base}/ReadVariableOp_1`, beta, [C]), g.constant(`${base}/FusedBatchNormV3/ReadVariableOp`, mean, [C]), g.constant(`${base}/FusedBatchNormV3/ReadVariableOp_1`, variance, [C])];
          return g.op(`${base}/FusedBatchNormV3`, 'FusedBatchNormV3', ins, { T: DT_FLOAT, U: DT_FLOAT, epsilon: { f: eps }, data_format: sAttr('NHWC'), is_training: { b: false }, exponential_avg_factor: { f: 1 } });
        }
        const scale = new Float32Array(C);
        const offset = new Float32Array(C);
        for (let c = 0; c < C; c++) {
          scale[c] = gamma[c] / Math.sqrt(variance[c] + eps);
          offset[c] = beta[c] - mean[c] * scale[c];
        }
        const mul = g.op(`${base}/FusedBatchNormV3/Mul`, 'Mul', [x, g.constant(`${base}/FusedBatchNormV3/Scaled`, scale, [C])], { T: DT_FLOAT });
        return g.op(`${base}/FusedBatchNormV3`, 'AddV2', [mul, g.constant(`${base}/FusedBatchNormV3/Offset`, offset, [C])], { T: DT_FLOAT });
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        const pool = pair(cfg.poolSize);
        const strides = cfg.strides == null ? pool : pair(cfg.strides);
        const op = n.cls === 'MaxPooling2D' ? 'MaxPool' : 'AvgPool';
        return g.op(`${base}/${op}`, op, [x], poolAttr(op, pool, strides, str(cfg, 'padding', 'valid')));
      }
      case 'MaxPooling1D':
      case 'AveragePooling1D': {
        const pool = pair(cfg.poolSize, 1)[0];
        const stride = cfg.strides == null ? pool : pair(cfg.strides, 1)[0];
        const op = n.cls === 'MaxPooling1D' ? 'MaxPool' : 'AvgPool';
        const ex = g.op(`${base}/ExpandDims`, 'ExpandDims', [x, g.constant(`${base}/ExpandDims/dim`, [2], [], 'int32')], { T: DT_FLOAT, Tdim: DT_INT32 });
        const p = g.op(`${base}/${op}`, op, [ex], poolAttr(op, [pool, 1], [stride, 1], str(cfg, 'padding', 'valid')));
        return g.op(`${base}/Squeeze`, 'Squeeze', [p], { T: DT_FLOAT, squeeze_dims: iList([2]) });
      }
      case 'GlobalAveragePooling2D':
      case 'GlobalMaxPooling2D':
      case 'GlobalAveragePooling1D':
      case 'GlobalMaxPooling1D': {
        const op = n.cls.startsWith('GlobalAverage') ? 'Mean' : 'Max';
        const axes = n.cls.endsWith('2D') ? [1, 2] : [1];
        return g.op(`${base}/${op}`, op, [x, g.constant(`${base}/${op}/reduction_indices`, axes, [axes.length], 'int32')], { T: DT_FLOAT, Tidx: DT_INT32, keep_dims: { b: false } });
      }
      case 'Flatten':
        return reshapeTo(n, x, [(n.shape[1] as number)]);
      case 'Reshape':
        return reshapeTo(n, x, targetShape(n));
      case 'ZeroPadding2D': {
        const p = cfg.padding;
        const pp: number[][] = typeof p === 'number' ? [[p, p], [p, p]] : (p as Array<number | number[]>).map((e) => (typeof e === 'number' ? [e, e] : e));
        return g.op(`${base}/Pad`, 'Pad', [x, g.constant(`${base}/Pad/paddings`, [0, 0, ...pp[0], ...pp[1], 0, 0], [4, 2], 'int32')], { T: DT_FLOAT, Tpaddings: DT_INT32 });
      }
      case 'Add':
        return xs.length === 2 ? g.op(`${base}/add`, 'AddV2', xs, { T: DT_FLOAT }) : g.op(`${base}/add`, 'AddN', xs, { T: DT_FLOAT, N: { i: String(xs.length) } });
      case 'Multiply':
        if (xs.length !== 2) fail('Multiply of more than two tensors');
        return g.op(`${base}/mul`, 'Mul', xs, { T: DT_FLOAT });
      case 'Concatenate': {
        const axis = typeof cfg.axis === 'number' ? cfg.axis : -1;
        return g.op(`${base}/concat`, 'ConcatV2', [...xs, g.constant(`${base}/concat/axis`, [axis], [], 'int32')], { T: DT_FLOAT, Tidx: DT_INT32, N: { i: String(xs.length) } });
      }
      case 'Rescaling': {
        const scale = typeof cfg.scale === 'number' ? cfg.scale : 1;
        const offset = typeof cfg.offset === 'number' ? cfg.offset : 0;
        const mul = g.op(`${base}/mul`, 'Mul', [x, g.constant(`${base}/Cast`, [scale], [])], { T: DT_FLOAT });
        return g.op(`${base}/add`, 'AddV2', [mul, g.constant(`${base}/Cast_1`, [offset], [])], { T: DT_FLOAT });
      }
      case 'CenterCrop': {
        const src = byId.get(n.inputs[0]) as FlatNode;
        const inShape = src.cls === 'Reshape' ? [null, ...targetShape(src)] : src.shape;
        const [H, W] = [inShape[1] as number, inShape[2] as number];
        const h = cfg.height as number;
        const w = cfg.width as number;
        const top = Math.floor((H - h) / 2);
        const left = Math.floor((W - w) / 2);
        const ins = [x, g.constant(`${base}/strided_slice/stack`, [0, top, left, 0], [4], 'int32'), g.constant(`${base}/strided_slice/stack_1`, [0, top + h, left + w, 0], [4], 'int32'), g.constant(`${base}/strided_slice/stack_2`, [1, 1, 1, 1], [4], 'int32')];
        return g.op(`${base}/strided_slice`, 'StridedSlice', ins, { T: DT_FLOAT, Index: DT_INT32, begin_mask: { i: '9' }, end_mask: { i: '9' }, ellipsis_mask: { i: '0' }, new_axis_mask: { i: '0' }, shrink_axis_mask: { i: '0' } });
      }
      case 'Embedding':
        return fail('the converter emits GatherV2 on an int32 input, which carries no relevance of its own; not an op of the graph-model engine');
      case 'LSTM':
      case 'GRU':
      case 'SimpleRNN':
      case 'Bidirectional':
      case 'TimeDistributed':
      case 'ConvLSTM2D':
        return fail('recurrent layers and wrappers become While loops / Tensordot subgraphs (control flow)');
      case 'Conv2DTranspose':
        return fail('its output shape is built at run time from Shape/StridedSlice/Pack (batch-dependent)');
      default:
        return fail('no converter counterpart in this generator');
    }
  };

  for (const n of flat.nodes) {
    if (n.cls === 'InputLayer' || absorbed.has(n.id)) continue;
    if (IDENTITY_CLASSES.has(n.cls)) {
      emitted.names.set(n.id, nameOf(n.inputs[0]));
      continue;
    }
    if (LINEAR_CLASSES.has(n.cls)) emitLinear(n);
    else emitted.names.set(n.id, emitOther(n));
  }

  // outputs: Identity, Identity_1, …
  const outNames = flat.outputs.map((id, k) => g.op(k === 0 ? 'Identity' : `Identity_${k}`, 'Identity', [nameOf(id)], { T: DT_FLOAT }));
  const tensorInfo = (name: string, shape: Array<number | null>, dtype = 'DT_FLOAT') => ({ name: `${name}:0`, dtype, tensorShape: dims(shape.map((d) => (d == null ? -1 : d))) });
  const signature = {
    inputs: Object.fromEntries(flat.inputs.map((id) => {
      const n = byId.get(id) as FlatNode;
      const dtype = (n.layer as unknown as { dtype?: string }).dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT';
      return [`${nameOf(id)}:0`, tensorInfo(nameOf(id), n.shape, dtype)];
    })),
    outputs: Object.fromEntries(outNames.map((name, k) => [`${name}:0`, tensorInfo(name, (byId.get(flat.outputs[k]) as FlatNode).shape)])),
  };

  // weights: one buffer, in manifest order
  const total = g.weights.reduce((s, w) => s + w.data.length * 4, 0);
  const weightData = new ArrayBuffer(total);
  let offset = 0;
  for (const w of g.weights) {
    const view = w.dtype === 'float32' ? new Float32Array(weightData, offset, w.data.length) : new Int32Array(weightData, offset, w.data.length);
    view.set(w.data);
    offset += w.data.length * 4;
  }
  return {
    format: 'graph-model',
    generatedBy: `tfjs-lrp test/support/toGraphModel.ts from '${model.name}'`,
    convertedBy: 'tfjs-lrp test fixture generator (tensorflowjs_converter graph-model layout)',
    modelTopology: { node: g.nodes, library: {}, versions: { producer: 1395 } },
    weightSpecs: g.weights.map((w) => ({ name: w.name, shape: w.shape, dtype: w.dtype })),
    weightData,
    userDefinedMetadata: { signature },
  };
}

/** The graph model of {@link toGraphModelArtifacts}, loaded with tf.loadGraphModel from memory. */
export async function toGraphModel(model: tf.LayersModel, opts: ToGraphModelOptions = {}): Promise<tf.GraphModel> {
  const artifacts = await toGraphModelArtifacts(model, opts);
  return tf.loadGraphModel(tf.io.fromMemory(artifacts));
}

/** The GraphDef nodes of artifacts made by {@link toGraphModelArtifacts}. */
export function graphNodes(artifacts: tf.io.ModelArtifacts): TfNode[] {
  return (artifacts.modelTopology as { node: TfNode[] }).node;
}
