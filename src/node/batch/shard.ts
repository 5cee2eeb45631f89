/**
 * Shards: `--shard i/n` takes batches b with b mod n = i (batch b = items b·B … b·B+B−1 of the
 * sorted input). The partition is deterministic, needs no item count up front (streams work), and
 * every item lands in the same batch as in a single run, so merged shards equal a single run.
 */
import { LrpArgumentError } from '../../errors.js';

/** Shard `index` of `count` (0 ≤ index < count). */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

/**
 * Parses `'i/n'` (e.g. `'0/3'`). For a Kubernetes Indexed Job pass `$JOB_COMPLETION_INDEX/n`;
 * for a Slurm array (0-based) `$SLURM_ARRAY_TASK_ID/n`.
 *
 * @throws {LrpArgumentError} naming `argument` for anything but two integers 0 ≤ i < n
 */
export function parseShard(text: string, argument = '--shard'): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(String(text));
  if (m === null) throw new LrpArgumentError(argument, `expected i/n (e.g. 0/4: the first of 4 shards), got ${JSON.stringify(text)}.`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1) throw new LrpArgumentError(argument, `the shard count must be at least 1, got ${count}.`);
  if (index >= count) throw new LrpArgumentError(argument, `shard index ${index} is out of range for ${count} shards (0..${count - 1}; indices start at 0, so Slurm arrays should use --array=0-${count - 1}).`);
  return { index, count };
}

/** The shard a batch belongs to. */
export function shardOfBatch(batchIndex: number, count: number): number {
  return batchIndex % count;
}

/**
 * Number of items a shard holds out of `total` items in batches of `batchSize`: computed in
 * constant time (no loop over batches, so a huge `total` cannot stall a run).
 */
export function shardItemCount(total: number, batchSize: number, shard: Shard | null): number {
  if (shard === null) return total;
  const batches = Math.ceil(total / batchSize);
  if (shard.index >= batches) return 0;
  // batches index, index + count, …, up to batches − 1
  const mine = Math.floor((batches - 1 - shard.index) / shard.count) + 1;
  const shortLast = (batches - 1) % shard.count === shard.index ? batches * batchSize - total : 0;
  return mine * batchSize - shortLast;
}
