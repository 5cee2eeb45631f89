/** The one options interface of tfjs-lrp, with every default documented. */
import type * as tf from '@tensorflow/tfjs';
import type { Composite } from '../rules/composites.js';
import type { AttributionMethod, GradientMethodOptions } from './methods.js';
import type { Rule } from '../rules/types.js';

/** Names of the built-in rules (any registered name is accepted too). */
export type RuleName = 'epsilon' | 'zero' | 'zPlus' | 'alphaBeta' | 'gamma' | 'flat' | 'wSquare' | 'zBox' | 'pass' | 'norm' | 'gradient' | 'uniform' | 'product';

/** Names of the built-in composites. */
export type CompositeName = 'epsilonPlus' | 'epsilonPlusFlat' | 'epsilonGammaBox' | 'epsilonAlpha2Beta1' | 'epsilonAlpha2Beta1Flat';

/**
 * Options of `explain`, `createExplainer`, `explainWithConservation` and `describe`. The rule
 * parameters (`epsilon` … `high`) are those of the rule definitions (`ruleDefinitions()`), whose
 * defaults and minimums the planner checks them against.
 */
export interface ExplainOptions extends GradientMethodOptions {
  /**
   * `'lrp'` (default), or a gradient method for cross-checks: `'gradient'` (∂logit/∂x),
   * `'gradientXInput'`, `'integratedGradients'`, `'smoothGrad'` (LRP_RULES.md §6). The rule and
   * composite options apply to `'lrp'` only.
   */
  readonly method?: AttributionMethod;
  /**
   * The rule for every Dense and Conv layer: a name or a rule object. Default `'epsilon'`.
   * Ignored when `composite` is given.
   */
  readonly rule?: RuleName | Rule;
  /** ε of the epsilon rule (also the Dense rule of the composites). Default 1e-6. */
  readonly epsilon?: number;
  /** α of the alphaBeta rule. Default 2. */
  readonly alpha?: number;
  /** β of the alphaBeta rule (α − β = 1). Default 1. */
  readonly beta?: number;
  /** γ of the gamma rule (also epsilonGammaBox). Default 0.25. */
  readonly gamma?: number;
  /** Denominator stabilizer of zPlus, alphaBeta, gamma, flat, wSquare, zBox and of `norm` (average pooling, Add). Default 1e-6. */
  readonly stabilizer?: number;
  /**
   * A composite (rule per layer type and position): a built-in name or a composite object.
   * Overrides `rule`. Default: none.
   */
  readonly composite?: CompositeName | Composite;
  /** Lowest input value for the z-box rule: a number or a tensor broadcastable to the input. Required when z-box is used. */
  readonly low?: number | tf.Tensor;
  /** Highest input value for the z-box rule. Required when z-box is used. */
  readonly high?: number | tf.Tensor;
  /**
   * A rule for the first Dense/Conv layer (in forward order), over the rule or composite: a rule
   * whose definition allows it (`firstLayer: true`: flat, wSquare, zBox, or one registered with
   * registerRule). It replaces the composite's own position entries (e.g. epsilonGammaBox's
   * z-box). Default: none.
   */
  readonly firstLayer?: 'flat' | 'wSquare' | 'zBox';
  /**
   * Rules by layer name (nested: `outer/inner` or the bare name) or by class name
   * (`'Conv2D'`); they win over the composite. Default: none.
   */
  readonly layerRules?: Readonly<Record<string, RuleName | Rule>>;
  /** Which output of a multi-output model to explain: an index, or (tf.GraphModel) an output node name. Default 0. */
  readonly output?: number | string;
  /**
   * The relevance the backward pass starts with: `'logit'` (one-hot × the selected score),
   * `'one'` (one-hot), or a tensor of the output's shape (used as is). Default `'logit'`.
   */
  readonly outputRelevance?: 'logit' | 'one' | tf.Tensor;
  /**
   * Layers without a rule: `'error'` (throw, naming the layer) or `'gradient'` (pass the
   * gradient, warning once per layer). Default `'error'`.
   */
  readonly unknownLayers?: 'error' | 'gradient';
  /**
   * Check the float32 inputs for NaN/Infinity. Default true. The check never reads from the
   * device during `explain()`: it computes a per-sample "input is finite" flag on the device, sets
   * the relevance of a sample whose input is not finite to NaN everywhere, and throws when the
   * result is read: `await relevance.data()` (also `array`, `bytes`, `buffer`) rejects, and
   * `dataSync()` (also `arraySync`, `bufferSync`, `toString`) throws, an LrpArgumentError naming
   * the input and the sample indices; finite inputs read unchanged. `explainWithConservation`
   * rejects with it. `false` skips the check: no flag, no wrapped reads, and it saves one
   * `isFinite` reduction per input and one `where` per relevance tensor; NaN in the input then
   * flows into the relevance unreported.
   */
  readonly checkInput?: boolean;
  /**
   * Declares every model input ≥ 0 (an image in [0, 1] or [0, 255], counts, amounts). A Dense or
   * Conv layer that reads a model input with z⁺, αβ or γ (epsilonPlus, epsilonAlpha2Beta1, the
   * gamma rule) then works on x itself instead of splitting it into `[x⁺, x⁻]`: that layer's own
   * forward and transpose have half the input channels, and the split's kernels are gone. The
   * numbers are those of the split (x⁻ = 0 there). Rules that do not split their input (ε, flat,
   * z-box, …) are unchanged. The declaration is checked with the input check (`checkInput`): a
   * sample with a negative input gets NaN relevance, and reading the result throws an
   * LrpArgumentError naming the input and the samples; with `checkInput: false` it is trusted.
   * LRP only (`method: 'lrp'`). Default false.
   */
  readonly inputNonNegative?: boolean;
  /**
   * Samples per forward and backward pass, like `model.predict`'s `batchSize`: a larger batch is
   * explained in chunks of this many samples and the results are concatenated, with the same
   * numbers as one pass, so that memory grows with `batchSize` (plus the returned relevance)
   * rather than with the whole batch. Chunking adds no read from the device. A batch-shaped
   * `outputRelevance` or Integrated Gradients `baseline` is cut the same way. SmoothGrad runs the
   * whole batch at once (its noise is drawn per batch; `maxBatch` bounds its passes). Default 32.
   */
  readonly batchSize?: number;
}
