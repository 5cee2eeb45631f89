/**
 * Float64 plain-loop reference for Keras `Bidirectional` (LRP_RULES.md §8), as a custom op of
 * lrp64.ts: both directions through the recurrent reference (recurrent64.ts), the backward output
 * reversed in time when it is a sequence (Keras), then the merge: `concat` (each half to its
 * direction), `sum` (R_k = y_k · R / stab(y_f + y_b)), `ave` (R_k = (y_k / 2) · R / stab(mean)),
 * `mul` (R / 2 each), with the Norm stabilizer (default 1e-6) whatever the ε of the rule is.
 * Written from the text, not from src/: no tf ops in the computation.
 */
import * as tf from '@tensorflow/tfjs';
import type { Arr, CustomRefOp, RefRule } from './lrp64';
import { RefCell, RefLinearRule, RefRecurrent, recurrentForward64, recurrentLrp64, stab64 } from './recurrent64';

interface CellObject extends tf.layers.Layer {
  cells?: CellObject[];
}

function refCell(cell: CellObject): RefCell {
  const kind = ({ LSTMCell: 'lstm', GRUCell: 'gru', SimpleRNNCell: 'simple' } as const)[cell.getClassName() as 'LSTMCell' | 'GRUCell' | 'SimpleRNNCell'];
  if (kind === undefined) throw new Error(`wrappers64: cell ${cell.getClassName()}`);
  const config = cell.getConfig() as { units: number; activation: string; recurrentActivation?: string; useBias: boolean };
  const w = cell.getWeights().map((t) => t.arraySync());
  return {
    kind,
    units: config.units,
    kernel: w[0] as number[][],
    recurrent: w[1] as number[][],
    bias: config.useBias ? (w[2] as number[]) : null,
    activation: config.activation,
    recurrentActivation: config.recurrentActivation ?? 'linear',
  };
}

/** A recurrent tfjs layer (LSTM, GRU, SimpleRNN, RNN of cells) as the recurrent reference's layer. */
export function refRecurrentOf(layer: tf.layers.Layer): RefRecurrent {
  const rnn = layer as unknown as { cell: CellObject; returnSequences: boolean; returnState: boolean; goBackwards: boolean };
  const cells = rnn.cell.getClassName() === 'StackedRNNCells' ? (rnn.cell.cells as CellObject[]) : [rnn.cell];
  return { cells: cells.map(refCell), returnSequences: rnn.returnSequences, returnState: rnn.returnState, goBackwards: rnn.goBackwards };
}

/** The rule of lrp64 (RefRule) as the recurrent reference's rule (stabilizer default 1e-6). */
function linearRule(rule: RefRule | undefined): RefLinearRule {
  if (rule === undefined) throw new Error('wrappers64: no rule for the Bidirectional node');
  const stabilizer = 'stabilizer' in rule && rule.stabilizer !== undefined ? rule.stabilizer : 1e-6;
  switch (rule.name) {
    case 'epsilon':
      return { name: 'epsilon', epsilon: rule.epsilon };
    case 'zPlus':
      return { name: 'zPlus', stabilizer };
    case 'alphaBeta':
      return { name: 'alphaBeta', alpha: rule.alpha, beta: rule.beta, stabilizer };
    case 'gamma':
      return { name: 'gamma', gamma: rule.gamma, stabilizer };
    case 'flat':
      return { name: 'flat', stabilizer };
    case 'wSquare':
      return { name: 'wSquare', stabilizer };
    default:
      throw new Error(`wrappers64: rule ${rule.name} inside a recurrent layer`);
  }
}

type Seq = number[][]; // [T][F]

/** Sample `s` of a [N, T, F] Arr. */
function sample(x: Arr, s: number): Seq {
  const [, T, F] = x.shape;
  return Array.from({ length: T }, (_, t) => Array.from({ length: F }, (_, f) => x.data[(s * T + t) * F + f]));
}

/** A direction's output of one sample as rows: [T][H] (sequence, in Keras output order) or [1][H]. */
function rows(main: number[] | number[][]): number[][] {
  return Array.isArray(main[0]) ? (main as number[][]) : [main as number[]];
}

/**
 * Keras `Bidirectional(layer)` (returnState false, no initial state) with merge mode `mode`
 * (`'concat' | 'sum' | 'ave' | 'mul'`) as a custom op of the float64 reference. It takes the rule
 * of the Dense group (a recurrent layer is a Dense-group node). `masked`: the input comes from a
 * `Masking(maskValue: 0)` layer, so a step whose features are all 0 is masked (Keras: skipped, it
 * keeps the previous state).
 */
export function bidirectional64(layer: tf.layers.Layer, masked = false): CustomRefOp {
  const b = layer as unknown as { forwardLayer: tf.layers.Layer; backwardLayer: tf.layers.Layer; mergeMode: string | null; returnSequences: boolean };
  const fwd = refRecurrentOf(b.forwardLayer);
  const bwd = refRecurrentOf(b.backwardLayer);
  const mode = b.mergeMode;
  if (mode !== 'concat' && mode !== 'sum' && mode !== 'ave' && mode !== 'mul') throw new Error(`wrappers64: mergeMode ${String(mode)}`);
  const seqOut = b.returnSequences;
  /** Both directions of one sample, the backward one in time order (reversed when a sequence). */
  const maskOf = (x: Seq): boolean[] | null => (masked ? x.map((step) => step.some((v) => v !== 0)) : null);
  const directions = (x: Seq): [number[][], number[][]] => {
    const yf = rows(recurrentForward64(fwd, x, maskOf(x)).main);
    const yb = rows(recurrentForward64(bwd, x, maskOf(x)).main);
    return [yf, seqOut ? yb.slice().reverse() : yb];
  };
  const merge = (a: number, c: number): number => (mode === 'sum' ? a + c : mode === 'ave' ? (a + c) / 2 : a * c);
  return {
    linearGroup: 'dense',
    forward(xs) {
      const x = xs[0];
      const N = x.shape[0];
      const out: number[] = [];
      let shape: number[] = [];
      for (let s = 0; s < N; s++) {
        const [yf, yb] = directions(sample(x, s));
        const merged = yf.map((row, t) => (mode === 'concat' ? [...row, ...yb[t]] : row.map((v, j) => merge(v, yb[t][j]))));
        shape = seqOut ? [merged.length, merged[0].length] : [merged[0].length];
        for (const row of merged) out.push(...row);
      }
      return { shape: [N, ...shape], data: Float64Array.from(out) };
    },
    lrp(xs, _y, R, ctx) {
      const x = xs[0];
      const [N, T, F] = x.shape;
      const rule = linearRule(ctx.rule);
      const eps = ctx.stabilizer;
      const out = new Float64Array(x.data.length);
      const per = R.data.length / N;
      for (let s = 0; s < N; s++) {
        const seq = sample(x, s);
        const [yf, yb] = directions(seq);
        const H = yf[0].length;
        const width = mode === 'concat' ? 2 * H : H;
        const Rrow = (t: number, j: number): number => R.data[s * per + t * width + j];
        const Rf = yf.map((row, t) => row.map((v, j) => (mode === 'concat' ? Rrow(t, j) : mode === 'mul' ? Rrow(t, j) / 2 : mode === 'sum' ? (v * Rrow(t, j)) / stab64(v + yb[t][j], eps) : ((v / 2) * Rrow(t, j)) / stab64((v + yb[t][j]) / 2, eps))));
        const Rb = yb.map((row, t) => row.map((v, j) => (mode === 'concat' ? Rrow(t, H + j) : mode === 'mul' ? Rrow(t, j) / 2 : mode === 'sum' ? (v * Rrow(t, j)) / stab64(yf[t][j] + v, eps) : ((v / 2) * Rrow(t, j)) / stab64((yf[t][j] + v) / 2, eps))));
        // the backward layer's own output order is reversed time (Keras reverses it before the merge)
        const RbOwn = seqOut ? Rb.slice().reverse() : Rb[0];
        const rxF = recurrentLrp64(fwd, seq, maskOf(seq), rule, seqOut ? Rf : Rf[0], []);
        const rxB = recurrentLrp64(bwd, seq, maskOf(seq), rule, RbOwn, []);
        for (let t = 0; t < T; t++) for (let f = 0; f < F; f++) out[(s * T + t) * F + f] = rxF[t][f] + rxB[t][f];
      }
      return [{ shape: x.shape.slice(), data: out }];
    },
  };
}

/**
 * Keras `TimeDistributed(rnn)` on [N, T1, T2, F] (returnState false) as a custom op: the
 * recurrent reference on every outer step's [T2, F] sequence (Dense group: the composite's rule).
 */
export function timeDistributedRecurrent64(layer: tf.layers.Layer): CustomRefOp {
  const rnn = refRecurrentOf((layer as unknown as { layer: tf.layers.Layer }).layer);
  if (rnn.returnState) throw new Error('wrappers64: TimeDistributed(rnn) with returnState');
  /** Sample s, outer step t of [N, T1, T2, F] as [T2][F]. */
  const inner = (x: Arr, s: number, t: number): Seq => {
    const [, T1, T2, F] = x.shape;
    return Array.from({ length: T2 }, (_, u) => Array.from({ length: F }, (_, f) => x.data[((s * T1 + t) * T2 + u) * F + f]));
  };
  return {
    linearGroup: 'dense',
    forward(xs) {
      const x = xs[0];
      const [N, T1] = x.shape;
      const out: number[] = [];
      let shape: number[] = [];
      for (let s = 0; s < N; s++) {
        for (let t = 0; t < T1; t++) {
          const main = rows(recurrentForward64(rnn, inner(x, s, t), null).main);
          shape = rnn.returnSequences ? [main.length, main[0].length] : [main[0].length];
          for (const row of main) out.push(...row);
        }
      }
      return { shape: [N, T1, ...shape], data: Float64Array.from(out) };
    },
    lrp(xs, y, R, ctx) {
      const x = xs[0];
      const [N, T1, T2, F] = x.shape;
      const rule = linearRule(ctx.rule);
      const per = R.data.length / (N * T1); // relevance values per outer step
      const H = y.shape[y.shape.length - 1];
      const out = new Float64Array(x.data.length);
      for (let s = 0; s < N; s++) {
        for (let t = 0; t < T1; t++) {
          const flat = Array.from(R.data.slice((s * T1 + t) * per, (s * T1 + t + 1) * per));
          const Rmain = rnn.returnSequences ? Array.from({ length: per / H }, (_, u) => flat.slice(u * H, (u + 1) * H)) : flat;
          const rx = recurrentLrp64(rnn, inner(x, s, t), null, rule, Rmain, []);
          for (let u = 0; u < T2; u++) for (let f = 0; f < F; f++) out[((s * T1 + t) * T2 + u) * F + f] = rx[u][f];
        }
      }
      return [{ shape: x.shape.slice(), data: out }];
    },
  };
}
