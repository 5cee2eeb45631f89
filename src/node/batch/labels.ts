/**
 * `--class`: one class for every item (`3`), each item's top score (`max`), or a labels file —
 * one class index per line (line k is item k of the sorted input), or CSV lines `file,class`
 * (a header line is allowed; `file` is the item id, i.e. the path relative to the inputs' common
 * folder, or its base name when that is unique).
 */
import * as fs from 'fs';
import * as path from 'path';
import { LrpArgumentError } from '../../errors.js';
import { ItemError } from './items.js';

/** Which class to explain. */
export type ClassSpec = { readonly kind: 'max' } | { readonly kind: 'index'; readonly value: number } | { readonly kind: 'labels'; readonly file: string };

/** Parses `--class`. @throws {LrpArgumentError} (`--class`) for a missing labels file or a bad value */
export function parseClassSpec(text: string, cwd = process.cwd()): ClassSpec {
  if (text === 'max') return { kind: 'max' };
  if (/^\d+$/.test(text)) return { kind: 'index', value: Number(text) };
  const file = path.resolve(cwd, text);
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) {
    throw new LrpArgumentError('--class', `expected a class index, 'max' or a labels file; '${text}' is none of them (no such file: ${file}).`);
  }
  return { kind: 'labels', file };
}

/** A class lookup for items: by id and index; undefined means "use the default". */
export type ClassLookup = (id: string, index: number) => number | ItemError | undefined;

/**
 * Reads a labels file.
 * @throws {LrpArgumentError} (`--class`) naming the line of a malformed entry
 */
export function readLabels(file: string): ClassLookup {
  const lines = fs.readFileSync(file, 'utf8').split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const csv = lines.some((l) => /[,\t]/.test(l));
  const bad = (k: number, why: string) => new LrpArgumentError('--class', `${file} line ${k + 1}: ${why}`);
  if (!csv) {
    const classes = lines.map((l, k) => {
      const t = l.trim();
      if (t === '') return null;
      if (!/^\d+$/.test(t)) throw bad(k, `expected a class index (a non-negative integer), got ${JSON.stringify(t)}.`);
      return Number(t);
    });
    return (id, index) => {
      const c = index < classes.length ? classes[index] : null;
      return c === null ? new ItemError(`${id}: no class for item ${index} in ${path.basename(file)} (it has ${classes.length} lines; line ${index + 1} is missing or empty).`) : c;
    };
  }
  const byId = new Map<string, number>();
  const byBase = new Map<string, number | null>();
  lines.forEach((l, k) => {
    if (l.trim() === '') return;
    const cells = l.split(/[,\t]/).map((s) => s.trim().replace(/^"(.*)"$/, '$1'));
    if (cells.length !== 2) throw bad(k, `expected 'file,class', got ${JSON.stringify(l)}.`);
    const [key, cls] = cells;
    if (!/^\d+$/.test(cls)) {
      if (k === 0) return; // a header
      throw bad(k, `expected a class index after the comma, got ${JSON.stringify(cls)}.`);
    }
    const norm = key.split(path.sep).join('/').replace(/^\.\//, '');
    if (byId.has(norm)) throw bad(k, `'${norm}' is listed twice.`);
    byId.set(norm, Number(cls));
    const base = norm.split('/').pop() as string;
    byBase.set(base, byBase.has(base) ? null : Number(cls));
  });
  return (id) => {
    const exact = byId.get(id);
    if (exact !== undefined) return exact;
    const base = byBase.get(id.split('/').pop() as string);
    if (base !== undefined && base !== null) return base;
    return new ItemError(`${id}: no class for it in ${path.basename(file)} (no line '${id},<class>').`);
  };
}

/** The lookup for a class spec (undefined for 'max' and single indices: the default applies). */
export function classLookup(spec: ClassSpec): ClassLookup | undefined {
  return spec.kind === 'labels' ? readLabels(spec.file) : undefined;
}

/**
 * Reads a class-names file (`--labels`): one name per line, line k (from 0) names class k; a
 * trailing empty line is ignored, surrounding spaces are trimmed, an empty line leaves its class
 * unnamed.
 * @throws {LrpArgumentError} (`--labels`) when the file is missing, not a file, or names nothing
 */
export function readClassNames(file: string, argument = '--labels'): string[] {
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new LrpArgumentError(argument, `no such file: ${file}. Give a text file with one class name per line (line 1 names class 0).`);
  const lines = fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '').split(/\r?\n/).map((l) => l.trim());
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) throw new LrpArgumentError(argument, `${file} names no class; give one class name per line (line 1 names class 0).`);
  return lines;
}
