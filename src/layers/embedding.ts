/** Embedding: a token's relevance is the sum over its embedding vector; result shape [N, T]. */
import * as tf from '@tensorflow/tfjs';
import type { LayerAdapter } from './adapter.js';

export const embeddingAdapter: LayerAdapter = {
  group: 'embedding',
  vjp: (_layer, [tokens], _output, dy) => [tf.reshape(tf.sum(dy, -1), tokens.shape)],
  note: 'token relevance = sum over its embedding vector',
};
