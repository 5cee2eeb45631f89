/**
 * The NaN/Infinity input check of `explain()` (`options.checkInput`, on by default), without a
 * synchronous read from the device.
 *
 * Why: a synchronous read (`dataSync`, `arraySync`, a backend's `readSync`) stalls WebGL, and on
 * WebGPU loses the device in Chromium and throws in Node; yet `explain()` is synchronous and
 * returns tensors. So the check is split in two:
 *
 * 1. During `explain()`, on the device: {@link inputFlags} computes per sample and per float32
 *    input whether the input is finite (a `[batch, checks]` bool tensor; with
 *    `options.inputNonNegative` also whether it is ≥ 0), and
 *    {@link maskFailedInputs} sets the whole relevance of a sample whose input fails a check to NaN
 *    (explicitly, with `tf.where`), so nothing derived from it (a heatmap, a sum) is silently a
 *    number. Nothing is read.
 * 2. When the result is read: {@link attachInputCheck} wraps the read methods of each returned
 *    relevance tensor. `data()`, `array()`, `bytes()` and `buffer()` await the flags
 *    (`flags.data()`) and reject with {@link LrpArgumentError} naming the input and the samples;
 *    `dataSync()`, `arraySync()` and `bufferSync()` (and `toString()`/`print()`, which read
 *    through `dataSync()`) read the flags synchronously — the caller chose a synchronous read —
 *    and throw the same error. With a finite input the reads return the data unchanged.
 *    `dispose()` (which `tf.dispose` and `tf.tidy` call) also disposes the tensor's flags; the
 *    flags are `tf.keep`-ed so that a caller's `tf.tidy` does not free them while the relevance
 *    lives. What does not read the tensor itself (ops on it, `clone()`, `dataToGPU()`) sees the
 *    NaN values.
 *
 * `explainWithConservation()` and `crossValidate()` are asynchronous already: they await the
 * flags with {@link checkedInput} / {@link readInputCheck} and throw before returning.
 */
import * as tf from '@tensorflow/tfjs';
import { LrpArgumentError } from './errors.js';

/** What one column of the flags checks: the input is finite, or (declared) it is ≥ 0. */
export type InputCheckKind = 'finite' | 'nonNegative';

/** Per sample, whether each float32 input passes each check (on the device). */
export interface InputFlags {
  /** `[batch, checks]` bool: `flags[n][k]` is true when sample `n` passes check `k`. */
  readonly flags: tf.Tensor2D;
  /** Per check: the argument name of its input (`'input'`, or `'input[i]'` for a multi-input model). */
  readonly labels: readonly string[];
  /** Per check: what it checks. The finite checks come first, so NaN is reported before a sign. */
  readonly kinds: readonly InputCheckKind[];
}

/** At most this many sample indices are listed in the message. */
const LISTED = 10;

/**
 * The per-sample flags of the float32 inputs (int32 token ids and bool inputs cannot hold NaN and
 * are skipped); null when no input is float32. Per input one `isFinite` and one `all`, and with
 * `nonNegative` (`options.inputNonNegative`) one `min` and one `less` more.
 * @param inputs the validated model inputs, all with the same batch size
 * @param nonNegative also check that every value is ≥ 0 (NaN passes this one: it fails the first)
 */
export function inputFlags(inputs: readonly tf.Tensor[], nonNegative = false): InputFlags | null {
  const checked = inputs.map((x, i) => ({ x, label: inputs.length === 1 ? 'input' : `input[${i}]` })).filter(({ x }) => x.dtype === 'float32');
  if (checked.length === 0) return null;
  const columns = [...checked.map((c) => ({ ...c, kind: 'finite' as const })), ...(nonNegative ? checked.map((c) => ({ ...c, kind: 'nonNegative' as const })) : [])];
  const flags = tf.tidy(() =>
    tf.stack(
      columns.map(({ x, kind }) => {
        const rows = tf.reshape(x, [x.shape[0], -1]);
        // (the sign by each sample's minimum: a Less over every value and an Any cost 6× as much on
        // wasm, 0.62 against 0.11 ms for bench-cnn's [32, 3072]; a NaN minimum passes, as NaN < 0
        // is false: the finite check reports it)
        return kind === 'finite' ? tf.all(tf.isFinite(rows), 1) : tf.logicalNot(tf.less(tf.min(rows, 1), 0));
      }),
      1,
    ),
  ) as tf.Tensor2D;
  return { flags, labels: columns.map((c) => c.label), kinds: columns.map((c) => c.kind) };
}

/**
 * The relevance with every element of a sample whose input failed a check set to NaN (new tensors;
 * the given ones are not disposed). Call it inside a `tf.tidy`.
 * @param relevance one tensor per model input, `[batch, ...]`
 * @param check the flags of {@link inputFlags}
 */
export function maskFailedInputs(relevance: readonly tf.Tensor[], check: InputFlags): tf.Tensor[] {
  const ok = tf.all(check.flags, 1);
  // On cpu and wasm: r + (0 or NaN per sample), a broadcast add. where() broadcasts its operands
  // with Tile first, which costs more than the whole ε-rule backward of a small dense stack on
  // wasm (two [batch, rest] Tiles: ~8 ms of ~150 at batch 32 on bench-cnn). The GPU backends keep
  // where(): WGSL may assume that no NaN reaches an addition.
  const byAdd = tf.getBackend() === 'wasm' || tf.getBackend() === 'cpu';
  let perSample: tf.Tensor | null = null;
  return relevance.map((r) => {
    // on a [batch, rest] view: where() broadcasts with Tile, which WebGPU runs on the CPU (a
    // synchronous read) for rank > 4 (a Conv3D model's [N, D, H, W, C] input)
    const flat = tf.reshape(r, [r.shape[0], -1]);
    const cond = tf.reshape(ok, [r.shape[0], 1]);
    if (byAdd && r.dtype === 'float32') {
      perSample ??= tf.where(cond, tf.zeros([r.shape[0], 1]), tf.fill([r.shape[0], 1], NaN));
      return tf.reshape(tf.add(flat, perSample), r.shape);
    }
    return tf.reshape(tf.where(cond, flat, tf.scalar(NaN, r.dtype)), r.shape);
  });
}

/** What is wrong with the inputs: the argument to name and the message. */
interface InputProblem {
  readonly argument: string;
  readonly message: string;
}

/** The message of one failed check, after the argument name. */
function problemText(kind: InputCheckKind, samples: string): string {
  if (kind === 'finite') return `contains NaN or Infinity in sample(s) ${samples}`;
  return `has negative values in sample(s) ${samples}, but options.inputNonNegative declares every model input ≥ 0`;
}

/** The fix for one failed check. */
function fixText(kind: InputCheckKind): string {
  if (kind === 'finite') return 'Clean or clip the data first (or pass options.checkInput = false to skip this check).';
  return 'Leave out options.inputNonNegative for such data (the rules then split x into x⁺ and x⁻), or rescale the data to ≥ 0 first.';
}

/** The problem the flag values show, or null when every check passed. */
function inputProblem(values: ArrayLike<number | boolean>, labels: readonly string[], kinds: readonly InputCheckKind[]): InputProblem | null {
  const k = labels.length;
  const batch = values.length / k;
  const bad = labels.map(() => [] as number[]);
  for (let n = 0; n < batch; n++) for (let j = 0; j < k; j++) if (!values[n * k + j]) bad[j].push(n);
  const culprits = labels.map((label, j) => ({ label, kind: kinds[j], samples: bad[j] })).filter((c) => c.samples.length > 0);
  if (culprits.length === 0) return null;
  const list = (s: number[]) => (s.length <= LISTED ? s.join(', ') : `${s.slice(0, LISTED).join(', ')}, … (${s.length} in all)`);
  const first = culprits[0];
  const others = culprits
    .slice(1)
    .map((c) => (c.kind === first.kind ? ` (${c.label} too, in sample(s) ${list(c.samples)})` : ` (${c.label}: ${c.kind === 'finite' ? 'NaN or Infinity' : 'negative values'} in sample(s) ${list(c.samples)})`))
    .join('');
  return { argument: first.label, message: `${problemText(first.kind, list(first.samples))}${others}. ${fixText(first.kind)}` };
}

/**
 * The error for the flag values read from the device, or null when every check passed.
 * @param values the `[batch, checks]` flags, row-major (0 = failed)
 * @param labels the argument name of each check's input
 * @param kinds what each check checks
 */
export function inputError(values: ArrayLike<number | boolean>, labels: readonly string[], kinds: readonly InputCheckKind[]): LrpArgumentError | null {
  const problem = inputProblem(values, labels, kinds);
  return problem === null ? null : new LrpArgumentError(problem.argument, problem.message);
}

/**
 * Reads the flags asynchronously and throws the {@link LrpArgumentError} when an input failed a
 * check (for the asynchronous entry points). The flags are not disposed.
 */
export async function readInputCheck(check: InputFlags): Promise<void> {
  const error = inputError(await check.flags.data(), check.labels, check.kinds);
  if (error !== null) throw error;
}

/** The read methods wrapped by {@link attachInputCheck}: asynchronous ones, then synchronous ones. */
const ASYNC_READS = ['data', 'array', 'bytes', 'buffer'] as const;
const SYNC_READS = ['dataSync', 'arraySync', 'bufferSync'] as const;

type Method = (...args: unknown[]) => unknown;

/** The pending check of each wrapped relevance tensor (for {@link checkedInput}). */
const pending = new WeakMap<tf.Tensor, () => Promise<void>>();

/** Replaces a method of one tensor object (not enumerable, so the tensor's own keys stay as they were). */
function override(t: tf.Tensor, name: string, make: (original: Method) => Method): void {
  const original = (t as unknown as Record<string, Method>)[name];
  Object.defineProperty(t, name, { value: make(original), configurable: true, writable: true, enumerable: false });
}

/** Wraps the reads and `dispose()` of one tensor with its own flags (see the module comment). */
function wrapTensor(t: tf.Tensor, flags: tf.Tensor2D, labels: readonly string[], kinds: readonly InputCheckKind[]): void {
  // the verdict once read (undefined: not read yet; null: finite); a fresh error per read, so
  // that its stack points at the caller
  let verdict: InputProblem | null | undefined;
  const rethrow = (): void => {
    if (verdict) throw new LrpArgumentError(verdict.argument, verdict.message);
  };
  const checkAsync = async (): Promise<void> => {
    if (verdict === undefined) verdict = inputProblem(await flags.data(), labels, kinds);
    rethrow();
  };
  const checkSync = (): void => {
    if (verdict === undefined) verdict = inputProblem(flags.dataSync(), labels, kinds);
    rethrow();
  };
  for (const name of ASYNC_READS) {
    override(t, name, (original) => async (...args: unknown[]) => {
      if (!t.isDisposed) await checkAsync();
      return original.apply(t, args);
    });
  }
  for (const name of SYNC_READS) {
    override(t, name, (original) => (...args: unknown[]) => {
      if (!t.isDisposed) checkSync();
      return original.apply(t, args);
    });
  }
  override(t, 'dispose', (original) => () => {
    original.apply(t, []);
    flags.dispose();
  });
  pending.set(t, checkAsync);
}

/**
 * Hands the flags to the returned relevance tensors: each tensor's reads check them and its
 * `dispose()` releases them. The first tensor takes `check.flags`; every further one (a
 * multi-input model) gets its own kept clone, so the tensors can be disposed in any order.
 * @param relevance the tensors `explain()` returns (wrapped in place)
 * @param check the flags, owned by the tensors from now on
 */
export function attachInputCheck(relevance: readonly tf.Tensor[], check: InputFlags): void {
  relevance.forEach((t, i) => {
    const flags = i === 0 ? check.flags : tf.keep(tf.clone(check.flags));
    wrapTensor(t, flags, check.labels, check.kinds);
  });
  if (relevance.length === 0) check.flags.dispose();
}

/**
 * Resolves when the inputs behind the relevance returned by `explain()` were finite (or were not
 * checked); rejects with the {@link LrpArgumentError} otherwise. Reads only the flags, and
 * asynchronously.
 * @param relevance what `explain()` returned
 */
export async function checkedInput(relevance: tf.Tensor | readonly tf.Tensor[]): Promise<void> {
  const list: readonly tf.Tensor[] = Array.isArray(relevance) ? relevance : [relevance as tf.Tensor];
  for (const t of list) {
    const check = pending.get(t);
    if (check !== undefined && !t.isDisposed) await check();
  }
}
