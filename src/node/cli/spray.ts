/**
 * `tfjs-lrp spray`: SpRAy over a data set's heatmaps, from the relevance .npy files of
 * `explain --save-relevance`, or explaining the inputs first (then the same flags as explain).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { LrpArgumentError } from '../../errors.js';
import { COLORMAPS, type ColormapName } from '../../heatmap/colormaps.js';
import { spray, type SprayOptions } from '../../spray/spray.js';
import { selectBackend, BACKEND_CHOICES } from '../batch/backend.js';
import { compareCodePoints, walkFiles } from '../batch/glob.js';
import { readNpy } from '../batch/npy.js';
import { writeSprayReport } from '../spray.js';
import { LrpUsageError, type CommandSpec, type FlagSpec, type ParsedArgs } from './args.js';
import { runCommand, type CommandIO } from './commands.js';
import { RULE_FLAGS } from './ruleFlags.js';

const SPRAY_FLAGS: FlagSpec[] = [
  { name: 'relevance', alias: 'r', type: 'string', value: '<dir|file.npy>', description: 'relevance to cluster: a folder of .npy files, one heatmap each (the relevance/ folder of explain --save-relevance, searched recursively), or a .npy file with one heatmap per row', repeat: true },
  { name: 'out', alias: 'o', type: 'string', value: '<dir>', description: 'output folder (required)' },
  { name: 'neighbors', alias: 'k', type: 'int', value: '<k>', description: 'neighbours per sample in the affinity graph', min: 1, default: 'min(10, N - 1)' },
  { name: 'clusters', type: 'int', value: '<n>', description: "a fixed number of clusters instead of the eigengap's choice", min: 1 },
  { name: 'min-clusters', type: 'int', value: '<n>', description: 'fewest clusters the eigengap may choose', min: 1, default: '2' },
  { name: 'max-clusters', type: 'int', value: '<n>', description: 'most clusters the eigengap may choose', min: 1, default: 'min(10, N - 1)' },
  { name: 'downsample', type: 'int', value: '<f>', description: 'pool heatmaps by f x f windows before clustering (1: no pooling)', min: 1, default: 'smallest f giving sides <= 16' },
  { name: 'pooling', type: 'string', value: '<how>', description: 'pooling of the downsampling', choices: ['avg', 'max'], default: 'avg' },
  { name: 'transform', type: 'string', value: '<how>', description: 'before pooling: none (signed relevance), abs (|R|) or positive (max(R, 0))', choices: ['none', 'abs', 'positive'], default: 'none' },
  { name: 'normalize', type: 'string', value: '<how>', description: 'per heatmap after pooling: unit l2 norm, max |v| = 1, or none', choices: ['l2', 'maxAbs', 'none'], default: 'l2' },
  { name: 'affinity', type: 'string', value: '<how>', description: 'kNN edge weights: binary, or gaussian exp(-d^2 / sigma^2)', choices: ['binary', 'gaussian'], default: 'binary' },
  { name: 'seed', type: 'int', value: '<n>', description: 'k-means++ seed (same inputs and seed: same clusters)', min: 0, default: '0' },
  { name: 'examples', type: 'int', value: '<n>', description: 'typical samples drawn next to each cluster mean', min: 0, default: '8' },
  { name: 'colormap', type: 'string', value: '<name>', description: 'heatmap colours', choices: COLORMAPS, default: 'bwr' },
  { name: 'clip', type: 'number', value: '<p>', description: 'colour scale of each heatmap: the p-th percentile of |relevance|, 0 < p <= 100', default: '99.5' },
  { name: 'upscale', type: 'int', value: '<k>', description: 'enlarge the heatmaps in the pictures k times', min: 1, default: 'panels of at least 96 px' },
  { name: 'model', alias: 'm', type: 'string', value: '<dir|model.json>', description: 'explain first: the TF.js layers model (instead of --relevance; then --input, --class and the rule flags as for explain)' },
  { name: 'input', alias: 'i', type: 'string', value: '<path>', description: 'explain first: files, a folder or a glob, as for explain', repeat: true },
  { name: 'class', alias: 'c', type: 'string', value: '<n|max|file>', description: "explain first: the class to explain (SpRAy looks at one class: give its index)", default: 'max' },
  ...RULE_FLAGS.filter((f) => f.name !== 'output'),
  { name: 'output', type: 'int', value: '<k>', description: 'explain first: which output of a multi-output model', min: 0 },
  { name: 'batch', alias: 'b', type: 'int', value: '<n>', description: 'explain first: items per batch', min: 1, default: '32' },
  { name: 'workers', alias: 'w', type: 'int', value: '<n>', description: 'explain first: worker threads', min: 1 },
  { name: 'backend', type: 'string', value: '<name>', description: 'tf backend', choices: BACKEND_CHOICES, default: 'auto: tensorflow, else wasm, else cpu' },
  { name: 'scale', type: 'string', value: '<range>', description: 'explain first: how image pixels are scaled (as for explain)', choices: ['0..1', '0..255', '-1..1', 'imagenet'], default: '0..1' },
  { name: 'invert', type: 'boolean', description: 'explain first: invert image pixels (as for explain)' },
  { name: 'overwrite', type: 'boolean', description: 'explain first: start over in <out>/explain when it holds a run' },
  { name: 'quiet', alias: 'q', type: 'boolean', description: 'no status lines' },
];

/** The `spray` command's flags and help. */
export const SPRAY_COMMAND: CommandSpec = {
  name: 'spray',
  summary: 'SpRAy: cluster the heatmaps of a data set (spectral clustering) to find the strategies a model uses.',
  usage: 'spray (--relevance <dir|file.npy> | --model <dir> --input <files> --class <n>) --out <dir> [options]',
  description:
    'Spectral Relevance Analysis (Lapuschkin et al. 2019): pools every heatmap, builds a k-nearest-neighbour\n' +
    'graph, takes the eigenvalues of its normalized Laplacian, chooses the number of clusters from the largest\n' +
    'eigengap and clusters the spectral embedding with seeded k-means++. With --model it first runs\n' +
    '`explain --save-relevance` into <out>/explain. Writes clusters.json, clusters.csv, eigenvalues.csv,\n' +
    'eigengap.svg, scatter.svg, cluster-means.png, clusters/cluster-<c>.png (mean and typical samples), index.md.\n' +
    'Exit status: 0 done; 1 done, but some inputs failed to explain (<out>/explain/errors.jsonl); 2 usage error\n' +
    '(bad flag or path, fewer than 3 heatmaps, heatmaps of different shapes, both or neither of --relevance and\n' +
    '--model); 3 fatal error.',
  flags: SPRAY_FLAGS,
  examples: [
    'tfjs-lrp explain -m fixtures/clever-hans -i sevens.npy --class 7 --save-relevance --out out/sevens && tfjs-lrp spray -r out/sevens/relevance --out out/spray',
    'tfjs-lrp spray -m fixtures/clever-hans -i sevens.npy --class 7 --composite epsilonPlusFlat --out out/spray',
    'tfjs-lrp spray -r relevance.npy --clusters 3 --transform abs --out out/spray3',
  ],
};

/** SpRAy option → its flag (for the error messages of spray()). */
const FLAG_OF: Record<string, string> = { neighbors: '--neighbors', clusters: '--clusters', minClusters: '--min-clusters', maxClusters: '--max-clusters', downsample: '--downsample', seed: '--seed' };

/** Heatmaps from --relevance: one per .npy in a folder, one per row of a .npy file; names and one tensor. */
function readRelevance(inputs: readonly string[], cwd: string): { names: string[]; relevance: tf.Tensor } {
  const items: Array<{ name: string; data: Float32Array | Float64Array; shape: number[] }> = [];
  for (const input of inputs) {
    const full = path.resolve(cwd, input);
    if (!fs.existsSync(full)) throw new LrpUsageError('--relevance', `'${input}' does not exist (resolved to ${full}); give the relevance/ folder of explain --save-relevance or a .npy file.`);
    if (fs.statSync(full).isDirectory()) {
      const listed = summaryOrder(full);
      if (listed !== null) {
        for (const it of listed) items.push({ name: it.name, ...readOne(it.file, input) });
        continue;
      }
      const files = walkFiles(full).filter((f) => f.toLowerCase().endsWith('.npy')).sort(compareCodePoints);
      if (files.length === 0) throw new LrpUsageError('--relevance', `the folder '${input}' holds no .npy file; write them with tfjs-lrp explain --save-relevance (into <out>/relevance/).`);
      for (const f of files) items.push({ name: f, ...readOne(path.join(full, f), input) });
    } else {
      const { data, shape } = readOne(full, input);
      if (shape.length < 2) throw new LrpUsageError('--relevance', `'${input}' has shape [${shape.join(', ')}]; a .npy file given directly holds one heatmap per row ([N, ...]); put single heatmaps into a folder.`);
      const size = data.length / shape[0];
      for (let i = 0; i < shape[0]; i++) items.push({ name: `${path.basename(input)}#${i}`, data: data.subarray(i * size, (i + 1) * size), shape: shape.slice(1) });
    }
  }
  if (items.length < 3) throw new LrpUsageError('--relevance', `SpRAy needs at least 3 heatmaps, got ${items.length}.`);
  const shape = items[0].shape;
  const bad = items.find((it) => it.shape.join(',') !== shape.join(','));
  if (bad !== undefined) throw new LrpUsageError('--relevance', `'${bad.name}' has shape [${bad.shape.join(', ')}] but '${items[0].name}' has [${shape.join(', ')}]: SpRAy compares heatmaps of one shape (one model, one input size).`);
  const size = items[0].data.length;
  const flat = new Float32Array(items.length * size);
  items.forEach((it, i) => flat.set(it.data, i * size));
  return { names: items.map((it) => it.name), relevance: tf.tensor(flat, [items.length, ...shape]) };
}

/**
 * The relevance/ folder of an explain run, in item order and named by input (summary.json beside
 * it lists each item's file and relevance path); null for any other folder.
 */
function summaryOrder(dir: string): Array<{ name: string; file: string }> | null {
  const summary = path.join(path.dirname(dir), 'summary.json');
  if (path.basename(dir) !== 'relevance' || !fs.existsSync(summary)) return null;
  try {
    const json = JSON.parse(fs.readFileSync(summary, 'utf8')) as { items?: Array<{ index?: number; file?: string; relevance?: string }> };
    const rows = (json.items ?? []).filter((r) => typeof r.relevance === 'string' && typeof r.file === 'string');
    if (rows.length === 0) return null;
    rows.sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
    return rows.map((r) => ({ name: r.file as string, file: path.join(path.dirname(dir), r.relevance as string) }));
  } catch {
    return null;
  }
}

function readOne(file: string, input: string): { data: Float32Array | Float64Array; shape: number[] } {
  try {
    return readNpy(file);
  } catch (e) {
    throw new LrpUsageError('--relevance', `cannot read '${path.basename(file)}' in '${input}' as .npy: ${(e as Error).message}`);
  }
}

/** Runs `tfjs-lrp spray`. */
export async function sprayCommand(args: ParsedArgs, io: CommandIO): Promise<number> {
  const f = args.flags;
  if (f.out === undefined) throw new LrpUsageError('--out', `is required: tfjs-lrp ${SPRAY_COMMAND.usage}`);
  const out = path.resolve(io.cwd, f.out as string);
  const given = (f.relevance as string[] | undefined) ?? [];
  const explainFirst = f.model !== undefined;
  if (given.length > 0 && explainFirst) throw new LrpUsageError('--relevance', 'and --model exclude each other: cluster saved relevance (--relevance) or explain first (--model with --input), not both.');
  if (given.length === 0 && !explainFirst) throw new LrpUsageError('--relevance', "is required (or --model with --input to explain first): e.g. tfjs-lrp spray --relevance out/explained/relevance --out out/spray.");
  const clip = (f.clip as number | undefined) ?? 99.5;
  if (!(clip > 0 && clip <= 100)) throw new LrpUsageError('--clip', `must be a percentile in (0, 100], e.g. 99.5, got ${clip}.`);
  const log = (line: string) => {
    if (f.quiet !== true) io.stderr.write(`${line}\n`);
  };

  let status = 0;
  let sources = given;
  if (explainFirst) {
    const explainDir = path.join(out, 'explain');
    const flags: Record<string, string | number | boolean | Array<string | number>> = { ...f, out: explainDir, 'save-relevance': true, heatmap: false, overlay: false, progress: 'none' };
    delete flags.relevance;
    for (const k of ['neighbors', 'clusters', 'min-clusters', 'max-clusters', 'downsample', 'pooling', 'transform', 'normalize', 'affinity', 'seed', 'examples', 'colormap', 'clip', 'upscale']) delete flags[k];
    status = await runCommand('explain', { flags, positionals: args.positionals, help: false }, io);
    sources = [path.join(explainDir, 'relevance')];
  } else {
    await selectBackend(((f.backend as string | undefined) ?? 'cpu') as 'cpu');
  }

  const { names, relevance } = readRelevance(sources, io.cwd);
  try {
    const options: SprayOptions = {
      neighbors: f.neighbors as number | undefined,
      clusters: f.clusters as number | undefined,
      minClusters: f['min-clusters'] as number | undefined,
      maxClusters: f['max-clusters'] as number | undefined,
      downsample: f.downsample as number | undefined,
      pooling: f.pooling as 'avg' | 'max' | undefined,
      transform: f.transform as SprayOptions['transform'],
      normalize: f.normalize as SprayOptions['normalize'],
      affinity: f.affinity as SprayOptions['affinity'],
      seed: f.seed as number | undefined,
    };
    log(`spray: ${names.length} heatmaps of shape [${relevance.shape.slice(1).join(', ')}]`);
    const t0 = Date.now();
    const result = await spray(relevance, options).catch((e: unknown) => {
      if (e instanceof LrpArgumentError && e.argument.startsWith('options.')) {
        const flag = FLAG_OF[e.argument.slice('options.'.length)] ?? e.argument;
        throw new LrpUsageError(flag, e.message.replace(/^Argument '[^']*': /, ''));
      }
      throw e;
    });
    try {
      const files = await writeSprayReport(out, relevance, result, {
        names,
        examples: f.examples as number | undefined,
        colormap: f.colormap as ColormapName | undefined,
        clipPercentile: clip,
        scale: f.upscale as number | undefined,
        title: `SpRAy over ${names.length} heatmaps`,
      });
      io.stdout.write(
        `spray: ${result.nClusters} clusters (eigengap ${result.eigengap.toFixed(4)}), sizes ${result.clusterSizes.join(', ')}; ` +
          `${((Date.now() - t0) / 1000).toFixed(1)} s -> ${path.join(out, files.index)}\n`,
      );
    } finally {
      result.clusterMeans.dispose();
    }
  } finally {
    relevance.dispose();
  }
  return status;
}
