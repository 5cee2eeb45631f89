/**
 * Real third-party graph models and real faces, from the devDependency `@vladmandic/human`
 * (MIT licence; nothing is downloaded): the models in its `models/` folder (TF.js graph models,
 * `format: 'graph-model'`) and the faces of its `assets/samples.jpg` (a 1280×1158 collage whose
 * top strip holds eight clean photos; the lower part has the library's drawings on it).
 *
 * Used by scripts/example-graph.ts (the README's graph-model example) and test/graph-real.test.ts.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { readImage, type PixelScaling } from '../src/node/image';

/** The package's folder. */
export const HUMAN_DIR = path.join(__dirname, '..', 'node_modules', '@vladmandic', 'human');

/** model.json of one of its models (e.g. 'emotion'). */
export const humanModel = (name: string): string => path.join(HUMAN_DIR, 'models', `${name}.json`);

/** The collage the faces are cropped from. */
export const SAMPLES_JPG = path.join(HUMAN_DIR, 'assets', 'samples.jpg');

/** A face: its box in samples.jpg (px: left, top, width, height) and what it shows. */
export interface FaceBox {
  readonly name: string;
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/**
 * The faces of samples.jpg's top strip, boxes chosen by eye (forehead to chin, roughly square,
 * as face detectors crop them): a fixed list, so the example and the tests do not depend on a
 * detector. The lower part of the collage is not used (face meshes are drawn on it).
 */
export const FACE_BOXES: readonly FaceBox[] = [
  { name: 'photo 2 (woman, blonde)', left: 208, top: 16, width: 58, height: 62 },
  { name: 'photo 3 (man, at a table)', left: 424, top: 6, width: 54, height: 58 },
  { name: 'photo 5 (woman, dark hair)', left: 716, top: 9, width: 40, height: 43 },
  { name: 'photo 4 (woman, blonde)', left: 578, top: 6, width: 33, height: 35 },
];

/** The emotion model's classes, in its output order (as @vladmandic/human names them for this model). */
export const EMOTIONS = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'] as const;

/** Options of {@link readFaces}. */
export interface ReadFacesOptions {
  /** Side of the square crops in px (the model's input size, e.g. 64). */
  readonly size: number;
  /** 1 (grayscale) or 3 (RGB). */
  readonly channels: 1 | 3;
  /** Pixel scaling as readImage() takes it (default '0..1'). */
  readonly scale?: PixelScaling;
  /** Which boxes (default all of FACE_BOXES). */
  readonly boxes?: readonly FaceBox[];
}

/**
 * The faces as one batch [N, size, size, channels]: samples.jpg decoded with the project's image
 * reader (src/node/image.ts, sharp; grayscale and scaling as readImage() does them), then each box
 * cropped and resized (bilinear) with tf.image.cropAndResize.
 */
export async function readFaces(options: ReadFacesOptions): Promise<tf.Tensor4D> {
  const boxes = options.boxes ?? FACE_BOXES;
  const image = await readImage(SAMPLES_JPG, { channels: options.channels, scale: options.scale ?? '0..1' });
  try {
    const [, h, w] = image.shape;
    // normalized [y1, x1, y2, x2]: pixel centres 0 and H-1 are 0 and 1
    const norm = boxes.map((b) => [b.top / (h - 1), b.left / (w - 1), (b.top + b.height - 1) / (h - 1), (b.left + b.width - 1) / (w - 1)]);
    return tf.tidy(() => tf.image.cropAndResize(image, tf.tensor2d(norm), tf.tensor1d(boxes.map(() => 0), 'int32'), [options.size, options.size], 'bilinear'));
  } finally {
    image.dispose();
  }
}
