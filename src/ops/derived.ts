/**
 * Tensors derived from weights only (flipped kernels for transposed convolutions, W⁺ and other
 * modified parameters, BatchNorm merged into a kernel) do not change between calls. An explainer
 * keeps them in a {@link DerivedTensors} store, keyed by the weights they come from (the
 * weights' dataIds: assigning new weights gives new dataIds, so nothing goes stale), and
 * releases what a call did not use at the end of that call, and everything on `dispose()`.
 *
 * Outside an explainer call `derived()` simply computes.
 */
import * as tf from '@tensorflow/tfjs';

interface Entry {
  readonly sources: readonly object[];
  readonly value: tf.Tensor;
  used: boolean;
}

/** Weight-derived tensors of one explainer. */
export class DerivedTensors {
  private readonly entries = new Map<string, Entry>();
  private readonly values = new WeakSet<tf.Tensor>();

  /** The cached value for `purpose` of `sources`, computing (and keeping) it when missing. */
  get(purpose: string, sources: readonly tf.Tensor[], compute: () => tf.Tensor): tf.Tensor {
    const ids = sources.map(dataIdOf);
    const key = `${purpose}|${sources.map((s) => s.id).join(',')}`;
    const hit = this.entries.get(key);
    if (hit !== undefined && !hit.value.isDisposed && hit.sources.length === ids.length && hit.sources.every((s, i) => s === ids[i])) {
      hit.used = true;
      return hit.value;
    }
    if (hit !== undefined) hit.value.dispose();
    // a clone shares the data but is ours to dispose, even when compute() returns a tensor it
    // did not create (a user's parameter map returning its input, say)
    const value = tf.keep(tf.clone(compute()));
    this.values.add(value);
    this.entries.set(key, { sources: ids, value, used: true });
    return value;
  }

  /** Whether `t` is a weight or a value derived from weights (and so worth caching from). */
  isStable(t: tf.Tensor): boolean {
    return t instanceof tf.Variable || constantWeights.has(t) || this.values.has(t);
  }

  /** Releases what the last call did not use. */
  endCall(): void {
    for (const [key, entry] of this.entries) {
      if (!entry.used) {
        entry.value.dispose();
        this.entries.delete(key);
      } else {
        entry.used = false;
      }
    }
  }

  /** Number of tensors held. */
  get size(): number {
    return this.entries.size;
  }

  /** Releases everything. */
  dispose(): void {
    for (const entry of this.entries.values()) entry.value.dispose();
    this.entries.clear();
  }
}

/** Model-owned tensors that never change while they live (see {@link markConstantWeight}). */
const constantWeights = new WeakSet<tf.Tensor>();

/**
 * Marks a model-owned tensor that never changes while it lives (a graph model's weights: plain
 * tensors, not Variables) as a weight that {@link derived} may cache from, like a Variable.
 * Returns `t`; nothing about the tensor changes.
 */
export function markConstantWeight(t: tf.Tensor): tf.Tensor {
  constantWeights.add(t);
  return t;
}

function dataIdOf(t: tf.Tensor): object {
  return t.dataId as object;
}

let active: DerivedTensors | null = null;

/** Runs `fn` with `store` as the store that {@link derived} uses, then releases unused entries. */
export function withDerivedTensors<T>(store: DerivedTensors, fn: () => T): T {
  const previous = active;
  active = store;
  try {
    return fn();
  } finally {
    active = previous;
    store.endCall();
  }
}

/**
 * `compute()`, cached in the active explainer when every source is a weight (or derived from
 * weights); otherwise computed afresh (e.g. from activations).
 */
export function derived(purpose: string, sources: readonly tf.Tensor[], compute: () => tf.Tensor): tf.Tensor {
  const store = active;
  if (store === null || !sources.every((s) => store.isStable(s))) return compute();
  return store.get(purpose, sources, compute);
}
