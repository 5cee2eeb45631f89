/** The models tfjs-lrp explains. */
import type * as tf from '@tensorflow/tfjs';

/**
 * A model tfjs-lrp explains: a `tf.LayersModel` (Sequential, functional, nested, loaded with
 * tf.loadLayersModel) or a `tf.GraphModel` (tf.loadGraphModel: converted SavedModels, TF Hub,
 * Keras models converted as graphs). Never modified.
 */
export type ExplainableModel = tf.LayersModel | tf.GraphModel;
