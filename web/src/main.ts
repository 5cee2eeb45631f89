/**
 * The tfjs-lrp demo page: pick an example model, draw a digit (or pick a sample, or drop an
 * image), pick a rule or composite; the heatmap, the overlay, the top classes, the conservation
 * numbers and the timings update at once. Everything runs on the page's backend (webgl when the
 * browser has it). `window.__lrpDemo` exposes the state to the browser tests.
 */
import * as tf from '@tensorflow/tfjs';
import { compositeDefinitions, createExplainer, explain, explainCacheInfo, ruleDefinitions } from 'tfjs-lrp';
import { COLORMAPS, colormapTable, drawHeatmap, heatmap } from 'tfjs-lrp/heatmap';
import type { ConservationReport, ExplainOptions, Explainer } from 'tfjs-lrp';
import type { ColormapName } from 'tfjs-lrp/heatmap';
import { chooseBackend } from './backend';
import type { BackendInfo } from './backend';
import { DrawPad, loadImageFile, mnistInput, paintInput, resizedInput } from './input';
import type { ModelInput } from './input';

// ---- the page's elements ----------------------------------------------------------------------

function el<T extends HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (e === null) throw new Error(`#${id} is missing from the page`);
  return e as T;
}

const ui = {
  model: el<HTMLSelectElement>('model'),
  backend: el<HTMLSpanElement>('backend'),
  pad: el<HTMLCanvasElement>('pad'),
  padHint: el<HTMLParagraphElement>('pad-hint'),
  dropZone: el<HTMLElement>('drop-zone'),
  clear: el<HTMLButtonElement>('clear'),
  file: el<HTMLInputElement>('file'),
  modelInput: el<HTMLCanvasElement>('model-input'),
  inputShape: el<HTMLElement>('input-shape'),
  tagRow: el<HTMLLabelElement>('tag-row'),
  tag: el<HTMLInputElement>('tag'),
  tagLabel: el<HTMLSpanElement>('tag-label'),
  samples: el<HTMLDivElement>('samples'),
  explainedClass: el<HTMLSpanElement>('explained-class'),
  status: el<HTMLSpanElement>('status'),
  heatmap: el<HTMLCanvasElement>('heatmap'),
  overlay: el<HTMLCanvasElement>('overlay'),
  legend: el<HTMLCanvasElement>('legend'),
  conservation: el<HTMLElement>('conservation'),
  timing: el<HTMLElement>('timing'),
  rule: el<HTMLSelectElement>('rule'),
  ruleHelp: el<HTMLParagraphElement>('rule-help'),
  epsilon: el<HTMLInputElement>('epsilon'),
  gamma: el<HTMLInputElement>('gamma'),
  alpha: el<HTMLInputElement>('alpha'),
  steps: el<HTMLInputElement>('steps'),
  colormap: el<HTMLSelectElement>('colormap'),
  target: el<HTMLSelectElement>('target'),
  clip: el<HTMLInputElement>('clip'),
  opacity: el<HTMLInputElement>('opacity'),
  top: el<HTMLOListElement>('top'),
  modelDesc: el<HTMLSpanElement>('model-desc'),
  conceptsView: el<HTMLDivElement>('concepts-view'),
  conceptLayer: el<HTMLSelectElement>('concept-layer'),
  concepts: el<HTMLDivElement>('concepts'),
};

/** Channels shown in the concepts view. */
const CONCEPT_CHANNELS = 4;

// ---- models ----------------------------------------------------------------------------------

interface ModelEntry {
  readonly id: string;
  readonly title: string;
  readonly description: string;
  readonly labels: string[];
  readonly range: [number, number];
  readonly preprocess?: 'mnist' | 'resize';
  readonly inputShape: [number, number, number];
  readonly url: string;
  readonly samplesUrl?: string;
  /** A shortcut square the page can paint onto the input (the Clever Hans models). */
  readonly tag?: { at: number; size: number; value: number; label: string };
}

interface Sample {
  readonly label: number | string;
  readonly input: ModelInput;
}

interface LoadedModel {
  readonly entry: ModelEntry;
  readonly model: tf.LayersModel;
  /** Whether the model's output is already a probability distribution (final softmax). */
  readonly probabilities: boolean;
  readonly samples: Sample[];
}

async function fetchJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

async function loadModel(entry: ModelEntry): Promise<LoadedModel> {
  const model = await tf.loadLayersModel(entry.url);
  const last = model.layers[model.layers.length - 1];
  const activation = (last.getConfig() as { activation?: string }).activation;
  const probabilities = activation === 'softmax' || last.getClassName() === 'Softmax';
  const samples: Sample[] = [];
  if (entry.samplesUrl !== undefined) {
    const data = await fetchJson<{ scale: number; shape: [number, number, number]; samples: { label: number | string; pixels: number[] }[] }>(entry.samplesUrl);
    const [lo, hi] = entry.range;
    for (const s of data.samples) {
      const pixels = Float32Array.from(s.pixels, (v) => lo + ((hi - lo) * v) / data.scale);
      samples.push({ label: s.label, input: { pixels, shape: data.shape } });
    }
  }
  return { entry, model, probabilities, samples };
}

// ---- methods ---------------------------------------------------------------------------------

/** A parameter the page has a control for (the others keep their defaults). */
type Param = 'epsilon' | 'gamma' | 'alpha' | 'steps';

/** One entry of the #rule select: `kind:name`. */
interface MethodChoice {
  readonly value: string;
  readonly kind: 'rule' | 'composite' | 'method';
  readonly name: string;
  readonly label: string;
  /** The library's one line about it (the option's tooltip). */
  readonly summary: string;
  /** The explain options it reads. */
  readonly params: ReadonlySet<string>;
}

/**
 * Rules on every Dense/Conv layer: the registered rules meant for those layers (appliesTo
 * 'linear', or 'unknown' for a rule registered with a bare factory); the structural ones (pass,
 * norm, gradient: activations, pooling, Add) are left out.
 */
function ruleChoices(): MethodChoice[] {
  return ruleDefinitions()
    .filter((d) => d.appliesTo !== 'any')
    .map((d) => ({ value: `rule:${d.name}`, kind: 'rule', name: d.name, label: d.name === 'zero' ? 'zero (LRP-0)' : d.name, summary: d.summary, params: new Set(d.params.map((p) => p.name)) }));
}

/** The built-in composites. */
function compositeChoices(): MethodChoice[] {
  return compositeDefinitions().map((d) => ({ value: `composite:${d.name}`, kind: 'composite', name: d.name, label: d.name, summary: d.summary, params: new Set(d.params) }));
}

/** The gradient methods (not rules: explain's `method` option), to compare with. */
const GRADIENT_METHODS: MethodChoice[] = [
  { value: 'method:gradient', kind: 'method', name: 'gradient', label: 'gradient', summary: 'the input gradient (sensitivity)', params: new Set() },
  { value: 'method:gradientXInput', kind: 'method', name: 'gradientXInput', label: 'gradient × input', summary: 'gradient × input', params: new Set() },
  { value: 'method:integratedGradients', kind: 'method', name: 'integratedGradients', label: 'Integrated Gradients', summary: 'Integrated Gradients from a black baseline', params: new Set(['steps']) },
];

/** What the page shows for a choice (the library's summary is the option's tooltip). */
const HELP: Record<string, string> = {
  'rule:epsilon': 'ε-rule on every layer. Small ε ≈ gradient × input; a larger ε keeps only the strongest evidence.',
  'rule:zero': 'LRP-0: the textbook rule. Exact but noisy in deeper networks.',
  'rule:zPlus': 'z⁺: positive contributions only; the map shows evidence for the class.',
  'rule:alphaBeta': 'αβ: positive contributions weighted by α, negative ones by β = α − 1.',
  'rule:gamma': 'γ: favours positive contributions by γ; smoother than ε.',
  'composite:epsilonPlus': 'ε in the dense layers, z⁺ in the convolutions.',
  'composite:epsilonPlusFlat': 'As epsilonPlus, with a flat first layer (relevance spread over the receptive field).',
  'composite:epsilonGammaBox': 'ε dense, γ conv, z-box first layer (bounds = input range). Recommended for image CNNs.',
  'composite:epsilonAlpha2Beta1': 'ε dense, α2β1 conv: shows the evidence against the class too.',
  'composite:epsilonAlpha2Beta1Flat': 'As epsilonAlpha2Beta1 with a flat first layer.',
  'method:gradient': 'The plain input gradient (sensitivity), through the same engine.',
  'method:gradientXInput': 'Gradient × input.',
  'method:integratedGradients': 'Integrated Gradients from a black baseline (Riemann sum over the steps).',
};

const DEFAULT_METHOD = 'rule:epsilon';
const choices = new Map<string, MethodChoice>();

/** Fills the #rule select from the registries (grouped), with `DEFAULT_METHOD` selected. */
function fillMethods(): void {
  const groups: Array<[string, MethodChoice[]]> = [
    ['Composites', compositeChoices()],
    ['Rules (every Dense/Conv layer)', ruleChoices()],
    ['Gradient methods (to compare)', GRADIENT_METHODS],
  ];
  choices.clear();
  ui.rule.replaceChildren(
    ...groups
      .filter(([, list]) => list.length > 0)
      .map(([label, list]) => {
        const group = document.createElement('optgroup');
        group.label = label;
        for (const c of list) {
          choices.set(c.value, c);
          const option = new Option(c.label, c.value, c.value === DEFAULT_METHOD, c.value === DEFAULT_METHOD);
          if (c.summary !== '') option.title = c.summary;
          group.append(option);
        }
        return group;
      }),
  );
}

/** Whether the current choice reads `param` (its definition's parameters). */
function uses(choice: MethodChoice | undefined, param: Param): boolean {
  return choice?.params.has(param) === true;
}

function paramValue(id: Param): number {
  const v = Number(ui[id].value);
  return id === 'epsilon' ? Math.pow(10, v) : v;
}

/** The options of explain() that the controls describe. */
function currentOptions(range: [number, number]): { key: string; lrp: boolean; options: ExplainOptions } {
  const choice = choices.get(ui.rule.value);
  if (choice === undefined) throw new Error(`no such method: ${ui.rule.value}`);
  const { kind, name } = choice;
  let options: ExplainOptions;
  if (kind === 'method') {
    options = name === 'integratedGradients' ? { method: 'integratedGradients', steps: paramValue('steps') } : { method: name as 'gradient' | 'gradientXInput' };
  } else {
    options = kind === 'composite' ? { composite: name as ExplainOptions['composite'] } : { rule: name as ExplainOptions['rule'] };
    if (uses(choice, 'epsilon')) options = { ...options, epsilon: paramValue('epsilon') };
    if (uses(choice, 'gamma')) options = { ...options, gamma: paramValue('gamma') };
    if (uses(choice, 'alpha')) options = { ...options, alpha: paramValue('alpha'), beta: paramValue('alpha') - 1 };
    // the input bounds (z-box) are the model's input range
    if (choice.params.has('low') || choice.params.has('high')) options = { ...options, low: range[0], high: range[1] };
  }
  return { key: JSON.stringify(options), lrp: kind !== 'method', options: { ...options, checkInput: false } };
}

function showParams(): void {
  const v = ui.rule.value;
  const choice = choices.get(v);
  for (const f of document.querySelectorAll<HTMLElement>('[data-param]')) f.hidden = !uses(choice, (f.dataset.param ?? '') as Param);
  ui.ruleHelp.textContent = HELP[v] ?? choice?.summary ?? '';
  const fmt = (x: number): string => (x < 0.01 ? x.toExponential(0) : String(Number(x.toPrecision(3))));
  el('epsilon-out').textContent = fmt(paramValue('epsilon'));
  el('gamma-out').textContent = paramValue('gamma').toFixed(2);
  el('alpha-out').textContent = paramValue('alpha').toFixed(1);
  el('steps-out').textContent = String(paramValue('steps'));
  el('clip-out').textContent = `${Number(ui.clip.value).toFixed(1)}%`;
  el('opacity-out').textContent = Number(ui.opacity.value).toFixed(2);
}

// ---- state -----------------------------------------------------------------------------------

interface Result {
  readonly model: string;
  readonly method: string;
  readonly options: ExplainOptions;
  readonly classIdx: number;
  readonly probabilities: number[];
  /** The relevance map, H×W×C row-major. */
  readonly relevance: number[];
  readonly conservation: ConservationReport | null;
  readonly timing: { predictMs: number; explainMs: number; drawMs: number };
  readonly clipPercentile: number;
  readonly colormap: ColormapName;
  readonly backend: string;
  /** The concepts view's numbers (null for gradient methods). */
  readonly concepts: ConceptsResult | null;
}

/** What the concepts view shows: a layer's concept relevance and its top channels' conditional maps. */
interface ConceptsResult {
  readonly layer: string;
  /** Concept relevance of every channel of the layer. */
  readonly relevance: number[];
  /** The top channels, most relevant first, each with its conditional heatmap (H×W×C row-major). */
  readonly channels: Array<{ channel: number; relevance: number; heatmap: number[] }>;
}

const state = {
  backend: null as BackendInfo | null,
  models: [] as ModelEntry[],
  current: null as LoadedModel | null,
  /** What was drawn, picked or opened. */
  base: null as ModelInput | null,
  /** What the model gets: `base`, with the tag painted when asked. */
  input: null as ModelInput | null,
  explainer: null as { key: string; explainer: Explainer } | null,
  sample: -1,
  result: null as Result | null,
  updates: 0,
  firstCall: true,
};

function explainerFor(model: tf.LayersModel, key: string, options: ExplainOptions): Explainer {
  if (state.explainer !== null && state.explainer.key === key) return state.explainer.explainer;
  state.explainer?.explainer.dispose();
  const explainer = createExplainer(model, options);
  state.explainer = { key, explainer };
  return explainer;
}

// ---- one update: predict, explain, draw --------------------------------------------------------

const ms = (v: number): string => `${v < 10 ? v.toFixed(1) : v.toFixed(0)} ms`;
const num = (v: number): string => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(3) : v.toFixed(4));

function setList(dl: HTMLElement, rows: Array<[string, string, string?]>): void {
  dl.replaceChildren(
    ...rows.flatMap(([k, v, title]) => {
      const dt = document.createElement('dt');
      dt.textContent = k;
      if (title !== undefined) dt.title = title;
      const dd = document.createElement('dd');
      dd.textContent = v;
      return [dt, dd];
    }),
  );
}

function renderTop(probs: number[], labels: string[], classIdx: number, probabilities: boolean): void {
  const order = probs.map((p, i) => [p, i] as const).sort((a, b) => b[0] - a[0]).slice(0, 5);
  ui.top.replaceChildren(
    ...order.map(([p, i]) => {
      const li = document.createElement('li');
      li.className = i === classIdx ? 'explained' : '';
      li.title = `explain class ${labels[i] ?? i}`;
      li.dataset.class = String(i);
      const label = document.createElement('span');
      label.className = 'label';
      label.textContent = labels[i] ?? String(i);
      const bar = document.createElement('span');
      bar.className = 'bar';
      const fill = document.createElement('span');
      fill.style.width = `${(100 * Math.max(0, Math.min(1, p))).toFixed(1)}%`;
      bar.append(fill);
      const pct = document.createElement('span');
      pct.className = 'p';
      pct.textContent = probabilities ? `${(100 * p).toFixed(1)}%` : (100 * p).toFixed(1);
      li.append(label, bar, pct);
      li.addEventListener('click', () => {
        ui.target.value = String(i);
        void schedule();
      });
      return li;
    }),
  );
}

async function update(): Promise<void> {
  const current = state.current;
  const input = state.input;
  if (current === null || input === null) return;
  const { model, entry } = current;
  const method = currentOptions(entry.range);
  const colormap = ui.colormap.value as ColormapName;
  const clipPercentile = Number(ui.clip.value);
  const diverging = colormap !== 'gray' && colormap !== 'hot';
  const x = tf.tensor4d(input.pixels, [1, ...input.shape]);
  let relevance: tf.Tensor | null = null;
  let image: tf.Tensor | null = null;
  let heat: tf.Tensor | null = null;
  try {
    const t0 = performance.now();
    const out = tf.tidy(() => {
      const y = model.predict(x) as tf.Tensor;
      return current.probabilities ? y : tf.softmax(y);
    });
    const probs = Array.from(await out.data());
    out.dispose();
    const t1 = performance.now();
    const target = ui.target.value;
    const classIdx = target === 'max' ? probs.indexOf(Math.max(...probs)) : Number(target);
    let conservation: ConservationReport | null = null;
    if (method.lrp) {
      const r = await explainerFor(model, method.key, method.options).explainWithConservation(x, classIdx);
      relevance = r.relevance as tf.Tensor;
      conservation = r.conservation;
    } else {
      relevance = explain(model, x, classIdx, method.options) as tf.Tensor;
      await relevance.data();
    }
    const t2 = performance.now();
    const colors = { colormap, clipPercentile: clipPercentile >= 100 ? undefined : clipPercentile, normalize: diverging ? ('symmetric' as const) : ('absolute' as const) };
    // coloured once on the device; drawn at the input's size, CSS scales the canvases up with
    // sharp pixels (image-rendering: pixelated)
    heat = heatmap(relevance, colors);
    await drawHeatmap(ui.heatmap, heat, { from: 'heatmap' });
    // the input in 0..1; white ink on black (MNIST) is shown as dark ink on white under the colours
    image = tf.tidy(() => {
      const unit = tf.div(tf.sub(x, entry.range[0]), entry.range[1] - entry.range[0]);
      return entry.preprocess === 'mnist' ? tf.sub(1, unit) : unit;
    });
    await drawHeatmap(ui.overlay, heat, { from: 'heatmap', overlay: { image, alpha: Number(ui.opacity.value) } });
    const t3 = performance.now();
    const relValues = Array.from(await relevance.data());
    // (before `updates` counts this update: the tests wait for it, then read `result`)
    const concepts = method.lrp ? await renderConcepts(explainerFor(model, method.key, method.options), x, classIdx, colors) : null;

    const label = entry.labels[classIdx] ?? String(classIdx);
    ui.explainedClass.textContent = label;
    renderTop(probs, entry.labels, classIdx, current.probabilities);
    if (conservation !== null) {
      setList(ui.conservation, [
        ['score (logit)', num(conservation.score[0]), 'the explained pre-softmax score f_c(x)'],
        ['Σ R input', num(conservation.inputSum[0]), 'the sum of the relevance map'],
        ['absorbed', num(conservation.absorbed[0]), 'relevance absorbed by biases and ε (score − Σ R)'],
        ['relative error', `${(100 * conservation.relativeError[0]).toFixed(2)}%`, '|absorbed| / |score|'],
      ]);
    } else {
      const sum = relValues.reduce((a, b) => a + b, 0);
      setList(ui.conservation, [
        ['Σ R input', num(sum)],
        ['conservation', 'n/a (gradient method)'],
      ]);
    }
    const timing = { predictMs: t1 - t0, explainMs: t2 - t1, drawMs: t3 - t2 };
    setList(ui.timing, [
      ['backend', state.backend?.name ?? '?', state.backend?.detail],
      ['predict', ms(timing.predictMs)],
      ['explain', ms(timing.explainMs), state.firstCall ? 'the first call compiles the GPU shaders' : undefined],
      ['draw', ms(timing.drawMs)],
    ]);
    ui.status.textContent = state.firstCall ? `first call (shader compilation): ${ms(t3 - t0)}` : `updated in ${ms(t3 - t0)}`;
    ui.status.classList.remove('error');
    state.firstCall = false;
    state.updates += 1;
    state.result = { model: entry.id, method: ui.rule.value, options: method.options, classIdx, probabilities: probs, relevance: relValues, conservation, timing, clipPercentile, colormap, backend: tf.getBackend(), concepts };
  } finally {
    x.dispose();
    relevance?.dispose();
    image?.dispose();
    heat?.dispose();
  }
}

/**
 * The concepts view: the channels of the chosen layer ranked by concept relevance
 * (conceptRelevance), the top ones each with its conditional heatmap (explainLayers with
 * conditions: only that channel passes relevance on). Null for gradient methods or no layer.
 */
async function renderConcepts(explainer: Explainer, x: tf.Tensor, classIdx: number, colors: Parameters<typeof heatmap>[1]): Promise<ConceptsResult | null> {
  const layer = ui.conceptLayer.value;
  if (layer === '' || ui.conceptsView.hidden) return null;
  const rel = explainer.conceptRelevance(x, classIdx, layer);
  const relevance = Array.from(await rel.data());
  rel.dispose();
  const top = relevance.map((v, c) => ({ v, c })).sort((a, b) => b.v - a.v).slice(0, CONCEPT_CHANNELS);
  const figures: HTMLElement[] = [];
  const channels: ConceptsResult['channels'] = [];
  for (const { v, c } of top) {
    const r = explainer.explainLayers(x, classIdx, [], { conditions: { [layer]: [c] } });
    const map = r.input as tf.Tensor;
    const heat = heatmap(map, colors);
    try {
      const figure = document.createElement('figure');
      const canvas = document.createElement('canvas');
      canvas.width = map.shape[2] ?? 1;
      canvas.height = map.shape[1] ?? 1;
      canvas.dataset.channel = String(c);
      await drawHeatmap(canvas, heat, { from: 'heatmap' });
      const caption = document.createElement('figcaption');
      caption.textContent = `channel ${c} · ${num(v)}`;
      figure.append(canvas, caption);
      figures.push(figure);
      channels.push({ channel: c, relevance: v, heatmap: Array.from(await map.data()) });
    } finally {
      tf.dispose([map, heat]);
    }
  }
  ui.concepts.replaceChildren(...figures);
  return { layer, relevance, channels };
}

/** The hidden Conv/Dense layers of a model, for the concepts view (the last conv layer first chosen). */
function fillConceptLayers(model: tf.LayersModel): void {
  const names = model.layers.slice(0, -1).filter((l) => /^(Conv[123]D|Dense|DepthwiseConv2D|SeparableConv2D)$/.test(l.getClassName())).map((l) => ({ name: l.name, conv: l.getClassName() !== 'Dense' }));
  const chosen = [...names].reverse().find((n) => n.conv) ?? names[names.length - 1];
  ui.conceptLayer.replaceChildren(...names.map((n) => new Option(n.name, n.name, n === chosen, n === chosen)));
  ui.conceptsView.hidden = names.length === 0;
  ui.concepts.replaceChildren();
}

// Coalesced updates: while one runs, later requests collapse into one more run.
let requested = 0;
let completed = 0;
let running = false;
const waiters: Array<{ until: number; resolve: () => void; reject: (e: unknown) => void }> = [];

/** Settles the waiters whose update has completed. */
function settle(how: (w: (typeof waiters)[number]) => void): void {
  for (let i = waiters.length - 1; i >= 0; i--) {
    if (waiters[i].until <= completed) how(waiters.splice(i, 1)[0]);
  }
}

// Model switches and updates run one at a time (a switch disposes the model an update may use).
let queue: Promise<unknown> = Promise.resolve();
function serial<T>(task: () => Promise<T> | T): Promise<T> {
  const run = queue.then(task);
  queue = run.catch(() => undefined);
  return run;
}

async function pump(): Promise<void> {
  running = true;
  while (completed < requested) {
    const upto = requested;
    try {
      await serial(update);
      completed = upto;
      settle((w) => w.resolve());
    } catch (err) {
      completed = upto;
      ui.status.textContent = `error: ${(err as Error).message}`;
      ui.status.classList.add('error');
      console.error(err);
      settle((w) => w.reject(err));
    }
  }
  running = false;
}

/** Asks for an update; resolves when one that started after this call has finished. */
function schedule(): Promise<void> {
  requested += 1;
  const p = new Promise<void>((resolve, reject) => waiters.push({ until: requested, resolve, reject }));
  if (!running) void pump();
  return p;
}

// ---- input handling --------------------------------------------------------------------------

/** `base` with the model's tag painted on (a copy), or `base` itself. */
function withTag(base: ModelInput, entry: ModelEntry): ModelInput {
  const tag = entry.tag;
  if (tag === undefined || !ui.tag.checked) return base;
  const pixels = Float32Array.from(base.pixels);
  const [, w, c] = base.shape;
  for (let y = tag.at; y < tag.at + tag.size; y++) for (let x = tag.at; x < tag.at + tag.size; x++) for (let k = 0; k < c; k++) pixels[(y * w + x) * c + k] = tag.value;
  return { pixels, shape: base.shape };
}

/** Sets the input (and shows what the model sees) without updating. */
function applyInput(base: ModelInput, sample: number): void {
  const current = state.current;
  if (current === null) return;
  const input = withTag(base, current.entry);
  state.base = base;
  state.input = input;
  state.sample = sample;
  paintInput(ui.modelInput, input, current.entry.range);
  for (const [i, b] of Array.from(ui.samples.children).entries()) b.classList.toggle('active', i === sample);
}

/** Sets the input and updates. */
function setInput(base: ModelInput, sample = -1): Promise<void> {
  if (state.current === null) return Promise.resolve();
  applyInput(base, sample);
  return schedule();
}

function inputFromPad(pad: DrawPad): ModelInput {
  const entry = (state.current as LoadedModel).entry;
  if (entry.preprocess === 'mnist') return mnistInput(pad.imageData(), entry.inputShape[0], Math.round((entry.inputShape[0] * 20) / 28), entry.range);
  return resizedInput(pad.canvas, pad.canvas.width, pad.canvas.height, entry.inputShape, entry.range);
}

let frame = 0;
const pad = new DrawPad(ui.pad, (phase) => {
  ui.padHint.classList.add('hidden');
  if (phase === 'start') state.sample = -1;
  // at most one update per animation frame while drawing
  if (frame === 0) {
    frame = requestAnimationFrame(() => {
      frame = 0;
      void setInput(inputFromPad(pad));
    });
  }
});

function showSampleOnPad(input: ModelInput): void {
  const c = document.createElement('canvas');
  paintInput(c, input, (state.current as LoadedModel).entry.range);
  pad.show(c, c.width, c.height, true);
  ui.padHint.classList.add('hidden');
}

function renderSamples(samples: Sample[]): void {
  ui.samples.replaceChildren(
    ...samples.map((s, i) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.setAttribute('role', 'listitem');
      b.title = `sample ${i + 1}: ${s.label}`;
      const c = document.createElement('canvas');
      paintInput(c, s.input, (state.current as LoadedModel).entry.range);
      b.append(c);
      b.addEventListener('click', () => {
        showSampleOnPad(s.input);
        void setInput(s.input, i);
      });
      return b;
    }),
  );
}

async function openImage(file: Blob): Promise<void> {
  const current = state.current;
  if (current === null) return;
  try {
    const bitmap = await loadImageFile(file);
    pad.show(bitmap, bitmap.width, bitmap.height);
    ui.padHint.classList.add('hidden');
    const input = current.entry.preprocess === 'mnist' ? inputFromPad(pad) : resizedInput(bitmap, bitmap.width, bitmap.height, current.entry.inputShape, current.entry.range);
    bitmap.close();
    await setInput(input);
  } catch (err) {
    ui.status.textContent = `could not open the image: ${(err as Error).message}`;
    ui.status.classList.add('error');
  }
}

// ---- controls --------------------------------------------------------------------------------

function drawLegend(): void {
  const name = ui.colormap.value as ColormapName;
  const ctx = ui.legend.getContext('2d');
  if (ctx === null) return;
  const img = ctx.createImageData(256, 1);
  colormapTable(name).forEach(([r, g, b], i) => img.data.set([Math.round(r * 255), Math.round(g * 255), Math.round(b * 255), 255], 4 * i));
  ctx.putImageData(img, 0, 0);
  const diverging = name !== 'gray' && name !== 'hot';
  const spans = ui.legend.parentElement?.querySelectorAll('span');
  if (spans !== undefined && spans.length === 2) {
    spans[0].textContent = diverging ? 'against' : '0';
    spans[1].textContent = diverging ? 'for' : 'max |R|';
  }
}

function fillTargets(labels: string[]): void {
  ui.target.replaceChildren(new Option('top class', 'max'), ...labels.map((l, i) => new Option(`class ${l}`, String(i))));
}

let modelRequest = 0;

async function selectModel(id: string): Promise<void> {
  const entry = state.models.find((m) => m.id === id);
  if (entry === undefined) throw new Error(`unknown model ${id}`);
  const request = ++modelRequest;
  ui.status.textContent = `loading ${entry.title}…`;
  const loaded = await loadModel(entry);
  if (request !== modelRequest) {
    loaded.model.dispose(); // another model was picked meanwhile
    return;
  }
  await serial(() => {
    state.explainer?.explainer.dispose();
    state.explainer = null;
    state.current?.model.dispose();
    state.current = loaded;
    ui.modelDesc.textContent = `${entry.title}: ${entry.description}`;
    ui.inputShape.textContent = `${entry.inputShape.join('×')}`;
    if (ui.tagRow.hidden && entry.tag !== undefined) ui.tag.checked = true; // show the shortcut at once
    ui.tagRow.hidden = entry.tag === undefined;
    ui.tagLabel.textContent = entry.tag?.label ?? '';
    fillTargets(entry.labels);
    fillConceptLayers(loaded.model);
    renderSamples(loaded.samples);
    // the new model's input at once, so that no update pairs it with the old model's input
    const first = loaded.samples[3] ?? loaded.samples[0];
    if (first !== undefined) {
      showSampleOnPad(first.input);
      applyInput(first.input, loaded.samples.indexOf(first));
    } else {
      pad.clear();
      applyInput(inputFromPad(pad), -1);
    }
  });
  await schedule();
}

function wireControls(): void {
  for (const c of [ui.rule, ui.epsilon, ui.gamma, ui.alpha, ui.steps, ui.clip, ui.opacity, ui.target, ui.colormap, ui.conceptLayer]) {
    c.addEventListener('input', () => {
      showParams();
      if (c === ui.colormap) drawLegend();
      void schedule();
    });
  }
  ui.clear.addEventListener('click', () => {
    pad.clear();
    ui.padHint.classList.remove('hidden');
    void setInput(inputFromPad(pad));
  });
  ui.file.addEventListener('change', () => {
    const f = ui.file.files?.[0];
    if (f !== undefined) void openImage(f);
    ui.file.value = '';
  });
  ui.dropZone.addEventListener('dragover', (e) => {
    e.preventDefault();
    ui.dropZone.classList.add('dragging');
  });
  ui.dropZone.addEventListener('dragleave', () => ui.dropZone.classList.remove('dragging'));
  ui.dropZone.addEventListener('drop', (e) => {
    e.preventDefault();
    ui.dropZone.classList.remove('dragging');
    const f = e.dataTransfer?.files[0];
    if (f !== undefined) void openImage(f);
  });
  ui.model.addEventListener('change', () => void selectModel(ui.model.value));
  ui.tag.addEventListener('change', () => {
    if (state.base !== null) void setInput(state.base, state.sample);
  });
}

// ---- start -----------------------------------------------------------------------------------

/** What the browser tests use. */
interface DemoHandle {
  readonly ready: Promise<void>;
  readonly state: typeof state;
  /** Sets the model input (H×W×C values) and resolves after the page has updated. */
  setInput(pixels: number[]): Promise<Result | null>;
  /** Picks a rule/composite/method (a value of the #rule select) and resolves after the update. */
  setMethod(value: string): Promise<Result | null>;
  /** Resolves after the next update. */
  refresh(): Promise<Result | null>;
  /**
   * tf.memory().numTensors of the page less the tensors the one-shot cache holds (leak checks;
   * `explainCacheInfo()` counts those, and they are released when the cache evicts the entry).
   */
  numTensors(): number;
}

async function start(): Promise<void> {
  ui.colormap.replaceChildren(...COLORMAPS.map((c) => new Option(c, c, c === 'bwr', c === 'bwr')));
  fillMethods();
  showParams();
  drawLegend();
  wireControls();
  const forced = new URLSearchParams(location.search).get('backend');
  state.backend = await chooseBackend(forced);
  ui.backend.textContent = `${state.backend.name} · ${state.backend.detail}`;
  ui.backend.classList.toggle('cpu', state.backend.name !== 'webgl');
  const manifest = await fetchJson<{ models: ModelEntry[] }>('models/manifest.json');
  state.models = manifest.models;
  ui.model.replaceChildren(...manifest.models.map((m) => new Option(m.title, m.id)));
  await selectModel(manifest.models[0].id);
}

const ready = start();
ready.catch((err: unknown) => {
  ui.status.textContent = `could not start: ${(err as Error).message}`;
  ui.status.classList.add('error');
  console.error(err);
});

const handle: DemoHandle = {
  ready,
  state,
  async setInput(pixels) {
    await ready;
    const current = state.current as LoadedModel;
    const input: ModelInput = { pixels: Float32Array.from(pixels), shape: current.entry.inputShape };
    showSampleOnPad(input);
    await setInput(input);
    return state.result;
  },
  async setMethod(value) {
    await ready;
    ui.rule.value = value;
    if (ui.rule.value !== value) throw new Error(`no such method: ${value}`);
    showParams();
    await schedule();
    return state.result;
  },
  async refresh() {
    await ready;
    await schedule();
    return state.result;
  },
  numTensors: () => tf.memory().numTensors - explainCacheInfo().tensors,
};
(window as unknown as { __lrpDemo: DemoHandle }).__lrpDemo = handle;
