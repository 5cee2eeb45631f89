/**
 * Reference samples of concepts (CRP's "relevance maximization", Achtibat et al. 2023): over a
 * data set, for every channel of chosen layers, the top-k samples by concept relevance (the
 * channel's relevance for the explained class, summed over positions) and by activation (the
 * channel's maximum over positions), kept while streaming batches, resumable from a state file;
 * then their conditional heatmaps cropped to the channel's receptive field, drawn as one grid per
 * channel with an index page.
 *
 * Receptive field: taken from the **nonzero support of relevance**, not from a geometric formula:
 * for each kept sample, the channel's most relevant (or most activated) position is explained on
 * its own (a pass started at that one neuron), and the bounding box of |R| > 1e-6 · max|R| over
 * the image axes is its receptive field (relevance flows only inside it, so this follows the
 * conv/pool geometry exactly, strides, padding and dilation included; a zero-relevance border of
 * the field is cut off). All crops of one grid share one square size (the largest box of its
 * samples), centred on each sample's box and clamped to the image.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { channelSums, runLayerRelevance, type ConceptTarget } from '../concepts.js';
import { LrpArgumentError } from '../errors.js';
import type { ColormapName } from '../heatmap/colormaps.js';
import type { ExplainableModel } from '../explainable.js';
import type { ExplainOptions } from '../options.js';
import { runForward } from '../forward.js';
import { DerivedTensors, withDerivedTensors } from '../ops/derived.js';
import { planModel, type ModelPlan } from '../plan.js';
import { writeFileAtomicSync } from './batch/atomic.js';
import { checkItem, refsFromSource, type DatasetSource, type ItemRef } from './batch/items.js';
import { saveGrid } from './heatmap.js';

/** Options of {@link collectReferenceSamples}. */
export interface ReferenceSampleOptions extends ExplainOptions {
  /** Keras layer names whose channels are collected (required). */
  readonly layers: readonly string[];
  /** Samples kept per channel and list (default 6). */
  readonly top?: number;
  /** The class explained for concept relevance: a number, or `'max'` (default: each sample's top class). */
  readonly classIdx?: number | 'max';
  /** Items per forward/backward pass (default 32). */
  readonly itemsPerBatch?: number;
  /**
   * A JSON file holding the state after every batch: a run given the same file (and the same
   * layers, top and options) continues after the last finished batch instead of starting over.
   */
  readonly statePath?: string;
  /** Called after every batch with the number of items done. */
  readonly onProgress?: (itemsDone: number) => void;
}

/** One kept sample of a channel. */
export interface ReferenceSample {
  readonly id: string;
  /** Position in the data set. */
  readonly index: number;
  /** Concept relevance (byRelevance) or maximum activation (byActivation). */
  readonly value: number;
  /** The class explained for this sample. */
  readonly classIdx: number;
}

/** The reference samples of one channel. */
export interface ChannelReferences {
  readonly channel: number;
  /** Top samples by concept relevance, largest first. */
  readonly byRelevance: ReferenceSample[];
  /** Top samples by maximum activation, largest first. */
  readonly byActivation: ReferenceSample[];
}

/** What {@link collectReferenceSamples} returns (and what its state file holds). */
export interface ReferenceSamples {
  /** Items seen (the next item index to read). */
  readonly items: number;
  /** Items skipped because they failed to load (or held NaN/Infinity, or a negative value with `inputNonNegative`). */
  readonly failed: number;
  /** Shape of one item (the model input without the batch axis). */
  readonly itemShape: number[];
  /** Per layer, one entry per channel. */
  readonly layers: Record<string, ChannelReferences[]>;
  /** The input of every kept sample, by id. */
  readonly inputs: Record<string, number[]>;
  /** What the state belongs to: layers, top, class and rule options (a resumed run must match). */
  readonly fingerprint: string;
}

const STATE_VERSION = 1;

function fingerprintOf(options: ReferenceSampleOptions): string {
  const { statePath: _s, onProgress: _p, itemsPerBatch: _b, ...rest } = options;
  return JSON.stringify(rest, (_k, v: unknown) => (v instanceof tf.Tensor ? `tensor[${v.shape.join(',')}]` : v));
}

/** Inserts a candidate into a list kept sorted by value, largest first, at most `k` long. */
function insertTop(list: ReferenceSample[], s: ReferenceSample, k: number): void {
  if (list.length >= k && s.value <= list[list.length - 1].value) return;
  let at = list.findIndex((o) => s.value > o.value);
  if (at < 0) at = list.length;
  list.splice(at, 0, s);
  if (list.length > k) list.pop();
}

function readState(file: string, fingerprint: string): ReferenceSamples | null {
  if (!fs.existsSync(file)) return null;
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as ReferenceSamples & { version?: number };
  if (json.version !== STATE_VERSION || json.fingerprint !== fingerprint) {
    throw new LrpArgumentError('options.statePath', `'${file}' holds reference samples of another run (other layers, top, class or rule options); delete it or give another file.`);
  }
  return json;
}

/**
 * Streams a data set in batches and keeps, for every channel of `options.layers`, the top-k
 * samples by concept relevance and by activation. Single-input models. Resumable with
 * `options.statePath`. Items that fail to load are skipped and counted.
 *
 * @param model a `tf.LayersModel` or `tf.GraphModel` with one input (layers are named as in
 *   `describe()`: layer names, or node names of a graph model)
 * @param source items (arrays, tensors, `{ id, input, classIdx }`) or a `tf.data.Dataset`
 */
export async function collectReferenceSamples(model: ExplainableModel, source: DatasetSource, options: ReferenceSampleOptions): Promise<ReferenceSamples> {
  return collectFromRefs(model, refsFromSource(source), options);
}

/** {@link collectReferenceSamples} over item refs (files of the CLI: `refsFromFiles`). */
export async function collectFromRefs(model: ExplainableModel, refs: AsyncIterable<ItemRef>, options: ReferenceSampleOptions): Promise<ReferenceSamples> {
  const { layers, top = 6, classIdx = 'max', itemsPerBatch = 32, statePath, onProgress, ...explainOptions } = options;
  if (!Array.isArray(layers) || layers.length === 0) throw new LrpArgumentError('options.layers', 'give at least one layer name whose channels to collect.');
  if (!Number.isInteger(top) || top < 1) throw new LrpArgumentError('options.top', `must be an integer ≥ 1, got ${JSON.stringify(top)}.`);
  const plan = planModel(model, explainOptions);
  if (plan.graph.inputs.length !== 1) throw new LrpArgumentError('model', 'reference samples are collected for single-input models.');
  const fingerprint = fingerprintOf(options);
  const resumed = statePath === undefined ? null : readState(statePath, fingerprint);
  const itemShape = plan.graph.inputs[0].shape.slice(1).map((d) => d ?? -1);
  const state = {
    items: resumed?.items ?? 0,
    failed: resumed?.failed ?? 0,
    layers: resumed?.layers ?? ({} as Record<string, ChannelReferences[]>),
    inputs: new Map<string, number[]>(Object.entries(resumed?.inputs ?? {})),
  };
  const store = new DerivedTensors();
  const size = itemShape.reduce((a, b) => a * b, 1);
  const nonNegative = explainOptions.inputNonNegative === true;
  const save = () => {
    if (statePath === undefined) return;
    const json = { version: STATE_VERSION, fingerprint, items: state.items, failed: state.failed, itemShape, layers: state.layers, inputs: Object.fromEntries(state.inputs) };
    writeFileAtomicSync(statePath, JSON.stringify(json));
  };
  let batch: Array<{ ref: ItemRef; data: Float32Array }> = [];
  const flush = async () => {
    if (batch.length === 0) return;
    await processBatch(plan, explainOptions, store, batch, itemShape, size, layers, top, classIdx, state);
    state.items = batch[batch.length - 1].ref.index + 1;
    batch = [];
    save();
    onProgress?.(state.items);
  };
  try {
    for await (const ref of refs) {
      if (ref.index < state.items) continue;
      try {
        const data = await ref.load();
        // (the batch API's item check: size, NaN/Infinity, and a declared sign)
        checkItem(data, size, ref.id, nonNegative);
        batch.push({ ref, data });
      } catch {
        state.failed++;
      }
      if (batch.length >= itemsPerBatch) await flush();
    }
    await flush();
  } finally {
    store.dispose();
  }
  return { items: state.items, failed: state.failed, itemShape, layers: state.layers, inputs: Object.fromEntries(state.inputs), fingerprint };
}

/** One batch: classes, concept relevance and activation maxima per channel, top-k update. */
async function processBatch(
  plan: ModelPlan,
  options: ExplainOptions,
  store: DerivedTensors,
  batch: ReadonlyArray<{ ref: ItemRef; data: Float32Array }>,
  itemShape: number[],
  size: number,
  layers: readonly string[],
  top: number,
  classIdx: number | 'max',
  state: { layers: Record<string, ChannelReferences[]>; inputs: Map<string, number[]> },
): Promise<void> {
  const n = batch.length;
  const flat = new Float32Array(n * size);
  batch.forEach((b, i) => flat.set(b.data, i * size));
  const x = tf.tensor(flat, [n, ...itemShape]);
  const classes = batch.map((b) => (typeof b.ref.classIdx === 'number' ? b.ref.classIdx : classIdx));
  let cls: number[];
  try {
    if (classes.every((c): c is number => typeof c === 'number')) cls = classes;
    else {
      cls = await topClasses(plan, store, x);
      cls = classes.map((c, i) => (typeof c === 'number' ? c : cls[i]));
    }
    const raw = runLayerRelevance(plan, options, store, x, cls as ConceptTarget, layers, {}, true);
    try {
      const sums = await Promise.all(
        layers.map(async (_, l) => {
          const rel = channelSums(raw.layers[l]);
          const act = tf.tidy(() => {
            const a = raw.activations[l];
            const C = a.shape[a.rank - 1];
            return a.rank === 2 ? tf.clone(a) : tf.max(tf.reshape(a, [n, -1, C]), 1);
          });
          try {
            return { C: rel.shape[1], rel: await rel.data(), act: await act.data() };
          } finally {
            tf.dispose([rel, act]);
          }
        }),
      );
      layers.forEach((name, l) => {
        const { C, rel, act } = sums[l];
        const channels = (state.layers[name] ??= Array.from({ length: C }, (_, c) => ({ channel: c, byRelevance: [], byActivation: [] })));
        for (let i = 0; i < n; i++) {
          const { id, index } = batch[i].ref;
          for (let c = 0; c < C; c++) {
            insertTop(channels[c].byRelevance, { id, index, value: rel[i * C + c], classIdx: cls[i] }, top);
            insertTop(channels[c].byActivation, { id, index, value: act[i * C + c], classIdx: cls[i] }, top);
          }
        }
      });
    } finally {
      tf.dispose([...raw.input, ...raw.layers, ...raw.activations]);
    }
  } finally {
    x.dispose();
  }
  // keep the inputs of the kept samples only
  const kept = new Set<string>();
  for (const channels of Object.values(state.layers)) for (const ch of channels) for (const s of [...ch.byRelevance, ...ch.byActivation]) kept.add(s.id);
  batch.forEach((b) => {
    if (kept.has(b.ref.id)) state.inputs.set(b.ref.id, Array.from(b.data));
  });
  for (const id of [...state.inputs.keys()]) if (!kept.has(id)) state.inputs.delete(id);
}

/** Each sample's top class of the explained output (one forward pass, read asynchronously). */
async function topClasses(plan: ModelPlan, store: DerivedTensors, x: tf.Tensor): Promise<number[]> {
  const arg = tf.tidy(() => {
    const record = withDerivedTensors(store, () => runForward(plan, [x]));
    return tf.argMax(tf.reshape(record.tensors.get(plan.graph.explained) as tf.Tensor, [x.shape[0], plan.outputSize]), 1);
  });
  try {
    return Array.from(await arg.data());
  } finally {
    arg.dispose();
  }
}

/** Options of {@link writeConceptReport}: the explain options used to collect, plus drawing. */
export interface ConceptReportOptions extends ExplainOptions {
  /** Heatmap colours (default 'bwr'). */
  readonly colormap?: ColormapName;
  /** Colour scale: the p-th percentile of |relevance| per heatmap (default 99.5). */
  readonly clipPercentile?: number;
  /** Title of the index page. */
  readonly title?: string;
}

/** Where a crop lies in the input (rows and columns, half-open), per sample. */
export interface CropBox {
  readonly top: number;
  readonly left: number;
  readonly size: number;
}

/**
 * The conditional heatmaps of a channel's reference samples: for `byRelevance`, the class
 * explained conditioned on the channel (`conditions: { [layer]: [channel] }`); for
 * `byActivation`, the pass started at the channel's activation. Input relevance `[k, ...item]`;
 * the caller disposes it.
 */
export function conceptHeatmaps(model: ExplainableModel, samples: ReferenceSamples, layer: string, channel: number, list: 'byRelevance' | 'byActivation', options: ExplainOptions = {}): tf.Tensor {
  const plan = planModel(model, options);
  const store = new DerivedTensors();
  try {
    return heatmapsWith(plan, options, store, samples, layer, channel, list);
  } finally {
    store.dispose();
  }
}

function heatmapsWith(plan: ModelPlan, options: ExplainOptions, store: DerivedTensors, samples: ReferenceSamples, layer: string, channel: number, list: 'byRelevance' | 'byActivation'): tf.Tensor {
  const kept = samples.layers[layer]?.[channel]?.[list] ?? [];
  if (kept.length === 0) throw new LrpArgumentError('layer', `no reference samples for channel ${channel} of '${layer}'.`);
  const size = samples.itemShape.reduce((a, b) => a * b, 1);
  const flat = new Float32Array(kept.length * size);
  kept.forEach((s, i) => flat.set(samples.inputs[s.id], i * size));
  const x = tf.tensor(flat, [kept.length, ...samples.itemShape]);
  try {
    const target: ConceptTarget = list === 'byRelevance' ? kept.map((s) => s.classIdx) : { layer, channel };
    const conditions = list === 'byRelevance' ? { [layer]: [channel] } : undefined;
    const raw = runLayerRelevance(plan, options, store, x, target, [], { conditions });
    return raw.input[0];
  } finally {
    x.dispose();
  }
}

/**
 * The receptive field of each sample's most relevant (byRelevance) or most activated
 * (byActivation) neuron of the channel, as the input relevance of a pass started at that one
 * neuron: its nonzero support is the neuron's receptive field. `[k, ...item]`; the caller disposes it.
 */
async function neuronSupport(plan: ModelPlan, options: ExplainOptions, store: DerivedTensors, x: tf.Tensor, layer: string, channel: number, list: 'byRelevance' | 'byActivation', classes: number[]): Promise<tf.Tensor> {
  const raw = runLayerRelevance(plan, { ...options, checkInput: false }, store, x, classes, [layer], {}, true);
  const k = x.shape[0];
  const best = tf.tidy(() => {
    const t = list === 'byRelevance' ? raw.layers[0] : raw.activations[0];
    const C = t.shape[t.rank - 1];
    const score = tf.reshape(tf.slice(tf.reshape(t, [k, -1, C]), [0, 0, channel], [k, -1, 1]), [k, -1]);
    return tf.argMax(score, 1);
  });
  tf.dispose([...raw.input, ...raw.layers, ...raw.activations]);
  const position = Array.from(await best.data());
  best.dispose();
  const start = runLayerRelevance(plan, { ...options, checkInput: false }, store, x, { layer, channel, position }, []);
  return start.input[0];
}

/**
 * Crops image-shaped heatmaps `[k, H, W, C]` (and their inputs) to the support of `support`
 * (default: the relevance itself; the report passes each sample's neuron receptive field):
 * the bounding box of |R| > 1e-6 · max|R| over H and W, widened to one square size for all k
 * samples (the largest box), centred on each box and clamped to the image.
 */
export async function cropToSupport(relevance: tf.Tensor, inputs: tf.Tensor, support: tf.Tensor = relevance): Promise<{ relevance: tf.Tensor; inputs: tf.Tensor; boxes: CropBox[] }> {
  if (relevance.rank !== 4) return { relevance: tf.clone(relevance), inputs: tf.clone(inputs), boxes: [] };
  const [k, H, W] = relevance.shape;
  const mag = tf.tidy(() => tf.sum(tf.abs(support), 3));
  const values = await mag.data();
  mag.dispose();
  const boxes = Array.from({ length: k }, (_, i) => {
    let max = 0;
    for (let p = 0; p < H * W; p++) max = Math.max(max, values[i * H * W + p]);
    let [r0, r1, c0, c1] = [H, -1, W, -1];
    for (let r = 0; r < H; r++) {
      for (let c = 0; c < W; c++) {
        if (max > 0 && values[i * H * W + r * W + c] > 1e-6 * max) [r0, r1, c0, c1] = [Math.min(r0, r), Math.max(r1, r), Math.min(c0, c), Math.max(c1, c)];
      }
    }
    return r1 < 0 ? { r0: 0, r1: H - 1, c0: 0, c1: W - 1 } : { r0, r1, c0, c1 };
  });
  const side = Math.min(Math.max(H, W), Math.max(...boxes.map((b) => Math.max(b.r1 - b.r0 + 1, b.c1 - b.c0 + 1))));
  const sideH = Math.min(side, H);
  const sideW = Math.min(side, W);
  const crops = boxes.map((b) => ({
    top: Math.max(0, Math.min(H - sideH, Math.floor((b.r0 + b.r1 + 1) / 2 - sideH / 2))),
    left: Math.max(0, Math.min(W - sideW, Math.floor((b.c0 + b.c1 + 1) / 2 - sideW / 2))),
  }));
  return tf.tidy(() => {
    const cut = (t: tf.Tensor) => tf.concat(crops.map((c, i) => tf.slice(t, [i, c.top, c.left, 0], [1, sideH, sideW, -1])), 0);
    return { relevance: cut(relevance), inputs: cut(inputs), boxes: crops.map((c) => ({ ...c, size: side })) };
  });
}

/** A file-safe name for a layer (nested names hold '/'). */
function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]+/g, '_');
}

/** Images in 0..1 for the grid: the inputs scaled per sample by their minimum and maximum (1 or 3 channels only). */
function asImages(x: tf.Tensor): tf.Tensor | null {
  const C = x.shape[x.rank - 1];
  if (x.rank !== 4 || (C !== 1 && C !== 3)) return null;
  return tf.tidy(() => {
    const lo = tf.min(x, [1, 2, 3], true);
    const hi = tf.max(x, [1, 2, 3], true);
    return tf.div(tf.sub(x, lo), tf.maximum(tf.sub(hi, lo), 1e-12));
  });
}

/**
 * Draws the reference samples: for every layer and channel one grid (`<layer>/channel-<c>.png`):
 * the top samples by concept relevance (first row, labels `R <value> #<index>`) and by activation
 * (second row, `A <value> #<index>`), each as its input crop and conditional heatmap cropped to
 * the receptive field; `index.md` lists the channels of each layer by their top concept relevance
 * with the pictures; `concepts.json` holds the samples (without inputs).
 * @returns the files written, relative to `out`
 */
export async function writeConceptReport(out: string, model: ExplainableModel, samples: ReferenceSamples, options: ConceptReportOptions = {}): Promise<string[]> {
  const { colormap = 'bwr', clipPercentile = 99.5, title = 'Concepts: reference samples per channel', ...explainOptions } = options;
  const plan = planModel(model, explainOptions);
  const store = new DerivedTensors();
  const written: string[] = [];
  const lines = [`# ${title}`, '', `${samples.items} items seen (${samples.failed} skipped). Per channel: the top ${Math.max(0, ...Object.values(samples.layers).flatMap((cs) => cs.map((c) => c.byRelevance.length)))} samples by concept relevance (row 1, R) and by maximum activation (row 2, A); each sample as its input and its conditional heatmap, cropped to the channel's receptive field (the support of the conditional relevance).`, ''];
  fs.mkdirSync(out, { recursive: true });
  try {
    for (const [layer, channels] of Object.entries(samples.layers)) {
      const order = channels.slice().sort((a, b) => (b.byRelevance[0]?.value ?? 0) - (a.byRelevance[0]?.value ?? 0));
      lines.push(`## ${layer}`, '', '| channel | top concept relevance | top activation | reference samples |', '| ---: | ---: | ---: | --- |');
      for (const ch of order) {
        const parts: Array<{ heat: tf.Tensor; x: tf.Tensor; labels: string[] }> = [];
        try {
          for (const list of ['byRelevance', 'byActivation'] as const) {
            const kept = ch[list];
            if (kept.length === 0) continue;
            const heat = heatmapsWith(plan, explainOptions, store, samples, layer, ch.channel, list);
            const size = samples.itemShape.reduce((a, b) => a * b, 1);
            const flat = new Float32Array(kept.length * size);
            kept.forEach((s, i) => flat.set(samples.inputs[s.id], i * size));
            const x = tf.tensor(flat, [kept.length, ...samples.itemShape]);
            const support = await neuronSupport(plan, explainOptions, store, x, layer, ch.channel, list, kept.map((s) => s.classIdx));
            const cropped = await cropToSupport(heat, x, support);
            tf.dispose([heat, x, support]);
            parts.push({ heat: cropped.relevance, x: cropped.inputs, labels: kept.map((s) => `${list === 'byRelevance' ? 'R' : 'A'} ${s.value.toPrecision(3)} #${s.index}`) });
          }
          if (parts.length === 0) continue;
          const file = `${safeName(layer)}/channel-${ch.channel}.png`;
          const same = parts.every((p) => p.heat.shape.slice(1).join() === parts[0].heat.shape.slice(1).join());
          // one grid when both rows have crops of one size, else the relevance row only
          const used = same ? parts : parts.slice(0, 1);
          const relevance = tf.concat(used.map((p) => p.heat), 0);
          const xs = tf.concat(used.map((p) => p.x), 0);
          const images = asImages(xs);
          try {
            await saveGrid(path.join(out, file), {
              relevance,
              ...(images === null ? {} : { images, columns: ['input', 'heatmap'] as const }),
              labels: used.flatMap((p) => p.labels),
              samplesPerRow: Math.max(...used.map((p) => p.labels.length)),
              colormap,
              clipPercentile,
            });
          } finally {
            tf.dispose([relevance, xs, ...(images === null ? [] : [images])]);
          }
          written.push(file);
          lines.push(`| ${ch.channel} | ${(ch.byRelevance[0]?.value ?? 0).toPrecision(4)} | ${(ch.byActivation[0]?.value ?? 0).toPrecision(4)} | ![${layer} channel ${ch.channel}](${file}) |`);
        } finally {
          for (const p of parts) tf.dispose([p.heat, p.x]);
        }
      }
      lines.push('');
    }
  } finally {
    store.dispose();
  }
  const { inputs: _inputs, ...summary } = samples;
  writeFileAtomicSync(path.join(out, 'concepts.json'), JSON.stringify(summary, null, 1));
  writeFileAtomicSync(path.join(out, 'index.md'), lines.join('\n') + '\n');
  return [...written, 'concepts.json', 'index.md'];
}
