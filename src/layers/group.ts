/**
 * Layer groups: what composites match on (zennit's `types.py`). Every Keras class belongs to
 * exactly one group.
 */
export type LayerGroup =
  | 'dense' // Dense
  | 'conv' // Conv1D/2D, Conv2DTranspose, DepthwiseConv2D, SeparableConv2D
  | 'activation' // ReLU, Activation, LeakyReLU, … (fused activations split from Dense/Conv too)
  | 'batchNorm' // BatchNormalization (merged into the layer before it, or not)
  | 'avgPool' // AveragePooling*, GlobalAveragePooling*
  | 'maxPool' // MaxPooling*, GlobalMaxPooling*
  | 'add' // Add
  | 'concatenate' // Concatenate
  | 'reshape' // Flatten, Reshape, Permute, ZeroPadding2D, Cropping2D, UpSampling2D
  | 'identity' // Dropout and other layers that are the identity at inference
  | 'embedding' // Embedding
  | 'other'; // classes registered by users

/** The groups whose layers get the LRP rules proper. */
export const LINEAR_GROUPS: readonly LayerGroup[] = ['dense', 'conv'];
