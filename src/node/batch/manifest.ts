/**
 * Resumable runs. The output folder keeps, under `.tfjs-lrp/`:
 *
 * - `manifest.json`: the run's fingerprint (model content, inputs, options, batch size, shard,
 *   backend) — a rerun with the same command continues; a different command is refused;
 * - `done.jsonl`: one line per finished batch (its summary rows and failed items), appended and
 *   fsync'ed only after the batch's files were written (atomically): the commit point;
 * - `aggregate-checkpoint.json`: the aggregator's exact state covering the first `lines` lines of
 *   done.jsonl, rewritten atomically every few seconds. Batches done after it are explained again
 *   on resume for the aggregate only (deterministic, so the result is the same).
 *
 * A batch killed half-way is simply redone: its files are rewritten with the same bytes.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { LrpArgumentError } from '../../errors.js';
import type { AggregatorJSON } from './aggregator.js';
import { appendLineSync, readLog, removeStaleTemps, writeFileAtomicSync } from './atomic.js';
import type { ItemFailure } from './explainDataset.js';
import type { DrawOptions, SummaryRow } from './outputs.js';
import type { Shard } from './shard.js';

/** The state folder inside an output folder. */
export const STATE_DIR = '.tfjs-lrp';

/** manifest.json. */
export interface RunManifest {
  readonly format: 'tfjs-lrp-run';
  readonly version: 1;
  /** Everything that determines the outputs, including the shard: equal means "resume". */
  readonly fingerprint: string;
  /** The fingerprint without the shard index: shards with equal keys merge. */
  readonly mergeKey: string;
  readonly command: string;
  readonly shard: Shard | null;
  readonly batchSize: number;
  /** Items in the whole input, and in this shard. */
  readonly total: number;
  readonly shardTotal: number;
  readonly itemShape: number[];
  readonly aggregate: boolean;
  readonly draw: DrawOptions;
  /** Class names from `--labels` (index = class), for the summary and aggregate tables. */
  readonly classNames?: readonly string[];
  /** The settings, for people (model, options, inputs). */
  readonly settings: Record<string, unknown>;
  /** Set when the run finished. */
  readonly complete: boolean;
}

/** One line of done.jsonl. */
export interface DoneRecord {
  readonly batch: number;
  readonly rows: SummaryRow[];
  readonly errors: ItemFailure[];
}

/** aggregate-checkpoint.json. */
export interface AggregateCheckpoint {
  /** The aggregate covers the first `lines` lines of done.jsonl. */
  readonly lines: number;
  readonly state: AggregatorJSON;
}

/** sha256 (hex) of a JSON-able value with sorted keys. */
export function hashJson(value: unknown): string {
  const canon = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canon);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon((v as Record<string, unknown>)[k])]));
    return v;
  };
  return createHash('sha256').update(JSON.stringify(canon(value))).digest('hex');
}

/** sha256 of a model's model.json and weight files (content, not paths). */
export function hashModelFiles(modelPath: string): string {
  const file = fs.statSync(modelPath).isDirectory() ? path.join(modelPath, 'model.json') : modelPath;
  const h = createHash('sha256');
  const text = fs.readFileSync(file);
  h.update(text);
  try {
    const json = JSON.parse(text.toString('utf8')) as { weightsManifest?: Array<{ paths?: string[] }> };
    for (const g of json.weightsManifest ?? []) for (const p of g.paths ?? []) h.update(fs.readFileSync(path.join(path.dirname(file), p)));
  } catch {
    // loadModel reports unreadable models with the details
  }
  return h.digest('hex');
}

/** The run state in an output folder. */
export class RunState {
  readonly out: string;
  readonly dir: string;
  readonly manifest: RunManifest;
  /** Lines of done.jsonl so far. */
  lines: number;

  private constructor(out: string, manifest: RunManifest, lines: number) {
    this.out = out;
    this.dir = path.join(out, STATE_DIR);
    this.manifest = manifest;
    this.lines = lines;
  }

  private static paths(out: string) {
    const dir = path.join(out, STATE_DIR);
    return { dir, manifest: path.join(dir, 'manifest.json'), done: path.join(dir, 'done.jsonl'), checkpoint: path.join(dir, 'aggregate-checkpoint.json') };
  }

  /** Reads a manifest, or null when the folder holds no run. */
  static readManifest(out: string): RunManifest | null {
    const p = RunState.paths(out).manifest;
    if (!fs.existsSync(p)) return null;
    try {
      return JSON.parse(fs.readFileSync(p, 'utf8')) as RunManifest;
    } catch (e) {
      throw new LrpArgumentError('--out', `${p} is unreadable (${(e as Error).message}); remove ${path.join(out, STATE_DIR)} or pass --overwrite.`);
    }
  }

  /**
   * Opens the output folder for a run: a new run, or the continuation of the same run.
   *
   * @throws {LrpArgumentError} (`--out`) when the folder holds a different run and `overwrite` is off
   */
  static open(out: string, manifest: RunManifest, overwrite: boolean, describeDifference: (old: RunManifest) => string): { state: RunState; resumed: boolean; records: DoneRecord[]; checkpoint: AggregateCheckpoint | null } {
    if (fs.existsSync(out) && !fs.statSync(out).isDirectory()) throw new LrpArgumentError('--out', `${out} is a file; pass a folder.`);
    const p = RunState.paths(out);
    const old = RunState.readManifest(out);
    if (old !== null && old.fingerprint !== manifest.fingerprint) {
      if (!overwrite) {
        throw new LrpArgumentError('--out', `${out} holds a different run (${describeDifference(old)}). Pass --overwrite to start over there, or choose another --out.`);
      }
    }
    if (old !== null && (old.fingerprint !== manifest.fingerprint || overwrite)) {
      for (const sub of [STATE_DIR, 'heatmaps', 'overlays', 'relevance', 'aggregate']) fs.rmSync(path.join(out, sub), { recursive: true, force: true });
      for (const f of ['summary.json', 'summary.csv', 'errors.jsonl', 'run.json']) fs.rmSync(path.join(out, f), { force: true });
    }
    const resumed = old !== null && old.fingerprint === manifest.fingerprint && !overwrite;
    fs.mkdirSync(p.dir, { recursive: true });
    if (resumed) removeStaleTemps(out);
    const records = resumed ? readLog<DoneRecord>(p.done) : [];
    if (!resumed) fs.rmSync(p.done, { force: true });
    let checkpoint: AggregateCheckpoint | null = null;
    if (resumed && fs.existsSync(p.checkpoint)) {
      try {
        checkpoint = JSON.parse(fs.readFileSync(p.checkpoint, 'utf8')) as AggregateCheckpoint;
        if (!(checkpoint.lines <= records.length)) checkpoint = null;
      } catch {
        checkpoint = null;
      }
    } else fs.rmSync(p.checkpoint, { force: true });
    writeFileAtomicSync(p.manifest, JSON.stringify({ ...manifest, complete: false }, null, 1) + '\n', true);
    return { state: new RunState(out, manifest, records.length), resumed, records, checkpoint };
  }

  /** Commits a finished batch (fsync'ed append). */
  commit(record: DoneRecord): void {
    appendLineSync(RunState.paths(this.out).done, JSON.stringify(record));
    this.lines += 1;
  }

  /** Saves the aggregator state covering every committed line. */
  checkpoint(state: AggregatorJSON): void {
    const c: AggregateCheckpoint = { lines: this.lines, state };
    writeFileAtomicSync(RunState.paths(this.out).checkpoint, JSON.stringify(c), true);
  }

  /** All committed records. */
  records(): DoneRecord[] {
    return readLog<DoneRecord>(RunState.paths(this.out).done, false);
  }

  /** Marks the run complete. */
  complete(): void {
    writeFileAtomicSync(RunState.paths(this.out).manifest, JSON.stringify({ ...this.manifest, complete: true }, null, 1) + '\n', true);
  }

  /** Reads the committed records of a finished or unfinished run folder (for merge). */
  static recordsOf(out: string): DoneRecord[] {
    return readLog<DoneRecord>(RunState.paths(out).done, false);
  }
}
