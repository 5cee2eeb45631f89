/**
 * Batch benchmark (a script, not a test):
 *
 *     npm run bench:batch
 *
 * 1. Throughput: `explainDataset` over 2,000 held-out MNIST digits (fixtures/digits,
 *    epsilonGammaBox, batch 64, wasm) into a RelevanceAggregator, with 1 and 2 workers; items/s
 *    from the first item read to the last batch (worker start-up reported apart), best of 2.
 *    Also the CLI (`tfjs-lrp explain --aggregate`, heatmap PNG per item) with 1 and 2 workers.
 * 2. Memory: peak RSS (process.resourceUsage().maxRSS, worker threads included) of a fresh
 *    process explaining 2,000 and 10,000 items — the API with 2 workers, and the CLI reading an
 *    .npy file — target: within 10%.
 *
 * Writes out/bench/batch.json. Numbers depend on what else runs on the machine.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { Worker } from 'worker_threads';
import { encodeNpy, encodeNpyHeader, explainDataset, loadModel, RelevanceAggregator, selectBackend } from '../src/node';
import type { DatasetItem } from '../src/node';
import { main as cli } from '../src/node/cli/main';
import { digitSet } from './digits-data';

const ROOT = path.join(__dirname, '..');
const MODEL = path.join(ROOT, 'fixtures', 'digits');
const OUT = path.join(ROOT, 'out', 'bench');
const OPTIONS = { composite: 'epsilonGammaBox' as const, low: 0, high: 1, batchSize: 64 };

/** n items cycling through the held-out digits, made lazily; records when the first is read. */
function source(n: number, started: { t: number | null }): AsyncGenerator<DatasetItem> {
  const set = digitSet('heldOut');
  return (async function* () {
    for (let k = 0; k < n; k++) {
      if (started.t === null) started.t = performance.now();
      const j = k % set.count;
      yield { input: set.pixels.slice(j * 784, (j + 1) * 784), classIdx: set.labels[j] };
    }
  })();
}

async function apiRun(n: number, workers: number): Promise<{ itemsPerSecond: number; seconds: number; startupSeconds: number; total: number }> {
  const model = await loadModel(MODEL);
  const agg = new RelevanceAggregator([28, 28, 1]);
  const started = { t: null as number | null };
  const t0 = performance.now();
  for await (const batch of explainDataset(model, source(n, started), { ...OPTIONS, workers, backend: 'wasm' })) agg.addBatch(batch);
  const t1 = performance.now();
  model.dispose();
  const seconds = (t1 - (started.t as number)) / 1000;
  return { itemsPerSecond: agg.total / seconds, seconds, startupSeconds: ((started.t as number) - t0) / 1000, total: agg.total };
}

async function child(): Promise<void> {
  const args = process.argv;
  const n = Number(args[args.indexOf('--items') + 1]);
  const mode = args[args.indexOf('--mode') + 1];
  await selectBackend('wasm');
  if (mode === 'api') await apiRun(n, 2);
  else {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-batch-'));
    const set = digitSet('heldOut');
    // the .npy is written in pieces so the child holds no n-item array itself
    const file = path.join(dir, 'items.npy');
    const fd = fs.openSync(file, 'w');
    fs.writeSync(fd, encodeNpyHeader([n, 28, 28, 1]));
    for (let k = 0; k < n; k++) {
      const j = k % set.count;
      fs.writeSync(fd, Buffer.from(set.pixels.buffer, set.pixels.byteOffset + j * 784 * 4, 784 * 4));
    }
    fs.closeSync(fd);
    const code = await cli(['aggregate', '--model', MODEL, '--input', file, '--out', path.join(dir, 'out'), '--composite', 'epsilonGammaBox', '--low', '0', '--high', '1', '--batch', '64', '--workers', '2', '--backend', 'wasm', '-q'], { stdout: { write: () => true }, stderr: process.stderr, cwd: ROOT });
    fs.rmSync(dir, { recursive: true, force: true });
    if (code !== 0) throw new Error(`cli exited ${code}`);
  }
  process.stdout.write(JSON.stringify({ maxRssKb: process.resourceUsage().maxRSS }) + '\n');
}

function peakRss(mode: 'api' | 'cli', n: number): number {
  const out = execFileSync(process.execPath, [...process.execArgv, __filename, '--child', '--mode', mode, '--items', String(n)], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 24 });
  return (JSON.parse(out.trim().split('\n').pop() as string) as { maxRssKb: number }).maxRssKb / 1024;
}

async function cliRun(workers: number, dir: string, npy: string, labels: string): Promise<number> {
  let line = '';
  const code = await cli(
    ['explain', '--model', MODEL, '--input', npy, '--class', labels, '--composite', 'epsilonGammaBox', '--low', '0', '--high', '1', '--batch', '64', '--aggregate', '--workers', String(workers), '--backend', 'wasm', '--out', path.join(dir, `cli-${workers}`), '--overwrite', '-q'],
    { stdout: { write: (s: string) => (line += s) }, stderr: process.stderr, cwd: ROOT },
  );
  if (code !== 0) throw new Error(`cli exited ${code}: ${line}`);
  return Number(/\(([\d.]+) items\/s/.exec(line)?.[1]);
}

/** The same fixed CPU work on 1 thread and on 2 threads at once: how much parallelism the machine offers now. */
async function parallelismNow(): Promise<number> {
  const code = `const { parentPort } = require('worker_threads'); let n = 0; const t = Date.now();
    for (let k = 0; k < 400; k++) for (let i = 0; i < 1e5; i++) n += Math.sqrt(i + k);
    parentPort.postMessage([Date.now() - t, n]);`;
  const run = async (threads: number) => {
    const t = performance.now();
    await Promise.all(Array.from({ length: threads }, () => new Promise<void>((resolve, reject) => {
      const w = new Worker(code, { eval: true });
      w.once('message', () => void w.terminate().then(() => resolve()));
      w.once('error', reject);
    })));
    return performance.now() - t;
  };
  const one = Math.min(await run(1), await run(1));
  const two = Math.min(await run(2), await run(2));
  return (2 * one) / two;
}

async function mainBench(): Promise<void> {
  const backend = await selectBackend('wasm');
  console.log(`backend ${backend.name}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), node ${process.version}; load average ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`);
  const parallelism = await parallelismNow();
  console.log(`parallelism available now: two threads do ${parallelism.toFixed(2)}x the work of one (2.00 on an idle 2-core machine)`);
  const results: Record<string, unknown> = { backend: backend.name, cores: os.cpus().length, loadAverageAtStart: os.loadavg(), parallelismAtStart: parallelism, options: OPTIONS };

  console.log('\nthroughput: 2,000 digits, batch 64, epsilonGammaBox, explainDataset + RelevanceAggregator');
  const throughput: Record<string, unknown> = {};
  for (const workers of [1, 2]) {
    const runs = [await apiRun(2000, workers), await apiRun(2000, workers)];
    const best = runs.reduce((a, b) => (b.itemsPerSecond > a.itemsPerSecond ? b : a));
    throughput[`workers${workers}`] = { best, runs };
    console.log(`  ${workers} worker${workers === 1 ? ' ' : 's'}: ${best.itemsPerSecond.toFixed(0)} items/s (${best.seconds.toFixed(2)} s; start-up ${best.startupSeconds.toFixed(2)} s; runs: ${runs.map((r) => r.itemsPerSecond.toFixed(0)).join(', ')})`);
  }
  const speedup = (throughput.workers2 as { best: { itemsPerSecond: number } }).best.itemsPerSecond / (throughput.workers1 as { best: { itemsPerSecond: number } }).best.itemsPerSecond;
  console.log(`  speed-up 2 vs 1 worker: ${speedup.toFixed(2)}x (target >= 1.7x)`);
  results.throughput = { ...throughput, speedup };

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-batch-cli-'));
  const set = digitSet('heldOut');
  const npy = path.join(dir, 'digits.npy');
  fs.writeFileSync(npy, encodeNpy(set.pixels.subarray(0, 2000 * 784), [2000, 28, 28, 1]));
  fs.writeFileSync(path.join(dir, 'labels.txt'), set.labels.slice(0, 2000).join('\n') + '\n');
  console.log('\nCLI: tfjs-lrp explain --aggregate on the same 2,000 digits (a heatmap PNG per item; whole run incl. start-up)');
  const cliRates: Record<string, number> = {};
  for (const workers of [1, 2]) {
    cliRates[`workers${workers}`] = await cliRun(workers, dir, npy, path.join(dir, 'labels.txt'));
    console.log(`  ${workers} worker${workers === 1 ? ' ' : 's'}: ${cliRates[`workers${workers}`].toFixed(0)} items/s`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  results.cli = cliRates;

  console.log('\npeak RSS of a fresh process (MiB), 2 workers');
  const memory: Record<string, unknown> = {};
  for (const mode of ['api', 'cli'] as const) {
    const small = peakRss(mode, 2000);
    const large = peakRss(mode, 10000);
    const growth = large / small - 1;
    memory[mode] = { items2000: small, items10000: large, growth };
    console.log(`  ${mode === 'api' ? 'explainDataset + aggregator' : 'tfjs-lrp aggregate (.npy)'}: ${small.toFixed(0)} at 2,000 items, ${large.toFixed(0)} at 10,000 items: ${growth >= 0 ? '+' : ''}${(100 * growth).toFixed(1)}% (target within 10%)`);
  }
  results.memory = memory;
  results.loadAverageAtEnd = os.loadavg();
  results.parallelismAtEnd = await parallelismNow();
  console.log(`parallelism available at the end: ${(results.parallelismAtEnd as number).toFixed(2)}x`);
  fs.mkdirSync(OUT, { recursive: true });
  fs.writeFileSync(path.join(OUT, 'batch.json'), JSON.stringify(results, null, 2) + '\n');
  console.log(`\nwrote ${path.relative(process.cwd(), path.join(OUT, 'batch.json'))}`);
}

(process.argv.includes('--child') ? child() : mainBench()).catch((e) => {
  console.error(e);
  process.exit(1);
});
