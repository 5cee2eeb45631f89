/**
 * The outputs of a model, for people: which output the CLI explains must be chosen explicitly
 * when a model has several (explaining output 0 of a model whose first output is, say, a padded
 * copy of the input would be silently wrong).
 */
import type * as tf from '@tensorflow/tfjs';
import { LrpArgumentError } from '../../errors.js';

/** One output of a model. */
export interface ModelOutputInfo {
  /** Its index (`--output k`, ExplainOptions.output). */
  readonly index: number;
  /** The name of the layer that produces it. */
  readonly layer: string;
  /** Its shape without the batch axis (null: unknown size). */
  readonly shape: ReadonlyArray<number | null>;
}

/** Every output of `model`, in order. */
export function listOutputs(model: tf.LayersModel): ModelOutputInfo[] {
  return model.outputs.map((t, index) => ({ index, layer: model.outputLayers[index]?.name ?? t.name, shape: t.shape.slice(1) }));
}

/** One line per output: `  k  layer  [shape]` (aligned). */
export function formatOutputs(outputs: readonly ModelOutputInfo[]): string {
  const width = Math.max(...outputs.map((o) => o.layer.length));
  return outputs.map((o) => `  ${String(o.index).padStart(2)}  ${o.layer.padEnd(width)}  [${o.shape.map((d) => d ?? '?').join(', ')}]`).join('\n');
}

/**
 * Refuses to guess which output of a multi-output model to explain.
 * @param output the chosen output (undefined: none chosen)
 * @param argument how the choice is made, named in the error (`--output`, `options.output`)
 * @throws {LrpArgumentError} (the `argument`) when the model has more than one output and none is
 *   chosen, or the chosen one does not exist; the message lists the outputs
 */
export function checkOutputChoice(model: tf.LayersModel, output: number | undefined, argument = '--output'): void {
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
