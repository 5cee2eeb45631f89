// Builds the package:
//   dist/cjs, dist/esm (ES modules for Node and bundlers), dist/types (.d.ts) with tsc, and
//   dist/browser (esbuild, from the root entry src/index.ts; @tensorflow/tfjs is never bundled):
//     tfjs-lrp.min.js      one file for a plain <script> tag: global `tfjsLrp`, uses the page's global `tf`
//     tfjs-lrp.esm.min.js  one ES module that imports '@tensorflow/tfjs' (for import maps / <script type="module">)
//   both minified with source maps. The browser build runs with platform 'browser', so a Node-only
//   module reachable from the root entry (fs, path, ...) fails the build.
//
//   node scripts/build.mjs                            everything
//   node scripts/build.mjs --browser                  dist/browser only (fast; what the demo page needs)
//   node scripts/build.mjs --browser --out-dir DIR    the browser files into DIR instead (the browser tests)
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const browserOnly = process.argv.includes('--browser');
const outDirAt = process.argv.indexOf('--out-dir');
const browserDir = outDirAt >= 0 ? process.argv[outDirAt + 1] : 'dist/browser';
if (browserDir === undefined || browserDir.startsWith('--')) throw new Error('--out-dir needs a folder');

// ---- tsc: CommonJS, ES modules, declarations -----------------------------------------------

const tsc = (args) => execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json', ...args], { stdio: 'inherit' });

if (!browserOnly) {
  rmSync('dist', { recursive: true, force: true });
  tsc(['--outDir', 'dist/cjs', '--module', 'commonjs', '--declaration', 'false']);
  tsc(['--outDir', 'dist/esm', '--module', 'es2020', '--declaration', 'false']);
  tsc(['--outDir', 'dist/types', '--emitDeclarationOnly']);
  mkdirSync('dist/cjs', { recursive: true });
  writeFileSync('dist/cjs/package.json', JSON.stringify({ type: 'commonjs' }) + '\n');
  writeFileSync('dist/esm/package.json', JSON.stringify({ type: 'module' }) + '\n');
  // What a bundler (Vite, webpack) does with the ES modules: it must not meet a Node-only module.
  await build({ entryPoints: ['dist/esm/src/index.js'], bundle: true, platform: 'browser', format: 'esm', external: ['@tensorflow/tfjs'], write: false, logLevel: 'error' });
  console.log('built dist/cjs, dist/esm (bundles for the browser), dist/types');
}

// ---- esbuild: the browser files --------------------------------------------------------------

/** `@tensorflow/tfjs` → the page's global `tf` (the <script> build). */
const tfGlobal = {
  name: 'tf-global',
  setup(b) {
    b.onResolve({ filter: /^@tensorflow\/tfjs(-core|-layers)?$/ }, (args) => ({ path: args.path, namespace: 'tf-global' }));
    b.onLoad({ filter: /.*/, namespace: 'tf-global' }, () => ({
      loader: 'js',
      contents:
        "if (typeof globalThis.tf !== 'object' || globalThis.tf === null || typeof globalThis.tf.tidy !== 'function') {\n" +
        "  throw new Error('tfjs-lrp: the global tf is missing. Load @tensorflow/tfjs (e.g. <script src=\"tf.min.js\">) before tfjs-lrp.min.js.');\n" +
        '}\nmodule.exports = globalThis.tf;\n',
    }));
  },
};

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const banner = `/*! tfjs-lrp ${pkg.version} | ${pkg.license} | needs @tensorflow/tfjs ${pkg.peerDependencies['@tensorflow/tfjs']} */`;
const common = {
  entryPoints: ['src/bundle.ts'],
  bundle: true,
  platform: 'browser',
  target: 'es2019',
  minify: true,
  sourcemap: true,
  legalComments: 'none',
  banner: { js: banner },
  logLevel: 'warning',
};

rmSync(browserDir, { recursive: true, force: true });
await build({ ...common, format: 'iife', globalName: 'tfjsLrp', outfile: join(browserDir, 'tfjs-lrp.min.js'), plugins: [tfGlobal] });
await build({ ...common, format: 'esm', external: ['@tensorflow/tfjs'], outfile: join(browserDir, 'tfjs-lrp.esm.min.js') });
const kb = (f) => (statSync(join(browserDir, f)).size / 1024).toFixed(0);
console.log(`built ${browserDir}: tfjs-lrp.min.js (${kb('tfjs-lrp.min.js')} KiB, global tfjsLrp), tfjs-lrp.esm.min.js (${kb('tfjs-lrp.esm.min.js')} KiB)`);
