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
