/**
 * Backend conformance: the engine on WebGL 2 and WebGPU in Chromium (SwiftShader, no GPU needed),
 * against the float64 reference and against Node's cpu backend. One page per backend
 * (test/support/conformance/page.ts) builds the same seeded models as the Node tests (test/models.ts,
 * test/configs.ts, test/families.ts; checked bitwise with a fingerprint of weights and inputs)
 * and runs the calls of test/support/conformance/runner.ts; Node runs the same runner on cpu.
 *
 *   - exactness suite: every CASES × CONFIGS relevance within 1e-4 · max|R_ref| of the float64
 *     reference (test/reference/lrp64.ts, as test/rules.test.ts), finite, float32, right shape;
 *   - conservation numbers (explainWithConservation, per layer) equal Node cpu;
 *   - gradient methods (gradient, gradient × input, Integrated Gradients, SmoothGrad with a
 *     fixed seed) within 1e-3 · max of Node cpu;
 *   - every architecture family × family config within 1e-3 · max|R| of Node cpu;
 *   - every model of ../shared/zoo with every composite within 1e-3 · max|R| of Node cpu;
 *   - max-pool relevance on inputs with many tied maxima (the GPU paths route dy differently from
 *     cpu's) within 1e-3 · max|R| of Node cpu;
 *   - no call leaks a tensor, throws, or reads synchronously; no console error, no WebGPU
 *     validation error (the device's uncapturederror events), no device loss.
 *
 * Without Chromium the suite is skipped with a loud warning, without ../shared/zoo the zoo part
 * is skipped with a message; under CI (process.env.CI) both fail instead. Measured numbers (worst
 * relative error per section, wall time) are printed and written to out/conformance/.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import type { Browser } from 'playwright-core';
import { loadModel } from '../src/node';
import { CHROMIUM_PATH, hasChromium, launchChromium, ROOT } from '../scripts/browser';
import { buildConformancePage } from './support/conformance/build';
import type { ConformanceApi, PageInfo } from './support/conformance/page';
import { runSection } from './support/conformance/runner';
import type { CallResult, ConservationNumbers, GpuBackend, Section, SectionResult } from './support/conformance/spec';
import { GPU_BACKENDS, SECTIONS, ZOO_MODELS } from './support/conformance/spec';
import { serveStatic } from '../scripts/static-server';
import type { StaticServer } from '../scripts/static-server';
import { CONFIGS } from './configs';
import { useBackend } from './helpers';
import { CASES } from './models';
import { refGraphFromModel } from './reference/fromModel';
import { Arr, lrp64, refRules } from './reference/lrp64';

const CI = Boolean(process.env.CI);
const present = hasChromium();
const ZOO = path.join(ROOT, '..', 'shared', 'zoo');
const zooPresent = fs.existsSync(ZOO);
const bar = '!'.repeat(86);
if (!present && !CI) {
  console.warn(
    `\n${bar}\n!! BACKEND CONFORMANCE (WebGL, WebGPU) SKIPPED: no Chromium at ${CHROMIUM_PATH}.\n` +
      '!! Install it (Debian: apt-get install -y chromium) or set CHROMIUM_PATH; under CI it fails instead.\n' +
      `${bar}\n`,
  );
}
if (present && !zooPresent && !CI) console.warn(`\n${bar}\n!! ZOO MODELS ON WEBGL/WEBGPU SKIPPED: ${ZOO} is missing (under CI this fails).\n${bar}\n`);
const suite = present || CI ? describe : describe.skip;
const zooTest = zooPresent || CI ? test : test.skip;

/** Tolerances, relative to max|expected| of each compared array. */
const TOL = {
  /** engine on a GPU vs the float64 reference (as on cpu and wasm in test/rules.test.ts) */
  reference: 1e-4,
  /** gradient methods, families, zoo: GPU vs Node cpu */
  cpu: 1e-3,
  /** conservation numbers: GPU vs Node cpu (scales: see compareConservation) */
  conservation: 1e-4,
} as const;

/** Wall-time limit of one backend's page run (ms). */
// (WebGL on SwiftShader takes 8–10 minutes for every section on a loaded 2-core machine: room to spare)
const PAGE_TIMEOUT = Number(process.env.CONFORMANCE_PAGE_TIMEOUT_MS ?? 1_200_000);

const ZOO_RUN = zooPresent ? ZOO_MODELS : [];

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** max|a − b| / max|b| (Infinity when a is not finite or the lengths differ; 0 / 0 = 0). */
function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) return Infinity;
    d = Math.max(d, Math.abs(a[i] - b[i]));
  }
  const scale = maxAbs(b);
  return d === 0 ? 0 : d / scale;
}

/** A failed comparison: which call, what, how far off. */
interface Miss {
  readonly key: string;
  readonly what: string;
  readonly error: number;
}

/** The worst relative error of a set of comparisons, and every comparison over its tolerance. */
class Comparison {
  worst = 0;
  worstKey = '';
  readonly misses: Miss[] = [];
  /** The worst error per call key (written to out/conformance/ for the per-family numbers). */
  readonly perKey = new Map<string, number>();
  constructor(readonly tolerance: number) {}
  /** Records one comparison. */
  add(key: string, what: string, error: number): void {
    this.perKey.set(key, Math.max(this.perKey.get(key) ?? 0, Number.isNaN(error) ? Infinity : error));
    if (error > this.worst || Number.isNaN(error)) {
      this.worst = Number.isNaN(error) ? Infinity : error;
      this.worstKey = `${key} (${what})`;
    }
    if (!(error <= this.tolerance)) this.misses.push({ key, what, error });
  }
  /** Lines for a failure message. */
  report(): string {
    return this.misses.map((m) => `  ${m.key} (${m.what}): ${m.error.toExponential(2)} > ${this.tolerance}`).join('\n');
  }
}

/** Compares relevance values, shapes and dtypes of a GPU call with the expected arrays. */
function compareRelevance(cmp: Comparison, call: CallResult, expected: ReadonlyArray<{ shape: number[]; values: ArrayLike<number> }>): void {
  if (call.error !== undefined) {
    cmp.add(call.key, `threw ${call.error}`, Infinity);
    return;
  }
  if (call.relevance.length !== expected.length) {
    cmp.add(call.key, `${call.relevance.length} relevance tensors, expected ${expected.length}`, Infinity);
    return;
  }
  call.relevance.forEach((r, i) => {
    if (r.dtype !== 'float32') cmp.add(call.key, `input ${i} dtype ${r.dtype}`, Infinity);
    if (r.shape.join(',') !== expected[i].shape.join(',')) cmp.add(call.key, `input ${i} shape [${r.shape}] vs [${expected[i].shape}]`, Infinity);
    cmp.add(call.key, `input ${i}`, relError(r.values, expected[i].values));
  });
}

/**
 * Compares conservation numbers: the class exactly; score and output sum relative to max |score|;
 * the input sum, the absorbed part and the per-layer sums relative to the larger of max |score|
 * and max_s Σ|R_s| (of Node's relevance): a sum of relevance of both signs carries the float32
 * rounding of its terms, not of its (possibly much smaller) result. Layers are paired by position:
 * their generated names (dense_12, …) count the models built before in the same process.
 */
function compareConservation(cmp: Comparison, key: string, got: ConservationNumbers | undefined, want: ConservationNumbers | undefined, relevance: CallResult['relevance']): void {
  if (want === undefined) return;
  if (got === undefined) {
    cmp.add(key, 'no conservation numbers', Infinity);
    return;
  }
  if (got.classIdx.join(',') !== want.classIdx.join(',')) cmp.add(key, `classIdx [${got.classIdx}] vs cpu [${want.classIdx}]`, Infinity);
  const scoreScale = Math.max(maxAbs(want.score), 1e-12);
  const batch = want.score.length;
  const absSums = want.score.map((_, s) => relevance.reduce((sum, r) => {
    const per = r.values.length / batch;
    let t = 0;
    for (let i = s * per; i < (s + 1) * per; i++) t += Math.abs(r.values[i]);
    return sum + t;
  }, 0));
  const sumScale = Math.max(scoreScale, maxAbs(absSums));
  const rel = (a: number[], b: number[], scale: number): number => (a.length !== b.length || !a.every(Number.isFinite) ? Infinity : maxAbs(a.map((v, i) => v - b[i])) / scale);
  cmp.add(key, 'conservation.score', rel(got.score, want.score, scoreScale));
  cmp.add(key, 'conservation.outputSum', rel(got.outputSum, want.outputSum, scoreScale));
  cmp.add(key, 'conservation.inputSum', rel(got.inputSum, want.inputSum, sumScale));
  cmp.add(key, 'conservation.absorbed', rel(got.absorbed, want.absorbed, sumScale));
  if (want.layers !== undefined) {
    const layers = got.layers ?? [];
    if (layers.length !== want.layers.length) {
      cmp.add(key, `${layers.length} conservation layers, cpu ${want.layers.length}`, Infinity);
      return;
    }
    const layerScale = Math.max(sumScale, ...want.layers.flatMap((l) => [maxAbs(l.upper), maxAbs(l.lower)]));
    want.layers.forEach((l, i) => cmp.add(key, `layer ${i} (${l.layer}) upper/lower`, Math.max(rel(layers[i].upper, l.upper, layerScale), rel(layers[i].lower, l.lower, layerScale))));
  }
}

const toArr = (t: tf.Tensor): Arr => ({ shape: t.shape.slice(), data: Float64Array.from(t.dataSync()) });

/** The float64 reference of every CASES × CONFIGS call (as test/rules.test.ts), by call key. */
function references(): Map<string, Array<{ shape: number[]; values: Float64Array }>> {
  const out = new Map<string, Array<{ shape: number[]; values: Float64Array }>>();
  for (const testCase of CASES) {
    const { model, inputs } = testCase.build();
    const bounds = testCase.bounds ?? [-1, 1];
    const graph = refGraphFromModel(model);
    for (const config of CONFIGS) {
      const ref = lrp64(graph, inputs.map(toArr), testCase.classes, refRules(graph, config.spec(bounds)));
      out.set(`${testCase.name} / ${config.label}`, ref.relevance.map((r) => ({ shape: r.shape.slice(), values: r.data })));
    }
    tf.dispose(inputs);
    model.dispose();
  }
  return out;
}

/** Node's cpu results of every section (the same runner as the page). */
async function cpuResults(): Promise<Record<Section, SectionResult>> {
  await useBackend('cpu');
  const out = {} as Record<Section, SectionResult>;
  for (const section of SECTIONS) {
    const t0 = Date.now();
    const { calls, fingerprints } = await runSection(section, { loadZooModel: (name) => loadModel(path.join(ZOO, name)), zoo: ZOO_RUN });
    out[section] = { backend: 'cpu', calls, fingerprints, deviceErrors: [], ms: Date.now() - t0 };
  }
  return out;
}

/** What one backend's page produced. */
interface PageRun {
  info: PageInfo;
  sections: Record<Section, SectionResult>;
  /** console errors, uncaught exceptions, failed requests, WebGPU / validation warnings */
  console: string[];
  /** other console warnings (informational) */
  warnings: string[];
  ms: number;
}

/** Launches Chromium for `backend`, opens the page and runs every section in it. */
async function runPage(backend: GpuBackend, server: StaticServer): Promise<PageRun> {
  const t0 = Date.now();
  const browser: Browser = await launchChromium({ webgpu: backend === 'webgpu' });
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(PAGE_TIMEOUT);
    const errors: string[] = [];
    const warnings: string[] = [];
    page.on('console', (m) => {
      const text = m.text();
      if (m.type() === 'error') errors.push(text);
      else if (m.type() === 'warning') (/webgpu|validation|uncaptured|device (was )?lost|invalid/i.test(text) ? errors : warnings).push(text);
    });
    page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
    page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
    page.on('response', (r) => {
      if (r.status() >= 400) errors.push(`HTTP ${r.status()}: ${r.url()}`);
    });
    await page.goto(`${server.url}?backend=${backend}`);
    await page.waitForFunction(() => (window as unknown as { __conformance?: ConformanceApi }).__conformance !== undefined);
    const info = await page.evaluate(() => (window as unknown as { __conformance: ConformanceApi }).__conformance.ready);
    const sections = {} as Record<Section, SectionResult>;
    for (const section of SECTIONS) {
      sections[section] = await page.evaluate(([s, zoo]) => (window as unknown as { __conformance: ConformanceApi }).__conformance.run(s, zoo), [section, ZOO_RUN] as const);
    }
    return { info, sections, console: errors, warnings, ms: Date.now() - t0 };
  } finally {
    await browser.close();
  }
}

/** Pairs the page's calls with Node's by key. */
function paired(gpu: SectionResult, cpu: SectionResult): Array<[CallResult, CallResult | undefined]> {
  const byKey = new Map(cpu.calls.map((c) => [c.key, c]));
  return gpu.calls.map((c) => [c, byKey.get(c.key)]);
}

suite('backend conformance in Chromium (WebGL 2, WebGPU on SwiftShader) vs float64 and Node cpu', () => {
  let tmp = '';
  let server: StaticServer | null = null;
  let cpu: Promise<Record<Section, SectionResult>>;
  let refs: Map<string, Array<{ shape: number[]; values: Float64Array }>>;
  const summary: string[] = [];

  beforeAll(async () => {
    if (!present) throw new Error(`no Chromium at ${CHROMIUM_PATH} (CI is set): install it or set CHROMIUM_PATH`);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-lrp-conformance-'));
    await buildConformancePage(tmp);
    server = await serveStatic(tmp, { mounts: zooPresent ? { '/zoo/': ZOO } : {} });
    refs = references();
    // Node's cpu run overlaps the first page run (both await; Chromium is another process)
    cpu = cpuResults();
    cpu.catch(() => undefined);
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    if (tmp !== '') fs.rmSync(tmp, { recursive: true, force: true });
    if (summary.length > 0) console.log(`backend conformance:\n${summary.join('\n')}`);
  });

  describe.each(GPU_BACKENDS.map((b) => [b]))('%s', (backend) => {
    let run: PageRun;
    let nodeCpu: Record<Section, SectionResult>;

    beforeAll(async () => {
      run = await runPage(backend, server as StaticServer);
      nodeCpu = await cpu;
      const dir = path.join(ROOT, 'out', 'conformance');
      fs.mkdirSync(dir, { recursive: true });
      const times = Object.fromEntries(SECTIONS.map((s) => [s, Math.round(run.sections[s].ms)]));
      fs.writeFileSync(path.join(dir, `${backend}.json`), JSON.stringify({ info: run.info, ms: run.ms, sectionMs: times, console: run.console, warnings: run.warnings, calls: SECTIONS.flatMap((s) => run.sections[s].calls.map((c) => ({ section: s, key: c.key, ms: Math.round(c.ms), leaked: c.leaked, error: c.error }))) }, null, 1));
      summary.push(`  ${backend} (${run.info.detail}): ${(run.ms / 1000).toFixed(0)} s in Chromium (${SECTIONS.map((s) => `${s} ${(run.sections[s].ms / 1000).toFixed(0)} s`).join(', ')})`);
    }, PAGE_TIMEOUT + 60_000);

    test('the page builds the same seeded models and inputs as Node (bitwise)', () => {
      for (const section of SECTIONS) {
        const want = nodeCpu[section].fingerprints;
        expect(run.sections[section].fingerprints).toEqual(want);
      }
    });

    test(`exactness suite: every case × config within ${TOL.reference} · max|R_ref| of the float64 reference`, () => {
      const cmp = new Comparison(TOL.reference);
      const calls = run.sections.cases.calls;
      expect(calls).toHaveLength(CASES.length * CONFIGS.length);
      for (const call of calls) {
        const ref = refs.get(call.key);
        if (ref === undefined) throw new Error(`no reference for ${call.key}`);
        compareRelevance(cmp, call, ref);
      }
      summary.push(`  ${backend} exactness vs float64: worst ${cmp.worst.toExponential(2)} at ${cmp.worstKey}`);
      if (cmp.misses.length > 0) throw new Error(`${backend}: ${cmp.misses.length} comparisons over ${TOL.reference} · max|R_ref|:\n${cmp.report()}`);
    });

    test(`conservation numbers (explainWithConservation, per layer) equal Node cpu within ${TOL.conservation} (of max|score|, Σ|R| for sums)`, () => {
      const cmp = new Comparison(TOL.conservation);
      let compared = 0;
      for (const section of SECTIONS) {
        for (const [gpu, node] of paired(run.sections[section], nodeCpu[section])) {
          if (node?.conservation === undefined || gpu.error !== undefined) continue;
          compareConservation(cmp, gpu.key, gpu.conservation, node.conservation, node.relevance);
          compared++;
        }
      }
      expect(compared).toBeGreaterThan(0);
      summary.push(`  ${backend} conservation vs cpu: worst ${cmp.worst.toExponential(2)} at ${cmp.worstKey}`);
      if (cmp.misses.length > 0) throw new Error(`${backend}: conservation differs from Node cpu:\n${cmp.report()}`);
    });

    test.each([
      ['gradients', 'gradient methods (gradient, gradient × input, IG, SmoothGrad)'],
      ['families', 'every architecture family × composite'],
      ['ops', 'max-pool relevance on tied maxima (the first maximum takes all); the input declared ≥ 0 and its sign check'],
    ] as Array<['gradients' | 'families' | 'ops', string]>)(`%s: %s within ${TOL.cpu} · max|R| of Node cpu`, (section, _what) => {
      const cmp = new Comparison(TOL.cpu);
      const pairs = paired(run.sections[section], nodeCpu[section]);
      expect(pairs.length).toBeGreaterThan(0);
      expect(pairs.length).toBe(nodeCpu[section].calls.length);
      for (const [gpu, node] of pairs) {
        if (node === undefined || node.error !== undefined) throw new Error(`Node cpu has no result for ${gpu.key}${node?.error === undefined ? '' : `: ${node.error}`}`);
        compareRelevance(cmp, gpu, node.relevance.map((r) => ({ shape: r.shape, values: r.values })));
      }
      summary.push(`  ${backend} ${section} vs cpu: worst ${cmp.worst.toExponential(2)} at ${cmp.worstKey}`);
      fs.writeFileSync(path.join(ROOT, 'out', 'conformance', `${backend}-${section}-errors.json`), JSON.stringify(Object.fromEntries(cmp.perKey), null, 1));
      if (cmp.misses.length > 0) throw new Error(`${backend} ${section}: over ${TOL.cpu} · max|R| of Node cpu:\n${cmp.report()}`);
    });

    zooTest(`zoo: every real model of ../shared/zoo × every composite within ${TOL.cpu} · max|R| of Node cpu`, () => {
      if (!zooPresent) throw new Error(`../shared/zoo is missing (${ZOO}); CI lays it beside the checkout`);
      const cmp = new Comparison(TOL.cpu);
      const pairs = paired(run.sections.zoo, nodeCpu.zoo);
      expect(pairs.length).toBe(nodeCpu.zoo.calls.length);
      expect(pairs.length).toBeGreaterThan(0);
      for (const [gpu, node] of pairs) {
        if (node === undefined || node.error !== undefined) throw new Error(`Node cpu has no result for ${gpu.key}${node?.error === undefined ? '' : `: ${node.error}`}`);
        compareRelevance(cmp, gpu, node.relevance.map((r) => ({ shape: r.shape, values: r.values })));
        if (gpu.relevance.length > 0 && !gpu.relevance.some((r) => r.values.some((v) => v !== 0))) cmp.add(gpu.key, 'relevance all zero', Infinity);
      }
      summary.push(`  ${backend} zoo vs cpu: worst ${cmp.worst.toExponential(2)} at ${cmp.worstKey}`);
      if (cmp.misses.length > 0) throw new Error(`${backend} zoo: over ${TOL.cpu} · max|R| of Node cpu:\n${cmp.report()}`);
    });

    test('no call throws or leaks a tensor; no console error, no GPU validation error, no device loss', () => {
      const calls = SECTIONS.flatMap((s) => run.sections[s].calls);
      const problems = [
        ...calls.filter((c) => c.error !== undefined).map((c) => `${c.key}: ${c.error}`),
        ...calls.filter((c) => c.leaked !== 0).map((c) => `${c.key}: leaked ${c.leaked} tensors`),
        ...SECTIONS.flatMap((s) => run.sections[s].deviceErrors),
        ...run.console.map((m) => `console: ${m}`),
      ];
      expect(problems).toEqual([]);
    });
  });
});
