/**
 * Recurrent layers (LSTM, GRU, SimpleRNN, RNN with LSTMCell/GRUCell/SimpleRNNCell or
 * StackedRNNCells, ConvLSTM2D) and Masking, as LRP_RULES.md §8 specifies: every linear mixing step
 * `[x_t, h_{t−1}] → z` gets the layer's rule (the Dense rule of the composite), gates take no
 * relevance (signal-take-all), sums inside the cell split in proportion, activations pass.
 *
 * The forward runs on the layer's own weights with the Keras mask, all samples at once: `x_t W`
 * for every step in one matMul, then one small step of tf ops per time step. It saves per step
 * what the backward needs (the step's input, the previous state, the gates, the cell value, the
 * pre-activation of the candidate), and the backward walks the steps in reverse, calling the
 * planned rule on the step's linear map through the shared rule template.
 */
import * as tf from '@tensorflow/tfjs';
import type { LinearRule, Rule } from '../../rules/types.js';
import { stabilize } from '../../rules/stabilize.js';
import { LrpLayerError, LrpRuleError } from '../errors.js';
import { derived } from '../ops/derived.js';
import { conv2dMap, type ConvConfig, denseMap, type LinearMap, type LinearParams } from '../ops/linear.js';
import { configOf, tupleOf, requireChannelsLast, type InnerLinearCapability, type InnerLinearContext, type InnerLinearForward, type Layer, type LayerAdapter } from './adapter.js';

/** The cell kinds tfjs-layers has. */
type CellKind = 'lstm' | 'gru' | 'simple';

interface LayerVariableLike {
  read(): tf.Tensor;
}

interface CellLike extends Layer {
  readonly units: number;
  readonly kernel?: LayerVariableLike;
  readonly recurrentKernel?: LayerVariableLike;
  readonly bias?: LayerVariableLike | null;
  readonly activation?: { apply(x: tf.Tensor): tf.Tensor };
  readonly recurrentActivation?: { apply(x: tf.Tensor): tf.Tensor };
  readonly cells?: CellLike[];
  readonly resetAfter?: boolean;
}

interface RnnLike extends Layer {
  readonly cell: CellLike;
  readonly returnSequences: boolean;
  readonly returnState: boolean;
  readonly goBackwards: boolean;
  readonly stateful: boolean;
}

const CELL_KINDS: Readonly<Record<string, CellKind>> = { LSTMCell: 'lstm', GRUCell: 'gru', SimpleRNNCell: 'simple', ConvLSTM2DCell: 'lstm' };
/** Number of gate blocks in the kernel of each cell kind. */
const GATES: Readonly<Record<CellKind, number>> = { lstm: 4, gru: 3, simple: 1 };
/** Tensors saved per step and cell (see {@link forward}). */
const SLOTS: Readonly<Record<CellKind, number>> = { lstm: 7, gru: 7, simple: 3 };

/** One cell with its weights. */
interface Cell {
  readonly kind: CellKind;
  readonly className: string;
  readonly units: number;
  /** Dense cells: [F, G·H]; ConvLSTM2D: [kh, kw, Cin, 4·filters]. */
  readonly kernel: tf.Tensor2D;
  /** Dense cells: [H, G·H]; ConvLSTM2D: [kh, kw, filters, 4·filters]. */
  readonly recurrent: tf.Tensor2D;
  readonly bias: tf.Tensor1D | null;
  /** ConvLSTM2D: the input convolution (the recurrent one is 'same', stride 1); null for dense cells. */
  readonly conv: ConvConfig | null;
  activation(x: tf.Tensor): tf.Tensor;
  recurrentActivation(x: tf.Tensor): tf.Tensor;
}

/** The cells of a recurrent layer, in order (a StackedRNNCells opened). */
function cellObjects(layer: Layer): CellLike[] {
  const cell = (layer as RnnLike).cell;
  if (cell === undefined || cell === null) return [];
  return cell.getClassName() === 'StackedRNNCells' ? [...(cell.cells ?? [])] : [cell];
}

function readCell(cell: CellLike, layerName: string, className: string): Cell {
  const kind = CELL_KINDS[cell.getClassName()];
  if (kind === undefined) {
    throw new LrpLayerError(layerName, className, `Layer '${layerName}' (${className}) has a cell of class ${cell.getClassName()}; tfjs-lrp explains LSTMCell, GRUCell, SimpleRNNCell and StackedRNNCells of those.`);
  }
  if (cell.kernel === undefined || cell.recurrentKernel === undefined) {
    throw new LrpLayerError(layerName, className, `Layer '${layerName}' (${className}): its ${cell.getClassName()} has no weights yet. Build the model (an inputShape, or model.build) before explaining it.`);
  }
  const act = cell.activation;
  const rec = cell.recurrentActivation;
  const config = configOf(cell);
  const conv: ConvConfig | null =
    cell.getClassName() === 'ConvLSTM2DCell'
      ? { kernelSize: tupleOf(config.kernelSize, 2, 1), strides: tupleOf(config.strides, 2, 1), dilation: tupleOf(config.dilationRate, 2, 1), padding: String(config.padding ?? 'valid') as ConvConfig['padding'] }
      : null;
  return {
    kind,
    conv,
    className: cell.getClassName(),
    units: cell.units,
    kernel: cell.kernel.read() as tf.Tensor2D,
    recurrent: cell.recurrentKernel.read() as tf.Tensor2D,
    bias: cell.bias === undefined || cell.bias === null ? null : (cell.bias.read() as tf.Tensor1D),
    activation: (x) => (act === undefined ? x : act.apply(x)),
    recurrentActivation: (x) => (rec === undefined ? x : rec.apply(x)),
  };
}

function cellsOf(layer: Layer, name: string): Cell[] {
  return cellObjects(layer).map((c) => readCell(c, name, layer.getClassName()));
}

/** Throws an LrpLayerError for configurations tfjs-lrp cannot explain. */
function checkRecurrent(layer: Layer, name: string): void {
  const className = layer.getClassName();
  const rnn = layer as RnnLike;
  if (rnn.stateful) {
    throw new LrpLayerError(name, className, `Layer '${name}' (${className}) is stateful: its output depends on the calls before, which an explanation of one batch cannot see. Rebuild the layer with stateful: false (and the same weights) to explain it.`);
  }
  const cells = cellObjects(layer);
  if (cells.length === 0) throw new LrpLayerError(name, className, `Layer '${name}' (${className}) has no cell.`);
  if (cells.length > 1 && cells.some((cell) => cell.getClassName() === 'ConvLSTM2DCell')) {
    throw new LrpLayerError(name, className, `Layer '${name}' (${className}) stacks a ConvLSTM2DCell with other cells; tfjs-lrp explains ConvLSTM2D as a layer of its own.`);
  }
  for (const cell of cells) {
    if (cell.getClassName() === 'ConvLSTM2DCell') requireChannelsLast(cell, name);
    const kind = CELL_KINDS[cell.getClassName()];
    if (kind === undefined) {
      throw new LrpLayerError(name, className, `Layer '${name}' (${className}) has a cell of class ${cell.getClassName()}; tfjs-lrp explains LSTMCell, GRUCell, SimpleRNNCell and StackedRNNCells of those. Map the layer to a rule of its own with options.layerRules, or register an adapter for it.`);
    }
    if (kind === 'gru' && (cell.resetAfter === true || configOf(cell).resetAfter === true)) {
      throw new LrpLayerError(name, className, `Layer '${name}' (${className}) uses resetAfter: true; tfjs-layers 4.22 cannot run that form (GRUCell throws "does not support reset_after") and tfjs-lrp does not explain it yet. Use a GRU with resetAfter: false.`);
    }
  }
}

// ---- weights as the step maps need them (cached per explainer: derived from the weights) -------

/** `[W_g; U_g]` of gate block `g` (of `gates`): the kernel of the map `[x_t, h_{t−1}] → z_g`. */
function joinedKernel(cell: Cell, block: number): tf.Tensor2D {
  const H = cell.units;
  return derived(`recurrentKernel:${block}`, [cell.kernel, cell.recurrent], () =>
    tf.concat([tf.slice(cell.kernel, [0, block * H], [-1, H]), tf.slice(cell.recurrent, [0, block * H], [-1, H])], 0),
  ) as tf.Tensor2D;
}

function biasBlock(cell: Cell, block: number): tf.Tensor1D | null {
  const { bias } = cell;
  if (bias === null) return null;
  if (GATES[cell.kind] === 1) return bias;
  return derived(`recurrentBias:${block}`, [bias], () => tf.slice(bias, [block * cell.units], [cell.units])) as tf.Tensor1D;
}

function recurrentBlock(cell: Cell, from: number, size: number): tf.Tensor2D {
  if (from === 0 && size === GATES[cell.kind]) return cell.recurrent;
  return derived(`recurrentBlock:${from}:${size}`, [cell.recurrent], () => tf.slice(cell.recurrent, [0, from * cell.units], [-1, size * cell.units])) as tf.Tensor2D;
}

// ---- ConvLSTM2D: the convolutions as the linear maps ------------------------------------------

/** The recurrent convolution of ConvLSTM2D: 'same', stride 1. */
const SAME: ConvConfig = { kernelSize: [1, 1], strides: [1, 1], dilation: [1, 1], padding: 'same' };

function convForward(x: tf.Tensor, kernel: tf.Tensor, config: ConvConfig): tf.Tensor {
  const dilation = config === SAME ? [1, 1] : config.dilation;
  return tf.conv2d(x as tf.Tensor4D, kernel as tf.Tensor4D, [config.strides[0], config.strides[1]], config.padding, 'NHWC', [dilation[0], dilation[1]]);
}

/**
 * The step map `[x_t, h_{t−1}] → z_g` of ConvLSTM2D, `conv(x_t, K_x) + conv(h_{t−1}, K_h) + b`, as
 * one linear map on the two inputs flattened and joined (`[B, |x| + |h|]`), with the two kernels
 * flattened and joined (rules modify them elementwise, as any kernel).
 */
function convPairMap(xShape: readonly number[], hShape: readonly number[], kxShape: readonly number[], khShape: readonly number[], config: ConvConfig): LinearMap {
  const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
  const [nx, nh, kx, kh] = [size(xShape), size(hShape), size(kxShape), size(khShape)];
  const inputConv = conv2dMap(config);
  const recurrentConv = conv2dMap({ ...SAME, kernelSize: [khShape[0], khShape[1]] });
  const kernels = (kernel: tf.Tensor): [tf.Tensor, tf.Tensor] => {
    const [a, b] = tf.split(kernel, [kx, kh]);
    return [tf.reshape(a, [...kxShape]), tf.reshape(b, [...khShape])];
  };
  return {
    kind: 'convLstm2dStep',
    group: 'conv',
    apply(x, { kernel, bias }) {
      const B = x.shape[0];
      const [a, b] = tf.split(x, [nx, nh], 1);
      const [ka, kb] = kernels(kernel);
      const z = tf.add(inputConv.apply(tf.reshape(a, [B, ...xShape]), { kernel: ka, bias: null }), recurrentConv.apply(tf.reshape(b, [B, ...hShape]), { kernel: kb, bias: null }));
      return bias === null ? z : tf.add(z, bias);
    },
    transpose(g, kernel, inputShape) {
      const B = inputShape[0];
      const [ka, kb] = kernels(kernel);
      const ra = inputConv.transpose(g, ka, [B, ...xShape]);
      const rb = recurrentConv.transpose(g, kb, [B, ...hShape]);
      return tf.concat([tf.reshape(ra, [B, nx]), tf.reshape(rb, [B, nh])], 1);
    },
    scaleKernel(kernel, scale) {
      return tf.mul(kernel, scale);
    },
  };
}

/** The rule on one LSTM step's map to the candidate, `[x_t, h_{t−1}] → z_g`: relevance of x_t and of h_{t−1}. */
function lstmGateRule(rule: LinearRule, cell: Cell, x: tf.Tensor, hPrev: tf.Tensor, zg: tf.Tensor, Rg: tf.Tensor): [tf.Tensor, tf.Tensor] {
  if (cell.conv === null) return stepRule(rule, x, hPrev, zg, Rg, DENSE, { kernel: joinedKernel(cell, 2), bias: biasBlock(cell, 2) });
  const B = x.shape[0];
  const f = cell.units;
  const kxShape = [...cell.kernel.shape.slice(0, 3), f];
  const khShape = [...cell.recurrent.shape.slice(0, 3), f];
  const kernel = derived('convLstmCandidateKernel', [cell.kernel, cell.recurrent], () =>
    tf.concat([tf.reshape(tf.slice(cell.kernel, [0, 0, 0, 2 * f], [-1, -1, -1, f]), [-1]), tf.reshape(tf.slice(cell.recurrent, [0, 0, 0, 2 * f], [-1, -1, -1, f]), [-1])]),
  );
  const map = convPairMap(x.shape.slice(1), hPrev.shape.slice(1), kxShape, khShape, cell.conv);
  const nx = x.size / B;
  const joined = tf.concat([tf.reshape(x, [B, nx]), tf.reshape(hPrev, [B, -1])], 1);
  const r = rule.relevance({ x: joined, z: zg, R: Rg, map, params: { kernel, bias: biasBlock(cell, 2) }, xNonNegative: false });
  const [rx, rh] = tf.split(r, [nx, hPrev.size / B], 1);
  return [tf.reshape(rx, x.shape), tf.reshape(rh, hPrev.shape)];
}

// ---- the time axis on a rank ≤ 4 view (GPU policy of src/ops/gpu.ts: ConvLSTM2D is rank 5) ----

/** [B, T, …] as its T steps [B, …] (on a [B, T, n] view when the rank is > 4). */
function unstackTime(x: tf.Tensor): tf.Tensor[] {
  if (x.rank <= 4) return tf.unstack(x, 1);
  const [B, T, ...rest] = x.shape;
  return tf.unstack(tf.reshape(x, [B, T, -1]), 1).map((step) => tf.reshape(step, [B, ...rest]));
}

/** The steps [B, …] stacked into [B, T, …] (through [B, n] views when the result has rank > 4). */
function stackTime(steps: readonly tf.Tensor[]): tf.Tensor {
  if (steps[0].rank <= 3) return tf.stack([...steps], 1);
  const [B, ...rest] = steps[0].shape;
  return tf.reshape(tf.stack(steps.map((step) => tf.reshape(step, [B, -1])), 1), [B, steps.length, ...rest]);
}

/** [B, T, …] reversed in time (on a [B, T, n] view when the rank is > 4). */
function reverseTime(x: tf.Tensor): tf.Tensor {
  if (x.rank <= 4) return tf.reverse(x, 1);
  const [B, T] = x.shape;
  return tf.reshape(tf.reverse(tf.reshape(x, [B, T, -1]), 1), x.shape);
}

// ---- forward --------------------------------------------------------------------------------

/**
 * The layer's forward on concrete tensors (Keras semantics, inference). Saved, per step t
 * (processing order) and cell k, `SLOTS[kind]` tensors:
 * - LSTM: x_t, h_{t−1}, c_{t−1}, f, i⊙g, c_t (unmasked), z_g
 * - GRU: x_t, h_{t−1}, z (update gate), n (candidate), h_t (unmasked), r (reset gate), z_n
 * - SimpleRNN: x_t, h_{t−1}, z
 * then the mask `[B, T]` (float, original order) when there is one.
 */
function forward(layer: Layer, inputs: tf.Tensor[], mask: tf.Tensor | null): InnerLinearForward {
  const rnn = layer as RnnLike;
  const name = layer.name;
  if (inputs.length !== 1) {
    throw new LrpLayerError(name, layer.getClassName(), `Layer '${name}' (${layer.getClassName()}) is called with ${inputs.length} inputs (initial states given as tensors); tfjs-lrp explains recurrent layers that start from zero states. Call the layer on its sequence only.`);
  }
  const cells = cellsOf(layer, name);
  const x = inputs[0].dtype === 'float32' ? inputs[0] : tf.cast(inputs[0], 'float32');
  const first = cells[0];
  const rank = first.conv === null ? 3 : 5;
  if (x.rank !== rank) throw new LrpLayerError(name, layer.getClassName(), `Layer '${name}' (${layer.getClassName()}) expects [batch, time, ${rank === 3 ? 'features' : 'height, width, channels'}] inputs, got [${x.shape.join(', ')}].`);
  const [B, T] = x.shape as [number, number];
  const xs = rnn.goBackwards ? reverseTime(x) : x;
  const maskFloat = mask === null ? null : (tf.reshape(tf.cast(mask, 'float32'), [B, T]) as tf.Tensor2D);
  // per step [B, 1] (dense states) or [B, 1, 1, 1] (ConvLSTM2D states)
  const stepMasks = maskFloat === null ? null : unstackTime(tf.reshape(rnn.goBackwards ? tf.reverse(maskFloat, 1) : maskFloat, [B, T, ...new Array<number>(rank - 2).fill(1)]));

  // x_t W + b for every step at once (the first cell)
  const flatSteps = tf.reshape(xs, [B * T, ...x.shape.slice(2)]);
  const xwFlat = first.conv === null ? tf.matMul(flatSteps as tf.Tensor2D, first.kernel) : convForward(flatSteps, first.kernel, first.conv);
  const xw = tf.reshape(tf.add(xwFlat, first.bias ?? 0), [B, T, ...xwFlat.shape.slice(1)]);
  const xwSteps = unstackTime(xw);
  const xSteps = unstackTime(xs);

  // zero states: [B, H], or [B, H', W', filters] for ConvLSTM2D
  const zeros = (cell: Cell) => tf.zeros(cell.conv === null ? [B, cell.units] : [B, ...xwSteps[0].shape.slice(1, 3), cell.units]);
  const h = cells.map((cell) => zeros(cell));
  const c = cells.map((cell) => (cell.kind === 'lstm' ? zeros(cell) : null));
  const saved: tf.Tensor[] = [];
  const outputs: tf.Tensor[] = [];
  for (let t = 0; t < T; t++) {
    const m = stepMasks === null ? null : stepMasks[t];
    let input = xSteps[t];
    cells.forEach((cell, k) => {
      const inW = k === 0 ? xwSteps[t] : tf.add(tf.matMul(input, cell.kernel), cell.bias ?? 0);
      const hPrev = h[k];
      let hNew: tf.Tensor;
      let cNew: tf.Tensor | null = null;
      if (cell.kind === 'lstm') {
        const z = tf.add(inW, cell.conv === null ? tf.matMul(hPrev, cell.recurrent) : convForward(hPrev, cell.recurrent, SAME));
        const [zi, zf, zg, zo] = tf.split(z, 4, -1);
        const i = cell.recurrentActivation(zi);
        const f = cell.recurrentActivation(zf);
        const g = cell.activation(zg);
        const o = cell.recurrentActivation(zo);
        const cPrev = c[k] as tf.Tensor;
        const ig = tf.mul(i, g);
        cNew = tf.add(tf.mul(f, cPrev), ig);
        hNew = tf.mul(o, cell.activation(cNew));
        saved.push(input, hPrev, cPrev, f, ig, cNew, zg);
      } else if (cell.kind === 'gru') {
        const [xz, xr, xh] = tf.split(inW, 3, 1);
        const inner = tf.matMul(hPrev, recurrentBlock(cell, 0, 2));
        const [rz, rr] = tf.split(inner, 2, 1);
        const zGate = cell.recurrentActivation(tf.add(xz, rz));
        const r = cell.recurrentActivation(tf.add(xr, rr));
        const zn = tf.add(xh, tf.matMul(tf.mul(r, hPrev), recurrentBlock(cell, 2, 1)));
        const n = cell.activation(zn);
        hNew = tf.add(tf.mul(zGate, hPrev), tf.mul(tf.sub(1, zGate), n));
        saved.push(input, hPrev, zGate, n, hNew, r, zn);
      } else {
        const z = tf.add(inW, tf.matMul(hPrev, cell.recurrent));
        hNew = cell.activation(z);
        saved.push(input, hPrev, z);
      }
      input = hNew; // the next cell of a stack reads the new (unmasked) state, as tfjs does
      // a masked step keeps the previous state (Keras)
      h[k] = m === null ? hNew : tf.add(tf.mul(hNew, m), tf.mul(hPrev, tf.sub(1, m)));
      if (cNew !== null) {
        const cPrev = c[k] as tf.Tensor;
        c[k] = m === null ? cNew : tf.add(tf.mul(cNew, m), tf.mul(cPrev, tf.sub(1, m)));
      }
    });
    outputs.push(h[cells.length - 1]);
  }
  if (maskFloat !== null) saved.push(maskFloat);
  const main = rnn.returnSequences ? stackTime(outputs) : outputs[T - 1];
  const states: tf.Tensor[] = [];
  if (rnn.returnState) {
    // tfjs' order: the states of the last cell first (StackedRNNCells), [h, c] for an LSTM
    for (let k = cells.length - 1; k >= 0; k--) {
      states.push(h[k]);
      if (cells[k].kind === 'lstm') states.push(c[k] as tf.Tensor);
    }
  }
  return { outputs: [main, ...states], saved };
}

// ---- backward -------------------------------------------------------------------------------

/**
 * The ε of the splits inside a cell (LRP_RULES.md §8, "Stabilisers inside recurrent layers"):
 * the layer's Epsilon ε when its rule has one, else the rule's stabilizer (LRP-0: 0).
 */
export function innerEpsilon(rule: Rule): number {
  const { epsilon, stabilizer } = rule.params;
  if (typeof epsilon === 'number') return epsilon;
  if (typeof stabilizer === 'number') return stabilizer;
  return rule.name === 'zero' ? 0 : 1e-6;
}

/** Dense on `[B, in]` with a kernel per sample `[B, in, out]` (the GRU candidate's `diag(r) U_n`). */
const perSampleDenseMap: LinearMap = {
  kind: 'denseBatched',
  group: 'dense',
  apply(x, { kernel, bias }) {
    const z = tf.reshape(tf.matMul(tf.expandDims(x, 1) as tf.Tensor3D, kernel as tf.Tensor3D), [x.shape[0], kernel.shape[2] as number]);
    return bias === null ? z : tf.add(z, bias);
  },
  transpose(g, kernel, inputShape) {
    return tf.reshape(tf.matMul(tf.expandDims(g, 1) as tf.Tensor3D, kernel as tf.Tensor3D, false, true), [...inputShape]);
  },
  scaleKernel(kernel, scale) {
    return tf.mul(kernel, scale);
  },
};

const DENSE = denseMap();

/** The rule on one step's map `[x_t, h_{t−1}] → z`: relevance of x_t and of h_{t−1}. */
function stepRule(rule: LinearRule, x: tf.Tensor, hPrev: tf.Tensor, z: tf.Tensor, R: tf.Tensor, map: LinearMap, params: LinearParams): [tf.Tensor, tf.Tensor] {
  const joined = tf.concat([x, hPrev], 1);
  const r = rule.relevance({ x: joined, z, R, map, params, xNonNegative: false });
  const [rx, rh] = tf.split(r, [x.shape[1] as number, hPrev.shape[1] as number], 1);
  return [rx, rh];
}

const addOrNull = (a: tf.Tensor | null, b: tf.Tensor | null): tf.Tensor | null => (a === null ? b : b === null ? a : tf.add(a, b));

/** LRP through the layer with a Dense rule (LRP_RULES.md §8). */
function lrpRelevance(ctx: InnerLinearContext, rule: LinearRule): tf.Tensor[] {
  const { layer, name } = ctx;
  const rnn = layer as RnnLike;
  if (rule.name === 'zBox') {
    throw new LrpRuleError(rule.name, `Rule 'zBox' needs bounds of the layer's input, but layer '${name}' (${layer.getClassName()}) is recurrent: its step maps also read the previous state. Give it another Dense rule (e.g. options.layerRules = { '${layer.name}': 'epsilon' }).`);
  }
  const cells = cellsOf(layer, name);
  const x = ctx.inputs[0];
  const [B, T] = x.shape as [number, number, number];
  const K = cells.length;
  const eps = innerEpsilon(rule);
  const slots = cells.map((c) => SLOTS[c.kind]);
  const perStep = slots.reduce((a, b) => a + b, 0);
  const slotAt = (t: number, k: number, s: number): tf.Tensor => ctx.saved[t * perStep + slots.slice(0, k).reduce((a, b) => a + b, 0) + s];
  const maskFloat = ctx.saved.length > T * perStep ? ctx.saved[T * perStep] : null;
  const stepMasks = maskFloat === null ? null : unstackTime(tf.reshape(rnn.goBackwards ? tf.reverse(maskFloat, 1) : maskFloat, [B, T, ...new Array<number>(x.rank - 2).fill(1)]));

  // relevance arriving from above: the main output (every step, or the last) and the states
  const [Rmain, ...Rstates] = ctx.R;
  const Rout: Array<tf.Tensor | null> = new Array<tf.Tensor | null>(T).fill(null);
  if (Rmain !== null) {
    if (rnn.returnSequences) unstackTime(Rmain).forEach((r, t) => (Rout[t] = r));
    else Rout[T - 1] = Rmain;
  }
  const Rh: Array<tf.Tensor | null> = cells.map(() => null);
  const Rc: Array<tf.Tensor | null> = cells.map(() => null);
  let s = 0;
  for (let k = K - 1; k >= 0; k--) {
    Rh[k] = Rstates[s++] ?? null;
    if (cells[k].kind === 'lstm') Rc[k] = Rstates[s++] ?? null;
  }

  const Rx: tf.Tensor[] = new Array<tf.Tensor>(T);
  for (let t = T - 1; t >= 0; t--) {
    const m = stepMasks === null ? null : stepMasks[t];
    for (let k = K - 1; k >= 0; k--) {
      const cell = cells[k];
      const H = cell.units;
      const total = k === K - 1 ? addOrNull(Rh[k], Rout[t]) : Rh[k];
      const totalC = Rc[k];
      // a masked step passes the state's relevance on to the previous state unchanged
      const hPart = total === null ? null : m === null ? total : tf.mul(total, m);
      const hPass = total === null || m === null ? null : tf.mul(total, tf.sub(1, m));
      const cPart = totalC === null ? null : m === null ? totalC : tf.mul(totalC, m);
      const cPass = totalC === null || m === null ? null : tf.mul(totalC, tf.sub(1, m));
      const xt = slotAt(t, k, 0);
      const hPrev = slotAt(t, k, 1);
      let rx: tf.Tensor;
      if (cell.kind === 'lstm') {
        // R(c_t) += R(h_t); split c_t = f⊙c_{t−1} + i⊙g in proportion; the rule on [x, h] → z_g
        const [cPrev, f, ig, cNew, zg] = [2, 3, 4, 5, 6].map((i) => slotAt(t, k, i));
        const Rcell = addOrNull(cPart, hPart) ?? tf.zerosLike(cNew);
        const scaled = tf.div(Rcell, stabilize(cNew, eps));
        const RcPrev = tf.mul(tf.mul(f, cPrev), scaled);
        const Rg = tf.mul(ig, scaled);
        const [rxk, rhk] = lstmGateRule(rule, cell, xt, hPrev, zg, Rg);
        rx = rxk;
        Rh[k] = addOrNull(rhk, hPass);
        Rc[k] = addOrNull(RcPrev, cPass);
      } else if (cell.kind === 'gru') {
        // split h_t = z⊙h_{t−1} + (1−z)⊙n in proportion; the rule on [x, h] → z_n with [W_n; diag(r) U_n]
        const Rstate = hPart ?? tf.zeros([B, H]);
        const [zGate, n, hNew, r, zn] = [2, 3, 4, 5, 6].map((i) => slotAt(t, k, i));
        const scaled = tf.div(Rstate, stabilize(hNew, eps));
        const RhDirect = tf.mul(tf.mul(zGate, hPrev), scaled);
        const Rn = tf.mul(tf.mul(tf.sub(1, zGate), n), scaled);
        const wn = tf.slice(cell.kernel, [0, 2 * H], [-1, H]);
        const un = recurrentBlock(cell, 2, 1);
        const F = wn.shape[0];
        // per sample: [W_n; diag(r) U_n] as [B, F + H, H] (exact for any sign of r)
        const kernel = tf.concat([tf.broadcastTo(tf.expandDims(wn, 0), [B, F, H]), tf.mul(tf.expandDims(r, 2), tf.expandDims(un, 0))], 1);
        const [rxk, rhk] = stepRule(rule, xt, hPrev, zn, Rn, perSampleDenseMap, { kernel, bias: biasBlock(cell, 2) });
        rx = rxk;
        Rh[k] = addOrNull(addOrNull(RhDirect, rhk), hPass);
      } else {
        const Rz = hPart ?? tf.zeros([B, H]);
        const z = slotAt(t, k, 2);
        const [rxk, rhk] = stepRule(rule, xt, hPrev, z, Rz, DENSE, { kernel: joinedKernel(cell, 0), bias: biasBlock(cell, 0) });
        rx = rxk;
        Rh[k] = addOrNull(rhk, hPass);
      }
      // the input of cell k > 0 is cell k−1's new state at this step
      if (k > 0) Rh[k - 1] = addOrNull(Rh[k - 1], rx);
      else Rx[t] = rx;
    }
  }
  const stacked = stackTime(Rx);
  return [rnn.goBackwards ? reverseTime(stacked) : stacked];
}

/** Any rule other than the Dense rules (the gradient methods): the layer's own Jacobian, mask included. */
function layerRuleRelevance(ctx: InnerLinearContext, rule: Rule & { appliesTo: 'any' }): tf.Tensor[] {
  const { layer, saved } = ctx;
  const x = ctx.inputs[0];
  const cells = cellsOf(layer, ctx.name);
  const T = x.shape[1] as number;
  const perStep = cells.reduce((a, c) => a + SLOTS[c.kind], 0);
  const mask = saved.length > T * perStep ? saved[T * perStep] : null;
  const vjp = (dy: tf.Tensor): tf.Tensor[] => {
    const f = (input: tf.Tensor): tf.Tensor => {
      const outs = forward(layer, [input], mask).outputs;
      const terms = outs.map((o, i) => {
        const r = i === 0 ? dy : ctx.R[i];
        return r === null ? tf.scalar(0) : tf.sum(tf.mul(o, r));
      });
      return tf.addN(terms);
    };
    return [tf.grad(f)(x.dtype === 'float32' ? x : tf.cast(x, 'float32'))];
  };
  const lower = rule.relevance({ inputs: ctx.inputs, output: ctx.outputs[0], R: ctx.R[0] ?? tf.zerosLike(ctx.outputs[0]), layerName: ctx.name, className: layer.getClassName(), vjp });
  if (lower.length !== 1 || lower[0].shape.join(',') !== x.shape.join(',')) {
    throw new LrpRuleError(rule.name, `Rule '${rule.name}' cannot run on the recurrent layer '${ctx.name}' (${layer.getClassName()}): its output [${ctx.outputs[0].shape.join(', ')}] and its input [${x.shape.join(', ')}] differ in shape. Give it a Dense rule (epsilon, zPlus, alphaBeta, gamma, flat, wSquare) or 'gradient'.`);
  }
  return lower;
}

function describeLayer(layer: Layer): string {
  const rnn = layer as RnnLike;
  const cells = cellObjects(layer).map((c) => (c.getClassName() === 'ConvLSTM2DCell' ? 'convLstm' : (CELL_KINDS[c.getClassName()] ?? c.getClassName())));
  const what: Record<string, string> = {
    lstm: 'LSTM: R(h)→c; c = f⊙c₋₁ + i⊙g split in proportion; rule on [x, h₋₁] → z_g; gates i, f, o get none',
    gru: 'GRU: h = z⊙h₋₁ + (1−z)⊙n split in proportion; rule on [x, h₋₁] → z_n with r held constant; gates get none',
    simple: 'SimpleRNN: rule on [x, h₋₁] → z; activation passes',
    convLstm: 'ConvLSTM2D: as LSTM, the rule on conv(x) + conv(h₋₁) → z_g',
  };
  const flags = [rnn.returnSequences ? 'returnSequences' : null, rnn.returnState ? 'returnState' : null, rnn.goBackwards ? 'goBackwards' : null].filter(Boolean);
  const parts = cells.map((c) => what[c] ?? c);
  return `${parts.join(' | ')}; every step, masked steps pass relevance to the previous state${flags.length > 0 ? ` (${flags.join(', ')})` : ''}`;
}

const capability: InnerLinearCapability = {
  forward,
  relevance(ctx) {
    const rule = ctx.rule;
    return rule.appliesTo === 'linear' ? lrpRelevance(ctx, rule) : layerRuleRelevance(ctx, rule);
  },
  describe: describeLayer,
};

/** LSTM, GRU, SimpleRNN, ConvLSTM2D and RNN (with LSTMCell, GRUCell, SimpleRNNCell or StackedRNNCells of those). */
export const recurrentAdapter: LayerAdapter = {
  group: 'dense',
  check: checkRecurrent,
  innerLinear: capability,
  note: 'the Dense rule on each step’s linear map (LRP_RULES.md §8)',
};

/** Masking: the identity where a step is kept, 0 where it is masked; relevance passes (the masked steps get none from the recurrent layer). */
export const maskingAdapter: LayerAdapter = {
  group: 'identity',
  // the gradient: dy where the step is kept (tf has no gradient for the mask's `any`)
  vjp: (layer, [x], _output, dy) => {
    const value = Number(configOf(layer).maskValue ?? 0);
    return [tf.mul(dy, tf.cast(tf.any(tf.notEqual(x, value), -1, true), dy.dtype))];
  },
  nonNegative: (_layer, ins) => ins[0] ?? false,
  note: 'keeps or zeroes whole steps; relevance passes (masked steps receive none)',
};
