/**
 * Benchmark on a MobileNet-v2-sized model (Keras MobileNetV2 structure, alpha 1.0, 224x224x3,
 * 1000 classes, seeded weights): model.predict vs explain (epsilonPlusFlat) on wasm at batch 8,
 * median ms and their ratio from one run.
 *
 *     npm run bench:mobilenet                  # wasm, batch 8
 *     npm run bench:mobilenet -- --batch 2 --backend cpu
 */
import * as fs from 'fs';
import * as path from 'path';
import { performance } from 'perf_hooks';
import * as tf from '@tensorflow/tfjs';
import { createExplainer, ExplainOptions } from '../src';

type Sym = tf.SymbolicTensor;
const apply = (layer: tf.layers.Layer, x: Sym | Sym[]): Sym => layer.apply(x) as Sym;

/** The Keras MobileNetV2 graph (inverted residuals, ReLU6, BatchNorm, ZeroPadding before strided depthwise). */
export function mobileNetV2(size = 224, classes = 1000): tf.LayersModel {
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

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

async function timeIt(fn: () => tf.Tensor, reps: number): Promise<number[]> {
  for (let i = 0; i < 2; i++) {
    const r = fn();
    await r.data();
    r.dispose();
  }
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const r = fn();
    await r.data();
    times.push(performance.now() - t0);
    r.dispose();
  }
  return times;
}

const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

async function main(): Promise<void> {
  const backend = arg('backend', 'wasm');
  const batch = Number(arg('batch', '8'));
  const reps = Number(arg('reps', '5'));
  if (backend === 'wasm') require('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend(backend);
  tf.enableProdMode();
  const model = mobileNetV2();
  const x = tf.randomUniform([batch, 224, 224, 3], 0, 1, 'float32', 11);
  const options: ExplainOptions = { composite: 'epsilonPlusFlat' };
  const explainer = createExplainer(model, options);
  console.log(`MobileNet-v2-sized model: ${model.countParams()} parameters, ${model.layers.length} layers, input 224x224x3, batch ${batch}, backend ${tf.getBackend()}`);
  const predict = await timeIt(() => model.predict(x) as tf.Tensor, reps);
  const lrp = await timeIt(() => explainer.explain(x, 'max') as tf.Tensor, reps);
  const ratio = median(lrp) / median(predict);
  const line = (name: string, t: number[]) => console.log(`  ${name.padEnd(26)} median ${median(t).toFixed(1)} ms  (min ${Math.min(...t).toFixed(1)}, max ${Math.max(...t).toFixed(1)}, n=${t.length})`);
  line('predict', predict);
  line('explain epsilonPlusFlat', lrp);
  console.log(`  ratio explain / predict: ${ratio.toFixed(2)}x  [${ratio <= 3 ? 'PASS' : 'FAIL'}] target <= 3x`);
  const out = path.join('out', 'bench', 'mobilenet.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), backend: tf.getBackend(), batch, predictMs: predict, explainMs: lrp, ratio }, null, 2) + '\n');
  console.log(`wrote ${out}`);
  explainer.dispose();
  tf.dispose(x);
  model.dispose();
}

if (require.main === module) main().catch((e) => {
  console.error(e);
  process.exit(1);
});
