/**
 * The plain description of a model that the introspector produces and canonizers rewrite:
 * nodes in forward (topological) order, connected by tensor keys. It references the user's
 * layers only to read their configuration and weights; nothing here mutates them.
 */
import type * as tf from '@tensorflow/tfjs';
import type { ActivationFn, Layer, LayerAdapter, LinearPart } from './layers/adapter.js';

/** What a node computes. */
export type NodeOp =
  /** A layer run by its adapter. */
  | { readonly kind: 'layer' }
  /** One linear part of a Dense/Conv layer, its activation split off, BatchNorm maybe merged. */
  | { readonly kind: 'linear'; readonly part: LinearPart; readonly mergedBatchNorm: Layer | null }
  /** An activation split from a Dense/Conv layer. */
  | { readonly kind: 'activation'; readonly activation: ActivationFn }
  /** A BatchNormalization merged into the layer before it: the identity. */
  | { readonly kind: 'merged' };

/** One node of the graph. */
export interface GraphNode {
  /** Unique id within the graph. */
  readonly id: string;
  /** Layer name; nested models as `outer/inner`; split parts as `name:part`. */
  readonly name: string;
  /** Keras class name of the source layer. */
  readonly className: string;
  /** The user's layer (read only). */
  readonly layer: Layer;
  readonly adapter: LayerAdapter;
  readonly op: NodeOp;
  /** Keys of the input tensors. */
  readonly inputs: readonly string[];
  /** Key of the output tensor. */
  readonly output: string;
  /**
   * Keys of a layer's further outputs (a recurrent layer's `returnState` states), in the
   * layer's order after `output`. Only layers with an `innerLinear` adapter have them.
   */
  readonly extraOutputs?: readonly string[];
  /** What canonization did to this node, for descriptions. */
  readonly notes: readonly string[];
}

/** A model input. */
export interface GraphInput {
  readonly key: string;
  readonly name: string;
  /** Shape with `null` for the batch (and any free) dimension. */
  readonly shape: ReadonlyArray<number | null>;
  readonly dtype: tf.DataType;
}

/** A model as a plain graph. */
export interface ModelGraph {
  readonly modelName: string;
  readonly nodes: readonly GraphNode[];
  readonly inputs: readonly GraphInput[];
  /** Keys of the model outputs, in order. */
  readonly outputs: readonly string[];
  /** Output shapes, batch dimension `null`. */
  readonly outputShapes: ReadonlyArray<ReadonlyArray<number | null>>;
}
