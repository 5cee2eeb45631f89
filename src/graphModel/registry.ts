/**
 * Op adapters by TF op name (a registry of its own, beside the Keras layer registry): one
 * {@link LayerAdapter} per op, or a function of the op node choosing one (e.g. `Mul` by a
 * constant vs `Mul` of two tensors). Lives on a global, like the layer registry.
 */
import type { LayerAdapter } from '../layers/adapter.js';
import { GROUP_DEFAULTS } from '../../rules/groups.js';
import { LrpLayerError } from '../errors.js';
import * as el from './ops/elementwise.js';
import * as lin from './ops/linear.js';
import { fusedBatchNormOp } from './ops/normalization.js';
import * as pool from './ops/pooling.js';
import * as rs from './ops/reshaping.js';
import type { OpLayer } from './opLayer.js';

/** An op adapter: one for every node of the op, or chosen per node (constant operands, …). */
export type OpAdapter = LayerAdapter | ((layer: OpLayer) => LayerAdapter);

const KEY = Symbol.for('tfjs-lrp.graphOps');
type Holder = { [KEY]?: Map<string, OpAdapter> };

function builtins(): Map<string, OpAdapter> {
  return new Map<string, OpAdapter>([
    ['Conv2D', lin.conv2dOpAdapter],
    ['_FusedConv2D', lin.conv2dOpAdapter],
    ['DepthwiseConv2dNative', lin.depthwiseOpAdapter],
    ['FusedDepthwiseConv2dNative', lin.depthwiseOpAdapter],
    ['MatMul', lin.matMulOpAdapter],
    ['_FusedMatMul', lin.matMulOpAdapter],
    ['Conv2DBackpropInput', lin.conv2dBackpropInputOpAdapter],
    ['BiasAdd', el.addOp],
    ['Add', el.addOp],
    ['AddV2', el.addOp],
    ['AddN', el.addOp],
    ['Sub', el.subOp],
    ['Mul', el.mulOp],
    ['RealDiv', el.divOp],
    ['Div', el.divOp],
    ['Maximum', el.selectOp],
    ['Minimum', el.selectOp],
    ['Relu', el.reluOp],
    ['Relu6', el.relu6Op],
    ['Elu', el.eluOp],
    ['Selu', el.seluOp],
    ['Softplus', el.softplusOp],
    ['LeakyRelu', el.leakyReluOp],
    ['Prelu', el.preluOp],
    ['Sigmoid', el.sigmoidOp],
    ['Tanh', el.tanhOp],
    ['Softmax', el.softmaxOp],
    ['Swish', el.swishOp],
    ['MaxPool', pool.maxPoolOp],
    ['AvgPool', pool.avgPoolOp],
    ['Mean', pool.meanOp],
    ['Max', pool.maxOp],
    ['Reshape', rs.reshapeOp],
    ['Squeeze', rs.squeezeOp],
    ['ExpandDims', rs.expandDimsOp],
    ['Identity', rs.identityOp],
    ['Pad', rs.padOp],
    ['PadV2', rs.padOp],
    ['MirrorPad', rs.padOp],
    ['ConcatV2', rs.concatOp],
    ['StridedSlice', rs.stridedSliceOp],
    ['Slice', rs.sliceOp],
    ['Transpose', rs.transposeOp],
    ['FusedBatchNorm', fusedBatchNormOp],
    ['FusedBatchNormV3', fusedBatchNormOp],
  ]);
}

function registry(): Map<string, OpAdapter> {
  const holder = globalThis as Holder;
  holder[KEY] ??= builtins();
  return holder[KEY];
}

/** Teaches tfjs-lrp a TF op (or replaces a built-in one's adapter). */
export function registerOp(opName: string, adapter: OpAdapter): void {
  registry().set(opName, adapter);
}

/** Removes a registered op (a built-in one too); removing an op that is not registered throws. */
export function unregisterOp(opName: string): void {
  if (!registry().delete(opName)) throw new LrpLayerError(opName, opName, `unregisterOp('${opName}'): no such op is registered.`);
}

/** The adapter registered for an op, or `undefined`. */
export function opAdapterFor(op: string): OpAdapter | undefined {
  return registry().get(op);
}

/** All registered op names. */
export function opNames(): string[] {
  return [...registry().keys()];
}

/** Control-flow ops: tfjs-lrp explains static graphs only. */
export const CONTROL_FLOW_OPS: readonly string[] = ['Switch', 'Merge', 'Enter', 'Exit', 'NextIteration', 'LoopCond', 'If', 'StatelessIf', 'While', 'StatelessWhile', 'TensorListReserve', 'TensorListFromTensor', 'TensorListStack', 'TensorListGetItem', 'TensorListSetItem', 'TensorArrayV3', 'TensorArrayReadV3', 'TensorArrayWriteV3', 'PartitionedCall', 'StatefulPartitionedCall'];

/** Ops whose output shape depends on the values (or that read shapes at run time). */
export const DYNAMIC_OPS: readonly string[] = ['Shape', 'ShapeN', 'Size', 'Rank', 'NonMaxSuppressionV2', 'NonMaxSuppressionV3', 'NonMaxSuppressionV4', 'NonMaxSuppressionV5', 'Where', 'Unique', 'ListDiff', 'SparseToDense', 'Bincount', 'DenseBincount', 'TopKV2', 'HashTable', 'HashTableV2', 'LookupTableFind', 'LookupTableFindV2', 'LookupTableImport', 'LookupTableImportV2', 'LookupTableSize', 'LookupTableSizeV2'];

/** Throws for control-flow and dynamic ops (they are refused, not unknown). */
export function refuseOp(name: string, op: string): void {
  if (CONTROL_FLOW_OPS.includes(op)) {
    throw new LrpLayerError(name, op, `Node '${name}' (${op}) is control flow: which branch or how many loop steps run depends on the values, so there is no fixed graph to propagate relevance through. tfjs-lrp explains static graphs; convert the model without tf.cond/tf.while_loop (or export the branch you want as its own model).`);
  }
  if (DYNAMIC_OPS.includes(op)) {
    throw new LrpLayerError(name, op, `Node '${name}' (${op}) has a value-dependent (dynamic) output or reads shapes at run time; tfjs-lrp explains graphs with static shapes. Export the part of the model before this op (e.g. the backbone and classifier without the post-processing).`);
  }
}

/** One row of {@link opTable}. */
export interface OpTableRow {
  /** The TF op, e.g. `'_FusedConv2D'`. */
  readonly op: string;
  /** How tfjs-lrp handles it: per variant (`'by a constant: pass'`, …), the group and default rule. */
  readonly handling: string;
  /** One line: what that handling does. */
  readonly note: string;
}

/** A stub op node for describing variant adapters (`Mul` by a constant vs of two tensors). */
function stubLayer(op: string, operands: ReadonlyArray<null | 'const'>): OpLayer {
  const constant = { name: 'c', value: () => { throw new Error('stub'); }, values: null, shape: null };
  return { name: op, op, getClassName: () => op, attrs: {}, operands: operands.map((o) => (o === null ? null : constant)), foldedBias: null, run: () => { throw new Error('stub'); } };
}

function ruleOf(adapter: LayerAdapter): string {
  if (adapter.group === 'dense' || adapter.group === 'conv') return `the rule or composite (${adapter.group})`;
  const rule = GROUP_DEFAULTS[adapter.group].rule;
  return rule === null ? 'refused' : `\`${rule}\` (${adapter.group})`;
}

/** Every registered op with its handling, then the refused control-flow and dynamic ops (for docs tables). */
export function opTable(): readonly OpTableRow[] {
  const rows = [...registry().entries()].map(([op, entry]): OpTableRow => {
    if (typeof entry !== 'function') return { op, handling: ruleOf(entry), note: entry.note ?? '' };
    const variants: Array<[string, ReadonlyArray<null | 'const'>]> = [['of graph tensors', [null, null]], ['with a constant operand', [null, 'const']]];
    const described = variants.map(([label, operands]) => {
      const a = entry(stubLayer(op, operands));
      return { label, rule: a.check === undefined ? ruleOf(a) : 'refused', note: a.note ?? '' };
    });
    return { op, handling: described.map((d) => `${d.label}: ${d.rule}`).join('; '), note: described.map((d) => d.note).filter((n) => n !== '').join('; ') };
  });
  return [
    ...rows,
    { op: CONTROL_FLOW_OPS.join(', '), handling: 'refused (LrpLayerError)', note: 'control flow: no fixed graph to propagate relevance through' },
    { op: DYNAMIC_OPS.join(', '), handling: 'refused (LrpLayerError)', note: 'value-dependent (dynamic) shapes' },
  ];
}
