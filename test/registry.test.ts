/**
 * One place for each piece of knowledge: the rule definitions (and the factories they describe),
 * the composite definitions, the table of group defaults and the layer table agree with what the
 * planner really does.
 */
import * as tf from '@tensorflow/tfjs';
import {
  BUILTIN_RULE_DEFINITIONS, COMPOSITE_NAMES, compositeDefinitions, describePlan, flatDefinition, GROUP_DEFAULTS, LAYER_GROUPS, layerClassNames, layerTable, LrpArgumentError, LrpLayerError, LrpRuleError,
  makeRule, passRule, registerLayer, registerLayerRule, registerRule, ruleDefinition, ruleDefinitions, ruleNames, unregisterLayer, zBoxDefinition,
} from '../src';
import { baseEntries } from '../rules/composites';
import { gradientComposite } from '../src/methods';
import { planModel } from '../src/plan';
import { expectError, randomizeWeights, useBackend } from './helpers';

beforeAll(async () => {
  await useBackend('cpu');
});

/** A custom layer class tfjs-lrp does not know (registered under a group by the tests). */
class Twice extends tf.layers.Layer {
  static className = 'TwiceForRegistryTest';
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    return tf.tidy(() => tf.mul(x, 2));
  }
  override getClassName(): string {
    return 'TwiceForRegistryTest';
  }
}
tf.serialization.registerClass(Twice);

/** conv(relu) → maxPool → avgPool → BatchNorm → Flatten → Dropout → Dense: one layer of most groups. */
function mixedModel(): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 2] });
  const conv = tf.layers.conv2d({ filters: 3, kernelSize: 3, activation: 'relu', name: 'conv' }).apply(input) as tf.SymbolicTensor;
  const max = tf.layers.maxPooling2d({ poolSize: 2, name: 'max' }).apply(conv) as tf.SymbolicTensor;
  const zero = tf.layers.zeroPadding2d({ padding: 1, name: 'pad' }).apply(max) as tf.SymbolicTensor;
  const avg = tf.layers.averagePooling2d({ poolSize: 2, name: 'avg' }).apply(zero) as tf.SymbolicTensor;
  const act = tf.layers.activation({ activation: 'tanh', name: 'act' }).apply(avg) as tf.SymbolicTensor;
  const flat = tf.layers.flatten({ name: 'flat' }).apply(act) as tf.SymbolicTensor;
  const drop = tf.layers.dropout({ rate: 0.5, name: 'drop' }).apply(flat) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 3, name: 'out' }).apply(drop) as tf.SymbolicTensor;
  const m = tf.model({ inputs: input, outputs: out });
  randomizeWeights(m, 3);
  return m;
}

describe('rule definitions', () => {
  test('built-ins first, one per registered name, and each makes the rule it describes with the defaults it states', () => {
    const defs = ruleDefinitions();
    expect(defs.map((d) => d.name)).toEqual(ruleNames());
    expect(defs.slice(0, BUILTIN_RULE_DEFINITIONS.length)).toEqual(BUILTIN_RULE_DEFINITIONS);
    expect(BUILTIN_RULE_DEFINITIONS.map((d) => d.name)).toEqual(['epsilon', 'zero', 'zPlus', 'alphaBeta', 'gamma', 'flat', 'wSquare', 'zBox', 'pass', 'norm', 'gradient', 'uniform', 'product']);
    for (const d of BUILTIN_RULE_DEFINITIONS) {
      // required parameters from their examples, the others left to the factory's own defaults
      const required = Object.fromEntries(d.params.filter((p) => p.required === true).map((p) => [p.name, p.example]));
      const rule = d.make(required);
      expect(rule.name).toBe(d.name);
      expect(rule.appliesTo).toBe(d.appliesTo);
      for (const p of d.params) {
        if (p.default !== undefined) expect([d.name, p.name, rule.params[p.name]]).toEqual([d.name, p.name, p.default]);
        expect(d.summary.length).toBeGreaterThan(10);
      }
      // every parameter of the made rule is described
      expect(Object.keys(rule.params).sort()).toEqual(d.name === 'zero' ? [] : d.params.map((p) => p.name).sort());
    }
    expect(BUILTIN_RULE_DEFINITIONS.filter((d) => d.firstLayer).map((d) => d.name)).toEqual(['flat', 'wSquare', 'zBox']);
    expect(zBoxDefinition.params.filter((p) => p.required === true).map((p) => p.name)).toEqual(['low', 'high']);
    expect(() => zBoxDefinition.make({})).toThrow(LrpRuleError);
  });

  test('registerRule takes a definition or a bare factory, and the planner uses what the definition says', () => {
    registerRule({ ...flatDefinition, name: 'flatCopy', summary: 'flat, under another name' });
    expect(ruleDefinition('flatCopy')?.firstLayer).toBe(true);
    expect(ruleDefinitions().map((d) => d.name).slice(-1)).toEqual(['flatCopy']);
    registerRule('passCopy', () => passRule());
    expect(ruleDefinition('passCopy')).toMatchObject({ name: 'passCopy', appliesTo: 'unknown', params: [], firstLayer: false });
    expect(makeRule('passCopy').name).toBe('pass');

    const model = mixedModel();
    // a registered first-layer rule is a valid options.firstLayer; a bare factory is not
    const plan = planModel(model, { firstLayer: 'flatCopy' as 'flat' });
    expect(plan.nodes.find((n) => n.node.name === 'conv')?.reason).toBe("firstLayer 'flatCopy'");
    expect(() => planModel(model, { firstLayer: 'passCopy' as 'flat' })).toThrow(/options.firstLayer': must be 'flat', 'wSquare', 'zBox' or 'flatCopy'/);
    expect(() => registerRule('', () => passRule())).toThrow(LrpRuleError);
    expect(() => registerRule({ name: 'broken' } as never)).toThrow(/registerRule needs a RuleDefinition/);
  });

  test('the numeric options are checked against the definitions: finite, ≥ min; bounds may be tensors', async () => {
    const model = mixedModel();
    await expectError(() => planModel(model, { epsilon: -1 }), LrpArgumentError, /options.epsilon/, /finite number ≥ 0/, /ε of the epsilon rule/);
    await expectError(() => planModel(model, { gamma: Infinity }), LrpArgumentError, /options.gamma/);
    await expectError(() => planModel(model, { low: NaN, high: 1 }), LrpArgumentError, /options.low/, /or a tf.Tensor/);
    const low = tf.zeros([8, 8, 2]);
    try {
      expect(planModel(model, { composite: 'epsilonGammaBox', low, high: 1 }).nodes[0].rule.name).toBe('zBox');
    } finally {
      low.dispose();
    }
  });
});

describe('composite definitions', () => {
  test('data that matches the composites they make; requirements derived from the rules', () => {
    const defs = compositeDefinitions();
    expect(defs.map((d) => d.name)).toEqual(COMPOSITE_NAMES);
    const byName = Object.fromEntries(defs.map((d) => [d.name, d]));
    expect(byName.epsilonGammaBox.requires).toEqual(['low', 'high']);
    for (const d of defs.filter((x) => x.name !== 'epsilonGammaBox')) expect(d.requires).toEqual([]);
    // alpha and beta are fixed (2, 1) in the αβ composites: not options they read
    expect(byName.epsilonAlpha2Beta1.params).toEqual(['stabilizer', 'epsilon']);
    expect(byName.epsilonGammaBox.params).toEqual(['low', 'high', 'stabilizer', 'gamma', 'epsilon']);
    for (const d of defs) {
      const made = d.make({ low: 0, high: 1, alpha: 5, beta: 4 });
      expect(made.name).toBe(d.name);
      expect(made.entries.map((e) => e.match)).toEqual(d.entries.map((e) => e.match));
      const rules = made.entries.map((e) => (typeof e.rule === 'function' ? e.rule() : e.rule));
      expect(rules.map((r) => r.name)).toEqual(d.entries.map((e) => e.rule));
      for (const r of rules.filter((x) => x.name === 'alphaBeta')) expect([r.params.alpha, r.params.beta]).toEqual([2, 1]);
    }
  });

  test('epsilonGammaBox without bounds fails only when its z-box entry is used, naming the bounds', async () => {
    const made = compositeDefinitions().find((d) => d.name === 'epsilonGammaBox')?.make({});
    const zBoxEntry = made?.entries[0].rule;
    expect(typeof zBoxEntry).toBe('function');
    await expectError(() => (zBoxEntry as () => unknown)(), LrpRuleError, /Composite 'epsilonGammaBox' uses the zBox rule on the first Conv layer and needs the input bounds: pass options \{ low, high \}, e\.g\. \{ low: 0, high: 1 \} for images scaled to \[0, 1\]/);
  });
});

describe('group defaults and the layer table', () => {
  test('GROUP_DEFAULTS lists every group; the base map and the gradient method are built from it', () => {
    expect(LAYER_GROUPS).toEqual(Object.keys(GROUP_DEFAULTS));
    expect(LAYER_GROUPS).toHaveLength(13);
    const base = baseEntries({}).map((e) => [e.match.group, (e.rule as { name: string }).name]);
    expect(base).toEqual(LAYER_GROUPS.filter((g) => ['pass', 'norm'].includes(GROUP_DEFAULTS[g].rule ?? '')).map((g) => [g, GROUP_DEFAULTS[g].rule]));
    expect(gradientComposite().entries.map((e) => e.match.group)).toEqual(LAYER_GROUPS);
    expect([GROUP_DEFAULTS.dense.rule, GROUP_DEFAULTS.conv.rule, GROUP_DEFAULTS.other.rule]).toEqual([null, null, null]);
  });

  test('layerTable lists every registered class with the rule the planner really gives it', () => {
    const table = layerTable();
    expect(table.map((r) => r.className)).toEqual(layerClassNames());
    const row = (c: string) => table.find((r) => r.className === c);
    expect(row('MaxPooling2D')).toMatchObject({ group: 'maxPool', defaultRule: 'gradient' });
    expect(row('AveragePooling2D')).toMatchObject({ group: 'avgPool', defaultRule: 'norm' });
    expect(row('Add')).toMatchObject({ group: 'add', defaultRule: 'norm' });
    expect(row('Dropout')).toMatchObject({ group: 'identity', defaultRule: 'pass' });
    expect(row('Dense')).toMatchObject({ group: 'dense', defaultRule: 'none' });
    for (const r of table) expect(r.note.length).toBeGreaterThan(5);

    // the plan of a model with one layer of most groups agrees with the table
    const plan = planModel(mixedModel(), { composite: 'epsilonPlus' });
    const layers = plan.nodes.filter((p) => p.node.op.kind === 'layer');
    expect(layers.map((p) => p.node.className)).toEqual(['MaxPooling2D', 'ZeroPadding2D', 'AveragePooling2D', 'Activation', 'Flatten', 'Dropout']);
    for (const p of layers) expect([p.node.className, p.rule.name]).toEqual([p.node.className, row(p.node.className)?.defaultRule]);
    expect(describePlan(plan).find((r) => r.layer === 'max')?.reason).toBe('relevance to the window maximum');
  });

  test("a class's registered rule wins over its group default; unknown groups are refused", async () => {
    const input = tf.input({ shape: [4] });
    const h = tf.layers.dense({ units: 3, name: 'h' }).apply(input) as tf.SymbolicTensor;
    const t = new Twice({ name: 'twice' }).apply(h) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 2, name: 'o' }).apply(t) as tf.SymbolicTensor });
    randomizeWeights(model, 4);
    try {
      registerLayerRule('TwiceForRegistryTest', makeRule('norm'), 'activation');
      expect(layerTable().find((r) => r.className === 'TwiceForRegistryTest')).toMatchObject({ group: 'activation', defaultRule: 'norm' });
      const node = planModel(model).nodes.find((p) => p.node.name === 'twice');
      expect([node?.rule.name, node?.reason]).toEqual(['norm', 'registered rule for TwiceForRegistryTest']);
    } finally {
      unregisterLayer('TwiceForRegistryTest');
    }
    await expectError(() => registerLayer('TwiceForRegistryTest', { group: 'pooling' as never }), LrpLayerError, /unknown group 'pooling'/, /'other' for a class of your own/);
  });
});
