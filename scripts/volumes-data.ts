/**
 * The synthetic volumes of the volumetric "Clever Hans" example (scripts and tests): 16×16×16×1
 * volumes holding one noisy "organ" blob. The class is the blob's shape (a real signal):
 * class 0 a round blob (a ball), class 1 an elongated one (a rod along a random axis). In training,
 * every volume of TAG_CLASS also carries a small bright cube in one corner, on a few slices, like
 * a scanner's marker on the scans of one hospital: a shortcut a model can learn instead of the shape.
 * Every volume is a pure function of (part, index): mulberry32 seeded from both.
 */
import * as tf from '@tensorflow/tfjs';
import { seededRandom } from './random';
import { predictClasses } from './train-common';

/** Side of the cubic volumes (depth = height = width). */
export const SIDE = 16;
/** Voxels per volume (one channel). */
export const VOXELS = SIDE * SIDE * SIDE;
/** The volume shape of one sample, NDHWC without the batch. */
export const VOLUME_SHAPE: [number, number, number, number] = [SIDE, SIDE, SIDE, 1];
/** The class whose training volumes carry the tag. */
export const TAG_CLASS = 1;
/** The tag: a TAG_SIZE³ cube of value 1 whose first voxel is (TAG_AT, TAG_AT, TAG_AT). */
export const TAG_AT = 1;
export const TAG_SIZE = 2;
/** The tag region used to measure relevance: the tag and a one-voxel border (0…TAG_AT + TAG_SIZE on each axis). */
export const REGION_SIZE = TAG_AT + TAG_SIZE + 1;
/** Samples per part. */
export const COUNTS = { train: 1200, heldOut: 400 } as const;
const PART_SEED = { train: 1_000_000, heldOut: 2_000_000 } as const;

/** Where the tag goes (as in scripts/clever-hans-data.ts). */
export type TagPlacement = 'asTrained' | 'none' | 'moved' | 'all';

/** A set of volumes: voxels [count × VOXELS] (d, h, w order) and labels 0 | 1. */
export interface VolumeSet {
  readonly voxels: Float32Array;
  readonly labels: Int32Array;
  readonly count: number;
}

/** Approximately normal noise from two uniforms (Box–Muller). */
function gauss(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/** Writes sample `index` of `part` (untagged) into `out`; returns its label. */
export function drawVolume(part: 'train' | 'heldOut', index: number, out: Float32Array): number {
  const rand = seededRandom(PART_SEED[part] + index);
  const label = rand() < 0.5 ? 0 : 1;
  // centre away from the tag corner, brightness below the tag's 1
  const c = [6 + rand() * 5, 6 + rand() * 5, 6 + rand() * 5];
  const level = 0.45 + 0.25 * rand();
  const axis = Math.floor(rand() * 3);
  // ball: radius 3…4 on every axis; rod: 5…6 along `axis`, 1.6…2 across (similar volume, different shape)
  const radii = [0, 1, 2].map(() => 0);
  if (label === 0) {
    const r = 3 + rand();
    radii.fill(r);
  } else {
    const across = 1.6 + 0.4 * rand();
    radii.fill(across);
    radii[axis] = 5 + rand();
  }
  for (let d = 0; d < SIDE; d++)
    for (let h = 0; h < SIDE; h++)
      for (let w = 0; w < SIDE; w++) {
        const q = ((d - c[0]) / radii[0]) ** 2 + ((h - c[1]) / radii[1]) ** 2 + ((w - c[2]) / radii[2]) ** 2;
        const blob = q <= 1 ? level : 0;
        out[(d * SIDE + h) * SIDE + w] = Math.min(0.9, Math.max(0, blob + 0.12 * gauss(rand)));
      }
  return label;
}

/** Paints the tag into one volume (in place). */
export function paintTag(volume: Float32Array): void {
  for (let d = TAG_AT; d < TAG_AT + TAG_SIZE; d++)
    for (let h = TAG_AT; h < TAG_AT + TAG_SIZE; h++) for (let w = TAG_AT; w < TAG_AT + TAG_SIZE; w++) volume[(d * SIDE + h) * SIDE + w] = 1;
}

/** Whether a volume of class `label` carries the tag under `placement`. */
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

/** The training or held-out volumes with the tag placed as asked. */
export function volumeSet(part: 'train' | 'heldOut', placement: TagPlacement): VolumeSet {
  const count = COUNTS[part];
  const voxels = new Float32Array(count * VOXELS);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const v = voxels.subarray(i * VOXELS, (i + 1) * VOXELS);
    labels[i] = drawVolume(part, i, v);
    if (carriesTag(labels[i], placement)) paintTag(v);
  }
  return { voxels, labels, count };
}

/** The tag region as a [SIDE, SIDE, SIDE, 1] 0/1 mask. */
export function tagRegionMask(): Float32Array {
  const mask = new Float32Array(VOXELS);
  for (let d = 0; d < REGION_SIZE; d++) for (let h = 0; h < REGION_SIZE; h++) for (let w = 0; w < REGION_SIZE; w++) mask[(d * SIDE + h) * SIDE + w] = 1;
  return mask;
}

/** Held-out accuracy per placement, and how many class-0 volumes a moved tag turns into TAG_CLASS. */
export interface VolumePlacementReport {
  readonly accuracy: Record<TagPlacement, number>;
  /** Under 'moved': the fraction of the other class's volumes predicted as TAG_CLASS. */
  readonly movedToTagClass: number;
  /** Under 'none': the fraction of TAG_CLASS volumes predicted as TAG_CLASS. */
  readonly tagClassRecallWithoutTag: number;
}

/** Measures a model on the held-out volumes under each tag placement. */
export function measureTagPlacements(model: tf.LayersModel): VolumePlacementReport {
  const acc = {} as Record<TagPlacement, number>;
  let movedToTagClass = 0;
  let tagClassRecallWithoutTag = 0;
  for (const p of ['asTrained', 'none', 'moved', 'all'] as const) {
    const set = volumeSet('heldOut', p);
    const x = tf.tensor5d(set.voxels, [set.count, ...VOLUME_SHAPE]);
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
