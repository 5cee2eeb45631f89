/**
 * Frictions of the `tfjs-lrp` command found in use: multi-output models (refused without
 * --output, listed by describe), per-command help, progress printed once, the image flags
 * (--invert, --mean/--std, --resize, --overlay-mode, --overlay-alpha, --clip), class names
 * (--labels), folders created by saveHeatmap/saveGrid, load warnings printed once, and the
 * scripts' model loader. Commands run in this process through main() (fast); only the zoo
 * models come from ../shared/zoo (skipped loudly without it, failing under CI).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { LrpArgumentError } from '../src';
import { heatmap, overlay } from '../src/heatmap';
import { loadModel, LrpImageError, readImages, readNpy, saveGrid, saveHeatmap, writeImage } from '../src/node';
import { encodeNpy } from '../src/node/batch/npy';
import { checkOutputChoice } from '../src/node/batch/modelOutputs';
import { Progress } from '../src/node/batch/progress';
import { withoutWarnings } from '../src/node/batch/quiet';
import { readClassNames } from '../src/node/batch/labels';
import { LrpUsageError, parseArgs } from '../src/node/cli/args';
import { COMMANDS, drawOptions, pixelScaling, runCommand } from '../src/node/cli/commands';
import { runCli, type CliResult } from './support/cli';
import { loadModelFromDir } from '../scripts/load-model';
import { digitSet } from '../scripts/digits-data';
import { useBackend } from './helpers';

const ROOT = path.join(__dirname, '..');
const DIGITS = path.join(ROOT, 'fixtures', 'digits');
const ZOO = path.join(ROOT, '..', 'shared', 'zoo');
/** The zoo lies beside the checkout in CI; a user's clone has none: skip loudly there, fail under CI. */
const HAS_ZOO = fs.existsSync(ZOO);
if (!HAS_ZOO && !process.env.CI) console.warn(`\n!! ZOO TESTS SKIPPED (cli-frictions): ../shared/zoo is missing (${ZOO}); CI lays it beside the checkout (under CI they fail instead).\n`);
const zooSuite = HAS_ZOO || process.env.CI ? describe : describe.skip;

const set = digitSet('heldOut');
let tmp: string;

/** Runs main() in this process, capturing its output. */
const cli = (...argv: string[]): Promise<CliResult> => runCli(tmp, argv);

/** Saves a model as model.json + weights.bin in a new folder under tmp. */
async function saveModel(model: tf.LayersModel, name: string): Promise<string> {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      fs.writeFileSync(path.join(dir, 'weights.bin'), new Uint8Array(a.weightData as ArrayBuffer));
      const json = { format: a.format, generatedBy: a.generatedBy, convertedBy: a.convertedBy, modelTopology: a.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }] };
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return dir;
}

/** PNG pixels as 0..255 numbers [H*W*C] (sharp). */
async function pngBytes(file: string): Promise<{ data: Uint8Array; channels: number }> {
  const sharp = require('sharp') as (f: string) => { raw(): { toBuffer(o: { resolveWithObject: true }): Promise<{ data: Buffer; info: { channels: number } }> } };
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), channels: info.channels };
}

let twoOutputs: string;

beforeAll(async () => {
  await useBackend('cpu');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-lrp-frictions-'));
  // a tiny functional model with two outputs: an auxiliary [3] and a classifier [2]
  const input = tf.input({ shape: [4], name: 'x' });
  const hidden = tf.layers.dense({ units: 5, activation: 'relu', name: 'hidden', kernelInitializer: 'glorotUniform', biasInitializer: 'ones' }).apply(input) as tf.SymbolicTensor;
  const aux = tf.layers.dense({ units: 3, name: 'aux' }).apply(hidden) as tf.SymbolicTensor;
  const cls = tf.layers.dense({ units: 2, name: 'cls' }).apply(hidden) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: [aux, cls] });
  twoOutputs = await saveModel(model, 'two-outputs');
  model.dispose();
  fs.writeFileSync(path.join(tmp, 'rows.jsonl'), '[0.1, 0.5, -0.2, 1]\n[1, 0, 0.3, -0.5]\n[0.2, 0.2, 0.2, 0.2]\n');
  // 4 digit PNGs and the same digits inverted (255 - v), and 6 digits as .npy with labels
  fs.mkdirSync(path.join(tmp, 'imgs'));
  fs.mkdirSync(path.join(tmp, 'inverted'));
  for (let k = 0; k < 4; k++) {
    const bytes = Array.from(set.pixels.slice(k * 784, (k + 1) * 784), (v) => Math.round(v * 255));
    const img = tf.tensor3d(bytes, [28, 28, 1], 'int32');
    const inv = tf.tensor3d(bytes.map((b) => 255 - b), [28, 28, 1], 'int32');
    await writeImage(path.join(tmp, 'imgs', `d${k}.png`), img);
    await writeImage(path.join(tmp, 'inverted', `d${k}.png`), inv);
    tf.dispose([img, inv]);
  }
  fs.writeFileSync(path.join(tmp, 'digits.npy'), encodeNpy(set.pixels.slice(0, 6 * 784), [6, 28, 28, 1]));
  fs.writeFileSync(path.join(tmp, 'classes.txt'), set.labels.slice(0, 6).join('\n') + '\n');
  fs.writeFileSync(path.join(tmp, 'names.txt'), ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'].join('\n') + '\n');
});

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('multi-output models', () => {
  test('explain and aggregate refuse to pick an output: a usage error on --output listing index, layer and shape; nothing is written', async () => {
    for (const command of ['explain', 'aggregate']) {
      const out = path.join(tmp, `multi-${command}`);
      const r = await cli(command, '-m', twoOutputs, '-i', path.join(tmp, 'rows.jsonl'), '-o', out, '-q');
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/'--output': the model has 2 outputs; choose the one to explain with --output <k>/);
      expect(r.stderr).toMatch(/^ +0 {2}aux {2}\[3\]$/m);
      expect(r.stderr).toMatch(/^ +1 {2}cls {2}\[2\]$/m);
      expect(r.stderr).toMatch(/Run 'tfjs-lrp .* --help'/);
      expect(fs.existsSync(out)).toBe(false);
    }
    // the error is an LrpUsageError (exit status 2), named --output
    const args = parseArgs(COMMANDS.explain, ['-m', twoOutputs, '-i', path.join(tmp, 'rows.jsonl'), '-o', path.join(tmp, 'multi-direct'), '-q']);
    const io = { stdout: { write: () => true }, stderr: { write: () => true }, cwd: tmp };
    const e = await runCommand('explain', args, io).then(() => null, (err: unknown) => err);
    expect(e).toBeInstanceOf(LrpUsageError);
    expect((e as LrpUsageError).argument).toBe('--output');
  });

  test('with --output the chosen output is explained (its classes); an output that does not exist is refused', async () => {
    const out = path.join(tmp, 'multi-ok');
    const r = await cli('explain', '-m', twoOutputs, '-i', path.join(tmp, 'rows.jsonl'), '-o', out, '--output', '1', '-q', '--workers', '1');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as { items: Array<{ class: number; score: number }> };
    // the classes and scores are those of output 1 ('cls', 2 units)
    const model = await loadModel(twoOutputs);
    const x = tf.tensor2d([[0.1, 0.5, -0.2, 1], [1, 0, 0.3, -0.5], [0.2, 0.2, 0.2, 0.2]]);
    const y = (model.predict(x) as tf.Tensor[])[1];
    const logits = await y.array() as number[][];
    tf.dispose([x, y]);
    model.dispose();
    expect(summary.items.map((i) => i.class)).toEqual(logits.map((l) => (l[1] > l[0] ? 1 : 0)));
    summary.items.forEach((item, k) => expect(item.score).toBeCloseTo(logits[k][item.class], 5));
    const bad = await cli('explain', '-m', twoOutputs, '-i', path.join(tmp, 'rows.jsonl'), '-o', path.join(tmp, 'multi-bad'), '--output', '2', '-q');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/'--output': 2 is not an output of the model; it has 2 outputs/);
  });

  test('describe lists the outputs before the plan (on stderr with --json, so stdout stays JSON)', async () => {
    const r = await cli('describe', '-m', twoOutputs);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^The model has 2 outputs; this is the plan for output 0 \(choose with --output <k>\):\n +0 {2}aux {2}\[3\]\n +1 {2}cls {2}\[2\]\n\nlayer/);
    const json = await cli('describe', '-m', twoOutputs, '--output', '1', '--json');
    expect(json.code).toBe(0);
    const rows = JSON.parse(json.stdout) as Array<{ layer: string }>;
    expect(rows.map((row) => row.layer)).toContain('cls');
    expect(rows.map((row) => row.layer)).not.toContain('aux');
    expect(json.stderr).toMatch(/plan for output 1/);
    // a single-output model: no listing
    expect((await cli('describe', '-m', DIGITS)).stdout).not.toMatch(/outputs;/);
  });

  test('checkOutputChoice: single-output models need no choice; out-of-range choices are refused', async () => {
    const model = await loadModel(DIGITS);
    expect(() => checkOutputChoice(model, undefined)).not.toThrow();
    expect(() => checkOutputChoice(model, 0)).not.toThrow();
    expect(() => checkOutputChoice(model, 1, 'options.output')).toThrow(LrpArgumentError);
    expect(() => checkOutputChoice(model, 1, 'options.output')).toThrow(/'options\.output': 1 is not an output of the model; it has 1 output:/);
    model.dispose();
  });
});

test('help: each command describes what it does, with its own exit statuses', async () => {
  const help: Record<string, string> = {};
  for (const command of ['explain', 'aggregate', 'describe', 'merge']) {
    const r = await cli(command, '--help');
    expect(r.code).toBe(0);
    help[command] = r.stdout;
  }
  const general = await cli('--help');
  expect(general.code).toBe(0);
  expect(general.stdout).toMatch(/Commands:\n {2}explain .*\n {2}aggregate .*\n {2}describe .*\n {2}merge /);
  // describe explains nothing: no items, no errors.jsonl
  expect(help.describe).not.toMatch(/item|errors\.jsonl/);
  expect(help.describe).toMatch(/Nothing is explained and nothing is written/);
  expect(help.describe).toMatch(/Exit status: 0 the plan was printed; 2 usage error/);
  expect(help.describe).toMatch(/several outputs/);
  // merge merges shards
  expect(help.merge).toMatch(/Exit status: 0 merged, every item of every shard explained; 1 merged, some items had failed in the\nshards/);
  expect(help.merge).toMatch(/missing or repeated shard/);
  expect(help.explain).toMatch(/heatmaps\/<item>\.png/);
  expect(help.aggregate).toMatch(/aggregate\/class-<c>/);
  for (const command of ['explain', 'aggregate']) {
    expect(help[command]).toMatch(/Exit status: 0 every item explained; 1 some items failed/);
    for (const flag of ['--invert', '--mean <m[,m,m]>', '--std <s[,s,s]>', '--resize <how>', '--fit <how>', '--overlay-mode <mode>', '--overlay-alpha <a>', '--clip <p>', '--labels <file>']) expect(help[command]).toContain(flag);
    expect(help[command]).toMatch(/--overlay-mode <mode> .*one of: alpha, multiply, screen/);
    expect(help[command]).toMatch(/--output <k> +which output of the model to explain: required when it has several/);
  }
});

test('progress: in log mode each line is printed once (the final line is not repeated)', async () => {
  const lines: string[] = [];
  let t = 0;
  const p = new Progress({ write: (s: string) => lines.push(s) }, 'log', 10, 0, { now: () => t, intervalMs: 1000 });
  t = 500;
  p.update(4); // due (first line)
  t = 700;
  p.update(6); // not due
  p.finish(); // 10/10 not yet printed: printed now
  expect(lines).toEqual(['progress: 4/10 items  8.0 items/s  ETA 1s\n', 'progress: 10/10 items  14.3 items/s  ETA 0s\n']);
  const once: string[] = [];
  const q = new Progress({ write: (s: string) => once.push(s) }, 'log', 3, 0, { now: () => t, intervalMs: 1000 });
  t = 1700;
  q.update(3);
  q.finish();
  expect(once).toEqual(['progress: 3/3 items  3.0 items/s  ETA 0s\n']);
  // end to end: a run of one batch prints its progress line once
  const r = await cli('explain', '-m', DIGITS, '-i', path.join(tmp, 'digits.npy'), '-o', path.join(tmp, 'progress'), '--progress', 'log', '--no-heatmap', '--workers', '1');
  expect(r.code).toBe(0);
  expect(r.stderr.split('\n').filter((l) => l.startsWith('progress:'))).toEqual([expect.stringMatching(/^progress: 6\/6 items /)]);
});

describe('image flags', () => {
  test('--scale imagenet equals --mean/--std; bad values and combinations are usage errors', () => {
    const parse = (...argv: string[]) => parseArgs(COMMANDS.explain, argv);
    expect(pixelScaling(parse('--scale', 'imagenet'))).toEqual(pixelScaling(parse('--mean', '0.485,0.456,0.406', '--std', '0.229,0.224,0.225')));
    expect(pixelScaling(parse('--mean', '0.5'))).toEqual({ mean: 0.5, std: 1 });
    expect(pixelScaling(parse('--std', '0.25', '--scale', '0..1'))).toEqual({ mean: 0, std: 0.25 });
    expect(pixelScaling(parse())).toBe('0..1');
    expect(pixelScaling(parse('--scale', '-1..1'))).toBe('-1..1');
    const cases: Array<[string[], RegExp]> = [
      [['--mean', '0.5,0.5'], /'--mean': expected one number or three comma-separated numbers/],
      [['--mean', 'a'], /'--mean': expected one number or three/],
      [['--std', '0'], /'--std': every value must be greater than 0/],
      [['--std', '1,,1'], /'--std': expected one number or three/],
      [['--scale', 'imagenet', '--mean', '0.5'], /'--mean': cannot be combined with --scale imagenet/],
      [['--scale', '0..255', '--std', '2'], /'--std': normalises pixels scaled to 0\.\.1 and cannot be combined with --scale 0\.\.255/],
    ];
    for (const [argv, pattern] of cases) {
      expect(() => pixelScaling(parse(...argv))).toThrow(LrpUsageError);
      expect(() => pixelScaling(parse(...argv))).toThrow(pattern);
    }
    expect(drawOptions(parse())).toEqual({ colormap: 'bwr', upscale: 1, alpha: 0.5 });
    expect(drawOptions(parse('--overlay-mode', 'multiply', '--overlay-alpha', '0.8', '--clip', '99.5'))).toEqual({ colormap: 'bwr', upscale: 1, alpha: 0.8, mode: 'multiply', clipPercentile: 99.5 });
    expect(drawOptions(parse('--clip', '100'))).toEqual({ colormap: 'bwr', upscale: 1, alpha: 0.5 }); // 100 = the maximum
    expect(() => drawOptions(parse('--overlay-alpha', '1.5'))).toThrow(/'--overlay-alpha': must be in 0\.\.1/);
    expect(() => parse('--overlay-alpha', '-0.1')).toThrow(/'--overlay-alpha': must be at least 0/);
    expect(() => drawOptions(parse('--clip', '0'))).toThrow(/'--clip': must be a percentile in \(0, 100\]/);
    expect(() => drawOptions(parse('--clip', '101'))).toThrow(/'--clip': must be a percentile/);
    expect(() => parse('--overlay-mode', 'multipy')).toThrow(/expected one of alpha, multiply, screen, got "multipy"\. Did you mean multiply\?/);
    expect(() => parse('--resize', 'stretch')).toThrow(/'--resize': expected one of fill, cover, contain/);
  });

  test('readImages({ invert }) gives 1 - v/255 before scaling', async () => {
    const file = path.join(tmp, 'gradient.png');
    const bytes = Array.from({ length: 12 }, (_, k) => k * 20);
    const img = tf.tensor3d(bytes, [3, 4, 1], 'int32');
    await writeImage(file, img);
    img.dispose();
    const plain = await readImages(file, { channels: 1 });
    const inverted = await readImages(file, { channels: 1, invert: true });
    const normalised = await readImages(file, { channels: 1, invert: true, scale: { mean: 0.5, std: 0.25 } });
    const [a, b, c] = [await plain.data(), await inverted.data(), await normalised.data()];
    tf.dispose([plain, inverted, normalised]);
    bytes.forEach((v, k) => {
      expect(a[k]).toBeCloseTo(v / 255, 6);
      expect(b[k]).toBeCloseTo(1 - v / 255, 6);
      expect(c[k]).toBeCloseTo((1 - v / 255 - 0.5) / 0.25, 5);
    });
    await expect(readImages(file, { invert: 'yes' as unknown as boolean })).rejects.toThrow(/'options\.invert': expected true or false/);
  });

  test('explain --invert equals explaining the inverted files; --clip, --overlay-mode and --overlay-alpha draw what heatmap() and overlay() draw', async () => {
    const common = ['-m', DIGITS, '--save-relevance', '--workers', '1', '-q', '--class', '3'];
    const inv = path.join(tmp, 'flags-invert');
    const ref = path.join(tmp, 'flags-ref');
    const r1 = await cli('explain', ...common, '-i', path.join(tmp, 'imgs'), '-o', inv, '--invert', '--clip', '90', '--overlay-mode', 'multiply', '--overlay-alpha', '0.8', '--resize', 'cover');
    const r2 = await cli('explain', ...common, '-i', path.join(tmp, 'inverted'), '-o', ref, '--fit', 'cover');
    expect([r1.code, r1.stderr, r2.code, r2.stderr]).toEqual([0, '', 0, '']);
    for (let k = 0; k < 4; k++) {
      const a = readNpy(path.join(inv, 'relevance', `d${k}.npy`)).data;
      const b = readNpy(path.join(ref, 'relevance', `d${k}.npy`)).data;
      let maxAbs = 0;
      let diff = 0;
      for (let i = 0; i < a.length; i++) [maxAbs, diff] = [Math.max(maxAbs, Math.abs(b[i])), Math.max(diff, Math.abs(a[i] - b[i]))];
      expect(maxAbs).toBeGreaterThan(0);
      expect(diff).toBeLessThan(1e-4 * maxAbs);
      // the pictures: heatmap(relevance, { clipPercentile: 90 }); overlay(the file's image, heat, multiply, 0.8)
      const rel = tf.tensor4d(a as Float32Array, [1, 28, 28, 1]);
      const heat = heatmap(rel, { clipPercentile: 90 });
      const image = await readImages(path.join(tmp, 'imgs', `d${k}.png`), { channels: 1 });
      const blended = overlay(image, heat, { mode: 'multiply', alpha: 0.8 });
      const heatValues = Array.from(await heat.data());
      const blendValues = Array.from(await blended.data());
      tf.dispose([rel, heat, image, blended]);
      const heatPng = await pngBytes(path.join(inv, 'heatmaps', `d${k}.png`));
      const overlayPng = await pngBytes(path.join(inv, 'overlays', `d${k}.png`));
      let worst = 0;
      heatValues.forEach((v, i) => (worst = Math.max(worst, Math.abs(Math.round(v * 255) - heatPng.data[i]))));
      blendValues.forEach((v, i) => (worst = Math.max(worst, Math.abs(Math.round(v * 255) - overlayPng.data[i]))));
      expect(worst).toBeLessThanOrEqual(1);
    }
    // --clip changes the heatmaps (90th percentile saturates more pixels than the maximum)
    const unclipped = await cli('explain', ...common, '-i', path.join(tmp, 'imgs'), '-o', path.join(tmp, 'flags-noclip'), '--invert');
    expect(unclipped.code).toBe(0);
    const saturated = async (file: string) => {
      const { data } = await pngBytes(file);
      let n = 0;
      for (let i = 0; i < data.length; i += 3) if ((data[i] === 255 && data[i + 1] === 0) || (data[i + 2] === 255 && data[i + 1] === 0)) n++;
      return n;
    };
    expect(await saturated(path.join(inv, 'heatmaps', 'd0.png'))).toBeGreaterThan(await saturated(path.join(tmp, 'flags-noclip', 'heatmaps', 'd0.png')));
    // --resize and --fit: one of them
    const both = await cli('explain', ...common, '-i', path.join(tmp, 'imgs'), '-o', path.join(tmp, 'flags-both'), '--resize', 'cover', '--fit', 'contain');
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/'--fit': is the older name of --resize; give one of them/);
    // three means for a one-channel model
    const three = await cli('explain', ...common, '-i', path.join(tmp, 'imgs'), '-o', path.join(tmp, 'flags-three'), '--mean', '0.1,0.2,0.3');
    expect(three.code).toBe(2);
    expect(three.stderr).toMatch(/'--mean': has 3 values but the model reads images with 1 channel; give 1 value or 1\./);
  }, 60000);
});

describe('class names (--labels)', () => {
  test('names go into summary.json (className), summary.csv (class_name after class) and aggregate/classes.json (name), and survive merge', async () => {
    const out = path.join(tmp, 'names');
    const args = ['-m', DIGITS, '-i', path.join(tmp, 'digits.npy'), '--class', path.join(tmp, 'classes.txt'), '--labels', 'names.txt', '--batch', '2', '--workers', '1', '-q'];
    const r = await cli('explain', ...args, '-o', out, '--aggregate', '--no-heatmap');
    expect([r.code, r.stderr]).toEqual([0, '']);
    const names = readClassNames(path.join(tmp, 'names.txt'));
    const labels = set.labels.slice(0, 6);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as { classNames: string[]; items: Array<Record<string, unknown>> };
    expect(summary.classNames).toEqual(names);
    expect(summary.items.map((i) => [i.class, i.className])).toEqual(labels.map((c) => [c, names[c]]));
    expect(Object.keys(summary.items[0]).slice(0, 5)).toEqual(['index', 'file', 'class', 'className', 'score']);
    const csv = fs.readFileSync(path.join(out, 'summary.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('index,file,class,class_name,score,relevance_sum,absorbed,conservation_error,heatmap,overlay,relevance');
    expect(csv.slice(1).map((l) => l.split(',').slice(2, 4))).toEqual(labels.map((c) => [String(c), names[c]]));
    const classes = JSON.parse(fs.readFileSync(path.join(out, 'aggregate', 'classes.json'), 'utf8')) as { classes: Array<{ class: number; name: string; count: number }> };
    expect(classes.classes.map((c) => [c.class, c.name])).toEqual([...new Set(labels)].sort((a, b) => a - b).map((c) => [c, names[c]]));
    // shards merged carry the names too
    const parts = [0, 1].map((i) => path.join(tmp, `names-${i}`));
    for (let i = 0; i < 2; i++) expect((await cli('aggregate', ...args, '--shard', `${i}/2`, '-o', parts[i])).code).toBe(0);
    expect((await cli('merge', ...parts, '-o', path.join(tmp, 'names-merged'), '-q')).code).toBe(0);
    const merged = JSON.parse(fs.readFileSync(path.join(tmp, 'names-merged', 'aggregate', 'classes.json'), 'utf8')) as typeof classes;
    expect(merged.classes.map((c) => c.name)).toEqual(classes.classes.map((c) => c.name));
    expect(fs.readFileSync(path.join(tmp, 'names-merged', 'summary.csv'), 'utf8').split('\n')[0]).toContain(',class,class_name,');
    // without --labels the files are as before: no className, no class_name column
    const plain = path.join(tmp, 'no-names');
    expect((await cli('explain', ...args.filter((a) => a !== '--labels' && a !== 'names.txt'), '-o', plain, '--no-heatmap')).code).toBe(0);
    expect(fs.readFileSync(path.join(plain, 'summary.csv'), 'utf8').split('\n')[0]).toBe('index,file,class,score,relevance_sum,absorbed,conservation_error,heatmap,overlay,relevance');
    expect(fs.readFileSync(path.join(plain, 'summary.json'), 'utf8')).not.toContain('className');
  });

  test('a names file with more names than classes, or none, is a usage error naming --labels', async () => {
    fs.writeFileSync(path.join(tmp, 'many.txt'), Array.from({ length: 11 }, (_, k) => `c${k}`).join('\n'));
    fs.writeFileSync(path.join(tmp, 'empty.txt'), '\n\n');
    const base = ['explain', '-m', DIGITS, '-i', path.join(tmp, 'digits.npy'), '-o', path.join(tmp, 'names-bad'), '-q'];
    const cases: Array<[string, RegExp]> = [
      ['many.txt', /'--labels': names 11 classes but the model's output has 10/],
      ['empty.txt', /'--labels': .*empty\.txt names no class/],
      ['absent.txt', /'--labels': no such file: .*absent\.txt/],
    ];
    for (const [file, pattern] of cases) {
      const r = await cli(...base, '--labels', file);
      if (r.code !== 2 || !pattern.test(r.stderr)) throw new Error(`--labels ${file}: exit ${r.code}, stderr: ${r.stderr}`);
    }
    fs.writeFileSync(path.join(tmp, 'few.txt'), 'zero\none\n');
    const few = await cli(...base.filter((a) => a !== '-q'), '--labels', 'few.txt', '--no-heatmap', '--progress', 'none');
    expect(few.code).toBe(0);
    expect(few.stderr).toMatch(/note: --labels names 2 of the 10 classes; the others have no name/);
  });
});

test('saveHeatmap and saveGrid create missing parent folders (leak-free); a file in the way is an LrpImageError', async () => {
  const rel = tf.randomNormal([2, 6, 5, 1], 0, 1, 'float32', 3);
  const before = tf.memory().numTensors;
  const files = await saveHeatmap(path.join(tmp, 'new', 'deep', 'heat-{i}.png'), rel);
  expect(files).toEqual([0, 1].map((i) => path.join(tmp, 'new', 'deep', `heat-${i}.png`)));
  for (const f of files) expect((await pngBytes(f)).data.length).toBe(6 * 5 * 3);
  const grid = await saveGrid(path.join(tmp, 'other', 'grid', 'g.png'), { relevance: rel });
  expect(fs.existsSync(grid.path)).toBe(true);
  expect(tf.memory().numTensors).toBe(before);
  fs.writeFileSync(path.join(tmp, 'blocker'), 'x');
  await expect(saveHeatmap(path.join(tmp, 'blocker', 'h-{i}.png'), rel)).rejects.toThrow(LrpImageError);
  await expect(saveGrid(path.join(tmp, 'blocker', 'sub', 'g.png'), { relevance: rel })).rejects.toThrow(/Cannot create the folder .*blocker.*: a file of that name is in the way/);
  expect(tf.memory().numTensors).toBe(before);
  rel.dispose();
});

test('withoutWarnings silences console.warn only while its function runs (also when it fails)', async () => {
  const spy = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  try {
    await withoutWarnings(async () => console.warn('hidden'));
    await expect(withoutWarnings(async () => {
      console.warn('hidden too');
      throw new Error('boom');
    })).rejects.toThrow('boom');
    console.warn('shown');
    expect(spy.mock.calls).toEqual([['shown']]);
  } finally {
    spy.mockRestore();
  }
});

test('scripts/load-model is the library loader: same weights as loadModel', async () => {
  const a = await loadModelFromDir(DIGITS);
  const b = await loadModel(DIGITS);
  const wa = a.getWeights();
  const wb = b.getWeights();
  expect(wa.length).toBe(wb.length);
  for (let i = 0; i < wa.length; i++) expect(Array.from(await wa[i].data())).toEqual(Array.from(await wb[i].data()));
  a.dispose();
  b.dispose();
});

zooSuite('real models from ../shared/zoo', () => {
  if (!HAS_ZOO && process.env.CI) throw new Error(`../shared/zoo is missing (${ZOO}); CI lays it beside the checkout`);

  test('tensorspace_lenet (8 outputs, the first a 32x32 padded image): explain refuses without --output and lists them; --output 7 explains the classifier', async () => {
    const model = path.join(ZOO, 'tensorspace_lenet');
    fs.writeFileSync(path.join(tmp, 'lenet.npy'), encodeNpy(set.pixels.slice(0, 2 * 784), [2, 28, 28]));
    const r = await cli('explain', '-m', model, '-i', path.join(tmp, 'lenet.npy'), '-o', path.join(tmp, 'lenet'), '-q');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/the model has 8 outputs/);
    expect(r.stderr).toMatch(/^ +0 {2}padding_1 +\[32, 32, 1\]$/m);
    expect(r.stderr).toMatch(/^ +7 {2}softmax +\[10\]$/m);
    const ok = await cli('explain', '-m', model, '-i', path.join(tmp, 'lenet.npy'), '-o', path.join(tmp, 'lenet'), '-q', '--output', '7', '--no-heatmap', '--workers', '1');
    expect([ok.code, ok.stderr]).toEqual([0, '']);
    const summary = JSON.parse(fs.readFileSync(path.join(tmp, 'lenet', 'summary.json'), 'utf8')) as { items: Array<{ class: number }> };
    expect(summary.items.every((i) => i.class >= 0 && i.class < 10)).toBe(true);
  });

  test("ml5_doodlenet: tfjs' input-shape warning about its stale batch_input_shape is printed once per run, not again by each worker", async () => {
    fs.writeFileSync(path.join(tmp, 'doodles.npy'), encodeNpy(set.pixels.slice(0, 4 * 784), [4, 28, 28, 1]));
    const warnings: string[] = [];
    const spy = jest.spyOn(console, 'warn').mockImplementation((...a: unknown[]) => void warnings.push(a.map(String).join(' ')));
    const write = process.stderr.write.bind(process.stderr);
    const stderrSpy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
      warnings.push(String(chunk));
      return write(chunk, ...(rest as []));
    });
    try {
      // two worker threads (heatmaps are drawn): each loads the model again
      const r = await cli('explain', '-m', path.join(ZOO, 'ml5_doodlenet'), '-i', path.join(tmp, 'doodles.npy'), '-o', path.join(tmp, 'doodles'), '-q', '--workers', '2', '--batch', '2');
      expect(r.code).toBe(0);
      await new Promise((resolve) => setTimeout(resolve, 200)); // worker output is piped asynchronously
    } finally {
      spy.mockRestore();
      stderrSpy.mockRestore();
    }
    const shape = warnings.join('').split('does not match the expectation of layer conv2d_1').length - 1;
    expect(shape).toBe(1);
  }, 60000);
});
