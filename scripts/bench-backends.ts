/**
 * Speed and memory of explain vs predict on every backend, from one run:
 *
 *     npm run bench:backends                                   # every backend this machine has
 *     npm run bench:backends -- --backends wasm,webgpu-node --models bench-cnn
 *
 * Backends: `cpu`, `wasm` and `webgpu-node` (WebGPU through Dawn, `useWebGPU()` of tfjs-lrp/node)
 * in Node, one child process each; `webgl` and `webgpu` in Debian's Chromium (playwright-core),
 * one fresh browser each. Models: bench-cnn (the VGG-style model of `npm run bench`, 32x32x3) and
 * the MobileNet-v2-sized model of `npm run bench:mobilenet` (224x224x3, 3.5 M parameters).
 * For each: model.predict and reused explainers (bench-cnn: ε, epsilonPlus, epsilonGammaBox and
 * epsilonAlpha2Beta1; the MobileNet-v2-sized model: ε, epsilonGammaBox and epsilonPlusFlat), batch 32, interleaved rounds, ratios paired per round (scripts/bench-backends-core.ts). Memory: the
 * peak tf.memory() bytes of one predict and one explain on the MobileNet-v2-sized model at batch
 * 32 (default on webgl; `--memory-backends` to choose).
 *
 * Flags:
 *   --backends LIST         default cpu,wasm,webgpu-node,webgl,webgpu
 *   --models LIST           default bench-cnn,mobilenet-v2
 *   --batch N               default 32
 *   --memory-batch N        default 32 (0: no memory measurement; 64 loses SwiftShader's WebGL context)
 *   --memory-backends LIST  default webgl
 *   --mobilenet-batch N     batch of the MobileNet-v2-sized model (default: --batch)
 *   --budget-ms N           time budget of the timed rounds per case (default 20000; at least 3 rounds)
 *   --out PATH              JSON (default out/bench/backends.json); a Markdown table goes beside it
 *
 * Here every "GPU" is software (SwiftShader in Chromium, Mesa llvmpipe under Dawn's OpenGL
 * backend) on the same 2 CPU cores, so absolute times say nothing about real GPUs; the ratios
 * (explain / predict on the same model, batch and backend) are the useful part.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { build } from 'esbuild';
import { SETTINGS } from './bench-backends-core';
import type { BenchModelName, MemoryReport, SpeedReport } from './bench-backends-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH, hasChromium, ROOT, WEBGPU_ARGS } from './browser';
import { serveStatic } from './static-server';

const NODE_BACKENDS = ['cpu', 'wasm', 'webgpu-node'] as const;
const BROWSER_BACKENDS = ['webgl', 'webgpu'] as const;
const ALL = [...NODE_BACKENDS, ...BROWSER_BACKENDS] as const;


interface Args {
  backends: string[];
  models: BenchModelName[];
  batch: number;
  memoryBatch: number;
  memoryBackends: string[];
  budgetMs: number;
  /** Batch of the MobileNet-v2-sized model (0: --batch). */
  mobilenetBatch: number;
  out: string;
  child?: string;
  childOut?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    backends: [...ALL],
    models: ['bench-cnn', 'mobilenet-v2'],
    batch: 32,
    memoryBatch: 32,
    memoryBackends: ['webgl'],
    budgetMs: 20000,
    mobilenetBatch: 0,
    out: path.join(ROOT, 'out', 'bench', 'backends.json'),
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const v = argv[i + 1];
    const take = (): string => {
      if (v === undefined || v.startsWith('--')) throw new Error(`${flag} needs a value`);
      i++;
      return v;
    };
    const list = (): string[] => take().split(',').map((s) => s.trim()).filter((s) => s !== '');
    switch (flag) {
      case '--backends':
        args.backends = list();
        break;
      case '--models':
        args.models = list() as BenchModelName[];
        break;
      case '--batch':
        args.batch = Number(take());
        break;
      case '--memory-batch':
        args.memoryBatch = Number(take());
        break;
      case '--memory-backends':
        args.memoryBackends = list();
        break;
      case '--budget-ms':
        args.budgetMs = Number(take());
        break;
      case '--mobilenet-batch':
        args.mobilenetBatch = Number(take());
        break;
      case '--out':
        args.out = path.resolve(take());
        break;
      case '--child':
        args.child = take();
        break;
      case '--child-out':
        args.childOut = take();
        break;
      case '--help':
      case '-h':
        console.log('usage: npm run bench:backends -- [--backends cpu,wasm,webgpu-node,webgl,webgpu] [--models bench-cnn,mobilenet-v2] [--batch 32] [--memory-batch 32] [--memory-backends webgl] [--budget-ms 20000] [--out out/bench/backends.json]');
        process.exit(0);
        break;
      default:
        throw new Error(`unknown flag ${flag} (try --help)`);
    }
  }
  for (const b of [...args.backends, ...args.memoryBackends]) if (!(ALL as readonly string[]).includes(b)) throw new Error(`unknown backend '${b}': choose from ${ALL.join(', ')}`);
  for (const m of args.models) if (!['bench-cnn', 'mobilenet-v2'].includes(m)) throw new Error(`unknown model '${m}': bench-cnn or mobilenet-v2`);
  if (!Number.isInteger(args.batch) || args.batch < 1) throw new Error(`--batch: a positive integer, got ${args.batch}`);
  if (!Number.isInteger(args.memoryBatch) || args.memoryBatch < 0) throw new Error(`--memory-batch: an integer >= 0, got ${args.memoryBatch}`);
  return args;
}

/** What one backend produced. */
interface BackendResult {
  backend: string;
  device: string;
  speed: SpeedReport[];
  memory: MemoryReport[];
  /** Cases that failed (model and batch, the error's first line); the others still ran. */
  failures: Array<{ model: string; batch: number; error: string }>;
  error?: string;
}

/** The batch of a model's speed case: `--batch`, or `--mobilenet-batch` for the MobileNet-v2-sized model. */
const batchOf = (model: BenchModelName, args: Args): number => (model === 'mobilenet-v2' && args.mobilenetBatch > 0 ? args.mobilenetBatch : args.batch);
const firstLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0];

const ROUNDS = { minRounds: 3, maxRounds: 15 };

// ---- Node backends: one child process each ----------------------------------------------------

async function runChild(backend: string, args: Args): Promise<BackendResult> {
  const tf = await import('@tensorflow/tfjs');
  const lrp = await import('../src');
  const { measureMemory, measureSpeed } = await import('./bench-backends-core');
  let device = backend;
  if (backend === 'wasm') {
    require('@tensorflow/tfjs-backend-wasm');
    await tf.setBackend('wasm');
    device = `WebAssembly${tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? ' SIMD' : ''}, ${tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT') ? 'threads' : 'one thread'}`;
  } else if (backend === 'webgpu-node') {
    const { useWebGPU } = await import('../src/node');
    const info = await useWebGPU();
    device = `WebGPU through Dawn: ${info.adapter} (${info.attempt.featureLevel})`;
  } else {
    await tf.setBackend('cpu');
    device = 'JavaScript';
  }
  tf.enableProdMode();
  const result: BackendResult = { backend, device, speed: [], memory: [], failures: [] };
  for (const model of args.models) {
    const batch = batchOf(model, args);
    console.error(`  ${backend}: ${model} batch ${batch} ...`);
    try {
      result.speed.push(await measureSpeed(tf, lrp, model, batch, { ...ROUNDS, budgetMs: args.budgetMs, now: () => performance.now() }));
    } catch (e) {
      result.failures.push({ model, batch, error: firstLine(e) });
    }
  }
  if (args.memoryBatch > 0 && args.memoryBackends.includes(backend)) {
    console.error(`  ${backend}: memory, mobilenet-v2 batch ${args.memoryBatch} ...`);
    try {
      result.memory.push(await measureMemory(tf, lrp, 'mobilenet-v2', args.memoryBatch, 'epsilon'));
    } catch (e) {
      result.failures.push({ model: 'mobilenet-v2 (memory)', batch: args.memoryBatch, error: firstLine(e) });
    }
  }
  // Dawn keeps the process alive while its device exists
  if (backend === 'webgpu-node') (await import('../src/node')).releaseWebGPU();
  return result;
}

function spawnNode(backend: string, args: Args, tmp: string): BackendResult {
  const out = path.join(tmp, `${backend}.json`);
  const childArgs = ['-r', 'ts-node/register/transpile-only', path.join(ROOT, 'scripts', 'bench-backends.ts'), '--child', backend, '--child-out', out];
  childArgs.push('--models', args.models.join(','), '--batch', String(args.batch), '--mobilenet-batch', String(args.mobilenetBatch), '--memory-batch', String(args.memoryBatch), '--memory-backends', args.memoryBackends.join(','), '--budget-ms', String(args.budgetMs));
  const env = { ...process.env, EGL_PLATFORM: process.env.EGL_PLATFORM ?? 'surfaceless' };
  const r = spawnSync(process.execPath, childArgs, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], env });
  if (r.status !== 0 || !fs.existsSync(out)) return { backend, device: '?', speed: [], memory: [], failures: [], error: `child exited with ${r.status ?? r.signal}` };
  return JSON.parse(fs.readFileSync(out, 'utf8')) as BackendResult;
}

// ---- browser backends: one Chromium each ----------------------------------------------------

interface PageApi {
  init(backend: string): Promise<{ backend: string; device: string; tfjs: string }>;
  speed(model: BenchModelName, batch: number, minRounds: number, maxRounds: number, budgetMs: number): Promise<SpeedReport>;
  memory(model: BenchModelName, batch: number, setting: string): Promise<MemoryReport>;
}

async function runBrowser(backend: string, args: Args, dir: string): Promise<BackendResult> {
  const { chromium } = await import('playwright-core');
  const server = await serveStatic(dir);
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, ...(backend === 'webgpu' ? WEBGPU_ARGS : [])], headless: true });
  const errors: string[] = [];
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(0);
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(server.url);
    await page.waitForFunction(() => (window as unknown as { __benchBackends?: unknown }).__benchBackends !== undefined);
    const info = await page.evaluate((b) => (window as unknown as { __benchBackends: PageApi }).__benchBackends.init(b), backend);
    const result: BackendResult = { backend, device: `${info.device} (Chromium ${browser.version()})`, speed: [], memory: [], failures: [] };
    for (const model of args.models) {
      const batch = batchOf(model, args);
      console.error(`  ${backend}: ${model} batch ${batch} ...`);
      try {
        result.speed.push(
          await page.evaluate(
            ([m, b, lo, hi, ms]) => (window as unknown as { __benchBackends: PageApi }).__benchBackends.speed(m as BenchModelName, b as number, lo as number, hi as number, ms as number),
            [model, batch, ROUNDS.minRounds, ROUNDS.maxRounds, args.budgetMs] as const,
          ),
        );
      } catch (e) {
        result.failures.push({ model, batch, error: firstLine(e) });
      }
    }
    if (args.memoryBatch > 0 && args.memoryBackends.includes(backend)) {
      console.error(`  ${backend}: memory, mobilenet-v2 batch ${args.memoryBatch} ...`);
      try {
        result.memory.push(await page.evaluate((b) => (window as unknown as { __benchBackends: PageApi }).__benchBackends.memory('mobilenet-v2', b, 'epsilon'), args.memoryBatch));
      } catch (e) {
        result.failures.push({ model: 'mobilenet-v2 (memory)', batch: args.memoryBatch, error: firstLine(e) });
      }
    }
    if (errors.length > 0) result.error = `page errors: ${errors.slice(0, 5).join(' | ')}`;
    return result;
  } catch (e) {
    return { backend, device: '?', speed: [], memory: [], failures: [], error: `${(e as Error).message.split('\n')[0]}${errors.length > 0 ? `; page errors: ${errors.slice(0, 3).join(' | ')}` : ''}` };
  } finally {
    await browser.close();
    await server.close();
  }
}

async function buildPage(dir: string): Promise<void> {
  await build({
    entryPoints: [path.join(ROOT, 'scripts', 'bench-backends-page.ts')],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    outfile: path.join(dir, 'bench.js'),
    logLevel: 'warning',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><html><head><meta charset="utf-8"><title>tfjs-lrp bench:backends</title><link rel="icon" href="data:,"></head><body><script src="bench.js"></script></body></html>');
}

// ---- report -----------------------------------------------------------------------------------

/** Column labels of the settings. */
const SETTING_LABELS: Readonly<Record<string, string>> = { epsilon: 'ε', epsilonPlus: 'ε⁺', epsilonGammaBox: 'εγBox', epsilonAlpha2Beta1: 'εα2β1', epsilonPlusFlat: 'ε⁺flat', 'epsilonPlus x≥0': 'ε⁺ x≥0', 'epsilonAlpha2Beta1 x≥0': 'εα2β1 x≥0' };

const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

function markdown(results: BackendResult[], args: Args): string {
  const lines: string[] = [];
  // one column per setting: × predict (median of the per-round paired ratios) [min, max], median ms
  const columns = SETTINGS.map(([setting]) => setting);
  const empty = columns.map(() => ' |').join('');
  lines.push(`| backend | model | batch | predict ms | ${columns.map((c) => `${SETTING_LABELS[c] ?? c} × predict [min, max], ms`).join(' | ')} | rounds |`);
  lines.push(`| --- | --- | ---: | ---: |${columns.map(() => ' ---: |').join('')} ---: |`);
  for (const r of results) {
    if (r.error !== undefined && r.speed.length === 0) {
      lines.push(`| ${r.backend} | — | ${args.batch} | failed: ${r.error.replace(/[|\n]/g, ' / ')} |${empty} |`);
      continue;
    }
    for (const s of r.speed) {
      const t = (m: string) => s.timings.find((x) => x.method === m);
      const ms = (x: { medianMs: number }) => x.medianMs.toFixed(x.medianMs < 100 ? 1 : 0);
      const cell = (x: { medianMs: number; pairedRatio: number; pairedRatioMin?: number; pairedRatioMax?: number } | undefined) =>
        x === undefined ? '—' : `**${x.pairedRatio.toFixed(2)}×**${x.pairedRatioMin === undefined || x.pairedRatioMax === undefined ? '' : ` [${x.pairedRatioMin.toFixed(2)}, ${x.pairedRatioMax.toFixed(2)}]`}, ${ms(x)}`;
      const p = t('predict');
      lines.push(`| ${r.backend} | ${s.model} | ${s.batch} | ${p === undefined ? '—' : ms(p)} | ${columns.map((c) => cell(t(`explain ${c}`))).join(' | ')} | ${s.rounds === 0 ? 'first calls' : s.rounds} |`);
    }
    for (const f of r.failures ?? []) lines.push(`| ${r.backend} | ${f.model} | ${f.batch} | failed: ${f.error.replace(/\|/g, '/')} |${empty} |`);
  }
  const memory = results.flatMap((r) => r.memory);
  if (memory.length > 0) {
    lines.push('');
    lines.push('| backend | model | batch | baseline (weights, input) | predict peak | explain ε peak | explain / predict peak | above baseline: explain / predict | tensors before → after |');
    lines.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
    for (const m of memory) {
      lines.push(`| ${m.backend} | ${m.model} | ${m.batch} | ${mb(m.baselineBytes)} | ${mb(m.predictPeakBytes)} | ${mb(m.explainPeakBytes)} | **${m.ratio.toFixed(2)}×** | ${m.transientRatio.toFixed(2)}× | ${m.tensorsBefore} → ${m.tensorsAfterPredict} → ${m.tensorsAfterExplain} |`);
    }
  }
  return lines.join('\n') + '\n';
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.child !== undefined) {
    const result = await runChild(args.child, args);
    fs.writeFileSync(args.childOut as string, JSON.stringify(result));
    return;
  }
  const load = os.loadavg();
  console.log(`tfjs-lrp bench:backends: models ${args.models.join(', ')}, batch ${args.batch}; host ${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}, load ${load.map((v) => v.toFixed(2)).join(' ')}`);
  if (load[0] >= 0.75) console.warn(`WARNING: the machine is busy (1-min load ${load[0].toFixed(2)}); timings will be noisy (ratios are paired per round).`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-lrp-bench-backends-'));
  const results: BackendResult[] = [];
  try {
    const browserWanted = args.backends.some((b) => (BROWSER_BACKENDS as readonly string[]).includes(b));
    if (browserWanted) {
      if (!hasChromium()) throw new Error(`no Chromium at ${CHROMIUM_PATH} for ${args.backends.join(', ')}: apt-get install -y chromium, or leave out webgl/webgpu`);
      await buildPage(path.join(tmp, 'page'));
    }
    for (const backend of args.backends) {
      console.log(`- ${backend}`);
      const r = (NODE_BACKENDS as readonly string[]).includes(backend) ? spawnNode(backend, args, tmp) : await runBrowser(backend, args, path.join(tmp, 'page'));
      if (r.error !== undefined) console.warn(`  ${backend}: ${r.error}`);
      for (const f of r.failures) console.warn(`  ${backend}: ${f.model} batch ${f.batch} failed: ${f.error}`);
      results.push(r);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const table = markdown(results, args);
  console.log(`\n${results.map((r) => `${r.backend}: ${r.device}`).join('\n')}\n\n${table}`);
  console.log('(ε: rule epsilon; ε⁺: composite epsilonPlus; εγBox: composite epsilonGammaBox; εα2β1: composite epsilonAlpha2Beta1 (bench-cnn only); ε⁺flat: composite epsilonPlusFlat (MobileNet-v2-sized only); × predict: median over interleaved rounds of explain time / predict time in the same round, [min, max] over the rounds; reused explainers; every call read back with await data())');
  console.log(`load average at end: ${os.loadavg().map((v) => v.toFixed(2)).join(' ')} on ${os.cpus().length} cores`);
  fs.mkdirSync(path.dirname(args.out), { recursive: true });
  fs.writeFileSync(args.out, JSON.stringify({ date: new Date().toISOString(), host: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavg: load }, args, results }, null, 2) + '\n');
  fs.writeFileSync(args.out.replace(/\.json$/, '.md'), table);
  console.log(`wrote ${path.relative(ROOT, args.out)} and ${path.relative(ROOT, args.out.replace(/\.json$/, '.md'))}`);
  if (results.some((r) => r.error !== undefined || r.failures.length > 0)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(`bench:backends: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  process.exit(1);
});
