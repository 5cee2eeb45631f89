/**
 * The real graph models of @vladmandic/human (emotion, liveness; see test/graph-real.test.ts) on
 * the Chromium backends: WebGL 2 and WebGPU (SwiftShader, no GPU needed). A page
 * (test/support/graphReal/page.ts) loads each model over HTTP with tf.loadGraphModel, as a
 * browser user would, and explains the same face crops as Node; its relevance must equal Node's
 * cpu relevance within 1e-3 · max|R| (the tolerance of the other GPU comparisons), with no tensor
 * left behind, no console error and no WebGPU validation error.
 *
 * Without Chromium the suite is skipped with a loud warning; under CI it fails instead.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { build } from 'esbuild';
import { createExplainer, type ExplainOptions } from '../src';
import { loadModel } from '../src/node';
import { hasChromium, launchChromium, ROOT, CHROMIUM_PATH } from '../scripts/browser';
import { serveStatic, type StaticServer } from '../scripts/static-server';
import { FACE_BOXES, HUMAN_DIR, humanModel, readFaces } from '../scripts/human-faces';
import type { GraphRealApi, GraphRealJob, GraphRealResult } from './support/graphReal/page';
import { expectClose, maxAbs, maxAbsDiff, useBackend, values } from './helpers';

const CI = Boolean(process.env.CI);
const present = hasChromium();
if (!present && !CI) console.warn(`\n!! GRAPH MODELS ON WEBGL/WEBGPU (CHROMIUM) SKIPPED: no Chromium at ${CHROMIUM_PATH}; under CI this fails instead.\n`);
const suite = present || CI ? describe : describe.skip;

/** The models and how they are fed (as test/graph-real.test.ts). */
const CASES: ReadonlyArray<{ model: string; size: number; channels: 1 | 3; scale: '-1..1' | '0..1'; options: ExplainOptions }> = [
  { model: 'emotion', size: 64, channels: 1, scale: '-1..1', options: { composite: 'epsilonGammaBox', low: -1, high: 1 } },
  { model: 'liveness', size: 32, channels: 3, scale: '0..1', options: { composite: 'epsilonPlusFlat' } },
];
const BOXES = FACE_BOXES.slice(0, 2);

const HTML = '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>graph models</title></head><body><script src="page.js"></script></body></html>\n';

suite('real graph models in Chromium (WebGL 2, WebGPU on SwiftShader) = Node cpu', () => {
  let tmp = '';
  let server: StaticServer | null = null;
  const jobs: GraphRealJob[] = [];
  const expected = new Map<string, Float32Array>();

  beforeAll(async () => {
    await useBackend('cpu');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-lrp-graph-browser-'));
    await build({
      entryPoints: [path.join(ROOT, 'test', 'support', 'graphReal', 'page.ts')],
      bundle: true,
      platform: 'browser',
      format: 'iife',
      target: 'es2020',
      outfile: path.join(tmp, 'page.js'),
      logLevel: 'error',
      define: { 'process.env.NODE_ENV': '"production"' },
    });
    fs.writeFileSync(path.join(tmp, 'index.html'), HTML);
    fs.mkdirSync(path.join(tmp, 'models'));
    for (const c of CASES) {
      for (const ext of ['json', 'bin']) fs.copyFileSync(path.join(HUMAN_DIR, 'models', `${c.model}.${ext}`), path.join(tmp, 'models', `${c.model}.${ext}`));
      const x = await readFaces({ size: c.size, channels: c.channels, scale: c.scale, boxes: BOXES });
      const model = await loadModel(humanModel(c.model), { format: 'graph-model' });
      const explainer = createExplainer(model, c.options);
      const r = explainer.explain(x, 'max') as tf.Tensor;
      expected.set(c.model, await values(r));
      jobs.push({ model: c.model, shape: x.shape.slice(), data: Array.from(await x.data()), options: c.options });
      tf.dispose([x, r]);
      explainer.dispose();
      model.dispose();
    }
    server = await serveStatic(tmp);
  }, 300000);

  afterAll(async () => {
    await server?.close();
    if (tmp !== '') fs.rmSync(tmp, { recursive: true, force: true });
  });

  test.each(['webgl', 'webgpu'] as const)('%s: relevance = Node cpu within 1e-3 · max|R|, no leak, no console or device error', async (backend) => {
    const browser = await launchChromium({ webgpu: backend === 'webgpu' });
    let results: GraphRealResult[];
    const errors: string[] = [];
    try {
      const page = await browser.newPage();
      page.setDefaultTimeout(280000);
      page.on('console', (m) => {
        if (m.type() === 'error' || (m.type() === 'warning' && /webgpu|validation|uncaptured|device (was )?lost/i.test(m.text()))) errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
      await page.goto(`${(server as StaticServer).url}?backend=${backend}`);
      await page.waitForFunction(() => (window as unknown as { __graphReal?: GraphRealApi }).__graphReal !== undefined);
      expect(await page.evaluate(() => (window as unknown as { __graphReal: GraphRealApi }).__graphReal.ready)).toBe(backend);
      results = await page.evaluate((j) => (window as unknown as { __graphReal: GraphRealApi }).__graphReal.run(j), jobs);
    } finally {
      await browser.close();
    }
    expect(errors).toEqual([]);
    for (const r of results) {
      const c = CASES.find((k) => k.model === r.model);
      expect(r.shape).toEqual([BOXES.length, c?.size, c?.size, c?.channels]);
      expect(r.leaked).toBe(0);
      expectClose(r.values, expected.get(r.model) as Float32Array, 1e-3, `${r.model} on ${backend} vs Node cpu`);
    }
    const err = (r: GraphRealResult) => maxAbsDiff(r.values, expected.get(r.model) as Float32Array) / maxAbs(expected.get(r.model) as Float32Array);
    console.log(`graph models in Chromium, ${backend}: ${results.map((r) => `${r.model} ${(r.ms / 1000).toFixed(1)} s, max|R - R_cpu| = ${err(r).toExponential(2)} · max|R_cpu|`).join('; ')}`);
  }, 300000);
});
