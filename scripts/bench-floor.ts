/**
 * The floor of an LRP pass on bench-cnn: the convolutions that ε and epsilonPlus cannot avoid,
 * timed alone (no engine, no elementwise work, no pooling, no dense layers), as ratios to
 * `model.predict` of the same batch on the same backend.
 *
 *     npm run bench:floor                     # wasm, batch 32, 15 rounds
 *     npm run bench:floor -- --batch 8 --rounds 21
 *     npm run bench:floor -- --backend webgpu-node --batch 8    # or cpu
 *
 * Per convolution layer of bench-cnn (input [b, h, w, cin], kernel 3×3×cin×cout):
 * - ε: the forward record's convolution (fused bias and ReLU, as predict's) and one transposed
 *   convolution, cout → cin channels, by the engine's own op (`conv2dTransposeByCorrelation`:
 *   a forward convolution with the flipped kernel, or the backend's Conv2DBackpropInput where
 *   the engine takes it, as onto few channels on WebGL and WebGPU; flipped kernels kept as an
 *   explainer keeps them);
 * - epsilonPlus (z⁺ on every convolution): those, plus the rule's forward with W⁺; on the first
 *   layer that forward reads `[x⁺, x⁻]` (2·cin channels: the input may be negative) and the
 *   transpose gives 2·cin channels.
 * Each case is timed right after or before a predict call (alternately), and its ratio is over the
 * mean of the predict calls on either side; median [min, max] over the rounds. Inputs and kernels are
 * random tensors made once (their values do not change a convolution's time).
 */
import { performance } from 'perf_hooks';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from './backend';
import * as benchCnn from './bench-cnn';
import { median } from './paired';
import { conv2dTransposeByCorrelation, type Conv2DGeometry } from '../src/ops/conv';
import { DerivedTensors, markConstantWeight, withDerivedTensors } from '../src/ops/derived';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} needs a positive integer`);
  return v;
}

/** The backend of `--backend` (wasm, cpu or webgpu-node; default wasm, else cpu). */
async function backendOf(name: string): Promise<string> {
  if (name === 'wasm') return useBackend();
  if (name === 'cpu') {
    await tf.setBackend('cpu');
    return 'cpu';
  }
  if (name === 'webgpu-node') {
    const { useWebGPU } = await import('../src/node');
    const info = await useWebGPU();
    return `webgpu-node (${info.adapter})`;
  }
  throw new Error(`--backend: wasm, cpu or webgpu-node, got '${name}'`);
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--backend');
  const backend = await backendOf(i >= 0 ? (process.argv[i + 1] ?? '') : 'wasm');
  const batch = arg('batch', 32);
  const rounds = arg('rounds', 15);
  const model = benchCnn.buildBenchCnn(tf);
  const x = benchCnn.benchInput(tf, batch);
  const convs = model.layers.filter((l) => l.getClassName() === 'Conv2D').map((l, i) => {
    const [, h, w, cin] = (l.input as tf.SymbolicTensor).shape as number[];
    const cout = (l.outputShape as number[])[3];
    const inputChannels = i === 0 ? 2 * cin : cin; // epsilonPlus's first layer: [x⁺, x⁻]
    return {
      x: tf.randomUniform([batch, h, w, cin]) as tf.Tensor4D,
      xJoined: tf.randomUniform([batch, h, w, inputChannels]) as tf.Tensor4D,
      g: tf.randomUniform([batch, h, w, cout]) as tf.Tensor4D,
      kernel: tf.randomNormal([3, 3, cin, cout]) as tf.Tensor4D,
      kernelJoined: tf.randomNormal([3, 3, inputChannels, cout]) as tf.Tensor4D,
      // [kh, kw, in, out] kernels of the transposes (the engine flips them once and keeps them)
      transposed: markConstantWeight(tf.randomNormal([3, 3, cin, cout])) as tf.Tensor4D,
      transposedJoined: markConstantWeight(tf.randomNormal([3, 3, inputChannels, cout])) as tf.Tensor4D,
      bias: tf.randomNormal([cout]) as tf.Tensor1D,
    };
  });
  const same: Conv2DGeometry = { kernelSize: [3, 3], strides: [1, 1], dilation: [1, 1], pads: [[1, 1], [1, 1]] };
  const transpose = (g: tf.Tensor4D, kernel: tf.Tensor4D) => conv2dTransposeByCorrelation(g, kernel, g.shape[1], g.shape[2], same);
  const record = () => convs.map((c) => tf.fused.conv2d({ x: c.x, filter: c.kernel, strides: 1, pad: 'same', bias: c.bias, activation: 'relu' }));
  const cases: Record<string, () => tf.Tensor[]> = {
    predict: () => [model.predict(x) as tf.Tensor],
    'ε convolutions': () => [...record(), ...convs.map((c) => transpose(c.g, c.transposed))],
    'epsilonPlus convolutions': () => [
      ...record(),
      ...convs.map((c) => tf.fused.conv2d({ x: c.xJoined, filter: c.kernelJoined, strides: 1, pad: 'same', bias: c.bias })),
      ...convs.map((c) => transpose(c.g, c.transposedJoined)),
    ],
  };
  // one store per case, as one explainer per setting (a store releases what a call did not use)
  const stores = new Map(Object.keys(cases).map((n) => [n, new DerivedTensors()]));
  const once = async (name: string): Promise<number> => {
    const t0 = performance.now();
    const out = tf.tidy(() => withDerivedTensors(stores.get(name) as DerivedTensors, () => cases[name]()));
    await Promise.all(out.map((t) => t.data()));
    const dt = performance.now() - t0;
    tf.dispose(out);
    return dt;
  };
  const names = Object.keys(cases).filter((n) => n !== 'predict');
  for (let i = 0; i < 2; i++) for (const n of Object.keys(cases)) await once(n);
  const ratios = new Map<string, number[]>(names.map((n) => [n, []]));
  const predictMs: number[] = [];
  let previous = await once('predict');
  predictMs.push(previous);
  for (let r = 0; r < rounds; r++) {
    for (const n of r % 2 === 0 ? names : [...names].reverse()) {
      const t = await once(n);
      const next = await once('predict');
      predictMs.push(next);
      (ratios.get(n) as number[]).push(t / ((previous + next) / 2));
      previous = next;
    }
  }
  console.log(`bench-cnn, ${backend}, batch ${batch}, ${rounds} rounds: predict median ${median(predictMs).toFixed(1)} ms`);
  for (const [n, rs] of ratios) console.log(`  ${n.padEnd(26)} ${median(rs).toFixed(2)}× predict [${Math.min(...rs).toFixed(2)}, ${Math.max(...rs).toFixed(2)}]`);
  for (const c of convs) tf.dispose(Object.values(c));
  for (const store of stores.values()) store.dispose();
  tf.dispose(x);
  model.dispose();
  // Dawn keeps the process alive while its device exists
  if (tf.getBackend() === 'webgpu') (await import('../src/node')).releaseWebGPU();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
