/**
 * Every rule and composite against the independent float64 plain-loop reference
 * (test/reference/lrp64.ts), on models of every supported layer type, on every backend of
 * BACKENDS (cpu, wasm, and webgpu in Node where it can run): max|R − R_ref| ≤ 1e-4 · max|R_ref|.
 * Values are read asynchronously (WebGPU in Node cannot read synchronously).
 */
import * as tf from '@tensorflow/tfjs';
import { createExplainer } from '../src';
import { BACKENDS, expectClose, readToHost, useBackend } from './helpers';
import { CASES } from './models';
import { refGraphFromModel } from './reference/fromModel';
import { Arr, lrp64, refRules } from './reference/lrp64';
import { CONFIGS } from './configs';

async function toArr(t: tf.Tensor): Promise<Arr> {
  return { shape: t.shape.slice(), data: Float64Array.from(await t.data()) };
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
        test.each(CONFIGS.map((c) => [c.label, c]))('%s', async (_label, config) => {
          const bounds = testCase.bounds ?? [-1, 1];
          await readToHost(model.getWeights()); // refGraphFromModel reads them synchronously
          const graph = refGraphFromModel(model);
          const ref = lrp64(graph, await Promise.all(inputs.map(toArr)), testCase.classes, refRules(graph, config.spec(bounds)));
          const before = tf.memory().numTensors;
          const explainer = createExplainer(model, config.options(bounds));
          const out = explainer.explain(inputs.length === 1 ? inputs[0] : inputs, testCase.classes);
          const list = Array.isArray(out) ? out : [out];
          for (const [i, r] of list.entries()) {
            expect(r.shape).toEqual(ref.relevance[i].shape);
            expect(r.dtype).toBe('float32');
            expectClose(await r.data(), ref.relevance[i].data, 1e-4, `${testCase.name} / ${config.label} / input ${i}`);
          }
          tf.dispose(list);
          explainer.dispose();
          expect(tf.memory().numTensors).toBe(before);
        });
      });
    }
  });
}
