/**
 * The package as users get it: `npm run build` (also the `prepare` script, so `npm ci` in a clone
 * and `npm pack` build it) writes dist/ (CommonJS, ES modules, .d.ts, browser bundles); every
 * path package.json names exists, `npm pack` ships them, `require()` and `import()` of every
 * subpath work, and the `tfjs-lrp` command runs.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt } from './support/build';

const root = join(__dirname, '..');
const run = (args: string[], input?: string) => execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });

interface Conditions {
  readonly types?: string;
  readonly import?: string;
  readonly require?: string;
}
interface PackageJson {
  main: string;
  module: string;
  types: string;
  unpkg: string;
  bin: Record<string, string>;
  files: string[];
  scripts: Record<string, string>;
  exports: Record<string, string | Conditions>;
}
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson;
/** The subpaths users import: '.', './heatmap', … (not './package.json' or the dist/browser pattern). */
const entryPoints = Object.entries(pkg.exports).filter((e): e is [string, Conditions] => typeof e[1] === 'object');
const specifier = (subpath: string) => (subpath === '.' ? 'tfjs-lrp' : `tfjs-lrp/${subpath.slice(2)}`);

const script = (load: string) => `
${load}
const tf = require('@tensorflow/tfjs');
const m = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 2 })] });
const r = lrp.explain(m, tf.ones([1, 3]), 0);
console.log(JSON.stringify({ shape: r.shape, names: Object.keys(lrp).length, hasExplain: typeof lrp.explain }));
`;

beforeAll(() => {
  ensureBuilt(); // when dist/ is missing or older than the sources (a fresh build takes about 10 s)
}, 180000);

test('the prepare script builds dist (npm ci in a clone, npm pack and git installs get a working package)', () => {
  expect(pkg.scripts.prepare).toMatch(/scripts\/build\.mjs/);
  expect(pkg.scripts.prepare).not.toMatch(/--browser/);
});

test('every file package.json names exists after the build', () => {
  const named = [pkg.main, pkg.module, pkg.types, pkg.unpkg, ...Object.values(pkg.bin), ...entryPoints.flatMap(([, c]) => [c.types, c.import, c.require])];
  const missing = named.filter((p): p is string => p !== undefined).filter((p) => !existsSync(join(root, p)));
  expect(missing).toEqual([]);
  expect(entryPoints.map(([k]) => k).sort()).toEqual(['.', './evaluate', './heatmap', './node', './spray']);
});

test('npm pack ships the bin, every export target and no sources or tests', () => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const files = new Set((JSON.parse(out) as { files: { path: string }[] }[])[0].files.map((f) => f.path));
  const wanted = [...Object.values(pkg.bin), pkg.unpkg, ...entryPoints.flatMap(([, c]) => [c.types, c.import, c.require])].filter((p): p is string => p !== undefined).map((p) => p.replace(/^\.\//, ''));
  expect(wanted.filter((p) => !files.has(p))).toEqual([]);
  expect([...files].filter((p) => /^(src|test|scripts|rules|web)\//.test(p))).toEqual([]);
}, 60000);

test('every subpath loads with require() and import()', () => {
  for (const [subpath] of entryPoints) {
    const name = specifier(subpath);
    const cjs = run(['-e', `const m = require(${JSON.stringify(name)}); console.log(Object.keys(m).length)`]).trim();
    expect(Number(cjs)).toBeGreaterThan(0);
    const esm = run(['--input-type=module', '-e', `const m = await import(${JSON.stringify(name)}); console.log(Object.keys(m).length)`]).trim();
    expect(Number(esm)).toBe(Number(cjs));
  }
}, 60000);

test('the tfjs-lrp command prints its help', () => {
  const bin = join(root, pkg.bin['tfjs-lrp']);
  expect(readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node')).toBe(true);
  expect(run([bin, '--help'])).toMatch(/Usage: tfjs-lrp <command>/);
});

test('dist has CommonJS, ES modules and type declarations at the paths package.json names', () => {
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
