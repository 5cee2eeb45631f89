/**
 * The MobileNet-v2-sized benchmark model (Keras MobileNetV2 structure, alpha 1.0, 224x224x3, 1000
 * classes, seeded weights), written against a tf namespace passed in so that it also runs in a
 * browser page with the page's own tf (scripts/bench-backends.ts bundles it). Used by
 * `npm run bench:mobilenet` and `npm run bench:backends`.
 */
import type * as TfNamespace from '@tensorflow/tfjs';

type Tf = typeof TfNamespace;

type Sym = TfNamespace.SymbolicTensor;
const apply = (layer: TfNamespace.layers.Layer, x: Sym | Sym[]): Sym => layer.apply(x) as Sym;

/** The Keras MobileNetV2 graph on `tf` (inverted residuals, ReLU6, BatchNorm, ZeroPadding before strided depthwise). */
export function mobileNetV2(tf: Tf, size = 224, classes = 1000): TfNamespace.LayersModel {
  const input = tf.input({ shape: [size, size, 3] });
  const convBn = (x: Sym, filters: number, kernel: number, strides: number, relu6: boolean): Sym => {
    let y = apply(tf.layers.conv2d({ filters, kernelSize: kernel, strides, padding: 'same', useBias: false }), x);
    y = apply(tf.layers.batchNormalization({ epsilon: 1e-3, momentum: 0.999 }), y);
    return relu6 ? apply(tf.layers.reLU({ maxValue: 6 }), y) : y;
  };
  let x = convBn(input, 32, 3, 2, true);
  let channels = 32;
  const blocks: Array<[number, number, number, number]> = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]];
  for (const [t, c, n, s] of blocks) {
    for (let i = 0; i < n; i++) {
      const stride = i === 0 ? s : 1;
      const shortcut = x;
      let y = t === 1 ? x : convBn(x, channels * t, 1, 1, true);
      if (stride === 2) y = apply(tf.layers.zeroPadding2d({ padding: [[0, 1], [0, 1]] }), y);
      y = apply(tf.layers.depthwiseConv2d({ kernelSize: 3, strides: stride, padding: stride === 2 ? 'valid' : 'same', useBias: false }), y);
      y = apply(tf.layers.batchNormalization({ epsilon: 1e-3 }), y);
      y = apply(tf.layers.reLU({ maxValue: 6 }), y);
      y = convBn(y, c, 1, 1, false);
      x = stride === 1 && channels === c ? apply(tf.layers.add(), [shortcut, y]) : y;
      channels = c;
    }
  }
  x = convBn(x, 1280, 1, 1, true);
  x = apply(tf.layers.globalAveragePooling2d({}), x);
  const out = apply(tf.layers.dense({ units: classes, activation: 'softmax' }), x);
  const model = tf.model({ inputs: input, outputs: out, name: 'mobilenet_v2_sized' });
  // Seeded weights: He-normal kernels, BatchNorm statistics of order 1.
  let seed = 7;
  const weights = model.weights.map((w) => {
    const shape = w.shape as number[];
    const name = w.originalName;
    if (/moving_variance/.test(name)) return tf.randomUniform(shape, 0.5, 1.5, 'float32', seed++);
    if (/gamma/.test(name)) return tf.randomUniform(shape, 0.5, 1.5, 'float32', seed++);
    if (/moving_mean|beta|bias/.test(name)) return tf.randomNormal(shape, 0, 0.05, 'float32', seed++);
    const fanIn = /depthwise/.test(name) ? shape[0] * shape[1] : shape.slice(0, -1).reduce((a, b) => a * b, 1);
    return tf.randomNormal(shape, 0, Math.sqrt(2 / fanIn), 'float32', seed++);
  });
  model.setWeights(weights);
  tf.dispose(weights);
  return model;
}

/** The seeded input batch of the MobileNet benchmarks (uniform [0, 1)). */
export function mobileNetInput(tf: Tf, batch: number, size = 224): TfNamespace.Tensor4D {
  return tf.randomUniform([batch, size, size, 3], 0, 1, 'float32', 11) as TfNamespace.Tensor4D;
}
