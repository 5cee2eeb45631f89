/**
 * The package as users get it: `npm run build` writes dist/ (CommonJS, ES modules, .d.ts) and
 * both `require('tfjs-lrp')` and `import('tfjs-lrp')` work and explain a model.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..');
const run = (args: string[], input?: string) => execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });

const script = (load: string) => `
${load}
const tf = require('@tensorflow/tfjs');
const m = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 2 })] });
const r = lrp.explain(m, tf.ones([1, 3]), 0);
console.log(JSON.stringify({ shape: r.shape, names: Object.keys(lrp).length, hasExplain: typeof lrp.explain }));
`;

beforeAll(() => {
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'pipe' });
}, 180000);

test('dist has CommonJS, ES modules and type declarations at the paths package.json names', () => {
  const pkg = require('../package.json') as { main: string; module: string; types: string };
  for (const p of [pkg.main, pkg.module, pkg.types]) expect(existsSync(join(root, p))).toBe(true);
});

test('require() of the package works', () => {
  const out = JSON.parse(run(['-'], script("const lrp = require('tfjs-lrp');")).trim().split('\n').pop() as string);
  expect(out).toEqual({ shape: [1, 3], names: expect.any(Number), hasExplain: 'function' });
});

test('import() of the package works', () => {
  const out = run(['--input-type=module', '-'], `import { createRequire } from 'node:module'; const require = createRequire(process.cwd() + '/x.js');\nconst lrp = await import('tfjs-lrp');` + script('').replace("const tf = require('@tensorflow/tfjs');", "const tf = require('@tensorflow/tfjs');"));
  const parsed = JSON.parse(out.trim().split('\n').pop() as string);
  expect(parsed.hasExplain).toBe('function');
  expect(parsed.shape).toEqual([1, 3]);
});

test("the Node entry 'tfjs-lrp/node' exports loadModel with both require() and import()", () => {
  const cjs = run(['-e', "const n = require('tfjs-lrp/node'); console.log(typeof n.loadModel, typeof n.explain)"]).trim();
  expect(cjs).toBe('function function');
  const esm = run(['--input-type=module', '-e', "const n = await import('tfjs-lrp/node'); console.log(typeof n.loadModel, typeof n.explain)"]).trim();
  expect(esm).toBe('function function');
});

test('the tfjs-lrp command of the build runs (describe; explain with two worker threads from dist/)', () => {
  const { mkdtempSync, readFileSync, rmSync } = require('node:fs') as typeof import('node:fs');
  const { tmpdir } = require('node:os') as typeof import('node:os');
  const plan = run(['bin/tfjs-lrp.js', 'describe', '--model', 'fixtures/digits']);
  expect(plan).toMatch(/conv1/);
  expect(plan).toMatch(/dense1/);
  const dir = mkdtempSync(join(tmpdir(), 'tfjs-lrp-bin-'));
  try {
    const npy = join(dir, 'x.npy');
    run(['-e', `const n = require('tfjs-lrp/node'); const x = new Float32Array(8 * 784).map((_, i) => (i % 97) / 97); require('fs').writeFileSync(${JSON.stringify(npy)}, n.encodeNpy(x, [8, 28, 28, 1]));`]);
    const out = join(dir, 'out');
    const log = run(['bin/tfjs-lrp.js', 'explain', '--model', 'fixtures/digits', '--input', npy, '--batch', '4', '--workers', '2', '--backend', 'wasm', '--out', out, '--progress', 'log']);
    expect(log).toMatch(/2 workers/);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { items?: unknown[] } | unknown[];
    const rows = Array.isArray(summary) ? summary : (summary.items ?? []);
    expect(rows).toHaveLength(8);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120000);
