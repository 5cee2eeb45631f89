/**
 * Builds the backend conformance page into a folder: index.html and page.js (esbuild bundle of
 * test/support/conformance/page.ts with @tensorflow/tfjs, @tensorflow/tfjs-backend-webgpu, the engine
 * from src/ and the shared test builders). About two seconds; the test builds into a temporary
 * folder so that it never races another build.
 */
import * as fs from 'fs';
import * as path from 'path';
import { build } from 'esbuild';
import { ROOT } from '../../../scripts/browser';

const HTML = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><link rel="icon" href="data:,"><title>tfjs-lrp backend conformance</title></head>
<body>
<p>tfjs-lrp backend conformance: <code>window.__conformance</code> (see test/support/conformance/page.ts).</p>
<script src="page.js"></script>
</body>
</html>
`;

/** Bundles the page into `dir` (created) and returns `dir`. */
export async function buildConformancePage(dir: string): Promise<string> {
  fs.mkdirSync(dir, { recursive: true });
  await build({
    entryPoints: [path.join(ROOT, 'test', 'support', 'conformance', 'page.ts')],
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2020',
    outfile: path.join(dir, 'page.js'),
    sourcemap: 'inline',
    logLevel: 'error',
    // test/helpers.ts requires the wasm backend lazily (useBackend('wasm'), never called here)
    external: ['@tensorflow/tfjs-backend-wasm'],
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  fs.writeFileSync(path.join(dir, 'index.html'), HTML);
  return dir;
}
