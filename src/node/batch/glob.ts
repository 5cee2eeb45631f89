/**
 * Input paths: files, folders (walked recursively) and glob patterns, resolved to a sorted,
 * de-duplicated list of files. Globs are matched by `tinyglobby`: `*` any characters within one
 * path segment, `?` one character, `**` any number of segments, `{png,jpg}` alternatives,
 * `[ab]` character classes; hidden entries are skipped. Order is by code point of the
 * `/`-separated path relative to the common base, so every machine and shard sees the same order.
 */
import * as fs from 'fs';
import * as path from 'path';
import { globSync, isDynamicPattern } from 'tinyglobby';
import { LrpArgumentError } from '../../errors.js';

/** Whether a path argument is a glob pattern (`*`, `?`, `[...]`, `{a,b}`, extglobs). */
export function isGlob(p: string): boolean {
  return isDynamicPattern(p.split(path.sep).join('/'));
}

/**
 * A glob pattern (with `/` separators) as a regular expression over relative paths: `*`, `?`,
 * `**` and (not nested) `{a,b}` alternatives. For display and quick checks; {@link expandGlob}
 * matches files with tinyglobby.
 */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  const segs = pattern.split('/');
  segs.forEach((seg, i) => {
    const last = i === segs.length - 1;
    if (seg === '**') {
      re += last ? '.*' : '(?:[^/]+/)*';
      return;
    }
    let inBraces = false;
    for (const ch of seg) {
      if (ch === '*') re += '[^/]*';
      else if (ch === '?') re += '[^/]';
      else if (ch === '{' && !inBraces) [re, inBraces] = [re + '(?:', true];
      else if (ch === '}' && inBraces) [re, inBraces] = [re + ')', false];
      else if (ch === ',' && inBraces) re += '|';
      else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
    if (!last) re += '/';
  });
  return new RegExp(`^${re}$`);
}

/** Code-point order (not locale order): the same on every machine. */
export function compareCodePoints(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Every regular file under `dir` (recursive, hidden entries skipped), as `/`-separated paths relative to `dir`. */
export function walkFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    const entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true });
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      let isDir = e.isDirectory();
      let isFile = e.isFile();
      if (e.isSymbolicLink()) {
        try {
          const st = fs.statSync(path.join(dir, r));
          isDir = st.isDirectory();
          isFile = st.isFile();
        } catch {
          isFile = true; // a dangling link: listed, reported as unreadable later
        }
      }
      if (isDir) walk(r);
      else if (isFile) out.push(r);
    }
  };
  walk('');
  return out.sort(compareCodePoints);
}

/**
 * Files matching a glob (tinyglobby; hidden entries skipped, links followed), as absolute paths
 * sorted by code point of their path relative to `base`, the pattern's folder part before the
 * first segment with a wildcard.
 */
export function expandGlob(pattern: string, cwd = process.cwd()): { base: string; files: string[] } {
  const norm = pattern.split(path.sep).join('/');
  const segs = norm.split('/');
  const firstWild = segs.findIndex((seg) => isDynamicPattern(seg));
  const baseSegs = firstWild < 0 ? segs.slice(0, -1) : segs.slice(0, firstWild);
  const base = path.resolve(cwd, baseSegs.length === 0 ? '.' : baseSegs.join('/') || '/');
  const rest = segs.slice(firstWild < 0 ? segs.length - 1 : firstWild).join('/');
  if (!fs.existsSync(base) || !fs.statSync(base).isDirectory()) return { base, files: [] };
  const matched = globSync(rest, { cwd: base, dot: false, onlyFiles: true, followSymbolicLinks: true, expandDirectories: false });
  const files = matched
    .map((r) => r.split(path.sep).join('/').replace(/^\.\//, ''))
    .sort(compareCodePoints)
    .map((r) => path.join(base, ...r.split('/')));
  return { base, files };
}

/** A resolved input file with its id (path relative to the inputs' common base, `/`-separated). */
export interface InputFile {
  readonly file: string;
  readonly id: string;
}

/** The deepest folder containing every path. */
function commonBase(dirs: string[]): string {
  if (dirs.length === 0) return process.cwd();
  let parts = dirs[0].split(path.sep);
  for (const d of dirs.slice(1)) {
    const q = d.split(path.sep);
    let k = 0;
    while (k < parts.length && k < q.length && parts[k] === q[k]) k++;
    parts = parts.slice(0, k);
  }
  return parts.join(path.sep) || path.sep;
}

/**
 * Resolves input arguments (files, folders, globs) to a sorted, de-duplicated file list with ids.
 *
 * @throws {LrpArgumentError} (argument `--input`) for a path that does not exist or a glob or
 *   folder that matches no file
 */
export function resolveInputs(inputs: readonly string[], cwd = process.cwd()): InputFile[] {
  if (inputs.length === 0) throw new LrpArgumentError('--input', 'no input given: pass files, a folder or a glob (e.g. --input "images/**/*.png").');
  const files: string[] = [];
  const bases: string[] = [];
  for (const arg of inputs) {
    if (isGlob(arg)) {
      const { base, files: matched } = expandGlob(arg, cwd);
      if (matched.length === 0) throw new LrpArgumentError('--input', `the pattern '${arg}' matches no file (searched under ${base}).`);
      bases.push(base);
      files.push(...matched);
      continue;
    }
    const full = path.resolve(cwd, arg);
    if (!fs.existsSync(full)) throw new LrpArgumentError('--input', `'${arg}' does not exist (resolved to ${full}).`);
    if (fs.statSync(full).isDirectory()) {
      const listed = walkFiles(full);
      if (listed.length === 0) throw new LrpArgumentError('--input', `the folder '${arg}' holds no files.`);
      bases.push(full);
      files.push(...listed.map((r) => path.join(full, ...r.split('/'))));
    } else {
      bases.push(path.dirname(full));
      files.push(full);
    }
  }
  const base = commonBase(bases);
  const seen = new Set<string>();
  const out: InputFile[] = [];
  for (const f of files) {
    if (seen.has(f)) continue;
    seen.add(f);
    out.push({ file: f, id: path.relative(base, f).split(path.sep).join('/') });
  }
  return out.sort((a, b) => compareCodePoints(a.id, b.id));
}
