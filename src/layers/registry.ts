/**
 * Layer adapters by Keras class name (`getClassName()`, robust against minification and two
 * copies of tfjs). Lives on a global, like the rule registry.
 */
import type { Rule } from '../../rules/types.js';
import { LrpLayerError } from '../errors.js';
import * as activations from './activations.js';
import { averageAdapter, multiplyAdapter } from './averageMultiply.js';
import type { LayerAdapter } from './adapter.js';
import { embeddingAdapter } from './embedding.js';
import { GROUP_DEFAULTS, LAYER_GROUPS, type LayerGroup } from './group.js';
import { identityAdapter } from './identity.js';
import * as linear from './linear.js';
import { averagePooling3dAdapter, conv3dAdapter, conv3dTransposeAdapter, maxPooling3dAdapter } from './conv3d.js';
import { dotAdapter } from './dot.js';
import { layerNormalizationAdapter } from './layerNormalization.js';
import * as preprocessing from './preprocessing.js';
import { maximumAdapter, minimumAdapter } from './select.js';
import { addAdapter, concatenateAdapter } from './merging.js';
import { batchNormAdapter } from './normalization.js';
import * as pooling from './pooling.js';
import * as recurrent from './recurrent.js';
import * as reshaping from './reshaping.js';
import * as wrappers from './wrappers.js';

const KEY = Symbol.for('tfjs-lrp.layers');
type Holder = { [KEY]?: Map<string, LayerAdapter> };

function builtins(): Map<string, LayerAdapter> {
  return new Map<string, LayerAdapter>([
    ['Dense', linear.denseAdapter],
    ['Conv1D', linear.conv1dAdapter],
    ['Conv2D', linear.conv2dAdapter],
    ['Conv2DTranspose', linear.conv2dTransposeAdapter],
    ['DepthwiseConv2D', linear.depthwiseConv2dAdapter],
    ['SeparableConv2D', linear.separableConv2dAdapter],
    ['Activation', activations.activationLayerAdapter],
    ['ReLU', activations.reluAdapter],
    ['LeakyReLU', activations.leakyReluAdapter],
    ['PReLU', activations.preluAdapter],
    ['ELU', activations.eluAdapter],
    ['ThresholdedReLU', activations.thresholdedReluAdapter],
    ['Softmax', activations.softmaxAdapter],
    ['MaxPooling1D', pooling.maxPoolingAdapter],
    ['MaxPooling2D', pooling.maxPoolingAdapter],
    ['AveragePooling1D', pooling.averagePoolingAdapter],
    ['AveragePooling2D', pooling.averagePoolingAdapter],
    ['GlobalAveragePooling1D', pooling.globalAveragePoolingAdapter],
    ['GlobalAveragePooling2D', pooling.globalAveragePoolingAdapter],
    ['GlobalMaxPooling1D', pooling.globalMaxPoolingAdapter],
    ['GlobalMaxPooling2D', pooling.globalMaxPoolingAdapter],
    ['Flatten', reshaping.reshapeAdapter],
    ['Reshape', reshaping.reshapeAdapter],
    ['Permute', reshaping.permuteAdapter],
    ['ZeroPadding2D', reshaping.zeroPadding2dAdapter],
    ['Cropping2D', reshaping.cropping2dAdapter],
    ['UpSampling2D', reshaping.upSampling2dAdapter],
    ['Add', addAdapter],
    ['Concatenate', concatenateAdapter],
    ['BatchNormalization', batchNormAdapter],
    ['Dropout', identityAdapter],
    ['SpatialDropout1D', identityAdapter],
    ['SpatialDropout2D', identityAdapter],
    ['GaussianNoise', identityAdapter],
    ['GaussianDropout', identityAdapter],
    ['AlphaDropout', identityAdapter],
    ['Embedding', embeddingAdapter],
    ['Conv3D', conv3dAdapter],
    ['Conv3DTranspose', conv3dTransposeAdapter],
    ['MaxPooling3D', maxPooling3dAdapter],
    ['AveragePooling3D', averagePooling3dAdapter],
    ['LayerNormalization', layerNormalizationAdapter],
    ['Dot', dotAdapter],
    ['Maximum', maximumAdapter],
    ['Minimum', minimumAdapter],
    ['Rescaling', preprocessing.rescalingAdapter],
    ['CenterCrop', preprocessing.centerCropAdapter],
    ['CategoryEncoding', preprocessing.categoryEncodingAdapter],
    ['Resizing', preprocessing.resizingAdapter],
    ['RandomWidth', preprocessing.randomWidthAdapter],
    ['LSTM', recurrent.recurrentAdapter],
    ['GRU', recurrent.recurrentAdapter],
    ['SimpleRNN', recurrent.recurrentAdapter],
    ['RNN', recurrent.recurrentAdapter],
    ['ConvLSTM2D', recurrent.recurrentAdapter],
    ['Masking', recurrent.maskingAdapter],
    ['Average', averageAdapter],
    ['Multiply', multiplyAdapter],
    ['RepeatVector', wrappers.repeatVectorAdapter],
    ['TimeDistributed', wrappers.timeDistributedAdapter(adapterFor)],
    ['Bidirectional', wrappers.bidirectionalAdapter(adapterFor)],
  ]);
}

function registry(): Map<string, LayerAdapter> {
  const holder = globalThis as unknown as Holder;
  if (holder[KEY] === undefined) holder[KEY] = builtins();
  return holder[KEY] as Map<string, LayerAdapter>;
}

/** The adapter of a Keras class, or undefined when tfjs-lrp does not know it. */
export function adapterFor(className: string): LayerAdapter | undefined {
  return registry().get(className);
}

/** Teaches tfjs-lrp a layer class (replaces an existing adapter with a warning). */
export function registerLayer(className: string, adapter: LayerAdapter): void {
  if (typeof className !== 'string' || className === '' || adapter === null || typeof adapter !== 'object' || typeof adapter.group !== 'string') {
    throw new LrpLayerError(String(className), String(className), 'registerLayer(className, adapter) needs a class name and an adapter with at least a `group`.');
  }
  if (!LAYER_GROUPS.includes(adapter.group)) {
    throw new LrpLayerError(className, className, `registerLayer('${className}'): unknown group '${String(adapter.group)}'. Groups: ${LAYER_GROUPS.join(', ')} ('other' for a class of your own).`);
  }
  if (registry().has(className)) console.warn(`tfjs-lrp: layer class '${className}' is registered again; the new adapter replaces the old one.`);
  registry().set(className, adapter);
}

/**
 * Gives every layer of a class (e.g. your own custom layer) a rule. The layer runs with its own
 * `apply`; rules that need its Jacobian (gradient, norm) differentiate through it.
 *
 * @example registerLayerRule('MyScale', makeRule('pass'))
 */
export function registerLayerRule(className: string, rule: Rule, group: LayerGroup = 'other'): void {
  const existing = registry().get(className);
  if (existing !== undefined && existing.defaultRule === undefined && existing.group !== 'other') {
    throw new LrpLayerError(className, className, `registerLayerRule('${className}'): ${className} is a built-in layer class whose rule comes from the composite; choose its rule per call with options.layerRules = { ${className}: rule } or in a composite.`);
  }
  registerLayer(className, { ...(existing ?? { group }), defaultRule: () => rule });
}

/** Removes a registered class; removing a class that is not registered throws. */
export function unregisterLayer(className: string): void {
  if (!registry().delete(className)) {
    throw new LrpLayerError(className, className, `unregisterLayer('${className}'): no such layer class is registered.`);
  }
}

/** All registered class names. */
export function layerClassNames(): string[] {
  return [...registry().keys()];
}

/** One row of {@link layerTable}. */
export interface LayerTableRow {
  /** The Keras class name, e.g. `'MaxPooling2D'`. */
  readonly className: string;
  readonly group: LayerGroup;
  /**
   * The rule a layer of the class gets when no `layerRules`, `firstLayer` or composite entry
   * matches: the class's registered rule, else its group's default (`GROUP_DEFAULTS`), else
   * `'none'` (Dense/Conv take the rule or composite's rule; other layers throw unless mapped or
   * `unknownLayers: 'gradient'`); `'expanded'` for wrappers (TimeDistributed, Bidirectional),
   * whose parts get their own rules; `'refused'` for a built-in class that is an LrpLayerError
   * (the note says why, e.g. Resizing, which tfjs 4.22 cannot run inside a model).
   */
  readonly defaultRule: string;
  /** One line: what that rule does for this class. */
  readonly note: string;
}

/** Every registered Keras class with its group and default rule (for docs tables), in registration order. */
export function layerTable(): readonly LayerTableRow[] {
  return [...registry().entries()].map(([className, adapter]) => {
    const group = adapter.group;
    const fallback = GROUP_DEFAULTS[group];
    if (adapter.expand !== undefined) return { className, group, defaultRule: 'expanded', note: adapter.note ?? 'expanded into the layers it wraps' };
    if (adapter.defaultRule !== undefined) {
      return { className, group, defaultRule: adapter.defaultRule().name, note: adapter.note ?? 'the rule registered for the class (registerLayerRule)' };
    }
    // (a built-in 'other' class without a rule is a refusal: its note says why)
    const refusal = group === 'other' && adapter.note !== undefined;
    return { className, group, defaultRule: refusal ? 'refused' : (fallback.rule ?? 'none'), note: fallback.rule === null && !refusal ? fallback.why : (adapter.note ?? fallback.why) };
  });
}
