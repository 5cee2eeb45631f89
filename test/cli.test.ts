/**
 * The `tfjs-lrp` command line: end to end on a small folder (with a corrupt PNG and a non-image
 * file), resume after SIGKILL equal to an uninterrupted run, shards 0/3, 1/3, 2/3 merged equal
 * to a single run, clear usage errors, describe and help. Child processes are slow (ts-node), so
 * only the runs that must be processes (exit status, kill) are spawned; the rest call main().
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { describe as describePlan, formatPlan, loadModel, readNpy, writeImage } from '../src/node';
import { encodeNpy } from '../src/node/batch/npy';
import { runCli, type CliResult } from './support/cli';
import { digitSet } from '../scripts/digits-data';

const ROOT = path.join(__dirname, '..');
const MODEL = path.join(ROOT, 'fixtures', 'digits');
const CLI = ['-r', 'ts-node/register/transpile-only', path.join(ROOT, 'src', 'node', 'cli', 'main.ts')];
const set = digitSet('heldOut');
let tmp: string;

/** Runs main() in this process, capturing its output. */
const cli = (...argv: string[]): Promise<CliResult> => runCli(tmp, argv);

/** Every file under `dir` (relative paths), without the run state and the run/merge reports. */
function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) {
        if (e.name !== '.tfjs-lrp') walk(r);
      } else if (!['run.json', 'merge.json'].includes(r)) out.push(r);
    }
  };
  walk('');
  return out.sort();
}

/** Asserts that two output folders hold the same files with the same bytes. */
function expectSameOutputs(a: string, b: string): void {
  const files = listFiles(a);
  expect(listFiles(b)).toEqual(files);
  for (const f of files) {
    const same = Buffer.compare(fs.readFileSync(path.join(a, f)), fs.readFileSync(path.join(b, f))) === 0;
    if (!same) throw new Error(`${f} differs between ${a} and ${b}`);
  }
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-lrp-cli-'));
  // a folder of 6 digit PNGs (two in a subfolder), a corrupt PNG and a text file
  fs.mkdirSync(path.join(tmp, 'imgs', 'sub'), { recursive: true });
  for (let k = 0; k < 6; k++) {
    const img = tf.tensor3d(set.pixels.slice(k * 784, (k + 1) * 784), [28, 28, 1]);
    await writeImage(path.join(tmp, 'imgs', k < 4 ? '' : 'sub', `digit-${k}.png`), img);
    img.dispose();
  }
  fs.writeFileSync(path.join(tmp, 'imgs', 'broken.png'), Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('truncated')]));
  fs.writeFileSync(path.join(tmp, 'imgs', 'notes.txt'), 'not an image\n');
  // 120 digits as .npy, and their labels
  fs.writeFileSync(path.join(tmp, 'digits.npy'), encodeNpy(set.pixels.slice(0, 120 * 784), [120, 28, 28, 1]));
  fs.writeFileSync(path.join(tmp, 'labels.txt'), set.labels.slice(0, 120).join('\n') + '\n');
});

afterAll(async () => {
  fs.rmSync(tmp, { recursive: true, force: true });
  await tf.setBackend('cpu');
});

test('explain end to end on a folder: heatmaps, overlays, relevance, summary; a corrupt and a non-image file go to errors.jsonl (exit 1)', async () => {
  const out = path.join(tmp, 'folder-out');
  const r = spawnSync(process.execPath, [...CLI, 'explain', '--model', MODEL, '--input', path.join(tmp, 'imgs'), '--out', out, '--batch', '4', '--workers', '1', '--save-relevance', '--progress', 'log'], { cwd: ROOT, encoding: 'utf8' });
  expect(r.stderr).toMatch(/^backend: wasm \(single-threaded\), 1 worker/m);
  expect(r.stderr).toMatch(/progress: 8\/8 items, 2 failed/);
  expect(r.stdout).toMatch(/done with errors: 6 explained, 2 failed/);
  expect(r.status).toBe(1);
  const errors = fs.readFileSync(path.join(out, 'errors.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { index: number; file: string; reason: string });
  expect(errors.map((e) => [e.index, e.file])).toEqual([[0, 'broken.png'], [5, 'notes.txt']]);
  expect(errors[0].reason).toMatch(/broken\.png/);
  expect(errors[0].reason).not.toContain(tmp); // ids, not machine-specific paths
  expect(errors[1].reason).toMatch(/not an image or array file/);
  const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as { explained: number; failed: number; items: Array<Record<string, number | string>> };
  expect([summary.explained, summary.failed]).toEqual([6, 2]);
  expect(summary.items.map((i) => i.file)).toEqual(['digit-0.png', 'digit-1.png', 'digit-2.png', 'digit-3.png', 'sub/digit-4.png', 'sub/digit-5.png']);
  expect(summary.items.map((i) => i.class)).toEqual(set.labels.slice(0, 6)); // the model gets these right
  const csv = fs.readFileSync(path.join(out, 'summary.csv'), 'utf8').trim().split('\n');
  expect(csv[0]).toBe('index,file,class,score,relevance_sum,absorbed,conservation_error,heatmap,overlay,relevance');
  expect(csv[5]).toMatch(/^6,sub\/digit-4\.png,/);
  const sharp = require('sharp') as (f: string) => { metadata(): Promise<{ format: string; width: number; height: number }> };
  for (const item of summary.items) {
    for (const key of ['heatmap', 'overlay']) {
      const meta = await sharp(path.join(out, item[key] as string)).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', 28, 28]);
    }
    const rel = readNpy(path.join(out, item.relevance as string));
    expect(rel.shape).toEqual([28, 28, 1]);
    const sum = Array.from(rel.data).reduce((a, b) => a + b, 0);
    expect(Math.abs(sum - (item.relevanceSum as number))).toBeLessThan(1e-3 * Math.abs(item.relevanceSum as number));
    expect(Math.abs((item.score as number) - (item.relevanceSum as number) - (item.absorbed as number))).toBeLessThan(1e-4);
  }
}, 90000);

describe('resume and shards (120 digits from .npy, labels file, batches of 4, aggregate, raw relevance)', () => {
  const args = () => ['explain', '--model', MODEL, '--input', path.join(tmp, 'digits.npy'), '--class', path.join(tmp, 'labels.txt'), '--batch', '4', '--workers', '1', '--aggregate', '--save-relevance', '--upscale', '2', '-q'];
  let full: string;
  beforeAll(async () => {
    full = path.join(tmp, 'full');
    const r = await cli(...args(), '--out', full);
    expect(r.stdout).toMatch(/done: 120 explained, 0 failed/);
    expect(r.code).toBe(0);
  });

  test('a run killed with SIGKILL and rerun equals an uninterrupted run: same files, same bytes, no item lost or done twice', async () => {
    const out = path.join(tmp, 'killed');
    const done = path.join(out, '.tfjs-lrp', 'done.jsonl');
    const child = spawn(process.execPath, [...CLI, ...args(), '--checkpoint', '0', '--out', out], { cwd: ROOT, stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const lines = () => (fs.existsSync(done) ? fs.readFileSync(done, 'utf8').split('\n').filter((l) => l !== '').length : 0);
    const t0 = Date.now();
    while (lines() < 3 && Date.now() - t0 < 60000) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGKILL');
    expect(await exited).toBe(null); // killed, not finished
    const linesAtKill = lines();
    expect(linesAtKill).toBeGreaterThanOrEqual(3);
    expect(linesAtKill).toBeLessThan(30);
    expect(fs.existsSync(path.join(out, 'summary.json'))).toBe(false);
    const r = await cli(...args(), '--checkpoint', '0', '--out', out);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(new RegExp(`done: 120 explained, 0 failed \\(${120 - 4 * linesAtKill} in this run\\)`));
    expectSameOutputs(full, out);
    const batches = fs.readFileSync(done, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { batch: number }).batch);
    expect(batches).toEqual(Array.from({ length: 30 }, (_, b) => b)); // each batch committed once
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as { items: Array<{ index: number }> };
    expect(summary.items.map((i) => i.index)).toEqual(Array.from({ length: 120 }, (_, k) => k));
    // rerunning a finished run changes nothing
    const again = await cli(...args(), '--checkpoint', '0', '--out', out);
    expect(again.stdout).toMatch(/\(0 in this run\)/);
    expectSameOutputs(full, out);
  }, 90000);

  test('shards 0/3, 1/3, 2/3 merged equal a single run, bit for bit (summary, errors, aggregate arrays, state and images)', async () => {
    const parts = [0, 1, 2].map((i) => path.join(tmp, `shard-${i}`));
    const counts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await cli(...args(), '--shard', `${i}/3`, '--out', parts[i]);
      expect(r.code).toBe(0);
      counts.push(Number(/done: (\d+) explained/.exec(r.stdout)?.[1]));
    }
    expect(counts).toEqual([40, 40, 40]); // 30 batches of 4, round robin
    const incomplete = await cli('merge', parts[0], parts[1], '--out', path.join(tmp, 'merged-bad'));
    expect(incomplete.code).toBe(2);
    expect(incomplete.stderr).toMatch(/shard 2\/3 is missing/);
    const merged = path.join(tmp, 'merged');
    const r = await cli('merge', parts[2], parts[0], parts[1], '--out', merged, '--copy');
    expect(r.stdout).toMatch(/merged 3 shards: 120 explained, 0 failed/);
    expect(r.code).toBe(0);
    expectSameOutputs(full, merged);
    const classes = JSON.parse(fs.readFileSync(path.join(merged, 'aggregate', 'classes.json'), 'utf8')) as { total: number; classes: Array<{ class: number; count: number }> };
    expect(classes.total).toBe(120);
    const labelCounts = Array.from({ length: 10 }, (_, d) => set.labels.slice(0, 120).filter((l) => l === d).length).filter((c) => c > 0);
    expect(classes.classes.map((c) => c.count)).toEqual(labelCounts);
    const mean = readNpy(path.join(merged, 'aggregate', classes.classes[0].class === 0 ? 'class-0' : `class-${classes.classes[0].class}`, 'mean.npy'));
    expect(mean.descr).toBe('<f8');
    expect(mean.shape).toEqual([28, 28, 1]);
  }, 90000);

  test('a different command in the same --out is refused; --overwrite starts over', async () => {
    const r = await cli(...args().map((a) => (a === '4' ? '8' : a)), '--out', full);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/holds a different run \(--batch 4 vs 8\)/);
    expect(r.stderr).toMatch(/--overwrite/);
    const over = await cli(...args().map((a) => (a === '4' ? '8' : a)), '--out', full, '--overwrite');
    expect(over.code).toBe(0);
    expect(over.stdout).toMatch(/done: 120 explained, 0 failed in/);
    expect((JSON.parse(fs.readFileSync(path.join(full, '.tfjs-lrp', 'manifest.json'), 'utf8')) as { batchSize: number }).batchSize).toBe(8);
  });
});

test('bad flags, values and paths give clear errors and exit status 2', async () => {
  const base = ['explain', '--model', MODEL, '--input', path.join(tmp, 'digits.npy'), '--out', path.join(tmp, 'x')];
  const cases: Array<[string[], RegExp]> = [
    [[...base, '--batchsize', '8'], /--batchsize': unknown option for 'tfjs-lrp explain'\. Did you mean --batch\?/],
    [[...base, '--batch'], /--batch': needs a value <n>/],
    [[...base, '--batch', 'many'], /--batch': expected an integer, got "many"/],
    [[...base, '--batch', '0'], /--batch': must be at least 1/],
    [[...base, '--composite', 'epsilonPlusFlot'], /expected one of .*Did you mean epsilonPlusFlat\?/],
    [[...base, '--shard', '3/3'], /shard index 3 is out of range for 3 shards/],
    [[...base, '--class', 'labels-missing.txt'], /--class': expected a class index, 'max' or a labels file/],
    [[...base, '--class', '10'], /class 10 is out of range: the model has 10 outputs/],
    [['explain', '--model', path.join(tmp, 'nope'), '--input', 'x', '--out', 'y'], /--model': '.*nope' does not exist/],
    [['explain', '--model', MODEL, '--input', path.join(tmp, 'missing-dir'), '--out', 'y'], /--input': '.*missing-dir' does not exist/],
    [['explain', '--model', MODEL, '--input', path.join(tmp, '*.gif'), '--out', 'y'], /matches no file/],
    [['explain', '--model', MODEL, '--out', 'y'], /--input': is required/],
    [['explain', '--input', 'x'], /--model': is required/],
    [['describe', '--model', MODEL, '--composite', 'epsilonGammaBox'], /low|high/],
    [['merge', tmp, '--out', path.join(tmp, 'm')], /holds no tfjs-lrp run/],
    [['explian'], /unknown command 'explian'\. Did you mean 'explain'\?/],
    [[], /Usage: tfjs-lrp <command>/],
  ];
  for (const [argv, pattern] of cases) {
    const r = await cli(...argv);
    if (r.code !== 2 || !pattern.test(r.stderr)) throw new Error(`tfjs-lrp ${argv.join(' ')}: exit ${r.code}, stderr: ${r.stderr}`);
  }
});

test('describe prints the layer -> rule plan table; --help documents every command with examples', async () => {
  const r = await cli('describe', '--model', MODEL, '--composite', 'epsilonPlusFlat');
  expect(r.code).toBe(0);
  const model = await loadModel(MODEL);
  expect(r.stdout).toBe(formatPlan(describePlan(model, { composite: 'epsilonPlusFlat' })) + '\n');
  model.dispose();
  expect(r.stdout.split('\n')[0]).toMatch(/^layer\s+class\s+rule\s+why\s+notes$/);
  expect(r.stdout).toMatch(/flat\(stabilizer=0\.000001\)/);
  for (const command of ['explain', 'aggregate', 'describe', 'merge']) {
    const h = await cli(command, '--help');
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(new RegExp(`^Usage: tfjs-lrp ${command}`));
    expect(h.stdout).toMatch(/\nExamples:\n {2}tfjs-lrp /);
    expect(h.stdout).toMatch(/Exit status: 0/);
  }
  const explainHelp = (await cli('explain', '--help')).stdout;
  for (const flag of ['--model', '--input', '--class', '--rule', '--composite', '--batch', '--out', '--workers', '--backend', '--shard', '--save-relevance', '--no-heatmap'.replace('no-', '')]) expect(explainHelp).toContain(flag);
  const general = await cli('--help');
  expect(general.stdout).toMatch(/Commands:\n {2}explain/);
  expect(general.code).toBe(0);
  expect(fs.readFileSync(path.join(ROOT, 'bin', 'tfjs-lrp.js'), 'utf8')).toContain("require('../dist/cjs/src/node/cli/main.js').run(");
  expect((require('../package.json') as { bin: Record<string, string> }).bin).toEqual({ 'tfjs-lrp': 'bin/tfjs-lrp.js' });
});
