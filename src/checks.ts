/** Argument checks shared by the public calls (no tensors made). */
import * as tf from '@tensorflow/tfjs';
import { LrpArgumentError, LrpModelError } from './errors.js';
import { AttributionMethod, checkMethodOptions } from './methods.js';
import type { ExplainOptions } from './options.js';
import type { ModelPlan } from './plan.js';

/** Checks a class index argument against `classes` scores per sample and `batch` samples. */
export function checkClassIdx(classIdx: unknown, classes: number, batch: number): void {
  const check = (c: unknown, where: string) => {
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 0 || c >= classes) {
      throw new LrpArgumentError(where, `must be an integer in [0, ${classes - 1}] (the explained output has ${classes} score${classes === 1 ? '' : 's'} per sample), got ${JSON.stringify(c)}.`);
    }
  };
  if (classIdx === 'max') return;
  if (typeof classIdx === 'number') return check(classIdx, 'classIdx');
  if (Array.isArray(classIdx)) {
    if (classIdx.length !== batch) {
      throw new LrpArgumentError('classIdx', `has ${classIdx.length} entries but the batch has ${batch} samples; pass one class per sample, a single number, or 'max'.`);
    }
    classIdx.forEach((c, i) => check(c, `classIdx[${i}]`));
    return;
  }
  throw new LrpArgumentError('classIdx', `expected a class number, an array with one class per sample, or 'max', got ${JSON.stringify(classIdx)}.`);
}

/**
 * Checks the input argument against the plan's model inputs (count, rank, fixed axes, one batch
 * size, dtype) and returns it as a list.
 *
 * @throws {LrpArgumentError} naming `input` (or `input[i]`) and the expected shape
 */
export function checkInputs(plan: ModelPlan, input: unknown): tf.Tensor[] {
  const expected = plan.graph.inputs;
  const list = Array.isArray(input) ? (input as unknown[]) : [input];
  if (!Array.isArray(input) && expected.length > 1) {
    throw new LrpArgumentError('input', `the model has ${expected.length} inputs (${expected.map((i) => i.name).join(', ')}); pass an array of ${expected.length} tensors.`);
  }
  if (list.length !== expected.length) {
    throw new LrpArgumentError('input', `expected ${expected.length} tensor${expected.length === 1 ? '' : 's'} (${expected.map((i) => i.name).join(', ')}), got ${list.length}.`);
  }
  let batch: number | null = null;
  return list.map((t, i) => {
    const spec = expected[i];
    const label = expected.length === 1 ? 'input' : `input[${i}]`;
    if (!(t instanceof tf.Tensor) && !(t !== null && typeof t === 'object' && 'shape' in t && 'dtype' in t && 'dataId' in t)) {
      throw new LrpArgumentError(label, `expected a tf.Tensor of shape [batch, ${spec.shape.slice(1).map((d) => d ?? '?').join(', ')}], got ${t === null ? 'null' : typeof t}.`);
    }
    const x = t as tf.Tensor;
    if (x.isDisposed) throw new LrpArgumentError(label, 'the tensor is disposed.');
    const want = `[batch, ${spec.shape.slice(1).map((d) => d ?? '?').join(', ')}]`;
    if (x.rank !== spec.shape.length) {
      throw new LrpArgumentError(label, `expected rank ${spec.shape.length} ${want} for model input '${spec.name}', got shape [${x.shape.join(', ')}]. For one sample, add the batch axis: x.expandDims(0).`);
    }
    spec.shape.forEach((d, a) => {
      if (a > 0 && d !== null && d !== x.shape[a]) {
        throw new LrpArgumentError(label, `expected shape ${want} for model input '${spec.name}', got [${x.shape.join(', ')}] (axis ${a} is ${x.shape[a]}, the model needs ${d}).`);
      }
    });
    if (x.shape[0] === 0) throw new LrpArgumentError(label, 'the batch is empty.');
    if (batch !== null && x.shape[0] !== batch) {
      throw new LrpArgumentError(label, `batch size ${x.shape[0]} differs from the first input's ${batch}; every input needs the same batch size.`);
    }
    batch = x.shape[0];
    if (x.dtype === 'string' || x.dtype === 'complex64') throw new LrpArgumentError(label, `dtype ${x.dtype} cannot be explained; pass float32 (or int32 token ids).`);
    if (x.dtype !== 'float32' && spec.dtype === 'float32' && !feedsEmbedding(plan, spec.key)) {
      throw new LrpArgumentError(label, `is ${x.dtype}, but model input '${spec.name}' is float32 and feeds no Embedding layer, so integer values would be explained as they are not computed. Cast it first: tf.cast(x, 'float32') (scaled as in training, e.g. tf.div(tf.cast(x, 'float32'), 255) for bytes).`);
    }
    return x;
  });
}

/** Whether the model input `key` goes straight into an Embedding layer (token ids: int32 allowed). */
function feedsEmbedding(plan: ModelPlan, key: string): boolean {
  return plan.nodes.some((p) => p.node.adapter.group === 'embedding' && p.node.inputs.includes(key));
}

/** A Keras layer or model as far as disposal shows (tfjs-layers internals, duck-typed). */
interface Disposable {
  readonly name?: string;
  readonly _refCount?: number | null;
  readonly weights?: ReadonlyArray<{ readonly name?: string; readonly val?: { readonly isDisposed?: boolean } }>;
}

/**
 * Throws when the model (or the weights of one of its layers) was disposed: its weights are gone,
 * and tfjs would fail half-way through the pass with its own message.
 *
 * @throws {LrpModelError} naming the model (or the weight) and what to do
 */
export function checkNotDisposed(model: unknown): void {
  if (model === null || typeof model !== 'object') return;
  const m = model as Disposable;
  if (m._refCount === 0) {
    throw new LrpModelError(`Model '${String(m.name)}' was disposed (model.dispose()): its weights are gone, so it cannot be explained. Explain it before disposing it, or load or build it again.`);
  }
  if (m.weights !== undefined && !Array.isArray(m.weights)) {
    // a tf.GraphModel: weights by node name, disposed with the model (model.dispose())
    const graphWeights = Object.entries(m.weights as unknown as Record<string, ReadonlyArray<{ readonly isDisposed?: boolean }>>);
    const lost = graphWeights.find(([, ts]) => ts.some((t) => t.isDisposed === true));
    if (lost !== undefined) throw new LrpModelError(`Graph model weight '${lost[0]}' was disposed (model.dispose()), so the model cannot be explained. Explain it before disposing it, or load it again.`);
    return;
  }
  const gone = (m.weights ?? []).find((w) => w.val?.isDisposed === true);
  if (gone !== undefined) {
    throw new LrpModelError(`Weight '${String(gone.name)}' of model '${String(m.name)}' was disposed (a layer or a model sharing it was disposed), so the model cannot be explained. Load or build the model again.`);
  }
}

/**
 * Checks `options.outputRelevance`: `'logit'`, `'one'`, or a tensor of the explained output's
 * shape (with or without the batch axis).
 */
export function checkOutputRelevance(plan: ModelPlan, custom: unknown, batch: number): void {
  if (custom === undefined || custom === 'logit' || custom === 'one') return;
  if (!(custom instanceof tf.Tensor)) throw new LrpArgumentError('options.outputRelevance', `expected 'logit', 'one' or a tensor, got ${JSON.stringify(custom)}.`);
  const want = [batch, ...plan.outputShape];
  if (custom.size !== batch * plan.outputSize && custom.size !== plan.outputSize) {
    throw new LrpArgumentError('options.outputRelevance', `a tensor must have the output's shape [${want.join(', ')}] (or without the batch axis), got [${custom.shape.join(', ')}].`);
  }
}

/**
 * Checks a call of a gradient method (not `'lrp'`): its options, inputs that can be moved
 * continuously (no Embedding behind them for Integrated Gradients and SmoothGrad), and no
 * per-layer conservation.
 */
export function checkMethodCall(plan: ModelPlan, method: Exclude<AttributionMethod, 'lrp'>, options: ExplainOptions, inputs: readonly tf.Tensor[], layerSums: boolean): void {
  checkMethodOptions(method, options, inputs);
  if (method === 'integratedGradients' || method === 'smoothGrad') {
    plan.graph.inputs.forEach((input, i) => {
      const embedded = plan.nodes.some((p) => p.node.adapter.group === 'embedding' && p.node.inputs.includes(input.key));
      if (embedded) throw new LrpArgumentError(inputs.length === 1 ? 'input' : `input[${i}]`, `feeds an Embedding: token ids cannot be interpolated or perturbed by method '${method}'. Use 'gradient' or LRP for text inputs.`);
    });
  }
  if (layerSums) throw new LrpArgumentError('perLayer', `per-layer conservation applies to method 'lrp' only, not '${method}'.`);
}
