/**
 * A batch run over files (what `tfjs-lrp explain` and `tfjs-lrp aggregate` do): resolve the
 * inputs, pick the backend, load the model, explain every item of this shard with bounded
 * prefetch and worker threads, write per-item files, summary, errors and aggregates atomically,
 * and commit each batch to a done-log so that a killed run continues where it stopped.
 */
import { outputIndexOf } from '../../graphModel/output.js';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { createExplainer } from '../../explain.js';
import { LrpArgumentError, LrpError } from '../../errors.js';
import { loadSharp, readImage, type PixelScaling } from '../image.js';
import { loadModel, type LoadedModel } from '../loadModel.js';
import { RelevanceAggregator } from './aggregator.js';
import { writeFileAtomicSync } from './atomic.js';
import { releaseBackend, selectBackend, type BackendChoice, type BackendInfo } from './backend.js';
import type { PortableOptions } from './compute.js';
import { explainRefs, type ItemFailure } from './explainDataset.js';
import { resolveInputs, type InputFile } from './glob.js';
import { countItems, fileKind, refsFromFiles } from './items.js';
import { classLookup, type ClassLookup, type ClassSpec } from './labels.js';
import { OutputLock } from './lock.js';
import { hashJson, hashModelFiles, RunState, type AggregateCheckpoint, type DoneRecord, type InputSpan, type RunManifest } from './manifest.js';
import { checkOutputChoice, resolveOutput } from './modelOutputs.js';
import { checkPictureSize, isImageShape, outputStems, stemFunction, writeFinalOutputs, writeItemOutputs, type DrawOptions, type SummaryRow } from './outputs.js';
import { isVolumeShape } from './volumes.js';
import { Progress, type ProgressMode, type ProgressSink } from './progress.js';
import { shardItemCount, type Shard } from './shard.js';

/** Everything a batch run needs (the CLI's flags, resolved). */
export interface RunOptions {
  /** 'explain' writes per-item files; 'aggregate' writes the per-class aggregate. */
  readonly command: 'explain' | 'aggregate';
  /** Model folder or model.json. */
  readonly model: string;
  /** Files, folders, globs. */
  readonly inputs: readonly string[];
  readonly out: string;
  readonly classSpec: ClassSpec;
  /** Rule, composite and their parameters. */
  readonly explain: PortableOptions;
  readonly batchSize: number;
  /** Worker threads (default: the number of cores on a single-threaded backend, else 1). */
  readonly workers?: number;
  readonly backend: BackendChoice;
  readonly shard: Shard | null;
  readonly heatmaps: boolean;
  readonly overlays: boolean;
  readonly saveRelevance: boolean;
  readonly aggregate: boolean;
  /** How image files are read (`invert`: 1 − pixel before scaling, see readImages()). */
  readonly image: { readonly scale: PixelScaling; readonly fit: 'fill' | 'cover' | 'contain'; readonly kernel: 'nearest' | 'linear' | 'cubic' | 'lanczos3'; readonly invert?: boolean };
  /** Class names (index = class), shown in summary.json/.csv and aggregate/classes.json. */
  readonly classNames?: readonly string[];
  readonly draw: DrawOptions;
  readonly progress: ProgressMode;
  /** Start over in an output folder that holds another (or the same) run. */
  readonly overwrite: boolean;
  /** Seconds between aggregate checkpoints (default 5). */
  readonly checkpointSeconds?: number;
  /** Status lines (backend, result). */
  readonly log: (line: string) => void;
  /** Where progress goes. */
  readonly progressSink: ProgressSink;
}

/** What a run did. */
export interface RunResult {
  /** 0: every item explained; 1: some items failed (see errors.jsonl). */
  readonly exitCode: 0 | 1;
  /** Items explained and failed, over the whole run (including earlier sessions of a resumed run). */
  readonly explained: number;
  readonly failed: number;
  /** Items explained in this session. */
  readonly explainedNow: number;
  readonly resumed: boolean;
  readonly backend: string;
  readonly workers: number;
  readonly seconds: number;
}

const VERSION = 1;

/** What {@link prepareRun} learns from the model and the inputs. */
interface PreparedRun {
  readonly files: InputFile[];
  readonly itemShape: number[];
  /** Elements per item. */
  readonly size: number;
  readonly total: number;
  /** Items per input file (in the order of `files`). */
  readonly counts: number[];
  readonly shardTotal: number;
  readonly classOf: ClassLookup | undefined;
  readonly loadImage: ((file: string) => Promise<Float32Array>) | undefined;
}

/** The opened output folder: run state, what is done, and the aggregator. */
interface OpenedRun {
  readonly state: RunState;
  readonly resumed: boolean;
  /** Batches committed in an earlier session (and, once committed, in this one). */
  readonly done: Set<number>;
  /** Done batches to explain again only to rebuild the aggregate since its last checkpoint. */
  readonly replay: Set<number>;
  readonly aggregator: RelevanceAggregator | null;
  /** The batches the aggregator holds. */
  readonly aggregated: Set<number>;
  /** Items done in earlier sessions. */
  readonly doneItems: number;
}

/** How the batches are spread over threads. */
interface WorkerPlan {
  readonly workers: number;
  readonly workerThreads: boolean;
}

/** The input files, without those inside the output folder. */
function resolveRunInputs(o: RunOptions): InputFile[] {
  // outputs written into an input folder are not inputs (a rerun would see a different input)
  const outDir = path.resolve(o.out) + path.sep;
  const files = resolveInputs(o.inputs, process.cwd(), { onNote: o.log }).filter((f) => !path.resolve(f.file).startsWith(outDir));
  if (files.length === 0) throw new LrpArgumentError('--input', `every input file lies inside the output folder ${o.out}; choose an --out outside the inputs.`);
  if (!fs.existsSync(o.model)) throw new LrpArgumentError('--model', `'${o.model}' does not exist; pass the model's folder (with model.json) or its model.json.`);
  return files;
}

/**
 * Checks the options against the model (output, rules, classes, class names, image scaling) and
 * learns the item shape, the item count and how items are read.
 */
async function prepareRun(o: RunOptions, model: LoadedModel, files: InputFile[]): Promise<PreparedRun> {
  checkOutputChoice(model, outputIndexOf(model, o.explain.output));
  // validate the options and learn the shapes (plan only: cheap)
  const probe = createExplainer(model, o.explain);
  const inputs = probe.plan.graph.inputs;
  const classes = probe.plan.outputSize;
  probe.dispose();
  if (inputs.length !== 1) throw new LrpArgumentError('--model', `has ${inputs.length} inputs; the CLI explains single-input models.`);
  const raw = inputs[0].shape.slice(1);
  if (raw.some((d) => d === null)) throw new LrpArgumentError('--model', `has an input shape with unknown dimensions [${raw.map((d) => d ?? '?').join(', ')}]; the CLI needs a fixed input size.`);
  const itemShape = raw as number[];
  // before anything is read or written: pictures of this size must be drawable
  if (o.heatmaps || o.overlays || o.aggregate) checkPictureSize(itemShape, o.draw.upscale);
  const size = itemShape.reduce((a, b) => a * b, 1);
  if (o.classSpec.kind === 'index' && o.classSpec.value >= classes) {
    throw new LrpArgumentError('--class', `class ${o.classSpec.value} is out of range: the model has ${classes} outputs (0..${classes - 1}).`);
  }
  if (o.classNames !== undefined) {
    if (o.classNames.length > classes) {
      throw new LrpArgumentError('--labels', `names ${o.classNames.length} classes but the model's output has ${classes}; is it the class-names file of this model (one name per line, line 1 naming class 0)?`);
    }
    if (o.classNames.length < classes) o.log(`note: --labels names ${o.classNames.length} of the ${classes} classes; the others have no name`);
  }
  const hasImages = files.some((f) => fileKind(f.file) === 'image');
  // pictures are written with our own PNG encoder; reading image files needs sharp
  if (hasImages) {
    await loadSharp().catch((e: Error) => {
      throw new LrpArgumentError('--input', `holds image files, which are read with sharp: ${e.message} Or give the inputs as .npy or JSON lines.`);
    });
  }
  const classOf = classLookup(o.classSpec);
  const counts = await Promise.all(files.map((f) => countItems(f.file)));
  const total = counts.reduce((a, b) => a + b, 0);
  const shardTotal = shardItemCount(total, o.batchSize, o.shard);

  const imageShape = itemShape.length === 2 ? [...itemShape, 1] : itemShape;
  const canReadImages = imageShape.length === 3 && (imageShape[2] === 1 || imageShape[2] === 3);
  const scale = o.image.scale;
  if (hasImages && canReadImages && typeof scale === 'object') {
    for (const [name, v] of [['mean', scale.mean], ['std', scale.std]] as const) {
      const n = typeof v === 'number' ? 1 : v.length;
      if (n !== 1 && n !== imageShape[2]) throw new LrpArgumentError(`--${name}`, `has ${n} values but the model reads images with ${imageShape[2]} channel${imageShape[2] === 1 ? '' : 's'}; give 1 value or ${imageShape[2]}.`);
    }
  }
  if (!hasImages) {
    const imageOnly = [o.image.invert === true ? '--invert' : '', scale !== '0..1' ? '--scale/--mean/--std' : ''].filter((x) => x !== '');
    if (imageOnly.length > 0) o.log(`note: ${imageOnly.join(' and ')} apply to image files only; the array inputs are used as they are`);
  }
  const loadImage = canReadImages
    ? async (file: string) => {
        const t = await readImage(file, { height: imageShape[0], width: imageShape[1], channels: imageShape[2] as 1 | 3, scale, fit: o.image.fit, kernel: o.image.kernel, invert: o.image.invert });
        try {
          return Float32Array.from(await t.data());
        } finally {
          t.dispose();
        }
      }
    : undefined;
  return { files, itemShape, size, total, counts, shardTotal, classOf, loadImage };
}

/**
 * Opens the output folder: the run's settings and fingerprint, a resumed run's done batches and
 * aggregate checkpoint (or a fresh aggregator keyed by the run's settings), refusing a folder that
 * holds a different run.
 */
function openOutputs(o: RunOptions, p: PreparedRun, backend: BackendInfo): OpenedRun {
  // what determines the outputs
  const labels = o.classSpec.kind === 'labels' ? hashJson(fs.readFileSync(o.classSpec.file, 'utf8')) : null;
  const settings = {
    version: VERSION,
    command: o.command,
    model: hashModelFiles(o.model),
    inputs: hashJson(p.files.map((f) => [f.id, fs.statSync(f.file).size])),
    total: p.total,
    class: o.classSpec.kind === 'labels' ? { labels } : o.classSpec,
    explain: o.explain,
    batchSize: o.batchSize,
    backend: backend.name,
    outputs: { heatmaps: o.heatmaps, overlays: o.overlays, relevance: o.saveRelevance, aggregate: o.aggregate },
    image: o.image,
    draw: o.draw,
    classNames: o.classNames,
  };
  const settingsKey = hashJson(settings);
  const mergeKey = hashJson({ settingsKey, shards: o.shard?.count ?? 1 });
  const manifest: RunManifest = {
    format: 'tfjs-lrp-run',
    version: 1,
    fingerprint: hashJson({ mergeKey, shard: o.shard }),
    mergeKey,
    command: o.command,
    shard: o.shard,
    batchSize: o.batchSize,
    total: p.total,
    shardTotal: p.shardTotal,
    itemShape: p.itemShape,
    aggregate: o.aggregate,
    draw: o.draw,
    ...(o.classNames !== undefined ? { classNames: o.classNames } : {}),
    settings: { model: path.resolve(o.model), inputs: o.inputs, class: o.classSpec, explain: o.explain, backend: backend.name },
    complete: false,
  };
  const differs = (old: RunManifest) => {
    const diffs: string[] = [];
    if (old.command !== manifest.command) diffs.push(`command ${old.command} vs ${manifest.command}`);
    if (old.batchSize !== manifest.batchSize) diffs.push(`--batch ${old.batchSize} vs ${manifest.batchSize}`);
    if (JSON.stringify(old.shard) !== JSON.stringify(manifest.shard)) diffs.push(`--shard ${old.shard === null ? 'none' : `${old.shard.index}/${old.shard.count}`} vs ${manifest.shard === null ? 'none' : `${manifest.shard.index}/${manifest.shard.count}`}`);
    if (old.total !== manifest.total) diffs.push(`${old.total} vs ${manifest.total} input items`);
    return diffs.length > 0 ? diffs.join(', ') : 'different model, inputs, options or backend';
  };
  const { state, resumed, records, checkpoint, damage } = RunState.open(o.out, manifest, o.overwrite, differs);
  const log = path.join(o.out, '.tfjs-lrp', 'done.jsonl');
  if (damage.corrupt.length > 0) {
    const shown = damage.corrupt.slice(0, 3).map((c) => `line ${c.line}: ${JSON.stringify(c.text.slice(0, 60))}`).join('; ');
    o.log(`warning: ${log}: skipped ${damage.corrupt.length} corrupt line${damage.corrupt.length === 1 ? '' : 's'} (${shown}${damage.corrupt.length > 3 ? '; …' : ''}); their batches are explained again`);
  }
  let done = new Set(records.map((r) => r.batch));
  // what the inputs hold now: a file whose contents changed is explained again
  const spans: InputSpan[] = [];
  let first = 0;
  p.files.forEach((f, i) => {
    spans.push({ id: f.id, file: f.file, first, items: p.counts[i] });
    first += p.counts[i];
  });
  const inShard = (b: number) => o.shard === null || b % o.shard.count === o.shard.index;
  const inputs = state.checkInputs(spans, done, inShard);
  if (inputs.redone.length > 0) {
    const names = inputs.changed.slice(0, 3).join(', ') + (inputs.changed.length > 3 ? `, … (${inputs.changed.length} files)` : '');
    o.log(`note: ${names} changed since the last session: ${inputs.redone.length} done batch${inputs.redone.length === 1 ? ' is' : 'es are'} explained again`);
    // the aggregate is written anew when the run finishes; a class the changed items no longer have must not stay
    fs.rmSync(path.join(o.out, 'aggregate'), { recursive: true, force: true });
  }
  const kept = records.filter((r) => done.has(r.batch));
  done = new Set(kept.map((r) => r.batch));
  const replay = new Set<number>();
  const aggregated = new Set<number>();
  const aggregator = o.aggregate ? restoreAggregator(checkpoint, kept, records, damage.corrupt.length > 0 || damage.duplicates > 0, replay, aggregated, p.itemShape, settingsKey) : null;
  const doneItems = kept.reduce((n, r) => n + r.rows.length + r.errors.length, 0);
  return { state, resumed, done, replay, aggregator, aggregated, doneItems };
}

/**
 * The aggregator at its last checkpoint (or empty when there is none, or it covers a batch that
 * is no longer done: a withdrawn or corrupt record); the done batches it does not cover go into
 * `replay`, the batches it covers into `aggregated`.
 *
 * @param kept the done records (after withdrawals)
 * @param read every record read from done.jsonl (for checkpoints of older versions, which count lines)
 */
function restoreAggregator(
  checkpoint: AggregateCheckpoint | null,
  kept: DoneRecord[],
  read: DoneRecord[],
  damaged: boolean,
  replay: Set<number>,
  aggregated: Set<number>,
  itemShape: number[],
  settingsKey: string,
): RelevanceAggregator {
  const done = new Set(kept.map((r) => r.batch));
  let covered: number[] | null = null;
  if (checkpoint !== null) {
    if (Array.isArray(checkpoint.batches)) covered = checkpoint.batches;
    else if (!damaged && kept.length === read.length) covered = read.slice(0, checkpoint.lines).map((r) => r.batch);
  }
  if (checkpoint !== null && covered !== null && covered.every((b) => done.has(b))) {
    for (const b of covered) aggregated.add(b);
    for (const r of kept) if (!aggregated.has(r.batch)) replay.add(r.batch);
    return RelevanceAggregator.fromJSON(checkpoint.state);
  }
  for (const r of kept) replay.add(r.batch);
  return new RelevanceAggregator(itemShape, settingsKey);
}

/** How many workers, and whether they are threads; logs the backend and the resume state. */
function planWorkers(o: RunOptions, p: PreparedRun, opened: OpenedRun, backend: BackendInfo): WorkerPlan {
  const isExplain = o.command === 'explain';
  // Per-item pictures are drawn and written in this thread. On a single-threaded backend the
  // batches are then explained in worker threads (even one), so drawing overlaps explaining,
  // and by default one core is left to this thread: cores − 1 workers.
  const drawsPerItem = isExplain && (o.heatmaps || o.overlays) && isImageShape(p.itemShape);
  const workerThreads = !backend.multiThreaded && drawsPerItem;
  const cores = os.cpus().length;
  // one WebGPU device serves every batch (and each thread would need its own): one worker
  if (backend.name === 'webgpu' && (o.workers ?? 1) > 1) o.log(`note: --workers ${o.workers} ignored: webgpu runs in one thread (the GPU is parallel by itself)`);
  const workers = backend.name === 'webgpu' ? 1 : o.workers ?? (backend.multiThreaded ? 1 : drawsPerItem ? Math.max(1, cores - 1) : cores);
  o.log(`backend: ${backend.name}${backend.adapter !== undefined ? ` (${backend.adapter})` : ''}${backend.multiThreaded ? '' : ' (single-threaded)'}, ${workers} worker${workers === 1 ? '' : 's'}${backend.skipped.length > 0 ? ` [skipped ${backend.skipped.map((s) => s.split(':')[0]).join(', ')}]` : ''}`);
  if (opened.resumed) o.log(`resuming: ${opened.doneItems} of ${p.shardTotal} items already done in ${o.out}`);
  if (isVolumeShape(p.itemShape) && o.heatmaps) o.log(`note: the model input [${p.itemShape.join(', ')}] is a volume; heatmaps are grids of its ${p.itemShape[0]} depth slices`);
  else if (!isImageShape(p.itemShape) && (o.heatmaps || o.overlays)) o.log(`note: the model input [${p.itemShape.join(', ')}] is not an image; no heatmap pictures are drawn`);
  return { workers, workerThreads };
}

/**
 * Explains every batch of this shard not done yet: writes its per-item files, adds it to the
 * aggregate, commits it to the done-log, reports progress, checkpoints the aggregate.
 * @returns the items explained in this session
 */
async function explainBatches(o: RunOptions, model: LoadedModel, p: PreparedRun, opened: OpenedRun, plan: WorkerPlan, backend: BackendInfo, lock: OutputLock): Promise<number> {
  const { state, done, replay, aggregator, aggregated } = opened;
  const isExplain = o.command === 'explain';
  const stems = stemFunction(outputStems(p.files));
  const progress = new Progress(o.progressSink, o.progress, p.shardTotal, opened.doneItems);
  const every = (o.checkpointSeconds ?? 5) * 1000;
  let lastCheckpoint = Date.now();
  let explainedNow = 0;
  const refs = refsFromFiles(p.files, { size: p.size, loadImage: p.loadImage, classOf: p.classOf });
  const iterator = explainRefs(model, refs, {
    ...o.explain,
    batchSize: o.batchSize,
    classIdx: o.classSpec.kind === 'index' ? o.classSpec.value : 'max',
    workers: plan.workers,
    workerThreads: plan.workerThreads,
    backend: backend.name,
    shard: o.shard ?? undefined,
    skip: (b) => done.has(b) && !replay.has(b),
    keepInputs: isExplain && o.overlays,
  });
  for await (const batch of iterator) {
    if (replay.has(batch.batchIndex)) {
      aggregator?.addBatch(batch);
      aggregated.add(batch.batchIndex);
      replay.delete(batch.batchIndex);
      continue;
    }
    // someone removed the lock and started another run here: stop before writing anything
    lock.verify();
    const rows = await writeItemOutputs(batch, { out: o.out, heatmaps: isExplain && o.heatmaps, overlays: isExplain && o.overlays, saveRelevance: o.saveRelevance, draw: o.draw, scale: o.image.scale, invert: o.image.invert, stemOf: stems });
    aggregator?.addBatch(batch);
    aggregated.add(batch.batchIndex);
    state.commit({ batch: batch.batchIndex, rows, errors: batch.errors });
    done.add(batch.batchIndex);
    explainedNow += rows.length;
    progress.update(rows.length, batch.errors.length);
    if (aggregator !== null && replay.size === 0 && Date.now() - lastCheckpoint >= every) {
      state.checkpoint(aggregator.toJSON(), aggregated);
      lastCheckpoint = Date.now();
    }
  }
  progress.finish();
  if (aggregator !== null) state.checkpoint(aggregator.toJSON(), aggregated);
  return explainedNow;
}

/** Writes summary, errors, aggregate and run.json; marks the run complete. */
async function finishRun(o: RunOptions, opened: OpenedRun, backend: BackendInfo, plan: WorkerPlan, explainedNow: number, t0: number, committed: ReadonlySet<number>): Promise<RunResult> {
  const all: DoneRecord[] = opened.state.records();
  const rows: SummaryRow[] = all.flatMap((r) => r.rows);
  const errors: ItemFailure[] = all.flatMap((r) => r.errors);
  // never a short or doubled summary: every batch done or committed now is read back, each item once
  const seen = new Set<number>();
  for (const x of rows) seen.add(x.index);
  for (const x of errors) seen.add(x.index);
  const readBack = new Set(all.map((r) => r.batch));
  const missing = [...committed].filter((b) => !readBack.has(b));
  if (missing.length > 0 || seen.size !== rows.length + errors.length) {
    throw new LrpError(
      `${path.join(o.out, '.tfjs-lrp', 'done.jsonl')} was changed while the run went on (${missing.length > 0 ? `batches ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''} are missing` : 'items are listed twice'}). Rerun the command: it explains what is missing.`,
    );
  }
  await writeFinalOutputs(rows, errors, opened.aggregator, { out: o.out, draw: o.draw, classNames: o.classNames });
  opened.state.complete();
  const seconds = (Date.now() - t0) / 1000;
  const { workers } = plan;
  const resumed = opened.resumed;
  writeFileAtomicSync(
    path.join(o.out, 'run.json'),
    JSON.stringify({ backend: backend.name, workers, shard: o.shard, resumed, explained: rows.length, failed: errors.length, explainedThisSession: explainedNow, seconds, itemsPerSecond: explainedNow / seconds, tfjs: tf.version.tfjs, node: process.version, finished: new Date().toISOString() }, null, 1) + '\n',
  );
  return { exitCode: errors.length > 0 ? 1 : 0, explained: rows.length, failed: errors.length, explainedNow, resumed, backend: backend.name, workers, seconds };
}

/**
 * Runs `tfjs-lrp explain` / `aggregate`: resolve the inputs, pick the backend, load the model,
 * then {@link prepareRun}, {@link openOutputs}, {@link planWorkers}, {@link explainBatches} and
 * {@link finishRun}. The model is disposed and the backend released whatever happens.
 * @throws {LrpArgumentError} for usage problems (exit status 2 in the CLI), named by flag: e.g.
 *   `--output` for a multi-output model without a chosen output, `--class`, `--labels`, `--input`
 * @throws {LrpLockError} (`--out`, exit status 2 in the CLI) when another run is writing into
 *   the same output folder: the error names its pid and host (a killed run's lock is taken over)
 * @throws {LrpWriteError} when an output cannot be written (e.g. `ENOSPC`), naming the file; the
 *   files already written stay valid and a rerun resumes
 */
export async function runBatch(o: RunOptions): Promise<RunResult> {
  const t0 = Date.now();
  const files = resolveRunInputs(o);
  const backend = await selectBackend(o.backend);
  let model: LoadedModel | null = null;
  let lock: OutputLock | null = null;
  try {
    // a layers model or a graph model, whichever the model.json holds
    model = await loadModel(o.model, { format: 'auto' });
    // --output may name an output (a graph model's output node, a layers model's output layer)
    const output = resolveOutput(model, o.explain.output as number | string | undefined);
    if (output !== o.explain.output) o = { ...o, explain: { ...o.explain, output } };
    const prepared = await prepareRun(o, model, files);
    // one run per output folder (refused with the other run's pid and host; a killed run's lock is taken over)
    lock = OutputLock.acquire(o.out, `tfjs-lrp ${o.command}${o.shard !== null ? ` --shard ${o.shard.index}/${o.shard.count}` : ''}`);
    if (lock.tookOver !== null) o.log(`note: took over the lock of a stopped run (pid ${lock.tookOver.pid}, started ${lock.tookOver.started || 'unknown'})`);
    const opened = openOutputs(o, prepared, backend);
    const plan = planWorkers(o, prepared, opened, backend);
    const explainedNow = await explainBatches(o, model, prepared, opened, plan, backend, lock);
    lock.verify();
    return await finishRun(o, opened, backend, plan, explainedNow, t0, opened.done);
  } finally {
    lock?.release();
    model?.dispose();
    releaseBackend(backend.name); // webgpu: Node does not exit while the device lives
  }
}
