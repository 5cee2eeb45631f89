/**
 * `npm run demo:web`: builds the demo page (web/, Vite) into out/web and serves it on 127.0.0.1
 * (Vite's preview server, scripts/static-server.ts).
 *
 *     npm run demo:web                 # http://127.0.0.1:8080/ (or the next free port when 8080 is taken)
 *     npm run demo:web -- --port 9000
 *     npm run demo:web -- --no-build   # serve what out/web has
 *
 * With `--screenshot <file.png>` it instead opens the page in Chromium (scripts/browser.ts) at
 * 1280 × 800 with the page's defaults, waits for the first explanation, saves the page down to its
 * footer (at most 800 px high) and exits: what docs/browser-demo.png is made with.
 *
 *     npm run demo:web -- --screenshot docs/browser-demo.png
 *     npm run demo:web -- --screenshot docs/browser-clever-hans.png --model clever-hans --method composite:epsilonPlusFlat
 *     (also --width <px>, --height <px>, --sample <n> (a sample button, 1-based))
 *
 * out/web is a static folder: any static file server can serve it (the page uses relative URLs).
 */
import * as path from 'path';
import { buildWeb, launchChromium, ROOT } from './browser';
import { serveStatic } from './static-server';

/** What {@link screenshotDemo} may change from the page's defaults. */
export interface ScreenshotOptions {
  readonly width?: number;
  readonly height?: number;
  /** A model id of the manifest (default: the page's first). */
  readonly model?: string;
  /** A value of the #rule select (default: the page's). */
  readonly method?: string;
  /** A sample button, 1-based (default: the sample the page shows first). */
  readonly sample?: number;
}

/** What the page reports (web/src/main.ts, window.__lrpDemo). */
interface DemoWindow {
  __lrpDemo: { ready: Promise<void>; state: { updates: number; result: { model: string } | null }; setMethod(value: string): Promise<unknown>; refresh(): Promise<unknown> };
}

/**
 * Saves a screenshot of the demo page served at `url` to `file` (PNG); returns the page's
 * document width, so callers can check that nothing scrolls sideways.
 */
export async function screenshotDemo(url: string, file: string, options: ScreenshotOptions = {}): Promise<{ scrollWidth: number; height: number }> {
  const width = options.width ?? 1280;
  const height = options.height ?? 800;
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width, height }, deviceScaleFactor: 1 });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(url);
    await page.waitForFunction(() => (window as unknown as DemoWindow).__lrpDemo !== undefined, undefined, { timeout: 60000 });
    await page.evaluate(() => (window as unknown as DemoWindow).__lrpDemo.ready);
    await page.waitForFunction(() => (window as unknown as DemoWindow).__lrpDemo.state.updates > 0, undefined, { timeout: 60000 });
    if (options.model !== undefined) {
      await page.selectOption('#model', options.model);
      await page.waitForFunction((m) => (window as unknown as DemoWindow).__lrpDemo.state.result?.model === m, options.model, { timeout: 60000 });
    }
    if (options.sample !== undefined) await page.click(`#samples button:nth-child(${options.sample})`);
    if (options.method !== undefined) await page.evaluate((m) => (window as unknown as DemoWindow).__lrpDemo.setMethod(m), options.method);
    await page.evaluate(() => (window as unknown as DemoWindow).__lrpDemo.refresh()); // "updated in …", not the first call's timing
    await page.mouse.move(0, 0);
    if (errors.length > 0) throw new Error(`page errors: ${errors.join('; ')}`);
    const size = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, bottom: Math.ceil((document.querySelector('footer') as HTMLElement).getBoundingClientRect().bottom) }));
    const shot = Math.min(height, size.bottom);
    await page.screenshot({ path: file, clip: { x: 0, y: 0, width, height: shot } });
    return { scrollWidth: size.scrollWidth, height: shot };
  } finally {
    await browser.close();
  }
}

function argValue(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  if (i < 0) return undefined;
  const v = argv[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`${name}: expected a value`);
  return v;
}

function intArg(argv: string[], name: string, min: number, max: number): number | undefined {
  const v = argValue(argv, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name}: expected an integer in ${min}..${max}, got ${v}`);
  return n;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const port = intArg(argv, '--port', 0, 65535) ?? 8080;
  const screenshot = argValue(argv, '--screenshot');
  const out = path.join(ROOT, 'out', 'web');
  if (!argv.includes('--no-build')) {
    const t0 = Date.now();
    buildWeb(out);
    console.log(`built ${path.relative(ROOT, out)} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  if (screenshot !== undefined) {
    const server = await serveStatic(out);
    try {
      const file = path.resolve(screenshot);
      const options: ScreenshotOptions = {
        width: intArg(argv, '--width', 320, 4096),
        height: intArg(argv, '--height', 200, 4096),
        model: argValue(argv, '--model'),
        method: argValue(argv, '--method'),
        sample: intArg(argv, '--sample', 1, 100),
      };
      const r = await screenshotDemo(server.url, file, options);
      console.log(`wrote ${path.relative(process.cwd(), file)} (${options.width ?? 1280} × ${r.height}; page width ${r.scrollWidth} px)`);
    } finally {
      await server.close();
    }
    return;
  }
  // port taken: Vite's preview server takes the next free one
  const server = await serveStatic(out, { port, strictPort: false });
  if (port !== 0 && server.port !== port) console.log(`port ${port} is taken; using ${server.port}`);
  console.log(`\n  tfjs-lrp demo:        ${server.url}`);
  console.log(`  plain <script> page: ${server.url}plain/`);
  console.log(`  ES-module page:      ${server.url}esm/\n`);
  console.log('  (Ctrl-C to stop)');
  const stop = (): void => {
    void server.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(`demo:web: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
