/**
 * The outputs of a model, for people: which output the CLI explains must be chosen explicitly
 * when a model has several (explaining output 0 of a model whose first output is, say, a padded
 * copy of the input would be silently wrong).
 */
import type * as tf from '@tensorflow/tfjs';
import { LrpArgumentError } from '../../errors.js';
import type { LoadedModel } from '../loadModel.js';

/**
 * Whether `model` is a `tf.GraphModel` (duck-typed: a model from another copy of tfjs counts
 * too): it has an executor and named input/output nodes, and no layers.
 */
export function isGraphModelLike(model: LoadedModel): model is tf.GraphModel {
  return !('layers' in model) && typeof (model as { execute?: unknown }).execute === 'function';
}

/** One output of a model. */
export interface ModelOutputInfo {
  /** Its index (`--output k`, ExplainOptions.output). */
  readonly index: number;
  /** The name of the layer that produces it (a graph model: the output node's name). */
  readonly layer: string;
  /** Its shape without the batch axis (null: unknown size). */
  readonly shape: ReadonlyArray<number | null>;
}

/** Every output of `model`, in order (a graph model: its output nodes; unknown sizes are null). */
export function listOutputs(model: LoadedModel): ModelOutputInfo[] {
  if (isGraphModelLike(model)) {
    return model.outputs.map((t, index) => ({ index, layer: t.name.replace(/:0$/, ''), shape: t.shape === undefined ? [null] : t.shape.slice(1).map((d) => (d < 0 ? null : d)) }));
  }
  return model.outputs.map((t, index) => ({ index, layer: model.outputLayers[index]?.name ?? t.name, shape: t.shape.slice(1) }));
}

/**
 * The index of the output that `output` names: an index (a number, or a string of digits, as
 * `--output 1` gives it), or the name of an output node (graph models: `Identity`, `Identity:0`)
 * or output layer (layers models). Undefined stays undefined.
 *
 * @throws {LrpArgumentError} (the `argument`) for a name that is no output, listing the outputs
 */
export function resolveOutput(model: LoadedModel, output: number | string | undefined, argument = '--output'): number | undefined {
  if (output === undefined || typeof output === 'number') return output;
  if (/^\d+$/.test(output)) return Number(output);
  const outputs = listOutputs(model);
  const name = output.replace(/:0$/, '');
  // a graph model's signature keys name its outputs too (outputNodes, e.g. 'activation_4' for 'Identity')
  const keys = isGraphModelLike(model) ? model.outputNodes.map((k) => k.replace(/:0$/, '')) : [];
  const found = outputs.find((o) => o.layer === name) ?? outputs.find((o) => keys[o.index] === name);
  if (found === undefined) {
    throw new LrpArgumentError(argument, `'${output}' is not an output of the model (give its index or its ${isGraphModelLike(model) ? 'output node' : 'output layer'} name); it has ${outputs.length} output${outputs.length === 1 ? '' : 's'}:\n${formatOutputs(outputs)}`);
  }
  return found.index;
}

/** One line per output: `  k  layer  [shape]` (aligned). */
export function formatOutputs(outputs: readonly ModelOutputInfo[]): string {
  const width = Math.max(...outputs.map((o) => o.layer.length));
  return outputs.map((o) => `  ${String(o.index).padStart(2)}  ${o.layer.padEnd(width)}  [${o.shape.map((d) => d ?? '?').join(', ')}]`).join('\n');
}

/**
 * Refuses to guess which output of a multi-output model to explain.
 * @param output the chosen output: an index or a name (see {@link resolveOutput}; undefined: none chosen)
 * @param argument how the choice is made, named in the error (`--output`, `options.output`)
 * @throws {LrpArgumentError} (the `argument`) when the model has more than one output and none is
 *   chosen, or the chosen one does not exist; the message lists the outputs
 */
export function checkOutputChoice(model: LoadedModel, output: number | string | undefined, argument = '--output'): void {
  if (typeof output === 'string') output = resolveOutput(model, output, argument);
  const outputs = listOutputs(model);
  const listing = formatOutputs(outputs);
  if (output === undefined) {
    if (outputs.length > 1) {
      throw new LrpArgumentError(
        argument,
        `the model has ${outputs.length} outputs; choose the one to explain with ${argument} <k> (the classifier is usually the last):\n${listing}`,
      );
    }
    return;
  }
  if (!Number.isInteger(output) || output < 0 || output >= outputs.length) {
    throw new LrpArgumentError(argument, `${output} is not an output of the model; it has ${outputs.length} output${outputs.length === 1 ? '' : 's'}:\n${listing}`);
  }
}
