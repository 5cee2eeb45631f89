/**
 * A tiny static file server on 127.0.0.1 for the demo page, the browser tests and the browser
 * benchmark (no dependencies). Paths outside the served folders are refused.
 */
import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as path from 'path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.bin': 'application/octet-stream',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
};

export interface StaticServer {
  /** Base URL with a trailing slash, e.g. http://127.0.0.1:41234/ */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves `root` (and, under each `mounts` prefix such as '/vendor/', another folder) on
 * 127.0.0.1. Port 0 (default) picks a free one. A folder answers with its index.html.
 */
export function serveStatic(root: string, options: { port?: number; mounts?: Record<string, string> } = {}): Promise<StaticServer> {
  const mounts = Object.entries(options.mounts ?? {}).sort((a, b) => b[0].length - a[0].length);
  const server = http.createServer((req, res) => {
    let pathname: string;
    try {
      pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
    } catch {
      res.writeHead(400).end('bad request');
      return;
    }
    let base = root;
    let rel = pathname;
    for (const [prefix, dir] of mounts) {
      if (pathname.startsWith(prefix)) {
        base = dir;
        rel = pathname.slice(prefix.length - 1);
        break;
      }
    }
    const file = path.resolve(base, '.' + rel);
    if (file !== path.resolve(base) && !file.startsWith(path.resolve(base) + path.sep)) {
      res.writeHead(403).end('forbidden');
      return;
    }
    let target = file;
    try {
      if (fs.statSync(target).isDirectory()) {
        if (!pathname.endsWith('/')) {
          res.writeHead(301, { Location: pathname + '/' }).end();
          return;
        }
        target = path.join(target, 'index.html');
      }
      const body = fs.readFileSync(target);
      res.writeHead(200, { 'Content-Type': TYPES[path.extname(target)] ?? 'application/octet-stream', 'Content-Length': body.length, 'Cache-Control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end(`not found: ${pathname}`);
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      resolve({
        url: `http://127.0.0.1:${port}/`,
        port,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
