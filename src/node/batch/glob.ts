/**
 * Input paths: files, folders (walked recursively) and glob patterns, resolved to a sorted,
 * de-duplicated list of files. Globs are matched by `tinyglobby`: `*` any characters within one
 * path segment, `?` one character, `**` any number of segments, `{png,jpg}` alternatives,
 * `[ab]` character classes; hidden entries are skipped. Order is by code point of the
 * `/`-separated path relative to the common base, so every machine and shard sees the same order.
 * Links are followed; each real folder is read once, so link cycles end (see {@link walkFiles}).
 */
import * as fs from 'fs';
import * as path from 'path';
import { globSync, isDynamicPattern, type FileSystemAdapter } from 'tinyglobby';
import { LrpArgumentError } from '../../errors.js';
import { checkInputsHoldItems, SUPPORTED_INPUTS } from './items.js';

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

/** Where notes about skipped input folders go (default: `console.warn`). */
export type InputNote = (line: string) => void;

const warnNote: InputNote = (line) => console.warn(`tfjs-lrp: ${line}`);

/**
 * Every regular file under `dir` (recursive, hidden entries skipped, links followed), as
 * `/`-separated paths relative to `dir`, in code-point order.
 *
 * Each real folder is read once (folders are told apart by device and inode): the tree itself
 * first, then the folders that links lead to, in code-point order of their paths. A link to a
 * folder read already (a link to an ancestor, i.e. a cycle, or a second way to the same folder)
 * is skipped with a note to `onNote`, so the walk always ends, in time linear in the size of the
 * tree whatever links it holds, and every machine keeps the same paths.
 */
export function walkFiles(dir: string, onNote: InputNote = warnNote): string[] {
  const out: string[] = [];
  const walked = new Map<string, string>(); // dev:ino of a folder → the relative path it was read as
  const links: string[] = []; // links to folders, followed after the tree itself
  const keyOf = (rel: string): string => {
    const st = fs.statSync(path.join(dir, rel), { bigint: true });
    return `${st.dev}:${st.ino}`;
  };
  const full = (rel: string) => (rel === '' ? dir : path.join(dir, rel));
  const enter = (rel: string, isLink: boolean) => {
    let key: string;
    try {
      key = keyOf(rel);
    } catch (err) {
      onNote(`note: skipped the folder ${full(rel)}: ${(err as Error).message}`);
      return;
    }
    const before = walked.get(key);
    if (before !== undefined) {
      const cycle = before === '' || rel === before || rel.startsWith(`${before}/`);
      onNote(`note: skipped ${full(rel)}: ${isLink ? 'a link' : 'a second way'} to ${cycle ? `its own ancestor ${full(before)} (a cycle)` : `the folder already read as ${full(before)}`}`);
      return;
    }
    walked.set(key, rel);
    const entries = fs.readdirSync(full(rel), { withFileTypes: true }).sort((a, b) => compareCodePoints(a.name, b.name));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) enter(r, false);
      else if (e.isFile()) out.push(r);
      else if (e.isSymbolicLink()) {
        let st: fs.Stats | null = null;
        try {
          st = fs.statSync(full(r));
        } catch {
          out.push(r); // a dangling or self-referencing link: listed, reported as unreadable later
        }
        if (st?.isDirectory() === true) links.push(r);
        else if (st?.isFile() === true) out.push(r);
      }
    }
  };
  enter('', false);
  for (let k = 0; k < links.length; k++) enter(links[k], true);
  return out.sort(compareCodePoints);
}

/**
 * The file system as tinyglobby reads it, but each real folder listed once (told apart by device
 * and inode; entries in code-point order): a folder reached again through a link (a cycle, or a
 * second link to it) reads as empty, with a note, so a glob over any links ends, in time linear
 * in the size of the tree. Folders are read depth-first in code-point order, so the path kept for a
 * folder linked twice is the same on every machine.
 */
function readOnceFs(onNote: InputNote): FileSystemAdapter {
  const read = new Map<string, string>(); // dev:ino → the path it was listed as
  const readdirSync = (p: fs.PathLike, options?: unknown): unknown => {
    const list = () => (fs.readdirSync as (p: fs.PathLike, o?: unknown) => Array<string | fs.Dirent>)(p, options).sort((a, b) => compareCodePoints(typeof a === 'string' ? a : a.name, typeof b === 'string' ? b : b.name));
    let key: string;
    try {
      const st = fs.statSync(p, { bigint: true });
      key = `${st.dev}:${st.ino}`;
    } catch {
      return list(); // the error comes from the read itself
    }
    const first = read.get(key);
    if (first !== undefined) {
      onNote(`note: skipped ${String(p)} reached through a link: the folder was read already${first === String(p) ? '' : ` as ${first}`} (a link cycle, or a second link to it)`);
      return [];
    }
    read.set(key, String(p));
    return list();
  };
  return { readdir: fs.readdir, readdirSync: readdirSync as typeof fs.readdirSync, realpath: fs.realpath, realpathSync: fs.realpathSync, stat: fs.stat, statSync: fs.statSync };
}

/**
 * Files matching a glob (tinyglobby; hidden entries skipped, links followed, each real folder
 * read once: link cycles end), as absolute paths sorted by code point of their path relative to
 * `base`, the pattern's folder part before the first segment with a wildcard.
 */
export function expandGlob(pattern: string, cwd = process.cwd(), onNote: InputNote = warnNote): { base: string; files: string[] } {
  const norm = pattern.split(path.sep).join('/');
  const segs = norm.split('/');
  const firstWild = segs.findIndex((seg) => isDynamicPattern(seg));
  const baseSegs = firstWild < 0 ? segs.slice(0, -1) : segs.slice(0, firstWild);
  const base = path.resolve(cwd, baseSegs.length === 0 ? '.' : baseSegs.join('/') || '/');
  const rest = segs.slice(firstWild < 0 ? segs.length - 1 : firstWild).join('/');
  if (!fs.existsSync(base) || !fs.statSync(base).isDirectory()) return { base, files: [] };
  const matched = globSync(rest, { cwd: base, dot: false, onlyFiles: true, followSymbolicLinks: true, expandDirectories: false, fs: readOnceFs(onNote) });
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

/** Options of {@link resolveInputs}. */
export interface ResolveOptions {
  /** Where notes go (a link to a folder read already, skipped; default: `console.warn`). */
  readonly onNote?: InputNote;
}

/**
 * Resolves input arguments (files, folders, globs) to a sorted, de-duplicated file list with ids.
 * Folders are walked with {@link walkFiles} (each real folder once: link cycles end).
 *
 * @throws {LrpArgumentError} (argument `--input`) for a path that does not exist, a glob or
 *   folder that matches no file, or inputs that hold nothing to explain (no image or array file,
 *   or only empty array files; see {@link checkInputsHoldItems})
 */
export function resolveInputs(inputs: readonly string[], cwd = process.cwd(), options: ResolveOptions = {}): InputFile[] {
  if (inputs.length === 0) throw new LrpArgumentError('--input', 'no input given: pass files, a folder or a glob (e.g. --input "images/**/*.png").');
  const files: string[] = [];
  const bases: string[] = [];
  for (const arg of inputs) {
    if (isGlob(arg)) {
      const { base, files: matched } = expandGlob(arg, cwd, options.onNote);
      if (matched.length === 0) throw new LrpArgumentError('--input', `the pattern '${arg}' matches no file (searched under ${base}); nothing to explain. Supported: ${SUPPORTED_INPUTS}.`);
      bases.push(base);
      files.push(...matched);
      continue;
    }
    const full = path.resolve(cwd, arg);
    if (!fs.existsSync(full)) throw new LrpArgumentError('--input', `'${arg}' does not exist (resolved to ${full}).`);
    if (fs.statSync(full).isDirectory()) {
      const listed = walkFiles(full, options.onNote);
      if (listed.length === 0) throw new LrpArgumentError('--input', `the folder '${arg}' holds no files (hidden ones are skipped); nothing to explain. Supported: ${SUPPORTED_INPUTS}.`);
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
  out.sort((a, b) => compareCodePoints(a.id, b.id));
  checkInputsHoldItems(out, inputs);
  return out;
}
