/**
 * The `tfjs-lrp` commands: explain, aggregate, describe, merge. Each has a flag spec (parsed by
 * ./args), a help text with examples, and a runner returning the exit status.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createExplainer, formatPlan } from '../../explain.js';
import { COLORMAPS, type ColormapName } from '../../heatmap/colormaps.js';
import type { PixelScaling } from '../image.js';
import { loadModel } from '../loadModel.js';
import { BACKEND_CHOICES, selectBackend, type BackendChoice } from '../batch/backend.js';
import { parseClassSpec } from '../batch/labels.js';
import { mergeRuns } from '../batch/merge.js';
import type { ProgressMode, ProgressSink } from '../batch/progress.js';
import { runBatch } from '../batch/run.js';
import { parseShard } from '../batch/shard.js';
import { LrpUsageError, type CommandSpec, type FlagSpec, type ParsedArgs } from './args.js';
import { explainOptionsFromFlags, RULE_FLAGS } from './ruleFlags.js';

/** Where a command writes. */
export interface CommandIO {
  readonly stdout: ProgressSink;
  readonly stderr: ProgressSink;
  readonly cwd: string;
}


const RUN_FLAGS: FlagSpec[] = [
  { name: 'model', alias: 'm', type: 'string', value: '<dir|model.json>', description: 'the TF.js layers model (required)' },
  { name: 'input', alias: 'i', type: 'string', value: '<path>', description: 'a file, folder or glob ("imgs/**/*.png"): PNG/JPEG images, .npy (one item per row), .jsonl (one array per line)', repeat: true },
  { name: 'out', alias: 'o', type: 'string', value: '<dir>', description: 'output folder (required)' },
  { name: 'class', alias: 'c', type: 'string', value: '<n|max|file>', description: "class to explain: an index, 'max' (top score), or a labels file (one class per line, or file,class CSV)", default: 'max' },
  ...RULE_FLAGS,
  { name: 'batch', alias: 'b', type: 'int', value: '<n>', description: 'items per batch', min: 1, default: '32' },
  { name: 'workers', alias: 'w', type: 'int', value: '<n>', description: 'worker threads, each with its own engine', min: 1, default: 'cores on wasm/cpu (cores - 1 in worker threads when drawing per-item pictures, leaving this thread a core to draw and write), 1 on tensorflow and webgpu' },
  { name: 'backend', type: 'string', value: '<name>', description: "tf backend: tensorflow (@tensorflow/tfjs-node), wasm, cpu, or webgpu (WebGPU through Dawn, one worker: npm install webgpu @tensorflow/tfjs-backend-webgpu; on Linux without a GPU it runs on Mesa's software OpenGL, packages libegl-mesa0 libegl-dev libgl1-mesa-dri)", choices: BACKEND_CHOICES, default: 'auto: tensorflow, else wasm, else cpu' },
  { name: 'shard', type: 'string', value: '<i/n>', description: 'explain batches b with b mod n = i only (0-based)' },
  { name: 'save-relevance', type: 'boolean', description: 'also write relevance/<item>.npy (float32)' },
  { name: 'scale', type: 'string', value: '<range>', description: 'how image pixels are scaled for the model', choices: ['0..1', '0..255', '-1..1', 'imagenet'], default: '0..1' },
  { name: 'fit', type: 'string', value: '<how>', description: 'how images are resized to the model input', choices: ['fill', 'cover', 'contain'], default: 'fill' },
  { name: 'kernel', type: 'string', value: '<k>', description: 'resize kernel', choices: ['nearest', 'linear', 'cubic', 'lanczos3'], default: 'lanczos3' },
  { name: 'colormap', type: 'string', value: '<name>', description: 'heatmap colours', choices: COLORMAPS, default: 'bwr' },
  { name: 'upscale', type: 'int', value: '<k>', description: 'enlarge heatmap pictures k times (nearest)', min: 1, default: '1' },
  { name: 'progress', type: 'string', value: '<mode>', description: 'progress display', choices: ['auto', 'bar', 'log', 'none'], default: 'auto: bar on a terminal, log lines otherwise' },
  { name: 'overwrite', type: 'boolean', description: 'start over in an --out folder that holds a run' },
  { name: 'checkpoint', type: 'number', value: '<s>', description: 'seconds between aggregate checkpoints (a resumed run re-explains at most the batches since the last one)', min: 0, default: '5' },
  { name: 'quiet', alias: 'q', type: 'boolean', description: 'no status lines and no progress' },
];

const EXIT_STATUS = 'Exit status: 0 every item explained; 1 some items failed (listed in <out>/errors.jsonl); 2 usage error (bad flag, value or path); 3 fatal error.';

/** The commands. */
export const COMMANDS: Record<'explain' | 'aggregate' | 'describe' | 'merge', CommandSpec> = {
  explain: {
    name: 'explain',
    summary: 'Explain every input: heatmap (and overlay) per item, optional raw relevance, summary.json/.csv, errors.jsonl.',
    usage: 'explain --model <dir> --input <files|folder|glob> --out <dir> [options] [more inputs...]',
    description:
      'Items are sorted by path and explained in batches; every file is written atomically and each finished\n' +
      'batch is committed to <out>/.tfjs-lrp/done.jsonl, so rerunning the same command after a kill continues\n' +
      'where it stopped. Bad items (unreadable, corrupt, wrong size, NaN) are listed in errors.jsonl.\n' +
      'Outputs: heatmaps/<item>.png, overlays/<item>.png (image inputs), relevance/<item>.npy (--save-relevance),\n' +
      'summary.json, summary.csv, errors.jsonl, run.json; with --aggregate also aggregate/ (see `aggregate --help`).\n' +
      EXIT_STATUS,
    flags: [...RUN_FLAGS, { name: 'heatmap', type: 'boolean', description: 'write heatmaps/<item>.png (--no-heatmap to skip)', default: 'true' }, { name: 'overlay', type: 'boolean', description: 'write overlays/<item>.png for image files (--no-overlay to skip)', default: 'true' }, { name: 'aggregate', type: 'boolean', description: 'also write the per-class aggregate/' }],
    positional: { name: '[inputs...]', description: 'more inputs (like --input)' },
    examples: [
      'tfjs-lrp explain --model fixtures/digits --input digits/ --out out/explained',
      'tfjs-lrp explain -m model/ -i "photos/**/*.jpg" --composite epsilonPlusFlat --class labels.csv --scale imagenet --out out/photos',
      'tfjs-lrp explain -m model/ -i data.npy --class 3 --save-relevance --no-heatmap --batch 64 --out out/arrays',
      'tfjs-lrp explain -m model/ -i imgs/ --out out/part-$JOB_COMPLETION_INDEX --shard $JOB_COMPLETION_INDEX/8',
    ],
  },
  aggregate: {
    name: 'aggregate',
    summary: 'Per-class aggregated relevance ("Aggregated LRP") over a data set, as arrays and heatmap images.',
    usage: 'aggregate --model <dir> --input <files|folder|glob> --out <dir> [options] [more inputs...]',
    description:
      'For every explained class: count, mean relevance, mean |relevance|, mean positive and negative parts.\n' +
      'Writes aggregate/class-<c>/{mean,mean_abs,positive,negative}.npy (float64, the input shape), mean.png and\n' +
      'mean_abs.png (image inputs), aggregate/classes.json, and aggregate/state.json: exact sums that\n' +
      '`tfjs-lrp merge` combines bit for bit (shards merged equal a single run). Also summary.json/.csv, errors.jsonl.\n' +
      EXIT_STATUS,
    flags: RUN_FLAGS,
    positional: { name: '[inputs...]', description: 'more inputs (like --input)' },
    examples: [
      'tfjs-lrp aggregate --model fixtures/digits --input digits.npy --class labels.txt --out out/agg',
      'tfjs-lrp aggregate -m model/ -i "val/**/*.png" --composite epsilonGammaBox --low 0 --high 1 --out out/agg',
      'tfjs-lrp aggregate -m model/ -i val/ --shard 2/4 --out out/agg-2   # then: tfjs-lrp merge out/agg-* --out out/agg',
    ],
  },
  describe: {
    name: 'describe',
    summary: 'Print the layer -> rule plan of a model as a table (or JSON).',
    usage: 'describe --model <dir> [--rule <name> | --composite <name>] [--json]',
    description: EXIT_STATUS.replace(' 1 some items failed (listed in <out>/errors.jsonl);', ''),
    flags: [
      { name: 'model', alias: 'm', type: 'string', value: '<dir|model.json>', description: 'the TF.js layers model (required)' },
      ...RULE_FLAGS,
      { name: 'json', type: 'boolean', description: 'print JSON rows instead of a table' },
    ],
    examples: ['tfjs-lrp describe --model fixtures/digits', 'tfjs-lrp describe -m model/ --composite epsilonGammaBox --low 0 --high 1', 'tfjs-lrp describe -m model/ --composite epsilonPlusFlat --json'],
  },
  merge: {
    name: 'merge',
    summary: 'Merge the output folders of shards (--shard i/n runs) into one: summary, errors and exact aggregates.',
    usage: 'merge <dir> <dir>... --out <dir>',
    description:
      'Checks that the folders are finished shards 0..n-1 of one run (same model, inputs and options), then\n' +
      'writes summary.json, summary.csv, errors.jsonl and aggregate/ equal to a single run. Per-item files\n' +
      '(heatmaps/, overlays/, relevance/) stay in the shard folders under the same relative paths; pass --copy\n' +
      'to copy them too.\n' +
      EXIT_STATUS.replace('some items failed (listed in <out>/errors.jsonl)', 'some items failed in a shard (listed in errors.jsonl)'),
    flags: [
      { name: 'out', alias: 'o', type: 'string', value: '<dir>', description: 'output folder (required)' },
      { name: 'copy', type: 'boolean', description: 'also copy per-item files from the shard folders' },
      { name: 'quiet', alias: 'q', type: 'boolean', description: 'no status lines' },
    ],
    positional: { name: '<dirs...>', description: 'the shard output folders' },
    examples: ['tfjs-lrp merge out/part-0 out/part-1 out/part-2 --out out/all', 'tfjs-lrp merge out/agg-* --out out/agg --copy'],
  },
};

function req(args: ParsedArgs, name: string, command: string): string {
  const v = args.flags[name];
  if (v === undefined) throw new LrpUsageError(`--${name}`, `is required: tfjs-lrp ${COMMANDS[command as keyof typeof COMMANDS].usage}`);
  return v as string;
}

function existingModel(p: string, cwd: string): string {
  const full = path.resolve(cwd, p);
  if (!fs.existsSync(full)) throw new LrpUsageError('--model', `'${p}' does not exist (resolved to ${full}); pass the model's folder (with model.json) or its model.json.`);
  if (fs.statSync(full).isDirectory() && !fs.existsSync(path.join(full, 'model.json'))) throw new LrpUsageError('--model', `the folder '${p}' has no model.json.`);
  return full;
}

const SCALES: Record<string, PixelScaling> = { '0..1': '0..1', '0..255': '0..255', '-1..1': '-1..1', imagenet: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } };

/** Runs explain or aggregate. */
export async function runCommand(command: 'explain' | 'aggregate', args: ParsedArgs, io: CommandIO): Promise<number> {
  const f = args.flags;
  const model = existingModel(req(args, 'model', command), io.cwd);
  const out = path.resolve(io.cwd, req(args, 'out', command));
  const inputs = [...((f.input as string[] | undefined) ?? []), ...args.positionals];
  if (inputs.length === 0) throw new LrpUsageError('--input', `is required: give files, a folder or a glob, e.g. --input "images/**/*.png".`);
  const quiet = f.quiet === true;
  const log = (line: string) => {
    if (!quiet) io.stderr.write(`${line}\n`);
  };
  const result = await runBatch({
    command,
    model,
    inputs: inputs.map((p) => (path.isAbsolute(p) ? p : path.join(io.cwd, p))),
    out,
    classSpec: parseClassSpec((f.class as string | undefined) ?? 'max', io.cwd),
    explain: explainOptionsFromFlags(args),
    batchSize: (f.batch as number | undefined) ?? 32,
    workers: f.workers as number | undefined,
    backend: ((f.backend as string | undefined) ?? 'auto') as BackendChoice,
    shard: f.shard === undefined ? null : parseShard(f.shard as string),
    heatmaps: f.heatmap !== false,
    overlays: f.overlay !== false,
    saveRelevance: f['save-relevance'] === true,
    aggregate: command === 'aggregate' || f.aggregate === true,
    image: { scale: SCALES[(f.scale as string | undefined) ?? '0..1'], fit: ((f.fit as string | undefined) ?? 'fill') as 'fill', kernel: ((f.kernel as string | undefined) ?? 'lanczos3') as 'lanczos3' },
    draw: { colormap: ((f.colormap as string | undefined) ?? 'bwr') as ColormapName, upscale: (f.upscale as number | undefined) ?? 1, alpha: 0.5 },
    progress: quiet ? 'none' : (((f.progress as string | undefined) ?? 'auto') as ProgressMode),
    overwrite: f.overwrite === true,
    checkpointSeconds: f.checkpoint as number | undefined,
    log,
    progressSink: io.stderr,
  });
  const rate = result.seconds > 0 ? result.explainedNow / result.seconds : 0;
  io.stdout.write(
    `${result.exitCode === 0 ? 'done' : 'done with errors'}: ${result.explained} explained, ${result.failed} failed` +
      `${result.resumed ? ` (${result.explainedNow} in this run)` : ''} in ${result.seconds.toFixed(1)} s (${rate.toFixed(1)} items/s, ${result.backend}, ${result.workers} worker${result.workers === 1 ? '' : 's'}) -> ${out}\n`,
  );
  if (result.failed > 0) io.stdout.write(`failed items and reasons: ${path.join(out, 'errors.jsonl')}\n`);
  return result.exitCode;
}

/** Runs describe. */
export async function describeCommand(args: ParsedArgs, io: CommandIO): Promise<number> {
  const model = existingModel(req(args, 'model', 'describe'), io.cwd);
  await selectBackend('cpu');
  const m = await loadModel(model);
  try {
    const explainer = createExplainer(m, explainOptionsFromFlags(args));
    try {
      const rows = explainer.describe();
      io.stdout.write(args.flags.json === true ? JSON.stringify(rows, null, 1) + '\n' : formatPlan(rows) + '\n');
    } finally {
      explainer.dispose();
    }
  } finally {
    m.dispose();
  }
  return 0;
}

/** Runs merge. */
export async function mergeCommand(args: ParsedArgs, io: CommandIO): Promise<number> {
  const out = path.resolve(io.cwd, req(args, 'out', 'merge'));
  if (args.positionals.length === 0) throw new LrpUsageError('<dirs>', 'give the shard output folders to merge, e.g. tfjs-lrp merge out/part-0 out/part-1 --out out/all.');
  await selectBackend('cpu');
  const r = await mergeRuns(args.positionals.map((d) => path.resolve(io.cwd, d)), out, { copy: args.flags.copy === true });
  io.stdout.write(`merged ${r.shards} shard${r.shards === 1 ? '' : 's'}: ${r.explained} explained, ${r.failed} failed -> ${out}\n`);
  return r.failed > 0 ? 1 : 0;
}
