/**
 * Paired, interleaved timing rounds (shared by scripts/bench.ts and scripts/bench-mobilenet.ts):
 * every round times each method once, in a seeded random order (no method always follows the same
 * heavier or lighter one, whose garbage it would pay for), each right next to a call of its
 * reference method (e.g. predict): the reference first in every other pair, so neither side always
 * runs second. A method's ratio in a round is its time over the time of *its own* adjacent
 * reference call. Load on a shared machine comes in bursts of a second or more: it slows the two
 * calls of a pair alike, while a reference timed once per round (seconds away from the slowest
 * methods) would see another load. The median of these paired ratios is reported with their
 * spread [min, max]; a reference's own times are those of all its calls.
 *
 * Every call is read back (`await data()`) inside the timed region and disposed afterwards; the
 * tensor count over the timed rounds is checked.
 */
import * as os from 'os';
import { performance } from 'perf_hooks';
import type * as TfNamespace from '@tensorflow/tfjs';
import { seededRandom } from './random';

type Tf = typeof TfNamespace;

/** One timed method. */
export interface PairedMethod {
  readonly name: string;
  /** Runs the method once; the result is read back and disposed by the timer. */
  readonly run: () => TfNamespace.Tensor;
  /** The method its paired ratio divides by (default: the first method, e.g. predict); itself: none. */
  readonly pairedWith?: string;
}

/** How many rounds. */
export interface RoundPlan {
  /** Untimed calls of every method first (kernel set-up, weight-derived tensors, JIT). */
  readonly warmup: number;
  readonly minRounds: number;
  readonly maxRounds: number;
  /** Stop after this many ms of timed rounds (once minRounds are done). */
  readonly budgetMs: number;
}

/** The result of one method. */
export interface PairedTiming {
  readonly method: string;
  readonly pairedWith: string | null;
  readonly times: number[];
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  /** Per round: time / the reference method's time in the same round (empty without a reference). */
  readonly ratios: number[];
  readonly ratioMedian?: number;
  readonly ratioMin?: number;
  readonly ratioMax?: number;
}

/** The rounds of one case. */
export interface PairedReport {
  readonly rounds: number;
  readonly timings: PairedTiming[];
  /** Change of tf.memory().numTensors over the timed rounds (0: nothing leaked). */
  readonly leakedTensors: number;
  /** os.loadavg() before and after the rounds. */
  readonly loadBefore: number[];
  readonly loadAfter: number[];
}

/** Median (mean of the two middle values for an even count). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs the interleaved rounds. */
export async function pairedRounds(tf: Tf, methods: readonly PairedMethod[], plan: RoundPlan): Promise<PairedReport> {
  const once = async (m: PairedMethod): Promise<number> => {
    const t0 = performance.now();
    const r = m.run();
    await r.data();
    const dt = performance.now() - t0;
    r.dispose();
    return dt;
  };
  for (let i = 0; i < plan.warmup; i++) for (const m of methods) await once(m);
  const loadBefore = os.loadavg();
  const before = tf.memory().numTensors;
  const times = new Map<string, number[]>(methods.map((m) => [m.name, []]));
  const start = performance.now();
  const random = seededRandom(20261204);
  let rounds = 0;
  const ratios = new Map<string, number[]>(methods.map((m) => [m.name, []]));
  const referenceOf = (m: PairedMethod): PairedMethod | null => {
    const name = m.pairedWith ?? methods[0].name;
    return name === m.name ? null : (methods.find((r) => r.name === name) ?? null);
  };
  // methods with a reference are timed in pairs; a method that is nobody's pair partner and has no
  // reference itself (none in the scripts) is timed alone
  const timed = methods.filter((m) => referenceOf(m) !== null || !methods.some((o) => referenceOf(o) === m));
  let pairs = 0;
  while (rounds < plan.maxRounds && (rounds < plan.minRounds || performance.now() - start < plan.budgetMs)) {
    // a seeded shuffle per round (Fisher–Yates): no method always runs right after the same other one
    const order = timed.map((_, k) => k);
    for (let k = order.length - 1; k > 0; k--) {
      const j = Math.floor(random() * (k + 1));
      [order[k], order[j]] = [order[j], order[k]];
    }
    for (const k of order) {
      const m = timed[k];
      const ref = referenceOf(m);
      if (ref === null) {
        (times.get(m.name) as number[]).push(await once(m));
        continue;
      }
      let tRef: number;
      let tm: number;
      if (pairs++ % 2 === 0) {
        tRef = await once(ref);
        tm = await once(m);
      } else {
        tm = await once(m);
        tRef = await once(ref);
      }
      (times.get(ref.name) as number[]).push(tRef);
      (times.get(m.name) as number[]).push(tm);
      (ratios.get(m.name) as number[]).push(tm / tRef);
    }
    rounds++;
  }
  const leakedTensors = tf.memory().numTensors - before;
  const timings = methods.map((m): PairedTiming => {
    const t = times.get(m.name) as number[];
    const ref = referenceOf(m);
    const r = ratios.get(m.name) as number[];
    const base = { method: m.name, pairedWith: ref === null ? null : ref.name, times: t, medianMs: median(t), minMs: Math.min(...t), maxMs: Math.max(...t), ratios: r };
    return r.length === 0 ? base : { ...base, ratioMedian: median(r), ratioMin: Math.min(...r), ratioMax: Math.max(...r) };
  });
  return { rounds, timings, leakedTensors, loadBefore, loadAfter: os.loadavg() };
}

/** `1.23× [1.20, 1.31]` (or `-` without a ratio). */
export function formatRatio(t: Pick<PairedTiming, 'ratioMedian' | 'ratioMin' | 'ratioMax'> | undefined): string {
  if (t?.ratioMedian === undefined || t.ratioMin === undefined || t.ratioMax === undefined) return '-';
  return `${t.ratioMedian.toFixed(2)}× [${t.ratioMin.toFixed(2)}, ${t.ratioMax.toFixed(2)}]`;
}

/** The load average as text, with a warning when the machine was busy. */
export function loadLine(label: string, load: readonly number[]): string {
  const cores = os.cpus().length;
  const busy = load[0] > Math.max(1.25, cores * 0.6);
  return `${label}: load average ${load.map((v) => v.toFixed(2)).join(' ')} on ${cores} cores${busy ? ' (busy: other processes compete; paired ratios stay usable, absolute ms do not)' : ''}`;
}
