/**
 * Introspector: a LayersModel (Sequential, functional, nested) → a plain {@link ModelGraph}.
 * It reads the symbolic graph (model.outputs back to model.inputs) and opens nested models, so
 * a Sequential inside a Model becomes its layers. It never changes the model.
 */
import type * as tf from '@tensorflow/tfjs';
import { LrpLayerError, LrpModelError } from './errors.js';
import type { GraphInput, GraphNode, ModelGraph } from './graph.js';
import type { Layer, LayerAdapter } from './layers/adapter.js';
import { adapterFor } from './layers/registry.js';
import { introspectGraphModel, isGraphModel } from './graphModel/introspect.js';

interface SymbolicTensorLike {
  readonly id: number;
  readonly name: string;
  readonly shape: ReadonlyArray<number | null>;
  readonly dtype: tf.DataType;
  readonly sourceLayer: Layer;
  readonly nodeIndex: number;
}

interface KerasNodeLike {
  readonly inputTensors: SymbolicTensorLike[];
  readonly outputTensors: SymbolicTensorLike[];
}

interface ContainerLike {
  readonly name: string;
  readonly layers: Layer[];
  readonly inputs: SymbolicTensorLike[];
  readonly outputs: SymbolicTensorLike[];
  getClassName(): string;
}

/** An adapter for classes tfjs-lrp does not know: plan assigns a user rule or reports them. */
export const UNKNOWN_LAYER: LayerAdapter = Object.freeze({ group: 'other' as const });

/** True for a LayersModel, Sequential or nested model (duck-typed: two tfjs copies may exist). */
export function isLayersModel(value: unknown): value is tf.LayersModel {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Partial<ContainerLike> & { predict?: unknown };
  return typeof v.getClassName === 'function' && Array.isArray(v.layers) && Array.isArray(v.inputs) && Array.isArray(v.outputs);
}

function inboundNodes(layer: Layer): KerasNodeLike[] {
  return (layer as unknown as { inboundNodes: KerasNodeLike[] }).inboundNodes;
}

/** Reads a model into a plain graph. */
export function introspect(model: unknown): ModelGraph {
  if (isGraphModel(model)) return introspectGraphModel(model);
  if (!isLayersModel(model)) {
    const what = model === null ? 'null' : typeof model === 'object' ? ((model as { constructor?: { name?: string } }).constructor?.name ?? 'object') : typeof model;
    throw new LrpModelError(`Argument 'model' must be a tf.LayersModel (tf.sequential(), tf.model() or tf.loadLayersModel()) or a tf.GraphModel (tf.loadGraphModel()), got ${what}.`);
  }
  const top = model as unknown as ContainerLike;
  if (top.outputs.length === 0 || top.inputs.length === 0) {
    throw new LrpModelError(`Model '${top.name}' has no inputs or outputs yet. Add layers with an inputShape (or call model.build) before explaining it.`);
  }
  const nodes: GraphNode[] = [];
  const inputs: GraphInput[] = [];

  // `scope` names nodes (outer/inner/layer); `idScope` also tells apart the calls of a nested
  // model used more than once (each call is its own copy of the sub-graph).
  const expand = (container: ContainerLike, scope: string, idScope: string, inputKeys: readonly string[] | null): string[] => {
    const keys = new Map<number, string>();
    container.inputs.forEach((t, i) => {
      if (inputKeys !== null) {
        keys.set(t.id, inputKeys[i]);
      } else {
        const key = `input:${i}`;
        keys.set(t.id, key);
        inputs.push({ key, name: t.sourceLayer?.name ?? t.name, shape: t.shape, dtype: t.dtype });
      }
    });
    const visit = (t: SymbolicTensorLike): string => {
      const known = keys.get(t.id);
      if (known !== undefined) return known;
      const layer = t.sourceLayer;
      const name = `${scope}${layer.name}`;
      const className = layer.getClassName();
      const knode = inboundNodes(layer)[t.nodeIndex];
      if (knode === undefined || className === 'InputLayer') {
        throw new LrpModelError(`Model '${top.name}': tensor '${t.name}' comes from '${name}' (${className}), which is not one of the model inputs. Build the model with tf.model({ inputs, outputs }) over all of its inputs.`);
      }
      const ins = knode.inputTensors.map(visit);
      if (isLayersModel(layer)) {
        const outs = expand(layer as unknown as ContainerLike, `${name}/`, `${idScope}${layer.name}@${t.nodeIndex}/`, ins);
        knode.outputTensors.forEach((o, i) => keys.set(o.id, outs[i]));
      } else if (adapterFor(className)?.expand !== undefined) {
        // a wrapper (TimeDistributed, Bidirectional): the nodes it stands for
        const expanded = (adapterFor(className) as Required<Pick<LayerAdapter, 'expand'>>).expand(layer, { id: `${idScope}${layer.name}@${t.nodeIndex}`, name, inputs: ins });
        if (expanded.outputs.length !== knode.outputTensors.length) throw new LrpModelError(`internal: '${name}' (${className}) expanded into ${expanded.outputs.length} outputs, the layer has ${knode.outputTensors.length}.`);
        nodes.push(...expanded.nodes);
        knode.outputTensors.forEach((o, i) => keys.set(o.id, expanded.outputs[i]));
      } else {
        const adapter = adapterFor(className) ?? UNKNOWN_LAYER;
        if (knode.outputTensors.length !== 1 && adapter.innerLinear === undefined) {
          throw new LrpLayerError(name, className, `Layer '${name}' (${className}) has ${knode.outputTensors.length} outputs; tfjs-lrp explains single-output layers only.`);
        }
        adapter.check?.(layer, name);
        const id = `${idScope}${layer.name}@${t.nodeIndex}`;
        // further outputs (a recurrent layer's returnState states) get keys of their own
        const extraOutputs = knode.outputTensors.slice(1).map((_, i) => `${id}#${i + 1}`);
        nodes.push({ id, name, className, layer, adapter, op: { kind: 'layer' }, inputs: ins, output: id, ...(extraOutputs.length > 0 ? { extraOutputs } : {}), notes: [] });
        knode.outputTensors.forEach((o, i) => keys.set(o.id, i === 0 ? id : extraOutputs[i - 1]));
      }
      const key = keys.get(t.id);
      if (key === undefined) throw new LrpModelError(`Model '${top.name}': could not resolve tensor '${t.name}' of '${name}'.`);
      return key;
    };
    return container.outputs.map(visit);
  };

  const outputs = expand(top, '', '', null);
  return { modelName: top.name, nodes, inputs, outputs, outputShapes: top.outputs.map((t) => t.shape) };
}
