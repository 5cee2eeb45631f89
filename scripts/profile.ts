/**
 * Where the time of an explanation goes: per phase (planning, weight derivation, forward record,
 * relevance pass, read-back) and per node (forward and relevance time of every node of the plan),
 * for bench-cnn and the MobileNet-v2-sized model.
 *
 *     npm run profile                                              # bench-cnn (batch 32) and MobileNet (batch 8), wasm
 *     npm run profile -- --model bench-cnn --settings epsilon,epsilonGammaBox --batch 32
 *     npm run profile -- --model mobilenet --settings epsilonPlusFlat --batch 8 --top 25
 *     npm run bench -- --profile                                   # the same after the benchmark
 *
 * How: planning is `planModel` alone; weight derivation is the time spent computing the
 * weight-derived tensors (flipped kernels, W⁺/W⁻, merged BatchNorm) in a first call, measured
 * around each computation; the forward record and the relevance pass are `runForward` and
 * `runBackward` with those tensors already derived (as in every call of a reused explainer, or a
 * repeated one-shot `explain`); per node, the engine's node hook (src/profile.ts, inert when no
 * profiler is set) times each node's tidy in both passes. Medians over `--reps` calls. The times
 * are compute times on cpu and wasm (synchronous backends) only.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import * as tf from '@tensorflow/tfjs';
import { createExplainer, type ExplainOptions } from '../src';
import { runBackward } from '../src/backward';
import { runForward } from '../src/forward';
import { DerivedTensors, withDerivedTensors } from '../src/ops/derived';
import { planModel, type ModelPlan } from '../src/plan';
import { setNodeProfiler, type NodePhase } from '../src/profile';
import * as benchCnn from './bench-cnn';
import { mobileNetInput, mobileNetV2 } from './mobilenet-model';
import { loadLine, median } from './paired';

/** The explain settings by name (inputs lie in [0, 1]: the z-box bounds). */
export const PROFILE_SETTINGS: Readonly<Record<string, ExplainOptions>> = {
  epsilon: { rule: 'epsilon' },
  epsilonPlus: { composite: 'epsilonPlus' },
  epsilonPlusFlat: { composite: 'epsilonPlusFlat' },
  epsilonGammaBox: { composite: 'epsilonGammaBox', low: 0, high: 1 },
  epsilonAlpha2Beta1: { composite: 'epsilonAlpha2Beta1' },
  // the input declared ≥ 0 (options.inputNonNegative)
  'epsilonPlus x≥0': { composite: 'epsilonPlus', inputNonNegative: true },
  'epsilonAlpha2Beta1 x≥0': { composite: 'epsilonAlpha2Beta1', inputNonNegative: true },
};

/** One node's median times. */
export interface NodeProfile {
  readonly id: string;
  readonly name: string;
  readonly className: string;
  readonly rule: string;
  readonly forwardMs: number;
  readonly relevanceMs: number;
}

/** The profile of one model, setting and batch. */
export interface ProfileReport {
  readonly model: string;
  readonly setting: string;
  readonly backend: string;
  readonly batch: number;
  /** Median ms per phase. */
  readonly phases: {
    readonly planning: number;
    readonly weightDerivation: number;
    readonly forwardRecord: number;
    readonly relevancePass: number;
    readonly readBack: number;
    /** A reused explainer's explain + read-back (what the phases above add up to, with derivation 0). */
    readonly explainerCall: number;
    /** predict + read-back, for scale. */
    readonly predict: number;
  };
  /** Derivation ms by purpose (flipped, positive, merged, …) in the first call. */
  readonly derivation: Readonly<Record<string, number>>;
  readonly nodes: NodeProfile[];
}

/** Times of the weight-derived computations (a wrapper around DerivedTensors.get). */
function timeDerivations<T>(fn: () => T): { result: T; byPurpose: Record<string, number> } {
  const byPurpose: Record<string, number> = {};
  const original = DerivedTensors.prototype.get;
  DerivedTensors.prototype.get = function (purpose: string, sources: readonly tf.Tensor[], compute: () => tf.Tensor): tf.Tensor {
    return original.call(this, purpose, sources, () => {
      const t0 = performance.now();
      const v = compute();
      const kind = purpose.split(/[:| ]/)[0];
      byPurpose[kind] = (byPurpose[kind] ?? 0) + performance.now() - t0;
      return v;
    });
  };
  try {
    return { result: fn(), byPurpose };
  } finally {
    DerivedTensors.prototype.get = original;
  }
}

/** One forward record and relevance pass with a (warm) store, timed separately. */
function timedPass(plan: ModelPlan, store: DerivedTensors, x: tf.Tensor, classIdx: number): { forward: number; relevance: number; result: tf.Tensor } {
  let forward = 0;
  let relevance = 0;
  const result = tf.tidy(() =>
    withDerivedTensors(store, () => {
      const t0 = performance.now();
      const record = runForward(plan, [x], { rectify: true }); // as explain's pass
      const t1 = performance.now();
      const logits = record.tensors.get(plan.graph.explained) as tf.Tensor;
      const batch = x.shape[0];
      const flat = tf.reshape(logits, [batch, plan.outputSize]);
      const start = tf.mul(tf.oneHot(tf.fill([batch], classIdx, 'int32') as tf.Tensor1D, plan.outputSize), flat);
      const r = runBackward(plan, record, tf.reshape(start, logits.shape), false).inputs[0];
      const t2 = performance.now();
      forward = t1 - t0;
      relevance = t2 - t1;
      return r;
    }),
  );
  return { forward, relevance, result };
}

async function readTimed(t: tf.Tensor): Promise<number> {
  const t0 = performance.now();
  await t.data();
  const dt = performance.now() - t0;
  t.dispose();
  return dt;
}

/** Profiles one model, setting and batch on the active backend. */
export async function profileModel(model: tf.LayersModel, modelName: string, x: tf.Tensor, setting: string, reps: number, classIdx = 3): Promise<ProfileReport> {
  const options = PROFILE_SETTINGS[setting];
  if (options === undefined) throw new Error(`unknown setting '${setting}' (${Object.keys(PROFILE_SETTINGS).join(', ')})`);
  const planning: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    planModel(model, options);
    planning.push(performance.now() - t0);
  }
  const plan = planModel(model, options);
  // first call of a store: the derivation, timed around each computation (a warm-up call first,
  // so that kernel set-up is not counted as derivation)
  const scratch = new DerivedTensors();
  await readTimed(timedPass(plan, scratch, x, classIdx).result);
  scratch.dispose();
  const derivations: Array<Record<string, number>> = [];
  for (let i = 0; i < Math.max(1, Math.min(reps, 3)); i++) {
    const cold = new DerivedTensors();
    const { result, byPurpose } = timeDerivations(() => timedPass(plan, cold, x, classIdx).result);
    await readTimed(result);
    cold.dispose();
    derivations.push(byPurpose);
  }
  const derivation: Record<string, number> = {};
  for (const k of new Set(derivations.flatMap((d) => Object.keys(d)))) derivation[k] = median(derivations.map((d) => d[k] ?? 0));
  const derivationTotals = derivations.map((d) => Object.values(d).reduce((a, b) => a + b, 0));

  const store = new DerivedTensors();
  await readTimed(timedPass(plan, store, x, classIdx).result);
  const fwd: number[] = [];
  const rel: number[] = [];
  const readBack: number[] = [];
  for (let i = 0; i < reps; i++) {
    const p = timedPass(plan, store, x, classIdx);
    fwd.push(p.forward);
    rel.push(p.relevance);
    readBack.push(await readTimed(p.result));
  }
  store.dispose();

  // per node: the engine's hook around each node's tidy, in a reused explainer's calls
  const explainer = createExplainer(model, options);
  const perNode = new Map<string, { forward: number[]; relevance: number[] }>();
  const open = new Map<string, number>();
  const call: number[] = [];
  await readTimed(explainer.explain(x, classIdx) as tf.Tensor);
  for (let i = 0; i < reps; i++) {
    const current = new Map<string, { forward: number; relevance: number }>();
    const previous = setNodeProfiler({
      begin: (phase: NodePhase, id: string) => open.set(`${phase}|${id}`, performance.now()),
      end: (phase: NodePhase, id: string) => {
        const t = performance.now() - (open.get(`${phase}|${id}`) as number);
        const e = current.get(id) ?? { forward: 0, relevance: 0 };
        e[phase] += t;
        current.set(id, e);
      },
    });
    const t0 = performance.now();
    try {
      const r = explainer.explain(x, classIdx) as tf.Tensor;
      await r.data();
      r.dispose();
    } finally {
      setNodeProfiler(previous);
    }
    call.push(performance.now() - t0);
    for (const [id, e] of current) {
      const s = perNode.get(id) ?? { forward: [], relevance: [] };
      s.forward.push(e.forward);
      s.relevance.push(e.relevance);
      perNode.set(id, s);
    }
  }
  explainer.dispose();
  const predict: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const p = model.predict(x) as tf.Tensor;
    await p.data();
    p.dispose();
    predict.push(performance.now() - t0);
  }
  const nodes = plan.nodes.map(({ node, rule }): NodeProfile => {
    const s = perNode.get(node.id);
    return { id: node.id, name: node.name, className: node.className, rule: rule.name, forwardMs: s === undefined ? 0 : median(s.forward), relevanceMs: s === undefined ? 0 : median(s.relevance) };
  });
  return {
    model: modelName,
    setting,
    backend: tf.getBackend(),
    batch: x.shape[0],
    phases: { planning: median(planning), weightDerivation: median(derivationTotals), forwardRecord: median(fwd), relevancePass: median(rel), readBack: median(readBack), explainerCall: median(call), predict: median(predict) },
    derivation,
    nodes,
  };
}

const ms = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

/** The profile as text: the phases, the derivation by purpose, the nodes (all, or the `top` slowest). */
export function formatProfile(r: ProfileReport, top: number): string {
  const p = r.phases;
  const lines: string[] = [];
  lines.push(`profile: ${r.model}, ${r.setting}, ${r.backend}, batch ${r.batch}`);
  lines.push(`  phase                         median ms   x predict`);
  const row = (name: string, v: number) => lines.push(`  ${name.padEnd(30)}${ms(v).padStart(9)}   ${(v / p.predict).toFixed(2).padStart(9)}`);
  row('predict (for scale)', p.predict);
  row('planning (one-shot, per miss)', p.planning);
  row('weight derivation (first call)', p.weightDerivation);
  row('forward record', p.forwardRecord);
  row('relevance pass', p.relevancePass);
  row('read back', p.readBack);
  row('reused explainer call', p.explainerCall);
  const d = Object.entries(r.derivation).sort((a, b) => b[1] - a[1]);
  if (d.length > 0) lines.push(`  derivation by kind: ${d.map(([k, v]) => `${k} ${ms(v)} ms`).join(', ')}`);
  const total = r.nodes.reduce((s, n) => s + n.forwardMs + n.relevanceMs, 0);
  const shown = r.nodes.length <= top ? r.nodes : [...r.nodes].sort((a, b) => b.forwardMs + b.relevanceMs - (a.forwardMs + a.relevanceMs)).slice(0, top);
  const nameWidth = Math.min(40, Math.max(4, ...shown.map((n) => n.name.length)));
  lines.push(`  ${r.nodes.length <= top ? 'nodes (forward order)' : `the ${top} slowest of ${r.nodes.length} nodes`}: Σ ${ms(total)} ms`);
  lines.push(`  ${'node'.padEnd(nameWidth)}  ${'class'.padEnd(22)}  ${'rule'.padEnd(14)}  ${'fwd ms'.padStart(8)}  ${'rel ms'.padStart(8)}  ${'share'.padStart(6)}`);
  for (const n of shown) {
    const share = total > 0 ? ((n.forwardMs + n.relevanceMs) / total) * 100 : 0;
    lines.push(`  ${n.name.slice(0, nameWidth).padEnd(nameWidth)}  ${n.className.slice(0, 22).padEnd(22)}  ${n.rule.slice(0, 14).padEnd(14)}  ${ms(n.forwardMs).padStart(8)}  ${ms(n.relevanceMs).padStart(8)}  ${share.toFixed(1).padStart(5)}%`);
  }
  // by class and rule: where a model's time goes in aggregate
  const groups = new Map<string, { forward: number; relevance: number; count: number }>();
  for (const n of r.nodes) {
    const key = `${n.className} / ${n.rule}`;
    const g = groups.get(key) ?? { forward: 0, relevance: 0, count: 0 };
    g.forward += n.forwardMs;
    g.relevance += n.relevanceMs;
    g.count++;
    groups.set(key, g);
  }
  lines.push(`  by class / rule:`);
  for (const [key, g] of [...groups].sort((a, b) => b[1].forward + b[1].relevance - (a[1].forward + a[1].relevance))) {
    const share = total > 0 ? ((g.forward + g.relevance) / total) * 100 : 0;
    lines.push(`    ${key.padEnd(40)} x${String(g.count).padEnd(3)} fwd ${ms(g.forward).padStart(7)} ms  rel ${ms(g.relevance).padStart(7)} ms  ${share.toFixed(1).padStart(5)}%`);
  }
  return lines.join('\n');
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const backend = arg('backend', 'wasm');
  const models = arg('model', 'bench-cnn,mobilenet').split(',');
  const reps = Number(arg('reps', '5'));
  const top = Number(arg('top', '25'));
  const out = arg('out', path.join('out', 'bench', 'profile.json'));
  if (backend === 'wasm') require('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend(backend);
  await tf.ready();
  tf.enableProdMode();
  console.log(loadLine('profile start', os.loadavg()));
  const reports: ProfileReport[] = [];
  for (const name of models) {
    if (name !== 'bench-cnn' && name !== 'mobilenet') throw new Error(`--model: bench-cnn or mobilenet, got '${name}'`);
    const cnn = name === 'bench-cnn';
    const batch = Number(arg('batch', cnn ? '32' : '8'));
    const settings = arg('settings', cnn ? 'epsilon,epsilonPlus,epsilonGammaBox,epsilonAlpha2Beta1' : 'epsilonPlusFlat').split(',');
    const model = cnn ? benchCnn.buildBenchCnn(tf) : mobileNetV2(tf);
    const x = cnn ? benchCnn.benchInput(tf, batch) : mobileNetInput(tf, batch);
    for (const setting of settings) {
      const r = await profileModel(model, name, x, setting, cnn ? reps : Math.max(3, Math.min(reps, 3)));
      reports.push(r);
      console.log(`\n${formatProfile(r, top)}`);
    }
    tf.dispose(x);
    model.dispose();
  }
  console.log(`\n${loadLine('profile end', os.loadavg())}`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), backend, loadavg: os.loadavg(), reports }, null, 2) + '\n');
  console.log(`wrote ${out}`);
}

if (require.main === module) main().catch((e) => {
  console.error(e);
  process.exit(1);
});
