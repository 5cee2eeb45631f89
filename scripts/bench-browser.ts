/**
 * Browser benchmark: bench-cnn (scripts/bench-cnn.ts, the model of `npm run bench`) in Chromium,
 * on the page's webgl backend: median ms of model.predict and of explain (epsilon,
 * epsilonPlusFlat; a reused createExplainer, the fast path) at batch 8, the ratio explain /
 * predict, and the first call of each (shader compilation) separately.
 *
 *     npm run bench:browser
 *     npm run bench:browser -- --batch 1 --backend cpu --reps 15
 *
 * The page is a plain page with tf.min.js and the one-file build (tfjs-lrp.min.js), served from
 * 127.0.0.1; the model code is bundled from scripts/bench-cnn.ts with the page's global tf.
 * Every timed call reads its result back (`await data()`). Here Chromium's WebGL 2 is SwiftShader
 * (a software GPU on the CPU), so absolute numbers are far from a real GPU's and depend on the
 * machine's load; the ratios are the useful part. JSON in out/bench/bench-browser.json.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { build } from 'esbuild';
import { buildBrowserBundle, CHROMIUM_PATH, hasChromium, launchChromium, ROOT } from './browser';
import { serveStatic } from './static-server';

interface Args {
  batch: number;
  backend: string;
  reps: number;
  out: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { batch: 8, backend: 'webgl', reps: 11, out: path.join(ROOT, 'out', 'bench', 'bench-browser.json') };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    switch (argv[i]) {
      case '--batch':
        args.batch = Number(v);
        i++;
        break;
      case '--backend':
        args.backend = v;
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
        console.log('usage: npm run bench:browser -- [--batch 8] [--backend webgl|cpu] [--reps 11] [--out out/bench/bench-browser.json]');
        process.exit(0);
        break;
      default:
        throw new Error(`unknown flag ${argv[i]} (try --help)`);
    }
  }
  if (!Number.isInteger(args.batch) || args.batch < 1) throw new Error(`--batch: a positive integer, got ${args.batch}`);
  if (!Number.isInteger(args.reps) || args.reps < 3) throw new Error(`--reps: an integer >= 3, got ${args.reps}`);
  if (!['webgl', 'cpu'].includes(args.backend)) throw new Error(`--backend: webgl or cpu, got ${args.backend}`);
  return args;
}

/** One method's numbers from the page. */
interface Timing {
  method: string;
  firstMs: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  reps: number;
  /** Median over the interleaved rounds of time / predict's time in that round. */
  pairedRatio: number;
  /** Spread of the per-round ratios [min, max]. */
  pairedRatioMin: number;
  pairedRatioMax: number;
  /** Tensor count change over all timed rounds (all methods). */
  leak: number;
}

interface PageReport {
  backend: string;
  renderer: string;
  tfjs: string;
  timings: Timing[];
}

/** Runs in the page (serialised by playwright: no closures over this file). */
async function runInPage(opts: { batch: number; backend: string; reps: number }): Promise<PageReport> {
  type AnyTf = typeof import('@tensorflow/tfjs');
  type Lrp = typeof import('../src');
  const w = window as unknown as { tf: AnyTf; tfjsLrp: Lrp; benchCnn: typeof import('./bench-cnn') };
  const { tf, tfjsLrp, benchCnn } = w;
  if (!(await tf.setBackend(opts.backend))) throw new Error(`backend ${opts.backend} did not initialise`);
  await tf.ready();
  tf.enableProdMode();
  let renderer = opts.backend;
  if (opts.backend === 'webgl') {
    const gl = document.createElement('canvas').getContext('webgl2');
    const ext = gl?.getExtension('WEBGL_debug_renderer_info');
    renderer = gl !== null && gl !== undefined && ext !== null && ext !== undefined ? String(gl.getParameter(ext.UNMASKED_RENDERER_WEBGL)) : 'unknown';
  }
  const model = benchCnn.buildBenchCnn(tf);
  const x = benchCnn.benchInput(tf, opts.batch);
  const methods: Array<{ name: string; run: () => import('@tensorflow/tfjs').Tensor }> = [{ name: 'predict', run: () => model.predict(x) as import('@tensorflow/tfjs').Tensor }];
  const explainers: Array<{ dispose(): void }> = [];
  for (const [name, options] of [
    ['explain epsilon', { rule: 'epsilon' as const, checkInput: false }],
    ['explain epsilonPlusFlat', { composite: 'epsilonPlusFlat' as const, checkInput: false }],
  ] as const) {
    const explainer = tfjsLrp.createExplainer(model, options);
    explainers.push(explainer);
    methods.push({ name, run: () => explainer.explain(x, benchCnn.CLASS_IDX) as import('@tensorflow/tfjs').Tensor });
  }
  const once = async (f: () => import('@tensorflow/tfjs').Tensor): Promise<number> => {
    const t0 = performance.now();
    const r = f();
    await r.data();
    const dt = performance.now() - t0;
    r.dispose();
    return dt;
  };
  const median = (xs: number[]): number => {
    const sorted = [...xs].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  };
  // the first call of each method compiles its shaders; then two warm-up runs each
  const first: number[] = [];
  for (const m of methods) first.push(await once(m.run));
  for (const m of methods) for (let i = 0; i < 2; i++) await once(m.run);
  // timed rounds, methods interleaved, so that a busy machine slows every method alike
  const before = tf.memory().numTensors;
  const times: number[][] = methods.map(() => []);
  for (let r = 0; r < opts.reps; r++) for (const [k, m] of methods.entries()) times[k].push(await once(m.run));
  const leak = tf.memory().numTensors - before;
  const timings: Timing[] = methods.map((m, k) => ({
    method: m.name,
    firstMs: first[k],
    medianMs: median(times[k]),
    minMs: Math.min(...times[k]),
    maxMs: Math.max(...times[k]),
    reps: times[k].length,
    // median over the rounds of (this method's time / predict's time in the same round)
    pairedRatio: median(times[k].map((t, r) => t / times[0][r])),
    pairedRatioMin: Math.min(...times[k].map((t, r) => t / times[0][r])),
    pairedRatioMax: Math.max(...times[k].map((t, r) => t / times[0][r])),
    leak,
  }));
  for (const e of explainers) e.dispose();
  x.dispose();
  model.dispose();
  return { backend: tf.getBackend(), renderer, tfjs: tf.version.tfjs, timings };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (!hasChromium()) throw new Error(`no Chromium at ${CHROMIUM_PATH}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-lrp-bench-'));
  const server = await (async () => {
    buildBrowserBundle(path.join(tmp, 'bundle'));
    // bench-cnn for the page, with the page's global tf
    await build({
      entryPoints: [path.join(ROOT, 'scripts', 'bench-cnn.ts')],
      bundle: true,
      format: 'iife',
      globalName: 'benchCnn',
      outfile: path.join(tmp, 'bundle', 'bench-cnn.js'),
      logLevel: 'warning',
    });
    fs.writeFileSync(
      path.join(tmp, 'bundle', 'index.html'),
      '<!doctype html><html><head><meta charset="utf-8"><title>tfjs-lrp bench</title><link rel="icon" href="data:,"></head><body>' +
        '<script src="tf.min.js"></script><script src="tfjs-lrp.min.js"></script><script src="bench-cnn.js"></script></body></html>',
    );
    fs.copyFileSync(path.join(ROOT, 'node_modules', '@tensorflow', 'tfjs', 'dist', 'tf.min.js'), path.join(tmp, 'bundle', 'tf.min.js'));
    return serveStatic(path.join(tmp, 'bundle'));
  })();
  const browser = await launchChromium();
  try {
    const load = os.loadavg();
    console.log(`tfjs-lrp browser bench: bench-cnn 32x32x3, batch ${args.batch}, class 3, Chromium ${browser.version()}, backend ${args.backend}`);
    console.log(`host: ${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}, load average ${load.map((v) => v.toFixed(2)).join(' ')}`);
    if (load[0] >= 0.75) console.warn(`WARNING: the machine is busy (1-min load ${load[0].toFixed(2)}); SwiftShader runs on these CPUs, so timings will be noisy.`);
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(server.url);
    const report = await page.evaluate(runInPage, { batch: args.batch, backend: args.backend, reps: args.reps });
    if (errors.length > 0) throw new Error(`page errors: ${errors.join('; ')}`);
    console.log(`page: tfjs ${report.tfjs}, backend ${report.backend}, renderer ${report.renderer}\n`);
    const predict = report.timings.find((t) => t.method === 'predict') as Timing;
    const pad = (s: string, n: number): string => s.padEnd(n);
    const num = (v: number, n = 9): string => v.toFixed(1).padStart(n);
    console.log(`${pad('method', 26)}${'median ms'.padStart(10)}${'min'.padStart(9)}${'max'.padStart(9)}${'x predict'.padStart(11)}${'paired'.padStart(8)}${'[min, max]'.padStart(15)}${'first call'.padStart(12)}`);
    const rows = report.timings.map((t) => ({ ...t, ratioToPredict: t.medianMs / predict.medianMs }));
    for (const t of rows) {
      console.log(`${pad(t.method, 26)}${num(t.medianMs, 10)}${num(t.minMs)}${num(t.maxMs)}${t.ratioToPredict.toFixed(2).padStart(11)}${t.pairedRatio.toFixed(2).padStart(8)}${`[${t.pairedRatioMin.toFixed(2)}, ${t.pairedRatioMax.toFixed(2)}]`.padStart(15)}${num(t.firstMs, 12)}`);
    }
    if (predict.leak !== 0) console.warn(`  WARNING: tf.memory().numTensors changed by ${predict.leak} over the timed rounds (leak)`);
    console.log(
      `\n(${predict.reps} interleaved rounds after 2 warm-up runs each; x predict = median / predict's median; paired = median over the rounds of` +
        " time / predict's time in the same round; first call: each method's first run, which compiles its WebGL shaders)",
    );
    fs.mkdirSync(path.dirname(args.out), { recursive: true });
    fs.writeFileSync(
      args.out,
      JSON.stringify({ model: 'bench-cnn', batch: args.batch, classIdx: 3, chromium: browser.version(), host: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavg: load }, ...report, timings: rows }, null, 2) + '\n',
    );
    console.log(`wrote ${path.relative(ROOT, args.out)}`);
  } finally {
    await browser.close();
    await server.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`bench:browser: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
