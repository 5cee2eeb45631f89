/**
 * Every rule and composite against the independent float64 plain-loop reference
 * (test/reference/lrp64.ts), on models of every supported layer type, on cpu and wasm:
 * max|R − R_ref| ≤ 1e-4 · max|R_ref|.
 */
import * as tf from '@tensorflow/tfjs';
import { createExplainer, ExplainOptions } from '../src';
import { BACKENDS, expectClose, useBackend } from './helpers';
import { CASES } from './models';
import { refGraphFromModel } from './reference/fromModel';
import { Arr, lrp64, refRules, RefRuleSpec } from './reference/lrp64';

/** Options for the engine and the same spec for the reference. */
interface Config {
  readonly label: string;
  readonly options: (bounds: [number, number]) => ExplainOptions;
  readonly spec: (bounds: [number, number]) => RefRuleSpec;
}

const same = (o: ExplainOptions & RefRuleSpec): Pick<Config, 'options' | 'spec'> => ({ options: () => o as ExplainOptions, spec: () => o as RefRuleSpec });

export const CONFIGS: Config[] = [
  { label: 'epsilon 1e-6', ...same({ rule: 'epsilon' }) },
  { label: 'epsilon 0.25', ...same({ rule: 'epsilon', epsilon: 0.25 }) },
  { label: 'zPlus', ...same({ rule: 'zPlus' }) },
  { label: 'alphaBeta 2/1', ...same({ rule: 'alphaBeta', alpha: 2, beta: 1 }) },
  { label: 'alphaBeta 1/0', ...same({ rule: 'alphaBeta', alpha: 1, beta: 0 }) },
  { label: 'gamma 0.25', ...same({ rule: 'gamma', gamma: 0.25 }) },
  { label: 'gamma 1 + flat first', ...same({ rule: 'gamma', gamma: 1, firstLayer: 'flat' }) },
  { label: 'epsilon + wSquare first', ...same({ rule: 'epsilon', firstLayer: 'wSquare' }) },
  { label: 'zPlus + zBox first', options: ([low, high]) => ({ rule: 'zPlus', firstLayer: 'zBox', low, high }), spec: ([low, high]) => ({ rule: 'zPlus', firstLayer: 'zBox', low, high }) },
  { label: 'epsilonPlus', ...same({ composite: 'epsilonPlus' }) },
  { label: 'epsilonPlusFlat', ...same({ composite: 'epsilonPlusFlat' }) },
  { label: 'epsilonGammaBox', options: ([low, high]) => ({ composite: 'epsilonGammaBox', low, high }), spec: ([low, high]) => ({ composite: 'epsilonGammaBox', low, high }) },
  { label: 'epsilonAlpha2Beta1', ...same({ composite: 'epsilonAlpha2Beta1' }) },
  { label: 'epsilonAlpha2Beta1Flat', ...same({ composite: 'epsilonAlpha2Beta1Flat' }) },
];

function toArr(t: tf.Tensor): Arr {
  return { shape: t.shape.slice(), data: Float64Array.from(t.dataSync()) };
}

for (const backend of BACKENDS) {
  describe(`engine = float64 reference on ${backend}`, () => {
    beforeAll(async () => {
      await useBackend(backend);
    });
    for (const testCase of CASES) {
      describe(testCase.name, () => {
        let model: tf.LayersModel;
        let inputs: tf.Tensor[];
        beforeAll(() => {
          ({ model, inputs } = testCase.build());
        });
        afterAll(() => {
          tf.dispose(inputs);
          model.dispose();
        });
        test.each(CONFIGS.map((c) => [c.label, c]))('%s', (_label, config) => {
          const bounds = testCase.bounds ?? [-1, 1];
          const graph = refGraphFromModel(model);
          const ref = lrp64(graph, inputs.map(toArr), testCase.classes, refRules(graph, config.spec(bounds)));
          const before = tf.memory().numTensors;
          const explainer = createExplainer(model, config.options(bounds));
          const out = explainer.explain(inputs.length === 1 ? inputs[0] : inputs, testCase.classes);
          const list = Array.isArray(out) ? out : [out];
          list.forEach((r, i) => {
            expect(r.shape).toEqual(ref.relevance[i].shape);
            expect(r.dtype).toBe('float32');
            expectClose(r.dataSync(), ref.relevance[i].data, 1e-4, `${testCase.name} / ${config.label} / input ${i}`);
          });
          tf.dispose(list);
          explainer.dispose();
          expect(tf.memory().numTensors).toBe(before);
        });
      });
    }
  });
}
