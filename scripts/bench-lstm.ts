/**
 * Recurrent benchmark (issue #14): explain vs predict on bench-lstm (scripts/bench-lstm-model.ts:
 * a 2-layer LSTM, 128 units, length 64, 32 features, batch 32 by default), with paired,
 * interleaved ratios from one run, and where the explain time goes.
 *
 *     npm run bench:lstm                              # wasm in Node (SIMD, one thread)
 *     npm run bench:lstm -- --backend cpu --reps 5
 *     npm run bench:lstm -- --backend webgl           # in Chromium (SwiftShader here)
 *     npm run bench:lstm -- --backend webgpu          # in Chromium (SwiftShader's Vulkan here)
 *
 * Every round runs predict and each explain once, interleaved, so that load from other processes
 * slows all of them alike; the ratio of a round is its explain time / its predict time, and the
 * median, min and max of those ratios are printed. LRP runs as a reused
 * `createExplainer(...).explain` (weight-derived tensors cached), and every timed call reads its
 * result back (`await data()`). In Node the script also splits one explain into its phases: the
 * forward record (src/forward.ts, the model's forward pass keeping what the backward needs) and
 * the relevance pass (the rest), and sums tf.profile's kernel times by kernel. JSON in
 * out/bench/bench-lstm-<backend>.json.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { build } from 'esbuild';
import { createExplainer } from '../src';
import type { ExplainOptions } from '../src';
import { runForward } from '../src/forward';
import { DerivedTensors, withDerivedTensors } from '../src/ops/derived';
import * as benchLstm from './bench-lstm-model';
import { buildBrowserBundle, CHROMIUM_PATH, hasChromium, launchChromium, ROOT } from './browser';
import { serveStatic } from './static-server';

interface Args {
  backend: 'wasm' | 'cpu' | 'webgl' | 'webgpu';
  batch: number;
  reps: number;
  out: string | null;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { backend: 'wasm', batch: 32, reps: 7, out: null };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    switch (argv[i]) {
      case '--backend':
        if (!['wasm', 'cpu', 'webgl', 'webgpu'].includes(v)) throw new Error(`--backend: wasm, cpu, webgl or webgpu, got ${v}`);
        args.backend = v as Args['backend'];
        i++;
        break;
      case '--batch':
        args.batch = Number(v);
        i++;
        break;
      case '--reps':
        args.reps = Number(v);
        i++;
        break;
      case '--out':
        args.out = path.resolve(v);
        i++;
        break;
      case '--help':
        console.log('usage: npm run bench:lstm -- [--backend wasm|cpu|webgl|webgpu] [--batch 32] [--reps 7] [--out out/bench/bench-lstm-<backend>.json]');
        process.exit(0);
        break;
      default:
        throw new Error(`unknown flag ${argv[i]} (try --help)`);
    }
  }
  if (!Number.isInteger(args.batch) || args.batch < 1) throw new Error(`--batch: a positive integer, got ${args.batch}`);
  if (!Number.isInteger(args.reps) || args.reps < 3) throw new Error(`--reps: an integer >= 3, got ${args.reps}`);
  return args;
}

/** The explanations timed against predict. */
const METHODS: ReadonlyArray<[string, ExplainOptions]> = [
  ['explain epsilon', { rule: 'epsilon', checkInput: false }],
  ['explain epsilonPlusFlat', { composite: 'epsilonPlusFlat', checkInput: false }],
];

/** One method's numbers. */
interface Timing {
  method: string;
  firstMs: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** Median, min and max over the rounds of this method's time / predict's time in that round. */
  ratio: { median: number; min: number; max: number };
  reps: number;
}

/** What one run measured. */
interface Report {
  backend: string;
  detail: string;
  timings: Timing[];
  /** Tensor count change over the timed rounds. */
  leak: number;
}

/**
 * The timing loop, shared by Node and the page (serialised by playwright for the page: no
 * closures over this file, everything it uses comes in as arguments).
 */
async function timeMethods(
  tfx: typeof tf,
  model: tf.LayersModel,
  x: tf.Tensor,
  explainers: ReadonlyArray<readonly [string, { explain(x: tf.Tensor, c: number): tf.Tensor | tf.Tensor[] }]>,
  classIdx: number,
  reps: number,
): Promise<{ timings: Timing[]; leak: number }> {
  const methods: Array<{ name: string; run: () => tf.Tensor }> = [{ name: 'predict', run: () => model.predict(x) as tf.Tensor }];
  for (const [name, e] of explainers) methods.push({ name, run: () => e.explain(x, classIdx) as tf.Tensor });
  const once = async (f: () => tf.Tensor): Promise<number> => {
    const t0 = performance.now();
    const r = f();
    await r.data();
    const dt = performance.now() - t0;
    r.dispose();
    return dt;
  };
  const median = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    const mid = s.length >> 1;
    return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  };
  const first: number[] = [];
  for (const m of methods) {
    first.push(await once(m.run));
    console.log(`  first ${m.name}: ${first[first.length - 1].toFixed(0)} ms`);
  }
  for (const m of methods) await once(m.run);
  const before = tfx.memory().numTensors;
  const times: number[][] = methods.map(() => []);
  for (let r = 0; r < reps; r++) for (const [k, m] of methods.entries()) times[k].push(await once(m.run));
  const leak = tfx.memory().numTensors - before;
  const timings = methods.map((m, k) => {
    const ratios = times[k].map((t, r) => t / times[0][r]);
    return { method: m.name, firstMs: first[k], medianMs: median(times[k]), minMs: Math.min(...times[k]), maxMs: Math.max(...times[k]), ratio: { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) }, reps };
  });
  return { timings, leak };
}

/** Phases of one explain in Node: forward record vs relevance, and kernel time by kernel. */
async function phases(model: tf.LayersModel, x: tf.Tensor, reps: number): Promise<Record<string, unknown>> {
  const explainer = createExplainer(model, METHODS[0][1]);
  const store = new DerivedTensors();
  const forwardMs: number[] = [];
  const explainMs: number[] = [];
  const predictMs: number[] = [];
  try {
    const forwardOnce = async (): Promise<number> => {
      const t0 = performance.now();
      const kept = tf.tidy(() => {
        const rec = withDerivedTensors(store, () => runForward(explainer.plan, [x], { rectify: true }));
        return [...rec.tensors.values()].filter((t) => t !== x).slice(-1);
      });
      await kept[0].data();
      const dt = performance.now() - t0;
      tf.dispose(kept);
      return dt;
    };
    const explainOnce = async (): Promise<number> => {
      const t0 = performance.now();
      const r = explainer.explain(x, benchLstm.CLASS_IDX) as tf.Tensor;
      await r.data();
      const dt = performance.now() - t0;
      r.dispose();
      return dt;
    };
    const predictOnce = async (): Promise<number> => {
      const t0 = performance.now();
      const r = model.predict(x) as tf.Tensor;
      await r.data();
      const dt = performance.now() - t0;
      r.dispose();
      return dt;
    };
    await forwardOnce();
    await explainOnce();
    for (let r = 0; r < reps; r++) {
      predictMs.push(await predictOnce());
      forwardMs.push(await forwardOnce());
      explainMs.push(await explainOnce());
    }
    const info = await tf.profile(() => explainer.explain(x, benchLstm.CLASS_IDX) as tf.Tensor);
    tf.dispose(info.result as tf.Tensor);
    const byKernel = new Map<string, { ms: number; calls: number }>();
    let total = 0;
    for (const k of info.kernels) {
      const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      total += ms;
      const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
      e.ms += ms;
      e.calls++;
      byKernel.set(k.name, e);
    }
    const top = [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 10).map(([name, e]) => ({ kernel: name, ms: e.ms, calls: e.calls, share: e.ms / total }));
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    return {
      predictMs: median(predictMs),
      forwardMs: median(forwardMs),
      explainMs: median(explainMs),
      forwardShare: median(forwardMs.map((f, i) => f / explainMs[i])),
      forwardPerPredict: median(forwardMs.map((f, i) => f / predictMs[i])),
      explainPerPredict: median(explainMs.map((e, i) => e / predictMs[i])),
      kernels: info.kernels.length, kernelMs: total, top };
  } finally {
    store.dispose();
    explainer.dispose();
  }
}

/** Runs in the page. */
async function runInPage(opts: { backend: string; batch: number; reps: number; methods: ReadonlyArray<[string, ExplainOptions]>; timeSource: string }): Promise<Report> {
  type Lrp = typeof import('../src');
  const w = window as unknown as { tf: typeof tf; tfjsLrp: Lrp; benchLstm: typeof benchLstm };
  const { tf: ptf, tfjsLrp, benchLstm: bl } = w;
  if (!(await ptf.setBackend(opts.backend))) throw new Error(`backend ${opts.backend} did not initialise`);
  await ptf.ready();
  ptf.enableProdMode();
  let detail = opts.backend;
  if (opts.backend === 'webgl') {
    const gl = document.createElement('canvas').getContext('webgl2');
    const ext = gl?.getExtension('WEBGL_debug_renderer_info');
    detail = gl !== null && gl !== undefined && ext !== null && ext !== undefined ? String(gl.getParameter(ext.UNMASKED_RENDERER_WEBGL)) : 'unknown';
  } else if (opts.backend === 'webgpu') tfjsLrp.guardWebGPUErrors();
  const model = bl.buildBenchLstm(ptf);
  const x = bl.benchLstmInput(ptf, opts.batch);
  const explainers = opts.methods.map(([name, o]) => [name, tfjsLrp.createExplainer(model, o)] as const);
  const timer = new Function(`return (${opts.timeSource})`)() as typeof timeMethods;
  const { timings, leak } = await timer(ptf, model, x, explainers, bl.CLASS_IDX, opts.reps);
  for (const [, e] of explainers) e.dispose();
  x.dispose();
  model.dispose();
  return { backend: ptf.getBackend(), detail, timings, leak };
}

async function inBrowser(args: Args): Promise<Report> {
  if (!hasChromium()) throw new Error(`no Chromium at ${CHROMIUM_PATH}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-lrp-bench-lstm-'));
  const dir = path.join(tmp, 'bundle');
  buildBrowserBundle(dir);
  await build({ entryPoints: [path.join(ROOT, 'scripts', 'bench-lstm-model.ts')], bundle: true, format: 'iife', globalName: 'benchLstm', outfile: path.join(dir, 'bench-lstm.js'), logLevel: 'warning' });
  const scripts = ['tf.min.js', ...(args.backend === 'webgpu' ? ['tf-backend-webgpu.min.js'] : []), 'tfjs-lrp.min.js', 'bench-lstm.js'];
  fs.copyFileSync(path.join(ROOT, 'node_modules', '@tensorflow', 'tfjs', 'dist', 'tf.min.js'), path.join(dir, 'tf.min.js'));
  if (args.backend === 'webgpu') fs.copyFileSync(path.join(ROOT, 'node_modules', '@tensorflow', 'tfjs-backend-webgpu', 'dist', 'tf-backend-webgpu.min.js'), path.join(dir, 'tf-backend-webgpu.min.js'));
  fs.writeFileSync(path.join(dir, 'index.html'), `<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head><body>${scripts.map((s) => `<script src="${s}"></script>`).join('')}</body></html>`);
  const server = await serveStatic(dir);
  const browser = await launchChromium({ webgpu: args.backend === 'webgpu' });
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(590_000);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
      else if (m.type() === 'log') console.log(`  (page) ${m.text()}`);
    });
    await page.goto(server.url);
    // timeMethods goes in as source: the page has no module loader; it uses only its arguments and
    // the global performance (Node's and the page's)
    const timeSource = timeMethods.toString();
    const report = await page.evaluate(runInPage, { backend: args.backend, batch: args.batch, reps: args.reps, methods: METHODS, timeSource });
    if (errors.length > 0) throw new Error(`page errors: ${errors.join('; ')}`);
    return { ...report, detail: `Chromium ${browser.version()}, ${report.detail}` };
  } finally {
    await browser.close();
    await server.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function inNode(args: Args): Promise<Report & { phases: Record<string, unknown> }> {
  if (args.backend === 'wasm') require('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend(args.backend))) throw new Error(`backend ${args.backend} did not initialise`);
  await tf.ready();
  tf.enableProdMode();
  const model = benchLstm.buildBenchLstm(tf);
  const x = benchLstm.benchLstmInput(tf, args.batch);
  const explainers = METHODS.map(([name, o]) => [name, createExplainer(model, o)] as [string, ReturnType<typeof createExplainer>]);
  try {
    const { timings, leak } = await timeMethods(tf, model, x, explainers, benchLstm.CLASS_IDX, args.reps);
    const ph = await phases(model, x, Math.max(3, Math.floor(args.reps / 2)));
    return { backend: tf.getBackend(), detail: `Node ${process.version}`, timings, leak, phases: ph };
  } finally {
    for (const [, e] of explainers) e.dispose();
    x.dispose();
    model.dispose();
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const load = os.loadavg();
  console.log(`tfjs-lrp bench:lstm: 2 x LSTM(${benchLstm.UNITS}) over ${benchLstm.STEPS} steps x ${benchLstm.FEATURES} features, Dense(10); batch ${args.batch}, class ${benchLstm.CLASS_IDX}, backend ${args.backend}`);
  console.log(`host: ${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}, load average ${load.map((v) => v.toFixed(2)).join(' ')}`);
  if (load[0] >= 0.75 * os.cpus().length) console.warn(`WARNING: the machine is busy (1-min load ${load[0].toFixed(2)}): absolute times are noisy; the paired ratios are the useful part.`);
  const report = args.backend === 'webgl' || args.backend === 'webgpu' ? await inBrowser(args) : await inNode(args);
  console.log(`${report.backend} (${report.detail})\n`);
  const num = (v: number, n = 9): string => v.toFixed(v >= 100 ? 0 : 1).padStart(n);
  console.log(`${'method'.padEnd(26)}${'median ms'.padStart(10)}${'min'.padStart(9)}${'max'.padStart(9)}${'first'.padStart(9)}   paired × predict: median [min, max]`);
  for (const t of report.timings) {
    console.log(`${t.method.padEnd(26)}${num(t.medianMs, 10)}${num(t.minMs)}${num(t.maxMs)}${num(t.firstMs)}   ${t.ratio.median.toFixed(2)} [${t.ratio.min.toFixed(2)}, ${t.ratio.max.toFixed(2)}]`);
  }
  console.log(`(${args.reps} interleaved rounds after one warm-up run each; a round's ratio is its explain time / its predict time)`);
  if (report.leak !== 0) console.warn(`WARNING: tf.memory().numTensors changed by ${report.leak} over the timed rounds (leak)`);
  if ('phases' in report) {
    const p = report.phases as { predictMs: number; forwardPerPredict: number; explainPerPredict: number; forwardMs: number; explainMs: number; forwardShare: number; kernelMs: number; kernels: number; top: Array<{ kernel: string; ms: number; calls: number; share: number }> };
    console.log(`\nphases of explain epsilon (${Math.max(3, Math.floor(args.reps / 2))} rounds of predict, forward record, explain; medians): predict ${num(p.predictMs, 0)} ms, forward record ${num(p.forwardMs, 0)} ms (${p.forwardPerPredict.toFixed(2)} × predict), whole explain ${num(p.explainMs, 0)} ms (${p.explainPerPredict.toFixed(2)} × predict)`);
    console.log(`  share of explain: forward record ${(100 * p.forwardShare).toFixed(0)}%, relevance pass ${(100 * (1 - p.forwardShare)).toFixed(0)}%`);
    console.log(`kernels of one explain (tf.profile): ${p.kernels} calls, ${num(p.kernelMs, 0)} ms in kernels; by kernel:`);
    for (const k of p.top) console.log(`  ${k.kernel.padEnd(22)}${num(k.ms, 8)} ms ${(100 * k.share).toFixed(0).padStart(3)}%  ${k.calls} calls`);
  }
  const out = args.out ?? path.join(ROOT, 'out', 'bench', `bench-lstm-${args.backend}.json`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify({ model: 'bench-lstm', units: benchLstm.UNITS, steps: benchLstm.STEPS, features: benchLstm.FEATURES, batch: args.batch, host: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavg: load }, ...report }, null, 2) + '\n');
  console.log(`wrote ${path.relative(ROOT, out)}`);
}

main().catch((err: unknown) => {
  console.error(`bench:lstm: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  process.exit(1);
});
