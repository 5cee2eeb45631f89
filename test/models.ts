/**
 * Small models of every supported layer type, with seeded random weights (pre-activations of both
 * signs, non-zero biases). Each entry builds the model and its input batch.
 */
import * as tf from '@tensorflow/tfjs';
import { randomizeWeights, uniform } from './helpers';

/**
 * A small image model whose first conv reads the model input (6×6×3 → conv 4, max pool, conv 5,
 * flatten, dense 3), without weights set: the input-declared-≥-0 tests seed it.
 */
export function smallImageCnn(): tf.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ inputShape: [6, 6, 3], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tf.layers.conv2d({ filters: 5, kernelSize: 3, padding: 'same', activation: 'relu' }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 3 }));
  return m;
}

export interface TestCase {
  /** What the case covers (layer classes). */
  readonly name: string;
  build(biasFree?: boolean): { model: tf.LayersModel; inputs: tf.Tensor[] };
  /** Per-sample classes for a batch of 3. */
  readonly classes: number[];
  /** z-box bounds for the first layer's input (inputs lie inside). */
  readonly bounds?: [number, number];
}

/**
 * tfjs-layers 4.22 has no SpatialDropout2D; Keras models that use it load once the user registers
 * a class of that name. This is such a class: the identity at inference, like Keras'.
 */
class SpatialDropout2D extends tf.layers.Layer {
  static className = 'SpatialDropout2D';
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.clone(Array.isArray(inputs) ? inputs[0] : inputs);
  }
}
tf.serialization.registerClass(SpatialDropout2D);

const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]): tf.SymbolicTensor => layer.apply(x) as tf.SymbolicTensor;

function seq(layers: tf.layers.Layer[], seed: number, biasFree = false): tf.Sequential {
  const m = tf.sequential({ layers });
  randomizeWeights(m, seed, { biasFree });
  return m;
}

const batch = 3;
const img = (h: number, w: number, c: number, seed: number) => uniform([batch, h, w, c], seed, -1, 1);

export const CASES: TestCase[] = [
  {
    name: 'Dense (relu, tanh, softmax fused)',
    classes: [0, 2, 1],
    bounds: [-1, 1],
    build: (bf) => ({
      model: seq([
        tf.layers.dense({ inputShape: [6], units: 5, activation: 'relu', useBias: !bf }),
        tf.layers.dense({ units: 4, activation: 'tanh', useBias: !bf }),
        tf.layers.dense({ units: 3, activation: 'softmax', useBias: !bf }),
      ], 11, bf),
      inputs: [uniform([batch, 6], 1)],
    }),
  },
  {
    name: 'Conv2D same/valid/strided/dilated, ReLU, Flatten',
    classes: [1, 0, 2],
    bounds: [-1, 1],
    build: (bf) => ({
      model: seq([
        tf.layers.conv2d({ inputShape: [7, 7, 2], filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', useBias: !bf }),
        tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'valid', useBias: !bf }),
        tf.layers.reLU(),
        tf.layers.conv2d({ filters: 3, kernelSize: 2, padding: 'same', dilationRate: 1, useBias: !bf }),
        tf.layers.conv2d({ filters: 3, kernelSize: 2, strides: 2, padding: 'same', activation: 'relu', useBias: !bf }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 3, useBias: !bf }),
      ], 12, bf),
      inputs: [img(7, 7, 2, 2)],
    }),
  },
  {
    name: 'Conv2D dilated',
    classes: [1, 1, 0],
    bounds: [-1, 1],
    build: (bf) => ({
      model: seq([
        tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 2, kernelSize: 3, padding: 'same', dilationRate: 2, activation: 'relu', useBias: !bf }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 2, useBias: !bf }),
      ], 13, bf),
      inputs: [img(8, 8, 1, 3)],
    }),
  },
  {
    name: 'MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D',
    classes: [0, 1, 2],
    bounds: [-1, 1],
    build: (bf) => ({
      model: seq([
        tf.layers.conv2d({ inputShape: [9, 9, 2], filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', useBias: !bf }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.conv2d({ filters: 4, kernelSize: 2, padding: 'same', activation: 'relu', useBias: !bf }),
        tf.layers.averagePooling2d({ poolSize: 2, strides: 1, padding: 'valid' }),
        tf.layers.globalAveragePooling2d({}),
        tf.layers.dense({ units: 3, useBias: !bf }),
      ], 14, bf),
      inputs: [img(9, 9, 2, 4)],
    }),
  },
  {
    name: 'AveragePooling2D borders, GlobalMaxPooling2D',
    classes: [1, 0, 1],
    bounds: [-1, 1],
    build: (bf) => ({
      model: seq([
        tf.layers.conv2d({ inputShape: [5, 5, 2], filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', useBias: !bf }),
        tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }),
        tf.layers.conv2d({ filters: 3, kernelSize: 1, useBias: !bf }),
        tf.layers.globalMaxPooling2d({}),
        tf.layers.dense({ units: 2, useBias: !bf }),
      ], 15, bf),
      inputs: [img(5, 5, 2, 5)],
    }),
  },
  {
    name: 'Conv1D, MaxPooling1D, AveragePooling1D, GlobalAveragePooling1D, GlobalMaxPooling1D',
    classes: [0, 1, 0],
    bounds: [-1, 1],
    build: (bf) => {
      const input = tf.input({ shape: [12, 3] });
      const c1 = apply(tf.layers.conv1d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', useBias: !bf }), input);
      const p1 = apply(tf.layers.maxPooling1d({ poolSize: 2 }), c1);
      const c2 = apply(tf.layers.conv1d({ filters: 4, kernelSize: 2, strides: 1, padding: 'valid', activation: 'relu', useBias: !bf }), p1);
      const p2 = apply(tf.layers.averagePooling1d({ poolSize: 3, strides: 1, padding: 'same' }), c2);
      const g1 = apply(tf.layers.globalAveragePooling1d({}), p2);
      const g2 = apply(tf.layers.globalMaxPooling1d({}), c2);
      const cat = apply(tf.layers.concatenate(), [g1, g2]);
      const out = apply(tf.layers.dense({ units: 2, useBias: !bf }), cat);
      const model = tf.model({ inputs: input, outputs: out });
      randomizeWeights(model, 16, { biasFree: bf });
      return { model, inputs: [uniform([batch, 12, 3], 6)] };
    },
  },
  {
    name: 'DepthwiseConv2D, BatchNormalization (merged), ReLU6',
    classes: [2, 0, 1],
    bounds: [-1, 1],
    build: (bf) => ({
      model: seq([
        tf.layers.conv2d({ inputShape: [8, 8, 2], filters: 3, kernelSize: 3, padding: 'same', useBias: false }),
        tf.layers.batchNormalization({ center: !bf }),
        tf.layers.reLU({ maxValue: 6 }),
        tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same', useBias: false }),
        tf.layers.batchNormalization({ center: !bf }),
        tf.layers.reLU({ maxValue: 6 }),
        tf.layers.conv2d({ filters: 4, kernelSize: 1, useBias: !bf }),
        tf.layers.globalAveragePooling2d({}),
        tf.layers.dense({ units: 3, useBias: !bf }),
      ], 17, bf),
      inputs: [img(8, 8, 2, 7)],
    }),
  },
  {
    name: 'SeparableConv2D',
    classes: [1, 0, 0],
    bounds: [-1, 1],
    build: (bf) => ({
      model: seq([
        tf.layers.separableConv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'relu', useBias: !bf }),
        tf.layers.separableConv2d({ filters: 3, kernelSize: 3, strides: 2, padding: 'valid', useBias: !bf }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 2, useBias: !bf }),
      ], 18, bf),
      inputs: [img(6, 6, 2, 8)],
    }),
  },
  {
    name: 'Conv2DTranspose',
    classes: [0, 1, 1],
    bounds: [-1, 1],
    build: (bf) => ({
      model: seq([
        tf.layers.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', useBias: !bf }),
        tf.layers.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', useBias: !bf }),
        tf.layers.conv2dTranspose({ filters: 2, kernelSize: 2, strides: 1, padding: 'valid', useBias: !bf }),
        tf.layers.conv2dTranspose({ filters: 2, kernelSize: 2, strides: 3, padding: 'valid', useBias: !bf }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 2, useBias: !bf }),
      ], 19, bf),
      inputs: [img(6, 6, 2, 9)],
    }),
  },
  {
    name: 'BatchNormalization merged into Dense, and unmerged after an activation',
    classes: [0, 1, 2],
    bounds: [-1, 1],
    build: (bf) => ({
      model: seq([
        tf.layers.dense({ inputShape: [5], units: 6, useBias: !bf }),
        tf.layers.batchNormalization({ center: !bf }),
        tf.layers.activation({ activation: 'relu' }),
        tf.layers.dense({ units: 4, activation: 'relu', useBias: !bf }),
        tf.layers.batchNormalization({ center: !bf }),
        tf.layers.dense({ units: 3, useBias: !bf }),
      ], 20, bf),
      inputs: [uniform([batch, 5], 10)],
    }),
  },
  {
    name: 'Reshape, Permute, Flatten, Dropout, SpatialDropout1D',
    classes: [1, 1, 0],
    bounds: [-1, 1],
    build: (bf) => ({
      model: seq([
        tf.layers.dense({ inputShape: [6], units: 12, activation: 'relu', useBias: !bf }),
        tf.layers.reshape({ targetShape: [3, 4] }),
        tf.layers.permute({ dims: [2, 1] }),
        tf.layers.spatialDropout1d({ rate: 0.5 }),
        tf.layers.dense({ units: 2, activation: 'relu', useBias: !bf }),
        tf.layers.flatten(),
        tf.layers.dropout({ rate: 0.5 }),
        tf.layers.dense({ units: 2, useBias: !bf }),
      ], 21, bf),
      inputs: [uniform([batch, 6], 11)],
    }),
  },
  {
    name: 'ZeroPadding2D, Cropping2D, UpSampling2D',
    classes: [0, 0, 1],
    bounds: [-1, 1],
    build: (bf) => ({
      model: seq([
        tf.layers.conv2d({ inputShape: [5, 5, 1], filters: 2, kernelSize: 3, padding: 'same', activation: 'relu', useBias: !bf }),
        tf.layers.zeroPadding2d({ padding: [[1, 2], [0, 1]] }),
        tf.layers.conv2d({ filters: 2, kernelSize: 3, strides: 2, useBias: !bf }),
        tf.layers.upSampling2d({ size: [2, 3] }),
        tf.layers.cropping2D({ cropping: [[1, 0], [2, 1]] }),
        tf.layers.conv2d({ filters: 2, kernelSize: 2, activation: 'relu', useBias: !bf }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 2, useBias: !bf }),
      ], 22, bf),
      inputs: [img(5, 5, 1, 12)],
    }),
  },
  {
    name: 'Add (residual, fan-out), functional',
    classes: [2, 1, 0],
    bounds: [-1, 1],
    build: (bf) => {
      const input = tf.input({ shape: [6, 6, 2] });
      const a = apply(tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', useBias: !bf }), input);
      const b = apply(tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', useBias: !bf }), a);
      const c = apply(tf.layers.conv2d({ filters: 3, kernelSize: 1, useBias: !bf }), b);
      const s = apply(tf.layers.add(), [a, c]);
      const r = apply(tf.layers.reLU(), s);
      const g = apply(tf.layers.globalAveragePooling2d({}), r);
      const out = apply(tf.layers.dense({ units: 3, useBias: !bf }), g);
      const model = tf.model({ inputs: input, outputs: out });
      randomizeWeights(model, 23, { biasFree: bf });
      return { model, inputs: [img(6, 6, 2, 13)] };
    },
  },
  {
    name: 'Concatenate of parallel branches (Inception-style)',
    classes: [1, 0, 1],
    bounds: [-1, 1],
    build: (bf) => {
      const input = tf.input({ shape: [6, 6, 2] });
      const b1 = apply(tf.layers.conv2d({ filters: 2, kernelSize: 1, activation: 'relu', useBias: !bf }), input);
      const b2 = apply(tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', useBias: !bf }), input);
      const b3 = apply(tf.layers.maxPooling2d({ poolSize: 3, strides: 1, padding: 'same' }), input);
      const cat = apply(tf.layers.concatenate({ axis: -1 }), [b1, b2, b3]);
      const f = apply(tf.layers.flatten(), cat);
      const out = apply(tf.layers.dense({ units: 2, useBias: !bf }), f);
      const model = tf.model({ inputs: input, outputs: out });
      randomizeWeights(model, 24, { biasFree: bf });
      return { model, inputs: [img(6, 6, 2, 14)] };
    },
  },
  {
    name: 'LeakyReLU, ELU, Activation(sigmoid/tanh), final sigmoid',
    classes: [0, 0, 0],
    bounds: [-1, 1],
    build: (bf) => ({
      model: seq([
        tf.layers.dense({ inputShape: [5], units: 6, useBias: !bf }),
        tf.layers.leakyReLU({ alpha: 0.2 }),
        tf.layers.dense({ units: 6, useBias: !bf }),
        tf.layers.elu(),
        tf.layers.dense({ units: 5, useBias: !bf }),
        tf.layers.activation({ activation: 'tanh' }),
        tf.layers.dense({ units: 4, activation: 'sigmoid', useBias: !bf }),
        tf.layers.dense({ units: 1, useBias: !bf }),
        tf.layers.activation({ activation: 'sigmoid' }),
      ], 25, bf),
      inputs: [uniform([batch, 5], 15)],
    }),
  },
  {
    name: 'Embedding, Conv1D, GlobalMaxPooling1D (text)',
    classes: [1, 0, 1],
    bounds: [-1, 1],
    build: (bf) => {
      const model = seq([
        tf.layers.embedding({ inputDim: 12, outputDim: 4, inputLength: 7 }),
        tf.layers.conv1d({ filters: 5, kernelSize: 3, padding: 'same', activation: 'relu', useBias: !bf }),
        tf.layers.globalMaxPooling1d({}),
        tf.layers.dense({ units: 2, useBias: !bf }),
      ], 26, bf);
      const tokens = tf.tensor2d([[1, 4, 7, 2, 0, 11, 3], [5, 5, 6, 9, 10, 1, 2], [0, 3, 8, 8, 4, 2, 7]]);
      return { model, inputs: [tokens] };
    },
  },
  {
    name: 'nested models: Sequential inside a Model, Teachable-Machine-style nesting',
    classes: [1, 2, 0],
    bounds: [-1, 1],
    build: (bf) => {
      const innerInput = tf.input({ shape: [6, 6, 1] });
      const ic = apply(tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', useBias: !bf }), innerInput);
      const ip = apply(tf.layers.globalAveragePooling2d({}), ic);
      const base = tf.model({ inputs: innerInput, outputs: ip, name: 'base' });
      const head = tf.sequential({
        name: 'head',
        layers: [tf.layers.dense({ inputShape: [3], units: 4, activation: 'relu', useBias: !bf }), tf.layers.dense({ units: 3, activation: 'softmax', useBias: !bf })],
      });
      const model = tf.sequential({ layers: [base, head] });
      randomizeWeights(model, 27, { biasFree: bf });
      return { model, inputs: [img(6, 6, 1, 16)] };
    },
  },
  {
    name: 'multi-input (two inputs, Concatenate)',
    classes: [0, 1, 1],
    bounds: [-1, 1],
    build: (bf) => {
      const a = tf.input({ shape: [4] });
      const b = tf.input({ shape: [3] });
      const da = apply(tf.layers.dense({ units: 3, activation: 'relu', useBias: !bf }), a);
      const db = apply(tf.layers.dense({ units: 3, activation: 'relu', useBias: !bf }), b);
      const cat = apply(tf.layers.concatenate(), [da, db]);
      const out = apply(tf.layers.dense({ units: 2, useBias: !bf }), cat);
      const model = tf.model({ inputs: [a, b], outputs: out });
      randomizeWeights(model, 28, { biasFree: bf });
      return { model, inputs: [uniform([batch, 4], 17), uniform([batch, 3], 18)] };
    },
  },
  {
    name: 'Softmax layer (final), SpatialDropout2D, InputLayer',
    classes: [2, 2, 0],
    bounds: [-1, 1],
    build: (bf) => {
      const input = tf.input({ shape: [5, 5, 2] });
      const c = apply(tf.layers.conv2d({ filters: 3, kernelSize: 3, activation: 'relu', useBias: !bf }), input);
      const d = apply(new SpatialDropout2D({ name: 'spatial_dropout' }), c);
      const f = apply(tf.layers.flatten(), d);
      const z = apply(tf.layers.dense({ units: 3, useBias: !bf }), f);
      const out = apply(tf.layers.softmax(), z);
      const model = tf.model({ inputs: input, outputs: out });
      randomizeWeights(model, 29, { biasFree: bf });
      return { model, inputs: [img(5, 5, 2, 19)] };
    },
  },
];
