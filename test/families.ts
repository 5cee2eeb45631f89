/**
 * The architecture families of test/architectures.test.ts (one small model per family with the
 * family's real layer structure), their seeded weights and inputs: shared by the Node tests and
 * the backend conformance runs (WebGL, WebGPU), so every backend explains the same models.
 */
import * as tf from '@tensorflow/tfjs';
import type { ExplainOptions } from '../src';
import { randomizeWeights, rng, uniform } from './helpers';

export type Sym = tf.SymbolicTensor;
export const apply = (layer: tf.layers.Layer, x: Sym | Sym[]): Sym => layer.apply(x) as Sym;

/** Whether a layer is itself a model (a nested tf.model / tf.sequential). */
export const isModel = (layer: tf.layers.Layer): boolean => 'layers' in layer && Array.isArray((layer as unknown as tf.LayersModel).layers);

/** Batch size of every test input. */
export const N = 2;

/** Input range of the composite tests (also the z-box bounds of epsilonGammaBox). */
export const LOW = -1;
export const HIGH = 1;

export interface Family {
  readonly name: string;
  /** The model with the family's structure; `bf`: no biases, BN without centre. Weights are set by the test. */
  build(bf: boolean): tf.LayersModel;
  /** Independent pre-softmax logits of model output `output` ([N, classes]). */
  logits(model: tf.LayersModel, xs: tf.Tensor[], output: number): tf.Tensor;
  /** Outputs to explain (multi-output models). Default [0]. */
  readonly outputs?: number[];
  /** Outputs without a final softmax (their output already is the logit). Default none. */
  readonly linearOutputs?: number[];
  /** Vocabulary size of an int32 token input. */
  readonly vocab?: number;
  /**
   * Conservation rules skipped for this family, with the structural reason. The test of each
   * skipped rule asserts that it indeed does NOT conserve, so the reason stays true.
   */
  readonly notConserving?: Readonly<Record<string, string>>;
}

/** x · kernel + bias of a Dense layer, from its weights. */
export function denseForward(layer: tf.layers.Layer, x: tf.Tensor): tf.Tensor {
  const [kernel, bias] = layer.getWeights();
  const z = tf.matMul(x as tf.Tensor2D, kernel as tf.Tensor2D);
  return bias === undefined ? z : tf.add(z, bias);
}

/** The value of `t` (a symbolic tensor of `model`) for the batch, via a sub-model. */
export function valueOf(model: tf.LayersModel, t: Sym, xs: tf.Tensor[]): tf.Tensor {
  const sub = tf.model({ inputs: model.inputs, outputs: t });
  return sub.predict(xs.length === 1 ? xs[0] : xs) as tf.Tensor;
}

/** Logits of a model whose last layer is a Dense with a fused softmax: its input × kernel + bias. */
export function beforeDenseSoftmax(model: tf.LayersModel, xs: tf.Tensor[]): tf.Tensor {
  const last = model.layers[model.layers.length - 1];
  expect((last.getConfig() as { activation?: string }).activation).toBe('softmax');
  return denseForward(last, valueOf(model, last.input as Sym, xs));
}

/** Logits of a model ending in an Activation('softmax') layer: the value of that layer's input. */
export function beforeSoftmaxLayer(model: tf.LayersModel, xs: tf.Tensor[]): tf.Tensor {
  const last = model.layers[model.layers.length - 1];
  expect(last.getClassName()).toBe('Activation');
  return valueOf(model, last.input as Sym, xs);
}

// ---------------------------------------------------------------------------------------------
// Families
// ---------------------------------------------------------------------------------------------

const vgg: Family = {
  name: 'VGG',
  build: (bf) => {
    const conv = (filters: number, first = false) => tf.layers.conv2d({ ...(first ? { inputShape: [16, 16, 3] } : {}), filters, kernelSize: 3, padding: 'same', activation: 'relu', useBias: !bf });
    return tf.sequential({
      layers: [
        conv(8, true), conv(8), tf.layers.maxPooling2d({ poolSize: 2 }),
        conv(16), conv(16), tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 32, activation: 'relu', useBias: !bf }),
        tf.layers.dropout({ rate: 0.5 }),
        tf.layers.dense({ units: 5, activation: 'softmax', useBias: !bf }),
      ],
    });
  },
  logits: (m, xs) => beforeDenseSoftmax(m, xs),
};

/** Conv → BN (→ ReLU). */
function convBn(x: Sym, filters: number, kernelSize: number, bf: boolean, opts: { strides?: number; relu?: boolean } = {}): Sym {
  let y = apply(tf.layers.conv2d({ filters, kernelSize, strides: opts.strides ?? 1, padding: 'same', useBias: !bf }), x);
  y = apply(tf.layers.batchNormalization({ center: !bf }), y);
  return opts.relu === false ? y : apply(tf.layers.reLU(), y);
}

const resnetV1: Family = {
  name: 'ResNet v1',
  build: (bf) => {
    const input = tf.input({ shape: [8, 8, 3] });
    // 32 channels: the 1x1 projection shortcut (linear, into an Add) needs fan-in ≥ 32 for zPlus / alphaBeta
    const stem = convBn(input, 32, 3, bf);
    // identity block
    let y = convBn(stem, 32, 3, bf);
    y = convBn(y, 32, 3, bf, { relu: false });
    const a1 = apply(tf.layers.reLU(), apply(tf.layers.add(), [y, stem]));
    // projection block (stride 2)
    let z = convBn(a1, 48, 3, bf, { strides: 2 });
    z = convBn(z, 48, 3, bf, { relu: false });
    const shortcut = convBn(a1, 48, 1, bf, { strides: 2, relu: false });
    const a2 = apply(tf.layers.reLU(), apply(tf.layers.add(), [z, shortcut]));
    const gap = apply(tf.layers.globalAveragePooling2d({}), a2);
    const out = apply(tf.layers.dense({ units: 4, activation: 'softmax', useBias: !bf }), gap);
    return tf.model({ inputs: input, outputs: out });
  },
  logits: (m, xs) => beforeDenseSoftmax(m, xs),
};

const resnetV2: Family = {
  name: 'ResNet v2 (pre-activation)',
  build: (bf) => {
    const input = tf.input({ shape: [8, 8, 3] });
    const conv = (x: Sym, filters: number, kernelSize: number, strides = 1) => apply(tf.layers.conv2d({ filters, kernelSize, strides, padding: 'same', useBias: !bf }), x);
    const bnRelu = (x: Sym) => apply(tf.layers.reLU(), apply(tf.layers.batchNormalization({ center: !bf }), x));
    const stem = conv(input, 32, 3); // 32 channels: fan-in of the 1x1 projection shortcut
    // block 1: projection shortcut from the pre-activated input (Keras ResNetV2 'preact')
    const pre1 = bnRelu(stem);
    const short1 = conv(pre1, 32, 1, 2);
    let y = bnRelu(conv(pre1, 32, 3, 2));
    y = conv(y, 32, 3);
    const a1 = apply(tf.layers.add(), [y, short1]);
    // block 2: identity shortcut; its BN follows an Add (not mergeable)
    const pre2 = bnRelu(a1);
    let z = bnRelu(conv(pre2, 32, 3));
    z = conv(z, 32, 3);
    const a2 = apply(tf.layers.add(), [z, a1]);
    const post = bnRelu(a2);
    const gap = apply(tf.layers.globalAveragePooling2d({}), post);
    const out = apply(tf.layers.dense({ units: 4, activation: 'softmax', useBias: !bf }), gap);
    return tf.model({ inputs: input, outputs: out });
  },
  logits: (m, xs) => beforeDenseSoftmax(m, xs),
};

const relu6 = () => tf.layers.reLU({ maxValue: 6 });

const mobilenetV1: Family = {
  name: 'MobileNet v1',
  build: (bf) => {
    const input = tf.input({ shape: [16, 16, 3] });
    const bn = (x: Sym) => apply(tf.layers.batchNormalization({ center: !bf }), x);
    let x = apply(relu6(), bn(apply(tf.layers.conv2d({ filters: 16, kernelSize: 3, strides: 2, padding: 'same', useBias: false }), input)));
    const dwBlock = (y: Sym, filters: number, strides: number) => {
      y = apply(relu6(), bn(apply(tf.layers.depthwiseConv2d({ kernelSize: 3, strides, padding: 'same', useBias: false }), y)));
      return apply(relu6(), bn(apply(tf.layers.conv2d({ filters, kernelSize: 1, padding: 'same', useBias: false }), y)));
    };
    x = dwBlock(x, 32, 1);
    x = dwBlock(x, 64, 2);
    x = apply(tf.layers.globalAveragePooling2d({}), x);
    x = apply(tf.layers.reshape({ targetShape: [1, 1, 64] }), x);
    x = apply(tf.layers.dropout({ rate: 0.001 }), x);
    x = apply(tf.layers.conv2d({ filters: 5, kernelSize: 1, padding: 'same', useBias: !bf }), x);
    x = apply(tf.layers.reshape({ targetShape: [5] }), x);
    x = apply(tf.layers.activation({ activation: 'softmax' }), x);
    return tf.model({ inputs: input, outputs: x });
  },
  logits: (m, xs) => beforeSoftmaxLayer(m, xs),
  notConserving: {
    alphaBeta: 'a DepthwiseConv2D unit sums only kh·kw = 9 contributions of one channel (4 at a corner with same padding), many of them zero after ReLU6; units whose active contributions all have one sign are common, and alphaBeta(2, 1) then creates or destroys relevance by definition (2R or −R instead of R)',
  },
};

const mobilenetV2: Family = {
  name: 'MobileNet v2',
  build: (bf) => {
    const input = tf.input({ shape: [8, 8, 3] });
    const bn = (x: Sym) => apply(tf.layers.batchNormalization({ center: !bf }), x);
    const conv1x1 = (x: Sym, filters: number) => bn(apply(tf.layers.conv2d({ filters, kernelSize: 1, padding: 'same', useBias: false }), x));
    const invertedResidual = (x: Sym, inC: number, outC: number, strides: number) => {
      let y = apply(relu6(), conv1x1(x, inC * 6)); // expand (fan-in of the linear projection: 6·inC ≥ 64)
      if (strides === 2) y = apply(tf.layers.zeroPadding2d({ padding: [[0, 1], [0, 1]] }), y); // Keras correct_pad for even sizes
      y = apply(tf.layers.depthwiseConv2d({ kernelSize: 3, strides, padding: strides === 2 ? 'valid' : 'same', useBias: false }), y);
      y = apply(relu6(), bn(y));
      y = conv1x1(y, outC); // project: linear
      return strides === 1 && inC === outC ? apply(tf.layers.add(), [x, y]) : y;
    };
    let x = apply(relu6(), bn(apply(tf.layers.conv2d({ filters: 16, kernelSize: 3, strides: 2, padding: 'same', useBias: false }), input)));
    x = invertedResidual(x, 16, 16, 1);
    x = invertedResidual(x, 16, 24, 2);
    x = invertedResidual(x, 24, 24, 1);
    x = apply(relu6(), conv1x1(x, 64));
    x = apply(tf.layers.globalAveragePooling2d({}), x);
    const out = apply(tf.layers.dense({ units: 4, activation: 'softmax', useBias: !bf }), x);
    return tf.model({ inputs: input, outputs: out });
  },
  logits: (m, xs) => beforeDenseSoftmax(m, xs),
  // ZeroPadding2D before the stride-2 depthwise conv loses nothing here: padded zeros get no
  // relevance under epsilon / zPlus / alphaBeta (only flat, wSquare, z-box would give them some).
  notConserving: {
    alphaBeta: 'a DepthwiseConv2D unit sums only kh·kw = 9 contributions of one channel (4 at a corner with same padding), many of them zero after ReLU6; units whose active contributions all have one sign are common, and alphaBeta(2, 1) then creates or destroys relevance by definition (2R or −R instead of R)',
  },
};

const inception: Family = {
  name: 'Inception block',
  build: (bf) => {
    const input = tf.input({ shape: [10, 10, 3] });
    const stem = convBn(input, 32, 3, bf);
    const b1 = convBn(stem, 8, 1, bf);
    const b2 = convBn(convBn(stem, 16, 1, bf), 8, 3, bf);
    const b3 = convBn(convBn(convBn(stem, 16, 1, bf), 8, 3, bf), 8, 3, bf); // 5x5 as two 3x3
    const b4 = convBn(apply(tf.layers.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same' }), stem), 8, 1, bf);
    const cat = apply(tf.layers.concatenate(), [b1, b2, b3, b4]);
    const gap = apply(tf.layers.globalAveragePooling2d({}), cat);
    const out = apply(tf.layers.dense({ units: 4, activation: 'softmax', useBias: !bf }), gap);
    return tf.model({ inputs: input, outputs: out });
  },
  logits: (m, xs) => beforeDenseSoftmax(m, xs),
};

const darknet: Family = {
  name: 'DarkNet',
  build: (bf) => {
    const input = tf.input({ shape: [8, 8, 3] });
    const dbl = (x: Sym, filters: number, kernelSize: number, strides = 1) => {
      const c = apply(tf.layers.conv2d({ filters, kernelSize, strides, padding: 'same', useBias: false }), x);
      return apply(tf.layers.leakyReLU({ alpha: 0.1 }), apply(tf.layers.batchNormalization({ center: !bf }), c));
    };
    let x = dbl(input, 16, 3);
    x = dbl(x, 32, 3, 2); // downsample
    const r = dbl(dbl(x, 16, 1), 32, 3);
    x = apply(tf.layers.add(), [x, r]);
    x = dbl(x, 32, 3, 2);
    x = apply(tf.layers.globalAveragePooling2d({}), x);
    const out = apply(tf.layers.dense({ units: 4, activation: 'softmax', useBias: !bf }), x);
    return tf.model({ inputs: input, outputs: out });
  },
  logits: (m, xs) => beforeDenseSoftmax(m, xs),
};

const teachable: Family = {
  name: 'Teachable Machine (nested models)',
  build: (bf) => {
    const input = tf.input({ shape: [16, 16, 3] });
    const bn = (x: Sym) => apply(tf.layers.batchNormalization({ center: !bf }), x);
    let x = apply(relu6(), bn(apply(tf.layers.conv2d({ filters: 32, kernelSize: 3, strides: 2, padding: 'same', useBias: false }), input)));
    x = apply(relu6(), bn(apply(tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false }), x)));
    x = apply(relu6(), bn(apply(tf.layers.conv2d({ filters: 32, kernelSize: 1, useBias: false }), x)));
    x = apply(tf.layers.globalAveragePooling2d({}), x);
    const features = tf.model({ inputs: input, outputs: x });
    const head = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [32], units: 32, activation: 'relu', useBias: !bf }), tf.layers.dense({ units: 3, activation: 'softmax', useBias: !bf })],
    });
    return tf.sequential({ layers: [features, head] });
  },
  logits: (m, xs) => {
    const [features, head] = m.layers as unknown as tf.LayersModel[];
    const f = features.predict(xs[0]) as tf.Tensor;
    return denseForward(head.layers[1], tf.relu(denseForward(head.layers[0], f)));
  },
  notConserving: {
    alphaBeta: 'a DepthwiseConv2D unit sums only kh·kw = 9 contributions of one channel (4 at a corner with same padding), many of them zero after ReLU6; units whose active contributions all have one sign are common, and alphaBeta(2, 1) then creates or destroys relevance by definition (2R or −R instead of R)',
  },
};

const cnn1d: Family = {
  name: '1-D CNN',
  build: (bf) => tf.sequential({
    layers: [
      tf.layers.conv1d({ inputShape: [24, 4], filters: 16, kernelSize: 5, padding: 'same', activation: 'relu', useBias: !bf }),
      tf.layers.maxPooling1d({ poolSize: 2 }),
      tf.layers.conv1d({ filters: 32, kernelSize: 3, activation: 'relu', useBias: !bf }),
      tf.layers.globalAveragePooling1d({}),
      tf.layers.dense({ units: 4, activation: 'softmax', useBias: !bf }),
    ],
  }),
  logits: (m, xs) => beforeDenseSoftmax(m, xs),
};

const textConv: Family = {
  name: 'text: Embedding + Conv1D + GlobalMaxPooling1D',
  vocab: 40,
  build: (bf) => {
    const input = tf.input({ shape: [12], dtype: 'int32' });
    let x = apply(tf.layers.embedding({ inputDim: 40, outputDim: 16 }), input);
    x = apply(tf.layers.conv1d({ filters: 32, kernelSize: 3, activation: 'relu', useBias: !bf }), x);
    x = apply(tf.layers.globalMaxPooling1d({}), x);
    const out = apply(tf.layers.dense({ units: 3, activation: 'softmax', useBias: !bf }), x);
    return tf.model({ inputs: input, outputs: out });
  },
  logits: (m, xs) => beforeDenseSoftmax(m, xs),
};

const textBag: Family = {
  name: 'text: Embedding + GlobalAveragePooling1D + Dense',
  vocab: 40,
  build: (bf) => {
    const input = tf.input({ shape: [12], dtype: 'int32' });
    let x = apply(tf.layers.embedding({ inputDim: 40, outputDim: 32 }), input);
    x = apply(tf.layers.globalAveragePooling1d({}), x);
    x = apply(tf.layers.dense({ units: 32, activation: 'relu', useBias: !bf }), x);
    const out = apply(tf.layers.dense({ units: 3, activation: 'softmax', useBias: !bf }), x);
    return tf.model({ inputs: input, outputs: out });
  },
  logits: (m, xs) => beforeDenseSoftmax(m, xs),
};

const multiInput: Family = {
  name: 'multi-input (image + tabular)',
  build: (bf) => {
    const image = tf.input({ shape: [8, 8, 3], name: 'image' });
    const table = tf.input({ shape: [10], name: 'table' });
    let a = apply(tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu', useBias: !bf }), image);
    a = apply(tf.layers.maxPooling2d({ poolSize: 2 }), a);
    a = apply(tf.layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu', useBias: !bf }), a);
    a = apply(tf.layers.globalAveragePooling2d({}), a);
    const b = apply(tf.layers.dense({ units: 32, activation: 'relu', useBias: !bf }), table);
    const cat = apply(tf.layers.concatenate(), [a, b]);
    const h = apply(tf.layers.dense({ units: 32, activation: 'relu', useBias: !bf }), cat);
    const out = apply(tf.layers.dense({ units: 3, activation: 'softmax', useBias: !bf }), h);
    return tf.model({ inputs: [image, table], outputs: out });
  },
  logits: (m, xs) => beforeDenseSoftmax(m, xs),
};

const multiOutput: Family = {
  name: 'multi-output (two heads)',
  outputs: [0, 1],
  linearOutputs: [1],
  build: (bf) => {
    const input = tf.input({ shape: [10, 10, 3] });
    let x = apply(tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu', useBias: !bf }), input);
    x = apply(tf.layers.conv2d({ filters: 32, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', useBias: !bf }), x);
    x = apply(tf.layers.globalAveragePooling2d({}), x);
    const cls = apply(tf.layers.dense({ units: 4, activation: 'softmax', useBias: !bf, name: 'class_head' }), x);
    const h = apply(tf.layers.dense({ units: 32, activation: 'relu', useBias: !bf }), x);
    const reg = apply(tf.layers.dense({ units: 2, useBias: !bf, name: 'regression_head' }), h);
    return tf.model({ inputs: input, outputs: [cls, reg] });
  },
  logits: (m, xs, output) => {
    if (output === 0) {
      const headLayer = m.getLayer('class_head');
      return denseForward(headLayer, valueOf(m, headLayer.input as Sym, xs));
    }
    return (m.predict(xs[0]) as tf.Tensor[])[1]; // no final activation: the output is the logit
  },
};

const textRecurrent: Family = {
  name: 'text LSTM → GRU (Embedding maskZero)',
  vocab: 30,
  build: (bf) => {
    const input = tf.input({ shape: [12], dtype: 'int32' });
    // token 0 is padding: the recurrent layers skip those steps (Keras masks)
    // (8-dim embeddings: with 16, one of the seeded LSTM pre-activations lies within 1e-4 of 0,
    // where LRP-ε with ε = 1e-6 amplifies float32 differences between backends beyond 1e-3)
    let x = apply(tf.layers.embedding({ inputDim: 30, outputDim: 8, maskZero: true }), input);
    x = apply(tf.layers.lstm({ units: 16, returnSequences: true, useBias: !bf }), x);
    x = apply(tf.layers.gru({ units: 16, useBias: !bf }), x);
    const out = apply(tf.layers.dense({ units: 3, activation: 'softmax', useBias: !bf }), x);
    return tf.model({ inputs: input, outputs: out });
  },
  logits: (m, xs) => beforeDenseSoftmax(m, xs),
};

const timeSeriesRnn: Family = {
  name: 'time series SimpleRNN',
  build: (bf) => {
    const input = tf.input({ shape: [10, 4] });
    let x = apply(tf.layers.simpleRNN({ units: 16, returnSequences: true, useBias: !bf }), input);
    x = apply(tf.layers.simpleRNN({ units: 16, goBackwards: true, useBias: !bf }), x);
    const out = apply(tf.layers.dense({ units: 3, activation: 'softmax', useBias: !bf }), x);
    return tf.model({ inputs: input, outputs: out });
  },
  logits: (m, xs) => beforeDenseSoftmax(m, xs),
};

const sequenceWrappers: Family = {
  name: 'sequence: TimeDistributed(Dense) + Bidirectional(LSTM)',
  build: (bf) => {
    const input = tf.input({ shape: [6, 4] });
    let x = apply(tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 16, activation: 'relu', useBias: !bf }) }), input);
    x = apply(tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 8, returnSequences: true, useBias: !bf }) as tf.RNN, mergeMode: 'concat' }), x);
    x = apply(tf.layers.globalAveragePooling1d({}), x);
    const out = apply(tf.layers.dense({ units: 3, activation: 'softmax', useBias: !bf }), x);
    return tf.model({ inputs: input, outputs: out });
  },
  logits: (m, xs) => beforeDenseSoftmax(m, xs),
};

const gatedBlock: Family = {
  name: 'gated block x ⊙ sigmoid(Dense(x)) (squeeze-and-excitation)',
  notConserving: {
    alphaBeta: 'the gate path is narrow: a unit of the 8-unit bottleneck Dense sums only 16 pooled ReLU channels (and the 16 gate units only 8), so units whose contributions all have one sign occur, and alphaBeta(2, 1) then creates or destroys relevance by definition (2R or −R instead of R)',
  },
  build: (bf) => {
    const input = tf.input({ shape: [8, 8, 3] });
    const x = apply(tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu', useBias: !bf }), input);
    let gate = apply(tf.layers.globalAveragePooling2d({}), x);
    gate = apply(tf.layers.dense({ units: 8, activation: 'relu', useBias: !bf }), gate);
    gate = apply(tf.layers.dense({ units: 16, activation: 'sigmoid', useBias: !bf }), gate);
    gate = apply(tf.layers.reshape({ targetShape: [1, 1, 16] }), gate);
    const gated = apply(tf.layers.multiply(), [x, gate]);
    let h = apply(tf.layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu', useBias: !bf }), gated);
    h = apply(tf.layers.globalAveragePooling2d({}), h);
    const out = apply(tf.layers.dense({ units: 3, activation: 'softmax', useBias: !bf }), h);
    return tf.model({ inputs: input, outputs: out });
  },
  logits: (m, xs) => beforeDenseSoftmax(m, xs),
};

const transformerBlock: Family = {
  name: 'transformer block (Dense, Dot, Softmax, Add, LayerNormalization)',
  build: (bf) => {
    const input = tf.input({ shape: [6, 16] });
    const q = apply(tf.layers.dense({ units: 16, useBias: !bf }), input);
    const k = apply(tf.layers.dense({ units: 16, useBias: !bf }), input);
    const v = apply(tf.layers.dense({ units: 16, useBias: !bf }), input);
    const weights = apply(tf.layers.softmax({ axis: -1 }), apply(tf.layers.dot({ axes: 2 }), [q, k]));
    const attended = apply(tf.layers.dot({ axes: [2, 1] }), [weights, v]);
    let x = apply(tf.layers.layerNormalization({ center: !bf }), apply(tf.layers.add(), [input, attended]));
    const ff = apply(tf.layers.dense({ units: 16, useBias: !bf }), apply(tf.layers.dense({ units: 32, activation: 'relu', useBias: !bf }), x));
    x = apply(tf.layers.layerNormalization({ center: !bf }), apply(tf.layers.add(), [x, ff]));
    x = apply(tf.layers.globalAveragePooling1d({}), x);
    const out = apply(tf.layers.dense({ units: 3, activation: 'softmax', useBias: !bf }), x);
    return tf.model({ inputs: input, outputs: out });
  },
  logits: (m, xs) => beforeDenseSoftmax(m, xs),
};

const videoWrappers: Family = {
  name: 'video: TimeDistributed(Conv2D) + Bidirectional(GRU sum, SimpleRNN mul, LSTM ave)',
  build: (bf) => {
    // [T, H, W, C] frames: TimeDistributed(Conv2D) has rank-5 tensors (folded to rank 4 for the GPU)
    const input = tf.input({ shape: [4, 6, 6, 2] });
    let x = apply(tf.layers.timeDistributed({ layer: tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', useBias: !bf }) }), input);
    x = apply(tf.layers.timeDistributed({ layer: tf.layers.maxPooling2d({ poolSize: 2 }) }), x);
    x = apply(tf.layers.timeDistributed({ layer: tf.layers.flatten() }), x);
    x = apply(tf.layers.bidirectional({ layer: tf.layers.gru({ units: 8, returnSequences: true, useBias: !bf }) as tf.RNN, mergeMode: 'sum' }), x);
    x = apply(tf.layers.bidirectional({ layer: tf.layers.simpleRNN({ units: 8, returnSequences: true, useBias: !bf }) as tf.RNN, mergeMode: 'mul' }), x);
    x = apply(tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 8, useBias: !bf }) as tf.RNN, mergeMode: 'ave' }), x);
    const out = apply(tf.layers.dense({ units: 3, activation: 'softmax', useBias: !bf }), x);
    return tf.model({ inputs: input, outputs: out });
  },
  logits: (m, xs) => beforeDenseSoftmax(m, xs),
};

const cnn3d: Family = {
  name: '3-D CNN on volumes (Conv3D, MaxPooling3D, AveragePooling3D)',
  build: (bf) => {
    // [D, H, W, C] volumes: rank-5 tensors through Conv3D and the 3-D pools (GPU policy: test/gpu-safety.test.ts)
    const input = tf.input({ shape: [6, 8, 8, 1] });
    let x = apply(tf.layers.conv3d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', useBias: !bf }), input);
    x = apply(tf.layers.maxPooling3d({ poolSize: 2 }), x);
    x = apply(tf.layers.conv3d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu', useBias: !bf }), x);
    x = apply(tf.layers.averagePooling3d({ poolSize: [3, 2, 2] }), x);
    x = apply(tf.layers.flatten(), x);
    const out = apply(tf.layers.dense({ units: 3, activation: 'softmax', useBias: !bf }), x);
    return tf.model({ inputs: input, outputs: out });
  },
  logits: (m, xs) => beforeDenseSoftmax(m, xs),
};

const preprocessingFront: Family = {
  name: 'preprocessing front (Rescaling, CenterCrop) + CNN',
  build: (bf) => {
    const input = tf.input({ shape: [12, 12, 3] });
    const scaled = apply(tf.layers.rescaling({ scale: 2, offset: 0 }), input);
    // (tfjs 4.22's CenterCrop writes its output size into its input's shape: a Reshape keeps the model input intact)
    const cropped = apply(tf.layers.centerCrop({ height: 8, width: 8 }), apply(tf.layers.reshape({ targetShape: [12, 12, 3] }), scaled));
    let x = apply(tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu', useBias: !bf }), cropped);
    x = apply(tf.layers.maxPooling2d({ poolSize: 2 }), x);
    x = apply(tf.layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu', useBias: !bf }), x);
    x = apply(tf.layers.globalAveragePooling2d({}), x);
    const out = apply(tf.layers.dense({ units: 3, activation: 'softmax', useBias: !bf }), x);
    return tf.model({ inputs: input, outputs: out });
  },
  logits: (m, xs) => beforeDenseSoftmax(m, xs),
};

export const FAMILIES: Family[] = [vgg, resnetV1, resnetV2, mobilenetV1, mobilenetV2, inception, darknet, teachable, cnn1d, textConv, textBag, multiInput, multiOutput, textRecurrent, timeSeriesRnn, sequenceWrappers, gatedBlock, transformerBlock, preprocessingFront, videoWrappers, cnn3d];

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/**
 * Seeded weights at a scale that keeps activations O(1) through the deep stacks. randomizeWeights
 * draws kernels with Var = 1/fan_in, takes kh·kw·C (not kh·kw) as the fan-in of a
 * DepthwiseConv2D, and BN gains γ ~ U(−1.5, 1.5); through ReLU + BN blocks the activations then
 * shrink ~0.35× per block and the bias-free logits end near 1e-4, where ε = 1e-6 absorbs a visible
 * share and |score| > 1e-2 fails. So after randomizeWeights: kernels × √2 (He), depthwise kernels
 * × √(2C), embeddings × √vocab (a lookup has fan-in 1, not the vocabulary size), |γ| mapped into
 * [0.75, 1.5] (sign kept). Biases and BN shifts are left as drawn.
 */
export function seededWeights(model: tf.LayersModel, seed: number, biasFree: boolean): void {
  randomizeWeights(model, seed, { biasFree });
  const rescale = (m: tf.LayersModel): void => {
    for (const layer of m.layers) {
      if (isModel(layer)) {
        rescale(layer as unknown as tf.LayersModel);
        continue;
      }
      if (layer.weights.length === 0) continue;
      const className = layer.getClassName();
      const values = tf.tidy(() => layer.weights.map((w, i) => {
        const v = layer.getWeights()[i];
        const name = w.originalName ?? w.name;
        if (/gamma/.test(name)) return tf.mul(tf.sign(v), tf.add(0.75, tf.mul(0.5, tf.abs(v))));
        if (/embeddings/.test(name)) return tf.mul(v, Math.sqrt(w.shape[0] as number));
        if (!/kernel/.test(name)) return tf.clone(v);
        if (className === 'DepthwiseConv2D') return tf.mul(v, Math.sqrt(2 * (w.shape[2] as number)));
        return tf.mul(v, Math.SQRT2);
      }));
      layer.setWeights(values);
      tf.dispose(values);
    }
  };
  rescale(model);
}

// ---------------------------------------------------------------------------------------------

export const CONFIGS: Array<[string, ExplainOptions]> = [
  ['rule epsilon', { rule: 'epsilon' }],
  ['epsilonPlus', { composite: 'epsilonPlus' }],
  ['epsilonPlusFlat', { composite: 'epsilonPlusFlat' }],
  ['epsilonGammaBox', { composite: 'epsilonGammaBox', low: LOW, high: HIGH }],
  ['epsilonAlpha2Beta1', { composite: 'epsilonAlpha2Beta1' }],
  ['epsilonAlpha2Beta1Flat', { composite: 'epsilonAlpha2Beta1Flat' }],
];

export const CONSERVING: Array<[string, ExplainOptions]> = [
  ['epsilon', { rule: 'epsilon' }],
  ['zPlus', { rule: 'zPlus' }],
  ['alphaBeta', { rule: 'alphaBeta', alpha: 2, beta: 1 }],
];

/** A seeded batch for every model input: token ids for int32 inputs, uniform [lo, hi) otherwise. */
export function makeInputs(model: tf.LayersModel, family: Family, seed: number, lo: number, hi: number): tf.Tensor[] {
  return model.inputs.map((input, i) => {
    const shape = [N, ...(input.shape.slice(1) as number[])];
    if (input.dtype === 'int32') {
      const r = rng(seed + i);
      const size = shape.reduce((a, b) => a * b, 1);
      return tf.tensor(Array.from({ length: size }, () => Math.floor(r() * (family.vocab as number))), shape, 'int32');
    }
    return uniform(shape, seed + i, lo, hi);
  });
}
