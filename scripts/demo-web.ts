/**
 * `npm run demo:web`: builds the demo page (web/, Vite) into out/web and serves it on 127.0.0.1.
 *
 *     npm run demo:web                 # http://127.0.0.1:8080/ (or a free port when 8080 is taken)
 *     npm run demo:web -- --port 9000
 *     npm run demo:web -- --no-build   # serve what out/web has
 *
 * out/web is a static folder: any static file server can serve it (the page uses relative URLs).
 */
import * as path from 'path';
import { buildWeb, ROOT } from './browser';
import { serveStatic } from './static-server';
import type { StaticServer } from './static-server';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const portArg = argv.indexOf('--port');
  const port = portArg >= 0 ? Number(argv[portArg + 1]) : 8080;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port: expected a port number, got ${argv[portArg + 1]}`);
  const out = path.join(ROOT, 'out', 'web');
  if (!argv.includes('--no-build')) {
    const t0 = Date.now();
    buildWeb(out);
    console.log(`built ${path.relative(ROOT, out)} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  let server: StaticServer;
  try {
    server = await serveStatic(out, { port });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    console.log(`port ${port} is taken; using a free one`);
    server = await serveStatic(out, { port: 0 });
  }
  console.log(`\n  tfjs-lrp demo:        ${server.url}`);
  console.log(`  plain <script> page: ${server.url}plain/\n`);
  console.log('  (Ctrl-C to stop)');
  const stop = (): void => {
    void server.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(`demo:web: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
