import * as tf from '@tensorflow/tfjs';
import { loadModelFromDir } from '../scripts/load-model';
import { createExplainer, formatPlan } from '../src';
async function main() {
  await tf.setBackend('cpu');
  for (const name of ['tfjs_examples_abalone', 'mnist_cnn_aslamplr', 'ml5_doodlenet', 'tensorspace_lenet', 'ml5_crepe', 'ml5_cvae_quickdraw']) {
    try {
      const m = await loadModelFromDir(`../shared/zoo/${name}`);
      const inputs = m.inputs.map((t) => tf.randomUniform([2, ...(t.shape.slice(1) as number[])]));
      for (const composite of ['epsilonPlus', 'epsilonPlusFlat', 'epsilonGammaBox', 'epsilonAlpha2Beta1', 'epsilonAlpha2Beta1Flat'] as const) {
        try {
          const ex = createExplainer(m, { composite, low: 0, high: 1 });
          if (composite === 'epsilonPlus') console.log(formatPlan(ex.describe()));
          const { relevance, conservation } = await ex.explainWithConservation(inputs.length === 1 ? inputs[0] : inputs, 'max');
          const rs = Array.isArray(relevance) ? relevance : [relevance];
          console.log(name, composite, rs.map((r) => r.shape), 'finite', rs.every((r) => r.isFinite().all().dataSync()[0]), conservation.score.map((v) => v.toFixed(3)), conservation.inputSum.map((v) => v.toFixed(3)));
          tf.dispose(rs);
        } catch (e) { console.log(name, composite, 'ERROR', (e as Error).message.slice(0, 300)); }
      }
    } catch (e) { console.log(name, 'LOAD ERROR', (e as Error).message.slice(0, 300)); }
  }
}
main();
