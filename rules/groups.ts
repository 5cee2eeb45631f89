/**
 * Layer groups (zennit's `types.py`) and the one table of what each group gets by default. Every
 * Keras class belongs to exactly one group; composites match on groups.
 */

/** A layer group: what composites match on. */
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
  | 'multiply' // Multiply (element-wise product of branches)
  | 'other'; // classes registered by users

/** The groups whose layers get the LRP rules proper. */
export const LINEAR_GROUPS: readonly LayerGroup[] = ['dense', 'conv'];

/** The rule a group gets when no composite entry matches, and why. */
export interface GroupDefault {
  /**
   * The rule a layer of the group gets when no `layerRules`, `firstLayer` or composite entry
   * matches and its class has no registered rule (registerLayerRule). `'pass'` and `'norm'` form
   * the base map every composite ends with. `null`: no default — Dense/Conv get their rule from
   * the rule or composite, and any other layer without a rule throws (map it in
   * `options.layerRules`, or pass `options.unknownLayers = 'gradient'`).
   */
  readonly rule: 'pass' | 'norm' | 'gradient' | 'uniform' | null;
  /** One line: why this rule, for plans and docs. */
  readonly why: string;
}

/**
 * The default rule of every layer group: the one table the base map of the composites
 * (`baseEntries`), the planner's fallbacks and the gradient methods (the list of all groups)
 * are built from. Precedence in a plan (first match wins): `options.layerRules`,
 * `options.firstLayer`, the composite's entries, the rule registered for the layer's class
 * (registerLayerRule), the default here, then `options.unknownLayers`.
 */
export const GROUP_DEFAULTS: Readonly<Record<LayerGroup, GroupDefault>> = Object.freeze({
  dense: { rule: null, why: 'the LRP rule of the rule or composite (default epsilon)' },
  conv: { rule: null, why: 'the LRP rule of the rule or composite (default epsilon)' },
  activation: { rule: 'pass', why: 'an elementwise activation passes relevance unchanged' },
  batchNorm: { rule: 'pass', why: 'merged into the Dense/Conv before it; otherwise relevance passes unchanged' },
  avgPool: { rule: 'norm', why: 'relevance split in proportion to the averaged values' },
  maxPool: { rule: 'gradient', why: 'relevance goes to the window maximum' },
  add: { rule: 'norm', why: 'relevance split in proportion to the branches' },
  concatenate: { rule: 'gradient', why: 'relevance split back to the inputs' },
  reshape: { rule: 'gradient', why: 'relevance moves with the values' },
  identity: { rule: 'pass', why: 'the identity at inference' },
  embedding: { rule: 'gradient', why: 'token relevance = sum over its embedding vector' },
  multiply: { rule: 'uniform', why: 'each of the n multiplied inputs gets R/n (AttnLRP)' },
  other: { rule: null, why: 'no default: register a rule for the class (registerLayerRule), map it in options.layerRules, or pass options.unknownLayers = "gradient"' },
});

/** All layer groups, in the order of {@link GROUP_DEFAULTS}. */
export const LAYER_GROUPS: readonly LayerGroup[] = Object.freeze(Object.keys(GROUP_DEFAULTS) as LayerGroup[]);
