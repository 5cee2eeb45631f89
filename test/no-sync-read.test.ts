/**
 * No synchronous device read on any explain path with default options (WebGPU loses the device on
 * a synchronous read in Chromium and throws in Node), and the NaN/Infinity input check that
 * replaced the read (src/inputCheck.ts): computed on the device, NaN relevance for bad samples,
 * the LrpArgumentError when the result is read, no leaks. Runs on every backend of BACKENDS
 * (webgpu too where it runs; there, the tests of synchronous reads of the result are skipped).
 *
 * The spy wraps the engine's `readSync` (what `dataSync`, `arraySync`, `bufferSync`, `toString`
 * of any tensor go through), `tf.Tensor.prototype.dataSync`/`arraySync`, and the active backend's
 * `readSync` when called from outside a kernel. cpu and wasm kernels read their inputs with the
 * backend's `readSync` from host memory (GatherV2's indices, Tile, …); those are the kernels'
 * own business, not a read of ours (on WebGPU they are shaders), and their asynchronous
 * `backend.read` is a `readSync` too: backend reads made inside a kernel or inside `read` are not
 * counted.
 */
import * as tf from '@tensorflow/tfjs';
import { COMPOSITE_NAMES, createExplainer, explain, explainWithConservation, layerOutputKeys, LrpArgumentError } from '../src';
import { crossValidate } from '../src/evaluate';
import type { ExplainOptions } from '../src';
import { computeBatch } from '../src/node/batch/compute';
import { BACKENDS, expectError, SYNC_BACKENDS, useBackend } from './helpers';
import { CASES, TestCase } from './models';

/** Records every synchronous read while installed. */
class SyncReadSpy {
  readonly reads: string[] = [];
  private readonly undo: Array<() => void> = [];
  private innerDepth = 0;

  /** Installs the spy on the engine, the Tensor prototype and the active backend. */
  install(): this {
    const engine = tf.engine() as unknown as Record<string, (...a: unknown[]) => unknown>;
    const backend = tf.backend() as unknown as Record<string, (...a: unknown[]) => unknown>;
    const proto = tf.Tensor.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
    this.patch(engine, 'readSync', (original, self, args) => {
      this.reads.push('engine.readSync');
      return original.apply(self, args);
    });
    // kernels run inside engine.runKernelFunc and read their inputs with backend.readSync; the
    // async backend.read of cpu and wasm is readSync (host memory): neither is a read of ours
    const inside = (original: (...a: unknown[]) => unknown, self: unknown, args: unknown[]) => {
      this.innerDepth++;
      try {
        return original.apply(self, args);
      } finally {
        this.innerDepth--;
      }
    };
    this.patch(engine, 'runKernelFunc', inside);
    this.patch(backend, 'read', inside);
    this.patch(backend, 'readSync', (original, self, args) => {
      if (this.innerDepth === 0) this.reads.push(`${tf.getBackend()} backend.readSync`);
      return original.apply(self, args);
    });
    for (const name of ['dataSync', 'arraySync']) {
      this.patch(proto, name, (original, self, args) => {
        this.reads.push(`Tensor.${name}`);
        return original.apply(self, args);
      });
    }
    return this;
  }

  /** Removes the spy. */
  restore(): void {
    while (this.undo.length > 0) (this.undo.pop() as () => void)();
  }

  private patch(target: Record<string, (...a: unknown[]) => unknown>, name: string, wrap: (original: (...a: unknown[]) => unknown, self: unknown, args: unknown[]) => unknown): void {
    const own = Object.prototype.hasOwnProperty.call(target, name);
    const original = target[name];
    target[name] = function (this: unknown, ...args: unknown[]) {
      return wrap(original, this, args);
    };
    this.undo.push(() => {
      if (own) target[name] = original;
      else delete target[name];
    });
  }
}

/** The sync reads `fn` makes (its result is disposed); with `tolerant`, also when `fn` throws (webgpu in Node cannot read synchronously). */
async function syncReadsOf(fn: () => unknown, tolerant = false): Promise<string[]> {
  const spy = new SyncReadSpy().install();
  let result: unknown;
  try {
    result = await Promise.resolve(fn());
  } catch (e) {
    if (!tolerant) throw e;
  } finally {
    spy.restore();
  }
  tf.dispose(result as tf.TensorContainer);
  return spy.reads;
}

const byName = (prefix: string): TestCase => CASES.find((c) => c.name.startsWith(prefix)) as TestCase;
const MODELS = [
  byName('Conv2D same'),
  byName('MaxPooling2D'),
  byName('DepthwiseConv2D'),
  byName('Add (residual'),
  byName('multi-input'),
  byName('Embedding'),
  {
    // recurrent layers (test/recurrent.test.ts): a Masking mask, LSTM with returnSequences, GRU
    name: 'Masking → LSTM → GRU → Dense',
    classes: [0, 1, 2],
    build: () => {
      const input = tf.input({ shape: [4, 3] });
      const masked = tf.layers.masking().apply(input) as tf.SymbolicTensor;
      const seq = tf.layers.lstm({ units: 4, returnSequences: true }).apply(masked) as tf.SymbolicTensor;
      const last = tf.layers.gru({ units: 3 }).apply(seq) as tf.SymbolicTensor;
      const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 3 }).apply(last) as tf.SymbolicTensor });
      const x = tf.mul(tf.randomUniform([3, 4, 3], -1, 1, 'float32', 3), tf.tensor3d([1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 1], [3, 4, 1]));
      return { model, inputs: [x] };
    },
  } satisfies TestCase,
];
const GRADIENT_METHODS = ['gradient', 'gradientXInput', 'integratedGradients', 'smoothGrad'] as const;

/** The option sets explained: the defaults, every composite, one with the input declared ≥ 0, every gradient method. */
function optionSets(testCase: TestCase): Array<[string, ExplainOptions]> {
  const [low, high] = testCase.bounds ?? [-1, 1];
  const sets: Array<[string, ExplainOptions]> = [['defaults', {}]];
  for (const name of COMPOSITE_NAMES) sets.push([name, { composite: name as ExplainOptions['composite'], low, high }]);
  // the input declared ≥ 0: the sign check's flags join the NaN check's, read only with the result
  sets.push(['epsilonAlpha2Beta1, inputNonNegative', { composite: 'epsilonAlpha2Beta1', inputNonNegative: true }]);
  const text = testCase.name.startsWith('Embedding');
  for (const method of GRADIENT_METHODS) {
    // token ids cannot be interpolated or perturbed (an argument error, not a read)
    if (text && (method === 'integratedGradients' || method === 'smoothGrad')) continue;
    sets.push([method, { method, steps: 4, samples: 3 }]);
  }
  return sets;
}

describe.each(BACKENDS.map((b) => [b]))('%s: no synchronous read', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });
  afterAll(async () => {
    await useBackend('cpu');
  });

  test('the spy sees a deliberate dataSync, arraySync and engine read', async () => {
    const x = tf.tensor1d([1, 2, 3]);
    expect(await syncReadsOf(() => x.dataSync(), true)).toContain('Tensor.dataSync');
    expect(await syncReadsOf(() => x.arraySync(), true)).toContain('Tensor.arraySync');
    expect(await syncReadsOf(() => x.toString(), true)).toContain('engine.readSync');
    expect(await syncReadsOf(() => (tf.backend() as unknown as { readSync(id: unknown): unknown }).readSync(x.dataId), true)).toEqual([`${backend} backend.readSync`]);
    expect(await syncReadsOf(() => x.data())).toEqual([]);
    x.dispose();
  });

  describe.each(MODELS.map((c) => [c.name, c] as const))('%s', (_name, testCase) => {
    let model: tf.LayersModel;
    let inputs: tf.Tensor[];
    beforeAll(() => {
      // built on this backend, so that no weight moves between backends (a move reads)
      ({ model, inputs } = testCase.build());
    });
    afterAll(() => {
      tf.dispose(inputs);
      model.dispose();
    });
    const input = () => (inputs.length === 1 ? inputs[0] : inputs);

    test.each(optionSets(testCase))('explain and createExplainer().explain: %s', async (_label, options) => {
      for (const cls of ['max', 0, testCase.classes] as const) {
        explain(model, input(), cls, options); // warm-up (lazily built constants), not checked
        expect(await syncReadsOf(() => explain(model, input(), cls, options))).toEqual([]);
        const explainer = createExplainer(model, options);
        expect(await syncReadsOf(() => explainer.explain(input(), cls))).toEqual([]);
        expect(await syncReadsOf(() => explainer.explain(input(), cls))).toEqual([]);
        explainer.dispose();
      }
    });

    test('explainWithConservation reads asynchronously only', async () => {
      expect(await syncReadsOf(async () => (await explainWithConservation(model, input(), 'max', { perLayer: true })).relevance)).toEqual([]);
    });

    test('explainLayers / conceptRelevance (relevance inside, CRP conditions, hidden start) read nothing', async () => {
      const explainer = createExplainer(model);
      const keys = layerOutputKeys(explainer.plan);
      const inputNames = new Set(explainer.plan.graph.inputs.map((i) => i.name));
      const names = [...keys.keys()].filter((n) => !inputNames.has(n));
      const top = names.find((n) => keys.get(n) === explainer.plan.graph.explained) as string;
      const run = () => {
        const r = explainer.explainLayers(input(), 'max', names, { conditions: { [top]: [0] } });
        const c = explainer.conceptRelevance(input(), { layer: top, channel: 1 }, names[0]);
        return [...(Array.isArray(r.input) ? r.input : [r.input]), ...Object.values(r.layers), c];
      };
      tf.dispose(run()); // warm-up
      expect(await syncReadsOf(run)).toEqual([]);
      explainer.dispose();
    });
  });

  test('crossValidate, and a batch with mixed classes (computeBatch), read asynchronously only', async () => {
    const { model, inputs } = byName('Conv2D same').build();
    expect(await syncReadsOf(() => crossValidate(model, inputs[0], 'max', { steps: 4 }).then(() => null))).toEqual([]);
    // a NaN input: explain still reads nothing (the error waits for the read of the result)
    const [bad] = spoiled(inputs, 1, NaN);
    expect(await syncReadsOf(() => explain(model, bad, 'max'))).toEqual([]);
    bad.dispose();
    const explainer = createExplainer(model, { checkInput: false });
    const job = { batchIndex: 0, indices: [0, 1, 2], shape: inputs[0].shape.slice(1), data: (await inputs[0].data()) as Float32Array, classes: [0, 'max', 1] as Array<number | 'max'> };
    expect(await syncReadsOf(() => computeBatch(explainer, model, job).then(() => null))).toEqual([]);
    explainer.dispose();
    tf.dispose(inputs);
    model.dispose();
  });
});

/** The inputs with one value of sample `k` of input `which` set to `value` (new tensors, made with ops: no read). */
function spoiled(inputs: readonly tf.Tensor[], k: number, value: number, which = 0): tf.Tensor[] {
  return inputs.map((x, i) =>
    tf.tidy(() => {
      if (i !== which) return tf.clone(x);
      const mask = new Uint8Array(x.size);
      mask[k * (x.size / x.shape[0]) + 1] = 1;
      return tf.where(tf.tensor(mask, x.shape, 'bool'), tf.scalar(value, x.dtype), x);
    }),
  );
}

/** The rows of a relevance tensor, read (asynchronously) through a clone, not the checked tensor itself. */
async function rowsOf(r: tf.Tensor): Promise<number[][]> {
  const flat = tf.tidy(() => tf.reshape(tf.clone(r), [r.shape[0], -1]));
  try {
    return (await flat.array()) as number[][];
  } finally {
    flat.dispose();
  }
}

/** The reads of a checked relevance tensor, each expected to fail with the input error. */
const READS: Array<[string, (r: tf.Tensor) => unknown]> = [
  ['data', (r) => r.data()],
  ['array', (r) => r.array()],
  ['bytes', (r) => r.bytes()],
  ['buffer', (r) => r.buffer()],
];
/** The synchronous reads (where the backend can read synchronously). */
const SYNC_READS: Array<[string, (r: tf.Tensor) => unknown]> = [
  ['dataSync', (r) => r.dataSync()],
  ['arraySync', (r) => r.arraySync()],
  ['bufferSync', (r) => r.bufferSync()],
  ['toString', (r) => r.toString()],
];

describe.each(BACKENDS.map((b) => [b]))('%s: the NaN/Infinity input check', (backend) => {
  const sync = SYNC_BACKENDS.includes(backend);
  const dense = byName('Dense');
  const multi = byName('multi-input');
  let model: tf.LayersModel;
  let inputs: tf.Tensor[];
  beforeAll(async () => {
    await useBackend(backend);
    ({ model, inputs } = dense.build());
    // lazily built constants first, so that the tensor counts below are exact
    tf.dispose(explain(model, inputs[0], 'max'));
  });
  afterAll(async () => {
    tf.dispose(inputs);
    model.dispose();
    await useBackend('cpu');
  });

  test.each([NaN, Infinity, -Infinity])('%s in sample 1: explain returns; every read throws the error naming sample 1', async (value) => {
    const [bad] = spoiled(inputs, 1, value);
    const r = explain(model, bad, 'max') as tf.Tensor;
    for (const [name, read] of sync ? [...READS, ...SYNC_READS] : READS) {
      let caught: unknown = null;
      try {
        await Promise.resolve(read(r));
      } catch (e) {
        caught = e;
      }
      expect([name, caught]).toEqual([name, expect.any(LrpArgumentError)]);
      const err = caught as LrpArgumentError;
      expect(err.argument).toBe('input');
      expect(err.message).toMatch(/Argument 'input': contains NaN or Infinity in sample\(s\) 1\. Clean or clip the data first \(or pass options\.checkInput = false to skip this check\)\./);
    }
    tf.dispose([r, bad]);
  });

  test.each(['lrp', 'gradient', 'gradientXInput', 'integratedGradients', 'smoothGrad'] as const)('%s: the bad sample is NaN everywhere, the others as in a clean run', async (method) => {
    // (smoothGrad: seed 1, as tfjs draws unseeded noise for seed 0)
    const options: ExplainOptions = { method, steps: 4, samples: 3, seed: 1 };
    const [bad] = spoiled(inputs, 2, NaN);
    const [clean] = spoiled(inputs, 2, 0.5);
    const r = explain(model, bad, [0, 1, 2], options) as tf.Tensor;
    const ref = explain(model, clean, [0, 1, 2], options) as tf.Tensor;
    const rows = await rowsOf(r);
    expect(rows[2].every(Number.isNaN)).toBe(true);
    const want = (await (ref as tf.Tensor2D).array()) as number[][];
    expect([rows[0], rows[1]]).toEqual([want[0], want[1]]);
    await expect(r.data()).rejects.toThrow(/sample\(s\) 2\./);
    tf.dispose([r, ref, bad, clean]);
  });

  test('several bad samples are listed, long lists shortened', async () => {
    const x = tf.tidy(() => tf.where(tf.less(tf.range(0, 24 * 6).reshape([24, 6]), 13 * 6).logicalAnd(tf.equal(tf.range(0, 24 * 6).reshape([24, 6]).mod(6), 0)), tf.fill([24, 6], NaN), tf.ones([24, 6])));
    const r = explain(model, x, 0) as tf.Tensor;
    await expect(r.data()).rejects.toThrow(/sample\(s\) 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, … \(13 in all\)\./);
    tf.dispose([r, x]);
  });

  test('a finite input reads unchanged, with every read; dispose releases the flag', async () => {
    const before = tf.memory().numTensors;
    const r = explain(model, inputs[0], 'max') as tf.Tensor;
    expect(tf.memory().numTensors).toBe(before + 2); // the relevance and its flag
    const plain = explain(model, inputs[0], 'max', { checkInput: false }) as tf.Tensor;
    const want = Array.from(await plain.data());
    expect(Array.from(await r.data())).toEqual(want);
    expect(await r.array()).toEqual(await plain.array());
    expect(await r.bytes()).toEqual(await plain.bytes());
    expect(Array.from((await r.buffer()).values)).toEqual(want);
    if (sync) {
      expect(Array.from(r.dataSync())).toEqual(want);
      expect(r.arraySync()).toEqual(plain.arraySync());
      expect(Array.from(r.bufferSync().values)).toEqual(want);
      expect(r.toString()).toBe(plain.toString());
    }
    tf.dispose([r, plain]);
    expect(tf.memory().numTensors).toBe(before);
    expect(r.isDisposed).toBe(true);
    await expect(r.data()).rejects.toThrow(/disposed/);
  });

  test('checkInput: false skips everything: no flag, no wrapped method, NaN flows through', async () => {
    const [bad] = spoiled(inputs, 0, NaN);
    const before = tf.memory().numTensors;
    const r = explain(model, bad, 0, { checkInput: false }) as tf.Tensor;
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(Object.getOwnPropertyNames(r).filter((k) => ['data', 'dataSync', 'array', 'arraySync', 'bytes', 'dispose'].includes(k))).toEqual([]);
    const values = await r.data();
    expect(values.length).toBe(r.size);
    r.dispose();
    expect(tf.memory().numTensors).toBe(before);
    bad.dispose();
  });

  test('the wrapped tensor keeps its own keys (methods are not enumerable)', () => {
    const r = explain(model, inputs[0], 0) as tf.Tensor;
    const plain = explain(model, inputs[0], 0, { checkInput: false }) as tf.Tensor;
    expect(Object.keys(r).sort()).toEqual(Object.keys(plain).sort());
    tf.dispose([r, plain]);
  });

  test('multi-input: each relevance names the bad input and sample; disposed in any order', async () => {
    const built = multi.build();
    const m = built.model;
    tf.dispose(m.predict(built.inputs) as tf.Tensor);
    const bad = spoiled(built.inputs, 1, NaN, 1);
    const worse = spoiled(bad, 2, Infinity, 0);
    const before = tf.memory().numTensors;
    const r = explain(m, bad, 'max') as tf.Tensor[];
    expect(r.length).toBe(2);
    for (const t of r) {
      const e = await t.data().then(() => null, (err: unknown) => err);
      expect(e).toBeInstanceOf(LrpArgumentError);
      expect((e as LrpArgumentError).argument).toBe('input[1]');
      expect((e as Error).message).toMatch(/sample\(s\) 1\./);
      if (sync) expect(() => t.dataSync()).toThrow(/Argument 'input\[1\]'/);
      const rows = await rowsOf(t);
      expect(rows[1].every(Number.isNaN)).toBe(true);
      expect(rows[0].some(Number.isNaN)).toBe(false);
    }
    r[1].dispose();
    r[0].dispose();
    expect(tf.memory().numTensors).toBe(before);
    // both inputs bad: the first is named, the second too in the message
    const r2 = explain(m, worse, 0) as tf.Tensor[];
    await expect(r2[1].array()).rejects.toThrow(/Argument 'input\[0\]': contains NaN or Infinity in sample\(s\) 2 \(input\[1\] too, in sample\(s\) 1\)\./);
    tf.dispose(r2);
    expect(tf.memory().numTensors).toBe(before);
    await expectError(() => explainWithConservation(m, worse, 0), LrpArgumentError, /input\[0\]/, /sample\(s\) 2/);
    tf.dispose([...bad, ...worse, ...built.inputs]);
    m.dispose();
  });

  test('int32 inputs (token ids) are not checked: no flag', () => {
    const text = byName('Embedding').build();
    const ids = tf.cast(text.inputs[0], 'int32');
    tf.dispose(explain(text.model, ids, 0));
    const before = tf.memory().numTensors;
    const r = explain(text.model, ids, 0) as tf.Tensor;
    expect(tf.memory().numTensors).toBe(before + 1);
    r.dispose();
    tf.dispose([ids, ...text.inputs]);
    text.model.dispose();
  });

  test('explainWithConservation and crossValidate reject, disposing everything', async () => {
    const [bad] = spoiled(inputs, 2, NaN);
    const e = await expectError(() => explainWithConservation(model, bad, 'max', { perLayer: true }), LrpArgumentError, /NaN or Infinity in sample\(s\) 2\./, /checkInput/);
    expect((e as LrpArgumentError).argument).toBe('input');
    const explainer = createExplainer(model);
    tf.dispose((await explainer.explainWithConservation(inputs[0], 0)).relevance); // builds the explainer's weight-derived tensors
    await expectError(() => explainer.explainWithConservation(bad, 0), LrpArgumentError, /sample\(s\) 2\./);
    explainer.dispose();
    await expectError(() => crossValidate(model, bad, 'max', { steps: 4 }), LrpArgumentError, /Argument 'input'/, /sample\(s\) 2\./);
    bad.dispose();
  });

  test('no leaks on the error paths, and inside a tf.tidy that returns or keeps the result', async () => {
    const [bad] = spoiled(inputs, 0, NaN);
    const readThenDispose = (make: () => tf.Tensor, read: (r: tf.Tensor) => unknown) => async () => {
      const r = make();
      try {
        await Promise.resolve(read(r));
      } finally {
        r.dispose();
      }
    };
    const direct = () => explain(model, bad, 0) as tf.Tensor;
    const returned = () => tf.tidy(() => explain(model, bad, 0) as tf.Tensor);
    const kept = () => {
      let r: tf.Tensor | null = null;
      tf.tidy(() => {
        r = tf.keep(explain(model, bad, 0) as tf.Tensor);
        tf.sum(r as tf.Tensor); // some work in the same scope
      });
      return r as unknown as tf.Tensor;
    };
    for (const make of [direct, returned, kept]) {
      await expectError(readThenDispose(make, (r) => r.data()), LrpArgumentError, /sample\(s\) 0\./);
      if (sync) await expectError(readThenDispose(make, (r) => r.dataSync()), LrpArgumentError, /sample\(s\) 0\./);
      await expectError(readThenDispose(make, (r) => r.array()), LrpArgumentError, /sample\(s\) 0\./);
    }
    // the flag survives the user's tidy: the check still works after it
    const r = returned();
    await expect(r.array()).rejects.toThrow(LrpArgumentError);
    // tf.dispose releases the flag too
    const before = tf.memory().numTensors;
    const again = explain(model, bad, 0);
    tf.dispose(again);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([r, bad]);
    // a finite input inside a tidy: read after it, then released
    const start = tf.memory().numTensors;
    const fine = tf.tidy(() => explain(model, inputs[0], 0) as tf.Tensor);
    expect((await fine.data()).length).toBe(fine.size);
    fine.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });
});
