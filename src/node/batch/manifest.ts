/**
 * Resumable runs. The output folder keeps, under `.tfjs-lrp/`:
 *
 * - `manifest.json`: the run's fingerprint (model content, inputs, options, batch size, shard,
 *   backend) — a rerun with the same command continues; a different command is refused;
 * - `done.jsonl`: one line per finished batch (its summary rows and failed items), appended and
 *   fsync'ed only after the batch's files were written (atomically): the commit point. A line
 *   `{"batch": b, "redo": true}` withdraws batch b (its input changed): it is explained again;
 * - `inputs.json`: per input file, its size, modification and change times, inode and the
 *   sha-256 of its contents, as of the start of the latest session;
 * - `aggregate-checkpoint.json`: the aggregator's exact state and the batches it covers,
 *   rewritten atomically every few seconds. Done batches it does not cover are explained again
 *   on resume for the aggregate only (deterministic, so the result is the same);
 * - `lock`: the lock of the run going on (see lock.ts).
 *
 * A batch killed half-way is simply redone: its files are rewritten with the same bytes.
 *
 * What resume trusts:
 *
 * - The model: trusted only by content (sha-256 of model.json and every weight file, every time).
 * - The command: options, batch size, shard, backend, labels file (by content), the list of input
 *   files (their ids and sizes) and the item count must be equal, else the folder is refused
 *   (`--overwrite` starts over).
 * - Input contents: each input file with items in this shard is hashed (sha-256 of its bytes)
 *   when a run starts; on resume a file whose size, modification time, change time and inode are
 *   all unchanged is trusted to be unchanged (its content cannot change without changing its
 *   change time, which no user-level tool can set back), any other file is hashed again and, if
 *   its contents changed, every done batch with items from it is withdrawn and explained again.
 *   Runs started before inputs.json existed are trusted as they are.
 * - `done.jsonl`: a torn last line (a run killed mid-append) is dropped; a corrupt line elsewhere
 *   is skipped with a warning and its batch explained again; each batch counts once (its latest
 *   record), and a record whose items do not belong to its batch is treated as corrupt.
 * - The output files of committed batches are trusted as written (atomically, before the commit);
 *   they are not re-read.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { LrpArgumentError } from '../../errors.js';
import type { AggregatorJSON } from './aggregator.js';
import { appendLineSync, readLogDetailed, removeStaleTemps, writeFileAtomicSync } from './atomic.js';
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

/** A line of done.jsonl that withdraws an earlier record of `batch` (its input changed). */
export interface RedoRecord {
  readonly batch: number;
  readonly redo: true;
  /** Why, for people. */
  readonly reason: string;
}

/** aggregate-checkpoint.json. */
export interface AggregateCheckpoint {
  /** Lines of done.jsonl when it was written (older runs: it covers the first `lines` records). */
  readonly lines: number;
  /** The batches the aggregate covers. */
  readonly batches?: number[];
  readonly state: AggregatorJSON;
}

/** What was wrong with done.jsonl when it was read (repaired: see {@link readDoneLog}). */
export interface LogDamage {
  /** Complete lines that were not valid records (skipped; their batches are explained again). */
  readonly corrupt: ReadonlyArray<{ readonly line: number; readonly text: string }>;
  /** Bytes of a torn last line (dropped: a run killed mid-append). */
  readonly tornBytes: number;
  /** Records of a batch that was recorded again later (the latest counts). */
  readonly duplicates: number;
}

/** The state of one input file (inputs.json). */
export interface InputFileState {
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly ino: number;
  /** sha-256 (hex) of the file's bytes. */
  readonly sha256: string;
}

/** An input file of a run with the items it holds: global indices `first` … `first + items − 1`. */
export interface InputSpan {
  readonly id: string;
  readonly file: string;
  readonly first: number;
  readonly items: number;
}

/** sha-256 (hex) of a file's contents, read in 1 MiB chunks (bounded memory). */
export function hashFileSync(file: string): string {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/** Whether a line of done.jsonl is a well-formed record of a batch of `batchSize` items (0: any). */
export function isLogRecord(v: unknown, batchSize = 0): v is DoneRecord | RedoRecord {
  if (v === null || typeof v !== 'object') return false;
  const r = v as { batch?: unknown; rows?: unknown; errors?: unknown; redo?: unknown };
  if (typeof r.batch !== 'number' || !Number.isInteger(r.batch) || r.batch < 0) return false;
  if (r.redo === true) return true;
  if (!Array.isArray(r.rows) || !Array.isArray(r.errors)) return false;
  const b = r.batch;
  const inBatch = (x: unknown) => x !== null && typeof x === 'object' && Number.isInteger((x as { index?: unknown }).index) && (batchSize <= 0 || Math.floor((x as { index: number }).index / batchSize) === b);
  return r.rows.every(inBatch) && r.errors.every(inBatch);
}

/**
 * Reads done.jsonl: the latest record of every batch (a redo line withdraws the batch), in file
 * order, skipping corrupt lines and dropping a torn last line (cut off the file with `repair`).
 */
export function readDoneLog(file: string, batchSize: number, repair: boolean): { records: DoneRecord[]; damage: LogDamage } {
  const log = readLogDetailed<DoneRecord | RedoRecord>(file, repair, (v) => isLogRecord(v, batchSize));
  const latest = new Map<number, DoneRecord>();
  let duplicates = 0;
  for (const r of log.records) {
    if ('redo' in r) {
      latest.delete(r.batch);
      continue;
    }
    if (latest.has(r.batch)) {
      duplicates += 1;
      latest.delete(r.batch); // keep file order of the latest
    }
    latest.set(r.batch, r);
  }
  return { records: [...latest.values()], damage: { corrupt: log.corrupt, tornBytes: log.tornBytes, duplicates } };
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
    return { dir, manifest: path.join(dir, 'manifest.json'), done: path.join(dir, 'done.jsonl'), checkpoint: path.join(dir, 'aggregate-checkpoint.json'), inputs: path.join(dir, 'inputs.json') };
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
   * Opens the output folder for a run: a new run, or the continuation of the same run. The caller
   * holds the folder's lock (see lock.ts), which is kept when the folder is cleared.
   *
   * @throws {LrpArgumentError} (`--out`) when the folder holds a different run and `overwrite` is off
   */
  static open(
    out: string,
    manifest: RunManifest,
    overwrite: boolean,
    describeDifference: (old: RunManifest) => string,
  ): { state: RunState; resumed: boolean; records: DoneRecord[]; checkpoint: AggregateCheckpoint | null; damage: LogDamage } {
    if (fs.existsSync(out) && !fs.statSync(out).isDirectory()) throw new LrpArgumentError('--out', `${out} is a file; pass a folder.`);
    const p = RunState.paths(out);
    const old = RunState.readManifest(out);
    if (old !== null && old.fingerprint !== manifest.fingerprint) {
      if (!overwrite) {
        throw new LrpArgumentError('--out', `${out} holds a different run (${describeDifference(old)}). Pass --overwrite to start over there, or choose another --out.`);
      }
    }
    if (old !== null && (old.fingerprint !== manifest.fingerprint || overwrite)) {
      // the state folder without the lock (held by this run), then the outputs
      if (fs.existsSync(p.dir)) for (const e of fs.readdirSync(p.dir)) if (e !== 'lock') fs.rmSync(path.join(p.dir, e), { recursive: true, force: true });
      for (const sub of ['heatmaps', 'overlays', 'relevance', 'aggregate']) fs.rmSync(path.join(out, sub), { recursive: true, force: true });
      for (const f of ['summary.json', 'summary.csv', 'errors.jsonl', 'run.json']) fs.rmSync(path.join(out, f), { force: true });
    }
    const resumed = old !== null && old.fingerprint === manifest.fingerprint && !overwrite;
    fs.mkdirSync(p.dir, { recursive: true });
    if (resumed) removeStaleTemps(out);
    const noDamage: LogDamage = { corrupt: [], tornBytes: 0, duplicates: 0 };
    const { records, damage } = resumed ? readDoneLog(p.done, manifest.batchSize, true) : { records: [] as DoneRecord[], damage: noDamage };
    if (!resumed) {
      fs.rmSync(p.done, { force: true });
      fs.rmSync(p.inputs, { force: true });
    }
    let checkpoint: AggregateCheckpoint | null = null;
    if (resumed && fs.existsSync(p.checkpoint)) {
      try {
        checkpoint = JSON.parse(fs.readFileSync(p.checkpoint, 'utf8')) as AggregateCheckpoint;
        if (!(checkpoint.lines <= records.length) && checkpoint.batches === undefined) checkpoint = null;
      } catch {
        checkpoint = null;
      }
    } else fs.rmSync(p.checkpoint, { force: true });
    writeFileAtomicSync(p.manifest, JSON.stringify({ ...manifest, complete: false }, null, 1) + '\n', true);
    return { state: new RunState(out, manifest, records.length), resumed, records, checkpoint, damage };
  }

  /**
   * Checks the input files against inputs.json (see the top of this file): hashes the files
   * holding items of batches `inShard` that are new or whose stats changed, withdraws (appends a
   * redo line for) every batch in `done` with items from a file whose contents changed, and
   * saves the new inputs.json.
   *
   * @param spans the input files with their item ranges
   * @param done the batches done so far (changed batches are deleted from it)
   * @param inShard whether batch b belongs to this run's shard
   * @returns the ids of the changed files and the withdrawn batches
   */
  checkInputs(spans: readonly InputSpan[], done: Set<number>, inShard: (batch: number) => boolean): { changed: string[]; redone: number[] } {
    const p = RunState.paths(this.out);
    let previous: Record<string, InputFileState> | null = null;
    if (fs.existsSync(p.inputs)) {
      try {
        previous = (JSON.parse(fs.readFileSync(p.inputs, 'utf8')) as { files: Record<string, InputFileState> }).files;
      } catch {
        previous = null; // damaged: every file is hashed again, and compared with nothing
      }
    }
    const B = this.manifest.batchSize;
    const files: Record<string, InputFileState> = {};
    const changed: string[] = [];
    const redone = new Set<number>();
    for (const s of spans) {
      if (s.items <= 0) continue;
      const firstBatch = Math.floor(s.first / B);
      const lastBatch = Math.floor((s.first + s.items - 1) / B);
      let used = false;
      for (let b = firstBatch; b <= lastBatch && !used; b++) used = inShard(b);
      if (!used) continue;
      let st: fs.Stats;
      try {
        st = fs.statSync(s.file);
      } catch {
        continue; // unreadable: its items fail with the reason
      }
      const before = previous?.[s.id];
      const same = before !== undefined && before.size === st.size && before.mtimeMs === st.mtimeMs && before.ctimeMs === st.ctimeMs && before.ino === st.ino;
      let sha256: string;
      if (same) sha256 = before.sha256;
      else {
        try {
          sha256 = hashFileSync(s.file);
        } catch {
          continue;
        }
      }
      files[s.id] = { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino, sha256 };
      // a file seen before with other contents (older runs without inputs.json: trusted)
      if (previous !== null && (before === undefined || before.sha256 !== sha256)) {
        changed.push(s.id);
        for (let b = firstBatch; b <= lastBatch; b++) if (done.has(b)) redone.add(b);
      }
    }
    for (const b of [...redone].sort((x, y) => x - y)) {
      const r: RedoRecord = { batch: b, redo: true, reason: `input changed: ${changed.join(', ')}`.slice(0, 500) };
      appendLineSync(p.done, JSON.stringify(r));
      done.delete(b);
    }
    writeFileAtomicSync(p.inputs, JSON.stringify({ format: 'tfjs-lrp-inputs', version: 1, files }) + '\n', true);
    return { changed, redone: [...redone].sort((x, y) => x - y) };
  }

  /** Commits a finished batch (fsync'ed append). */
  commit(record: DoneRecord): void {
    appendLineSync(RunState.paths(this.out).done, JSON.stringify(record));
    this.lines += 1;
  }

  /** Saves the aggregator state, which covers the done batches `batches`. */
  checkpoint(state: AggregatorJSON, batches: Iterable<number>): void {
    const c: AggregateCheckpoint = { lines: this.lines, batches: [...batches].sort((a, b) => a - b), state };
    writeFileAtomicSync(RunState.paths(this.out).checkpoint, JSON.stringify(c), true);
  }

  /** All committed records (the latest of each batch). */
  records(): DoneRecord[] {
    return readDoneLog(RunState.paths(this.out).done, this.manifest.batchSize, false).records;
  }

  /** Marks the run complete. */
  complete(): void {
    writeFileAtomicSync(RunState.paths(this.out).manifest, JSON.stringify({ ...this.manifest, complete: true }, null, 1) + '\n', true);
  }

  /** Reads the committed records of a finished or unfinished run folder (for merge). */
  static recordsOf(out: string): DoneRecord[] {
    const m = RunState.readManifest(out);
    return readDoneLog(RunState.paths(out).done, m?.batchSize ?? 0, false).records;
  }
}
