/**
 * The credit-scoring example: why did the model (fixtures/credit) approve or decline an
 * applicant? LRP-ε ranks each applicant's features by relevance (> 0: toward approve, < 0:
 * toward decline), measured against the average training applicant (the standardised input 0).
 * Over the held-out set, the feature the label does not depend on (zip_digit) gets the least.
 *
 *     npm run example:credit             # writes docs/examples/credit.svg, credit-importance.svg, credit.md
 *     npm run example:credit -- --out DIR
 *
 * The rule that made the labels is known (scripts/credit-data.ts), so the example also checks
 * the explanation against it: per feature, the Pearson correlation over the held-out applicants
 * between the feature's relevance and the rule's own term for it (relative to the training mean).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { createExplainer } from '../src';
import { featureBarChartSvg, formatFeatureRanking, rankFeatures } from '../src/heatmap';
import { loadModel } from '../src/node';
import { useBackend } from './backend';
import { CREDIT_FEATURES, CREDIT_RULE, creditSet, describeApplicant, formatFeatureValue, standardize, type Applicant, type CreditFeature } from './credit-data';
import { argValue, pct } from './train-common';
import { pearsonOf } from '../src/evaluate/compare';

const ROOT = path.join(__dirname, '..');
/** Held-out applicants shown one by one (indices into the held-out set). */
const SHOWN = [2, 1, 5];
/** The applicant of docs/examples/credit.svg. */
const PICTURED = 2;

interface FeaturesFile {
  features: Array<{ name: CreditFeature; description: string; mean: number; std: number }>;
}

/** The rule's term for one feature, before centring (ln for income, linear otherwise). */
function ruleTerm(f: CreditFeature, a: Applicant): number {
  if (f === 'income') return CREDIT_RULE.income.weight * Math.log(a.income / 45);
  const r = CREDIT_RULE[f];
  return r.weight * (a[f] - r.center);
}

async function main(): Promise<void> {
  const outDir = argValue('out') ?? path.join(ROOT, 'docs', 'examples');
  fs.mkdirSync(outDir, { recursive: true });
  const backend = await useBackend();
  const model = await loadModel(path.join(ROOT, 'fixtures', 'credit'));
  const file = JSON.parse(fs.readFileSync(path.join(ROOT, 'fixtures', 'credit', 'features.json'), 'utf8')) as FeaturesFile;
  const norm = { mean: file.features.map((f) => f.mean), std: file.features.map((f) => f.std) };
  const names = [...CREDIT_FEATURES];
  const heldOut = creditSet('heldOut');
  const n = heldOut.labels.length;
  const x = tf.tensor2d(standardize(heldOut.applicants, norm), [n, names.length]);
  const md: string[] = [];
  const log = (line = '') => {
    console.log(line);
    md.push(line);
  };

  const explainer = createExplainer(model, { rule: 'epsilon' });
  const { relevance, conservation } = await explainer.explainWithConservation(x, 0);
  const rel = (relevance as tf.Tensor2D).arraySync();
  tf.dispose([relevance, x]);
  explainer.dispose();
  const approve = conservation.score.map((z) => 1 / (1 + Math.exp(-z)));
  // the average training applicant (standardised input 0): its score is the explanation's reference
  const average = tf.tidy(() => (model.predict(tf.zeros([1, names.length])) as tf.Tensor).dataSync()[0]);
  const averageScore = Math.log(average / (1 - average));

  log(`# Credit-scoring example (\`npm run example:credit\`, backend ${backend})`);
  log();
  log(`LRP-ε on the pre-sigmoid approval score of \`fixtures/credit\` (Dense 16 → 8 → 1) for ${n} held-out applicants. Relevance > 0 pushes toward approve, < 0 toward decline, relative to the average training applicant (standardised input 0, whose score is ${averageScore.toFixed(3)}, p(approve) = ${average.toFixed(3)}); the biases absorb the rest of the score.`);
  log();

  // 1. aggregate importance
  const meanAbs = names.map((_, k) => rel.reduce((s, r) => s + Math.abs(r[k]), 0) / n);
  const correlation = names.map((f, k) => {
    if (f === 'zip_digit') return NaN;
    const terms = heldOut.applicants.map((a) => ruleTerm(f, a));
    return pearsonOf(rel.map((r) => r[k]), terms);
  });
  const ranking = rankFeatures(meanAbs, names);
  log(`Mean |relevance| over the held-out applicants, and the correlation of each feature's relevance with the rule's own term for it:`);
  log();
  log('| rank | feature | mean \\|relevance\\| | share | correlation with the rule\'s term |');
  log('| ---: | --- | ---: | ---: | ---: |');
  for (const f of ranking) log(`| ${f.rank} | \`${f.name}\` | ${f.relevance.toFixed(3)} | ${pct(f.share, 1)} | ${f.name === 'zip_digit' ? '— (not in the rule)' : correlation[f.index].toFixed(3)} |`);
  log();
  const last = ranking[ranking.length - 1];
  log(`\`${last.name}\` is last with ${last.relevance.toFixed(3)} (${(last.relevance / ranking[ranking.length - 2].relevance).toFixed(2)}× the next one, \`${ranking[ranking.length - 2].name}\`).`);
  log();
  const importance = featureBarChartSvg(ranking, { title: `Mean |relevance| over ${n} held-out applicants (LRP-ε)`, width: 640, decimals: 3 });
  fs.writeFileSync(path.join(outDir, 'credit-importance.svg'), importance);
  log('![mean |relevance| per feature](credit-importance.svg)');
  log();

  // 2. single applicants
  for (const i of SHOWN) {
    const a = heldOut.applicants[i];
    const decision = approve[i] > 0.5 ? 'approve' : 'decline';
    const ranked = rankFeatures(rel[i], names);
    log(`## Held-out applicant ${i}: model says **${decision}** (p(approve) = ${approve[i].toFixed(3)}, score ${conservation.score[i].toFixed(3)}); the data's label: ${heldOut.labels[i] ? 'approve' : 'decline'}`);
    log();
    log(names.map((f) => `${f} ${formatFeatureValue(f, a[f])}`).join(', '));
    log();
    for (const line of describeApplicant(ranked, a)) log(`- ${line}`);
    log(`- the rest of the score (biases, relative to the average applicant's): ${conservation.absorbed[i] >= 0 ? '+' : ''}${conservation.absorbed[i].toFixed(3)}; relevance sum ${conservation.inputSum[i].toFixed(3)} + rest = score ${conservation.score[i].toFixed(3)}`);
    log();
    log('```');
    log(formatFeatureRanking(ranked));
    log('```');
    log();
    if (i === PICTURED) {
      const labelled = rankFeatures(rel[i], names.map((f) => `${f} = ${formatFeatureValue(f, a[f])}`));
      const svg = featureBarChartSvg(labelled, { title: `Applicant ${i}: ${decision} (p = ${approve[i].toFixed(2)}); red: toward approve, blue: toward decline`, width: 640 });
      fs.writeFileSync(path.join(outDir, 'credit.svg'), svg);
      log('![applicant explanation](credit.svg)');
      log();
    }
  }
  fs.writeFileSync(path.join(outDir, 'credit.md'), md.join('\n'));
  fs.writeFileSync(
    path.join(outDir, 'credit.json'),
    JSON.stringify({ backend, heldOut: n, meanAbsRelevance: Object.fromEntries(names.map((f, k) => [f, meanAbs[k]])), correlationWithRule: Object.fromEntries(names.map((f, k) => [f, Number.isNaN(correlation[k]) ? null : correlation[k]])) }, null, 2) + '\n',
  );
  console.log(`wrote ${path.relative(process.cwd(), outDir)}/credit.svg, credit-importance.svg, credit.md, credit.json`);
  model.dispose();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
