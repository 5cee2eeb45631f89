/**
 * GPU-safe op policy: every kernel the engine (src/ops, src/layers, rules, the forward and
 * backward passes, the gradient methods) and the heatmap functions dispatch runs on tfjs 4.22's
 * WebGL 2 and WebGPU backends, so
 *
 *   1. no kernel other than Reshape sees a tensor of rank > 4 (WebGL's packed Pad shader does not
 *      compile for rank 6; WebGPU's Pad WGSL is invalid for rank 6 and silently returns garbage;
 *      WebGPU reductions and transposes take rank ≤ 4). Work on a rank ≤ 4 view instead: merge
 *      the axes an op does not separate (e.g. zero insertion as two rank-4 pads, a sum over a
 *      trailing axis on a 2-D view);
 *   2. no kernel gets more than {@link MAX_KERNEL_INPUTS} tensor inputs (a WebGPU shader binds at
 *      most 8 storage buffers by default, one of them the output: tf.addN of 8 or more tensors
 *      returns wrong numbers without an error). Sum many tensors with {@link addMany}. Concat and
 *      Pack are exempt: both GPU backends split them into chunks by themselves.
 *
 * Only the ranks of the model's own tensors can exceed 4 (a Reshape to rank 5 in the model):
 * then the model itself does not run on those backends either. test/gpu-safety.test.ts records
 * every kernel of explain() and the heatmap functions and checks this policy.
 */
import * as tf from '@tensorflow/tfjs';

/** The most tensor inputs one kernel may take (WebGPU: 8 storage buffers, one for the output). */
export const MAX_KERNEL_INPUTS = 7;

/**
 * The sum of `tensors` (same shape and dtype), with AddN kernels of at most
 * {@link MAX_KERNEL_INPUTS} inputs each. One tensor is returned as it is.
 */
export function addMany(tensors: readonly tf.Tensor[]): tf.Tensor {
  if (tensors.length === 0) throw new Error('internal: addMany of no tensors');
  if (tensors.length === 1) return tensors[0];
  if (tensors.length <= MAX_KERNEL_INPUTS) return tf.addN([...tensors]);
  // partial sums of chunks, then their sum (freed here: callers need not be in a tidy)
  return tf.tidy(() => {
    const partials: tf.Tensor[] = [];
    for (let i = 0; i < tensors.length; i += MAX_KERNEL_INPUTS) partials.push(addMany(tensors.slice(i, i + MAX_KERNEL_INPUTS)));
    return addMany(partials);
  });
}
