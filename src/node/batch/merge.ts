/**
 * `tfjs-lrp merge`: combines the output folders of shards 0..n−1 of one run into the outputs a
 * single run would have written: summary.json/.csv and errors.jsonl (rows in item order) and the
 * aggregate (exact sums added: bit-for-bit equal to a single pass).
 */
import * as fs from 'fs';
import * as path from 'path';
import { LrpArgumentError } from '../../errors.js';
import { RelevanceAggregator, type AggregatorJSON } from './aggregator.js';
import { selectBackend, type BackendChoice } from './backend.js';
import type { ItemFailure } from './explainDataset.js';
import { RunState, type RunManifest } from './manifest.js';
import { writeFinalOutputs, type SummaryRow } from './outputs.js';
import { writeFileAtomicSync } from './atomic.js';
import { OutputLock } from './lock.js';

/** What a merge did. */
export interface MergeResult {
  readonly shards: number;
  readonly explained: number;
  readonly failed: number;
}

function copyTree(from: string, to: string): void {
  if (!fs.existsSync(from)) return;
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    const a = path.join(from, e.name);
    const b = path.join(to, e.name);
    if (e.isDirectory()) copyTree(a, b);
    else {
      fs.mkdirSync(to, { recursive: true });
      fs.copyFileSync(a, b);
    }
  }
}

/**
 * Merges finished shard folders into `out`.
 *
 * @throws {LrpArgumentError} (argument `<dirs>`) when a folder is not a finished shard, the
 *   shards come from different runs, or shards are missing or repeated
 * @throws {LrpLockError} (`--out`) when another run or merge is writing into `out`
 */
export async function mergeRuns(dirs: readonly string[], out: string, options: { copy?: boolean } = {}): Promise<MergeResult> {
  const manifests: Array<{ dir: string; m: RunManifest }> = [];
  for (const dir of dirs) {
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new LrpArgumentError('<dirs>', `'${dir}' is not a folder.`);
    const m = RunState.readManifest(dir);
    if (m === null) throw new LrpArgumentError('<dirs>', `'${dir}' holds no tfjs-lrp run (no .tfjs-lrp/manifest.json); pass the --out folders of 'tfjs-lrp explain/aggregate --shard i/n'.`);
    if (!m.complete) throw new LrpArgumentError('<dirs>', `'${dir}' is an unfinished run${m.shard !== null ? ` (shard ${m.shard.index}/${m.shard.count})` : ''}; rerun its command to finish it, then merge.`);
    manifests.push({ dir, m });
  }
  const first = manifests[0].m;
  for (const { dir, m } of manifests) {
    if (m.mergeKey !== first.mergeKey) throw new LrpArgumentError('<dirs>', `'${dir}' comes from a different run than '${manifests[0].dir}' (model, inputs, options, batch size, backend or shard count differ).`);
  }
  const count = first.shard?.count ?? 1;
  const seen = new Map<number, string>();
  for (const { dir, m } of manifests) {
    const i = m.shard?.index ?? 0;
    if (seen.has(i)) throw new LrpArgumentError('<dirs>', `shard ${i}/${count} is given twice ('${seen.get(i)}' and '${dir}').`);
    seen.set(i, dir);
  }
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !seen.has(i));
  if (missing.length > 0) throw new LrpArgumentError('<dirs>', `shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${count}`).join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing.`);
  const resolvedOut = path.resolve(out);
  if (manifests.some(({ dir }) => path.resolve(dir) === resolvedOut)) throw new LrpArgumentError('--out', 'must not be one of the shard folders.');

  // one writer per output folder (two merges, or a merge and a run, into one --out would mix)
  const lock = OutputLock.acquire(out, 'tfjs-lrp merge');
  try {
    return await mergeInto(manifests, out, options, lock);
  } finally {
    lock.release();
  }
}

async function mergeInto(manifests: Array<{ dir: string; m: RunManifest }>, out: string, options: { copy?: boolean }, lock: OutputLock): Promise<MergeResult> {
  const first = manifests[0].m;
  const rows: SummaryRow[] = [];
  const errors: ItemFailure[] = [];
  let agg: RelevanceAggregator | null = null;
  for (const { dir, m } of manifests.sort((a, b) => (a.m.shard?.index ?? 0) - (b.m.shard?.index ?? 0))) {
    for (const r of RunState.recordsOf(dir)) {
      rows.push(...r.rows);
      errors.push(...r.errors);
    }
    if (m.aggregate) {
      const file = path.join(dir, 'aggregate', 'state.json');
      if (!fs.existsSync(file)) throw new LrpArgumentError('<dirs>', `'${dir}' has no aggregate/state.json; rerun its command.`);
      const part = RelevanceAggregator.fromJSON(JSON.parse(fs.readFileSync(file, 'utf8')) as AggregatorJSON);
      agg = agg === null ? part : agg.merge(part);
    }
    if (options.copy === true) for (const sub of ['heatmaps', 'overlays', 'relevance']) copyTree(path.join(dir, sub), path.join(out, sub));
  }
  // the same backend as the runs, so the aggregate pictures come out byte-identical
  const used = String(first.settings.backend ?? 'cpu');
  await selectBackend((['tensorflow', 'wasm', 'cpu'].includes(used) ? used : 'cpu') as BackendChoice).catch(() => selectBackend('cpu'));
  fs.mkdirSync(out, { recursive: true });
  lock.verify();
  await writeFinalOutputs(rows, errors, agg, { out, draw: first.draw, classNames: first.classNames });
  writeFileAtomicSync(path.join(out, 'merge.json'), JSON.stringify({ shards: manifests.map(({ dir, m }) => ({ dir, shard: m.shard })), explained: rows.length, failed: errors.length, merged: new Date().toISOString() }, null, 1) + '\n');
  return { shards: manifests.length, explained: rows.length, failed: errors.length };
}
