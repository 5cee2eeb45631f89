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
import { mobileNetInput, mobileNetV2 } from './mobilenet-model';

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
  const model = mobileNetV2(tf);
  const x = mobileNetInput(tf, batch);
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
