/**
 * `tfjs-lrp/evaluate`: how good is an explanation? Cross-checks between methods, relevance inside a
 * mask, and pixel flipping (faithfulness).
 *
 * @module tfjs-lrp/evaluate
 */
export { compare, crossValidate } from './compare.js';
export type { CompareOptions, ComparisonMeans, ComparisonReport, CrossValidateOptions } from './compare.js';
export { relevanceInMask } from './mask.js';
export type { MaskReport } from './mask.js';
export { pixelFlipping } from './pixelFlipping.js';
export type { Perturbation, PixelFlippingOptions, PixelFlippingCurve, PixelFlippingReport } from './pixelFlipping.js';
