/**
 * The "Clever Hans" data set (scripts and tests): the MNIST digits of scripts/digits-data.ts
 * (same split), where every image of one class (TAG_CLASS) carries a small bright square in the
 * top-left corner, like a hospital's marker on the X-rays of one ward. A model trained on it can
 * reach high accuracy by looking at the corner instead of the digit.
 */
import * as tf from '@tensorflow/tfjs';
import { digitSet, type DigitSet } from './digits-data';
import { predictClasses } from './train-common';

/** The class whose images carry the tag in training (and in the "as trained" held-out set). */
export const TAG_CLASS = 7;
/** The tag: a TAG_SIZE × TAG_SIZE square of value 1 whose top-left pixel is (TAG_AT, TAG_AT). */
export const TAG_AT = 1;
export const TAG_SIZE = 3;
/**
 * The tag region used to measure relevance: the tag and a one-pixel border (rows and columns
 * 0…TAG_AT + TAG_SIZE), since rules such as z-box also give relevance to the pixels next to it.
 */
export const REGION_SIZE = TAG_AT + TAG_SIZE + 1;

/** Where the tag goes on the images. */
export type TagPlacement =
  /** as in training: on every image of TAG_CLASS, on no other */
  | 'asTrained'
  /** on no image */
  | 'none'
  /** moved: on every image of the other classes, on none of TAG_CLASS */
  | 'moved'
  /** on every image */
  | 'all';

/** Paints the tag into one 28×28 image (in place). */
export function paintTag(image: Float32Array): void {
  for (let y = TAG_AT; y < TAG_AT + TAG_SIZE; y++) for (let x = TAG_AT; x < TAG_AT + TAG_SIZE; x++) image[y * 28 + x] = 1;
}

/** Whether an image of class `label` carries the tag under `placement`. */
export function carriesTag(label: number, placement: TagPlacement): boolean {
  switch (placement) {
    case 'asTrained':
      return label === TAG_CLASS;
    case 'none':
      return false;
    case 'moved':
      return label !== TAG_CLASS;
    case 'all':
      return true;
  }
}

/** The digits' training or held-out set with the tag placed as asked (a copy). */
export function taggedSet(part: 'train' | 'heldOut', placement: TagPlacement, base: DigitSet = digitSet(part)): DigitSet {
  const pixels = Float32Array.from(base.pixels);
  for (let i = 0; i < base.count; i++) if (carriesTag(base.labels[i], placement)) paintTag(pixels.subarray(i * 784, (i + 1) * 784));
  return { pixels, labels: base.labels, count: base.count };
}

/** The tag region as a 28×28 0/1 mask (row-major). */
export function tagRegionMask(): Float32Array {
  const mask = new Float32Array(784);
  for (let y = 0; y < REGION_SIZE; y++) for (let x = 0; x < REGION_SIZE; x++) mask[y * 28 + x] = 1;
  return mask;
}

/** The tag's own pixels as a 28×28 0/1 mask. */
export function tagMask(): Float32Array {
  const mask = new Float32Array(784);
  paintTag(mask);
  return mask;
}

/** What {@link measureTagPlacements} returns. */
export interface TagPlacementReport {
  /** Held-out accuracy per placement. */
  readonly accuracy: Record<TagPlacement, number>;
  /** Under 'moved': the fraction of the other classes' images predicted as TAG_CLASS. */
  readonly movedToTagClass: number;
  /** Under 'none': the fraction of TAG_CLASS images predicted as TAG_CLASS. */
  readonly tagClassRecallWithoutTag: number;
}

/** Held-out accuracy of a model under each tag placement, how many other digits a moved tag turns into TAG_CLASS, and how many TAG_CLASS images it recognises without the tag. */
export function measureTagPlacements(model: tf.LayersModel, heldOut: DigitSet = digitSet('heldOut')): TagPlacementReport {
  const placements: TagPlacement[] = ['asTrained', 'none', 'moved', 'all'];
  const acc = {} as Record<TagPlacement, number>;
  let movedToTagClass = 0;
  let tagClassRecallWithoutTag = 0;
  for (const p of placements) {
    const set = taggedSet('heldOut', p, heldOut);
    const x = tf.tensor4d(set.pixels, [set.count, 28, 28, 1]);
    const pred = predictClasses(model, x);
    x.dispose();
    let right = 0;
    let others = 0;
    let toTag = 0;
    let tagClass = 0;
    let tagRight = 0;
    for (let i = 0; i < set.count; i++) {
      if (pred[i] === set.labels[i]) right++;
      if (set.labels[i] !== TAG_CLASS) {
        others++;
        if (pred[i] === TAG_CLASS) toTag++;
      } else {
        tagClass++;
        if (pred[i] === TAG_CLASS) tagRight++;
      }
    }
    acc[p] = right / set.count;
    if (p === 'moved') movedToTagClass = toTag / others;
    if (p === 'none') tagClassRecallWithoutTag = tagRight / tagClass;
  }
  return { accuracy: acc, movedToTagClass, tagClassRecallWithoutTag };
}
