/**
 * The floor of an LRP pass on bench-cnn, as ratios to `model.predict` of the same batch on the same
 * backend: the convolutions that ε and epsilonPlus cannot avoid, timed alone (no engine, no
 * elementwise work, no pooling, no dense layers); and epsilonPlus's least work, every kernel it
 * cannot avoid with a one-kernel stand-in for the pools' routing (a lower bound of a call), then
 * the same with the engine's routing (the engine's kernels without the engine).
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
 * - epsilonPlus least work, x ≥ 0 (scripts/least-work.ts): a whole epsilonPlus pass on the
 *   model's own weights and input (declared ≥ 0), reduced to the kernels no implementation on tf
 *   ops can leave out: predict's own kernels as the record; the output's relevance; per dense layer
 *   (ε) the stabilized division, one matMul, one multiply; per convolution z⁺'s forward (W⁺, bias
 *   b⁺ + ε folded in), one division, the transposed convolution, one multiply; and per max pool ONE
 *   full-size kernel in place of the routing (on wasm and cpu a broadcast multiply that routes
 *   nothing correctly; on WebGPU the engine's own one-shader routing). No input check, no engine.
 *   A lower bound of a call, not a result: if it is at or over a target, no engine on these
 *   kernels meets that target;
 * - the same with the engine's routing (`maxPoolTranspose`): the engine's own kernels without the
 *   engine. Checked once before the rounds: its relevance equals `explain`'s (so the bound leaves
 *   out nothing a call needs but the routing);
 * - epsilonPlus x ≥ 0, explainer: a reused explainer's call of that setting. Its gap to the line
 *   above is the engine's own cost (plan walk, checks, its extra small kernels).
 * Each case is timed right after or before a predict call (alternately), and its ratio is over the
 * mean of the predict calls on either side; median [min, max] over the rounds. Inputs and kernels are
 * random tensors made once (their values do not change a convolution's time).
 */
import { performance } from 'perf_hooks';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from './backend';
import * as benchCnn from './bench-cnn';
import { leastWorkEpsilonPlus } from './least-work';
import { median } from './paired';
import { conv2dTransposeByCorrelation, type Conv2DGeometry } from '../src/ops/conv';
import { DerivedTensors, markConstantWeight, withDerivedTensors } from '../src/ops/derived';
import { createExplainer } from '../src';

const ENGINE_ROUTING = "the same, the engine's routing";

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
  const leastWork = leastWorkEpsilonPlus(model, x, benchCnn.CLASS_IDX);
  const explainer = createExplainer(model, { composite: 'epsilonPlus', inputNonNegative: true });
  const cases: Record<string, () => tf.Tensor[]> = {
    predict: () => [model.predict(x) as tf.Tensor],
    'ε convolutions': () => [...record(), ...convs.map((c) => transpose(c.g, c.transposed))],
    'epsilonPlus convolutions': () => [
      ...record(),
      ...convs.map((c) => tf.fused.conv2d({ x: c.xJoined, filter: c.kernelJoined, strides: 1, pad: 'same', bias: c.bias })),
      ...convs.map((c) => transpose(c.g, c.transposedJoined)),
    ],
    'epsilonPlus least work, x ≥ 0': () => [leastWork.run()],
    [ENGINE_ROUTING]: () => [leastWork.run('engine')],
    'epsilonPlus x ≥ 0, explainer': () => [explainer.explain(x, benchCnn.CLASS_IDX) as tf.Tensor],
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
  // the least work is the real computation but for the routing: with the engine's routing it gives
  // the engine's relevance (checked, so that the bound leaves out no work an epsilonPlus call needs)
  {
    // in a tidy, as every timed case runs (without one, the convolution-only cases measured 40–60%
    // slower on wasm in every round, with the same tensor count and bytes afterwards: the heap's
    // layout, not a leak)
    const bound = tf.tidy(() => leastWork.run('engine'));
    const real = explainer.explain(x, benchCnn.CLASS_IDX) as tf.Tensor;
    const [gap, scale] = await Promise.all([tf.tidy(() => tf.max(tf.abs(tf.sub(bound, real)))).data(), tf.tidy(() => tf.max(tf.abs(real))).data()]);
    tf.dispose([bound, real]);
    if (!(gap[0] <= 1e-5 * scale[0])) throw new Error(`the least work with the engine's routing differs from explain by ${gap[0]} (max |R| ${scale[0]})`);
    console.log(`least work with the engine's routing = explain's epsilonPlus relevance (max |diff| ${(gap[0] / scale[0]).toExponential(1)} of max |R|)`);
  }
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
  for (const [n, rs] of ratios) console.log(`  ${n.padEnd(34)} ${median(rs).toFixed(2)}× predict [${Math.min(...rs).toFixed(2)}, ${Math.max(...rs).toFixed(2)}]`);
  for (const c of convs) tf.dispose(Object.values(c));
  leastWork.dispose();
  explainer.dispose();
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
