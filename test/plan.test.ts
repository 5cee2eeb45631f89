/** The planner's named steps: checkOptions, compositeFrom, planEntries, ruleForNode. */
import * as tf from '@tensorflow/tfjs';
import { LrpArgumentError, LrpLayerError, LrpRuleError, makeRule } from '../src';
import { checkOptions, compositeFrom, knownOptions, planEntries, planModel } from '../src/plan';
import { expectError, randomizeWeights, useBackend } from './helpers';

beforeAll(async () => {
  await useBackend('cpu');
});

function convModel(): tf.LayersModel {
  const m = tf.sequential();
  m.add(tf.layers.dense({ inputShape: [6], units: 8, activation: 'relu', name: 'd0' }));
  m.add(tf.layers.reshape({ targetShape: [4, 2, 1], name: 'r' }));
  m.add(tf.layers.conv2d({ filters: 2, kernelSize: 2, activation: 'relu', name: 'c1' }));
  m.add(tf.layers.conv2d({ filters: 2, kernelSize: 2, padding: 'same', name: 'c2' }));
  m.add(tf.layers.flatten({ name: 'f' }));
  m.add(tf.layers.dense({ units: 3, name: 'out' }));
  randomizeWeights(m, 5);
  return m;
}

describe('checkOptions', () => {
  test('known options are the rule parameters plus the others; unknown ones are named', async () => {
    expect(knownOptions()).toEqual(expect.arrayContaining(['epsilon', 'alpha', 'beta', 'gamma', 'stabilizer', 'low', 'high', 'composite', 'firstLayer', 'layerRules', 'method']));
    await expectError(() => checkOptions({ gama: 1 } as never), LrpArgumentError, /options.gama/, /unknown option/, /gamma/);
    await expectError(() => checkOptions({ firstLayer: 'gamma' as never }), LrpArgumentError, /must be 'flat', 'wSquare' or 'zBox'/);
    await expectError(() => checkOptions({ method: 'gradient', composite: 'epsilonPlus' }), LrpArgumentError, /options.composite/, /method 'lrp' only/);
    expect(() => checkOptions({ epsilon: 0, stabilizer: 0, low: -1, high: 1 })).not.toThrow();
  });
});

describe('compositeFrom and planEntries', () => {
  test('a single rule covers Dense and Conv; gradient methods get the gradient composite', () => {
    expect(compositeFrom({}, {}).entries.map((e) => [e.match.group, (e.rule as { name: string }).name])).toEqual([['dense', 'epsilon'], ['conv', 'epsilon']]);
    expect(compositeFrom({ method: 'gradient' }, {}).name).toBe('gradient');
    expect(() => compositeFrom({ composite: 'epsilonPluss' as never }, {})).toThrow(LrpRuleError);
  });

  test('order: layerRules (name, then class), firstLayer, then the composite without its position entries', () => {
    const options = { composite: 'epsilonPlusFlat' as const, firstLayer: 'wSquare' as const, layerRules: { c2: 'gamma' as const } };
    const entries = planEntries(options, compositeFrom(options, {}), {});
    expect(entries.map((e) => e.source)).toEqual(["layerRules['c2']", "layerRules['c2']", "firstLayer 'wSquare'", 'composite epsilonPlusFlat (group conv)', 'composite epsilonPlusFlat (group dense)']);
  });
});

describe('ruleForNode through planModel', () => {
  test('first match wins: layerRules over firstLayer over composite; base map and group defaults after', () => {
    const plan = planModel(convModel(), { composite: 'epsilonGammaBox', low: -1, high: 1, layerRules: { c2: 'zPlus' } });
    const rows = plan.nodes.map((p) => [p.node.name, p.rule.name, p.reason]);
    expect(rows).toEqual([
      ['d0', 'epsilon', 'composite epsilonGammaBox (group dense)'],
      ['d0:relu', 'pass', 'base map (group activation)'],
      ['r', 'gradient', 'relevance moves with the values'],
      ['c1', 'zBox', 'composite epsilonGammaBox (firstConv)'],
      ['c1:relu', 'pass', 'base map (group activation)'],
      ['c2', 'zPlus', "layerRules['c2']"],
      ['f', 'gradient', 'relevance moves with the values'],
      ['out', 'epsilon', 'composite epsilonGammaBox (group dense)'],
    ]);
  });

  test('a composite without a Dense entry leaves Dense without a rule: the error names the layer and the fixes', async () => {
    const { composite } = await import('../src');
    const convOnly = composite('convOnly', [{ match: { group: 'conv' }, rule: makeRule('zPlus') }]);
    const model = convModel();
    await expectError(() => planModel(model, { composite: convOnly }), LrpLayerError, /No rule for layer 'd0' \(Dense\)/, /layerRules/, /unknownLayers/);
  });
});
