/**
 * The static file server of the demo page, the browser tests and the browser benchmarks: Vite's
 * `preview` server (vite is a devDependency) on 127.0.0.1, behind the small API these scripts use.
 *
 * Vite is ESM-only and Jest runs the tests as CommonJS, so the preview server runs in a child
 * Node process (an inline ES module that imports vite); {@link serveStatic} resolves once it
 * listens and `close()` stops it (it also stops when this process ends: its stdin closes).
 *
 * What it keeps from the hand-written server it replaced: `Cache-Control: no-store` on every file
 * (a rebuilt bundle is never served stale), `application/wasm` for .wasm (sirv's MIME table), a
 * folder URL ending in '/' answers with its index.html, unknown paths are a 404 (appType 'mpa': no
 * SPA fallback to index.html that would hide a missing file), no CORS headers, and paths outside
 * the served folders are refused. No COOP/COEP headers: the page is not cross-origin isolated, so
 * the wasm backend runs without threads, as before.
 */
import { spawn } from 'child_process';
import * as path from 'path';
import { pathToFileURL } from 'url';

export interface StaticServer {
  /** Base URL with a trailing slash, e.g. http://127.0.0.1:41234/ */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Options of {@link serveStatic}. */
export interface StaticServerOptions {
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /** When `port` is taken: fail with "Port … is already in use" (true, default) or take the next free one (false). */
  readonly strictPort?: boolean;
  /** Other folders under URL prefixes, e.g. { '/zoo/': '/data/zoo' }: each gets its own preview server, proxied. */
  readonly mounts?: Record<string, string>;
}

/** The headers of every answer. */
export const STATIC_HEADERS: Readonly<Record<string, string>> = { 'Cache-Control': 'no-store' };

/** The child: argv[1] is {vite, root, port, strictPort, mounts, headers}; prints {"port": n} once it listens. */
const CHILD = `
import { dirname } from 'node:path';
const spec = JSON.parse(process.argv[1]);
const { preview } = await import(spec.vite);
const servers = [];
const start = (root, port, strictPort, proxy) =>
  preview({
    // root: the folder's parent, outDir: the folder (vite warns when they are the same)
    configFile: false, envDir: false, root: dirname(root), base: '/', appType: 'mpa', logLevel: 'warn', clearScreen: false,
    build: { outDir: root },
    preview: { host: '127.0.0.1', port, strictPort, open: false, cors: false, headers: spec.headers, proxy },
  }).then((s) => (servers.push(s), s));
const portOf = (s) => s.httpServer.address().port;
const stop = async (code) => {
  await Promise.allSettled(servers.map((s) => s.close()));
  process.exit(code);
};
process.stdin.on('end', () => void stop(0));
process.stdin.resume();
process.on('SIGINT', () => void stop(0));
try {
  const proxy = {};
  for (const [prefix, dir] of spec.mounts) {
    const inner = await start(dir, 0, true, undefined);
    const strip = prefix.length - 1;
    proxy[prefix] = { target: 'http://127.0.0.1:' + portOf(inner), rewrite: (p) => p.slice(strip) };
  }
  const server = await start(spec.root, spec.port, spec.strictPort, spec.mounts.length > 0 ? proxy : undefined);
  process.stdout.write(JSON.stringify({ port: portOf(server) }) + '\\n');
} catch (err) {
  process.stdout.write(JSON.stringify({ error: String(err && err.message || err) }) + '\\n');
  await stop(1);
}
`;

/**
 * Serves `root` (and, under each `mounts` prefix such as '/vendor/', another folder) on
 * 127.0.0.1 with `vite preview`. Port 0 (default) picks a free one.
 */
export function serveStatic(root: string, options: StaticServerOptions = {}): Promise<StaticServer> {
  const mounts = Object.entries(options.mounts ?? {}).map(([prefix, dir]) => {
    if (!prefix.startsWith('/') || !prefix.endsWith('/')) throw new Error(`serveStatic: a mount prefix starts and ends with '/', got '${prefix}'`);
    return [prefix, path.resolve(dir)];
  });
  const spec = {
    vite: pathToFileURL(require.resolve('vite')).href,
    root: path.resolve(root),
    port: options.port ?? 0,
    strictPort: options.strictPort ?? true,
    mounts,
    headers: STATIC_HEADERS,
  };
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, JSON.stringify(spec)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  return new Promise<StaticServer>((resolve, reject) => {
    let buffered = '';
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('utf8');
      const nl = buffered.indexOf('\n');
      if (nl < 0) return;
      child.stdout.off('data', onData);
      child.stdout.resume(); // keep draining
      let answer: { port?: number; error?: string };
      try {
        answer = JSON.parse(buffered.slice(0, nl)) as { port?: number; error?: string };
      } catch {
        answer = { error: `unexpected output: ${buffered.slice(0, nl)}` };
      }
      if (answer.port === undefined) {
        reject(new Error(`vite preview of ${spec.root}: ${answer.error ?? 'no port'}`));
        return;
      }
      const port = answer.port;
      resolve({
        url: `http://127.0.0.1:${port}/`,
        port,
        close: async () => {
          if (child.exitCode === null && child.signalCode === null) child.stdin.end();
          await exited;
        },
      });
    };
    child.stdout.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code, signal) => reject(new Error(`vite preview of ${spec.root} ended before it listened (${signal ?? `exit code ${code}`})`)));
  });
}
