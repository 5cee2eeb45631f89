/**
 * Loads a TF.js layers model (model.json + its weight files) from a directory on disk, for the
 * scripts and tests: the library's own loader (`loadModel` of tfjs-lrp/node), under the name the
 * scripts have always imported.
 */
import type * as tf from '@tensorflow/tfjs';
import { loadModel } from '../src/node/loadModel';

/** The model in `dir` (a folder with model.json, or a model.json path); see {@link loadModel}. */
export async function loadModelFromDir(dir: string): Promise<tf.LayersModel> {
  return loadModel(dir);
}
