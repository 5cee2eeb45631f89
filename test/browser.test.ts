/**
 * Real-browser tests: the demo page (web/, built with Vite) and the plain <script> page (one-file
 * build + tf.min.js) in Debian's Chromium, driven by playwright-core, served from 127.0.0.1.
 * WebGL 2 runs on SwiftShader here (no GPU), so batches are small.
 *
 * Without Chromium the suite is skipped with a loud warning, except under CI (process.env.CI),
 * where a missing Chromium fails it. UPDATE_SCREENSHOT=1 also writes docs/browser-demo.png (the page's
 * defaults at 1280 × 800, as `npm run demo:web -- --screenshot docs/browser-demo.png` makes it) and
 * docs/browser-clever-hans.png.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import type { Browser, Page } from 'playwright-core';
import { compositeDefinitions, conceptRelevance, explain, explainLayers, ruleDefinitions } from '../src';
import { heatmap, overlay } from '../src/heatmap';
import type { ExplainOptions } from '../src';
import { buildWeb, CHROMIUM_PATH, hasChromium, launchChromium, ROOT } from '../scripts/browser';
import { digit, heldOutIndex } from '../scripts/digits-data';
import { loadModelFromDir } from '../scripts/load-model';
import { encodePng } from '../scripts/png';
import { serveStatic } from '../scripts/static-server';
import type { StaticServer } from '../scripts/static-server';
import { expectClose, maxAbs, useBackend } from './helpers';

const CI = Boolean(process.env.CI);
const present = hasChromium();
if (!present && !CI) {
  const bar = '!'.repeat(86);
  console.warn(
    `\n${bar}\n!! BROWSER TESTS SKIPPED: no Chromium at ${CHROMIUM_PATH}.\n` +
      '!! Install it (Debian: apt-get install -y chromium) or set CHROMIUM_PATH; under CI they fail instead.\n' +
      `${bar}\n`,
  );
}
const suite = present || CI ? describe : describe.skip;

/** What the demo page reports after an update (web/src/main.ts, window.__lrpDemo). */
interface DemoResult {
  model: string;
  method: string;
  options: ExplainOptions;
  classIdx: number;
  probabilities: number[];
  relevance: number[];
  conservation: { score: number[]; inputSum: number[]; absorbed: number[] } | null;
  timing: { predictMs: number; explainMs: number; drawMs: number };
  clipPercentile: number;
  colormap: string;
  backend: string;
  concepts: { layer: string; relevance: number[]; channels: Array<{ channel: number; relevance: number; heatmap: number[] }> } | null;
}
interface DemoWindow {
  __lrpDemo: {
    ready: Promise<void>;
    state: { updates: number; result: DemoResult | null; backend: { name: string; detail: string } | null; sample: number; input: { pixels: Float32Array } | null };
    setInput(pixels: number[]): Promise<DemoResult>;
    setMethod(value: string): Promise<DemoResult>;
    refresh(): Promise<DemoResult>;
    numTensors(): number;
  };
  __plainResult?: { backend: string; classIdx: number[]; labels: number[]; score: number[]; inputSum: number[]; relevance: number[]; error?: string };
  __esmResult?: { backend: string; labels: number[]; relevance: number[]; error?: string };
}

interface DOMRectLike {
  left: number;
  right: number;
  top: number;
  width: number;
  height: number;
}

interface OpenPage {
  page: Page;
  /** console errors and uncaught exceptions */
  errors: string[];
  warnings: string[];
}

const SIZE = 28;
const MAP = 280;
/** The functional tests' viewport (the maps at their full 280 px). */
const VIEWPORT = { width: 1360, height: 800 };
/** The layout checks' and the screenshots' viewport. */
const SMALL = { width: 1280, height: 800 };

suite('in Chromium (WebGL 2 on SwiftShader)', () => {
  let tmp = '';
  let outDir = '';
  let server: StaticServer | null = null;
  let browser: Browser | null = null;
  let model: tf.LayersModel;
  let demo: OpenPage;

  async function open(url: string): Promise<OpenPage> {
    const page = await (browser as Browser).newPage({ viewport: VIEWPORT, deviceScaleFactor: 1 });
    const errors: string[] = [];
    const warnings: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
      if (m.type() === 'warning') warnings.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
    page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
    page.on('response', (r) => {
      if (r.status() >= 400) errors.push(`HTTP ${r.status()}: ${r.url()}`);
    });
    await page.goto(url);
    return { page, errors, warnings };
  }

  /** Waits until the demo has finished its first update. */
  async function demoReady(p: Page): Promise<void> {
    await p.waitForFunction(() => (window as unknown as DemoWindow).__lrpDemo !== undefined, undefined, { timeout: 60000 });
    await p.evaluate(() => (window as unknown as DemoWindow).__lrpDemo.ready);
    await p.waitForFunction(() => (window as unknown as DemoWindow).__lrpDemo.state.updates > 0, undefined, { timeout: 60000 });
  }

  const result = (p: Page): Promise<DemoResult> => p.evaluate(() => (window as unknown as DemoWindow).__lrpDemo.state.result as DemoResult);

  /** The colour at the centre of every input cell of a 280×280 map canvas. */
  async function cells(p: Page, id: string): Promise<number[][]> {
    return p.evaluate(
      ({ id, size }) => {
        const c = document.getElementById(id) as HTMLCanvasElement;
        const ctx = c.getContext('2d') as CanvasRenderingContext2D;
        const d = ctx.getImageData(0, 0, c.width, c.height).data;
        const step = c.width / size;
        const out: number[][] = [];
        for (let y = 0; y < size; y++) {
          for (let x = 0; x < size; x++) {
            const i = (Math.floor((y + 0.5) * step) * c.width + Math.floor((x + 0.5) * step)) * 4;
            out.push([d[i], d[i + 1], d[i + 2]]);
          }
        }
        return out;
      },
      { id, size: SIZE },
    );
  }

  /** Saves the page at 1280 × 800 down to its footer in out/browser/ (and docs/ with UPDATE_SCREENSHOT=1). */
  async function screenshot(p: Page, name: string): Promise<string> {
    const dir = path.join(ROOT, 'out', 'browser');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, name);
    await p.setViewportSize(SMALL);
    try {
      await p.mouse.move(0, 0);
      const bottom = await p.evaluate(() => Math.ceil((document.querySelector('footer') as HTMLElement).getBoundingClientRect().bottom));
      await p.screenshot({ path: file, clip: { x: 0, y: 0, width: SMALL.width, height: Math.min(SMALL.height, bottom) } });
    } finally {
      await p.setViewportSize(VIEWPORT);
    }
    if (process.env.UPDATE_SCREENSHOT) fs.copyFileSync(file, path.join(ROOT, 'docs', name));
    return file;
  }

  /** The page's width, and where the Method card and its #rule select are, at a viewport size. */
  async function layoutAt(p: Page, size: { width: number; height: number }): Promise<{ scrollWidth: number; card: DOMRectLike; select: DOMRectLike; maps: DOMRectLike }> {
    await p.setViewportSize(size);
    try {
      return await p.evaluate(() => {
        const box = (sel: string): DOMRectLike => {
          const r = (document.querySelector(sel) as HTMLElement).getBoundingClientRect();
          return { left: r.left, right: r.right, top: r.top, width: r.width, height: r.height };
        };
        return { scrollWidth: document.documentElement.scrollWidth, card: box('.controls-card'), select: box('#rule'), maps: box('.maps') };
      });
    } finally {
      await p.setViewportSize(VIEWPORT);
    }
  }

  /** Node's explain on the cpu backend for a 28×28 digit. */
  function nodeExplain(pixels: ArrayLike<number>, classIdx: number, options: ExplainOptions): Float32Array {
    const x = tf.tensor4d(Float32Array.from(pixels), [1, SIZE, SIZE, 1]);
    const r = explain(model, x, classIdx, options) as tf.Tensor;
    const data = r.dataSync() as Float32Array;
    const copy = Float32Array.from(data);
    tf.dispose([x, r]);
    return copy;
  }

  /** Rows of int colours of a [1,H,W,3] float tensor in 0..1 (disposes it). */
  function rows(t: tf.Tensor): number[][] {
    const d = Array.from(tf.tidy(() => tf.round(tf.mul(t, 255))).dataSync());
    t.dispose();
    const out: number[][] = [];
    for (let i = 0; i < d.length; i += 3) out.push(d.slice(i, i + 3));
    return out;
  }

  function maxColourDiff(a: number[][], b: number[][]): number {
    expect(a.length).toBe(b.length);
    let m = 0;
    a.forEach((p, i) => p.forEach((v, k) => (m = Math.max(m, Math.abs(v - b[i][k])))));
    return m;
  }

  beforeAll(async () => {
    if (!present) throw new Error(`Chromium is missing at ${CHROMIUM_PATH} and CI is set: install it (apt-get install -y --no-install-recommends chromium; .ci/run does).`);
    await useBackend('cpu');
    model = await loadModelFromDir(path.join(ROOT, 'fixtures', 'digits'));
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-lrp-web-'));
    outDir = path.join(tmp, 'web');
    buildWeb(outDir, path.join(tmp, 'bundle')); // esbuild + Vite: a few seconds; never touches dist/
    server = await serveStatic(outDir);
    browser = await launchChromium();
    demo = await open(server.url);
    await demoReady(demo.page);
  }, 180000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    model?.dispose();
    if (tmp !== '') fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('the demo page loads with no console errors, on webgl (WebGL 2), with its controls and samples', async () => {
    const { page, errors } = demo;
    expect(errors).toEqual([]);
    const info = await page.evaluate(() => {
      const s = (window as unknown as DemoWindow).__lrpDemo.state;
      return { backend: s.backend, result: s.result?.backend, samples: document.querySelectorAll('#samples button').length, badge: document.getElementById('backend')?.textContent, title: document.title };
    });
    expect(info.backend).toEqual({ name: 'webgl', detail: 'WebGL 2' });
    expect(info.result).toBe('webgl');
    expect(info.samples).toBe(20);
    // every image fixture of web/models.json that this checkout has
    const models = await page.$$eval('#model option', (os) => os.map((o) => (o as HTMLOptionElement).value));
    const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'web', 'models.json'), 'utf8')) as { models: { id: string; fixture: string }[] };
    expect(models).toEqual(manifest.models.filter((m) => fs.existsSync(path.join(ROOT, 'fixtures', m.fixture, 'model.json'))).map((m) => m.id));
    expect(models).toContain('digits');
    expect(info.badge).toBe('webgl · WebGL 2');
    expect(info.title).toMatch(/tfjs-lrp/);
    const r = await result(page);
    expect(r.relevance.length).toBe(SIZE * SIZE);
    expect(r.probabilities.length).toBe(10);
    expect(r.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
  });

  test('at 1280 × 800 nothing scrolls sideways and the Method column is fully visible; at 900 px neither', async () => {
    const { page } = demo;
    const wide = await layoutAt(page, SMALL);
    expect(wide.scrollWidth).toBeLessThanOrEqual(SMALL.width);
    for (const b of [wide.card, wide.select]) {
      expect(b.width).toBeGreaterThan(100);
      expect(b.left).toBeGreaterThanOrEqual(0);
      expect(b.right).toBeLessThanOrEqual(SMALL.width);
    }
    expect(wide.card.top).toBeLessThan(SMALL.height / 2); // three columns: the Method card is beside the maps, at the top
    expect(wide.maps.right).toBeLessThanOrEqual(wide.card.left);
    const narrow = await layoutAt(page, { width: 900, height: 800 });
    expect(narrow.scrollWidth).toBeLessThanOrEqual(900);
    for (const b of [narrow.card, narrow.select]) {
      expect(b.width).toBeGreaterThan(100);
      expect(b.left).toBeGreaterThanOrEqual(0);
      expect(b.right).toBeLessThanOrEqual(900);
    }
    expect(demo.errors).toEqual([]);
  });

  test('the rule and composite choices come from the library\'s registries, and every one explains like Node cpu', async () => {
    const { page } = demo;
    const options = await page.$$eval('#rule option', (os) => os.map((o) => ({ value: (o as HTMLOptionElement).value, title: (o as HTMLOptionElement).title, group: (o.parentElement as HTMLOptGroupElement).label })));
    const values = options.map((o) => o.value);
    // the composites, then the rules for Dense/Conv layers (not the structural pass/norm/gradient)
    const composites = compositeDefinitions();
    const rules = ruleDefinitions().filter((d) => d.appliesTo !== 'any');
    expect(values.filter((v) => v.startsWith('composite:'))).toEqual(composites.map((d) => `composite:${d.name}`));
    expect(values.filter((v) => v.startsWith('rule:'))).toEqual(rules.map((d) => `rule:${d.name}`));
    expect(values.filter((v) => v.startsWith('method:'))).toEqual(['method:gradient', 'method:gradientXInput', 'method:integratedGradients']);
    expect(composites.length).toBeGreaterThanOrEqual(5);
    expect(rules.map((d) => d.name)).toEqual(expect.arrayContaining(['epsilon', 'zero', 'zPlus', 'alphaBeta', 'gamma']));
    expect(await page.$eval('#rule', (s) => (s as HTMLSelectElement).value)).toBe('rule:epsilon'); // the default
    // each definition's summary is its option's tooltip
    for (const d of [...composites.map((c) => ({ value: `composite:${c.name}`, summary: c.summary })), ...rules.map((r) => ({ value: `rule:${r.name}`, summary: r.summary }))]) {
      expect(d.summary.length).toBeGreaterThan(5);
      expect(options.find((o) => o.value === d.value)?.title).toBe(d.summary);
    }
    const pixels = digit(2, heldOutIndex(2, 5));
    for (const method of values.filter((v) => !v.startsWith('method:'))) {
      await page.evaluate((m) => (window as unknown as DemoWindow).__lrpDemo.setMethod(m), method);
      const r = await page.evaluate((p) => (window as unknown as DemoWindow).__lrpDemo.setInput(p), pixels);
      expect(r.method).toBe(method);
      expect(r.relevance.every((v) => Number.isFinite(v))).toBe(true);
      expectClose(r.relevance, nodeExplain(pixels, r.classIdx, r.options), 1e-3, `${method} page vs node`);
    }
    await page.evaluate(() => (window as unknown as DemoWindow).__lrpDemo.setMethod('rule:epsilon'));
    expect(demo.errors).toEqual([]);
  });

  test('explain in the page equals Node cpu for the same model and input (within 1e-3 max|R|), for rules and composites', async () => {
    const { page } = demo;
    const pixels = digit(7, heldOutIndex(7, 11)); // not one of the page's samples: passed in
    for (const method of ['rule:epsilon', 'composite:epsilonPlusFlat', 'composite:epsilonGammaBox', 'composite:epsilonAlpha2Beta1', 'rule:gamma']) {
      await page.evaluate((m) => (window as unknown as DemoWindow).__lrpDemo.setMethod(m), method);
      const r = await page.evaluate((p) => (window as unknown as DemoWindow).__lrpDemo.setInput(p), pixels);
      expect(r.backend).toBe('webgl');
      expect(r.method).toBe(method);
      expect(r.classIdx).toBe(7);
      const want = nodeExplain(pixels, r.classIdx, r.options);
      expect(maxAbs(want)).toBeGreaterThan(0.01);
      expectClose(r.relevance, want, 1e-3, `${method} page vs node`);
      // the conservation numbers are about this map
      const sum = r.relevance.reduce((a, b) => a + b, 0);
      expect(r.conservation?.inputSum[0]).toBeCloseTo(sum, 2);
    }
    expect(demo.errors).toEqual([]);
  });

  test('the concepts view: the top channels of conv2 and their conditional heatmaps, as in Node', async () => {
    const { page } = demo;
    const pixels = digit(7, heldOutIndex(7, 12));
    await page.evaluate((m) => (window as unknown as DemoWindow).__lrpDemo.setMethod(m), 'composite:epsilonPlusFlat');
    const r = await page.evaluate((p) => (window as unknown as DemoWindow).__lrpDemo.setInput(p), pixels);
    const concepts = r.concepts;
    if (concepts === null) throw new Error('no concepts in the page result');
    expect(concepts.layer).toBe('conv2');
    expect(concepts.relevance).toHaveLength(16);
    const x = tf.tensor4d(Float32Array.from(pixels), [1, SIZE, SIZE, 1]);
    const rel = conceptRelevance(model, x, r.classIdx, 'conv2', r.options);
    expectClose(concepts.relevance, rel.dataSync(), 1e-3, 'concept relevance page vs node');
    const ranked = concepts.relevance.map((v, c) => ({ v, c })).sort((a, b) => b.v - a.v).slice(0, 4);
    expect(concepts.channels.map((c) => c.channel)).toEqual(ranked.map((t) => t.c));
    for (const ch of concepts.channels) {
      const { input } = explainLayers(model, x, r.classIdx, [], { ...r.options, conditions: { conv2: [ch.channel] } });
      expect(maxAbs((input as tf.Tensor).dataSync())).toBeGreaterThan(1e-3);
      expectClose(ch.heatmap, (input as tf.Tensor).dataSync(), 1e-3, `channel ${ch.channel}: page vs node`);
      (input as tf.Tensor).dispose();
    }
    tf.dispose([x, rel]);
    // four figures, each a canvas of the input's size with coloured (non-white) pixels and its channel
    const view = await page.evaluate(() => {
      const figures = Array.from(document.querySelectorAll('#concepts figure'));
      return figures.map((f) => {
        const canvas = f.querySelector('canvas') as HTMLCanvasElement;
        const data = (canvas.getContext('2d') as CanvasRenderingContext2D).getImageData(0, 0, canvas.width, canvas.height).data;
        let coloured = 0;
        for (let i = 0; i < data.length; i += 4) if (data[i] < 250 || data[i + 1] < 250 || data[i + 2] < 250) coloured++;
        return { width: canvas.width, channel: Number(canvas.dataset.channel), caption: f.querySelector('figcaption')?.textContent ?? '', coloured };
      });
    });
    expect(view.map((v) => v.channel)).toEqual(ranked.map((t) => t.c));
    for (const v of view) {
      expect(v.width).toBe(SIZE);
      expect(v.caption).toMatch(new RegExp(`^channel ${v.channel} · `));
      expect(v.coloured).toBeGreaterThan(10);
    }
    expect(demo.errors).toEqual([]);
  });

  test('the heatmap and overlay canvases show heatmap()/overlay() colours: red at max R, white at R = 0, blue at min R', async () => {
    const { page } = demo;
    await page.evaluate(() => (window as unknown as DemoWindow).__lrpDemo.setMethod('rule:epsilon'));
    const pixels = digit(3, heldOutIndex(3, 4));
    const r = await page.evaluate((p) => (window as unknown as DemoWindow).__lrpDemo.setInput(p), pixels);
    expect(r.colormap).toBe('bwr');
    expect(r.clipPercentile).toBe(99.5);
    const size = await page.evaluate(() => [(document.getElementById('heatmap') as HTMLCanvasElement).width, (document.getElementById('heatmap') as HTMLCanvasElement).height]);
    expect(size).toEqual([SIZE, SIZE]); // drawn at the input's size, scaled up by CSS
    const box = await page.locator('#heatmap').boundingBox();
    expect([box?.width, box?.height]).toEqual([MAP, MAP]);
    const shown = await cells(page, 'heatmap');
    const rel = tf.tensor4d(r.relevance, [1, SIZE, SIZE, 1]);
    const want = rows(heatmap(rel, { colormap: 'bwr', clipPercentile: 99.5 }));
    expect(maxColourDiff(shown, want)).toBeLessThanOrEqual(3);
    // the known points
    const R = r.relevance;
    const iMax = R.indexOf(Math.max(...R));
    const iMin = R.indexOf(Math.min(...R));
    const iZero = R.findIndex((v, i) => v === 0 && pixels[i] === 0);
    expect(Math.min(...R)).toBeLessThan(0);
    expect(iZero).toBeGreaterThanOrEqual(0);
    expect(shown[iMax]).toEqual([255, 0, 0]);
    expect(shown[iZero]).toEqual([255, 255, 255]);
    expect(shown[iMin][2]).toBe(255); // blue end: b = 255, r = g < 255
    expect(shown[iMin][0]).toBe(shown[iMin][1]);
    expect(shown[iMin][0]).toBeLessThan(250);
    expect(Math.abs(shown[iMin][0] - want[iMin][0])).toBeLessThanOrEqual(3);
    // overlay: the digit as dark ink on white, blended with opacity 0.6
    const shownOverlay = await cells(page, 'overlay');
    const image = tf.tidy(() => tf.sub(1, tf.tensor4d(Float32Array.from(pixels), [1, SIZE, SIZE, 1])));
    const heat = heatmap(rel, { colormap: 'bwr', clipPercentile: 99.5 });
    const wantOverlay = rows(overlay(image, heat, { alpha: 0.6 }));
    expect(maxColourDiff(shownOverlay, wantOverlay)).toBeLessThanOrEqual(3);
    expect(shownOverlay[iZero]).toEqual([255, 255, 255]);
    tf.dispose([rel, image, heat]);
  });

  test('switching the rule in the page (the select) changes the map', async () => {
    const { page } = demo;
    await page.evaluate(() => (window as unknown as DemoWindow).__lrpDemo.setMethod('rule:epsilon'));
    const before = await cells(page, 'heatmap');
    const r0 = await result(page);
    const n0 = await page.evaluate(() => (window as unknown as DemoWindow).__lrpDemo.state.updates);
    await page.selectOption('#rule', 'composite:epsilonAlpha2Beta1');
    await page.waitForFunction((n) => (window as unknown as DemoWindow).__lrpDemo.state.updates > n, n0, { timeout: 60000 });
    const r1 = await result(page);
    expect(r1.method).toBe('composite:epsilonAlpha2Beta1');
    const after = await cells(page, 'heatmap');
    const changed = before.filter((p, i) => Math.max(...p.map((v, k) => Math.abs(v - after[i][k]))) > 16).length;
    expect(changed).toBeGreaterThan(0.1 * SIZE * SIZE);
    const diff = r0.relevance.map((v, i) => Math.abs(v - r1.relevance[i]));
    expect(Math.max(...diff)).toBeGreaterThan(0.1 * maxAbs(r0.relevance));
    // the help text follows the choice; the ε slider shows for composites, α only for αβ
    const help = await page.textContent('#rule-help');
    expect(help).toMatch(/α2β1/);
    expect(await page.isVisible('[data-param="epsilon"]')).toBe(true);
    expect(await page.isVisible('[data-param="alpha"]')).toBe(false);
    await page.selectOption('#rule', 'rule:alphaBeta');
    await page.evaluate(() => (window as unknown as DemoWindow).__lrpDemo.refresh());
    expect(await page.isVisible('[data-param="alpha"]')).toBe(true);
    expect(demo.errors).toEqual([]);
  });

  test('updates leak no tensors in the page (explainer kept per method, everything else disposed)', async () => {
    const { page } = demo;
    const counts = await page.evaluate(async () => {
      const d = (window as unknown as DemoWindow).__lrpDemo;
      await d.setMethod('composite:epsilonGammaBox');
      await d.refresh();
      const before = d.numTensors();
      for (let i = 0; i < 3; i++) await d.refresh();
      const same = d.numTensors();
      await d.setMethod('method:gradient');
      await d.setMethod('rule:epsilon'); // a new explainer replaces the old one, twice
      await d.setMethod('composite:epsilonGammaBox');
      return { before, same, after: d.numTensors() };
    });
    expect(counts.same).toBe(counts.before);
    expect(counts.after).toBe(counts.before);
  });

  test('drawing on the pad with the mouse gives MNIST-style input and an explanation', async () => {
    const { page } = demo;
    await page.click('#clear');
    const box = await page.locator('#pad').boundingBox();
    if (box === null) throw new Error('no pad');
    const n0 = await page.evaluate(() => (window as unknown as DemoWindow).__lrpDemo.state.updates);
    // a "1": one vertical stroke
    await page.mouse.move(box.x + 150, box.y + 45);
    await page.mouse.down();
    for (let i = 1; i <= 12; i++) await page.mouse.move(box.x + 150 - i, box.y + 45 + i * 16);
    await page.mouse.up();
    await page.waitForFunction((n) => (window as unknown as DemoWindow).__lrpDemo.state.updates > n + 1, n0, { timeout: 60000 });
    await page.evaluate(() => new Promise((r) => setTimeout(r, 300))); // let the last coalesced update finish
    await page.evaluate(() => (window as unknown as DemoWindow).__lrpDemo.setMethod('composite:epsilonPlusFlat'));
    const info = await page.evaluate(() => {
      const s = (window as unknown as DemoWindow).__lrpDemo.state;
      const px = Array.from(s.input?.pixels ?? []);
      let m = 0, cx = 0;
      px.forEach((v, i) => { m += v; cx += v * ((i % 28) + 0.5); });
      return { sample: s.sample, ink: m, cx: cx / m, max: Math.max(...px), cls: s.result?.classIdx };
    });
    expect(info.sample).toBe(-1);
    expect(info.ink).toBeGreaterThan(10);
    expect(info.max).toBeLessThanOrEqual(1);
    expect(Math.abs(info.cx - 14)).toBeLessThan(1); // centred by its centre of mass
    expect(info.cls).toBe(1);
    expect(demo.errors).toEqual([]);
  });

  test('an image file (dark digit on white paper) is inverted, centred and explained', async () => {
    const { page } = demo;
    const label = 4;
    const src = digit(label, heldOutIndex(label, 2));
    // 4× larger, with a margin, black ink on white
    const W = 160;
    const rgb = new Uint8Array(W * W * 3).fill(255);
    for (let y = 0; y < SIZE * 4; y++) {
      for (let x = 0; x < SIZE * 4; x++) {
        const v = Math.round(255 * (1 - src[Math.floor(y / 4) * SIZE + Math.floor(x / 4)]));
        rgb.fill(v, ((y + 30) * W + x + 10) * 3, ((y + 30) * W + x + 10) * 3 + 3);
      }
    }
    const n0 = await page.evaluate(() => (window as unknown as DemoWindow).__lrpDemo.state.updates);
    await page.setInputFiles('#file', { name: 'four.png', mimeType: 'image/png', buffer: encodePng(W, W, rgb) });
    await page.waitForFunction((n) => (window as unknown as DemoWindow).__lrpDemo.state.updates > n, n0, { timeout: 60000 });
    const r = await result(page);
    const px = await page.evaluate(() => Array.from((window as unknown as DemoWindow).__lrpDemo.state.input?.pixels ?? []));
    const mean = px.reduce((a, b) => a + b, 0) / px.length;
    expect(mean).toBeGreaterThan(0.03);
    expect(mean).toBeLessThan(0.35); // white paper became the black background
    expect(px[0]).toBe(0);
    expect(r.classIdx).toBe(label);
    expect(demo.errors).toEqual([]);
  });

  test('Clever Hans: with the tag the shortcut model says 7 and its map points at the corner; the control ignores the tag', async () => {
    const { page } = demo;
    await page.evaluate(() => (window as unknown as DemoWindow).__lrpDemo.setMethod('composite:epsilonPlusFlat'));
    const pick = async (model: string): Promise<DemoResult> => {
      await page.selectOption('#model', model);
      await page.waitForFunction((m) => (window as unknown as DemoWindow).__lrpDemo.state.result?.model === m, model, { timeout: 60000 });
      await page.click('#samples button:nth-child(4)'); // a held-out 3
      return page.evaluate(() => (window as unknown as DemoWindow).__lrpDemo.refresh());
    };
    /** Share of the positive relevance in the 5×5 top-left corner (the tag and its border). */
    const cornerShare = (R: number[]): number => {
      let all = 0;
      let corner = 0;
      R.forEach((v, i) => {
        all += Math.max(0, v);
        if (i % SIZE < 5 && Math.floor(i / SIZE) < 5) corner += Math.max(0, v);
      });
      return corner / all;
    };
    const shortcut = await pick('clever-hans');
    expect(await page.isVisible('#tag-row')).toBe(true);
    expect(await page.isChecked('#tag')).toBe(true);
    const px = await page.evaluate(() => Array.from((window as unknown as DemoWindow).__lrpDemo.state.input?.pixels ?? []));
    expect([px[SIZE + 1], px[3 * SIZE + 3], px[0], px[4 * SIZE + 4]]).toEqual([1, 1, 0, 0]); // the tag is painted
    expect(shortcut.classIdx).toBe(7);
    expect(cornerShare(shortcut.relevance)).toBeGreaterThan(0.5);
    await screenshot(page, 'browser-clever-hans.png');
    const control = await pick('clever-hans-control');
    expect(control.classIdx).toBe(3);
    expect(cornerShare(control.relevance)).toBeLessThan(0.2);
    await page.uncheck('#tag');
    await page.selectOption('#model', 'clever-hans');
    await page.waitForFunction(() => (window as unknown as DemoWindow).__lrpDemo.state.result?.model === 'clever-hans', undefined, { timeout: 60000 });
    const untagged = await page.evaluate(() => (window as unknown as DemoWindow).__lrpDemo.refresh());
    expect(untagged.classIdx).toBe(3); // the sample shown first is the same 3, now without the tag
    // quick switches while updates run: the last pick wins, no disposed model is used
    await page.selectOption('#model', 'clever-hans-control');
    await page.selectOption('#model', 'digits');
    await page.evaluate(() => (window as unknown as DemoWindow).__lrpDemo.refresh());
    await page.waitForFunction(() => (window as unknown as DemoWindow).__lrpDemo.state.result?.model === 'digits', undefined, { timeout: 60000 });
    await page.evaluate(() => new Promise((r) => setTimeout(r, 500)));
    expect((await result(page)).model).toBe('digits');
    expect(await page.isVisible('#tag-row')).toBe(false);
    expect(demo.errors).toEqual([]);
  });

  test('a screenshot of the demo at its defaults looks right (saved to out/browser/browser-demo.png)', async () => {
    const { page } = demo;
    await page.click('#samples button:nth-child(4)'); // the sample the page shows first
    await page.evaluate(() => (window as unknown as DemoWindow).__lrpDemo.setMethod('rule:epsilon')); // the default method
    const r = await result(page);
    expect(r.method).toBe('rule:epsilon');
    expect(r.colormap).toBe('bwr');
    expect(await page.$eval('#target', (s) => (s as HTMLSelectElement).value)).toBe('max');
    expect(r.classIdx).toBe(3);
    // every visible part has content: maps drawn, five predictions, four conservation numbers
    const ui = await page.evaluate(() => ({
      top: document.querySelectorAll('#top li').length,
      conservation: document.querySelectorAll('#conservation dd').length,
      timing: Array.from(document.querySelectorAll('#timing dd')).map((d) => d.textContent),
      status: document.getElementById('status')?.textContent,
    }));
    expect(ui.top).toBe(5);
    expect(ui.conservation).toBe(4);
    expect(ui.timing[0]).toBe('webgl');
    expect(ui.status).toMatch(/updated in \d/);
    const heat = await cells(page, 'heatmap');
    expect(heat.filter((p) => p[0] === 255 && p[1] < 200).length).toBeGreaterThan(10); // red cells
    const file = await screenshot(page, 'browser-demo.png');
    expect(fs.statSync(file).size).toBeGreaterThan(30000);
    expect(demo.errors).toEqual([]);
  });

  test('the plain <script> page (tf.min.js + tfjs-lrp.min.js, no bundler) explains on webgl like Node', async () => {
    const { page, errors } = await open(`${(server as StaticServer).url}plain/`);
    await page.waitForFunction(() => (window as unknown as DemoWindow).__plainResult !== undefined, undefined, { timeout: 90000 });
    const r = (await page.evaluate(() => (window as unknown as DemoWindow).__plainResult)) as NonNullable<DemoWindow['__plainResult']>;
    expect(r.error).toBeUndefined();
    expect(errors).toEqual([]);
    expect(r.backend).toBe('webgl');
    expect(await page.evaluate(() => typeof (window as unknown as { tfjsLrp: { explain: unknown } }).tfjsLrp.explain)).toBe('function');
    const samples = JSON.parse(fs.readFileSync(path.join(outDir, 'models', 'digits', 'samples.json'), 'utf8')) as { scale: number; samples: { label: number; pixels: number[] }[] };
    expect(r.labels).toEqual(samples.samples.slice(0, 4).map((s) => s.label));
    expect(r.classIdx).toEqual(r.labels);
    for (let i = 0; i < 4; i++) {
      const pixels = samples.samples[i].pixels.map((v) => v / samples.scale);
      const want = nodeExplain(pixels, r.classIdx[i], { composite: 'epsilonPlusFlat' });
      expectClose(r.relevance.slice(i * SIZE * SIZE, (i + 1) * SIZE * SIZE), want, 1e-3, `plain page sample ${i}`);
    }
    const drawn = await page.evaluate(() => Array.from(document.querySelectorAll('#maps canvas')).map((c) => [(c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height]));
    expect(drawn).toEqual([[168, 168], [168, 168], [168, 168], [168, 168]]);
    await page.close();
  });

  test('the ES-module page (tfjs-lrp.esm.min.js, tf under an import map, no bundler) explains on webgl like Node', async () => {
    const { page, errors } = await open(`${(server as StaticServer).url}esm/`);
    await page.waitForFunction(() => (window as unknown as DemoWindow).__esmResult !== undefined, undefined, { timeout: 90000 });
    const r = (await page.evaluate(() => (window as unknown as DemoWindow).__esmResult)) as NonNullable<DemoWindow['__esmResult']>;
    expect(r.error).toBeUndefined();
    expect(errors).toEqual([]);
    expect(r.backend).toBe('webgl');
    const samples = JSON.parse(fs.readFileSync(path.join(outDir, 'models', 'digits', 'samples.json'), 'utf8')) as { scale: number; samples: { label: number; pixels: number[] }[] };
    expect(r.labels).toEqual(samples.samples.slice(0, 2).map((s) => s.label));
    for (let i = 0; i < 2; i++) {
      const pixels = samples.samples[i].pixels.map((v) => v / samples.scale);
      expectClose(r.relevance.slice(i * SIZE * SIZE, (i + 1) * SIZE * SIZE), nodeExplain(pixels, r.labels[i], { rule: 'epsilon' }), 1e-3, `ES-module page sample ${i}`);
    }
    await page.close();
  });

  test('?backend=wasm: the wasm fallback loads its binaries from the page and agrees with Node', async () => {
    const { page, errors } = await open(`${(server as StaticServer).url}?backend=wasm`);
    await demoReady(page);
    const r = await result(page);
    expect(r.backend).toBe('wasm');
    const info = await page.evaluate(() => (window as unknown as DemoWindow).__lrpDemo.state.backend);
    expect(info?.name).toBe('wasm');
    const pixels = digit(5, heldOutIndex(5, 1));
    const r2 = await page.evaluate((p) => (window as unknown as DemoWindow).__lrpDemo.setInput(p), pixels);
    expectClose(r2.relevance, nodeExplain(pixels, r2.classIdx, r2.options), 1e-3, 'wasm page vs node');
    expect(errors).toEqual([]);
    await page.close();
  });
});
