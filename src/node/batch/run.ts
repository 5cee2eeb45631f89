/**
 * A batch run over files (what `tfjs-lrp explain` and `tfjs-lrp aggregate` do): resolve the
 * inputs, pick the backend, load the model, explain every item of this shard with bounded
 * prefetch and worker threads, write per-item files, summary, errors and aggregates atomically,
 * and commit each batch to a done-log so that a killed run continues where it stopped.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { createExplainer } from '../../explain.js';
import { LrpArgumentError } from '../../errors.js';
import { loadSharp, readImage, type PixelScaling } from '../image.js';
import { loadModel } from '../loadModel.js';
import { RelevanceAggregator } from './aggregator.js';
import { writeFileAtomicSync } from './atomic.js';
import { releaseBackend, selectBackend, type BackendChoice } from './backend.js';
import type { PortableOptions } from './compute.js';
import { explainRefs, type ItemFailure } from './explainDataset.js';
import { resolveInputs } from './glob.js';
import { countItems, fileKind, refsFromFiles } from './items.js';
import { classLookup, type ClassSpec } from './labels.js';
import { hashJson, hashModelFiles, RunState, type DoneRecord, type RunManifest } from './manifest.js';
import { isImageShape, outputStems, stemFunction, writeFinalOutputs, writeItemOutputs, type DrawOptions, type SummaryRow } from './outputs.js';
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
  /** How image files are read. */
  readonly image: { readonly scale: PixelScaling; readonly fit: 'fill' | 'cover' | 'contain'; readonly kernel: 'nearest' | 'linear' | 'cubic' | 'lanczos3' };
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

/** Runs `tfjs-lrp explain` / `aggregate`. Usage problems throw LrpArgumentError (exit 2). */
export async function runBatch(o: RunOptions): Promise<RunResult> {
  const t0 = Date.now();
  // outputs written into an input folder are not inputs (a rerun would see a different input)
  const outDir = path.resolve(o.out) + path.sep;
  const files = resolveInputs(o.inputs).filter((f) => !path.resolve(f.file).startsWith(outDir));
  if (files.length === 0) throw new LrpArgumentError('--input', `every input file lies inside the output folder ${o.out}; choose an --out outside the inputs.`);
  if (!fs.existsSync(o.model)) throw new LrpArgumentError('--model', `'${o.model}' does not exist; pass the model's folder (with model.json) or its model.json.`);
  const backend = await selectBackend(o.backend);
  let model: tf.LayersModel | null = null;
  try {
    model = await loadModel(o.model);
    // validate the options and learn the shapes (plan only: cheap)
    const probe = createExplainer(model, o.explain);
    const inputs = probe.plan.graph.inputs;
    const classes = probe.plan.outputSize;
    probe.dispose();
    if (inputs.length !== 1) throw new LrpArgumentError('--model', `has ${inputs.length} inputs; the CLI explains single-input models.`);
    const raw = inputs[0].shape.slice(1);
    if (raw.some((d) => d === null)) throw new LrpArgumentError('--model', `has an input shape with unknown dimensions [${raw.map((d) => d ?? '?').join(', ')}]; the CLI needs a fixed input size.`);
    const itemShape = raw as number[];
    const size = itemShape.reduce((a, b) => a * b, 1);
    if (o.classSpec.kind === 'index' && o.classSpec.value >= classes) {
      throw new LrpArgumentError('--class', `class ${o.classSpec.value} is out of range: the model has ${classes} outputs (0..${classes - 1}).`);
    }
    // pictures are written with our own PNG encoder; reading image files needs sharp
    if (files.some((f) => fileKind(f.file) === 'image')) {
      await loadSharp().catch((e: Error) => {
        throw new LrpArgumentError('--input', `holds image files, which are read with sharp: ${e.message} Or give the inputs as .npy or JSON lines.`);
      });
    }
    const classOf = classLookup(o.classSpec);
    const total = (await Promise.all(files.map((f) => countItems(f.file)))).reduce((a, b) => a + b, 0);
    const shardTotal = shardItemCount(total, o.batchSize, o.shard);

    const imageShape = itemShape.length === 2 ? [...itemShape, 1] : itemShape;
    const canReadImages = imageShape.length === 3 && (imageShape[2] === 1 || imageShape[2] === 3);
    const loadImage = canReadImages
      ? async (file: string) => {
          const t = await readImage(file, { height: imageShape[0], width: imageShape[1], channels: imageShape[2] as 1 | 3, scale: o.image.scale, fit: o.image.fit, kernel: o.image.kernel });
          try {
            return Float32Array.from(await t.data());
          } finally {
            t.dispose();
          }
        }
      : undefined;

    // what determines the outputs
    const labels = o.classSpec.kind === 'labels' ? hashJson(fs.readFileSync(o.classSpec.file, 'utf8')) : null;
    const settings = {
      version: VERSION,
      command: o.command,
      model: hashModelFiles(o.model),
      inputs: hashJson(files.map((f) => [f.id, fs.statSync(f.file).size])),
      total,
      class: o.classSpec.kind === 'labels' ? { labels } : o.classSpec,
      explain: o.explain,
      batchSize: o.batchSize,
      backend: backend.name,
      outputs: { heatmaps: o.heatmaps, overlays: o.overlays, relevance: o.saveRelevance, aggregate: o.aggregate },
      image: o.image,
      draw: o.draw,
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
      total,
      shardTotal,
      itemShape,
      aggregate: o.aggregate,
      draw: o.draw,
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
    const { state, resumed, records, checkpoint } = RunState.open(o.out, manifest, o.overwrite, differs);

    const done = new Set(records.map((r) => r.batch));
    let aggregator: RelevanceAggregator | null = null;
    const replay = new Set<number>();
    if (o.aggregate) {
      if (checkpoint !== null) {
        aggregator = RelevanceAggregator.fromJSON(checkpoint.state);
        for (const r of records.slice(checkpoint.lines)) replay.add(r.batch);
      } else {
        aggregator = new RelevanceAggregator(itemShape, settingsKey);
        for (const r of records) replay.add(r.batch);
      }
    }
    const doneItems = records.reduce((n, r) => n + r.rows.length + r.errors.length, 0);
    const isExplain = o.command === 'explain';
    // Per-item pictures are drawn and written in this thread. On a single-threaded backend the
    // batches are then explained in worker threads (even one), so drawing overlaps explaining,
    // and by default one core is left to this thread: cores − 1 workers.
    const drawsPerItem = isExplain && (o.heatmaps || o.overlays) && isImageShape(itemShape);
    const workerThreads = !backend.multiThreaded && drawsPerItem;
    const cores = os.cpus().length;
    // one WebGPU device serves every batch (and each thread would need its own): one worker
    if (backend.name === 'webgpu' && (o.workers ?? 1) > 1) o.log(`note: --workers ${o.workers} ignored: webgpu runs in one thread (the GPU is parallel by itself)`);
    const workers = backend.name === 'webgpu' ? 1 : o.workers ?? (backend.multiThreaded ? 1 : drawsPerItem ? Math.max(1, cores - 1) : cores);
    o.log(`backend: ${backend.name}${backend.adapter !== undefined ? ` (${backend.adapter})` : ''}${backend.multiThreaded ? '' : ' (single-threaded)'}, ${workers} worker${workers === 1 ? '' : 's'}${backend.skipped.length > 0 ? ` [skipped ${backend.skipped.map((s) => s.split(':')[0]).join(', ')}]` : ''}`);
    if (resumed) o.log(`resuming: ${doneItems} of ${shardTotal} items already done in ${o.out}`);
    if (!isImageShape(itemShape) && (o.heatmaps || o.overlays)) o.log(`note: the model input [${itemShape.join(', ')}] is not an image; no heatmap pictures are drawn`);

    const stems = stemFunction(outputStems(files));
    const progress = new Progress(o.progressSink, o.progress, shardTotal, doneItems);
    const every = (o.checkpointSeconds ?? 5) * 1000;
    let lastCheckpoint = Date.now();
    let explainedNow = 0;
    const refs = refsFromFiles(files, { size, loadImage, classOf });
    const iterator = explainRefs(model, refs, {
      ...o.explain,
      batchSize: o.batchSize,
      classIdx: o.classSpec.kind === 'index' ? o.classSpec.value : 'max',
      workers,
      workerThreads,
      backend: backend.name,
      shard: o.shard ?? undefined,
      skip: (b) => done.has(b) && !replay.has(b),
      keepInputs: isExplain && o.overlays,
    });
    for await (const batch of iterator) {
      if (replay.has(batch.batchIndex)) {
        aggregator?.addBatch(batch);
        replay.delete(batch.batchIndex);
        continue;
      }
      const rows = await writeItemOutputs(batch, { out: o.out, heatmaps: isExplain && o.heatmaps, overlays: isExplain && o.overlays, saveRelevance: o.saveRelevance, draw: o.draw, scale: o.image.scale, stemOf: stems });
      aggregator?.addBatch(batch);
      state.commit({ batch: batch.batchIndex, rows, errors: batch.errors });
      explainedNow += rows.length;
      progress.update(rows.length, batch.errors.length);
      if (aggregator !== null && replay.size === 0 && Date.now() - lastCheckpoint >= every) {
        state.checkpoint(aggregator.toJSON());
        lastCheckpoint = Date.now();
      }
    }
    progress.finish();
    if (aggregator !== null) state.checkpoint(aggregator.toJSON());

    const all: DoneRecord[] = state.records();
    const rows: SummaryRow[] = all.flatMap((r) => r.rows);
    const errors: ItemFailure[] = all.flatMap((r) => r.errors);
    await writeFinalOutputs(rows, errors, aggregator, { out: o.out, draw: o.draw });
    state.complete();
    const seconds = (Date.now() - t0) / 1000;
    writeFileAtomicSync(
      path.join(o.out, 'run.json'),
      JSON.stringify({ backend: backend.name, workers, shard: o.shard, resumed, explained: rows.length, failed: errors.length, explainedThisSession: explainedNow, seconds, itemsPerSecond: explainedNow / seconds, tfjs: tf.version.tfjs, node: process.version, finished: new Date().toISOString() }, null, 1) + '\n',
    );
    return { exitCode: errors.length > 0 ? 1 : 0, explained: rows.length, failed: errors.length, explainedNow, resumed, backend: backend.name, workers, seconds };
  } finally {
    model?.dispose();
    releaseBackend(backend.name); // webgpu: Node does not exit while the device lives
  }
}
