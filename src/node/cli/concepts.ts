/**
 * `tfjs-lrp concepts`: reference samples of the channels of chosen layers over a data set (CRP's
 * relevance maximization), one grid per channel and an index page. Resumable: the state is saved
 * after every batch in <out>/.tfjs-lrp/concepts-state.json.
 */
import * as fs from 'fs';
import * as path from 'path';
import { COLORMAPS, type ColormapName } from '../../heatmap/colormaps.js';
import { selectBackend, BACKEND_CHOICES, type BackendChoice } from '../batch/backend.js';
import { resolveInputs } from '../batch/glob.js';
import { fileKind, refsFromFiles } from '../batch/items.js';
import { createExplainer } from '../../explain.js';
import { collectFromRefs, writeConceptReport } from '../concepts.js';
import { readImage } from '../image.js';
import { loadModel } from '../loadModel.js';
import { LrpUsageError, type CommandSpec, type FlagSpec, type ParsedArgs } from './args.js';
import { pixelScaling, type CommandIO } from './commands.js';
import { explainOptionsFromFlags, RULE_FLAGS } from './ruleFlags.js';

const CONCEPTS_FLAGS: FlagSpec[] = [
  { name: 'model', alias: 'm', type: 'string', value: '<dir|model.json>', description: 'the TF.js model: layers or graph model (required)' },
  { name: 'input', alias: 'i', type: 'string', value: '<path>', description: 'files, a folder or a glob, as for explain (images, .npy, .jsonl)', repeat: true },
  { name: 'layer', alias: 'l', type: 'string', value: '<name>', description: 'a layer whose channels to collect (required; repeat for several; nested models: outer/inner)', repeat: true },
  { name: 'out', alias: 'o', type: 'string', value: '<dir>', description: 'output folder (required)' },
  { name: 'top', alias: 'k', type: 'int', value: '<k>', description: 'reference samples per channel and list', min: 1, default: '6' },
  { name: 'class', alias: 'c', type: 'string', value: '<n|max>', description: "the class whose concept relevance ranks the samples: an index, or 'max' (each item's top class)", default: 'max' },
  ...RULE_FLAGS,
  { name: 'batch', alias: 'b', type: 'int', value: '<n>', description: 'items per batch', min: 1, default: '32' },
  { name: 'backend', type: 'string', value: '<name>', description: 'tf backend', choices: BACKEND_CHOICES, default: 'auto: tensorflow, else wasm, else cpu' },
  { name: 'scale', type: 'string', value: '<range>', description: 'how image pixels are scaled (as for explain)', choices: ['0..1', '0..255', '-1..1', 'imagenet'], default: '0..1' },
  { name: 'invert', type: 'boolean', description: 'invert image pixels (as for explain)' },
  { name: 'colormap', type: 'string', value: '<name>', description: 'heatmap colours', choices: COLORMAPS, default: 'bwr' },
  { name: 'clip', type: 'number', value: '<p>', description: 'colour scale of each heatmap: the p-th percentile of |relevance|, 0 < p <= 100', default: '99.5' },
  { name: 'overwrite', type: 'boolean', description: 'start over instead of continuing a run in --out' },
  { name: 'quiet', alias: 'q', type: 'boolean', description: 'no status lines' },
];

/** The `concepts` command's flags and help. */
export const CONCEPTS_COMMAND: CommandSpec = {
  name: 'concepts',
  summary: 'Concept reference samples (CRP): per channel of a layer, the top items by concept relevance and by activation, with conditional heatmaps.',
  usage: 'concepts --model <dir> --input <files|folder|glob> --layer <name> --out <dir> [options] [more inputs...]',
  description:
    'Concept Relevance Propagation (Achtibat et al. 2023): streams the inputs in batches and keeps, for every\n' +
    'channel of each --layer, the --top items by concept relevance (the channel\'s relevance for the explained\n' +
    'class, summed over positions) and by activation (its maximum over positions). Then draws each channel\'s\n' +
    'items with their conditional heatmaps (relevance: the class conditioned on the channel; activation: the\n' +
    'pass started at the channel), cropped to the receptive field (the support of the conditional relevance).\n' +
    'Writes <layer>/channel-<c>.png, index.md (channels ranked by concept relevance) and concepts.json. The\n' +
    'state is saved after every batch (<out>/.tfjs-lrp/concepts-state.json): rerunning the same command after a\n' +
    'kill continues where it stopped.\n' +
    'Exit status: 0 done; 1 done, some items could not be read (skipped); 2 usage error (bad flag or path, an\n' +
    'unknown layer: the message lists the layers); 3 fatal error.',
  flags: CONCEPTS_FLAGS,
  positional: { name: '[inputs...]', description: 'more inputs (like --input)' },
  examples: [
    'tfjs-lrp concepts --model fixtures/digits --input digits.npy --layer conv2 --out out/concepts',
    'tfjs-lrp concepts -m model/ -i "val/**/*.png" -l block3_conv1 -l block4_conv1 --top 8 --composite epsilonPlusFlat --out out/concepts',
  ],
};

/** Runs `tfjs-lrp concepts`. */
export async function conceptsCommand(args: ParsedArgs, io: CommandIO): Promise<number> {
  const f = args.flags;
  const need = (name: string): string => {
    const v = f[name];
    if (v === undefined || (Array.isArray(v) && v.length === 0)) throw new LrpUsageError(`--${name}`, `is required: tfjs-lrp ${CONCEPTS_COMMAND.usage}`);
    return Array.isArray(v) ? String(v[0]) : String(v);
  };
  const modelPath = path.resolve(io.cwd, need('model'));
  const out = path.resolve(io.cwd, need('out'));
  need('layer');
  const layers = (f.layer as string[]).map(String);
  const inputs = [...((f.input as string[] | undefined) ?? []), ...args.positionals];
  if (inputs.length === 0) throw new LrpUsageError('--input', 'is required: give files, a folder or a glob, e.g. --input digits.npy.');
  const cls = (f.class as string | undefined) ?? 'max';
  if (cls !== 'max' && !/^\d+$/.test(cls)) throw new LrpUsageError('--class', `expected a class index or 'max', got ${JSON.stringify(cls)}.`);
  const clip = (f.clip as number | undefined) ?? 99.5;
  if (!(clip > 0 && clip <= 100)) throw new LrpUsageError('--clip', `must be a percentile in (0, 100], got ${clip}.`);
  const log = (line: string) => {
    if (f.quiet !== true) io.stderr.write(`${line}\n`);
  };
  if (!fs.existsSync(modelPath)) throw new LrpUsageError('--model', `'${String(f.model)}' does not exist (resolved to ${modelPath}).`);
  const backend = await selectBackend(((f.backend as string | undefined) ?? 'auto') as BackendChoice);
  const loaded = await loadModel(modelPath, { format: 'auto' });
  const model = loaded;
  try {
    const options = explainOptionsFromFlags(args);
    // the input shape as the engine reads it (a graph model's signature, a layers model's input)
    const probe = createExplainer(model, options);
    const itemShape = probe.plan.graph.inputs[0].shape.slice(1).map((d) => d ?? -1);
    probe.dispose();
    const size = itemShape.reduce((a, b) => a * b, 1);
    const files = resolveInputs(inputs.map((p) => path.resolve(io.cwd, p)), io.cwd, { onNote: log }).filter((x) => !path.resolve(x.file).startsWith(out + path.sep));
    const hasImages = files.some((x) => fileKind(x.file) === 'image');
    const scale = pixelScaling(args);
    const loadImage = hasImages && itemShape.length === 3
      ? async (file: string) => {
          const t = await readImage(file, { height: itemShape[0], width: itemShape[1], channels: itemShape[2] as 1 | 3, scale, invert: f.invert === true });
          try {
            return Float32Array.from(await t.data());
          } finally {
            t.dispose();
          }
        }
      : undefined;
    const statePath = path.join(out, '.tfjs-lrp', 'concepts-state.json');
    if (f.overwrite === true && fs.existsSync(statePath)) fs.rmSync(statePath);
    fs.mkdirSync(path.dirname(statePath), { recursive: true });
    if (fs.existsSync(statePath)) log(`concepts: continuing the run in ${out}`);
    const t0 = Date.now();
    const collectOptions = { ...options, layers, top: (f.top as number | undefined) ?? 6, classIdx: cls === 'max' ? ('max' as const) : Number(cls), itemsPerBatch: (f.batch as number | undefined) ?? 32, statePath, onProgress: (n: number) => log(`concepts: ${n} items`) };
    const samples = await collectFromRefs(model, refsFromFiles(files, { size, loadImage }), collectOptions).catch((e: unknown) => {
      const err = e as Error & { argument?: string };
      if (err.argument === 'layerNames[0]' || err.argument?.startsWith('layerNames') === true) throw new LrpUsageError('--layer', err.message.replace(/^Argument '[^']*': /, ''));
      throw e;
    });
    const written = await writeConceptReport(out, model, samples, { ...options, colormap: f.colormap as ColormapName | undefined, clipPercentile: clip, title: `Concepts of ${path.basename(modelPath)}: ${layers.join(', ')}` });
    io.stdout.write(`concepts: ${samples.items} items (${samples.failed} skipped), ${written.length - 2} channel grids in ${((Date.now() - t0) / 1000).toFixed(1)} s (${backend.name}) -> ${path.join(out, 'index.md')}\n`);
    return samples.failed > 0 ? 1 : 0;
  } finally {
    model.dispose();
  }
}
