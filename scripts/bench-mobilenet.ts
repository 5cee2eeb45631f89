/**
 * Benchmark on a MobileNet-v2-sized model (Keras MobileNetV2 structure, alpha 1.0, 224x224x3,
 * 1000 classes, seeded weights): model.predict vs explain (epsilonPlusFlat, a reused explainer)
 * on wasm at batch 8, in interleaved rounds with the ratio paired per round (scripts/paired.ts):
 * median and spread [min, max] of explain / predict.
 *
 *     npm run bench:mobilenet                                   # wasm, batch 8
 *     npm run bench:mobilenet -- --batch 2 --backend cpu --rounds 3
 *
 * Flags: --backend (wasm), --batch (8), --rounds (minimum timed rounds, 5), --max-rounds (15),
 * --budget-ms (30000), --out (out/bench/mobilenet.json). `npm run bench` runs it (a child
 * process) for its targets table.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { createExplainer, ExplainOptions } from '../src';
import { mobileNetInput, mobileNetV2 } from './mobilenet-model';
import { formatRatio, loadLine, pairedRounds } from './paired';

/** The target of issue #19: explain epsilonPlusFlat ≤ 2.5 × predict. */
export const MOBILENET_TARGET = 2.5;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const backend = arg('backend', 'wasm');
  const batch = Number(arg('batch', '8'));
  const minRounds = Number(arg('rounds', '5'));
  const maxRounds = Number(arg('max-rounds', '15'));
  const budgetMs = Number(arg('budget-ms', '30000'));
  const out = arg('out', path.join('out', 'bench', 'mobilenet.json'));
  if (backend === 'wasm') require('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend(backend);
  await tf.ready();
  tf.enableProdMode();
  const model = mobileNetV2(tf);
  const x = mobileNetInput(tf, batch);
  const options: ExplainOptions = { composite: 'epsilonPlusFlat' };
  const explainer = createExplainer(model, options);
  console.log(`MobileNet-v2-sized model: ${model.countParams()} parameters, ${model.layers.length} layers, input 224x224x3, batch ${batch}, backend ${tf.getBackend()}`);
  console.log(loadLine('  before', os.loadavg()));
  const report = await pairedRounds(
    tf,
    [
      { name: 'predict', run: () => model.predict(x) as tf.Tensor },
      { name: 'explain epsilonPlusFlat', run: () => explainer.explain(x, 'max') as tf.Tensor },
    ],
    { warmup: 1, minRounds, maxRounds, budgetMs },
  );
  for (const t of report.timings) {
    console.log(`  ${t.method.padEnd(26)} median ${t.medianMs.toFixed(1)} ms  (min ${t.minMs.toFixed(1)}, max ${t.maxMs.toFixed(1)}, n=${t.times.length})${t.ratioMedian === undefined ? '' : `  x predict ${formatRatio(t)}`}`);
  }
  const lrp = report.timings[1];
  const ratio = lrp.ratioMedian as number;
  console.log(`  paired ratio explain / predict: ${formatRatio(lrp)}  [${ratio <= MOBILENET_TARGET ? 'PASS' : 'FAIL'}] target <= ${MOBILENET_TARGET}x (${report.rounds} rounds, tensors leaked: ${report.leakedTensors})`);
  console.log(loadLine('  after', report.loadAfter));
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(
    out,
    JSON.stringify({ date: new Date().toISOString(), backend: tf.getBackend(), batch, rounds: report.rounds, predictMs: report.timings[0].times, explainMs: lrp.times, ratios: lrp.ratios, ratio, ratioMin: lrp.ratioMin, ratioMax: lrp.ratioMax, target: MOBILENET_TARGET, leakedTensors: report.leakedTensors, loadBefore: report.loadBefore, loadAfter: report.loadAfter }, null, 2) + '\n',
  );
  console.log(`wrote ${out}`);
  explainer.dispose();
  tf.dispose(x);
  model.dispose();
}

if (require.main === module) main().catch((e) => {
  console.error(e);
  process.exit(1);
});
