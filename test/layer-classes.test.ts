/**
 * Issue #15: every layer class tfjs-layers registers (tf.serialization.SerializationMap) has either
 * an adapter with a rule, or a documented and tested refusal with a clear message. The expected
 * disposition of every class is written out below, so a class that tfjs adds (or that loses its
 * adapter) fails this test.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { describe as describePlan, LrpLayerError } from '../src';
import { adapterFor, layerTable } from '../src/layers/registry';

type Disposition =
  /** An adapter with a rule (its group's default, its own, or the Dense/Conv rule). */
  | 'adapter'
  /** Opened by the introspector (containers, the input layer): no node of its own. */
  | 'container'
  /** A typed LrpLayerError naming the tfjs limitation (tested below and in layers-more.test.ts). */
  | 'refused'
  /** The recurrent and wrapper classes of issue #14 (other work): an adapter once registered. */
  | 'issue14'
  /** A recurrent cell: runs inside its RNN layer (covered by that layer's adapter), never a node. */
  | 'cell';

/** Every layer class tfjs-layers 4.22 registers, with what tfjs-lrp does with it. */
const EXPECTED: Readonly<Record<string, Disposition>> = {
  Activation: 'adapter',
  Add: 'adapter',
  AlphaDropout: 'adapter',
  Average: 'issue14',
  AveragePooling1D: 'adapter',
  AveragePooling2D: 'adapter',
  AveragePooling3D: 'adapter',
  BatchNormalization: 'adapter',
  Bidirectional: 'issue14',
  CategoryEncoding: 'adapter',
  CenterCrop: 'adapter',
  Concatenate: 'adapter',
  Conv1D: 'adapter',
  Conv2D: 'adapter',
  Conv2DTranspose: 'adapter',
  Conv3D: 'adapter',
  Conv3DTranspose: 'adapter',
  ConvLSTM2D: 'issue14',
  ConvLSTM2DCell: 'cell',
  Cropping2D: 'adapter',
  Dense: 'adapter',
  DepthwiseConv2D: 'adapter',
  Dot: 'adapter',
  Dropout: 'adapter',
  ELU: 'adapter',
  Embedding: 'adapter',
  Flatten: 'adapter',
  Functional: 'container',
  GRU: 'issue14',
  GRUCell: 'cell',
  GaussianDropout: 'adapter',
  GaussianNoise: 'adapter',
  GlobalAveragePooling1D: 'adapter',
  GlobalAveragePooling2D: 'adapter',
  GlobalMaxPooling1D: 'adapter',
  GlobalMaxPooling2D: 'adapter',
  InputLayer: 'container',
  LSTM: 'issue14',
  LSTMCell: 'cell',
  LayerNormalization: 'adapter',
  LeakyReLU: 'adapter',
  Masking: 'issue14',
  MaxPooling1D: 'adapter',
  MaxPooling2D: 'adapter',
  MaxPooling3D: 'adapter',
  Maximum: 'adapter',
  Minimum: 'adapter',
  Model: 'container',
  Multiply: 'issue14',
  PReLU: 'adapter',
  Permute: 'adapter',
  RNN: 'issue14',
  RandomWidth: 'refused',
  ReLU: 'adapter',
  RepeatVector: 'issue14',
  Rescaling: 'adapter',
  Reshape: 'adapter',
  Resizing: 'refused',
  SeparableConv2D: 'adapter',
  Sequential: 'container',
  SimpleRNN: 'issue14',
  SimpleRNNCell: 'cell',
  Softmax: 'adapter',
  SpatialDropout1D: 'adapter',
  StackedRNNCells: 'cell',
  ThresholdedReLU: 'adapter',
  TimeDistributed: 'issue14',
  UpSampling2D: 'adapter',
  ZeroPadding2D: 'adapter',
};

/** The RNN layer whose adapter runs each cell class. */
const CELL_OWNER: Readonly<Record<string, string>> = {
  LSTMCell: 'RNN',
  GRUCell: 'RNN',
  SimpleRNNCell: 'RNN',
  StackedRNNCells: 'RNN',
  ConvLSTM2DCell: 'ConvLSTM2D',
};

/** The layer classes in tfjs' serialization registry (initializers, optimizers… left out). */
function tfjsLayerClasses(): string[] {
  const map = tf.serialization.SerializationMap.getMap().classNameMap as Record<string, [unknown, unknown]>;
  return Object.keys(map)
    .filter((name) => {
      const cls = map[name][0] as { prototype?: unknown };
      return typeof cls === 'function' && cls.prototype instanceof tf.layers.Layer;
    })
    .sort();
}

const byDisposition = (d: Disposition): string[] => Object.keys(EXPECTED).filter((c) => EXPECTED[c] === d);

describe('every layer class tfjs-layers registers (issue #15)', () => {
  test('the enumeration is the expected list (a class tfjs adds must be given a disposition here)', () => {
    expect(tfjsLayerClasses()).toEqual(Object.keys(EXPECTED).sort());
  });

  test.each(byDisposition('adapter'))('%s has an adapter with a rule, and a row in the docs layer table', (cls) => {
    const adapter = adapterFor(cls);
    expect(adapter).toBeDefined();
    const row = layerTable().find((r) => r.className === cls);
    expect(row).toBeDefined();
    // a rule: the group's default, the class's own, or (dense/conv) the rule of the composite
    const group = adapter?.group;
    expect(row?.defaultRule !== 'none' || group === 'dense' || group === 'conv').toBe(true);
    expect(adapter?.note ?? '').not.toMatch(/refused/);
  });

  test.each(byDisposition('refused'))('%s is a documented refusal that names the tfjs limitation', (cls) => {
    const adapter = adapterFor(cls);
    expect(adapter).toBeDefined();
    expect(adapter?.note).toMatch(/refused: tfjs 4\.22 cannot run this layer/);
    const layer = cls === 'Resizing' ? tf.layers.resizing({ height: 2, width: 2, name: 'r' }) : tf.layers.randomWidth({ factor: 0.2, name: 'r' });
    let caught: unknown = null;
    try {
      adapter?.check?.(layer, 'r');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(LrpLayerError);
    expect((caught as LrpLayerError).className).toBe(cls);
    expect((caught as Error).message).toMatch(/tfjs-layers 4\.22/);
    const docs = fs.readFileSync(path.join(__dirname, '..', 'docs', 'layers.md'), 'utf8');
    expect(docs).toMatch(new RegExp(`\\*\\*${cls}\\*\\*[^\\n]*(cannot|refus)`));
  });

  test('the containers are opened by the introspector (a nested Sequential in a Model)', () => {
    const inner = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 2, name: 'inner_dense' })], name: 'inner' });
    const input = tf.input({ shape: [3] });
    const model = tf.model({ inputs: input, outputs: inner.apply(input) as tf.SymbolicTensor });
    expect(describePlan(model).map((r) => r.layer)).toEqual(['inner/inner_dense']);
    for (const cls of byDisposition('container')) expect(adapterFor(cls)).toBeUndefined();
    model.dispose();
  });

  // Issue #14 (other work, in progress in parallel): these fail until the classes are registered.
  test.each(byDisposition('issue14'))('%s (covered by #14 work) is registered', (cls) => {
    expect(adapterFor(cls)).toBeDefined();
  });

  test.each(byDisposition('cell'))('%s (a cell, covered by #14 work) runs inside a registered layer', (cls) => {
    expect(adapterFor(CELL_OWNER[cls])).toBeDefined();
  });
});
