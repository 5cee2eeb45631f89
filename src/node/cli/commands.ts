/**
 * The `tfjs-lrp` commands: explain, aggregate, describe, merge. Each has a flag spec (parsed by
 * ./args), a help text with examples, and a runner returning the exit status.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createExplainer, formatPlan } from '../../explain.js';
import { LrpArgumentError } from '../../errors.js';
import { COLORMAPS, type ColormapName } from '../../heatmap/colormaps.js';
import type { PixelScaling } from '../image.js';
import { loadModel } from '../loadModel.js';
import { BACKEND_CHOICES, selectBackend, type BackendChoice } from '../batch/backend.js';
import { parseClassSpec, readClassNames } from '../batch/labels.js';
import { mergeRuns } from '../batch/merge.js';
import { checkOutputChoice, formatOutputs, listOutputs, resolveOutput } from '../batch/modelOutputs.js';
import { checkPictureSize, MAX_PICTURE_SIDE, MAX_UPSCALE, type DrawOptions } from '../batch/outputs.js';
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

/**
 * RULE_FLAGS with `--output` described for explain/aggregate, where a multi-output model needs it,
 * and `--input-non-negative` with what it does to items.
 */
function ruleFlagsForRuns(): FlagSpec[] {
  return RULE_FLAGS.map((f) => {
    if (f.name === 'input-non-negative') return { ...f, description: `${f.description}; an item with a negative value fails with its reason` };
    if (f.name !== 'output') return f;
    const { default: _default, ...rest } = f;
    return { ...rest, description: 'which output of the model to explain: required when it has several (a run without it stops and lists them: index, layer, shape); its index or its name (output node of a graph model, output layer)' };
  });
}

/** RULE_FLAGS with `--output` described for describe. */
function ruleFlagsForDescribe(): FlagSpec[] {
  return RULE_FLAGS.map((f) => (f.name === 'output' ? { ...f, description: 'which output of a multi-output model the plan leads to (the outputs are listed when there are several): its index or its name (output node of a graph model, output layer)', default: '0' } : f));
}

const OVERLAY_MODES = ['alpha', 'multiply', 'screen'] as const;
const FITS = ['fill', 'cover', 'contain'] as const;

const RUN_FLAGS: FlagSpec[] = [
  { name: 'model', alias: 'm', type: 'string', value: '<dir|model.json>', description: 'the TF.js model: a layers model or a graph model (required)' },
  { name: 'input', alias: 'i', type: 'string', value: '<path>', description: 'a file, folder or glob ("imgs/**/*.png"): PNG/JPEG images, .npy (one item per row), .jsonl (one array per line)', repeat: true },
  { name: 'out', alias: 'o', type: 'string', value: '<dir>', description: 'output folder (required)' },
  { name: 'class', alias: 'c', type: 'string', value: '<n|max|file>', description: "class to explain: an index, 'max' (top score), or a file with each item's class (one index per line, or file,class CSV); class names go in --labels", default: 'max' },
  { name: 'labels', type: 'string', value: '<file>', description: 'class names: a text file with one name per line (line 1 names class 0); the names go into summary.json/.csv (className, class_name) and aggregate/classes.json (name)' },
  ...ruleFlagsForRuns(),
  { name: 'batch', alias: 'b', type: 'int', value: '<n>', description: 'items per batch', min: 1, default: '32' },
  { name: 'workers', alias: 'w', type: 'int', value: '<n>', description: 'worker threads, each with its own engine', min: 1, default: 'cores on wasm/cpu (cores - 1 in worker threads when drawing per-item pictures, leaving this thread a core to draw and write), 1 on tensorflow and webgpu' },
  { name: 'backend', type: 'string', value: '<name>', description: "tf backend: tensorflow (@tensorflow/tfjs-node), wasm, cpu, or webgpu (WebGPU through Dawn, one worker: npm install webgpu @tensorflow/tfjs-backend-webgpu; on Linux without a GPU it runs on Mesa's software OpenGL, packages libegl-mesa0 libegl-dev libgl1-mesa-dri)", choices: BACKEND_CHOICES, default: 'auto: tensorflow, else wasm, else cpu' },
  { name: 'shard', type: 'string', value: '<i/n>', description: 'explain batches b with b mod n = i only (0-based)' },
  { name: 'save-relevance', type: 'boolean', description: 'also write relevance/<item>.npy (float32)' },
  { name: 'scale', type: 'string', value: '<range>', description: "how image pixels (0..255) are scaled for the model; imagenet = --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225", choices: ['0..1', '0..255', '-1..1', 'imagenet'], default: '0..1' },
  { name: 'mean', type: 'string', value: '<m[,m,m]>', description: 'subtract this per-channel mean from pixels scaled to 0..1 (one value, or one per channel)', default: '0' },
  { name: 'std', type: 'string', value: '<s[,s,s]>', description: 'then divide by this per-channel standard deviation (> 0; one value, or one per channel)', default: '1' },
  { name: 'invert', type: 'boolean', description: 'invert image pixels (1 - v) before scaling: dark-on-light images for a model trained on light-on-dark ones (MNIST); overlays still show the image as in the file' },
  { name: 'resize', type: 'string', value: '<how>', description: 'how images are resized to the model input: fill stretches, cover crops, contain letterboxes', choices: FITS, default: 'fill' },
  { name: 'fit', type: 'string', value: '<how>', description: 'the same as --resize (older name)', choices: FITS },
  { name: 'kernel', type: 'string', value: '<k>', description: 'resize kernel', choices: ['nearest', 'linear', 'cubic', 'lanczos3'], default: 'lanczos3' },
  { name: 'colormap', type: 'string', value: '<name>', description: 'heatmap colours', choices: COLORMAPS, default: 'bwr' },
  { name: 'clip', type: 'number', value: '<p>', description: 'colour scale of each heatmap: the p-th percentile of |relevance|, 0 < p <= 100, instead of its maximum; larger values saturate (e.g. 99.5); also for the aggregate pictures', default: '100 (the maximum)' },
  { name: 'overlay-mode', type: 'string', value: '<mode>', description: "how overlays blend the heatmap onto the image: alpha mixes, multiply darkens (good for dark strokes on white, e.g. digits), screen lightens", choices: OVERLAY_MODES, default: 'alpha' },
  { name: 'overlay-alpha', type: 'number', value: '<a>', description: 'weight of the heatmap in overlays, 0..1 (--alpha is the alphaBeta rule parameter)', min: 0, default: '0.5' },
  { name: 'upscale', type: 'int', value: '<k>', description: `enlarge heatmap pictures k times (nearest), k <= ${MAX_UPSCALE}; pictures are at most ${MAX_PICTURE_SIDE} pixels a side`, min: 1, default: '1' },
  { name: 'progress', type: 'string', value: '<mode>', description: 'progress display', choices: ['auto', 'bar', 'log', 'none'], default: 'auto: bar on a terminal, log lines otherwise' },
  { name: 'overwrite', type: 'boolean', description: 'start over in an --out folder that holds a run' },
  { name: 'checkpoint', type: 'number', value: '<s>', description: 'seconds between aggregate checkpoints (a resumed run re-explains at most the batches since the last one)', min: 0, default: '5' },
  { name: 'quiet', alias: 'q', type: 'boolean', description: 'no status lines and no progress' },
];

const EXIT_STATUS =
  'Exit status: 0 every item explained; 1 some items failed (listed in <out>/errors.jsonl); 2 usage error\n' +
  '(bad flag, value or path; a multi-output model without --output; inputs with nothing to explain: no\n' +
  'image, .npy or .jsonl file, or only empty ones; an --upscale over ' + MAX_UPSCALE + ' or drawing pictures over ' + MAX_PICTURE_SIDE + ' pixels a side);\n' +
  '3 fatal error.';

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
      'tfjs-lrp explain -m model/ -i "photos/**/*.{jpg,png}" --composite epsilonPlusFlat --class labels.csv --scale imagenet --out out/photos',
      'tfjs-lrp explain -m mnist-model/ -i scans/ --invert --overlay-mode multiply --clip 99.5 --labels names.txt --out out/scans',
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
      'tfjs-lrp aggregate --model fixtures/digits --input digits.npy --class labels.txt --labels names.txt --out out/agg',
      'tfjs-lrp aggregate -m model/ -i "val/**/*.png" --composite epsilonGammaBox --low 0 --high 1 --out out/agg',
      'tfjs-lrp aggregate -m model/ -i val/ --shard 2/4 --out out/agg-2   # then: tfjs-lrp merge out/agg-* --out out/agg',
    ],
  },
  describe: {
    name: 'describe',
    summary: 'Print the layer (or graph op) -> rule plan of a model as a table (or JSON).',
    usage: 'describe --model <dir> [--rule <name> | --composite <name>] [--output <k>] [--json]',
    description:
      'Loads the model (a layers model or a graph model) and prints, for every layer (every op node of a\n' +
      'graph model), the rule it gets under --rule/--composite and their\n' +
      'parameters, why, and notes (fused activations split off, BatchNorm merged, a final softmax stripped).\n' +
      'Nothing is explained and nothing is written: use it to check a configuration before a long run.\n' +
      'A model with several outputs gets them listed first (index, layer, shape); --output <k> chooses the\n' +
      'one whose plan is shown (default 0), and explain/aggregate require it.\n' +
      'Exit status: 0 the plan was printed; 2 usage error (bad flag, value or path, or rules that do not fit\n' +
      'the model, e.g. epsilonGammaBox without --low/--high); 3 fatal error (e.g. the model does not load).',
    flags: [
      { name: 'model', alias: 'm', type: 'string', value: '<dir|model.json>', description: 'the TF.js model: a layers model or a graph model (required)' },
      ...ruleFlagsForDescribe(),
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
      'to copy them too. Nothing is explained again.\n' +
      'Exit status: 0 merged, every item of every shard explained; 1 merged, some items had failed in the\n' +
      'shards (listed in <out>/errors.jsonl); 2 usage error (bad flag, a folder that is not a finished shard,\n' +
      'shards of different runs, a missing or repeated shard); 3 fatal error.',
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

/** `--mean` / `--std`: one number or one per channel (1 or 3), comma-separated. */
function numberList(args: ParsedArgs, name: 'mean' | 'std'): number[] | undefined {
  const raw = args.flags[name] as string | undefined;
  if (raw === undefined) return undefined;
  const parts = raw.split(',').map((t) => t.trim());
  const values = parts.map(Number);
  if (parts.some((t) => t === '') || values.some((v) => !Number.isFinite(v)) || (values.length !== 1 && values.length !== 3)) {
    throw new LrpUsageError(`--${name}`, `expected one number or three comma-separated numbers (one per channel), e.g. --${name} ${name === 'mean' ? '0.485,0.456,0.406' : '0.229,0.224,0.225'}; got ${JSON.stringify(raw)}.`);
  }
  if (name === 'std' && values.some((v) => v <= 0)) throw new LrpUsageError('--std', `every value must be greater than 0, got ${JSON.stringify(raw)}.`);
  return values;
}

/** The pixel scaling from --scale, --mean and --std. */
export function pixelScaling(args: ParsedArgs): PixelScaling {
  const scale = args.flags.scale as string | undefined;
  const mean = numberList(args, 'mean');
  const std = numberList(args, 'std');
  if (mean === undefined && std === undefined) return SCALES[scale ?? '0..1'];
  const given = mean !== undefined ? '--mean' : '--std';
  if (scale === 'imagenet') throw new LrpUsageError(given, "cannot be combined with --scale imagenet, which sets --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225; give one or the other.");
  if (scale !== undefined && scale !== '0..1') throw new LrpUsageError(given, `normalises pixels scaled to 0..1 and cannot be combined with --scale ${scale}; drop --scale (or give --scale 0..1).`);
  const one = (v: number[] | undefined, fallback: number): number | number[] => (v === undefined ? fallback : v.length === 1 ? v[0] : v);
  return { mean: one(mean, 0), std: one(std, 1) };
}

/** --resize, or its older name --fit. */
function resizeMode(args: ParsedArgs): 'fill' | 'cover' | 'contain' {
  const resize = args.flags.resize as string | undefined;
  const fit = args.flags.fit as string | undefined;
  if (resize !== undefined && fit !== undefined && resize !== fit) throw new LrpUsageError('--fit', `is the older name of --resize; give one of them (got --resize ${resize} and --fit ${fit}).`);
  return (resize ?? fit ?? 'fill') as 'fill' | 'cover' | 'contain';
}

/** The drawing options from --colormap, --upscale, --overlay-alpha, --overlay-mode and --clip. */
export function drawOptions(args: ParsedArgs): DrawOptions {
  const f = args.flags;
  const alpha = (f['overlay-alpha'] as number | undefined) ?? 0.5;
  if (alpha > 1) throw new LrpUsageError('--overlay-alpha', `must be in 0..1 (0: the image only, 1: the heatmap only), got ${alpha}.`);
  const clip = f.clip as number | undefined;
  if (clip !== undefined && !(clip > 0 && clip <= 100)) throw new LrpUsageError('--clip', `must be a percentile in (0, 100], e.g. 99.5 (100: scale by the maximum), got ${clip}.`);
  const mode = f['overlay-mode'] as DrawOptions['mode'] | undefined;
  const upscale = (f.upscale as number | undefined) ?? 1;
  return {
    colormap: ((f.colormap as string | undefined) ?? 'bwr') as ColormapName,
    upscale,
    alpha,
    // only when given: the run's fingerprint stays that of earlier versions otherwise
    ...(mode !== undefined ? { mode } : {}),
    ...(clip !== undefined && clip !== 100 ? { clipPercentile: clip } : {}),
  };
}

/**
 * The item shape a model.json declares for its (single) input, without loading the model: the
 * first layer's `batch_input_shape` (Sequential) or the input layer's (functional); a graph
 * model's single Placeholder's `shape` attribute. Null when it cannot tell (several inputs,
 * unknown dimensions, another format): the run checks later.
 */
export function declaredInputShape(model: string): number[] | null {
  try {
    const file = fs.statSync(model).isDirectory() ? path.join(model, 'model.json') : model;
    if (fs.statSync(file).size > 64 * 1024 * 1024) return null;
    type LayerJSON = { name?: unknown; config?: Record<string, unknown> };
    const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { modelTopology?: Record<string, unknown> };
    const top = json.modelTopology;
    if (Array.isArray(top?.node)) return placeholderShape(top.node as unknown[]);
    const topo = (top?.model_config ?? top) as { class_name?: unknown; config?: unknown } | undefined;
    const config = topo?.config as { layers?: unknown; input_layers?: unknown } | unknown[] | undefined;
    const layers = (Array.isArray(config) ? config : config?.layers) as LayerJSON[] | undefined;
    if (!Array.isArray(layers) || layers.length === 0) return null;
    let first: LayerJSON | undefined;
    if (Array.isArray(config) || topo?.class_name === 'Sequential') first = layers[0];
    else {
      const inputs = (config as { input_layers?: unknown }).input_layers;
      if (!Array.isArray(inputs) || inputs.length !== 1 || !Array.isArray(inputs[0])) return null;
      const name = (inputs[0] as unknown[])[0];
      first = layers.find((l) => l?.name === name || l?.config?.name === name);
    }
    const c = first?.config;
    const shape = c?.batch_input_shape ?? c?.batch_shape ?? (Array.isArray(c?.input_shape) ? [null, ...(c?.input_shape as unknown[])] : undefined);
    if (!Array.isArray(shape) || shape.length < 2) return null;
    const dims = shape.slice(1);
    return dims.every((d) => typeof d === 'number' && Number.isInteger(d) && d > 0) ? (dims as number[]) : null;
  } catch {
    return null;
  }
}

/** The item shape of a graph's single Placeholder (`attr.shape.shape.dim[].size`), or null. */
function placeholderShape(nodes: readonly unknown[]): number[] | null {
  type Node = { op?: unknown; attr?: { shape?: { shape?: { dim?: Array<{ size?: unknown }> } } } };
  const inputs = (nodes as Node[]).filter((n) => n?.op === 'Placeholder');
  if (inputs.length !== 1) return null;
  const dims = inputs[0].attr?.shape?.shape?.dim;
  if (!Array.isArray(dims) || dims.length < 2) return null;
  const sizes = dims.slice(1).map((d) => Number(d?.size));
  return sizes.every((d) => Number.isInteger(d) && d > 0) ? sizes : null;
}

/** A usage problem found by the batch pipeline (an LrpArgumentError naming a flag) as an LrpUsageError. */
function asUsageError(e: unknown): unknown {
  if (e instanceof LrpArgumentError && !(e instanceof LrpUsageError) && e.argument.startsWith('--')) {
    const prefix = `Argument '${e.argument}': `;
    return new LrpUsageError(e.argument, e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message);
  }
  return e;
}

/** Runs `fn`, turning a flag's LrpArgumentError into an LrpUsageError (see {@link asUsageError}). */
function usage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw asUsageError(e);
  }
}

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
  const labels = f.labels as string | undefined;
  const classNames = labels === undefined ? undefined : usage(() => readClassNames(path.resolve(io.cwd, labels)));
  const image = { scale: pixelScaling(args), fit: resizeMode(args), kernel: ((f.kernel as string | undefined) ?? 'lanczos3') as 'lanczos3', ...(f.invert === true ? { invert: true } : {}) };
  const draw = drawOptions(args);
  // pictures too large to draw are refused now, not after the run started writing --out
  const drawsPictures = command === 'aggregate' || f.aggregate === true || f.heatmap !== false || f.overlay !== false;
  if (drawsPictures) usage(() => checkPictureSize(declaredInputShape(model) ?? [], draw.upscale));
  const result = await runBatch({
    command,
    model,
    inputs: inputs.map((p) => (path.isAbsolute(p) ? p : path.join(io.cwd, p))),
    out,
    classSpec: usage(() => parseClassSpec((f.class as string | undefined) ?? 'max', io.cwd)),
    explain: explainOptionsFromFlags(args),
    batchSize: (f.batch as number | undefined) ?? 32,
    workers: f.workers as number | undefined,
    backend: ((f.backend as string | undefined) ?? 'auto') as BackendChoice,
    shard: f.shard === undefined ? null : parseShard(f.shard as string),
    heatmaps: f.heatmap !== false,
    overlays: f.overlay !== false,
    saveRelevance: f['save-relevance'] === true,
    aggregate: command === 'aggregate' || f.aggregate === true,
    image,
    classNames,
    draw,
    progress: quiet ? 'none' : (((f.progress as string | undefined) ?? 'auto') as ProgressMode),
    overwrite: f.overwrite === true,
    checkpointSeconds: f.checkpoint as number | undefined,
    log,
    progressSink: io.stderr,
  }).catch((e: unknown) => {
    throw asUsageError(e);
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
  const m = await loadModel(model, { format: 'auto' });
  try {
    const flags = explainOptionsFromFlags(args);
    const options = { ...flags, output: usage(() => resolveOutput(m, flags.output)) };
    usage(() => checkOutputChoice(m, options.output ?? 0));
    const explainer = createExplainer(m, options);
    try {
      const rows = explainer.describe();
      const outputs = listOutputs(m);
      if (outputs.length > 1) {
        // a note for people; with --json it goes to stderr, so that stdout stays JSON
        const note = `The model has ${outputs.length} outputs; this is the plan for output ${options.output ?? 0} (choose with --output <k>):\n${formatOutputs(outputs)}\n\n`;
        (args.flags.json === true ? io.stderr : io.stdout).write(note);
      }
      if (args.flags.json === true) io.stdout.write(JSON.stringify(rows, null, 1) + '\n');
      else {
        // graph models: formatPlan says the scope every layer name shares once, above the table
        io.stdout.write(formatPlan(rows) + '\n');
      }
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
