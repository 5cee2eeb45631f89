/**
 * Recurrent layers (LRP_RULES.md §8) against the float64 plain-loop reference
 * (test/reference/recurrent64.ts): LSTM, GRU, SimpleRNN, RNN with cells and StackedRNNCells,
 * masks (Masking, Embedding maskZero), goBackwards, returnSequences, returnState, variable
 * length; every linear rule; conservation; the gradient path; the forward = model.predict;
 * leaks and typed errors. On cpu and wasm.
 */
import * as tf from '@tensorflow/tfjs';
import { createExplainer, describe as describePlanRows, explain, LrpLayerError, LrpRuleError } from '../src';
import type { ExplainOptions } from '../src';
import { runForward } from '../src/forward';
import { planModel } from '../src/plan';
import { expectError, expectNoLeak, randomizeWeights, SYNC_BACKENDS, uniform, useBackend } from './helpers';
import { convLstmCell64, RefCell, RefLinearRule, RefRecurrent, recurrentForward64, recurrentLrp64 } from './reference/recurrent64';

type Sym = tf.SymbolicTensor;

/** A test model: pre-processing (none, Masking or Embedding) → one recurrent layer → its output(s). */
interface Case {
  readonly name: string;
  build(): { model: tf.LayersModel; x: tf.Tensor };
}

const B = 3;
const T = 5;
const F = 3;

function seq(layer: tf.layers.Layer, shape: Array<number | null> = [T, F]): tf.LayersModel {
  const input = tf.input({ shape });
  return tf.model({ inputs: input, outputs: layer.apply(input) as Sym });
}

/** Inputs with padded (all-zero) steps for masked models. */
function paddedInput(seed: number, T_: number = T): tf.Tensor {
  return tf.tidy(() => {
    const x = uniform([B, T_, F], seed);
    // sample 0: no padding; sample 1: last two steps padded; sample 2: step 1 padded (a gap)
    const keep = tf.tensor3d([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 1, 1, 1]].map((r) => r.slice(0, T_).map((v) => [v])), [B, T_, 1]);
    return tf.mul(x, keep);
  });
}

function tokens(): tf.Tensor {
  // 0 is the padding token (Embedding maskZero)
  return tf.tensor2d([[3, 1, 4, 1, 5], [2, 6, 5, 0, 0], [7, 0, 0, 8, 9]], [B, T], 'int32');
}

const CASES: Case[] = [
  { name: 'LSTM (hardSigmoid gates)', build: () => ({ model: seq(tf.layers.lstm({ units: 4 })), x: uniform([B, T, F], 1) }) },
  { name: 'LSTM returnSequences, tanh gates (negative)', build: () => ({ model: seq(tf.layers.lstm({ units: 4, returnSequences: true, recurrentActivation: 'tanh' })), x: uniform([B, T, F], 2) }) },
  { name: 'LSTM goBackwards, sigmoid gates', build: () => ({ model: seq(tf.layers.lstm({ units: 3, goBackwards: true, recurrentActivation: 'sigmoid', returnSequences: true })), x: uniform([B, T, F], 3) }) },
  { name: 'GRU tanh reset gate (negative r)', build: () => ({ model: seq(tf.layers.gru({ units: 4, returnSequences: true, recurrentActivation: 'tanh' })), x: uniform([B, T, F], 4) }) },
  { name: 'GRU goBackwards', build: () => ({ model: seq(tf.layers.gru({ units: 3, goBackwards: true })), x: uniform([B, T, F], 5) }) },
  { name: 'SimpleRNN returnSequences', build: () => ({ model: seq(tf.layers.simpleRNN({ units: 4, returnSequences: true })), x: uniform([B, T, F], 6) }) },
  { name: 'SimpleRNN relu goBackwards', build: () => ({ model: seq(tf.layers.simpleRNN({ units: 3, activation: 'relu', goBackwards: true })), x: uniform([B, T, F], 7) }) },
  { name: 'RNN(GRUCell)', build: () => ({ model: seq(tf.layers.rnn({ cell: tf.layers.gruCell({ units: 3 }), returnSequences: true })), x: uniform([B, T, F], 8) }) },
  {
    name: 'RNN(StackedRNNCells LSTM, GRU, SimpleRNN)',
    build: () => ({ model: seq(tf.layers.rnn({ cell: tf.layers.stackedRNNCells({ cells: [tf.layers.lstmCell({ units: 4 }), tf.layers.gruCell({ units: 3, recurrentActivation: 'tanh' }), tf.layers.simpleRNNCell({ units: 2 })] }), returnSequences: true })), x: uniform([B, T, F], 9) }),
  },
  {
    name: 'Masking → LSTM returnSequences',
    build: () => {
      const input = tf.input({ shape: [T, F] });
      const masked = tf.layers.masking({ maskValue: 0 }).apply(input) as Sym;
      return { model: tf.model({ inputs: input, outputs: tf.layers.lstm({ units: 4, returnSequences: true }).apply(masked) as Sym }), x: paddedInput(10) };
    },
  },
  {
    name: 'Masking → RNN(stacked LSTM, GRU) goBackwards',
    build: () => {
      const input = tf.input({ shape: [T, F] });
      const masked = tf.layers.masking({ maskValue: 0 }).apply(input) as Sym;
      const rnn = tf.layers.rnn({ cell: [tf.layers.lstmCell({ units: 3 }), tf.layers.gruCell({ units: 3 })], goBackwards: true });
      return { model: tf.model({ inputs: input, outputs: rnn.apply(masked) as Sym }), x: paddedInput(11) };
    },
  },
  {
    name: 'Embedding maskZero → GRU returnSequences',
    build: () => {
      const input = tf.input({ shape: [T], dtype: 'int32' });
      const e = tf.layers.embedding({ inputDim: 10, outputDim: F, maskZero: true }).apply(input) as Sym;
      return { model: tf.model({ inputs: input, outputs: tf.layers.gru({ units: 4, returnSequences: true }).apply(e) as Sym }), x: tokens() };
    },
  },
  {
    name: 'Embedding maskZero → LSTM',
    build: () => {
      const input = tf.input({ shape: [T], dtype: 'int32' });
      const e = tf.layers.embedding({ inputDim: 10, outputDim: F, maskZero: true }).apply(input) as Sym;
      return { model: tf.model({ inputs: input, outputs: tf.layers.lstm({ units: 4 }).apply(e) as Sym }), x: tokens() };
    },
  },
  {
    name: 'LSTM returnState (functional: concat of output, h, c)',
    build: () => {
      const input = tf.input({ shape: [T, F] });
      const [o, h, c] = tf.layers.lstm({ units: 3, returnState: true }).apply(input) as Sym[];
      return { model: tf.model({ inputs: input, outputs: tf.layers.concatenate().apply([o, h, c]) as Sym }), x: uniform([B, T, F], 12) };
    },
  },
  {
    name: 'RNN(stacked LSTM, SimpleRNN) returnState: the states only',
    build: () => {
      const input = tf.input({ shape: [T, F] });
      const outs = tf.layers.rnn({ cell: [tf.layers.lstmCell({ units: 3 }), tf.layers.simpleRNNCell({ units: 2 })], returnState: true, returnSequences: true }).apply(input) as Sym[];
      // states in tfjs order: SimpleRNN h, LSTM h, LSTM c
      return { model: tf.model({ inputs: input, outputs: tf.layers.concatenate().apply(outs.slice(1)) as Sym }), x: uniform([B, T, F], 13) };
    },
  },
  { name: 'LSTM variable length ([null, F] input), T = 7', build: () => ({ model: seq(tf.layers.lstm({ units: 3, returnSequences: false }), [null, F]), x: uniform([B, 7, F], 14) }) },
];

const RULES: Array<[string, ExplainOptions, RefLinearRule]> = [
  ['epsilon', { rule: 'epsilon', epsilon: 0.01 }, { name: 'epsilon', epsilon: 0.01 }],
  ['zPlus', { rule: 'zPlus' }, { name: 'zPlus', stabilizer: 1e-6 }],
  ['alphaBeta(2,1)', { rule: 'alphaBeta', alpha: 2, beta: 1 }, { name: 'alphaBeta', alpha: 2, beta: 1, stabilizer: 1e-6 }],
  ['gamma(0.25)', { rule: 'gamma', gamma: 0.25 }, { name: 'gamma', gamma: 0.25, stabilizer: 1e-6 }],
  ['flat', { rule: 'flat' }, { name: 'flat', stabilizer: 1e-6 }],
  ['wSquare', { rule: 'wSquare' }, { name: 'wSquare', stabilizer: 1e-6 }],
];

// ---- the reference side: model → plain arrays ------------------------------------------------

interface CellObject extends tf.layers.Layer {
  cells?: CellObject[];
}

function refCell(cell: CellObject): RefCell {
  const kind = ({ LSTMCell: 'lstm', GRUCell: 'gru', SimpleRNNCell: 'simple' } as const)[cell.getClassName() as 'LSTMCell' | 'GRUCell' | 'SimpleRNNCell'];
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

function refLayer(layer: tf.layers.Layer): RefRecurrent {
  const rnn = layer as unknown as { cell: CellObject; returnSequences: boolean; returnState: boolean; goBackwards: boolean };
  const cells = rnn.cell.getClassName() === 'StackedRNNCells' ? (rnn.cell.cells as CellObject[]) : [rnn.cell];
  return { cells: cells.map(refCell), returnSequences: rnn.returnSequences, returnState: rnn.returnState, goBackwards: rnn.goBackwards };
}

function recurrentLayerOf(model: tf.LayersModel): tf.layers.Layer {
  return model.layers.find((l) => ['LSTM', 'GRU', 'SimpleRNN', 'RNN'].includes(l.getClassName())) as tf.layers.Layer;
}

/** Per sample: the recurrent layer's float input, its mask, and how relevance maps back to the model input. */
function referenceInputs(model: tf.LayersModel, x: tf.Tensor): { seqs: number[][][]; masks: Array<boolean[] | null>; tokens: boolean } {
  const first = model.layers[1];
  const cls = first.getClassName();
  if (cls === 'Embedding') {
    const table = first.getWeights()[0].arraySync() as number[][];
    const ids = x.arraySync() as number[][];
    return { seqs: ids.map((row) => row.map((id) => table[id])), masks: ids.map((row) => row.map((id) => id !== 0)), tokens: true };
  }
  const xs = x.arraySync() as number[][][];
  if (cls === 'Masking') return { seqs: xs, masks: xs.map((s) => s.map((step) => step.some((v) => v !== 0))), tokens: false };
  return { seqs: xs, masks: xs.map(() => null), tokens: false };
}

/** The reference relevance of the model input, for upper relevance `R` of the model output. */
function reference(model: tf.LayersModel, x: tf.Tensor, R: tf.Tensor, rule: RefLinearRule): number[] {
  const layer = refLayer(recurrentLayerOf(model));
  const { seqs, masks, tokens: isTokens } = referenceInputs(model, x);
  const Rrows = R.arraySync() as number[][];
  const out: number[] = [];
  seqs.forEach((s, b) => {
    const fwd = recurrentForward64(layer, s, masks[b]);
    const flat = Rrows[b];
    let Rmain: number[] | number[][];
    let Rstates: Array<number[] | null>;
    const head = model.layers[model.layers.length - 1].getClassName();
    if (head === 'Concatenate') {
      // the model output concatenates [output?, states…]: split R by their sizes
      const parts = model.layers[model.layers.length - 1].inboundNodes[0].inputTensors.map((t) => t.shape[t.shape.length - 1] as number);
      const chunks: number[][] = [];
      let at = 0;
      for (const n of parts) {
        chunks.push(flat.slice(at, at + n));
        at += n;
      }
      if (parts.length === fwd.states.length) {
        Rmain = layer.returnSequences ? s.map(() => new Array<number>(layer.cells[layer.cells.length - 1].units).fill(0)) : new Array<number>(layer.cells[layer.cells.length - 1].units).fill(0);
        Rstates = chunks;
      } else {
        Rmain = chunks[0];
        Rstates = chunks.slice(1);
      }
    } else {
      const H = layer.cells[layer.cells.length - 1].units;
      Rmain = layer.returnSequences ? s.map((_, t) => flat.slice(t * H, (t + 1) * H)) : flat;
      Rstates = [];
    }
    const Rx = recurrentLrp64(layer, s, masks[b], rule, Rmain, Rstates);
    for (const row of Rx) {
      if (isTokens) out.push(row.reduce((a, v) => a + v, 0));
      else out.push(...row);
    }
  });
  return out;
}

function expectClosePerSample(actual: ArrayLike<number>, expected: number[], label: string, rel = 1e-4): number {
  const per = expected.length / B;
  let worst = 0;
  for (let b = 0; b < B; b++) {
    let scale = 0;
    let diff = 0;
    for (let i = b * per; i < (b + 1) * per; i++) {
      if (!Number.isFinite(actual[i])) throw new Error(`${label}: non-finite ${actual[i]} at ${i}`);
      scale = Math.max(scale, Math.abs(expected[i]));
      diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    }
    worst = Math.max(worst, scale === 0 ? diff : diff / scale);
    if (!(diff <= rel * scale + 1e-12)) throw new Error(`${label}: sample ${b}: max|R − R_ref| = ${diff.toExponential(3)} > ${rel} × max|R_ref| = ${(rel * scale).toExponential(3)}`);
  }
  return worst;
}

function upperRelevance(model: tf.LayersModel, x: tf.Tensor, seed: number): tf.Tensor {
  const size = (model.outputs[0].shape.slice(1) as number[]).map((d, i) => (d === null || d === undefined ? x.shape[i + 1] : d)).reduce((a, b) => a * b, 1);
  return uniform([B, size], seed, -1, 1);
}

const worst: Record<string, number> = {};

for (const backend of SYNC_BACKENDS) {
  describe(`recurrent layers = float64 reference on ${backend}`, () => {
    beforeAll(async () => {
      await useBackend(backend);
    });
    for (const testCase of CASES) {
      describe(testCase.name, () => {
        let model: tf.LayersModel;
        let x: tf.Tensor;
        beforeAll(() => {
          ({ model, x } = testCase.build());
          randomizeWeights(model, 101);
        });
        afterAll(() => {
          x.dispose();
          model.dispose();
        });
        test.each(RULES)('%s', (label, options, refRule) => {
          const R = upperRelevance(model, x, 77);
          const expected = reference(model, x, R, refRule);
          const before = tf.memory().numTensors;
          const explainer = createExplainer(model, { ...options, outputRelevance: R });
          const out = explainer.explain(x, 0) as tf.Tensor;
          const got = out.dataSync();
          expect(got.length).toBe(expected.length);
          const w = expectClosePerSample(got, expected, `${testCase.name} / ${label}`);
          worst[`${backend} ${label}`] = Math.max(worst[`${backend} ${label}`] ?? 0, w);
          out.dispose();
          explainer.dispose();
          expect(tf.memory().numTensors).toBe(before);
          R.dispose();
        });
        test('the forward pass reproduces model.predict', () => {
          const plan = planModel(model, {});
          const mine = tf.tidy(() => tf.keep(runForward(plan, [x]).tensors.get(plan.graph.outputs[0]) as tf.Tensor));
          const theirs = model.predict(x) as tf.Tensor;
          const a = mine.dataSync();
          const b = theirs.dataSync();
          expect(a.length).toBe(b.length);
          let d = 0;
          for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
          expect(d).toBeLessThan(1e-5);
          tf.dispose([mine, theirs]);
        });
      });
    }
  });
}

afterAll(() => {
  console.log(`recurrent: worst max|R − R_ref| / max|R_ref| per sample: ${JSON.stringify(worst)}`);
});

const conservationError: Record<string, number> = {};
afterAll(() => console.log(`recurrent: conservation |Σ R_in − Σ R_out| / |Σ R_out|: ${JSON.stringify(conservationError)}`));

describe('conservation (bias-free, ε → 0)', () => {
  const conserving: Array<[string, () => tf.layers.Layer]> = [
    ['LSTM', () => tf.layers.lstm({ units: 4, useBias: false, returnSequences: true })],
    ['GRU', () => tf.layers.gru({ units: 4, useBias: false, recurrentActivation: 'tanh' })],
    ['SimpleRNN', () => tf.layers.simpleRNN({ units: 4, useBias: false, goBackwards: true })],
    ['RNN(stacked LSTM, GRU)', () => tf.layers.rnn({ cell: [tf.layers.lstmCell({ units: 3, useBias: false }), tf.layers.gruCell({ units: 3, useBias: false })] })],
  ];
  test.each(conserving)('%s: Σ input relevance = Σ output relevance per sample', (_name, make) => {
    const model = seq(make());
    randomizeWeights(model, 5, { biasFree: true });
    const x = uniform([B, T, F], 21);
    const R = upperRelevance(model, x, 22);
    const out = explain(model, x, 0, { rule: 'epsilon', epsilon: 1e-9, outputRelevance: R }) as tf.Tensor;
    const lower = tf.sum(tf.reshape(out, [B, -1]), 1).dataSync();
    const upper = tf.sum(R, 1).dataSync();
    for (let b = 0; b < B; b++) {
      conservationError[_name] = Math.max(conservationError[_name] ?? 0, Math.abs(lower[b] - upper[b]) / Math.abs(upper[b]));
      expect(Math.abs(lower[b] - upper[b])).toBeLessThan(1e-5 * Math.max(1, Math.abs(upper[b])));
    }
    tf.dispose([out, R, x]);
    model.dispose();
  });
});

describe('gradient path', () => {
  const models: Array<[string, () => tf.layers.Layer]> = [
    ['LSTM', () => tf.layers.lstm({ units: 4 })],
    ['GRU', () => tf.layers.gru({ units: 4, returnSequences: true })],
    ['SimpleRNN', () => tf.layers.simpleRNN({ units: 4, goBackwards: true })],
  ];
  test.each(models)('%s: gradient and gradient × input = tf.grad of the model', (_name, make) => {
    const model = seq(make());
    randomizeWeights(model, 9);
    const x = uniform([B, T, F], 31);
    const cls = 1;
    const expected = tf.grad((input: tf.Tensor) => tf.sum(tf.slice(tf.reshape(model.apply(input) as tf.Tensor, [B, -1]), [0, cls], [B, 1])))(x);
    const g = explain(model, x, cls, { method: 'gradient' }) as tf.Tensor;
    const gx = explain(model, x, cls, { method: 'gradientXInput' }) as tf.Tensor;
    const e = expected.dataSync();
    const a = g.dataSync();
    const ax = gx.dataSync();
    const xs = x.dataSync();
    for (let i = 0; i < e.length; i++) {
      expect(Math.abs(a[i] - e[i])).toBeLessThan(1e-5);
      expect(Math.abs(ax[i] - e[i] * xs[i])).toBeLessThan(1e-5);
    }
    tf.dispose([expected, g, gx, x]);
    model.dispose();
  });
});

describe('ConvLSTM2D = float64 reference (the LSTM formulas with the convolutions as the linear maps)', () => {
  const convCases: Array<[string, Parameters<typeof tf.layers.convLstm2d>[0]]> = [
    ['same, returnSequences', { filters: 2, kernelSize: 3, padding: 'same', returnSequences: true }],
    ['valid, strides 2, goBackwards, tanh gates', { filters: 3, kernelSize: 2, padding: 'valid', strides: 2, goBackwards: true, recurrentActivation: 'tanh' }],
  ];
  const [H, W, C] = [5, 5, 2];
  for (const backend of SYNC_BACKENDS) {
    describe(backend, () => {
      beforeAll(async () => {
        await useBackend(backend);
      });
      for (const [name, args] of convCases) {
        test.each(RULES)(`${name}: %s`, (_label, options, refRule) => {
          const layer = tf.layers.convLstm2d(args);
          const model = seq(layer, [3, H, W, C]);
          randomizeWeights(model, 41);
          const x = uniform([B, 3, H, W, C], 42);
          const R = upperRelevance(model, x, 43);
          // the reference: the cell as the dense LSTM it equals on flattened states
          const cell = (layer as unknown as { cell: tf.layers.Layer }).cell;
          const [k, u, b] = cell.getWeights().map((t) => t.arraySync());
          const config = cell.getConfig() as { strides: number | number[]; dilationRate: number | number[]; padding: 'same' | 'valid'; activation: string; recurrentActivation: string };
          const pair = (v: number | number[]): [number, number] => (Array.isArray(v) ? [v[0], v[1] ?? v[0]] : [v, v]);
          const refCellValue = convLstmCell64(k as number[][][][], u as number[][][][], b as number[], H, W, pair(config.strides), pair(config.dilationRate ?? 1), config.padding, config.activation, config.recurrentActivation);
          const rnn = layer as unknown as { returnSequences: boolean; goBackwards: boolean };
          const ref: RefRecurrent = { cells: [refCellValue], returnSequences: rnn.returnSequences, returnState: false, goBackwards: rnn.goBackwards };
          const xs = (x.reshape([B, 3, H * W * C]).arraySync() as number[][][]);
          const Rrows = R.arraySync() as number[][];
          const nout = refCellValue.units;
          const expected = xs.flatMap((seqX, s) => {
            const Rmain = ref.returnSequences ? seqX.map((_, t) => Rrows[s].slice(t * nout, (t + 1) * nout)) : Rrows[s];
            return recurrentLrp64(ref, seqX, null, refRule, Rmain, []).flat();
          });
          const before = tf.memory().numTensors;
          const out = explain(model, x, 0, { ...options, outputRelevance: R }) as tf.Tensor;
          expect(out.shape).toEqual(x.shape);
          const w = expectClosePerSample(out.dataSync(), expected, `ConvLSTM2D ${name} / ${_label}`);
          worst[`${backend} ConvLSTM2D ${_label}`] = Math.max(worst[`${backend} ConvLSTM2D ${_label}`] ?? 0, w);
          out.dispose();
          expect(tf.memory().numTensors).toBe(before);
          // and the forward = model.predict
          const plan = planModel(model, {});
          const mine = tf.tidy(() => tf.keep(runForward(plan, [x]).tensors.get(plan.graph.outputs[0]) as tf.Tensor));
          const theirs = model.predict(x) as tf.Tensor;
          const [a, p] = [mine.dataSync(), theirs.dataSync()];
          let d = 0;
          for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - p[i]));
          expect(d).toBeLessThan(1e-5);
          tf.dispose([mine, theirs, x, R]);
          model.dispose();
        });
      }
    });
  }
});

describe('leaks, errors, describe', () => {
  test('explain leaks nothing (masked stacked RNN with returnState, epsilon and gradient)', async () => {
    const input = tf.input({ shape: [T, F] });
    const masked = tf.layers.masking().apply(input) as Sym;
    const [o, h1, h2, c2] = tf.layers.rnn({ cell: [tf.layers.lstmCell({ units: 3 }), tf.layers.gruCell({ units: 2 })], returnState: true, returnSequences: true }).apply(masked) as Sym[];
    const head = tf.layers.dense({ units: 2 }).apply(tf.layers.concatenate().apply([tf.layers.flatten().apply(o) as Sym, h1, h2, c2])) as Sym;
    const model = tf.model({ inputs: input, outputs: head });
    const x = paddedInput(3);
    await expectNoLeak(() => tf.dispose(explain(model, x, 'max', { rule: 'gamma' })));
    await expectNoLeak(() => tf.dispose(explain(model, x, 'max', { method: 'gradientXInput' })));
    const explainer = createExplainer(model, { composite: 'epsilonPlus' });
    await expectNoLeak(() => tf.dispose(explainer.explain(x, 1)));
    explainer.dispose();
    x.dispose();
    model.dispose();
  });

  test('stateful: true is a typed refusal', async () => {
    const model = tf.sequential({ layers: [tf.layers.lstm({ units: 2, stateful: true, batchInputShape: [B, T, F] })] });
    const x = uniform([B, T, F], 1);
    await expectError(() => explain(model, x, 0), LrpLayerError, /stateful/, /stateful: false/);
    x.dispose();
    model.dispose();
  });

  test('GRU resetAfter: true cannot be built in tfjs 4.22; a cell that has it is a typed refusal', async () => {
    expect(() => tf.layers.gru({ units: 2, resetAfter: true } as unknown as Parameters<typeof tf.layers.gru>[0])).toThrow(/reset_after/);
    // (as a future tfjs would build it)
    const gru = tf.layers.gru({ units: 2, name: 'gru_ra' });
    const model = seq(gru);
    (gru as unknown as { cell: { resetAfter: boolean } }).cell.resetAfter = true;
    const x = uniform([B, T, F], 1);
    await expectError(() => explain(model, x, 0), LrpLayerError, /gru_ra/, /resetAfter/);
    x.dispose();
    model.dispose();
  });

  test('initial states given as inputs are a typed refusal, without leaks', async () => {
    const input = tf.input({ shape: [T, F] });
    const h0 = tf.input({ shape: [2] });
    const c0 = tf.input({ shape: [2] });
    const out = tf.layers.lstm({ units: 2, name: 'lstm_init' }).apply(input, { initialState: [h0, c0] }) as Sym;
    const model = tf.model({ inputs: [input, h0, c0], outputs: out });
    const xs = [uniform([B, T, F], 1), uniform([B, 2], 2), uniform([B, 2], 3)];
    try {
      explain(model, xs, 0); // (lazily made constants)
    } catch {
      // the refusal, checked below
    }
    await expectError(() => explain(model, xs, 0), LrpLayerError, /lstm_init/, /initial states/);
    tf.dispose(xs);
    model.dispose();
  });

  test('one explainer, sequences of different lengths ([null, F] input) = the reference for each', () => {
    const model = seq(tf.layers.gru({ units: 3, returnSequences: false }), [null, F]);
    randomizeWeights(model, 17);
    const R = uniform([B, 3], 5);
    const explainer = createExplainer(model, { rule: 'zPlus', outputRelevance: R });
    for (const length of [2, 6, 3]) {
      const x = uniform([B, length, F], length);
      const out = explainer.explain(x, 0) as tf.Tensor;
      expect(out.shape).toEqual([B, length, F]);
      expectClosePerSample(out.dataSync(), reference(model, x, R, { name: 'zPlus', stabilizer: 1e-6 }), `GRU length ${length}`);
      tf.dispose([x, out]);
    }
    explainer.dispose();
    R.dispose();
    model.dispose();
  });

  test('zBox on a recurrent layer is a typed error naming the layer', async () => {
    const model = seq(tf.layers.lstm({ units: 2, name: 'lstm_z' }));
    const x = uniform([B, T, F], 1);
    tf.dispose(explain(model, x, 0)); // (lazily made constants)
    await expectError(() => explain(model, x, 0, { rule: 'zBox', low: -1, high: 1 }), LrpRuleError, /lstm_z/, /epsilon/);
    x.dispose();
    model.dispose();
  });

  test("'pass' on a recurrent layer (shapes differ) is a typed error naming the layer; 'norm' runs", async () => {
    const model = seq(tf.layers.simpleRNN({ units: 2, name: 'rnn_pass' }));
    const x = uniform([B, T, F], 1);
    tf.dispose(explain(model, x, 0)); // (lazily made constants)
    await expectError(() => explain(model, x, 0, { layerRules: { rnn_pass: 'pass' } }), LrpLayerError, /rnn_pass/, /'gradient'/);
    // 'norm' (Jᵀ of the layer, shapes mapped) runs
    const r = explain(model, x, 0, { layerRules: { rnn_pass: 'norm' } }) as tf.Tensor;
    expect(r.shape).toEqual([B, T, F]);
    tf.dispose([r, x]);
    model.dispose();
  });

  test('describe() says what happens inside each recurrent layer', () => {
    const input = tf.input({ shape: [T], dtype: 'int32' });
    const e = tf.layers.embedding({ inputDim: 10, outputDim: F, maskZero: true }).apply(input) as Sym;
    const l = tf.layers.lstm({ units: 3, returnSequences: true, name: 'enc' }).apply(e) as Sym;
    const g = tf.layers.gru({ units: 3, name: 'dec' }).apply(l) as Sym;
    const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 2 }).apply(g) as Sym });
    const rows = describePlanRows(model, { rule: 'epsilon' });
    const enc = rows.find((r) => r.layer === 'enc');
    const dec = rows.find((r) => r.layer === 'dec');
    expect(enc?.rule).toMatch(/^epsilon/);
    expect(enc?.notes.join(' ')).toMatch(/LSTM: .*z_g.*returnSequences/);
    expect(dec?.notes.join(' ')).toMatch(/GRU: .*z_n/);
    model.dispose();
  });

});
