/**
 * Builds dist/ (scripts/build.mjs) for tests that run the package as users get it, when it is
 * missing or older than the sources. The build swaps its output in atomically, so tests that run
 * at the same time keep a complete dist/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The repository root. */
export const ROOT = join(__dirname, '..', '..');

/** Newest modification time of the files under `dir` (ms; 0 for a missing folder). */
export function newestMtime(dir: string): number {
  if (!existsSync(dir)) return 0;
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Whether dist/ is complete (its last file, the browser bundle, exists) and newer than src/, rules/ and the build script. */
export function distIsFresh(root = ROOT): boolean {
  const marker = join(root, 'dist', 'browser', 'tfjs-lrp.min.js');
  if (!existsSync(marker) || !existsSync(join(root, 'dist', 'cjs', 'src', 'index.js'))) return false;
  const sources = Math.max(newestMtime(join(root, 'src')), newestMtime(join(root, 'rules')), statSync(join(root, 'scripts', 'build.mjs')).mtimeMs, statSync(join(root, 'package.json')).mtimeMs);
  return statSync(marker).mtimeMs >= sources;
}

/** Runs the build unless dist/ is fresh; returns whether it built. */
export function ensureBuilt(root = ROOT): boolean {
  if (distIsFresh(root)) return false;
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'pipe' });
  return true;
}
