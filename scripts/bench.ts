/**
 * Benchmark of tfjs-lrp against model.predict and a plain input gradient, in interleaved rounds
 * with paired ratios (scripts/paired.ts), and the targets of issue #19.
 *
 *     npm run bench                                  # cpu + wasm, batches 1, 8, 32, MobileNet, targets
 *     npm run bench -- --backends wasm --batches 1,32 # what the targets need, faster
 *     npm run bench -- --backends wasm --quick --no-mobilenet
 *     npm run bench -- --profile                     # plus the per-phase / per-node profile (npm run profile)
 *
 * Flags:
 *   --backends cpu,wasm   backends to run (default cpu,wasm)
 *   --batches 1,8,32      batch sizes (default 1,8,32)
 *   --quick               fewer rounds (numbers are noisier)
 *   --rounds N            minimum timed rounds per case (default: wasm 9, cpu 3; quick 3)
 *   --budget-ms N         stop adding rounds after this many ms per case (default: wasm 20000, cpu 30000)
 *   --skip-slow-cpu       skip the three LRP composites on cpu at batch 32
 *   --no-mobilenet        skip the MobileNet-v2-sized model (npm run bench:mobilenet, a child process)
 *   --mobilenet-batch N   its batch (default 8)
 *   --profile             after the timings, print the profile of bench-cnn (wasm, batch 32) and
 *                         MobileNet (wasm, batch 8): scripts/profile.ts, a child process
 *   --same-process        run all backends in this process (default: one child process per backend)
 *   --out PATH            JSON output (default out/bench/bench.json)
 *
 * Each case (backend, batch) runs every method once per round, in a seeded random order per
 * round, each right next to a call of its reference (scripts/paired.ts): a method's ratio is its
 * time over that adjacent predict call's time (one-shot explain: over an adjacent call of the reused
 * explainer's ε), and the median and spread [min, max] of these per-round ratios are printed. Every timed call includes reading the result back (`await
 * data()`) and disposes what it made; the tensor count over the rounds is checked. The load
 * average (os.loadavg) is printed before and after each case: the paired ratios stay usable on a
 * busy machine, the absolute times do not.
 *
 * One method is not an explanation: 'epsilonPlus least work' (scripts/least-work.ts) is every
 * kernel an epsilonPlus pass on tf ops cannot leave out, with one kernel per max pool in place of its
 * routing: a lower bound of 'epsilonPlus x≥0' on the same kernels, printed under the targets.
 *
 * Model "bench-cnn": 32x32x3 → [Conv(32)x2, MaxPool] → [Conv(64)x2, MaxPool] → [Conv(128)x2,
 * MaxPool] → Flatten → Dense(256, relu) → Dense(10); seeded weights and inputs.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import * as tf from '@tensorflow/tfjs';
import * as benchCnn from './bench-cnn';
import { createExplainer, explain } from '../src';
import type { ExplainOptions } from '../src';
import { leastWorkEpsilonPlus } from './least-work';
import { formatRatio, loadLine, pairedRounds, type PairedMethod, type PairedTiming, type RoundPlan } from './paired';

// ---- CLI -----------------------------------------------------------------------------------

interface Args {
  backends: string[];
  batches: number[];
  quick: boolean;
  rounds?: number;
  budgetMs?: number;
  cpuSlowAll: boolean;
  mobilenet: boolean;
  mobilenetBatch: number;
  profile: boolean;
  sameProcess: boolean;
  out: string;
  /** Internal: run one backend and write its rows here (used by the per-backend child processes). */
  childOut?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { backends: ['cpu', 'wasm'], batches: [1, 8, 32], quick: false, cpuSlowAll: true, mobilenet: true, mobilenetBatch: 8, profile: false, sameProcess: false, out: path.join('out', 'bench', 'bench.json') };
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`${flag} needs a value`);
    return v;
  };
  const positive = (v: string, flag: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag}: a positive integer expected, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const take = (): string => (inline !== undefined ? inline : value(i++, flag));
    switch (flag) {
      case '--backends':
        args.backends = take().split(',').map((s) => s.trim()).filter(Boolean);
        break;
      case '--batches':
        args.batches = take().split(',').map((s) => positive(s.trim(), '--batches'));
        break;
      case '--quick':
        args.quick = true;
        break;
      case '--rounds':
        args.rounds = positive(take(), '--rounds');
        break;
      case '--budget-ms':
        args.budgetMs = positive(take(), '--budget-ms');
        break;
      case '--skip-slow-cpu':
        args.cpuSlowAll = false;
        break;
      case '--cpu-slow-all':
        args.cpuSlowAll = true;
        break;
      case '--no-mobilenet':
        args.mobilenet = false;
        break;
      case '--mobilenet-batch':
        args.mobilenetBatch = positive(take(), '--mobilenet-batch');
        break;
      case '--profile':
        args.profile = true;
        break;
      case '--same-process':
        args.sameProcess = true;
        break;
      case '--out':
        args.out = take();
        break;
      case '--child-out':
        args.childOut = take();
        break;
      case '--help':
      case '-h':
        console.log('usage: npm run bench -- [--backends cpu,wasm] [--batches 1,8,32] [--quick] [--rounds N] [--budget-ms N] [--skip-slow-cpu] [--no-mobilenet] [--mobilenet-batch 8] [--profile] [--same-process] [--out out/bench/bench.json]');
        process.exit(0);
        break;
      default:
        throw new Error(`unknown flag ${a} (try --help)`);
    }
  }
  for (const b of args.backends) if (b !== 'cpu' && b !== 'wasm') throw new Error(`--backends: only cpu and wasm are supported, got '${b}' (the GPU backends: npm run bench:backends)`);
  return args;
}

// ---- model, methods, rounds ----------------------------------------------------------------

const { SEED, INPUT_SHAPE, CLASS_IDX } = benchCnn;

interface Method {
  name: string;
  /** LRP options; undefined for predict and grad. */
  options?: ExplainOptions;
  /** The one-shot function `explain(model, x, c, options)` (its cache) instead of a reused explainer. */
  oneShot?: boolean;
  /** Skipped on cpu at batch >= 32 with --skip-slow-cpu. */
  slowOnCpu: boolean;
  /** epsilonPlus's least work (scripts/least-work.ts), a lower bound of 'epsilonPlus x≥0'. */
  leastWork?: boolean;
}

const LEAST_WORK = 'epsilonPlus least work';

const METHODS: Method[] = [
  { name: 'predict', slowOnCpu: false },
  { name: 'grad', slowOnCpu: false },
  { name: 'epsilon', options: { rule: 'epsilon' }, slowOnCpu: false },
  { name: 'epsilonPlus', options: { composite: 'epsilonPlus' }, slowOnCpu: true },
  { name: 'epsilonGammaBox', options: { composite: 'epsilonGammaBox', low: 0, high: 1 }, slowOnCpu: true },
  { name: 'epsilonAlpha2Beta1', options: { composite: 'epsilonAlpha2Beta1' }, slowOnCpu: true },
  // the input declared ≥ 0 (bench-cnn's lies in [0, 1]): the first layer's z⁺/αβ on x, not [x⁺, x⁻]
  { name: 'epsilonPlus x≥0', options: { composite: 'epsilonPlus', inputNonNegative: true }, slowOnCpu: true },
  { name: 'epsilonAlpha2Beta1 x≥0', options: { composite: 'epsilonAlpha2Beta1', inputNonNegative: true }, slowOnCpu: true },
  { name: 'oneShot epsilon', options: { rule: 'epsilon' }, oneShot: true, slowOnCpu: false },
  // not an explanation: the lower bound of 'epsilonPlus x≥0' on these kernels (scripts/least-work.ts)
  { name: LEAST_WORK, leastWork: true, slowOnCpu: true },
];

/** The method a method's paired ratio divides by. */
const pairedWith = (m: Method): string => (m.oneShot === true ? 'epsilon' : 'predict');

function roundPlan(backend: string, args: Args): RoundPlan {
  const cpu = backend === 'cpu';
  const minRounds = args.rounds ?? (args.quick ? 3 : cpu ? 3 : 9);
  // (small cases get many rounds within the budget: at batch 1 a call is a few ms, and the noise of a
  // busy machine needs many pairs to average out)
  return { warmup: cpu || args.quick ? 1 : 2, minRounds, maxRounds: Math.max(minRounds, args.quick ? 5 : 101), budgetMs: args.budgetMs ?? (args.quick ? 3000 : cpu ? 30000 : 20000) };
}

// (the input of the current case: the runners read it at call time)
let currentInput: tf.Tensor | null = null;
const input = (): tf.Tensor => currentInput as tf.Tensor;

function makeRunner(model: tf.LayersModel, method: Method): { run: () => tf.Tensor; dispose: () => void } {
  if (method.name === 'predict') return { run: () => model.predict(input()) as tf.Tensor, dispose: () => undefined };
  if (method.name === 'grad') {
    // d/dx of Σ_batch logit[c]: one forward with the tape plus one backward; tf.grad tidies the rest.
    const f = tf.grad((x: tf.Tensor) => {
      const logits = model.apply(x, { training: false }) as tf.Tensor2D;
      return tf.sum(tf.slice(logits, [0, CLASS_IDX], [-1, 1]));
    });
    return { run: () => f(input()), dispose: () => undefined };
  }
  if (method.leastWork === true) {
    const bound = leastWorkEpsilonPlus(model as tf.Sequential, input() as tf.Tensor4D, CLASS_IDX);
    return { run: () => bound.run(), dispose: bound.dispose };
  }
  const options = method.options as ExplainOptions;
  if (method.oneShot === true) return { run: () => explain(model, input(), CLASS_IDX, options) as tf.Tensor, dispose: () => undefined };
  const explainer = createExplainer(model, options);
  return { run: () => explainer.explain(input(), CLASS_IDX) as tf.Tensor, dispose: () => explainer.dispose() };
}

// ---- main ----------------------------------------------------------------------------------

interface Row {
  backend: string;
  batch: number;
  method: string;
  status: 'ok' | 'skipped' | 'error';
  note?: string;
  medianMs?: number;
  minMs?: number;
  maxMs?: number;
  rounds?: number;
  timesMs?: number[];
  pairedWith?: string | null;
  /** Median of the per-round ratios to `pairedWith` (predict, or the reused ε for the one-shot). */
  ratio?: number;
  ratioMin?: number;
  ratioMax?: number;
  perSampleMs?: number;
  tensorLeak?: number;
  loadBefore?: number[];
  loadAfter?: number[];
}

const fmt = (v: number | undefined, digits = 1): string => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits));

async function setBackend(name: string): Promise<Record<string, unknown>> {
  if (name === 'wasm') require('@tensorflow/tfjs-backend-wasm');
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) throw new Error(`could not set backend '${name}'`);
  await tf.ready();
  const info: Record<string, unknown> = { backend: name };
  if (name === 'wasm') {
    info.simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
    info.multithread = tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT');
    try {
      const wasm = require('@tensorflow/tfjs-backend-wasm');
      info.threads = wasm.getThreadsCount?.();
    } catch {
      /* older versions have no getThreadsCount */
    }
  }
  return info;
}

async function measureBackend(backend: string, args: Args): Promise<{ info: Record<string, unknown>; rows: Row[] }> {
  const rows: Row[] = [];
  const info = await setBackend(backend);
  console.log(`\n== backend ${backend} ${JSON.stringify(info)} (pid ${process.pid})`);
  const model = benchCnn.buildBenchCnn(tf);
  const plan = roundPlan(backend, args);
  for (const batch of args.batches) {
    currentInput = benchCnn.benchInput(tf, batch);
    const active = METHODS.filter((m) => !(backend === 'cpu' && batch >= 32 && m.slowOnCpu && !args.cpuSlowAll));
    for (const m of METHODS) {
      if (!active.includes(m)) rows.push({ backend, batch, method: m.name, status: 'skipped', note: 'cpu batch>=32: slow composite skipped (--skip-slow-cpu)' });
    }
    const runners = active.map((m) => makeRunner(model, m));
    const methods: PairedMethod[] = active.map((m, k) => ({ name: m.name, run: runners[k].run, pairedWith: pairedWith(m) }));
    try {
      const report = await pairedRounds(tf, methods, plan);
      console.log(`  ${backend} b=${batch}: ${report.rounds} rounds; ${loadLine('load', report.loadAfter)}`);
      for (const t of report.timings) {
        rows.push(rowOf(backend, batch, t, report));
        console.log(`    ${t.method.padEnd(20)} median ${fmt(t.medianMs, 2).padStart(8)} ms  [${fmt(t.minMs, 1)}, ${fmt(t.maxMs, 1)}]${t.pairedWith === null ? '' : `  x ${t.pairedWith} ${formatRatio(t)}`}`);
      }
      if (report.leakedTensors !== 0) console.warn(`  WARNING: ${backend} b=${batch}: tf.memory().numTensors changed by ${report.leakedTensors} over the rounds (leak)`);
    } catch (e) {
      const note = e instanceof Error ? e.message : String(e);
      console.error(`  ${backend} b=${batch}: ERROR ${note}`);
      for (const m of active) rows.push({ backend, batch, method: m.name, status: 'error', note });
    } finally {
      for (const r of runners) r.dispose();
      currentInput.dispose();
      currentInput = null;
    }
  }
  model.dispose();
  return { info, rows };
}

function rowOf(backend: string, batch: number, t: PairedTiming, report: { rounds: number; leakedTensors: number; loadBefore: number[]; loadAfter: number[] }): Row {
  return {
    backend,
    batch,
    method: t.method,
    status: 'ok',
    medianMs: t.medianMs,
    minMs: t.minMs,
    maxMs: t.maxMs,
    rounds: report.rounds,
    timesMs: t.times.map((v) => Math.round(v * 1000) / 1000),
    pairedWith: t.pairedWith,
    ratio: t.ratioMedian,
    ratioMin: t.ratioMin,
    ratioMax: t.ratioMax,
    perSampleMs: t.medianMs / batch,
    tensorLeak: report.leakedTensors,
    loadBefore: report.loadBefore,
    loadAfter: report.loadAfter,
  };
}

/** The targets of issue #19 (ratios: median of the paired per-round ratios). */
interface Target {
  readonly label: string;
  readonly limit: number;
  readonly find: (rows: readonly Row[], mobilenet: MobileNetResult | null) => { ratio: number; min: number; max: number } | null;
}

interface MobileNetResult {
  batch: number;
  backend: string;
  ratio: number;
  ratioMin: number;
  ratioMax: number;
  rounds: number;
}

const fromRow = (backend: string, batch: number, method: string) => (rows: readonly Row[]) => {
  const r = rows.find((x) => x.backend === backend && x.batch === batch && x.method === method && x.status === 'ok');
  return r?.ratio === undefined ? null : { ratio: r.ratio, min: r.ratioMin as number, max: r.ratioMax as number };
};

const TARGETS: readonly Target[] = [
  { label: 'wasm b=32 epsilon <= 2.2x predict', limit: 2.2, find: fromRow('wasm', 32, 'epsilon') },
  { label: 'wasm b=32 epsilonPlus <= 3.0x predict', limit: 3.0, find: fromRow('wasm', 32, 'epsilonPlus') },
  { label: 'wasm b=32 epsilonPlus, input declared >= 0, <= 3.0x predict', limit: 3.0, find: fromRow('wasm', 32, 'epsilonPlus x≥0') },
  { label: 'wasm b=32 epsilonGammaBox <= 4.0x predict', limit: 4.0, find: fromRow('wasm', 32, 'epsilonGammaBox') },
  { label: 'wasm b=32 epsilonAlpha2Beta1 <= 4.5x predict', limit: 4.5, find: fromRow('wasm', 32, 'epsilonAlpha2Beta1') },
  { label: 'wasm MobileNet-v2 epsilonPlusFlat <= 2.5x predict', limit: 2.5, find: (_, m) => (m === null ? null : { ratio: m.ratio, min: m.ratioMin, max: m.ratioMax }) },
  { label: 'wasm b=1 epsilon <= 3.0x predict', limit: 3.0, find: fromRow('wasm', 1, 'epsilon') },
  { label: 'wasm b=32 one-shot explain <= 1.05x reused explainer (epsilon)', limit: 1.05, find: fromRow('wasm', 32, 'oneShot epsilon') },
  { label: 'wasm b=1 one-shot explain <= 1.05x reused explainer (epsilon)', limit: 1.05, find: fromRow('wasm', 1, 'oneShot epsilon') },
];

function runMobileNet(args: Args): MobileNetResult | null {
  const tmp = path.join(os.tmpdir(), `tfjs-lrp-bench-${process.pid}-mobilenet.json`);
  const quick = args.quick ? ['--rounds', '3', '--max-rounds', '3'] : [];
  console.log(`\n== MobileNet-v2-sized model, wasm, batch ${args.mobilenetBatch} (npm run bench:mobilenet)`);
  const res = spawnSync(process.execPath, [...process.execArgv, path.join(__dirname, 'bench-mobilenet.ts'), '--backend', 'wasm', '--batch', String(args.mobilenetBatch), '--out', tmp, ...quick], { stdio: 'inherit' });
  if (res.status !== 0 || !fs.existsSync(tmp)) {
    console.error(`  the MobileNet child process failed (exit ${res.status ?? res.signal})`);
    return null;
  }
  const r = JSON.parse(fs.readFileSync(tmp, 'utf8')) as MobileNetResult;
  fs.rmSync(tmp, { force: true });
  return r;
}

async function main(): Promise<void> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`bench: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(2);
  }
  const started = performance.now();
  tf.enableProdMode();
  if (args.childOut !== undefined) {
    if (args.backends.length !== 1) throw new Error('--child-out runs exactly one backend');
    const r = await measureBackend(args.backends[0], args);
    fs.writeFileSync(args.childOut, JSON.stringify({ info: [r.info], rows: r.rows }));
    return;
  }
  console.log(`tfjs-lrp bench: model bench-cnn, input ${INPUT_SHAPE.join('x')}, class ${CLASS_IDX}, backends ${args.backends.join(',')}, batches ${args.batches.join(',')}${args.quick ? ', quick' : ''}`);
  console.log(`node ${process.version}, tfjs ${tf.version.tfjs}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}`);
  const loadStart = os.loadavg();
  console.log(loadLine('start', loadStart));

  const rows: Row[] = [];
  const backendInfo: Record<string, unknown>[] = [];
  if (args.sameProcess || args.backends.length === 1) {
    for (const backend of args.backends) {
      const r = await measureBackend(backend, args);
      backendInfo.push(r.info);
      rows.push(...r.rows);
    }
  } else {
    // One child process per backend, so one backend's heap, JIT state and leftovers cannot slow the next.
    for (const backend of args.backends) {
      const tmp = path.join(os.tmpdir(), `tfjs-lrp-bench-${process.pid}-${backend}.json`);
      const pass = process.argv.slice(2).filter((a, i, all) => !['--backends', '--out'].includes(a) && !['--backends', '--out'].includes(all[i - 1] ?? '') && !a.startsWith('--backends=') && !a.startsWith('--out='));
      const childArgs = [...pass, '--backends', backend, '--child-out', tmp];
      const res = spawnSync(process.execPath, [...process.execArgv, __filename, ...childArgs], { stdio: 'inherit' });
      if (res.status !== 0 || !fs.existsSync(tmp)) throw new Error(`the ${backend} child process failed (exit ${res.status ?? res.signal})`);
      const r = JSON.parse(fs.readFileSync(tmp, 'utf8')) as { info: Record<string, unknown>[]; rows: Row[] };
      fs.rmSync(tmp, { force: true });
      backendInfo.push(...r.info);
      rows.push(...r.rows);
    }
  }
  const mobilenet = args.mobilenet ? runMobileNet(args) : null;

  // ---- table -------------------------------------------------------------------------------
  const header = ['backend', 'batch', 'method', 'median ms', 'ratio (median [min, max] per round)', 'vs', 'ms/sample', 'rounds', 'min..max ms'];
  const body = rows.map((r) =>
    r.status === 'ok'
      ? [r.backend, String(r.batch), r.method, fmt(r.medianMs, 2), r.ratio === undefined ? '-' : formatRatio({ ratioMedian: r.ratio, ratioMin: r.ratioMin, ratioMax: r.ratioMax }), r.pairedWith ?? '-', fmt(r.perSampleMs, 3), String(r.rounds), `${fmt(r.minMs, 1)}..${fmt(r.maxMs, 1)}`]
      : [r.backend, String(r.batch), r.method, r.status, '-', '-', '-', '-', r.note ?? ''],
  );
  const right = new Set([1, 3, 4, 6, 7]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
  console.log('\n' + [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n'));

  // ---- targets -----------------------------------------------------------------------------
  const checks: Array<Record<string, unknown>> = [];
  console.log('\ntargets (issue #19; median of the paired per-round ratios, spread [min, max]):');
  for (const t of TARGETS) {
    const found = t.find(rows, mobilenet);
    if (found === null) {
      console.log(`  [n/a ] ${t.label}: not measured in this run`);
      checks.push({ target: t.label, limit: t.limit, result: 'n/a' });
      continue;
    }
    const pass = found.ratio <= t.limit;
    const label = t.label.includes('MobileNet') && mobilenet !== null ? `${t.label} (b=${mobilenet.batch})` : t.label;
    console.log(`  [${pass ? 'PASS' : 'FAIL'}] ${label.padEnd(66)} ${formatRatio({ ratioMedian: found.ratio, ratioMin: found.min, ratioMax: found.max })}`);
    checks.push({ target: t.label, limit: t.limit, result: pass ? 'PASS' : 'FAIL', ratio: found.ratio, ratioMin: found.min, ratioMax: found.max });
  }
  const bound = fromRow('wasm', 32, LEAST_WORK)(rows);
  if (bound !== null) {
    console.log(`  [info] wasm b=32 epsilonPlus's least work, the lower bound of any epsilonPlus call on these kernels`);
    console.log(`         (scripts/least-work.ts; one kernel per max pool in place of its routing)           ${formatRatio({ ratioMedian: bound.ratio, ratioMin: bound.min, ratioMax: bound.max })}`);
  }
  const leaks = rows.filter((r) => (r.tensorLeak ?? 0) !== 0);
  console.log(leaks.length === 0 ? '  [PASS] tensor count unchanged over every case' : `  [WARN] tensor count changed: ${[...new Set(leaks.map((r) => `${r.backend} b=${r.batch} (${r.tensorLeak})`))].join(', ')}`);

  const totalS = (performance.now() - started) / 1000;
  const loadEnd = os.loadavg();
  console.log(loadLine('end', loadEnd));
  const out = {
    meta: {
      date: new Date().toISOString(),
      node: process.version,
      tfjs: tf.version.tfjs,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      model: 'bench-cnn',
      inputShape: INPUT_SHAPE,
      classIdx: CLASS_IDX,
      seed: SEED,
      args,
      backends: backendInfo,
      roundPlans: Object.fromEntries(args.backends.map((b) => [b, roundPlan(b, args)])),
      totalSeconds: totalS,
      loadAverageStart: loadStart,
      loadAverageEnd: loadEnd,
    },
    rows,
    mobilenet,
    targets: checks,
  };
  fs.mkdirSync(path.dirname(args.out), { recursive: true });
  fs.writeFileSync(args.out, JSON.stringify(out, null, 2) + '\n');
  console.log(`\nwrote ${args.out} (total ${fmt(totalS, 1)} s)`);

  if (args.profile) {
    console.log('\n== profile (npm run profile)');
    const res = spawnSync(process.execPath, [...process.execArgv, path.join(__dirname, 'profile.ts'), '--backend', 'wasm', '--model', 'bench-cnn,mobilenet', ...(args.quick ? ['--reps', '3'] : [])], { stdio: 'inherit' });
    if (res.status !== 0) console.error(`  the profile child process failed (exit ${res.status ?? res.signal})`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
