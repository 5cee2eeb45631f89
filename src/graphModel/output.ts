/** `options.output` for graph models: an index, or the name of an output node. */
import { LrpArgumentError } from '../errors.js';
import { isGraphModel } from './introspect.js';

/**
 * The index of the explained output: `output` itself when a number; for a `tf.GraphModel` an
 * output node name (`'Identity'` or `'Identity:0'`) is looked up in `model.outputNodes`.
 *
 * @throws {LrpArgumentError} for a name that is no output node, or a name given for a LayersModel
 */
export function outputIndexOf(model: unknown, output: number | string | undefined): number | undefined {
  if (typeof output !== 'string') return output;
  if (!isGraphModel(model)) throw new LrpArgumentError('options.output', `must be an integer output index for a tf.LayersModel (a name selects an output node of a tf.GraphModel only), got ${JSON.stringify(output)}.`);
  // the output node names, and the signature keys (outputNodes) when the model.json has a signature
  const m = model as unknown as { outputNodes: readonly string[]; outputs: ReadonlyArray<{ name: string }> };
  const names = m.outputs.map((t) => t.name);
  const keys = m.outputNodes;
  const bare = (n: string) => (n.endsWith(':0') ? n.slice(0, -2) : n);
  const found = (list: readonly string[]) => list.findIndex((n) => n === output || bare(n) === bare(output));
  const i = found(names) >= 0 ? found(names) : found(keys);
  if (i < 0) throw new LrpArgumentError('options.output', `no output node named ${JSON.stringify(output)}; the graph model's output nodes are ${names.map((n) => `'${n}'`).join(', ')} (or pass an index).`);
  return i;
}
