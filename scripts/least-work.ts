/**
 * The least work of an epsilonPlus pass (z⁺ on every convolution, ε on the dense layers) on a
 * Sequential of 3×3 'same' Conv2D (ReLU), 2×2 MaxPooling2D, Flatten and Dense layers such as
 * bench-cnn, with the input declared ≥ 0: every kernel an implementation on tf ops cannot leave out,
 * and one full-size kernel per max pool in place of its routing. scripts/bench-floor.ts times it
 * next to predict; test/least-work.test.ts checks that with the engine's routing it is the engine's
 * relevance, so that the bound leaves out no work an epsilonPlus call needs.
 */
import * as tf from '@tensorflow/tfjs';
import { divideStabilized } from '../rules/stabilize';
import { DerivedTensors, markConstantWeight, withDerivedTensors } from '../src/ops/derived';
import { conv2dTransposeByCorrelation, type Conv2DGeometry } from '../src/ops/conv';
import { maxPoolTranspose } from '../src/ops/pool';

/** What {@link leastWorkEpsilonPlus} returns. */
export interface LeastWork {
  /**
   * One pass. `'stand-in'` (default): one broadcast multiply per max pool, which routes nothing
   * correctly (the least any routing writes; on WebGPU the engine's one-shader routing, as rank-5
   * broadcasts do not compile there); `'engine'`: the engine's routing (`maxPoolTranspose`).
   */
  readonly run: (routing?: 'stand-in' | 'engine') => tf.Tensor;
  /** Releases the kept weight-derived tensors and its store. */
  readonly dispose: () => void;
}

const SAME_3X3: Conv2DGeometry = { kernelSize: [3, 3], strides: [1, 1], dilation: [1, 1], pads: [[1, 1], [1, 1]] };

/** Throws unless `layer` is one of the layers {@link leastWorkEpsilonPlus} is written for. */
function requireSupported(layer: tf.layers.Layer): void {
  const cls = layer.getClassName();
  const config = layer.getConfig();
  const same = (v: unknown, n: number): boolean => (Array.isArray(v) ? v.every((e) => e === n) : v === n);
  const ok =
    (cls === 'Conv2D' && same(config.kernelSize, 3) && same(config.strides, 1) && same(config.dilationRate, 1) && config.padding === 'same' && config.activation === 'relu' && config.useBias === true) ||
    (cls === 'MaxPooling2D' && same(config.poolSize, 2) && same(config.strides, 2) && config.padding === 'valid') ||
    (cls === 'Dense' && config.useBias === true && (config.activation === 'relu' || config.activation === 'linear')) ||
    cls === 'Flatten';
  if (!ok) throw new Error(`leastWorkEpsilonPlus: layer '${layer.name}' (${cls}) is not a 3×3 'same' ReLU Conv2D with bias, a 2×2 MaxPooling2D of stride 2, a Flatten or a Dense with bias (ReLU or linear)`);
}

/**
 * The least work of an epsilonPlus pass of `model` on `x` (≥ 0) for `classIdx`. Runs the engine's
 * transposed convolutions in a derived-tensor store of its own, which keeps their flipped kernels
 * from call to call as an explainer does (without one they would be derived in every call, and
 * the bound would time work a call does not do).
 */
export function leastWorkEpsilonPlus(model: tf.Sequential, x: tf.Tensor4D, classIdx: number): LeastWork {
  model.layers.forEach(requireSupported);
  const batch = x.shape[0];
  const kept: tf.Tensor[] = [];
  // made in a tidy of its own (intermediates released), kept until dispose()
  const keep = <T extends tf.Tensor>(make: () => T): T => {
    const t = tf.tidy(make);
    kept.push(t);
    return t;
  };
  type Step =
    | { kind: 'conv'; kernel: tf.Tensor4D; bias: tf.Tensor1D; positive: tf.Tensor4D; positiveBias: tf.Tensor1D }
    | { kind: 'pool' }
    | { kind: 'dense'; kernel: tf.Tensor2D; bias: tf.Tensor1D; transposed: tf.Tensor2D; relu: boolean };
  const steps: Step[] = model.layers.flatMap((layer): Step[] => {
    const cls = layer.getClassName();
    if (cls === 'MaxPooling2D') return [{ kind: 'pool' }];
    if (cls === 'Flatten') return [];
    const [kernel, bias] = layer.getWeights();
    if (cls === 'Dense') return [{ kind: 'dense', kernel: kernel as tf.Tensor2D, bias: bias as tf.Tensor1D, transposed: keep(() => tf.transpose(kernel)) as tf.Tensor2D, relu: (layer.getConfig().activation as string) === 'relu' }];
    // marked as a weight: the transpose's flipped kernel is kept in the store, as an explainer keeps it
    const positive = markConstantWeight(keep(() => tf.relu(kernel))) as tf.Tensor4D;
    return [{ kind: 'conv', kernel: kernel as tf.Tensor4D, bias: bias as tf.Tensor1D, positive, positiveBias: keep(() => tf.add(tf.relu(bias), 1e-6)) as tf.Tensor1D }];
  });
  const classes = (model.outputs[0].shape as number[])[1];
  const target = keep(() => tf.oneHot(tf.fill([batch], classIdx, 'int32') as tf.Tensor1D, classes));
  const transpose = (g: tf.Tensor4D, kernel: tf.Tensor4D): tf.Tensor4D => conv2dTransposeByCorrelation(g, kernel, g.shape[1], g.shape[2], SAME_3X3);
  const routed = (input: tf.Tensor4D, pooled: tf.Tensor4D, dy: tf.Tensor4D, routing: 'stand-in' | 'engine'): tf.Tensor4D => {
    const [n, h, w, c] = input.shape;
    if (routing === 'engine' || tf.getBackend() === 'webgpu') return maxPoolTranspose(input, pooled, dy, [2, 2], [2, 2], 'valid');
    return tf.reshape(tf.mul(tf.reshape(input, [n * (h / 2), 2, w / 2, 2, c]), tf.reshape(dy, [n * (h / 2), 1, w / 2, 1, c])), input.shape) as tf.Tensor4D;
  };
  const store = new DerivedTensors();
  const run = (routing: 'stand-in' | 'engine' = 'stand-in'): tf.Tensor =>
    withDerivedTensors(store, () => tf.tidy(() => {
      // the record: predict's kernels, keeping each layer's input and output
      const inputs: tf.Tensor[] = [];
      const outputs: tf.Tensor[] = [];
      let h: tf.Tensor = x;
      for (const step of steps) {
        inputs.push(h);
        if (step.kind === 'conv') h = tf.fused.conv2d({ x: h as tf.Tensor4D, filter: step.kernel, strides: 1, pad: 'same', bias: step.bias, activation: 'relu' });
        else if (step.kind === 'pool') h = tf.maxPool(h as tf.Tensor4D, 2, 2, 'valid');
        else {
          // ε divides by the pre-activation z: the record keeps it and applies the ReLU apart
          const z = tf.fused.matMul({ a: tf.reshape(h, [batch, -1]) as tf.Tensor2D, b: step.kernel, bias: step.bias });
          outputs.push(z);
          h = step.relu ? tf.relu(z) : z;
          continue;
        }
        outputs.push(h);
      }
      let relevance: tf.Tensor = tf.mul(h, target);
      for (let i = steps.length - 1; i >= 0; i--) {
        const step = steps[i];
        const input = inputs[i];
        if (step.kind === 'dense') {
          const flat = tf.reshape(input, [batch, -1]);
          relevance = tf.reshape(tf.mul(flat, tf.matMul(divideStabilized(relevance, outputs[i], 1e-6) as tf.Tensor2D, step.transposed)), input.shape);
        } else if (step.kind === 'pool') {
          relevance = routed(input as tf.Tensor4D, outputs[i] as tf.Tensor4D, relevance as tf.Tensor4D, routing);
        } else {
          const z = tf.fused.conv2d({ x: input as tf.Tensor4D, filter: step.positive, strides: 1, pad: 'same', bias: step.positiveBias });
          relevance = tf.mul(input, transpose(tf.div(relevance, z) as tf.Tensor4D, step.positive));
        }
      }
      return relevance;
    }));
  return {
    run,
    dispose: () => {
      tf.dispose(kept);
      store.dispose();
    },
  };
}

