// Builds the package:
//   dist/cjs, dist/esm (ES modules for Node and bundlers), dist/types (.d.ts) with TypeScript, and
//   dist/browser (esbuild, from the root entry src/index.ts; @tensorflow/tfjs is never bundled):
//     tfjs-lrp.min.js      one file for a plain <script> tag: global `tfjsLrp`, uses the page's global `tf`
//     tfjs-lrp.esm.min.js  one ES module that imports '@tensorflow/tfjs' (for import maps / <script type="module">)
//   both minified with source maps. The browser build runs with platform 'browser', so a Node-only
//   module reachable from the root entry (fs, path, ...) fails the build.
//
//   node scripts/build.mjs                            everything
//   node scripts/build.mjs --browser                  dist/browser only (fast; what the demo page needs)
//   node scripts/build.mjs --browser --out-dir DIR    the browser files into DIR instead (the browser tests)
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';
import { build } from 'esbuild';

const browserOnly = process.argv.includes('--browser');
const outDirAt = process.argv.indexOf('--out-dir');
if (outDirAt >= 0 && (process.argv[outDirAt + 1] === undefined || process.argv[outDirAt + 1].startsWith('--'))) throw new Error('--out-dir needs a folder');
// A full build writes into a staging folder next to dist/ and then swaps it in, so that a test or
// a second build running at the same time never sees a half-written dist/ (it is missing only
// between two renames). The staging folder sits at the same depth as dist/, so the source maps'
// relative paths stay right.
const staging = `.dist-${process.pid}`;
const distDir = browserOnly ? 'dist' : staging;
const browserDir = outDirAt >= 0 ? process.argv[outDirAt + 1] : join(distDir, 'browser');

// ---- TypeScript: CommonJS, ES modules, declarations ----------------------------------------
//
// One type-checked program writes the declarations (and fails the build on a type error); the
// CommonJS and ES module files are per-file transpiles of the same sources with the same options
// (safe because the sources compile under `isolatedModules`, which tsconfig.build.json checks).
// That is one type check instead of three: what keeps `npm ci` (the `prepare` script) fast.

/** Writes `<out>/cjs`, `<out>/esm` and `<out>/types` from tsconfig.build.json; throws on any diagnostic. */
function compileTypeScript(out) {
  const configFile = ts.readConfigFile('tsconfig.build.json', ts.sys.readFile);
  if (configFile.error) throw new Error(ts.flattenDiagnosticMessageText(configFile.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(configFile.config, ts.sys, process.cwd(), undefined, 'tsconfig.build.json');
  const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => process.cwd(), getNewLine: () => '\n' };
  const fail = (diagnostics) => {
    if (diagnostics.length === 0) return;
    throw new Error(`TypeScript:\n${ts.formatDiagnostics(diagnostics, host)}`);
  };
  fail(parsed.errors);

  const program = ts.createProgram({ rootNames: parsed.fileNames, options: { ...parsed.options, outDir: join(out, 'types'), emitDeclarationOnly: true, declaration: true } });
  fail(ts.getPreEmitDiagnostics(program));
  fail(program.emit().diagnostics);

  const rootDir = parsed.options.rootDir ?? '.';
  for (const [outDir, module] of [[join(out, 'cjs'), ts.ModuleKind.CommonJS], [join(out, 'esm'), ts.ModuleKind.ES2020]]) {
    const options = { ...parsed.options, module, outDir, declaration: false, sourceMap: false, isolatedModules: true };
    for (const file of parsed.fileNames) {
      if (file.endsWith('.d.ts')) continue;
      const result = ts.transpileModule(readFileSync(file, 'utf8'), { compilerOptions: options, fileName: file, reportDiagnostics: true });
      fail(result.diagnostics ?? []);
      const target = join(outDir, relative(rootDir, file)).replace(/\.tsx?$/, '.js');
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, result.outputText);
    }
  }
}

if (!browserOnly) {
  rmSync(staging, { recursive: true, force: true });
  process.on('exit', () => rmSync(staging, { recursive: true, force: true }));
  compileTypeScript(staging);
  writeFileSync(join(staging, 'cjs', 'package.json'), JSON.stringify({ type: 'commonjs' }) + '\n');
  writeFileSync(join(staging, 'esm', 'package.json'), JSON.stringify({ type: 'module' }) + '\n');
  // What a bundler (Vite, webpack) does with the ES modules: it must not meet a Node-only module.
  await build({ entryPoints: [join(staging, 'esm', 'src', 'index.js')], bundle: true, platform: 'browser', format: 'esm', external: ['@tensorflow/tfjs'], write: false, logLevel: 'error' });
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
const sizes = `tfjs-lrp.min.js (${kb('tfjs-lrp.min.js')} KiB, global tfjsLrp), tfjs-lrp.esm.min.js (${kb('tfjs-lrp.esm.min.js')} KiB)`;
if (!browserOnly) {
  // swap the finished build in (a concurrent build may swap in between: then move its dist/ away too)
  for (let attempt = 0; ; attempt++) {
    const old = `.dist-old-${process.pid}-${attempt}`;
    if (existsSync('dist')) renameSync('dist', old);
    try {
      renameSync(staging, 'dist');
      break;
    } catch (e) {
      if (attempt >= 10) throw e;
    } finally {
      rmSync(old, { recursive: true, force: true });
    }
  }
}
const shownDir = browserDir.startsWith(staging) ? join('dist', browserDir.slice(staging.length)) : browserDir;
console.log(`built ${shownDir}: ${sizes}`);
