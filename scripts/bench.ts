/**
 * Benchmark of tfjs-lrp against model.predict and a plain input gradient.
 *
 *     npm run bench                                  # cpu + wasm, batches 1, 8, 32
 *     npm run bench -- --backends wasm --quick       # a partial, faster run
 *
 * Flags:
 *   --backends cpu,wasm   backends to run (default cpu,wasm)
 *   --batches 1,8,32      batch sizes (default 1,8,32)
 *   --quick               fewer warm-up runs and repeats (numbers are noisier)
 *   --skip-slow-cpu       skip the three LRP composites on cpu at batch 32 (about 2.5 minutes)
 *   --same-process        run all backends in this process (default: one child process per backend)
 *   --out PATH            JSON output (default out/bench/bench.json)
 *
 * Model "bench-cnn": 32x32x3 → [Conv(32)x2, MaxPool] → [Conv(64)x2, MaxPool] → [Conv(128)x2,
 * MaxPool] → Flatten → Dense(256, relu) → Dense(10); seeded weights and inputs, so runs are
 * comparable. Every timed iteration includes reading the result back (`await data()`), and
 * disposes every tensor it made; the tensor count before and after each method's loop is checked.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import * as tf from '@tensorflow/tfjs';
import * as benchCnn from './bench-cnn';
import { createExplainer } from '../src';
import type { ExplainOptions } from '../src';

// ---- CLI -----------------------------------------------------------------------------------

interface Args {
  backends: string[];
  batches: number[];
  quick: boolean;
  cpuSlowAll: boolean;
  sameProcess: boolean;
  out: string;
  /** Internal: run one backend and write its rows here (used by the per-backend child processes). */
  childOut?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { backends: ['cpu', 'wasm'], batches: [1, 8, 32], quick: false, cpuSlowAll: true, sameProcess: false, out: path.join('out', 'bench', 'bench.json') };
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`${flag} needs a value`);
    return v;
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
        args.batches = take().split(',').map((s) => Number(s.trim()));
        if (args.batches.some((b) => !Number.isInteger(b) || b < 1)) throw new Error(`--batches: positive integers expected, got ${argv[i]}`);
        break;
      case '--quick':
        args.quick = true;
        break;
      case '--skip-slow-cpu':
        args.cpuSlowAll = false;
        break;
      case '--cpu-slow-all':
        args.cpuSlowAll = true;
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
        console.log('usage: npm run bench -- [--backends cpu,wasm] [--batches 1,8,32] [--quick] [--skip-slow-cpu] [--same-process] [--out out/bench/bench.json]');
        process.exit(0);
        break;
      default:
        throw new Error(`unknown flag ${a} (try --help)`);
    }
  }
  for (const b of args.backends) if (b !== 'cpu' && b !== 'wasm') throw new Error(`--backends: only cpu and wasm are supported, got '${b}'`);
  return args;
}

// ---- model and data ------------------------------------------------------------------------

const { SEED, INPUT_SHAPE, CLASS_IDX } = benchCnn;

/** bench-cnn (scripts/bench-cnn.ts, shared with the browser benchmark) on this process's tf. */
function buildModel(): tf.Sequential {
  return benchCnn.buildBenchCnn(tf);
}

function makeInput(batch: number): tf.Tensor4D {
  return benchCnn.benchInput(tf, batch);
}

// ---- timing --------------------------------------------------------------------------------

interface Plan {
  warmup: number;
  minReps: number;
  maxReps: number;
  /** Stop repeating once the timed runs have taken this long (after minReps). */
  budgetMs: number;
}

function repeatPlan(backend: string, quick: boolean): Plan {
  if (backend === 'cpu') return quick ? { warmup: 1, minReps: 2, maxReps: 3, budgetMs: 1500 } : { warmup: 1, minReps: 3, maxReps: 7, budgetMs: 6000 };
  return quick ? { warmup: 1, minReps: 3, maxReps: 7, budgetMs: 1000 } : { warmup: 3, minReps: 7, maxReps: 31, budgetMs: 4000 };
}

interface Timing {
  median: number;
  min: number;
  max: number;
  reps: number;
  times: number[];
  leak: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs `once` (which returns a tensor) `warmup` times untimed, then timed until the plan is met. */
async function timeMethod(once: () => tf.Tensor, plan: Plan): Promise<Timing> {
  let before = 0;
  const iterate = async (): Promise<number> => {
    const t0 = performance.now();
    const r = once();
    await r.data(); // the work is really done (and read back) inside the timed region
    const dt = performance.now() - t0;
    r.dispose();
    return dt;
  };
  for (let i = 0; i < plan.warmup; i++) await iterate();
  // counted after the warm-up: an explainer keeps its weight-derived tensors between calls
  before = tf.memory().numTensors;
  const times: number[] = [];
  let total = 0;
  while (times.length < plan.maxReps && (times.length < plan.minReps || total < plan.budgetMs)) {
    const dt = await iterate();
    times.push(dt);
    total += dt;
  }
  const leak = tf.memory().numTensors - before;
  return { median: median(times), min: Math.min(...times), max: Math.max(...times), reps: times.length, times, leak };
}

// ---- methods -------------------------------------------------------------------------------

interface Method {
  name: string;
  /** LRP options; undefined for predict and grad. */
  options?: ExplainOptions;
  /** Skipped on cpu at batch >= 32 with --skip-slow-cpu. */
  slowOnCpu: boolean;
}

const METHODS: Method[] = [
  { name: 'predict', slowOnCpu: false },
  { name: 'grad', slowOnCpu: false },
  { name: 'epsilon', options: { rule: 'epsilon' }, slowOnCpu: false },
  { name: 'epsilonPlus', options: { composite: 'epsilonPlus' }, slowOnCpu: true },
  { name: 'epsilonGammaBox', options: { composite: 'epsilonGammaBox', low: 0, high: 1 }, slowOnCpu: true },
  { name: 'epsilonAlpha2Beta1', options: { composite: 'epsilonAlpha2Beta1' }, slowOnCpu: true },
];

type Runner = (x: tf.Tensor) => tf.Tensor;

function runnerFor(model: tf.LayersModel, method: Method): Runner {
  if (method.name === 'predict') return (x) => model.predict(x) as tf.Tensor;
  if (method.name === 'grad') {
    // d/dx of Σ_batch logit[c]: one forward with the tape plus one backward; tf.grad tidies the rest.
    const f = tf.grad((x: tf.Tensor) => {
      const logits = model.apply(x, { training: false }) as tf.Tensor2D;
      return tf.sum(tf.slice(logits, [0, CLASS_IDX], [-1, 1]));
    });
    return (x) => f(x);
  }
  const explainer = createExplainer(model, method.options);
  return (x) => explainer.explain(x, CLASS_IDX) as tf.Tensor;
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
  reps?: number;
  timesMs?: number[];
  ratioToPredict?: number;
  perSampleMs?: number;
  tensorLeak?: number;
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
  const model = buildModel();
  const plan = repeatPlan(backend, args.quick);
  const runners = new Map<string, Runner>();
  for (const method of METHODS) runners.set(method.name, runnerFor(model, method));

  for (const batch of args.batches) {
    const x = makeInput(batch);
    let predictMs: number | undefined;
    for (const method of METHODS) {
      const row: Row = { backend, batch, method: method.name, status: 'ok' };
      if (backend === 'cpu' && batch >= 32 && method.slowOnCpu && !args.cpuSlowAll) {
        row.status = 'skipped';
        row.note = 'cpu batch>=32: slow composite skipped (--skip-slow-cpu)';
        rows.push(row);
        console.log(`  ${backend} b=${batch} ${method.name}: skipped`);
        continue;
      }
      try {
        const t = await timeMethod(() => (runners.get(method.name) as Runner)(x), plan);
        if (method.name === 'predict') predictMs = t.median;
        Object.assign(row, {
          medianMs: t.median,
          minMs: t.min,
          maxMs: t.max,
          reps: t.reps,
          timesMs: t.times.map((v) => Math.round(v * 1000) / 1000),
          ratioToPredict: predictMs === undefined ? undefined : t.median / predictMs,
          perSampleMs: t.median / batch,
          tensorLeak: t.leak,
        });
        console.log(`  ${backend} b=${batch} ${method.name}: median ${fmt(t.median, 2)} ms (min ${fmt(t.min, 2)}, max ${fmt(t.max, 2)}, n=${t.reps})`);
        if (t.leak !== 0) console.warn(`  WARNING: ${backend} b=${batch} ${method.name}: tf.memory().numTensors changed by ${t.leak} over the loop (leak)`);
      } catch (e) {
        row.status = 'error';
        row.note = e instanceof Error ? e.message : String(e);
        console.error(`  ${backend} b=${batch} ${method.name}: ERROR ${row.note}`);
      }
      rows.push(row);
    }
    x.dispose();
  }
  model.dispose();
  return { info, rows };
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
  console.log(`load average at start: ${loadStart.map((v) => v.toFixed(2)).join(' ')}`);
  if (loadStart[0] >= 0.75) console.warn(`WARNING: the machine is busy (1-min load ${loadStart[0].toFixed(2)} on ${os.cpus().length} cores) before the bench starts; timings, LRP ones most, will be noisy and slow.`);

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
      const childArgs = ['--backends', backend, '--batches', args.batches.join(','), '--child-out', tmp, ...(args.quick ? ['--quick'] : []), ...(args.cpuSlowAll ? [] : ['--skip-slow-cpu'])];
      const res = spawnSync(process.execPath, [...process.execArgv, __filename, ...childArgs], { stdio: 'inherit' });
      if (res.status !== 0 || !fs.existsSync(tmp)) throw new Error(`the ${backend} child process failed (exit ${res.status ?? res.signal})`);
      const r = JSON.parse(fs.readFileSync(tmp, 'utf8')) as { info: Record<string, unknown>[]; rows: Row[] };
      fs.rmSync(tmp, { force: true });
      backendInfo.push(...r.info);
      rows.push(...r.rows);
    }
  }

  // ---- table -------------------------------------------------------------------------------
  const header = ['backend', 'batch', 'method', 'median ms', 'x predict', 'ms/sample', 'n', 'min..max ms'];
  const body = rows.map((r) =>
    r.status === 'ok'
      ? [r.backend, String(r.batch), r.method, fmt(r.medianMs, 2), fmt(r.ratioToPredict, 2), fmt(r.perSampleMs, 3), String(r.reps), `${fmt(r.minMs, 1)}..${fmt(r.maxMs, 1)}`]
      : [r.backend, String(r.batch), r.method, r.status, '-', '-', '-', r.note ?? ''],
  );
  const right = new Set([1, 3, 4, 5, 6]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
  console.log('\n' + [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n'));

  // ---- checks ------------------------------------------------------------------------------
  const find = (backend: string, batch: number, method: string) => rows.find((r) => r.backend === backend && r.batch === batch && r.method === method && r.status === 'ok');
  const checks: Array<Record<string, unknown>> = [];
  console.log('\nchecks:');
  for (const [method, limit] of [['epsilon', 2.5], ['epsilonGammaBox', 6]] as const) {
    const r = find('wasm', 32, method);
    const p = find('wasm', 32, 'predict');
    if (r === undefined || p === undefined || r.medianMs === undefined || p.medianMs === undefined) {
      console.log(`  [n/a ] wasm b=32 ${method} <= ${limit}x predict: not measured in this run`);
      checks.push({ check: `wasm b=32 ${method} <= ${limit}x predict`, result: 'n/a' });
      continue;
    }
    const ratio = r.medianMs / p.medianMs;
    const pass = ratio <= limit;
    console.log(`  [${pass ? 'PASS' : 'FAIL'}] wasm b=32 ${method} <= ${limit}x predict: ${fmt(r.medianMs, 2)} ms / ${fmt(p.medianMs, 2)} ms = ${fmt(ratio, 2)}x`);
    checks.push({ check: `wasm b=32 ${method} <= ${limit}x predict`, result: pass ? 'PASS' : 'FAIL', methodMs: r.medianMs, predictMs: p.medianMs, ratio, limit });
  }
  const perSample: Array<Record<string, unknown>> = [];
  for (const backend of args.backends) {
    for (const method of METHODS) {
      const a = find(backend, 1, method.name);
      const b = find(backend, 32, method.name);
      if (a?.perSampleMs === undefined || b?.perSampleMs === undefined) continue;
      const ratio = b.perSampleMs / a.perSampleMs;
      console.log(`  [info] ${backend} ${method.name}: per-sample ${fmt(b.perSampleMs, 3)} ms at b=32 vs ${fmt(a.perSampleMs, 3)} ms at b=1 = ${fmt(ratio, 2)}x (${ratio <= 1 ? `batching saves ${fmt((1 - ratio) * 100, 0)}%` : 'batching does not help'})`);
      perSample.push({ backend, method: method.name, perSampleMsB1: a.perSampleMs, perSampleMsB32: b.perSampleMs, ratio });
    }
  }
  if (perSample.length === 0) console.log('  [n/a ] per-sample b=32 vs b=1: needs batches 1 and 32');
  const leaks = rows.filter((r) => (r.tensorLeak ?? 0) !== 0);
  console.log(leaks.length === 0 ? '  [PASS] tensor count unchanged over every method loop' : `  [WARN] tensor count changed: ${leaks.map((r) => `${r.backend} b=${r.batch} ${r.method} (${r.tensorLeak})`).join(', ')}`);

  const totalS = (performance.now() - started) / 1000;
  const loadEnd = os.loadavg();
  // The bench itself keeps about one core busy; much more than that means another process competed.
  console.log(`load average at end: ${loadEnd.map((v) => v.toFixed(2)).join(' ')}${loadEnd[1] > 1.5 ? ' (WARNING: above the ~1.0 the bench causes by itself: another process competed for the CPU)' : ''}`);
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
      repeatPlans: Object.fromEntries(args.backends.map((b) => [b, repeatPlan(b, args.quick)])),
      totalSeconds: totalS,
      loadAverageStart: loadStart,
      loadAverageEnd: loadEnd,
    },
    rows,
    checks,
    perSample,
  };
  fs.mkdirSync(path.dirname(args.out), { recursive: true });
  fs.writeFileSync(args.out, JSON.stringify(out, null, 2) + '\n');
  console.log(`\nwrote ${args.out} (total ${fmt(totalS, 1)} s)`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
